// A process that ends with OpenCL work queued exits cleanly: the training program in
// opencl_exit_program.cpp runs 20 times, each with a fresh (empty) PoCL kernel cache, so that
// PoCL's compiler threads are busy at exit. Part of test_backends_opencl.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "test_util.hpp"

#ifndef TG_OPENCL_EXIT_PROGRAM
#error "TG_OPENCL_EXIT_PROGRAM must name the program built from opencl_exit_program.cpp"
#endif

TEST_CASE("a training program with work queued at exit exits 0, 20 times with a cold cache",
          "[opencl][exit]") {
  const std::filesystem::path root = tg::test::temp_dir("opencl_exit", "runs");
  int clean = 0;
  for (int run = 0; run < 20; ++run) {
    const std::filesystem::path cache = root / ("cache_" + std::to_string(run));
    std::filesystem::create_directories(cache);
    const std::string cmd = "POCL_CACHE_DIR='" + cache.string() + "' '" +
                            std::string(TG_OPENCL_EXIT_PROGRAM) + "' > '" +
                            (root / "out.txt").string() + "' 2>&1";
    const int status = std::system(cmd.c_str());
    INFO("run " << run << ": wait status " << status);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) ++clean;
    std::filesystem::remove_all(cache);
  }
  CHECK(clean == 20);
  std::filesystem::remove_all(root);
}
