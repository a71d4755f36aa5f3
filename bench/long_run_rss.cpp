// Long runs: resident memory of W2 (MLP) and W3 (CNN) over many training steps (BENCHMARKS.md
// models). A leak of a few bytes per step shows as a growing RSS; the caching allocator and the
// primitive caches must reach a steady state after the first steps. Each workload runs in a
// child process so that one's memory does not hide the other's.
//   ./long_run_rss [w2|w3] [steps]   (default: both, 10000 steps)
// Prints RSS at the reference step (steps / 100, after warm-up) and every tenth of the run, and
// the final RSS relative to the reference; exits 1 when that drifts by more than 5 %.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "workloads.hpp"

using namespace tg;

namespace {

/// Current resident set size in MiB (second field of /proc/self/statm, in pages).
double rss_mib() {
  std::ifstream f("/proc/self/statm");
  long size = 0, resident = 0;
  f >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) /
         (1024.0 * 1024.0);
}

int run(bool cnn, long steps) {
  manual_seed(1);
  nn::Sequential model = cnn ? bench::w3_cnn() : bench::w2_mlp();
  Tensor x = cnn ? rand({64, 28, 28, 1}) : rand({128, 784});
  Tensor y = bench::random_labels(cnn ? 64 : 128);
  const long reference_step = std::max(steps / 100, 1L);
  double reference = 0, high = 0;
  const char* name = cnn ? "W3 CNN" : "W2 MLP";
  for (long i = 1; i <= steps; ++i) {
    model.train_on_batch(x, y);
    if (i < reference_step) continue;
    const double r = rss_mib();
    if (i == reference_step) reference = r;
    high = std::max(high, r);
    if (i == reference_step || i % std::max(steps / 10, 1L) == 0)
      std::printf("%s step %6ld: RSS %.1f MiB\n", name, i, r);
  }
  const double final_rss = rss_mib(), drift = (final_rss - reference) / reference * 100.0;
  std::printf("%s: RSS %.1f MiB at step %ld, %.1f MiB at step %ld (%+.2f %%), highest %.1f MiB\n",
              name, reference, reference_step, final_rss, steps, drift, high);
  std::fflush(stdout);
  return drift > 5.0 || drift < -5.0 ? 1 : 0;
}

int in_child(bool cnn, long steps) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(run(cnn, steps));
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string which = argc > 1 ? argv[1] : "all";
  const long steps = argc > 2 ? std::atol(argv[2]) : 10000;
  if (which != "all" && which != "w2" && which != "w3") {
    std::fprintf(stderr, "usage: long_run_rss [w2|w3] [steps]\n");
    return 2;
  }
  int rc = 0;
  if (which != "w3") rc |= in_child(false, steps);
  if (which != "w2") rc |= in_child(true, steps);
  return rc;
}
