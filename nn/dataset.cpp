// TensorDataset batching and seeded permutations.
#include "tapegrad/nn/dataset.hpp"

#include <algorithm>
#include <numeric>

#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/autograd/ops.hpp"

namespace tg::nn {

Tensor random_permutation(int64_t n, uint64_t seed) {
  // Sort uniform keys: a permutation from the device-independent random stream.
  std::vector<double> keys =
      uniform({n}, 0.0, 1.0, seed, {.dtype = kFloat64, .device = Device::cpu()})
          .to_vector<double>();
  std::vector<int64_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return keys[a] < keys[b]; });
  return tensor(idx, {n}, {.dtype = kInt64, .device = Device::cpu()});
}

Tensor to_categorical(const Tensor& labels, int64_t num_classes) {
  if (!labels.defined()) fail<ValueError>("to_categorical: undefined labels");
  ErrorContext ctx("to_categorical");
  Tensor l = labels;
  if (l.dtype() == kBool) fail<DTypeError>("to_categorical: labels must be integers, got bool");
  if (l.dim() > 1 && l.shape().back() == 1) l = l.squeeze(-1);
  if (is_floating(l.dtype())) l = l.to(kInt64);
  if (num_classes < 0) {
    if (l.numel() == 0)
      fail<ValueError>("to_categorical: cannot infer num_classes from empty labels ", l.shape());
    num_classes = max(l).item<int64_t>() + 1;
  }
  return one_hot(l, num_classes, kFloat32);
}

TensorDataset::TensorDataset(std::vector<Tensor> x, std::vector<Tensor> y, TensorDatasetOptions o)
    : x_(std::move(x)), y_(std::move(y)), o_(std::move(o)) {
  if (x_.empty()) fail<ValueError>("TensorDataset: no input tensors");
  if (o_.batch_size <= 0)
    fail<ValueError>("TensorDataset: batch_size must be positive, got ", o_.batch_size);
  n_ = x_[0].dim() ? x_[0].shape()[0] : 0;
  auto check = [&](const Tensor& t, const char* what, size_t i) {
    if (!t.defined()) fail<ValueError>("TensorDataset: ", what, " ", i, " is undefined");
    if (t.dim() == 0 || t.shape()[0] != n_)
      fail<ShapeError>("TensorDataset: ", what, " ", i, " has shape ", t.shape(),
                       " but input 0 has ", n_, " samples");
  };
  for (size_t i = 0; i < x_.size(); ++i) check(x_[i], "input", i);
  for (size_t i = 0; i < y_.size(); ++i) check(y_[i], "target", i);
  if (o_.sample_weight.defined()) check(o_.sample_weight, "sample_weight", 0);
}

int64_t TensorDataset::num_batches() const {
  return o_.drop_remainder ? n_ / o_.batch_size : (n_ + o_.batch_size - 1) / o_.batch_size;
}

void TensorDataset::reset(int64_t epoch) {
  pos_ = 0;
  order_ = o_.shuffle ? random_permutation(n_, o_.seed + static_cast<uint64_t>(epoch)) : Tensor();
  order_on_.clear();
}

Tensor TensorDataset::take(const Tensor& t, int64_t start, int64_t stop) const {
  if (!order_.defined()) return t.slice(0, start, stop);
  // The indices go to the device of the data they index.
  const Device d = t.device();
  auto it = std::find_if(order_on_.begin(), order_on_.end(),
                         [&](const auto& e) { return e.first == d; });
  if (it == order_on_.end()) {
    order_on_.emplace_back(d, order_.to(d));
    it = std::prev(order_on_.end());
  }
  return index_select(t, 0, it->second.slice(0, start, stop));
}

std::optional<Batch> TensorDataset::next() {
  if (pos_ >= n_) return std::nullopt;
  const int64_t stop = std::min(n_, pos_ + o_.batch_size);
  if (o_.drop_remainder && stop - pos_ < o_.batch_size) return std::nullopt;
  NoGrad ng;
  Batch b;
  for (const Tensor& t : x_) b.x.push_back(take(t, pos_, stop));
  for (const Tensor& t : y_) b.y.push_back(take(t, pos_, stop));
  if (o_.sample_weight.defined()) b.sample_weight = take(o_.sample_weight, pos_, stop);
  pos_ = stop;
  return b;
}

}  // namespace tg::nn
