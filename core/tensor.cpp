// Tensor construction and the metadata queries that need no op.
#include "tapegrad/core/tensor.hpp"

#include "tapegrad/core/backend.hpp"
#include "tapegrad/core/pool.hpp"
#include "tapegrad/core/registry.hpp"

namespace tg {

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device, std::string_view op) {
  const int64_t esize = static_cast<int64_t>(dtype_size(dtype));
  const int64_t n = checked_numel(op, shape, esize);
  auto impl = detail::make_pooled<TensorImpl>();
  const size_t bytes = static_cast<size_t>(std::max<int64_t>(n, 1) * esize);
  Backend& backend = device_backend(device);  // throws for a device that does not exist
  impl->storage = in_meta_scope()
                      ? detail::make_pooled<Storage>(Storage::Meta{}, device, bytes)
                      : detail::make_pooled<Storage>(backend.allocator(), bytes);
  impl->strides = contiguous_strides(shape);
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::make_view(std::shared_ptr<Storage> storage, Shape shape, Strides strides,
                         int64_t offset, DType dtype) {
  auto impl = detail::make_pooled<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

std::vector<unsigned char> Tensor::host_bytes() const {
  if (!defined()) fail<ValueError>("to_vector: undefined tensor");
  std::vector<unsigned char> bytes(static_cast<size_t>(numel()) * dtype_size(dtype()));
  if (bytes.empty() || is_meta()) return bytes;  // a meta tensor reads as zeros
  NoMetaScope compute;  // a real tensor's values, also when asked inside a MetaScope
  const Tensor c = detach().contiguous();
  backend_for(c.device()).copy_to_host(c, bytes.data());
  return bytes;
}

int64_t Tensor::size(int64_t axis) const {
  return impl_->shape[static_cast<size_t>(normalize_axis("size", axis, dim()))];
}

void Tensor::set_data(const Tensor& src) const {
  if (!defined() || !src.defined()) fail<ValueError>("set_data: undefined tensor");
  if (!is_leaf()) fail<ValueError>("set_data: only leaf tensors (parameters) can take new data");
  if (requires_grad() && !is_floating(src.dtype()))
    fail<DTypeError>("set_data: a tensor that requires grad cannot hold ", src.dtype(), " data");
  impl_->storage = src.impl()->storage;
  impl_->shape = src.impl()->shape;
  impl_->strides = src.impl()->strides;
  impl_->offset = src.impl()->offset;
  impl_->dtype = src.impl()->dtype;
  impl_->grad.reset();
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = impl_->shape.size(); i-- > 0;) {
    if (impl_->shape[i] == 1) continue;
    if (impl_->strides[i] != expected) return false;
    expected *= impl_->shape[i];
  }
  return true;
}

}  // namespace tg
