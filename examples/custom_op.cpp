// A custom loss written as a function of tensors, and a custom op with its own backward
// checked by gradcheck (the worked example of docs/tensor_and_autograd.md).
#include <cstdio>

#include <tapegrad/tapegrad.hpp>

// Huber loss as a plain function of tensors: autograd differentiates it.
tg::Tensor huber(const tg::Tensor& y_true, const tg::Tensor& y_pred, double delta = 1.0) {
  tg::Tensor err = tg::abs(y_pred - y_true);
  tg::Tensor quadratic = 0.5 * tg::square(err);
  tg::Tensor linear = delta * err - 0.5 * delta * delta;
  return tg::mean(tg::where(tg::le(err, delta), quadratic, linear));
}

// softsign with a hand-written backward: d/dx x / (1 + |x|) = 1 / (1 + |x|)².
struct MySoftsign {
  static tg::Tensor forward(tg::autograd::Context& ctx, const tg::Tensor& x) {
    ctx.save_for_backward({x});
    return x / (1.0 + tg::abs(x));
  }
  static std::vector<tg::Tensor> backward(tg::autograd::Context& ctx,
                                          const std::vector<tg::Tensor>& grads) {
    tg::Tensor x = ctx.saved_tensors()[0];
    return {grads[0] / tg::square(1.0 + tg::abs(x))};
  }
};

int main() {
  // 1. The custom op is checked against finite differences in float64.
  auto result = tg::autograd::gradcheck(
      [](const std::vector<tg::Tensor>& in) {
        return tg::autograd::Function<MySoftsign>::apply(in[0]);
      },
      {tg::randn({3, 4}, {.dtype = tg::kFloat64})});
  std::printf("gradcheck of MySoftsign: %s %s\n", result.ok ? "passed" : "FAILED",
              result.message.c_str());

  // 2. A tiny model trained with the custom op and the custom loss.
  tg::manual_seed(1);
  tg::Tensor x = tg::randn({128, 4});
  tg::Tensor y = tg::matmul(x, tg::tensor({0.5f, -1.f, 2.f, 0.f}, {4, 1}));
  tg::Tensor w = tg::zeros({4, 8}).requires_grad_();
  tg::Tensor v = (tg::randn({8, 1}) * 0.1).requires_grad_();
  double first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    tg::Tensor h = tg::autograd::Function<MySoftsign>::apply(tg::matmul(x, w));
    tg::Tensor loss = huber(y, tg::matmul(h, v));
    loss.backward();
    tg::NoGrad no_grad;
    for (tg::Tensor* p : {&w, &v}) {
      *p -= p->grad() * 0.2;
      p->zero_grad();
    }
    last = loss.item<double>();
    if (step == 0) first = last;
  }
  std::printf("huber loss fell from %.4f to %.4f\n", first, last);
  return result.ok && last < first ? 0 : 1;
}
