// Element types a Tensor can hold, with their sizes and names.
#pragma once
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string_view>

namespace tg {

/// Element type of a tensor.
enum class DType : uint8_t { Float32, Float64, Int32, Int64, Bool };

inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;
inline constexpr DType kInt32 = DType::Int32;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kBool = DType::Bool;

/// Bytes per element.
constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float32:
    case DType::Int32:
      return 4;
    case DType::Float64:
    case DType::Int64:
      return 8;
    case DType::Bool:
      return 1;
  }
  return 0;
}
/// True for float32 and float64.
constexpr bool is_floating(DType t) { return t == DType::Float32 || t == DType::Float64; }
/// NumPy-style name: "float32", "int64", "bool", ...
std::string_view dtype_name(DType t);
/// Type promotion of two dtypes for binary ops (bool < int32 < int64 < float32 < float64).
DType promote_types(DType a, DType b);
std::ostream& operator<<(std::ostream& os, DType t);

/// Maps a C++ element type to its DType.
template <class T>
struct dtype_of;
template <>
struct dtype_of<float> {
  static constexpr DType value = DType::Float32;
};
template <>
struct dtype_of<double> {
  static constexpr DType value = DType::Float64;
};
template <>
struct dtype_of<int32_t> {
  static constexpr DType value = DType::Int32;
};
template <>
struct dtype_of<int64_t> {
  static constexpr DType value = DType::Int64;
};
template <>
struct dtype_of<bool> {
  static constexpr DType value = DType::Bool;
};
template <class T>
inline constexpr DType dtype_of_v = dtype_of<T>::value;

/// Calls f with a value of the C++ type matching t (float, double, int32_t, int64_t, bool).
template <class F>
decltype(auto) dispatch_dtype(DType t, F&& f) {
  switch (t) {
    case DType::Float32:
      return f(float{});
    case DType::Float64:
      return f(double{});
    case DType::Int32:
      return f(int32_t{});
    case DType::Int64:
      return f(int64_t{});
    case DType::Bool:
      break;
  }
  return f(bool{});
}

}  // namespace tg
