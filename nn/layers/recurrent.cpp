// SimpleRNN, LSTM, GRU, Bidirectional and TimeDistributed.
#include "tapegrad/nn/layers/recurrent.hpp"

#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/nn/layer_registry.hpp"

namespace tg::nn {

namespace {
const char* type_of(RNNLayer::Cell c) {
  switch (c) {
    case RNNLayer::Cell::Simple:
      return "SimpleRNN";
    case RNNLayer::Cell::LSTM:
      return "LSTM";
    case RNNLayer::Cell::GRU:
      return "GRU";
  }
  return "RNN";
}
int64_t gates(RNNLayer::Cell c) {
  return c == RNNLayer::Cell::LSTM ? 4 : c == RNNLayer::Cell::GRU ? 3 : 1;
}
size_t num_states(RNNLayer::Cell c) { return c == RNNLayer::Cell::LSTM ? 2 : 1; }
}  // namespace

RNNLayer::RNNLayer(Cell cell, int64_t units, RNNOptions o)
    : Layer(type_of(cell), o.name), cell_(cell), units_(units), o_(std::move(o)) {
  if (units <= 0) fail<ValueError>(label(), ": units must be positive, got ", units);
  if (!o_.input_shape.empty()) set_declared_input_shape(o_.input_shape.vec());
}

void RNNLayer::build_multi(const std::vector<Shape>& in) {
  if (in.empty() || in[0].size() != 3)
    fail<ShapeError>(label(), ": expected input (batch, timesteps, features), got ",
                     in.empty() ? Shape{} : in[0]);
  const int64_t f = in[0][2], g = gates(cell_);
  kernel_ = add_weight("kernel", {f, g * units_}, o_.kernel_initializer.get());
  recurrent_kernel_ =
      add_weight("recurrent_kernel", {units_, g * units_}, o_.recurrent_initializer.get());
  if (!o_.use_bias) return;
  if (cell_ == Cell::GRU) {
    bias_ = add_weight("bias", {2, 3 * units_}, o_.bias_initializer.get());
  } else if (cell_ == Cell::LSTM && o_.unit_forget_bias) {
    Initializer base = o_.bias_initializer.get();
    const int64_t u = units_;
    bias_ = add_weight("bias", {4 * u}, [base, u](const Shape& s, DType dt) {
      NoGrad ng;
      Tensor b = base(s, dt).clone();
      b.slice(0, u, 2 * u).fill_(1.0);  // forget gate (order i, f, c, o)
      return b;
    });
  } else {
    bias_ = add_weight("bias", {g * units_}, o_.bias_initializer.get());
  }
}

std::vector<Tensor> RNNLayer::call_multi(const std::vector<Tensor>& in, bool) {
  const size_t ns = num_states(cell_);
  if (in.size() != 1 && in.size() != 1 + ns)
    fail<ValueError>(label(), ": expected the input and optionally ", ns, " initial state(s), got ",
                     in.size(), " tensors");
  const Tensor& x = in[0];
  if (x.dim() != 3 || x.shape()[2] != kernel_.shape()[0])
    fail<ShapeError>(label(), ": expected input (batch, timesteps, ", kernel_.shape()[0], "), got ",
                     x.shape());
  Tensor h0 = in.size() > 1 ? in[1] : Tensor(), c0 = in.size() > 2 ? in[2] : Tensor();
  RnnOptions ro{.return_sequences = o_.return_sequences, .go_backwards = o_.go_backwards};
  std::vector<Tensor> r;
  switch (cell_) {
    case Cell::LSTM:
      r = lstm(x, h0, c0, kernel_, recurrent_kernel_, bias_, ro);
      break;
    case Cell::GRU:
      r = gru(x, h0, kernel_, recurrent_kernel_, bias_, ro);
      break;
    case Cell::Simple:
      r = simple_rnn(x, h0, kernel_, recurrent_kernel_, bias_, ro);
      break;
  }
  if (!o_.return_state) return {r[0]};
  return r;
}

Config RNNLayer::config() const {
  Config c = Layer::config();
  c.set("units", units_);
  c.set("return_sequences", o_.return_sequences);
  c.set("return_state", o_.return_state);
  c.set("go_backwards", o_.go_backwards);
  c.set("use_bias", o_.use_bias);
  c.set("unit_forget_bias", o_.unit_forget_bias);
  return c;
}

std::shared_ptr<Layer> RNNLayer::from_config(Cell cell, const Config& c) {
  return std::make_shared<RNNLayer>(
      cell, c.get<int64_t>("units"),
      RNNOptions{.return_sequences = c.get<bool>("return_sequences"),
                 .return_state = c.get<bool>("return_state"),
                 .go_backwards = c.get<bool>("go_backwards"),
                 .use_bias = c.get<bool>("use_bias"),
                 .unit_forget_bias = c.get_or<bool>("unit_forget_bias", true),
                 .input_shape = Shape(c.list_or_empty("input_shape")),
                 .name = c.get<std::string>("name")});
}

std::shared_ptr<RNNLayer> RNNLayer::clone_config(bool reverse, const std::string& name) const {
  RNNOptions o = o_;
  if (reverse) o.go_backwards = !o.go_backwards;
  o.name = name;
  return std::make_shared<RNNLayer>(cell_, units_, o);
}

// ---- Bidirectional ----
BidirectionalLayer::BidirectionalLayer(std::shared_ptr<RNNLayer> layer, BidirectionalOptions o)
    : Layer("Bidirectional", o.name), o_(std::move(o)) {
  if (!layer) fail<ValueError>(label(), ": needs a recurrent layer (SimpleRNN, LSTM or GRU)");
  if (o_.merge_mode != "concat" && o_.merge_mode != "sum" && o_.merge_mode != "mul" &&
      o_.merge_mode != "ave")
    fail<ValueError>(label(), ": merge_mode must be concat, sum, mul or ave, got '", o_.merge_mode,
                     "'");
  if (layer->options().return_state)
    fail<ValueError>(label(), ": return_state is not supported inside Bidirectional");
  forward_ = layer;
  backward_ = layer->clone_config(true, "backward_" + layer->name());
  if (!o_.input_shape.empty()) set_declared_input_shape(o_.input_shape.vec());
}

std::vector<Tensor> BidirectionalLayer::call_multi(const std::vector<Tensor>& in, bool training) {
  Tensor f = (*forward_)(in, training)[0];
  Tensor b = (*backward_)(in, training)[0];
  if (forward_->options().return_sequences) {
    // The backward layer emits its outputs in processing (reversed) order: flip them back.
    const int64_t t = b.shape()[1];
    b = index_select(b, 1, arange(t - 1, -1, -1, {.dtype = kInt64, .device = b.device()}));
  }
  if (o_.merge_mode == "concat") return {concat({f, b}, -1)};
  if (o_.merge_mode == "sum") return {add(f, b)};
  if (o_.merge_mode == "mul") return {mul(f, b)};
  return {mul(add(f, b), 0.5)};
}

Config BidirectionalLayer::config() const {
  Config c = Layer::config();
  c.set("merge_mode", o_.merge_mode);
  return c;
}

// ---- TimeDistributed ----
TimeDistributedLayer::TimeDistributedLayer(std::shared_ptr<Layer> layer, BasicLayerOptions o)
    : Layer("TimeDistributed", o.name), inner_(std::move(layer)) {
  if (!inner_) fail<ValueError>(label(), ": needs a layer");
  if (!o.input_shape.empty()) set_declared_input_shape(o.input_shape.vec());
}

Tensor TimeDistributedLayer::call(const Tensor& x, bool training) {
  if (x.dim() < 3)
    fail<ShapeError>(label(), ": expected input (batch, timesteps, ...), got ", x.shape());
  const int64_t n = x.shape()[0], t = x.shape()[1];
  Shape flat(x.shape().begin() + 1, x.shape().end());
  flat[0] = n * t;
  Tensor y = (*inner_)(x.reshape(flat), training);
  Shape out(y.shape().begin(), y.shape().end());
  out[0] = t;
  out.insert_at(0, n);
  return y.reshape(out);
}

Config TimeDistributedLayer::config() const { return Layer::config(); }

// ---- registration (load_model rebuilds these types from their configs) ----
TG_REGISTER_LAYER("LSTM",
                  [](const Config& c) { return RNNLayer::from_config(RNNLayer::Cell::LSTM, c); });
TG_REGISTER_LAYER("GRU",
                  [](const Config& c) { return RNNLayer::from_config(RNNLayer::Cell::GRU, c); });
TG_REGISTER_LAYER("SimpleRNN",
                  [](const Config& c) { return RNNLayer::from_config(RNNLayer::Cell::Simple, c); });
TG_REGISTER_LAYER(
    "Bidirectional",
    [](const Config& c, std::vector<std::shared_ptr<Layer>> wrapped) -> std::shared_ptr<Layer> {
      const std::string name = c.get_or<std::string>("name", "");
      auto inner = wrapped.size() == 1 ? std::dynamic_pointer_cast<RNNLayer>(wrapped[0]) : nullptr;
      if (!inner)
        fail<IOError>("load_model: Bidirectional '", name, "' does not hold one recurrent layer");
      return std::make_shared<BidirectionalLayer>(
          inner,
          BidirectionalOptions{.merge_mode = c.get<std::string>("merge_mode"), .name = name});
    });
TG_REGISTER_LAYER(
    "TimeDistributed",
    [](const Config& c, std::vector<std::shared_ptr<Layer>> wrapped) -> std::shared_ptr<Layer> {
      const std::string name = c.get_or<std::string>("name", "");
      if (wrapped.size() != 1)
        fail<IOError>("load_model: TimeDistributed '", name, "' does not hold one layer");
      return std::make_shared<TimeDistributedLayer>(wrapped[0], BasicLayerOptions{.name = name});
    });
// Referenced by load_model, so that a static link keeps this file's registrars.
namespace detail {
void link_recurrent_layers() {}
}  // namespace detail

}  // namespace tg::nn
