// Shape and strides of a tensor, with broadcasting and axis helpers.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

#include "tapegrad/core/small_vec.hpp"

namespace tg {

/// Sizes of a tensor's axes, outermost first. Up to 6 axes are stored inline.
using Shape = SmallVec<int64_t, 6>;
/// Element strides of a tensor's axes (may be 0 for broadcast axes, never negative).
using Strides = SmallVec<int64_t, 6>;
/// A list of axes (may be negative: -1 is the last axis).
using Axes = SmallVec<int64_t, 6>;

/// Number of elements of a shape (1 for a scalar shape []). Throws ShapeError when the count
/// does not fit in int64 (the product of the non-zero sizes must fit, as in NumPy, so that
/// strides never wrap around either).
int64_t numel(const Shape& s);
/// numel(s) after checking that no size is negative and that the elements and their bytes
/// (element_bytes each) fit in int64: otherwise a ShapeError naming op, the shape and the size
/// needed, e.g. "zeros: shape [1099511627776, 1099511627776] has more than 2^63 elements".
int64_t checked_numel(std::string_view op, const Shape& s, int64_t element_bytes = 1);
/// Row-major strides of a contiguous tensor of this shape.
Strides contiguous_strides(const Shape& s);
/// NumPy broadcast of two shapes; throws ShapeError naming op and both shapes.
Shape broadcast_shapes(std::string_view op, const Shape& a, const Shape& b);
/// Maps a possibly negative axis into [0, rank); throws IndexError naming op.
int64_t normalize_axis(std::string_view op, int64_t axis, int64_t rank);
/// Normalises, sorts and de-duplicates a set of axes; empty input means all axes.
Axes normalize_axes(std::string_view op, const Axes& axes, int64_t rank);
/// "[2, 3, 4]".
std::string shape_str(const Shape& s);
std::ostream& operator<<(std::ostream& os, const Shape& s);

}  // namespace tg
