// libFuzzer harness of the two JSON readers: Json::parse (file headers, architectures) and
// Config::from_json (layer and optimizer configurations). What parses must round-trip.
#include <string>

#include "fuzz_util.hpp"
#include "tapegrad/nn/config.hpp"
#include "tapegrad/nn/json.hpp"
#include "tapegrad/tapegrad.hpp"

using namespace tg;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const nn::Json j = nn::Json::parse(text);
    const std::string once = j.dump();
    if (nn::Json::parse(once).dump() != once) std::abort();
  } catch (const Error&) {
  }
  try {
    const nn::Config c = nn::Config::from_json(text);
    if (!(nn::Config::from_json(c.to_json()) == c)) std::abort();
  } catch (const Error&) {
  }
  return 0;
}
