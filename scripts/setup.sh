#!/usr/bin/env bash
# Installs the Debian packages tapegrad needs, when they are missing.
set -euo pipefail
pkgs=(meson ninja-build g++ pkg-config cmake python3 libdnnl-dev libboost-dev catch2 libbenchmark-dev
      zlib1g-dev ocl-icd-opencl-dev opencl-headers pocl-opencl-icd libclblast-dev
      clinfo dataset-fashion-mnist make libcairo2-dev fonts-dejavu-core
      clang libclang-rt-dev libomp-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
