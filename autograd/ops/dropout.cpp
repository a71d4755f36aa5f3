// Inverted dropout (a composite of random, comparison and mul).
#include "tapegrad/autograd/op_registry.hpp"
#include "tapegrad/autograd/ops/op_util.hpp"

namespace tg {

using namespace ops;

TG_REGISTER_OP("dropout", "composite", true);
Tensor dropout(const Tensor& x, double rate, bool training, std::optional<uint64_t> seed) {
  ErrorContext ctx("dropout");
  check_defined("dropout", x);
  if (!(rate >= 0.0 && rate < 1.0)) fail<ValueError>("dropout: rate must be in [0, 1), got ", rate);
  if (!training || rate == 0.0) return x;
  check_floating("dropout", x);
  TensorOptions o{.dtype = x.dtype(), .device = x.device()};
  Tensor u = seed ? uniform(x.shape(), 0.0, 1.0, *seed, o) : uniform(x.shape(), 0.0, 1.0, o);
  Tensor keep = mask_as(ge(u, rate), x.dtype());
  return mul(x, mul(keep, 1.0 / (1.0 - rate)));
}

}  // namespace tg
