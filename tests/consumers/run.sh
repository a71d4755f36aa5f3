#!/usr/bin/env bash
# Builds and runs the consumer projects against an installed tapegrad, as a user would:
#   make    plain Makefile with pkg-config       cmake   find_package(tapegrad CONFIG)
#   static  static link (pkg-config --static)    meson   tapegrad as a subproject (fallback)
# The build tree is installed with `meson install --destdir` into build/consumers/root; each
# consumer prints "consumer NAME: passed" or "consumer NAME: failed". Exit status: failures.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
work=$build/consumers
rm -rf "$work"
mkdir -p "$work"
root=$work/root
if ! meson install -C "$build" --destdir "$root" --quiet > "$work/install.log" 2>&1; then
  cat "$work/install.log"
  for c in make cmake static meson; do echo "consumer $c: failed (install)"; done
  exit 4
fi
prefix=$(meson introspect "$build" --buildoptions |
  python3 -c 'import json,sys; o={x["name"]: x["value"] for x in json.load(sys.stdin)}; print(o["prefix"]); print(o["libdir"])')
libdir=$(sed -n 2p <<<"$prefix")
prefix=$(sed -n 1p <<<"$prefix")
# The staged tapegrad.pc with its prefix moved to the staging tree (what relocating an
# install amounts to); the system's .pc files stay as they are.
mkdir -p "$work/pkgconfig"
sed "s|^prefix=.*|prefix=$root$prefix|" "$root$prefix/$libdir/pkgconfig/tapegrad.pc" > "$work/pkgconfig/tapegrad.pc"
export PKG_CONFIG_PATH=$work/pkgconfig
export LD_LIBRARY_PATH=$root$prefix/$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

failures=0
report() {  # name, log, command...
  local name=$1 log=$2
  shift 2
  if "$@" > "$log" 2>&1; then
    echo "consumer $name: passed"
  else
    tail -n 30 "$log"
    echo "consumer $name: failed"
    failures=$((failures + 1))
  fi
}

# (a) Makefile + pkg-config, shared library.
cp -r "$src/tests/consumers/make" "$work/make"
cp "$src/tests/consumers/consumer_main.cpp" "$work/"
report make "$work/make.log" bash -c "make -C '$work/make' && '$work/make/consumer'"

# (d) static link: the binary must not need libtapegrad.so.
cp -r "$src/tests/consumers/static" "$work/static"
report static "$work/static.log" bash -c "make -C '$work/static' && ! ldd '$work/static/consumer' | grep -q libtapegrad && '$work/static/consumer'"

# (b) CMake find_package(tapegrad CONFIG).
report cmake "$work/cmake.log" bash -c "cmake -S '$src/tests/consumers/cmake' -B '$work/cmake' -DCMAKE_PREFIX_PATH='$root$prefix' > /dev/null && cmake --build '$work/cmake' && '$work/cmake/consumer'"

# (c) meson subproject: the fallback forced, so the source tree builds inside the consumer
# (unoptimised, to keep it short).
mkdir -p "$work/meson-src/subprojects"
cp "$src/tests/consumers/meson/meson.build" "$src/tests/consumers/consumer_main.cpp" "$work/meson-src/"
ln -s "$src" "$work/meson-src/subprojects/tapegrad"
report meson "$work/meson.log" bash -c "env -u PKG_CONFIG_PATH meson setup '$work/meson' '$work/meson-src' --force-fallback-for=tapegrad -Dbuildtype=plain -Dtapegrad:default_library=shared > /dev/null && ninja -C '$work/meson' && '$work/meson/consumer'"

exit "$failures"
