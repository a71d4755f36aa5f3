// Data: IDX files (plain and gzip) written here byte by byte, Fashion-MNIST when installed,
// TensorDataset batching and seeded shuffling, random_permutation and to_categorical.
#include <dlfcn.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "test_util.hpp"

using namespace tg;
using Catch::Matchers::Contains;

namespace {
using tg::test::f32;
using tg::test::error_of;
using V = std::vector<double>;
namespace fs = std::filesystem;
using tg::test::values;



fs::path temp_dir(const std::string& name) { return test::temp_dir("nn_data", name); }

using tg::test::write_bytes;

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xff),
          static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
}
/// An IDX header: two zero bytes, the type code, the rank, then each size big-endian.
std::string idx_header(int type, const std::vector<uint32_t>& dims) {
  std::string h{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims) h += be32(d);
  return h;
}

/// Writes bytes through zlib's gzip writer. The test executable does not link zlib itself; the
/// library does, so its functions are looked up in the running process.
bool write_gzip(const fs::path& p, const std::string& bytes) {
  using open_t = gzFile (*)(const char*, const char*);
  using write_t = int (*)(gzFile, voidpc, unsigned);
  using close_t = int (*)(gzFile);
  auto gz_open = reinterpret_cast<open_t>(dlsym(RTLD_DEFAULT, "gzopen"));
  auto gz_write = reinterpret_cast<write_t>(dlsym(RTLD_DEFAULT, "gzwrite"));
  auto gz_close = reinterpret_cast<close_t>(dlsym(RTLD_DEFAULT, "gzclose"));
  if (!gz_open || !gz_write || !gz_close) return false;
  gzFile f = gz_open(p.c_str(), "wb9");
  if (!f) return false;
  const int n = gz_write(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  return gz_close(f) == Z_OK && n == static_cast<int>(bytes.size());
}

uint32_t crc32_of(const std::string& s) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}
/// A gzip member built by hand with one stored (uncompressed) deflate block.
std::string gzip_stored(const std::string& data) {
  std::string g{'\x1f', '\x8b', '\x08', '\0', '\0', '\0', '\0', '\0', '\0', '\x03'};
  const uint16_t len = static_cast<uint16_t>(data.size()), nlen = static_cast<uint16_t>(~len);
  g += '\x01';  // final block, stored
  g += static_cast<char>(len & 0xff);
  g += static_cast<char>(len >> 8);
  g += static_cast<char>(nlen & 0xff);
  g += static_cast<char>(nlen >> 8);
  g += data;
  const uint32_t crc = crc32_of(data), size = static_cast<uint32_t>(data.size());
  for (int i = 0; i < 4; ++i) g += static_cast<char>((crc >> (8 * i)) & 0xff);
  for (int i = 0; i < 4; ++i) g += static_cast<char>((size >> (8 * i)) & 0xff);
  return g;
}

/// Concatenates every batch of one epoch along axis 0, for input 0 and target 0.
void one_epoch(nn::Dataset& d, int64_t epoch, std::vector<int64_t>& sizes, V& xs, V& ys,
               V* ws = nullptr) {
  d.reset(epoch);
  sizes.clear();
  xs.clear();
  ys.clear();
  while (auto b = d.next()) {
    sizes.push_back(b->x[0].shape()[0]);
    for (double v : values(b->x[0])) xs.push_back(v);
    if (!b->y.empty())
      for (double v : values(b->y[0])) ys.push_back(v);
    if (ws && b->sample_weight.defined())
      for (double v : values(b->sample_weight)) ws->push_back(v);
  }
}
}  // namespace

TEST_CASE("read_idx decodes every IDX element type", "[data][idx]") {
  fs::path dir = temp_dir("idx");
  // Unsigned bytes, rank 3.
  std::string ub = idx_header(0x08, {2, 2, 3});
  for (int i = 0; i < 12; ++i) ub += static_cast<char>(i * 20);  // up to 220: unsigned
  write_bytes(dir / "ub.idx", ub);
  Tensor t = nn::data::read_idx((dir / "ub.idx").string());
  CHECK(t.dtype() == kInt32);
  CHECK(t.shape() == Shape{2, 2, 3});
  V expect;
  for (int i = 0; i < 12; ++i) expect.push_back(i * 20);
  CHECK(values(t) == expect);

  // Signed bytes, shorts and ints (big-endian), rank 1.
  write_bytes(dir / "sb.idx", idx_header(0x09, {3}) + std::string{'\x7f', '\x80', '\xff'});
  CHECK(values(nn::data::read_idx((dir / "sb.idx").string())) == V{127, -128, -1});
  write_bytes(dir / "sh.idx", idx_header(0x0B, {2}) + std::string{'\x01', '\x02', '\xff', '\xfe'});
  CHECK(values(nn::data::read_idx((dir / "sh.idx").string())) == V{258, -2});
  write_bytes(dir / "i.idx", idx_header(0x0C, {2}) + be32(70000) + be32(0xFFFFFFFFu));
  CHECK(values(nn::data::read_idx((dir / "i.idx").string())) == V{70000, -1});

  // Floats and doubles (big-endian IEEE).
  std::string fl = idx_header(0x0D, {2});
  for (float v : {1.5f, -0.25f}) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    fl += be32(u);
  }
  write_bytes(dir / "f.idx", fl);
  Tensor tf = nn::data::read_idx((dir / "f.idx").string());
  CHECK(tf.dtype() == kFloat32);
  CHECK(values(tf) == V{1.5, -0.25});
  std::string db = idx_header(0x0E, {1, 1});
  double dv = -3.125;
  uint64_t du;
  std::memcpy(&du, &dv, 8);
  db += be32(static_cast<uint32_t>(du >> 32)) + be32(static_cast<uint32_t>(du & 0xFFFFFFFFu));
  write_bytes(dir / "d.idx", db);
  Tensor td = nn::data::read_idx((dir / "d.idx").string());
  CHECK(td.dtype() == kFloat64);
  CHECK(td.shape() == Shape{1, 1});
  CHECK(td.item<double>() == -3.125);
  fs::remove_all(dir);
}

TEST_CASE("read_idx reads gzip-compressed files", "[data][idx]") {
  fs::path dir = temp_dir("gz");
  std::string raw = idx_header(0x08, {3, 4});
  for (int i = 0; i < 12; ++i) raw += static_cast<char>(255 - i);
  V expect;
  for (int i = 0; i < 12; ++i) expect.push_back(255 - i);
  // Compressed by zlib.
  REQUIRE(write_gzip(dir / "z.idx.gz", raw));
  Tensor z = nn::data::read_idx((dir / "z.idx.gz").string());
  CHECK(z.shape() == Shape{3, 4});
  CHECK(values(z) == expect);
  // A gzip member assembled by hand (stored block): the reader does not depend on zlib's writer.
  write_bytes(dir / "s.idx.gz", gzip_stored(raw));
  CHECK(values(nn::data::read_idx((dir / "s.idx.gz").string())) == expect);
  // A larger compressible file, several read buffers long.
  std::string big = idx_header(0x08, {300, 1000});
  for (int i = 0; i < 300000; ++i) big += static_cast<char>(i % 7);
  REQUIRE(write_gzip(dir / "big.gz", big));
  Tensor tb = nn::data::read_idx((dir / "big.gz").string());
  REQUIRE(tb.shape() == Shape{300, 1000});
  auto vb = tb.to_vector<int32_t>();
  bool ok = true;
  for (int i = 0; i < 300000; ++i) ok = ok && vb[i] == i % 7;
  CHECK(ok);
  fs::remove_all(dir);
}

TEST_CASE("read_idx refuses bad magic, truncated and missing files", "[data][idx][errors]") {
  fs::path dir = temp_dir("idx_bad");
  const std::string good = idx_header(0x08, {2, 3}) + std::string(6, '\x01');
  auto err = [&](const std::string& content) {
    write_bytes(dir / "bad.idx", content);
    return error_of<IOError>([&] { nn::data::read_idx((dir / "bad.idx").string()); });
  };
  CHECK_THAT(err(std::string{'\x01', '\0', '\x08', '\x01'} + be32(1) + "x"), Contains("bad magic"));
  CHECK_THAT(err("ab"), Contains("bad magic"));
  CHECK_THAT(err(""), Contains("bad.idx"));
  CHECK_THAT(err(idx_header(0x07, {1}) + "x"), Contains("unknown data type"));
  CHECK_THAT(err(good.substr(0, 9)), Contains("truncated"));                 // inside the sizes
  CHECK_THAT(err(good.substr(0, good.size() - 1)), Contains("data bytes"));  // short data
  CHECK_THAT(err(good + "extra"), Contains("data bytes"));
  // Sizes far beyond the data are refused before anything that large is allocated.
  // (2^32 - 1)^2 bytes do not fit in int64: refused from the header alone.
  CHECK_THAT(err(idx_header(0x08, {0xFFFFFFFFu, 0xFFFFFFFFu}) + "abcd"),
             Contains("[4294967295, 4294967295]") && Contains("more bytes than any file holds"));
  // 2^40 float64 bytes would fit in int64; the 4 bytes present are what is counted.
  CHECK_THAT(err(idx_header(0x0E, {0x100000u, 0x20000u}) + "abcd"),
             Contains("4 data bytes") && Contains("needs 1099511627776"));
  // A truncated gzip stream.
  std::string raw = idx_header(0x08, {100}) + std::string(100, '\x05');
  REQUIRE(write_gzip(dir / "t.gz", raw));
  std::ifstream in(dir / "t.gz", std::ios::binary);
  std::string gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write_bytes(dir / "t.gz", gz.substr(0, gz.size() / 2));
  CHECK_THROWS_AS(nn::data::read_idx((dir / "t.gz").string()), IOError);
  CHECK_THAT(error_of<IOError>([&] { nn::data::read_idx((dir / "nothing.idx").string()); }),
             Contains("does not exist"));
  CHECK_THAT(error_of<IOError>([&] { nn::data::load_fashion_mnist(dir.string()); }),
             Contains("not found"));
  fs::remove_all(dir);
}

TEST_CASE("load_fashion_mnist reads the installed data set", "[data][fashion]") {
  if (!fs::exists(fs::path(nn::data::kFashionMnistDir) / "train-labels-idx1-ubyte.gz") &&
      !fs::exists(fs::path(nn::data::kFashionMnistDir) / "train-labels-idx1-ubyte")) {
    WARN("Fashion-MNIST is not installed in " << nn::data::kFashionMnistDir << "; skipping");
    return;
  }
  nn::data::ImageSplits s = nn::data::load_fashion_mnist();
  CHECK(s.x_train.shape() == Shape{60000, 28, 28});
  CHECK(s.y_train.shape() == Shape{60000});
  CHECK(s.x_test.shape() == Shape{10000, 28, 28});
  CHECK(s.y_test.shape() == Shape{10000});
  CHECK(s.x_train.dtype() == kFloat32);
  CHECK(s.y_train.dtype() == kInt64);
  CHECK(min(s.x_train).item<double>() == 0.0);
  CHECK(max(s.x_train).item<double>() == 255.0);
  // Labels 0..9, each 6000 times in the training split and 1000 times in the test split.
  auto train = s.y_train.to_vector<int64_t>(), test = s.y_test.to_vector<int64_t>();
  std::vector<int> count_train(10, 0), count_test(10, 0);
  bool in_range = true;
  for (int64_t l : train) {
    in_range = in_range && l >= 0 && l <= 9;
    if (l >= 0 && l <= 9) ++count_train[l];
  }
  for (int64_t l : test) {
    in_range = in_range && l >= 0 && l <= 9;
    if (l >= 0 && l <= 9) ++count_test[l];
  }
  CHECK(in_range);
  CHECK(count_train == std::vector<int>(10, 6000));
  CHECK(count_test == std::vector<int>(10, 1000));
  CHECK(std::string(nn::data::fashion_mnist_class_name(0)) == "T-shirt/top");
  CHECK(std::string(nn::data::fashion_mnist_class_name(9)) == "Ankle boot");
  CHECK_THROWS_AS(nn::data::fashion_mnist_class_name(10), IndexError);
}

TEST_CASE("TensorDataset batches in order, with a last partial batch or without it",
          "[data][dataset]") {
  V xv, yv;
  for (int i = 0; i < 10; ++i) {
    xv.push_back(i);
    xv.push_back(100 + i);
    yv.push_back(i * 0.5);
  }
  Tensor x = f32(xv, {10, 2}), y = f32(yv, {10});
  nn::TensorDataset d({x}, {y}, {.batch_size = 4});
  CHECK(d.size() == 10);
  CHECK(d.num_batches() == 3);
  std::vector<int64_t> sizes;
  V xs, ys;
  one_epoch(d, 0, sizes, xs, ys);
  CHECK(sizes == std::vector<int64_t>{4, 4, 2});
  CHECK(xs == xv);
  CHECK(ys == yv);
  // A second epoch gives the same batches.
  one_epoch(d, 1, sizes, xs, ys);
  CHECK(xs == xv);

  nn::TensorDataset dr({x}, {y}, {.batch_size = 4, .drop_remainder = true});
  CHECK(dr.num_batches() == 2);
  one_epoch(dr, 0, sizes, xs, ys);
  CHECK(sizes == std::vector<int64_t>{4, 4});
  CHECK(xs == V(xv.begin(), xv.begin() + 16));

  // Several inputs and sample weights travel together; no targets for prediction.
  Tensor w = f32({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {10});
  nn::TensorDataset multi({x, y}, {}, {.batch_size = 3, .sample_weight = w});
  multi.reset(0);
  auto b = multi.next();
  REQUIRE(b);
  CHECK(b->x.size() == 2);
  CHECK(b->y.empty());
  CHECK(values(b->x[1]) == V{0, 0.5, 1.0});
  CHECK(values(b->sample_weight) == V{1, 2, 3});

  CHECK_THROWS_AS(nn::TensorDataset({x}, {f32({1, 2}, {2})}), ShapeError);
  CHECK_THROWS_AS(nn::TensorDataset({x}, {y}, {.batch_size = 0}), ValueError);
  CHECK_THROWS_AS(nn::TensorDataset({}, {y}), ValueError);
}

TEST_CASE("seeded shuffling is a reproducible permutation that keeps pairs together",
          "[data][dataset]") {
  V xv, yv, wv;
  for (int i = 0; i < 50; ++i) {
    xv.push_back(i);
    yv.push_back(1000 + i);
    wv.push_back(0.5 * i);
  }
  Tensor x = f32(xv, {50, 1}), y = f32(yv, {50, 1}), w = f32(wv, {50});
  nn::TensorDataset d({x}, {y}, {.batch_size = 8, .shuffle = true, .seed = 11, .sample_weight = w});
  std::vector<int64_t> sizes;
  V e0, y0, w0, again, ya, e1, y1;
  one_epoch(d, 0, sizes, e0, y0, &w0);
  CHECK(sizes == std::vector<int64_t>{8, 8, 8, 8, 8, 8, 2});
  // A permutation of 0..49, not the identity.
  V sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == xv);
  CHECK(e0 != xv);
  // Targets and weights follow their inputs.
  for (size_t i = 0; i < e0.size(); ++i) {
    CHECK(y0[i] == 1000 + e0[i]);
    CHECK(w0[i] == 0.5 * e0[i]);
  }
  // The same epoch of the same seed repeats; another epoch, or another seed, differs.
  one_epoch(d, 0, sizes, again, ya);
  CHECK(again == e0);
  one_epoch(d, 1, sizes, e1, y1);
  CHECK(e1 != e0);
  nn::TensorDataset same({x}, {y}, {.batch_size = 8, .shuffle = true, .seed = 11});
  one_epoch(same, 0, sizes, again, ya);
  CHECK(again == e0);
  nn::TensorDataset other({x}, {y}, {.batch_size = 8, .shuffle = true, .seed = 12});
  one_epoch(other, 0, sizes, again, ya);
  CHECK(again != e0);

  // random_permutation itself.
  auto p = nn::random_permutation(1000, 5).to_vector<int64_t>();
  CHECK(nn::random_permutation(1000, 5).dtype() == kInt64);
  std::set<int64_t> seen(p.begin(), p.end());
  CHECK(seen.size() == 1000);
  CHECK(*seen.begin() == 0);
  CHECK(*seen.rbegin() == 999);
  CHECK(nn::random_permutation(1000, 5).to_vector<int64_t>() == p);
  CHECK(nn::random_permutation(1000, 6).to_vector<int64_t>() != p);
  // Shuffled: few elements stay in place (about 1 expected).
  int fixed = 0;
  for (int64_t i = 0; i < 1000; ++i) fixed += p[i] == i;
  CHECK(fixed < 10);
}

TEST_CASE("to_categorical makes one-hot rows", "[data][categorical]") {
  Tensor oh = nn::to_categorical(tensor(std::vector<int64_t>{0, 2, 1}), 4);
  CHECK(oh.dtype() == kFloat32);
  CHECK(oh.shape() == Shape{3, 4});
  CHECK(values(oh) == V{1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0});
  // The number of classes is inferred from the largest label.
  CHECK(nn::to_categorical(tensor(std::vector<int64_t>{0, 2, 1})).shape() == Shape{3, 3});
  // [n, 1] labels, float labels and int32 labels.
  CHECK(values(nn::to_categorical(tensor(std::vector<int64_t>{1, 0}, {2, 1}), 2)) == V{0, 1, 1, 0});
  CHECK(values(nn::to_categorical(f32({1, 0}, {2}), 2)) == V{0, 1, 1, 0});
  CHECK(values(nn::to_categorical(tensor(std::vector<int32_t>{1, 1}), 3)) == V{0, 1, 0, 0, 1, 0});
  CHECK_THROWS_AS(nn::to_categorical(Tensor()), ValueError);
}
