// Symbolic layer calls run on the shape-only path (Layer::compute_output_shapes in a
// MetaScope): output shapes worked out by hand for every kind of layer, unknown sizes (-1)
// kept unknown, no memory beyond the weights, and weights built for real even when a layer's
// first call is symbolic.
#include "test_util.hpp"

using namespace tg;
using Catch::Matchers::Contains;

namespace {
/// Allocator counters that any allocation or cache reuse moves.
std::tuple<size_t, uint64_t, uint64_t> counters() {
  AllocatorStats s = allocator_stats(Device::cpu());
  return {s.allocated_bytes, s.device_allocs, s.cache_hits};
}

/// The output shape of layer l called symbolically on Input(shape).
template <class L>
Shape symbolic(const L& l, const Shape& shape) {
  return l(nn::Input(shape)).shape();
}
}  // namespace

TEST_CASE("symbolic calls give hand-computed shapes for every kind of layer", "[symbolic]") {
  CHECK(symbolic(nn::Dense(7), {5}) == Shape{-1, 7});
  CHECK(symbolic(nn::Dense(1), {3, 5}) == Shape{-1, 3, 1});  // units 1 is not mistaken for batch
  // valid 3x3, stride 2: (224 − 3) / 2 + 1 = 111
  CHECK(symbolic(nn::Conv2D(16, {3, 3}, {.strides = {2, 2}}), {224, 224, 3}) ==
        Shape{-1, 111, 111, 16});
  CHECK(symbolic(nn::Conv2D(8, {3, 3}, {.padding = "same"}), {9, 7, 2}) == Shape{-1, 9, 7, 8});
  CHECK(symbolic(nn::MaxPooling2D({2, 2}), {9, 7, 2}) == Shape{-1, 4, 3, 2});
  CHECK(symbolic(nn::GlobalAveragePooling2D(), {9, 7, 2}) == Shape{-1, 2});
  CHECK(symbolic(nn::Flatten(), {4, 5, 6}) == Shape{-1, 120});
  CHECK(symbolic(nn::Reshape({-1, 4}), {6, 2}) == Shape{-1, 3, 4});
  CHECK(symbolic(nn::BatchNormalization(), {6, 2}) == Shape{-1, 6, 2});
  CHECK(symbolic(nn::LayerNormalization(), {6}) == Shape{-1, 6});
  CHECK(symbolic(nn::Embedding(100, 8), {12}) == Shape{-1, 12, 8});
  CHECK(symbolic(nn::LSTM(5), {12, 3}) == Shape{-1, 5});
  CHECK(symbolic(nn::GRU(5, {.return_sequences = true}), {12, 3}) == Shape{-1, 12, 5});
  CHECK(symbolic(nn::Bidirectional(nn::LSTM(4, {.return_sequences = true})), {12, 3}) ==
        Shape{-1, 12, 8});
  CHECK(symbolic(nn::TimeDistributed(nn::Dense(6)), {12, 3}) == Shape{-1, 12, 6});
  CHECK(symbolic(nn::Dropout(0.5), {6}) == Shape{-1, 6});

  // return_state: the output, then h and c.
  std::vector<nn::Symbol> outs = nn::LSTM(5, {.return_state = true})(std::vector<nn::Symbol>{nn::Input({12, 3})});
  REQUIRE(outs.size() == 3);
  for (const nn::Symbol& s : outs) CHECK(s.shape() == Shape{-1, 5});
}

TEST_CASE("unknown sizes stay unknown through symbolic calls", "[symbolic]") {
  // A sequence of unknown length: the time axis stays -1, the features are known.
  CHECK(symbolic(nn::LSTM(4, {.return_sequences = true}), {-1, 8}) == Shape{-1, -1, 4});
  CHECK(symbolic(nn::LSTM(4), {-1, 8}) == Shape{-1, 4});
  CHECK(symbolic(nn::Embedding(50, 3), {-1}) == Shape{-1, -1, 3});
  // A fully convolutional net on images of any size: spatial axes unknown, channels known.
  nn::Symbol img = nn::Input({-1, -1, 3});
  nn::Symbol h = nn::Conv2D(8, {3, 3}, {.strides = {2, 2}})(img);
  h = nn::MaxPooling2D()(h);
  CHECK(h.shape() == Shape{-1, -1, -1, 8});
  CHECK(nn::GlobalMaxPooling2D()(h).shape() == Shape{-1, 8});
  // Flattening an unknown axis gives an unknown size; a Reshape of it too.
  CHECK(symbolic(nn::Flatten(), {-1, 4}) == Shape{-1, -1});
  CHECK(symbolic(nn::Reshape({-1, 2}), {-1, 4}) == Shape{-1, -1, 2});
}

TEST_CASE("a symbolic call allocates nothing beyond the layer's weights", "[symbolic]") {
  nn::Conv2D conv(64, {7, 7}, {.strides = {2, 2}, .padding = "same"});
  nn::Symbol in = nn::Input({224, 224, 3});
  conv(in);  // builds: the kernel and bias are real memory
  REQUIRE(conv->weights().size() == 2);
  for (nn::Weight* w : conv->weights()) CHECK_FALSE(w->value.is_meta());
  const auto before = counters();
  nn::Symbol out = conv(in);  // the built layer on a 224x224 image: no memory at all
  CHECK(counters() == before);
  CHECK(out.shape() == Shape{-1, 112, 112, 64});

  // A whole functional model and its summary.
  nn::Symbol x = nn::Input({64, 64, 3});
  nn::Symbol y = nn::Conv2D(32, {3, 3}, {.activation = "relu"})(x);
  y = nn::MaxPooling2D()(y);
  y = nn::Flatten()(y);
  y = nn::Dense(10, {.activation = "softmax"})(y);
  nn::Model m(x, y);
  CHECK(y.shape() == Shape{-1, 10});
  const auto before_summary = counters();
  std::ostringstream os;
  m.summary(os);
  CHECK(counters() == before_summary);
  CHECK_THAT(os.str(), Contains("(None, 31, 31, 32)") && Contains("(None, 30752)"));
}

namespace {
/// A layer that adds its weight during its first call (not in build), as some user layers do.
class LateWeight : public nn::Layer {
 public:
  LateWeight() : nn::Layer("LateWeight") {}
  Tensor call(const Tensor& x, bool) override {
    if (!w_.defined()) w_ = add_weight("scale", {x.shape().back()}, nn::initializers::ones());
    return mul(x, w_);
  }
  Tensor w_;
};
}  // namespace

TEST_CASE("weights a layer adds during a symbolic call are real", "[symbolic]") {
  auto layer = std::make_shared<LateWeight>();
  nn::LayerHandle<LateWeight> h(layer);
  CHECK(h(nn::Input({3})).shape() == Shape{-1, 3});
  REQUIRE(layer->w_.defined());
  CHECK_FALSE(layer->w_.is_meta());
  TG_CHECK_VALUES(layer->w_, (std::vector<double>{1, 1, 1}), 0.0, 0.0);
  // and the eager call computes with it
  TG_CHECK_VALUES(h(tensor(std::vector<float>{2, 3, 4}, {1, 3})), (std::vector<double>{2, 3, 4}),
                  0.0, 0.0);
}

TEST_CASE("a symbolic call on a mismatched input names the layer and the shapes", "[symbolic]") {
  nn::Dense d(4);
  d(nn::Input({5}));
  try {
    d(nn::Input({6}));
    FAIL("no error");
  } catch (const ShapeError& e) {
    INFO(e.what());
    CHECK_THAT(std::string(e.what()), Contains("dense") && Contains("6"));
  }
}
