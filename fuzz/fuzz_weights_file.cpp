// libFuzzer harness of nn::load_weights into a fixed model (the seed corpus holds its weights).
#include "fuzz_util.hpp"
#include "tapegrad/tapegrad.hpp"

using namespace tg;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static nn::Sequential model = [] {
    nn::Sequential m;
    m.add(nn::Dense(8, {.activation = "relu", .input_shape = {4}, .name = "hidden"}));
    m.add(nn::BatchNormalization({.name = "bn"}));
    m.add(nn::Dense(3, {.name = "out"}));
    return m;
  }();
  const std::string bytes = fuzz::with_checksum(data, size);
  const std::string& path =
      fuzz::write_input(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), ".tgw");
  try {
    nn::load_weights(model, path);
  } catch (const Error&) {
  }
  return 0;
}
