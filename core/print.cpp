// Text form of a tensor, in the style of NumPy and PyTorch.
#include <cmath>
#include <iomanip>
#include <sstream>
#include <vector>

#include "tapegrad/core/tensor.hpp"

namespace tg {

namespace {
constexpr int64_t kElideAbove = 1000;  // elements; larger tensors show kEdge items per edge
constexpr int64_t kEdge = 3;

std::string format_value(double v, DType dt, bool integral_floats) {
  std::ostringstream os;
  if (dt == kBool) return v != 0 ? "true" : "false";
  if (!is_floating(dt)) {
    os << static_cast<int64_t>(v);
    return os.str();
  }
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (integral_floats) {
    os << static_cast<int64_t>(v) << '.';
  } else if (v != 0 && (std::abs(v) >= 1e5 || std::abs(v) < 1e-4)) {
    os << std::scientific << std::setprecision(4) << v;
  } else {
    os << std::fixed << std::setprecision(4) << v;
  }
  return os.str();
}

struct Printer {
  const std::vector<double>& vals;
  const Shape& shape;
  DType dtype;
  bool elide, integral;
  size_t width = 0;
  Strides strides;

  void rec(std::ostringstream& os, size_t axis, int64_t off, int indent) {
    if (axis == shape.size()) {
      std::string s = format_value(vals[off], dtype, integral);
      os << std::string(width - std::min(width, s.size()), ' ') << s;
      return;
    }
    os << '[';
    const int64_t n = shape[axis];
    for (int64_t i = 0; i < n; ++i) {
      if (elide && n > 2 * kEdge && i == kEdge) {
        os << (axis + 1 == shape.size() ? "..., " : "...,\n" + std::string(indent + 1, ' '));
        i = n - kEdge;
      }
      rec(os, axis + 1, off + i * strides[axis], indent + 1);
      if (i + 1 < n) {
        os << ',';
        if (axis + 1 == shape.size())
          os << ' ';
        else
          os << std::string(shape.size() - axis - 1, '\n') << std::string(indent + 1, ' ');
      }
    }
    os << ']';
  }
};
}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  std::vector<double> vals = to_vector<double>();
  bool integral = true;
  for (double v : vals)
    if (std::isfinite(v) && v != std::floor(v)) integral = false;
  Printer p{vals, shape(), dtype(), numel() > kElideAbove, integral};
  p.strides = contiguous_strides(shape());
  for (double v : vals) p.width = std::max(p.width, format_value(v, dtype(), integral).size());
  std::ostringstream os;
  os << "tensor(";
  p.rec(os, 0, 0, 7);
  os << ", shape=" << shape() << ", dtype=" << dtype();
  if (device().type != DeviceType::CPU) os << ", device=" << device();
  if (requires_grad()) os << ", requires_grad=true";
  os << ')';
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace tg
