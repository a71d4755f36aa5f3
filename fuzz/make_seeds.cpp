// Writes the seed corpora of the fuzz harnesses: small valid files of every reader, made with the
// library's own writers (and zlib for gzip). Run from the source root:
//   build-fuzz/fuzz/make_seeds fuzz/corpus
// The corpora are committed; rerun this after a file format changes.
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "tapegrad/nn/config.hpp"
#include "tapegrad/nn/json.hpp"
#include "tapegrad/tapegrad.hpp"

using namespace tg;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& bytes) {
  std::FILE* f = std::fopen(p.c_str(), "wb");
  if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0)
    throw std::runtime_error("make_seeds: cannot write " + p.string());
}

void write_gz(const fs::path& p, const std::string& bytes) {
  gzFile f = gzopen(p.c_str(), "wb9");
  if (!f || gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) !=
                static_cast<int>(bytes.size()))
    throw std::runtime_error("make_seeds: cannot write " + p.string());
  gzclose(f);
}

/// An IDX file: magic (0, 0, type, rank), big-endian sizes, then the payload as given.
std::string idx(int type, const std::vector<uint32_t>& dims, const std::string& payload) {
  std::string b{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<char>((d >> s) & 0xff));
  return b + payload;
}

std::string bytes_0_to(int n, int step = 1) {
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(static_cast<char>(i * step));
  return s;
}

nn::Sequential weights_model() {  // the model fuzz_weights_file.cpp loads into
  nn::Sequential m;
  m.add(nn::Dense(8, {.activation = "relu", .input_shape = {4}, .name = "hidden"}));
  m.add(nn::BatchNormalization({.name = "bn"}));
  m.add(nn::Dense(3, {.name = "out"}));
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  const fs::path root = argc > 1 ? argv[1] : "fuzz/corpus";
  for (const char* d : {"fuzz_idx", "fuzz_npy", "fuzz_model_file", "fuzz_weights_file", "fuzz_json"})
    fs::create_directories(root / d);
  manual_seed(7);

  // IDX: every element type, plain and gzip.
  const fs::path di = root / "fuzz_idx";
  write(di / "u8_3x4.idx", idx(0x08, {3, 4}, bytes_0_to(12, 7)));
  write_gz(di / "u8_3x4.idx.gz", idx(0x08, {3, 4}, bytes_0_to(12, 7)));
  write(di / "i8_5.idx", idx(0x09, {5}, bytes_0_to(5, 61)));
  write(di / "i16_2x2.idx", idx(0x0B, {2, 2}, bytes_0_to(8, 33)));
  write(di / "i32_3.idx", idx(0x0C, {3}, bytes_0_to(12, 19)));
  write(di / "f32_2x1x2.idx", idx(0x0D, {2, 1, 2}, std::string("\x3f\x80\0\0\xbf\0\0\0\x40\x49\x0f\xdb\0\0\0\0", 16)));
  write_gz(di / "f64_2.idx.gz", idx(0x0E, {2}, std::string("\x3f\xf0\0\0\0\0\0\0\xc0\x09\x21\xfb\x54\x44\x2d\x18", 16)));
  write(di / "scalar.idx", idx(0x08, {}, std::string("\x2a", 1)));

  // .npy: the dtypes save_npy writes, 0-d and empty shapes.
  const fs::path dn = root / "fuzz_npy";
  nn::save_npy((dn / "f32_2x3.npy").string(), randn({2, 3}));
  nn::save_npy((dn / "f64_4.npy").string(), randn({4}, {.dtype = kFloat64}));
  nn::save_npy((dn / "i64_2x2.npy").string(), cast(arange(int64_t{4}).reshape({2, 2}), kInt64));
  nn::save_npy((dn / "i32_3.npy").string(), cast(arange(int64_t{3}), kInt32));
  nn::save_npy((dn / "bool_3.npy").string(), gt(randn({3}), 0.0));
  nn::save_npy((dn / "scalar.npy").string(), scalar_tensor(2.5));
  nn::save_npy((dn / "empty_0x3.npy").string(), zeros({0, 3}));

  // Model files: Sequential with optimizer state, functional with two inputs, conv and LSTM.
  const fs::path dm = root / "fuzz_model_file";
  {
    nn::Sequential m;
    m.add(nn::Dense(4, {.activation = "relu", .input_shape = {3}}));
    m.add(nn::Dropout(0.25));
    m.add(nn::Dense(2, {.activation = "softmax"}));
    m.compile({.optimizer = optim::Adam({.learning_rate = 0.01}),
               .loss = "sparse_categorical_crossentropy",
               .metrics = {"accuracy"}});
    m.train_on_batch(randn({4, 3}), cast(mul(rand({4}), 2.0), kInt64));
    nn::save_model(m, (dm / "mlp_adam.tg").string());
  }
  {
    nn::Symbol a = nn::Input({3}, {.name = "a"}), b = nn::Input({2}, {.name = "b"});
    nn::Symbol h = nn::Concatenate()({nn::Dense(2, {.name = "left"})(a), nn::Dense(2)(b)});
    nn::Model m(std::vector<nn::Symbol>{a, b},
                std::vector<nn::Symbol>{nn::Dense(1, {.activation = "sigmoid"})(h), h});
    nn::save_model(m, (dm / "functional_two_inputs.tg").string());
  }
  {
    nn::Sequential m;
    m.add(nn::Conv2D(2, {3, 3}, {.activation = "relu", .input_shape = {6, 6, 1}}));
    m.add(nn::MaxPooling2D({2, 2}));
    m.add(nn::Flatten());
    m.add(nn::BatchNormalization());
    m.add(nn::Dense(2));
    m.compile({.optimizer = "rmsprop", .loss = "mse"});
    nn::save_model(m, (dm / "cnn.tg").string());
  }
  {
    nn::Sequential m;
    m.add(nn::Embedding(5, 3, {.input_shape = {4}}));
    m.add(nn::LSTM(2));
    m.add(nn::Dense(1));
    nn::save_model(m, (dm / "embedding_lstm.tg").string());
  }

  // Weights of the harness's model, and of a model with other names.
  const fs::path dw = root / "fuzz_weights_file";
  nn::Sequential wm = weights_model();
  nn::save_weights(wm, (dw / "weights.tgw").string());

  // JSON: a model architecture, a layer config, a header and the tricky corners of the syntax.
  const fs::path dj = root / "fuzz_json";
  write(dj / "architecture.json", wm->saved_entry().dump());
  write(dj / "config.json", wm->layers()[0]->config().to_json());
  write(dj / "scalars.json",
        R"({"a":[1,-2.5e-3,1E+2,"x\u00e9\n\"",true,false,null],"b":{},"c":[[]],"d":0})");
  write(dj / "config_list.json", R"({"input_shape":[28,28,1],"units":10,"name":"d","rate":0.5})");
  std::printf("seed corpora written under %s\n", root.c_str());
  return 0;
}
