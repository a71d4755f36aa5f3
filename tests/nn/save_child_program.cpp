// The child process of tests/nn/test_crash_safe_files.cpp: saves one file over and over (to be
// killed with SIGKILL at a random moment), or once (under a file-size limit or in a read-only
// folder, to fail). Every state it saves has all weights equal to 1 or all equal to 2, so the
// test can tell a complete file of either state from a damaged one.
//
//   save_child_program model-loop PATH       save_model, states 1, 2, 1, ... forever
//   save_child_program weights-loop PATH     save_weights, the same
//   save_child_program checkpoint-loop PATH  fit with ModelCheckpoint(PATH) every epoch, forever
//   save_child_program model-once PATH V     save_model of state V; exit 0, or 3 on IOError
//   save_child_program plot-once PATH        plot_history; exit 0, or 3 on IOError
//
// A last argument "as-nobody" makes a process started by root drop to user and group 65534
// first (so that a folder's missing write permission holds for it, as root bypasses it).
//
// The loops print "ready" on stdout once the first save has completed.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "tapegrad/tapegrad.hpp"

using namespace tg;

namespace {

/// The model every mode saves (also built by the test to load weights into): about 300 KiB
/// of weights and RMSprop state, so that a save takes long enough to be killed inside.
nn::Sequential make_model() {
  nn::Sequential m;
  m.add(nn::Dense(256, {.activation = "relu", .input_shape = {128}, .name = "hidden"}));
  m.add(nn::Dense(10, {.activation = "softmax", .name = "out"}));
  m.compile({.optimizer = optim::RMSprop(), .loss = "sparse_categorical_crossentropy"});
  return m;
}

void set_state(nn::Sequential& m, double v) {
  NoGrad ng;
  for (nn::Weight* w : m->weights()) w->value.fill_(v);
}

void ready() {
  std::puts("ready");
  std::fflush(stdout);
}

int usage() {
  std::fputs("usage: save_child_program MODE PATH [VALUE]\n", stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[argc - 1]) == "as-nobody") {
    --argc;
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) return 4;
  }
  if (argc < 3) return usage();
  const std::string mode = argv[1], path = argv[2];
  nn::Sequential m = make_model();
  try {
    if (mode == "model-loop" || mode == "weights-loop") {
      for (long i = 0;; ++i) {
        set_state(m, i % 2 == 0 ? 1.0 : 2.0);
        if (mode == "model-loop")
          nn::save_model(m, path);
        else
          nn::save_weights(m, path);
        if (i == 0) ready();
      }
    }
    if (mode == "checkpoint-loop") {
      manual_seed(5);
      Tensor x = randn({32, 128});
      Tensor y = cast(mul(rand({32}), 10.0), kInt64);
      auto ck = std::make_shared<nn::ModelCheckpoint>(path);
      auto signal = std::make_shared<nn::LambdaCallback>();
      signal->epoch_end = [](int epoch, const nn::Logs&) {
        if (epoch == 0) ready();
      };
      m.fit(x, y, {.batch_size = 32, .epochs = 1 << 30, .verbose = 0, .callbacks = {ck, signal}});
      return 0;
    }
    if (mode == "model-once" && argc == 4) {
      set_state(m, std::atof(argv[3]));
      nn::save_model(m, path);
      return 0;
    }
    if (mode == "plot-once") {
      nn::History h;
      h.epoch = {1, 2, 3};
      h.history["loss"] = {1.0, 0.5, 0.25};
      nn::plot_history(h, path);
      return 0;
    }
  } catch (const IOError& e) {
    std::printf("%s\n", e.what());
    std::fflush(stdout);
    return 3;
  }
  return usage();
}
