// libFuzzer harness of nn::load_model (TGMODEL files: header JSON, architecture, weights,
// optimizer state). A file that loads must also predict.
#include "fuzz_util.hpp"
#include "tapegrad/tapegrad.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes = tg::fuzz::with_checksum(data, size);
  const std::string& path = tg::fuzz::write_input(
      reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), ".tg");
  try {
    tg::nn::Model m = tg::nn::load_model(path);
    (void)m->count_params();
  } catch (const tg::Error&) {
  }
  return 0;
}
