// Tensor: a cheap handle to shared storage with shape, strides, dtype, device and autograd state.
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tapegrad/core/device.hpp"
#include "tapegrad/core/dtype.hpp"
#include "tapegrad/core/error.hpp"
#include "tapegrad/core/shape.hpp"
#include "tapegrad/core/storage.hpp"

namespace tg {

namespace autograd {
class Node;
}
class Tensor;

/// Options of the creation functions.
struct TensorOptions {
  DType dtype = kFloat32;
  Device device = default_device();  ///< TG_DEVICE or set_default_device(), else the CPU
  bool requires_grad = false;
};

/// A gradient hook: receives the tensor's total gradient of one backward pass, may return a
/// replacement (or an undefined tensor to keep it).
using GradHook = std::function<Tensor(const Tensor&)>;
/// A post-accumulate hook of a leaf: called with the leaf itself once its .grad holds the
/// gradient of the current backward pass.
using PostAccumulateHook = std::function<void(const Tensor&)>;

/// A registered hook with the id that removes it.
template <class F>
struct HookEntry {
  uint64_t id;
  F fn;
};

/// Removes the hook it was returned for (PyTorch's RemovableHandle). Dropping the handle keeps
/// the hook; remove() is idempotent and safe after the tensor is gone.
class HookHandle {
 public:
  HookHandle() = default;
  explicit HookHandle(std::function<void()> remover) : remover_(std::move(remover)) {}
  /// Unregisters the hook (no effect the second time).
  void remove() {
    if (remover_) std::exchange(remover_, nullptr)();
  }

 private:
  std::function<void()> remover_;
};

/// Shared state behind a Tensor handle. Users work with Tensor; backends read these fields.
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Strides strides;
  int64_t offset = 0;  ///< in elements
  DType dtype = kFloat32;

  // Autograd state. A tensor with grad_fn is an op's output; without, a leaf.
  bool requires_grad = false;
  bool retains_grad = false;
  bool is_view = false;  ///< made by a view op from another tensor (shares its storage)
  uint32_t output_nr = 0;
  std::shared_ptr<autograd::Node> grad_fn;
  std::unique_ptr<Tensor> grad;                  ///< accumulated gradient of a leaf
  /// Hooks of a leaf, in registration order.
  std::unique_ptr<std::vector<HookEntry<GradHook>>> hooks;
  /// Post-accumulate hooks of a leaf, in registration order.
  std::unique_ptr<std::vector<HookEntry<PostAccumulateHook>>> post_hooks;

  ~TensorImpl();
};

/// Arguments of Tensor::backward.
struct BackwardOptions {
  bool retain_graph = false;  ///< keep saved tensors so backward can run again
  bool create_graph = false;  ///< record the backward pass (gradients of gradients)
};

/// An n-dimensional array on a device. Copying a Tensor copies the handle, not the data: views
/// (reshape, transpose, slice, ...) share storage with their base. A default-constructed Tensor
/// is undefined.
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  /// Uninitialised contiguous tensor.
  /// Throws ShapeError naming op for a negative size or a shape whose elements or bytes do not
  /// fit in int64, and BackendError when the device is out of memory.
  static Tensor empty(const Shape& shape, DType dtype = kFloat32, Device device = Device::cpu(),
                      std::string_view op = "empty");
  /// A view of storage with explicit shape, strides and offset (no copy, no checks).
  static Tensor make_view(std::shared_ptr<Storage> storage, Shape shape, Strides strides,
                          int64_t offset, DType dtype);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl_->shape; }
  const Strides& strides() const { return impl_->strides; }
  int64_t offset() const { return impl_->offset; }
  DType dtype() const { return impl_->dtype; }
  Device device() const { return impl_->storage->device(); }
  /// Number of axes.
  int64_t dim() const { return static_cast<int64_t>(impl_->shape.size()); }
  /// Size of an axis (negative counts from the end).
  int64_t size(int64_t axis) const;
  int64_t numel() const { return tg::numel(impl_->shape); }
  bool is_contiguous() const;
  /// Whether the tensor has shape, dtype and device but no memory yet: made by an op inside a
  /// MetaScope (core/registry.hpp).
  bool is_meta() const { return impl_->storage->is_meta(); }
  const std::shared_ptr<Storage>& storage() const { return impl_->storage; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  /// True when both handles share one TensorImpl.
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }

  /// Typed pointer to the first element of a CPU tensor (throws for other devices or dtypes).
  template <class T>
  T* data() const;
  /// The single element of a one-element tensor, converted to T.
  template <class T>
  T item() const;
  /// All elements in row-major order, converted to T.
  template <class T>
  std::vector<T> to_vector() const;
  /// The elements in row-major order as bytes of the tensor's own dtype, read through its
  /// device's backend: a real tensor's values even inside a MetaScope, zeros for a meta tensor.
  std::vector<unsigned char> host_bytes() const;

  // ---- autograd (defined in autograd/) ----
  bool requires_grad() const { return impl_->requires_grad; }
  /// Marks a leaf as requiring grad (returns *this). Throws for non-leaves and integer dtypes.
  Tensor& requires_grad_(bool value = true);
  /// True for tensors not produced by a recorded op.
  bool is_leaf() const { return impl_->grad_fn == nullptr; }
  /// The tape node that produced this tensor (nullptr for leaves).
  const std::shared_ptr<autograd::Node>& grad_fn() const { return impl_->grad_fn; }
  /// Accumulated gradient (undefined until a backward reaches this tensor).
  Tensor grad() const;
  /// Replaces the accumulated gradient.
  void set_grad(const Tensor& g) const;
  /// Resets the accumulated gradient to undefined.
  void zero_grad() const;
  /// Back-propagates from this tensor: a scalar, or any shape with an explicit gradient.
  void backward(const Tensor& gradient = Tensor(), BackwardOptions opts = {}) const;
  /// Same data, cut from the tape, requires_grad false.
  Tensor detach() const;
  /// Calls hook once per backward pass with this tensor's total gradient (all contributions
  /// summed); a defined return value replaces the gradient that flows on (and that accumulates
  /// into .grad for a leaf). Hooks compose in registration order.
  HookHandle register_hook(GradHook hook) const;
  /// Leaves only: calls hook with this tensor after backward has accumulated its gradient into
  /// .grad (for optimizers that step per parameter, gradient all-reduce).
  HookHandle register_post_accumulate_grad_hook(PostAccumulateHook hook) const;
  /// Keeps .grad for a non-leaf tensor at the next backward.
  void retain_grad() const;

  // ---- views (no copy; differentiable) ----
  /// Same data in a new shape; one size may be -1. Copies only when strides do not allow a view.
  Tensor reshape(const Shape& shape) const;
  /// Like reshape but never copies: throws when the strides do not allow a view.
  Tensor view(const Shape& shape) const;
  /// Swaps two axes.
  Tensor transpose(int64_t a, int64_t b) const;
  /// Reorders axes.
  Tensor permute(const Axes& order) const;
  /// Transpose of a 2-D tensor (last two axes of a higher-rank tensor).
  Tensor t() const;
  /// Elements start, start+step, ... < stop along axis (negative bounds count from the end,
  /// bounds are clamped like Python slices; step > 0).
  Tensor slice(int64_t axis, int64_t start, int64_t stop, int64_t step = 1) const;
  /// Removes axis, keeping index i along it.
  Tensor select(int64_t axis, int64_t i) const;
  /// select(0, i).
  Tensor operator[](int64_t i) const { return select(0, i); }
  /// Broadcasts to shape (stride 0 on expanded axes).
  Tensor expand(const Shape& shape) const;
  Tensor broadcast_to(const Shape& shape) const { return expand(shape); }
  /// Removes every axis of size 1.
  Tensor squeeze() const;
  /// Removes axis, which must have size 1.
  Tensor squeeze(int64_t axis) const;
  /// Inserts an axis of size 1 at axis.
  Tensor unsqueeze(int64_t axis) const;
  /// Merges axes start..end into one.
  Tensor flatten(int64_t start = 0, int64_t end = -1) const;
  /// This tensor when contiguous, else a contiguous copy.
  Tensor contiguous() const;

  // ---- conversions and copies ----
  /// Copy converted to dtype (differentiable between float types).
  Tensor to(DType dtype) const;
  /// Copy on another device (differentiable).
  Tensor to(Device device) const;
  /// Makes this handle (and every handle sharing its TensorImpl) hold src's data: storage,
  /// shape, strides and dtype, keeping requires_grad; the accumulated grad is dropped. Used
  /// to move parameters between devices in place (model.to(device)).
  void set_data(const Tensor& src) const;
  /// A contiguous copy (differentiable).
  Tensor clone() const;

  // ---- in-place (bump the version counter) ----
  /// Copies src (broadcast to this shape, cast to this dtype) into this tensor.
  Tensor& copy_(const Tensor& src);
  /// Sets every element to value.
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& add_(const Tensor& o);
  Tensor& sub_(const Tensor& o);
  Tensor& mul_(const Tensor& o);
  Tensor& div_(const Tensor& o);
  Tensor& add_(double v);
  Tensor& mul_(double v);
  Tensor& operator+=(const Tensor& o) { return add_(o); }
  Tensor& operator-=(const Tensor& o) { return sub_(o); }
  Tensor& operator*=(const Tensor& o) { return mul_(o); }
  Tensor& operator/=(const Tensor& o) { return div_(o); }
  Tensor& operator+=(double v) { return add_(v); }
  Tensor& operator-=(double v) { return add_(-v); }
  Tensor& operator*=(double v) { return mul_(v); }
  Tensor& operator/=(double v) { return mul_(1.0 / v); }

  /// NumPy/PyTorch-style text: values (elided when large), shape and dtype.
  std::string str() const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- creation (core/factory.cpp) ----
/// Tensor of zeros.
Tensor zeros(const Shape& shape, TensorOptions opts = {});
/// Tensor of ones.
Tensor ones(const Shape& shape, TensorOptions opts = {});
/// Tensor filled with value.
Tensor full(const Shape& shape, double value, TensorOptions opts = {});
/// Zeros with the shape, dtype and device of t.
Tensor zeros_like(const Tensor& t);
/// Ones with the shape, dtype and device of t.
Tensor ones_like(const Tensor& t);
/// Values start, start+step, ... < stop (1-D) with the dtype and device of opts.
Tensor arange(double start, double stop, double step, TensorOptions opts);
/// arange(0, stop, 1) with the dtype and device of opts.
Tensor arange(int64_t stop, TensorOptions opts);
/// Values start, start+step, ... < stop: int64 when every argument is an integer, else
/// float32 (as NumPy/PyTorch infer it).
template <class A, class B, class C = int>
requires std::is_arithmetic_v<A> && std::is_arithmetic_v<B> && std::is_arithmetic_v<C> Tensor
arange(A start, B stop, C step = 1) {
  constexpr bool integral = std::is_integral_v<A> && std::is_integral_v<B> && std::is_integral_v<C>;
  return arange(static_cast<double>(start), static_cast<double>(stop), static_cast<double>(step),
                TensorOptions{.dtype = integral ? kInt64 : kFloat32});
}
/// arange(0, stop): int64 for an integer stop, else float32.
template <class A>
requires std::is_arithmetic_v<A> Tensor arange(A stop) { return arange(0, stop, 1); }
/// n evenly spaced values from start to stop inclusive.
Tensor linspace(double start, double stop, int64_t n, TensorOptions opts = {});
/// n×m identity (m = n when m < 0).
Tensor eye(int64_t n, int64_t m = -1, TensorOptions opts = {});
/// A tensor holding the values (row-major) with the shape (1-D when shape is empty).
template <class T>
Tensor tensor(const std::vector<T>& values, const Shape& shape = {},
              TensorOptions opts = {.dtype = dtype_of_v<T>});
Tensor tensor(std::initializer_list<float> values, const Shape& shape = {},
              TensorOptions opts = {});
/// A 0-d tensor holding value.
Tensor scalar_tensor(double value, TensorOptions opts = {});
/// Copies numel(shape) elements of dtype from raw host memory into a tensor of that dtype.
Tensor from_blob(const void* data, const Shape& shape, DType dtype,
                 Device device = default_device());

namespace detail {
/// Copies host elements of src_dtype into a new tensor with the dtype and device of opts.
Tensor from_host(const void* data, const Shape& shape, DType src_dtype, const TensorOptions& opts);
}  // namespace detail

// ---- random numbers (core/generator.cpp) ----
/// Sets the seed of the global generator (runs are reproducible).
void manual_seed(uint64_t seed);
/// Uniform in [low, high) from the global generator.
Tensor uniform(const Shape& shape, double low = 0.0, double high = 1.0, TensorOptions opts = {});
/// Uniform in [low, high) from an explicit seed (independent of the global generator).
Tensor uniform(const Shape& shape, double low, double high, uint64_t seed, TensorOptions opts = {});
/// Normal(mean, stddev) from the global generator.
Tensor normal(const Shape& shape, double mean = 0.0, double stddev = 1.0, TensorOptions opts = {});
/// Normal(mean, stddev) from an explicit seed.
Tensor normal(const Shape& shape, double mean, double stddev, uint64_t seed,
              TensorOptions opts = {});
/// uniform(shape, 0, 1).
Tensor rand(const Shape& shape, TensorOptions opts = {});
/// normal(shape, 0, 1).
Tensor randn(const Shape& shape, TensorOptions opts = {});

// ---- template definitions ----
template <class T>
T* Tensor::data() const {
  if (device().type != DeviceType::CPU)
    fail<DeviceError>("Tensor::data: tensor is on ", device(), "; call .to(Device::cpu()) first");
  if (dtype() != dtype_of_v<T>)
    fail<DTypeError>("Tensor::data: tensor has dtype ", dtype(), ", requested ", dtype_of_v<T>);
  return static_cast<T*>(impl_->storage->data()) + impl_->offset;
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  const std::vector<unsigned char> bytes = host_bytes();
  std::vector<T> out;
  out.reserve(static_cast<size_t>(numel()));
  dispatch_dtype(dtype(), [&](auto zero) {  // convert on the host
    using S = decltype(zero);
    const S* p = reinterpret_cast<const S*>(bytes.data());
    for (int64_t i = 0; i < numel(); ++i) out.push_back(static_cast<T>(p[i]));
  });
  return out;
}

template <class T>
T Tensor::item() const {
  if (numel() != 1)
    fail<ValueError>("item: tensor has ", numel(), " elements ", shape(), ", expected 1");
  return to_vector<T>()[0];
}

template <class T>
Tensor tensor(const std::vector<T>& values, const Shape& shape, TensorOptions opts) {
  Shape s = shape.empty() ? Shape{static_cast<int64_t>(values.size())} : shape;
  if (numel(s) != static_cast<int64_t>(values.size()))
    fail<ShapeError>("tensor: ", values.size(), " values do not fill shape ", s);
  if constexpr (std::is_same_v<T, bool>) {
    std::vector<uint8_t> bytes(values.begin(), values.end());
    return detail::from_host(bytes.data(), s, kBool, opts);
  } else {
    return detail::from_host(values.data(), s, dtype_of_v<T>, opts);
  }
}

}  // namespace tg
