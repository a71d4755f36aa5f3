// Crash-safe files: a process killed (SIGKILL) at random moments of save_model, save_weights and
// ModelCheckpoint never leaves the previous file unreadable, and a save into a full or read-only
// folder throws IOError and keeps the old file. The saving runs in save_child_program.cpp, started
// with fork + exec (nothing but async-signal-safe calls between them).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>
#include <thread>

#include "test_util.hpp"

#ifndef TG_SAVE_CHILD_PROGRAM
#error "TG_SAVE_CHILD_PROGRAM must name the program built from save_child_program.cpp"
#endif

using namespace tg;
using namespace tg::test;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

struct Limits {
  rlim_t max_file_bytes = RLIM_INFINITY;  ///< RLIMIT_FSIZE of the child (a "full disk")
};

/// A running child: its pid and the read end of its stdout.
struct Child {
  pid_t pid = -1;
  int out = -1;
};

Child spawn(std::vector<std::string> args, Limits limits = {}) {
  args.insert(args.begin(), TG_SAVE_CHILD_PROGRAM);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    if (limits.max_file_bytes != RLIM_INFINITY) {
      // Past the limit write() fails with EFBIG instead of the process being signalled.
      ::signal(SIGXFSZ, SIG_IGN);
      const rlimit r{limits.max_file_bytes, limits.max_file_bytes};
      ::setrlimit(RLIMIT_FSIZE, &r);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  return {pid, fds[0]};
}

/// Reads the child's stdout until it has a full line or closes it; fails after 60 s.
std::string read_line(const Child& c) {
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{c.out, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char ch;
    const ssize_t n = ::read(c.out, &ch, 1);
    if (n <= 0 || ch == '\n') return line;
    line += ch;
  }
  FAIL("the child wrote no line within 60 s");
  return line;
}

/// Waits for the child and returns its exit code (-signal when killed).
int finish(Child& c) {
  int status = 0;
  REQUIRE(::waitpid(c.pid, &status, 0) == c.pid);
  ::close(c.out);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

/// The output of a child that runs to its end, and its exit code.
std::pair<int, std::string> run_to_end(std::vector<std::string> args, Limits limits = {}) {
  Child c = spawn(std::move(args), limits);
  std::string all, line;
  while (!(line = read_line(c)).empty()) all += line + "\n";
  return {finish(c), all};
}

/// The architecture the child saves (save_child_program.cpp, make_model).
nn::Sequential child_architecture() {
  nn::Sequential m;
  m.add(nn::Dense(256, {.activation = "relu", .input_shape = {128}, .name = "hidden"}));
  m.add(nn::Dense(10, {.activation = "softmax", .name = "out"}));
  return m;
}

/// The one value all weights of m hold (1 or 2 for a complete file of the child), or NaN when
/// they differ.
double uniform_value(nn::ModelImpl& m) {
  double v = std::nan("");
  for (nn::Weight* w : m.weights())
    for (double x : values(w->value)) {
      if (std::isnan(v)) v = x;
      if (x != v) return std::nan("");
    }
  return v;
}

/// Removes the temporaries a killed child left in dir; returns how many there were.
int remove_temporaries(const fs::path& dir) {
  int n = 0;
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) {
      fs::remove(e.path());
      ++n;
    }
  return n;
}

}  // namespace

TEST_CASE("SIGKILL at random moments of a save never damages the previous file",
          "[saving][atomic][crash]") {
  const fs::path dir = temp_dir("crash", "kill");
  std::mt19937 rng(2026);
  std::uniform_int_distribution<int> delay_us(0, 20000);
  struct Mode {
    const char* name;
    int kills;
  };
  int killed_mid_save = 0, total = 0;
  for (Mode mode : {Mode{"model-loop", 40}, Mode{"weights-loop", 30}, Mode{"checkpoint-loop", 30}}) {
    const fs::path path = dir / (std::string(mode.name) + ".tg");
    for (int k = 0; k < mode.kills; ++k) {
      Child c = spawn({mode.name, path.string()});
      REQUIRE(read_line(c) == "ready");  // one complete save exists from here on
      std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
      ::kill(c.pid, SIGKILL);
      REQUIRE(finish(c) == -SIGKILL);
      killed_mid_save += remove_temporaries(dir) > 0;
      ++total;
      INFO(mode.name << " kill " << k);
      if (std::string(mode.name) == "weights-loop") {
        nn::Sequential m = child_architecture();
        REQUIRE_NOTHROW(nn::load_weights(m, path.string()));
        const double v = uniform_value(*m);
        CHECK((v == 1.0 || v == 2.0));
      } else {
        nn::Model m = nn::load_model(path.string());
        REQUIRE(m->weights().size() == 4);
        const double v = uniform_value(*m);
        if (std::string(mode.name) == "model-loop") {
          CHECK((v == 1.0 || v == 2.0));
        } else {  // a trained checkpoint: loads, finite, predicts a distribution
          for (nn::Weight* w : m->weights())
            for (double x : values(w->value)) REQUIRE(std::isfinite(x));
          CHECK(std::abs(values(sum(m.predict(ones({1, 128}))))[0] - 1.0) < 1e-5);
        }
      }
    }
  }
  // Most kills land inside a save (the loops do little else), so the temporaries prove it.
  WARN(killed_mid_save << " of " << total << " kills left a temporary file (landed mid-save)");
  CHECK(total == 100);
  CHECK(killed_mid_save >= 5);
  fs::remove_all(dir);
}

TEST_CASE("a save into a full folder throws IOError and keeps the old file",
          "[saving][atomic][disk-full]") {
  const fs::path dir = temp_dir("crash", "full");
  const std::string path = (dir / "m.tg").string();
  REQUIRE(run_to_end({"model-once", path, "1"}).first == 0);
  const std::string before = read_bytes(path);
  REQUIRE(before.size() > 64 * 1024);
  // The child may write 64 KiB per file: the model file does not fit, as on a full disk.
  auto [code, out] = run_to_end({"model-once", path, "2"}, {.max_file_bytes = 64 * 1024});
  CHECK(code == 3);
  CHECK_THAT(out, Contains("save_model") && Contains("m.tg") && Contains("File too large") &&
                      Contains("unchanged"));
  CHECK(read_bytes(path) == before);
  CHECK(uniform_value(*nn::load_model(path)) == 1.0);
  CHECK(remove_temporaries(dir) == 0);

  // plot_history goes through the same write.
  const std::string png = (dir / "h.png").string();
  REQUIRE(run_to_end({"plot-once", png}).first == 0);
  const std::string old_png = read_bytes(png);
  auto [pcode, pout] = run_to_end({"plot-once", png}, {.max_file_bytes = 512});
  CHECK(pcode == 3);
  CHECK_THAT(pout, Contains("plot_history") && Contains("h.png"));
  CHECK(read_bytes(png) == old_png);
  CHECK(remove_temporaries(dir) == 0);
  fs::remove_all(dir);
}

TEST_CASE("a save into a read-only folder throws IOError and keeps the old file",
          "[saving][atomic][read-only]") {
  const fs::path dir = temp_dir("crash", "readonly");
  const std::string path = (dir / "m.tg").string();
  REQUIRE(run_to_end({"model-once", path, "1"}).first == 0);
  const std::string before = read_bytes(path);
  fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                           fs::perms::group_exec | fs::perms::others_read |
                           fs::perms::others_exec);
  // Root ignores folder permissions: the child then drops to user 65534 before saving.
  auto [code, out] = run_to_end({"model-once", path, "2", "as-nobody"});
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::add);
  CHECK(code == 3);
  CHECK_THAT(out, Contains("save_model") && Contains("m.tg") && Contains("Permission denied") &&
                      Contains("unchanged"));
  CHECK(read_bytes(path) == before);
  CHECK(uniform_value(*nn::load_model(path)) == 1.0);
  fs::remove_all(dir);
}
