// The fuzz corpora replayed in every test run: each committed seed (fuzz/corpus/<harness>/) is a
// valid file that must load, and each input a fuzzer once crashed on (fuzz/regressions/<harness>/)
// must now be refused with a tapegrad error (or load), never another exception or a crash. The
// inputs go through the same steps as the harnesses in fuzz/ (and fuzz/fuzz_util.hpp).
#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>
#include <map>

#include "tapegrad/fuzz/fuzz_util.hpp"
#include "tapegrad/nn/config.hpp"
#include "tapegrad/nn/json.hpp"
#include "test_util.hpp"

#ifndef TG_SOURCE_ROOT
#error "TG_SOURCE_ROOT must name the source tree (fuzz/ holds the corpora)"
#endif

using namespace tg;
using namespace tg::test;
namespace fs = std::filesystem;

namespace {

nn::Sequential weights_model() {  // as in fuzz/fuzz_weights_file.cpp
  nn::Sequential m;
  m.add(nn::Dense(8, {.activation = "relu", .input_shape = {4}, .name = "hidden"}));
  m.add(nn::BatchNormalization({.name = "bn"}));
  m.add(nn::Dense(3, {.name = "out"}));
  return m;
}

/// Runs one input through the reader of a harness; throws what the reader throws.
void replay(const std::string& harness, const std::string& bytes) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  if (harness == "fuzz_json") {
    try {  // not every JSON text is a configuration: only a non-tapegrad error is a failure
      nn::Config c = nn::Config::from_json(bytes);
      REQUIRE(nn::Config::from_json(c.to_json()) == c);
    } catch (const Error&) {
    }
    nn::Json j = nn::Json::parse(bytes);
    REQUIRE(nn::Json::parse(j.dump()).dump() == j.dump());
    return;
  }
  if (harness == "fuzz_idx") {
    nn::data::read_idx(fuzz::write_input(data, bytes.size(), ".idx"));
  } else if (harness == "fuzz_npy") {
    nn::load_npy(fuzz::write_input(data, bytes.size(), ".npy"));
  } else {
    const std::string fixed = fuzz::with_checksum(data, bytes.size());
    const std::string& path = fuzz::write_input(reinterpret_cast<const uint8_t*>(fixed.data()),
                                                fixed.size(), ".tg");
    if (harness == "fuzz_model_file") {
      nn::load_model(path);
    } else {
      nn::Sequential m = weights_model();
      nn::load_weights(m, path);
    }
  }
}

std::map<std::string, std::vector<fs::path>> files_under(const fs::path& root) {
  std::map<std::string, std::vector<fs::path>> out;
  if (!fs::exists(root)) return out;
  for (auto& h : fs::directory_iterator(root))
    for (auto& f : fs::directory_iterator(h.path())) out[h.path().filename()].push_back(f.path());
  return out;
}

}  // namespace

TEST_CASE("every seed of the fuzz corpora is a valid file", "[fuzz][saving]") {
  const auto seeds = files_under(fs::path(TG_SOURCE_ROOT) / "fuzz" / "corpus");
  REQUIRE(seeds.size() == 5);
  for (const auto& [harness, files] : seeds) {
    CHECK(files.size() >= 1);
    for (const fs::path& f : files) {
      INFO(harness << ": " << f.filename().string());
      CHECK_NOTHROW(replay(harness, read_bytes(f)));
    }
  }
}

TEST_CASE("inputs the fuzzers crashed on are refused with a tapegrad error", "[fuzz][saving]") {
  const auto found = files_under(fs::path(TG_SOURCE_ROOT) / "fuzz" / "regressions");
  REQUIRE(!found.empty());
  int n = 0;
  for (const auto& [harness, files] : found)
    for (const fs::path& f : files) {
      INFO(harness << ": " << f.filename().string());
      ++n;
      try {
        replay(harness, read_bytes(f));
      } catch (const Error& e) {
        CHECK(std::string(e.what()).size() > 0);  // a tapegrad error: the expected outcome
      } catch (const std::exception& e) {
        FAIL("not a tapegrad error: " << e.what());
      }
    }
  WARN(n << " regression inputs replayed");
}
