// Fits a two-layer network to a noisy sine by hand-written gradient descent on the autograd.
#include <cstdio>

#include <tapegrad/tapegrad.hpp>

int main() {
  tg::manual_seed(42);
  // Data: y = sin(3x) + noise on [-1, 1].
  tg::Tensor x = tg::uniform({256, 1}, -1.0, 1.0);
  tg::Tensor y = tg::sin(x * 3.0) + tg::normal({256, 1}, 0.0, 0.05);

  // Parameters of a 1-32-1 tanh network.
  tg::Tensor w1 = tg::normal({1, 32}, 0.0, 1.0).requires_grad_();
  tg::Tensor b1 = tg::zeros({32}).requires_grad_();
  tg::Tensor w2 = tg::normal({32, 1}, 0.0, 0.2).requires_grad_();
  tg::Tensor b2 = tg::zeros({1}).requires_grad_();
  std::vector<tg::Tensor> params{w1, b1, w2, b2};

  const double lr = 0.1;
  double first = 0, last = 0;
  for (int step = 0; step <= 2000; ++step) {
    tg::Tensor h = tg::tanh(tg::matmul(x, w1) + b1);
    tg::Tensor pred = tg::matmul(h, w2) + b2;
    tg::Tensor loss = tg::mean(tg::square(pred - y));  // a loss is any function of tensors
    loss.backward();
    {
      tg::NoGrad no_grad;  // the update is not recorded
      for (tg::Tensor& p : params) {
        p -= p.grad() * lr;
        p.zero_grad();
      }
    }
    last = loss.item<double>();
    if (step == 0) first = last;
    if (step % 250 == 0) std::printf("step %4d  loss %.5f\n", step, last);
  }
  std::printf("loss fell from %.4f to %.4f\n", first, last);
  return last < first * 0.1 ? 0 : 1;
}
