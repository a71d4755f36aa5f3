// N-dimensional strided iteration shared by the reference kernels (and CPU fallbacks).
#pragma once
#include <array>
#include <cstdint>

#include "tapegrad/core/shape.hpp"

namespace tg::reference {

/// Calls f(offsets) for every index of shape in row-major order, where offsets[k] is the element
/// offset of operand k (base[k] + sum of index * strides[k]).
template <size_t K, class F>
void strided_loop(const Shape& shape, const std::array<const Strides*, K>& strides,
                  std::array<int64_t, K> base, F&& f) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  for (int64_t d = 0; d < rank; ++d)
    if (shape[d] == 0) return;
  if (rank == 0) {
    f(base);
    return;
  }
  const int64_t inner = shape[rank - 1];
  std::array<int64_t, K> inner_stride;
  for (size_t k = 0; k < K; ++k) inner_stride[k] = (*strides[k])[rank - 1];
  SmallVec<int64_t, 6> idx(static_cast<size_t>(rank), 0);
  std::array<int64_t, K> off = base;
  while (true) {
    std::array<int64_t, K> o = off;
    for (int64_t i = 0; i < inner; ++i) {
      f(o);
      for (size_t k = 0; k < K; ++k) o[k] += inner_stride[k];
    }
    int64_t d = rank - 2;
    for (; d >= 0; --d) {
      if (++idx[d] < shape[d]) {
        for (size_t k = 0; k < K; ++k) off[k] += (*strides[k])[d];
        break;
      }
      for (size_t k = 0; k < K; ++k) off[k] -= (*strides[k])[d] * (shape[d] - 1);
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

}  // namespace tg::reference
