#!/usr/bin/env bash
# Installs what is missing, builds tapegrad and runs the main example.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -f build/build.ninja ] || meson setup build --buildtype=release
ninja -C build
exec ./build/examples/fashion_mnist_mlp "${@:-5}"
