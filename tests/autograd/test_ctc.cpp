// ctc_loss against brute-force enumeration of every alignment, its gradient, and its errors.
#include <cmath>
#include <limits>
#include <optional>
#include <string>

#include "test_util.hpp"

using namespace tg;
using V = std::vector<double>;
using I = std::vector<int64_t>;

namespace {
const double kInf = std::numeric_limits<double>::infinity();

/// Runs body once on the default CPU backend and once under UseReferenceBackend.
template <class F>
void on_both_backends(F body) {
  for (bool ref : {false, true}) {
    std::optional<UseReferenceBackend> guard;
    if (ref) guard.emplace();
    INFO((ref ? "backend: reference" : "backend: cpu"));
    body();
  }
}

/// Loss and ∂loss/∂logits of one sample, by summing over every path in C^T (double precision).
struct Brute {
  double loss = kInf;
  V grad;  // [T_total, C]: softmax − posterior occupation for t < T, 0 after
};

/// Enumerates all C^T paths over the first T frames of logits ([T_total, C], row-major), keeps
/// those that collapse (merge repeats, drop blanks) to label, and sums their probabilities.
Brute brute_force(const V& logits, int64_t T_total, int64_t C, int64_t T, const I& label,
                  int64_t blank) {
  std::vector<V> prob(static_cast<size_t>(T), V(static_cast<size_t>(C)));
  for (int64_t t = 0; t < T; ++t) {
    double m = -kInf, z = 0;
    for (int64_t c = 0; c < C; ++c) m = std::max(m, logits[t * C + c]);
    for (int64_t c = 0; c < C; ++c) z += std::exp(logits[t * C + c] - m);
    for (int64_t c = 0; c < C; ++c) prob[t][c] = std::exp(logits[t * C + c] - m) / z;
  }
  double total = 0;
  V occ(static_cast<size_t>(T * C), 0.0);  // Σ over matching paths of p(path)·[path_t = c]
  I path(static_cast<size_t>(T), 0);
  int64_t count = 1;
  for (int64_t t = 0; t < T; ++t) count *= C;
  for (int64_t k = 0; k < count; ++k) {
    int64_t r = k;
    for (int64_t t = 0; t < T; ++t) {
      path[t] = r % C;
      r /= C;
    }
    I collapsed;
    for (int64_t t = 0; t < T; ++t)
      if (path[t] != blank && (t == 0 || path[t] != path[t - 1])) collapsed.push_back(path[t]);
    if (collapsed != label) continue;
    double p = 1;
    for (int64_t t = 0; t < T; ++t) p *= prob[t][path[t]];
    total += p;
    for (int64_t t = 0; t < T; ++t) occ[t * C + path[t]] += p;
  }
  Brute b;
  b.grad.assign(static_cast<size_t>(T_total * C), 0.0);
  if (total == 0) return b;  // no path: +inf, zero gradient
  b.loss = -std::log(total);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c = 0; c < C; ++c) b.grad[t * C + c] = prob[t][c] - occ[t * C + c] / total;
  return b;
}

/// One batch: logits [N, T, C] (values in [-2, 2]), padded labels and lengths.
struct Batch {
  int64_t N = 0, T = 0, C = 0;
  V logits = {};
  I labels = {};  // [N, L]
  int64_t L = 0;
  I label_len = {}, logit_len = {};
  int64_t blank = 0;
};

Batch make_batch(int64_t T, int64_t C, std::vector<I> labels, I logit_len, int64_t blank,
                 uint64_t seed, int64_t pad_value = -1) {
  Batch b{.N = static_cast<int64_t>(labels.size()), .T = T, .C = C};
  b.blank = blank;
  b.L = 0;
  for (const I& l : labels) b.L = std::max<int64_t>(b.L, static_cast<int64_t>(l.size()));
  for (const I& l : labels) {
    b.label_len.push_back(static_cast<int64_t>(l.size()));
    for (int64_t i = 0; i < b.L; ++i)
      b.labels.push_back(i < static_cast<int64_t>(l.size()) ? l[i]
                                                            : (pad_value < 0 ? blank : pad_value));
  }
  b.logit_len = logit_len;
  b.logits = uniform({b.N * T * C}, -2.0, 2.0, seed, {.dtype = kFloat64}).to_vector<double>();
  return b;
}

/// Checks ctc_loss and its gradient on batch b against brute force, in dtype dt.
void check_against_brute_force(const Batch& b, DType dt, double tol) {
  Tensor x = tensor<double>(b.logits, {b.N, b.T, b.C}, {.dtype = dt}).requires_grad_();
  Tensor labels = tensor<int64_t>(b.labels, {b.N, b.L});
  Tensor loss = ctc_loss(x, labels, tensor<int64_t>(b.label_len, {b.N}),
                         tensor<int64_t>(b.logit_len, {b.N}), b.blank);
  REQUIRE(loss.shape() == Shape{b.N});
  REQUIRE(loss.dtype() == dt);
  V want_loss, want_grad;
  // Weights per sample, so that each sample's gradient is scaled by its own incoming gradient.
  V w;
  for (int64_t n = 0; n < b.N; ++n) {
    V xn(b.logits.begin() + n * b.T * b.C, b.logits.begin() + (n + 1) * b.T * b.C);
    I label(b.labels.begin() + n * b.L, b.labels.begin() + n * b.L + b.label_len[n]);
    Brute r = brute_force(xn, b.T, b.C, b.logit_len[n], label, b.blank);
    want_loss.push_back(r.loss);
    w.push_back(0.5 + static_cast<double>(n));
    for (double g : r.grad) want_grad.push_back(g * w.back());
  }
  TG_CHECK_VALUES(loss, want_loss, tol, tol);
  loss.backward(tensor<double>(w, {b.N}, {.dtype = dt}));
  REQUIRE(x.grad().defined());
  TG_CHECK_VALUES(x.grad(), want_grad, tol, tol);
}
}  // namespace

TEST_CASE("brute force itself: two frames, one label, by hand", "[ctc]") {
  // Uniform logits over 2 classes (blank 0), T = 2, label [1]: paths 01, 10, 11 → 3/4.
  Brute b = brute_force(V(4, 0.0), 2, 2, 2, {1}, 0);
  CHECK(b.loss == Approx(-std::log(0.75)));
  // The empty label over 2 frames: only 00 → 1/4; label [1, 1] cannot fit: +inf.
  CHECK(brute_force(V(4, 0.0), 2, 2, 2, {}, 0).loss == Approx(-std::log(0.25)));
  CHECK(brute_force(V(4, 0.0), 2, 2, 2, {1, 1}, 0).loss == kInf);
}

TEST_CASE("ctc_loss of uniform logits, worked out by hand", "[ctc]") {
  // T = 2, C = 2, blank 0, label [1]: paths 01, 10, 11 of probability 1/4 each → p = 3/4. Class 1
  // is occupied at each frame with posterior (1/4 + 1/4) / (3/4) = 2/3, so the gradient is
  // softmax − occupation = 1/2 − 1/3 = 1/6 for the blank and 1/2 − 2/3 = −1/6 for class 1.
  on_both_backends([] {
    for (DType dt : {kFloat64, kFloat32}) {
      Tensor x = zeros({1, 2, 2}, {.dtype = dt}).requires_grad_();
      Tensor loss = ctc_loss(x, tensor<int64_t>({1}, {1, 1}), tensor<int64_t>({1}, {1}),
                             tensor<int64_t>({2}, {1}));
      TG_CHECK_VALUES(loss, V{-std::log(0.75)}, 1e-7, 1e-7);
      loss.backward(ones({1}, {.dtype = dt}));
      TG_CHECK_VALUES(x.grad(), (V{1.0 / 6, -1.0 / 6, 1.0 / 6, -1.0 / 6}), 1e-7, 1e-7);
    }
  });
}

TEST_CASE("ctc_loss matches brute force on single samples, blank 0 and blank C-1", "[ctc]") {
  uint64_t seed = 1;
  for (int64_t T : {3, 4, 5}) {
    for (int64_t C : {3, 4}) {
      for (bool last_blank : {false, true}) {
        const int64_t blank = last_blank ? C - 1 : 0;
        const int64_t a = last_blank ? 0 : 1, b = last_blank ? 1 : 2;  // two non-blank classes
        std::vector<I> labels = {{}, {a}, {b}, {a, b}, {a, a}, {b, a, b}, {a, a, a}, {a, b, a, b}};
        for (const I& label : labels) {
          INFO("T " << T << " C " << C << " blank " << blank << " label length " << label.size()
                    << (label.size() > 1 && label[0] == label[1] ? " (repeat)" : ""));
          Batch bt = make_batch(T, C, {label}, {T}, blank, ++seed);
          on_both_backends([&] {
            check_against_brute_force(bt, kFloat64, 1e-10);
            check_against_brute_force(bt, kFloat32, 2e-5);
          });
        }
      }
    }
  }
}

TEST_CASE("ctc_loss with per-sample label and logit lengths in one batch", "[ctc]") {
  // Padding beyond each label length (here the blank, or 3) is ignored.
  for (int64_t pad : {-1, 3}) {
    INFO("padding " << pad);
    Batch b = make_batch(5, 4, {{1, 2, 1}, {3}, {2, 2}, {}, {1, 3}}, {5, 3, 4, 2, 5}, 0, 11, pad);
    on_both_backends([&] {
      check_against_brute_force(b, kFloat64, 1e-10);
      check_against_brute_force(b, kFloat32, 2e-5);
    });
  }
  // Blank as the last class, with the older Keras convention written as -1.
  Batch b = make_batch(4, 3, {{0, 1}, {1, 1}, {0}}, {4, 3, 2}, 2, 12);
  check_against_brute_force(b, kFloat64, 1e-10);
  Tensor x = tensor<double>(b.logits, {b.N, b.T, b.C}, {.dtype = kFloat64});
  Tensor labels = tensor<int64_t>(b.labels, {b.N, b.L});
  Tensor ll = tensor<int64_t>(b.label_len, {b.N}), tl = tensor<int64_t>(b.logit_len, {b.N});
  TG_CHECK_VALUES(ctc_loss(x, labels, ll, tl, -1), test::values(ctc_loss(x, labels, ll, tl, 2)), 0,
                  0);
  // int32 labels and lengths give the same result; [N, 1] lengths are accepted too.
  TG_CHECK_VALUES(ctc_loss(x, labels.to(kInt32), ll.to(kInt32).unsqueeze(1), tl.to(kInt32), 2),
                  test::values(ctc_loss(x, labels, ll, tl, 2)), 0, 0);
}

TEST_CASE("ctc_loss of an infeasible sample is +inf with a zero gradient", "[ctc]") {
  // [1, 1] needs 3 frames (a blank between the repeats); [1, 2, 3] needs 3; both get 2. The third
  // sample fits exactly in 3 frames (only 1 0 1), the fourth has T = 0 and an empty label (loss 0).
  Batch b = make_batch(3, 4, {{1, 1}, {1, 2, 3}, {1, 1}, {}}, {2, 2, 3, 0}, 0, 21);
  on_both_backends([&] {
    for (DType dt : {kFloat64, kFloat32}) {
      Tensor x = tensor<double>(b.logits, {b.N, b.T, b.C}, {.dtype = dt}).requires_grad_();
      Tensor loss =
          ctc_loss(x, tensor<int64_t>(b.labels, {b.N, b.L}), tensor<int64_t>(b.label_len, {b.N}),
                   tensor<int64_t>(b.logit_len, {b.N}));
      V l = test::values(loss);
      CHECK(l[0] == kInf);
      CHECK(l[1] == kInf);
      CHECK(std::isfinite(l[2]));
      CHECK(l[3] == 0.0);
      sum(mul(loss, tensor<double>({0, 0, 1, 1}, {4}, {.dtype = dt}))).backward();
      V g = test::values(x.grad());
      bool finite = true;
      for (double v : g) finite &= std::isfinite(v);
      CHECK(finite);
      for (size_t i = 0; i < 2 * 3 * 4; ++i) CHECK(g[i] == 0.0);         // infeasible samples
      for (size_t i = 3 * 3 * 4; i < g.size(); ++i) CHECK(g[i] == 0.0);  // T = 0
      // Even with a nonzero incoming gradient the infeasible samples get exactly 0.
      x.zero_grad();
      ctc_loss(x, tensor<int64_t>(b.labels, {b.N, b.L}), tensor<int64_t>(b.label_len, {b.N}),
               tensor<int64_t>(b.logit_len, {b.N}))
          .backward(ones({4}, {.dtype = dt}));
      g = test::values(x.grad());
      for (size_t i = 0; i < 2 * 3 * 4; ++i) CHECK(g[i] == 0.0);
    }
  });
  check_against_brute_force(b, kFloat64, 1e-10);
}

TEST_CASE("ctc_loss is stable for large logits and long sequences", "[ctc]") {
  // Logits ×50: probabilities of many paths underflow in linear space, not in log space.
  const int64_t N = 2, T = 60, C = 5;
  Tensor x =
      mul(uniform({N, T, C}, -1.0, 1.0, 31, {.dtype = kFloat32}), 50.0).detach().requires_grad_();
  Tensor labels = tensor<int64_t>({1, 2, 2, 3, 4, 1, 4, 4, 4, 4, 4, 4}, {N, 6});
  Tensor loss = ctc_loss(x, labels, tensor<int64_t>({6, 5}, {N}), tensor<int64_t>({60, 40}, {N}));
  V l = test::values(loss);
  for (double v : l) CHECK((std::isfinite(v) && v > 0));
  sum(loss).backward();
  V g = test::values(x.grad());
  bool ok = true;
  for (double v : g) ok &= std::isfinite(v) && std::abs(v) <= 1.0 + 1e-5;
  CHECK(ok);
  // float32 agrees with float64 on the same logits.
  Tensor x64 = x.detach().to(kFloat64);
  Tensor l64 = ctc_loss(x64, labels, tensor<int64_t>({6, 5}, {N}), tensor<int64_t>({60, 40}, {N}));
  TG_CHECK_VALUES(loss, test::values(l64), 1e-3, 1e-5);
}

TEST_CASE("ctc_loss passes gradcheck in float64", "[ctc]") {
  Batch b = make_batch(4, 3, {{1, 2}, {1, 1}, {2}}, {4, 3, 4}, 0, 41);
  Tensor labels = tensor<int64_t>(b.labels, {b.N, b.L});
  Tensor ll = tensor<int64_t>(b.label_len, {b.N}), tl = tensor<int64_t>(b.logit_len, {b.N});
  Tensor x = tensor<double>(b.logits, {b.N, b.T, b.C});
  TG_REQUIRE_GRADCHECK(autograd::gradcheck(
      [](const std::vector<Tensor>& xs) { return ctc_loss(xs[0], xs[1], xs[2], xs[3]); },
      {x, labels, ll, tl}));
  // Blank last, a transposed (non-contiguous) logits view.
  TG_REQUIRE_GRADCHECK(autograd::gradcheck(
      [](const std::vector<Tensor>& xs) {
        return ctc_loss(xs[0].transpose(0, 1), xs[1], xs[2], xs[3], 2);
      },
      {uniform({4, 2, 3}, -2, 2, 42, {.dtype = kFloat64}), tensor<int64_t>({0, 1, 1, 1}, {2, 2}),
       tensor<int64_t>({2, 2}, {2}), tensor<int64_t>({4, 3}, {2})}));
}

TEST_CASE("ctc_loss: gradients of gradients (create_graph) are exact", "[ctc]") {
  Batch b = make_batch(4, 3, {{1, 2}, {1, 1}, {2}, {1, 1}}, {4, 3, 2, 2}, 0, 51);
  Tensor labels = tensor<int64_t>(b.labels, {b.N, b.L});
  Tensor ll = tensor<int64_t>(b.label_len, {b.N}), tl = tensor<int64_t>(b.logit_len, {b.N});
  Tensor x = tensor<double>(b.logits, {b.N, b.T, b.C}).requires_grad_();
  Tensor w = tensor<double>({1.0, -0.5, 2.0, 1.5}, {4});
  // The recorded backward (create_graph) gives the same first derivative as the kernel's.
  Tensor loss = ctc_loss(x, labels, ll, tl);
  Tensor g_kernel = autograd::grad({loss}, {x}, {w})[0];
  Tensor g_graph =
      autograd::grad({ctc_loss(x, labels, ll, tl)}, {x}, {w}, {.create_graph = true})[0];
  REQUIRE(g_graph.requires_grad());
  TG_CHECK_VALUES(g_graph, test::values(g_kernel), 1e-12, 1e-10);
  {  // and in float32, on the default backend
    Tensor x32 = x.detach().to(kFloat32).requires_grad_();
    Tensor w32 = w.to(kFloat32);
    Tensor k32 = autograd::grad({ctc_loss(x32, labels, ll, tl)}, {x32}, {w32})[0];
    Tensor c32 =
        autograd::grad({ctc_loss(x32, labels, ll, tl)}, {x32}, {w32}, {.create_graph = true})[0];
    TG_CHECK_VALUES(c32, test::values(k32), 1e-5, 1e-5);
    TG_CHECK_VALUES(c32, test::values(g_kernel), 1e-5, 1e-4);
  }
  // Second order against finite differences of the first-order gradient.
  TG_REQUIRE_GRADCHECK(autograd::gradgradcheck(
      [](const std::vector<Tensor>& xs) { return ctc_loss(xs[0], xs[1], xs[2], xs[3]); },
      {x.detach(), labels, ll, tl}));
  TG_REQUIRE_GRADCHECK(autograd::gradgradcheck(
      [](const std::vector<Tensor>& xs) { return ctc_loss(xs[0], xs[1], xs[2], xs[3], 2); },
      {uniform({2, 4, 3}, -2, 2, 52, {.dtype = kFloat64}), tensor<int64_t>({0, 1, 1, 1}, {2, 2}),
       tensor<int64_t>({2, 2}, {2}), tensor<int64_t>({4, 3}, {2})}));
}

TEST_CASE("ctc_loss in float32 matches float64 on CPU and reference", "[ctc]") {
  Batch b = make_batch(6, 5, {{1, 2, 3}, {4, 4}, {2}}, {6, 5, 6}, 0, 61);
  Tensor labels = tensor<int64_t>(b.labels, {b.N, b.L});
  Tensor ll = tensor<int64_t>(b.label_len, {b.N}), tl = tensor<int64_t>(b.logit_len, {b.N});
  Tensor x64 = tensor<double>(b.logits, {b.N, b.T, b.C});
  V want = test::values(ctc_loss(x64, labels, ll, tl));
  on_both_backends(
      [&] { TG_CHECK_VALUES(ctc_loss(x64.to(kFloat32), labels, ll, tl), want, 1e-5, 1e-5); });
}

namespace {
/// The message of the E thrown by f (empty when f throws nothing or something else).
template <class E, class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (...) {
    return "(another exception type)";
  }
  return "(no exception)";
}
}  // namespace

TEST_CASE("ctc_loss names the op and the values in its errors", "[ctc]") {
  Tensor x = zeros({2, 4, 5});
  Tensor labels = tensor<int64_t>({1, 2, 3, 4, 4, 0}, {2, 3});
  Tensor ll = tensor<int64_t>({3, 2}, {2}), tl = tensor<int64_t>({4, 4}, {2});
  CHECK_NOTHROW(ctc_loss(x, labels, ll, tl));
  using Catch::Contains;
  CHECK(error_of<IndexError>([&] {
          ctc_loss(x, tensor<int64_t>({1, 7, 3, 4, 4, 0}, {2, 3}), ll, tl);
        }) == "ctc_loss: label 7 out of range for 5 classes (sample 0, position 1)");
  CHECK(error_of<IndexError>([&] {
          ctc_loss(x, tensor<int64_t>({1, 2, 3, 4, -1, 0}, {2, 3}), ll, tl);
        }) == "ctc_loss: label -1 out of range for 5 classes (sample 1, position 1)");
  CHECK(error_of<ValueError>([&] {
          ctc_loss(x, tensor<int64_t>({1, 2, 3, 4, 0, 0}, {2, 3}), ll, tl);
        }) == "ctc_loss: label 0 equals the blank index (sample 1, position 1)");
  CHECK(error_of<ValueError>([&] { ctc_loss(x, labels, ll, tl, 4); }) ==
        "ctc_loss: label 4 equals the blank index (sample 1, position 0)");
  CHECK(error_of<IndexError>([&] { ctc_loss(x, labels, ll, tl, 5); }) ==
        "ctc_loss: blank index 5 out of range for 5 classes");
  CHECK(error_of<IndexError>([&] { ctc_loss(x, labels, ll, tl, -6); }) ==
        "ctc_loss: blank index -6 out of range for 5 classes");
  CHECK(error_of<ValueError>([&] {
          ctc_loss(x, labels, tensor<int64_t>({4, 2}, {2}), tl);
        }) == "ctc_loss: label_lengths[0] = 4 exceeds the labels' max length 3");
  CHECK(error_of<ValueError>([&] {
          ctc_loss(x, labels, ll, tensor<int64_t>({4, 5}, {2}));
        }) == "ctc_loss: logit_lengths[1] = 5 exceeds the logits' time steps 4");
  CHECK(error_of<ValueError>([&] {
          ctc_loss(x, labels, tensor<int64_t>({-1, 2}, {2}), tl);
        }) == "ctc_loss: label_lengths[0] = -1 is negative");
  CHECK(error_of<ShapeError>([&] {
          ctc_loss(x, tensor<int64_t>({1, 2, 3}, {1, 3}), ll, tl);
        }) == "ctc_loss: labels have batch 1 but logits have batch 2: [1, 3] vs [2, 4, 5]");
  CHECK(error_of<ShapeError>([&] {
          ctc_loss(x, labels, tensor<int64_t>({3, 2, 1}, {3}), tl);
        }) == "ctc_loss: label_lengths must have shape [2], got [3]");
  CHECK(error_of<ShapeError>([&] { ctc_loss(x, labels, ll, tensor<int64_t>({4}, {1})); }) ==
        "ctc_loss: logit_lengths must have shape [2], got [1]");
  CHECK(error_of<ShapeError>([&] {
          ctc_loss(zeros({2, 5}), labels, ll, tl);
        }) == "ctc_loss: logits must be [batch, time, classes], got [2, 5]");
  CHECK(error_of<ShapeError>([&] {
          ctc_loss(x, tensor<int64_t>({1, 2}, {2}), ll, tl);
        }) == "ctc_loss: labels must be [batch, max_label_length], got [2]");
  CHECK(error_of<DTypeError>([&] { ctc_loss(x, labels.to(kFloat32), ll, tl); }) ==
        "ctc_loss: labels must be int32 or int64, got float32");
  CHECK(error_of<DTypeError>([&] { ctc_loss(x, labels, ll.to(kFloat32), tl); }) ==
        "ctc_loss: label_lengths must be int32 or int64, got float32");
  CHECK(error_of<DTypeError>([&] {
          ctc_loss(zeros({2, 4, 5}, {.dtype = kInt64}), labels, ll, tl);
        }) == "ctc_loss: logits must be float32 or float64, got int64");
  CHECK(error_of<ValueError>([&] { ctc_loss(x, labels, Tensor(), tl); }) ==
        "ctc_loss: label_lengths is an undefined tensor");
}

TEST_CASE("nn::losses::ctc returns one loss per sample, as the op", "[ctc]") {
  Batch b = make_batch(5, 4, {{1, 2}, {3, 3, 1}}, {5, 4}, 0, 71);
  Tensor x = tensor<double>(b.logits, {b.N, b.T, b.C}, {.dtype = kFloat32});
  Tensor labels = tensor<int64_t>(b.labels, {b.N, b.L});
  Tensor ll = tensor<int64_t>(b.label_len, {b.N}), tl = tensor<int64_t>(b.logit_len, {b.N});
  Tensor per = nn::losses::ctc(labels, x, ll, tl);
  REQUIRE(per.shape() == Shape{2});
  TG_CHECK_VALUES(per, test::values(ctc_loss(x, labels, ll, tl)), 0, 0);
  // Float labels (as a model's y) are accepted; absent lengths mean the full lengths (Keras).
  Tensor full_labels = tensor<int64_t>({1, 2, 3, 3, 1, 2}, {2, 3});
  TG_CHECK_VALUES(nn::losses::ctc(full_labels.to(kFloat32), x),
                  test::values(ctc_loss(x, full_labels, tensor<int64_t>({3, 3}, {2}),
                                        tensor<int64_t>({5, 5}, {2}))),
                  0, 0);
  // Blank last.
  Tensor lab2 = tensor<int64_t>({0, 1, 2, 2, 0, 1}, {2, 3});
  TG_CHECK_VALUES(nn::losses::ctc(lab2, x, ll, tl, 3), test::values(ctc_loss(x, lab2, ll, tl, 3)),
                  0, 0);
  // The Loss object reduces the per-sample losses.
  nn::Loss loss("ctc");
  TG_CHECK_VALUES(loss(full_labels, x),
                  V{test::values(nn::losses::ctc(full_labels, x))[0] / 2 +
                    test::values(nn::losses::ctc(full_labels, x))[1] / 2},
                  1e-6, 1e-6);
}
