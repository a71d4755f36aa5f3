// Shape arithmetic: element counts, strides, broadcasting and axis normalisation.
#include "tapegrad/core/shape.hpp"

#include <algorithm>
#include <sstream>

#include "tapegrad/core/error.hpp"

namespace tg {

namespace {
/// The product of the non-zero sizes of s, or false when it overflows int64.
bool nonzero_product(const Shape& s, int64_t* out) {
  int64_t n = 1;
  for (int64_t d : s)
    if (d != 0 && __builtin_mul_overflow(n, d, &n)) return false;
  *out = n;
  return true;
}
bool has_zero(const Shape& s) {
  for (int64_t d : s)
    if (d == 0) return true;
  return false;
}
}  // namespace

int64_t numel(const Shape& s) {
  int64_t n = 1;
  if (!nonzero_product(s, &n))
    fail<ShapeError>("shape ", s, " has more than 2^63 elements (int64 cannot count them)");
  return has_zero(s) ? 0 : n;
}

int64_t checked_numel(std::string_view op, const Shape& s, int64_t element_bytes) {
  for (int64_t d : s)
    if (d < 0) fail<ShapeError>(op, ": negative size in shape ", s);
  int64_t n = 1, bytes = 0;
  if (!nonzero_product(s, &n))
    fail<ShapeError>(op, ": shape ", s, " has more than 2^63 elements");
  if (__builtin_mul_overflow(n, element_bytes, &bytes))
    fail<ShapeError>(op, ": shape ", s, " of ", element_bytes, "-byte elements needs more than ",
                     "2^63 bytes");
  return has_zero(s) ? 0 : n;
}

Strides contiguous_strides(const Shape& s) {
  Strides st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= std::max<int64_t>(s[i], 1);
  }
  return st;
}

Shape broadcast_shapes(std::string_view op, const Shape& a, const Shape& b) {
  if (a == b) return a;
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      fail<ShapeError>(op, ": shapes cannot be broadcast: ", a, " and ", b, " (axis ", i, ": ", da,
                       " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  int64_t count = 1;  // [2^40, 1] with [1, 2^40] gives more elements than int64 counts
  if (!nonzero_product(out, &count))
    fail<ShapeError>(op, ": broadcasting ", a, " and ", b, " gives ", out,
                     ", more than 2^63 elements");
  return out;
}

int64_t normalize_axis(std::string_view op, int64_t axis, int64_t rank) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    fail<IndexError>(op, ": axis ", axis, " out of range for a tensor of rank ", rank);
  return a;
}

Axes normalize_axes(std::string_view op, const Axes& axes, int64_t rank) {
  Axes out;
  if (axes.empty()) {
    for (int64_t i = 0; i < rank; ++i) out.push_back(i);
    return out;
  }
  for (int64_t a : axes) out.push_back(normalize_axis(op, a, rank));
  std::sort(out.begin(), out.end());
  for (size_t i = 1; i < out.size(); ++i)
    if (out[i] == out[i - 1]) fail<ValueError>(op, ": axis ", out[i], " given twice");
  return out;
}

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << ']';
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << shape_str(s); }

}  // namespace tg
