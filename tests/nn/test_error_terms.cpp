// Errors in the user's terms: a mistake inside a composite op, loss, metric or helper names the
// function the user called (ErrorContext), with the inner op in parentheses where one raised it.
#include "test_util.hpp"

using namespace tg;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {
Tensor i64(std::vector<int64_t> v, Shape s) { return tensor<int64_t>(v, s).reshape(s); }
}  // namespace

TEST_CASE("ErrorContext renames inner-op errors to the outermost scope", "[errors]") {
  try {
    ErrorContext outer("my_loss");
    ErrorContext inner("embedding");  // nested: the outermost names the message
    fail<ShapeError>("matmul: inner dimensions differ: [2, 3] @ [4, 5] (3 != 4)");
  } catch (const ShapeError& e) {
    CHECK(std::string(e.what()) ==
          "my_loss: inner dimensions differ: [2, 3] @ [4, 5] (3 != 4) (matmul)");
  }
  // Its own name and layer names ("Dense 'd'") are left as they are; no scope, no change.
  {
    ErrorContext c("embedding");
    CHECK_THROWS_WITH(fail<ValueError>("embedding: bad"), "embedding: bad");
    CHECK_THROWS_WITH(fail<ValueError>("Dense 'd': bad"), "Dense 'd': bad");
  }
  CHECK_THROWS_WITH(fail<ValueError>("matmul: bad"), "matmul: bad");
}

TEST_CASE("composite ops name themselves in errors of their inner ops", "[errors]") {
  const Tensor table = ones({7, 4});
  CHECK_THROWS_AS(embedding(i64({1, 7}, {2}), table), IndexError);
  CHECK_THROWS_WITH(embedding(i64({1, 7}, {2}), table),
                    StartsWith("embedding: index 7 out of range") && Contains("(index_select)"));
  CHECK_THROWS_WITH(embedding(i64({-1}, {1}), table), StartsWith("embedding: index -1"));
  // std reports its ddof and axis errors as std, not var.
  CHECK_THROWS_WITH(tg::std(ones({1}), {}, false, -1),
                    StartsWith("std: ddof must be >= 0, got -1") && Contains("(var)"));
  CHECK(std::isnan(tg::std(ones({1}), {}, false, 1).item<float>()));  // no degrees of freedom
  CHECK_THROWS_WITH(tg::std(ones({3, 4}), {2}), StartsWith("std: axis 2 out of range"));
  CHECK_THROWS_WITH(norm(ones({3, 4}), 2.0, {2}), StartsWith("norm: axis 2 out of range"));
  CHECK_THROWS_WITH(norm(ones({3, 4}), INFINITY, {2}), StartsWith("norm: axis 2 out of range"));
  // conv1d's channel check is its own, in 3-D shapes.
  CHECK_THROWS_WITH(conv1d(ones({2, 10, 5}), ones({3, 3, 8})),
                    Contains("conv1d: kernel [3, 3, 8]") && Contains("expects 3 input channels") &&
                        Contains("[2, 10, 5]"));
  CHECK_THROWS_WITH(conv1d(ones({2, 2, 3}), ones({5, 3, 8})), StartsWith("conv1d: "));
  CHECK_THROWS_WITH(conv2d_transpose(ones({1, 4, 4, 3}).to(kInt32), ones({3, 3, 2, 3}).to(kInt32)),
                    StartsWith("conv2d_transpose: ") && Contains("int32"));
  // Recurrent ops: mismatched state dtypes are named by the op, not by its cell.
  CHECK_THROWS_WITH(lstm(ones({2, 5, 3}), Tensor(), zeros({2, 4}, {.dtype = kFloat64}),
                         ones({3, 16}), ones({4, 16}), Tensor()),
                    StartsWith("lstm: initial c is float64 but the input is float32"));
  CHECK_THROWS_WITH(gru(ones({2, 5, 3}), zeros({2, 4}, {.dtype = kFloat64}), ones({3, 12}),
                        ones({4, 12}), Tensor()),
                    StartsWith("gru: initial h is float64"));
  CHECK_THROWS_WITH(layer_norm(ones({4, 8}), ones({16}), Tensor(), {-1}),
                    StartsWith("layer_norm: gamma has shape [16]"));
  CHECK_THROWS_WITH(stack({Tensor(), ones({2})}), StartsWith("stack: "));
}

TEST_CASE("zero time steps with return_sequences give an empty sequence", "[errors]") {
  std::vector<Tensor> r =
      lstm(ones({2, 0, 3}), Tensor(), Tensor(), ones({3, 16}), ones({4, 16}), Tensor(),
           {.return_sequences = true});
  CHECK(r[0].shape() == Shape{2, 0, 4});
  std::vector<Tensor> s =
      simple_rnn(ones({2, 0, 3}), Tensor(), ones({3, 4}), ones({4, 4}), Tensor(),
                 {.return_sequences = true});
  CHECK(s[0].shape() == Shape{2, 0, 4});
}

TEST_CASE("losses name themselves: labels, weights and axes", "[errors]") {
  const Tensor yp = softmax(uniform({4, 5}, -1, 1, 3), -1);
  CHECK_THROWS_AS(nn::losses::sparse_categorical_crossentropy(i64({0, 1, 2, 5}, {4}), yp),
                  IndexError);
  CHECK_THROWS_WITH(nn::losses::sparse_categorical_crossentropy(i64({0, 1, 2, 5}, {4}), yp),
                    "sparse_categorical_crossentropy: label 5 out of range for 5 classes");
  CHECK_THROWS_WITH(nn::losses::sparse_categorical_crossentropy(i64({0, -1, 2, 1}, {4}), yp),
                    "sparse_categorical_crossentropy: label -1 out of range for 5 classes");
  // Through compile's Loss (by name) as well.
  const nn::Loss scce("sparse_categorical_crossentropy");
  CHECK_THROWS_WITH(scce(i64({0, 1, 2, 5}, {4}), yp),
                    "sparse_categorical_crossentropy: label 5 out of range for 5 classes");
  // Sample weights that do not fit the batch name the loss.
  const nn::Loss mse("mse");
  CHECK_THROWS_WITH(mse(ones({4, 1}), ones({4, 1}), ones({8})),
                    "mse: sample_weight of shape [8] does not match the per-sample loss [4]");
  CHECK_THROWS_AS(mse(ones({4, 1}), ones({4, 1}), ones({4, 2})), ShapeError);
  // A bad class axis without label smoothing.
  CHECK_THROWS_WITH(nn::losses::categorical_crossentropy(yp, yp, true, 0, 2),
                    StartsWith("categorical_crossentropy: axis 2 out of range"));
  CHECK_THROWS_WITH(nn::losses::categorical_crossentropy(yp, yp, false, 0, 2),
                    StartsWith("categorical_crossentropy: axis 2 out of range"));
  // CTC through the Keras-style wrapper: the blank clash is reported as ctc.
  CHECK_THROWS_WITH(nn::losses::ctc(i64({0, 1}, {1, 2}), uniform({1, 6, 4}, -1, 1, 5)),
                    StartsWith("ctc: label 0 equals the blank index") && Contains("(ctc_loss)"));
}

TEST_CASE("metrics name themselves: label shapes, ranges and weights", "[errors]") {
  const Tensor yp = softmax(uniform({4, 5}, -1, 1, 3), -1);
  CHECK_THROWS_WITH(nn::metrics::sparse_categorical_accuracy(i64({0, 1, 2}, {3}), yp),
                    "sparse_categorical_accuracy: labels of shape [3] do not match predictions "
                    "[4, 5]");
  CHECK_THROWS_WITH(nn::metrics::sparse_top_k_categorical_accuracy(i64({0, 1, 2, 5}, {4}), yp, 2),
                    "sparse_top_k_categorical_accuracy: label 5 out of range for 5 classes");
  CHECK_THROWS_WITH(nn::metrics::top_k_categorical_accuracy(ones({3, 5}), yp, 2),
                    StartsWith("top_k_categorical_accuracy: y_true shape [3, 5] does not match"));
  auto acc = nn::get_metric("accuracy", "sparse_categorical_crossentropy");
  CHECK_THROWS_WITH(acc->update(i64({0, 1, 2, 3}, {4}), yp, ones({8})),
                    Contains("accuracy: sample_weight of shape [8] does not match [4]"));
}

TEST_CASE("to_categorical and one_hot speak of classes", "[errors]") {
  CHECK_THROWS_WITH(nn::to_categorical(i64({3, 10}, {2}), 10),
                    "to_categorical: index 10 out of range for 10 classes (one_hot)");
  CHECK_THROWS_WITH(one_hot(i64({3, 10}, {2}), 10),
                    "one_hot: index 10 out of range for 10 classes");
  CHECK_THROWS_WITH(nn::to_categorical(i64({}, {0})),
                    StartsWith("to_categorical: cannot infer num_classes"));
  CHECK_THROWS_AS(nn::to_categorical(tensor<bool>({true}, {1})), DTypeError);
  // Correct labels still work: values checked by hand.
  TG_CHECK_VALUES(nn::to_categorical(i64({2, 0}, {2}), 3), (std::vector<double>{0, 0, 1, 1, 0, 0}),
                  0, 0);
}

TEST_CASE("binary metrics check y_true against y_pred and the sample weights", "[errors]") {
  const Tensor yp = tensor({0.9f, 0.2f, 0.7f, 0.4f}, {4, 1});
  // [N] labels against [N, 1] predictions: accepted, values worked out by hand (3 of 4 right).
  const Tensor yt = tensor({1.f, 0.f, 0.f, 0.f}, {4});
  CHECK(nn::metrics::binary_accuracy(yt, yp).shape() == Shape{4});
  CHECK(sum(nn::metrics::binary_accuracy(yt, yp)).item<double>() == 3.0);
  CHECK_THROWS_WITH(nn::metrics::binary_accuracy(ones({3, 1}), yp),
                    "binary_accuracy: y_true shape [3, 1] does not match y_pred shape [4, 1]");
  for (const char* name : {"precision", "recall", "auc"}) {
    INFO(name);
    auto m = nn::get_metric(name);
    CHECK_THROWS_WITH(m->update(ones({3, 1}), yp, Tensor()),
                      StartsWith(std::string(name) + ": y_true shape [3, 1] does not match"));
    CHECK_THROWS_WITH(m->update(yt, yp, ones({8})),
                      StartsWith(std::string(name) + ": sample_weight of shape [8] does not match 4"));
  }
  auto p = nn::get_metric("precision");
  p->update(yt, yp, Tensor());  // predicted positive: 0.9 (true) and 0.7 (false): 1/2
  CHECK(p->result() == Approx(0.5));
}

TEST_CASE("errors of the ops inside a layer name the layer", "[errors]") {
  nn::LayerNormalization ln;
  ln(ones({4, 16}));
  CHECK_THROWS_WITH(ln(ones({4, 8})), StartsWith("LayerNormalization '") &&
                                          Contains("gamma has shape [16]") &&
                                          Contains("(layer_norm)"));
  nn::LSTM lstm(8);
  lstm(ones({2, 5, 3}));
  CHECK_THROWS_WITH(lstm(ones({2, 5, 4})), StartsWith("LSTM '"));
  nn::Embedding emb(7, 4);
  CHECK_THROWS_WITH(emb(i64({1, 9}, {2})), StartsWith("Embedding '") && Contains("9"));
  // Inside a model the innermost layer is named, not the model.
  nn::Sequential m;
  m.add(nn::Embedding(7, 4));
  m.add(nn::Flatten());
  m(i64({1, 2}, {1, 2}));
  CHECK_THROWS_WITH(m(i64({1, 9}, {1, 2})), StartsWith("Embedding '") && Contains("9"));
}

TEST_CASE("losses align [N] labels with [N, 1] predictions; empty reductions", "[errors]") {
  // mse of y_true [3] against y_pred [3, 1]: per-sample (t - p)², not a [3, 3] broadcast.
  const Tensor yt = tensor({1.f, 2.f, 3.f}, {3});
  const Tensor yp = tensor({1.f, 1.f, 1.f}, {3, 1});
  TG_CHECK_VALUES(nn::losses::mean_squared_error(yt, yp), (std::vector<double>{0, 1, 4}), 1e-6, 0);
  // max over a kept empty axis is empty; over an empty reduced axis an error naming the axis.
  CHECK(max(zeros({0, 3}), {1}).shape() == Shape{0});
  CHECK_THROWS_WITH(max(zeros({0, 3}), {0}), StartsWith("max: reduction over the empty axis 0"));
  CHECK(logsumexp(zeros({0, 3}), {1}).shape() == Shape{0});
  CHECK(global_max_pool2d(zeros({0, 4, 4, 3})).shape() == Shape{0, 3});
}

TEST_CASE("more composite ops name themselves", "[errors]") {
  CHECK_THROWS_WITH(global_max_pool2d(ones({2, 4, 4, 3}), false, "channels_middle"),
                    StartsWith("global_max_pool2d: "));
  CHECK_THROWS_WITH(global_avg_pool2d(ones({2, 4, 4})), StartsWith("global_avg_pool2d: "));
  CHECK_THROWS_WITH(dropout(ones({3}).to(kInt64), 0.5, true), StartsWith("dropout: "));
  CHECK_THROWS_WITH(var(ones({3, 4}), {2}), StartsWith("var: axis 2 out of range"));
  CHECK_THROWS_WITH(take_along_axis(ones({3, 4}), i64({0, 1, 2}, {3, 1}).reshape({1, 3, 1}), 1),
                    StartsWith("take_along_axis: "));
}
