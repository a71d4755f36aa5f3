// Stands in for a test suite whose backend this build lacks (meson options onednn, opencl):
// prints why and exits 77, which scripts/test.sh reports as "skipped".
#include <cstdio>

int main() {
  std::printf("skipped: %s\n", TG_SKIPPED_REASON);
  return 77;
}
