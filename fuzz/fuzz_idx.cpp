// libFuzzer harness of nn::data::read_idx (IDX files, plain or gzip-compressed). Any exception
// other than a tapegrad error, any crash, leak or sanitizer report is a finding.
#include "fuzz_util.hpp"
#include "tapegrad/tapegrad.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = tg::fuzz::write_input(data, size, ".idx");
  try {
    tg::Tensor t = tg::nn::data::read_idx(path);
    // A decoded file holds exactly the elements its header declares.
    if (t.numel() > static_cast<int64_t>(size)) std::abort();
  } catch (const tg::Error&) {
  }
  return 0;
}
