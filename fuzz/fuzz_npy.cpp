// libFuzzer harness of nn::load_npy (.npy files).
#include "fuzz_util.hpp"
#include "tapegrad/tapegrad.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = tg::fuzz::write_input(data, size, ".npy");
  try {
    tg::Tensor t = tg::nn::load_npy(path);
    // Every element was read from the file: it cannot hold more bytes than the file.
    if (t.numel() * static_cast<int64_t>(tg::dtype_size(t.dtype())) > static_cast<int64_t>(size))
      std::abort();
  } catch (const tg::Error&) {
  }
  return 0;
}
