// IDX decoding through zlib (which reads plain files too).
#include "tapegrad/nn/data/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <vector>

namespace tg::nn::data {

namespace {
/// An open gzip (or plain) stream, closed on every exit path.
struct GzFile {
  gzFile f;
  ~GzFile() { gzclose(f); }
};

/// Up to n more bytes of f appended to out (fewer at the end of the stream). The buffer grows
/// with what was actually read, so a header that claims a huge payload costs nothing until
/// the bytes are there.
void read_up_to(gzFile f, size_t n, std::vector<unsigned char>& out, const std::string& path) {
  unsigned char buf[1 << 16];
  while (n > 0) {
    const int got = gzread(f, buf, static_cast<unsigned>(std::min(n, sizeof buf)));
    if (got < 0) {
      int err = 0;
      fail<IOError>("read_idx: '", path, "' is corrupt: ", gzerror(f, &err));
    }
    if (got == 0) return;
    out.insert(out.end(), buf, buf + got);
    n -= static_cast<size_t>(got);
  }
}
uint32_t be32(const unsigned char* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}
}  // namespace

Tensor read_idx(const std::string& path) {
  if (!std::filesystem::exists(path)) fail<IOError>("read_idx: '", path, "' does not exist");
  GzFile file{gzopen(path.c_str(), "rb")};
  if (!file.f) fail<IOError>("read_idx: cannot open '", path, "'");
  std::vector<unsigned char> b;
  read_up_to(file.f, 4, b, path);
  if (b.size() < 4 || b[0] != 0 || b[1] != 0)
    fail<IOError>("read_idx: '", path, "' is not an IDX file (bad magic)");
  const int type = b[2], rank = b[3];
  size_t elem;
  switch (type) {
    case 0x08:
    case 0x09:
      elem = 1;
      break;
    case 0x0B:
      elem = 2;
      break;
    case 0x0C:
    case 0x0D:
      elem = 4;
      break;
    case 0x0E:
      elem = 8;
      break;
    default:
      fail<IOError>("read_idx: '", path, "' has unknown data type 0x", std::hex, type);
  }
  read_up_to(file.f, 4 * static_cast<size_t>(rank), b, path);
  if (b.size() < 4 + 4 * static_cast<size_t>(rank))
    fail<IOError>("read_idx: '", path, "' is truncated in its header");
  Shape shape;
  for (int i = 0; i < rank; ++i) shape.push_back(be32(&b[4 + 4 * i]));
  int64_t count = 0;
  try {
    count = checked_numel("read_idx", shape, static_cast<int64_t>(elem));
  } catch (const ShapeError&) {
    fail<IOError>("read_idx: '", path, "' declares shape ", shape,
                  ", more bytes than any file holds");
  }
  const size_t n = static_cast<size_t>(count), start = b.size(), want = n * elem;
  read_up_to(file.f, want + 1, b, path);  // one byte more tells a longer file
  if (b.size() - start != want)
    fail<IOError>("read_idx: '", path, "' has ", b.size() - start,
                  b.size() - start > want ? " or more" : "", " data bytes, shape ", shape,
                  " needs ", want);
  const unsigned char* p = b.data() + start;
  if (type == 0x0D || type == 0x0E) {
    if (type == 0x0D) {
      std::vector<float> v(n);
      for (size_t i = 0; i < n; ++i) {
        uint32_t u = be32(p + 4 * i);
        std::memcpy(&v[i], &u, 4);
      }
      return tensor(v, shape);
    }
    std::vector<double> v(n);
    for (size_t i = 0; i < n; ++i) {
      uint64_t u = (uint64_t(be32(p + 8 * i)) << 32) | be32(p + 8 * i + 4);
      std::memcpy(&v[i], &u, 8);
    }
    return tensor(v, shape);
  }
  std::vector<int32_t> v(n);
  for (size_t i = 0; i < n; ++i) {
    switch (type) {
      case 0x08:
        v[i] = p[i];
        break;
      case 0x09:
        v[i] = static_cast<int8_t>(p[i]);
        break;
      case 0x0B:
        v[i] = static_cast<int16_t>((p[2 * i] << 8) | p[2 * i + 1]);
        break;
      default:
        v[i] = static_cast<int32_t>(be32(p + 4 * i));
        break;
    }
  }
  return tensor(v, shape);
}

ImageSplits load_fashion_mnist(const std::string& dir) {
  auto file = [&](const char* stem) {
    for (const char* ext : {".gz", ""}) {
      std::string p = dir + "/" + stem + ext;
      if (std::filesystem::exists(p)) return p;
    }
    fail<IOError>("load_fashion_mnist: '", dir, "/", stem,
                  "[.gz]' not found; install Debian's "
                  "dataset-fashion-mnist (bash scripts/setup.sh does) or pass the folder holding "
                  "the IDX files");
  };
  ImageSplits s;
  s.x_train = read_idx(file("train-images-idx3-ubyte")).to(kFloat32);
  s.y_train = read_idx(file("train-labels-idx1-ubyte")).to(kInt64);
  s.x_test = read_idx(file("t10k-images-idx3-ubyte")).to(kFloat32);
  s.y_test = read_idx(file("t10k-labels-idx1-ubyte")).to(kInt64);
  if (s.x_train.shape()[0] != s.y_train.shape()[0] || s.x_test.shape()[0] != s.y_test.shape()[0])
    fail<IOError>("load_fashion_mnist: image and label counts differ in '", dir, "'");
  return s;
}

const char* fashion_mnist_class_name(int64_t label) {
  static const char* names[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  if (label < 0 || label > 9)
    fail<IndexError>("fashion_mnist_class_name: label ", label, " out of range 0..9");
  return names[label];
}

}  // namespace tg::nn::data
