// The example of the README: linear regression by hand-written gradient descent.
#include <iostream>
#include <tapegrad/tapegrad.hpp>

int main() {
  tg::manual_seed(0);
  tg::Tensor x = tg::randn({64, 3});
  tg::Tensor y = tg::matmul(x, tg::tensor({1.f, -2.f, 0.5f}, {3, 1}));

  tg::Tensor w = tg::zeros({3, 1}).requires_grad_();
  for (int step = 0; step < 200; ++step) {
    tg::Tensor loss = tg::mean(tg::square(tg::matmul(x, w) - y));  // any function of tensors
    loss.backward();
    tg::NoGrad no_grad;  // updates are not recorded
    w -= w.grad() * 0.1;
    w.zero_grad();
  }
  std::cout << w << "\n";  // ≈ [[1], [-2], [0.5]]
}
