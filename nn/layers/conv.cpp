// Conv1D, Conv2D and Conv2DTranspose layers over the convolution ops.
#include "tapegrad/nn/layers/conv.hpp"

#include "tapegrad/nn/layer_registry.hpp"

namespace tg::nn {

namespace {
std::vector<int64_t> pair_of(const std::string& label, const char* what, std::vector<int64_t> v) {
  if (v.size() == 1) v = {v[0], v[0]};
  if (v.size() != 2 || v[0] <= 0 || v[1] <= 0)
    fail<ValueError>(label, ": ", what, " must be one or two positive integers");
  return v;
}
int64_t channel_axis(const std::string& fmt) { return fmt == "channels_first" ? 1 : -1; }
Tensor add_bias(const Tensor& y, const Tensor& b, const std::string& fmt) {
  if (!b.defined()) return y;
  if (fmt == "channels_first") {
    Shape s(static_cast<size_t>(y.dim()), 1);
    s[1] = b.numel();
    return add(y, b.reshape(s));
  }
  return add(y, b);
}

/// The config entries Conv2D and Conv2DTranspose share.
template <class O>
Config conv_config(Config c, int64_t filters, const std::vector<int64_t>& kernel_size, const O& o) {
  c.set("filters", filters);
  c.set("kernel_size", kernel_size);
  c.set("strides", o.strides);
  write_padding(c, o.padding);
  c.set("data_format", o.data_format);
  c.set("dilation_rate", o.dilation_rate);
  c.set("activation", o.activation.name());
  c.set("use_bias", o.use_bias);
  return c;
}
}  // namespace

void write_padding(Config& c, const Padding& p) {
  c.set("padding", p.mode);
  if (p.mode != "explicit") return;
  std::vector<int64_t> flat;
  for (const auto& [before, after] : p.pads) {
    flat.push_back(before);
    flat.push_back(after);
  }
  c.set("padding_pairs", flat);
}

Padding padding_from_config(const Config& c) {
  std::string m = c.get_or<std::string>("padding", "valid");
  if (m != "explicit") return Padding(m);
  std::vector<int64_t> flat = c.list_or_empty("padding_pairs");
  if (flat.empty() || flat.size() % 2 != 0)
    fail<IOError>("load_model: explicit padding needs (before, after) pairs, got ", flat.size(),
                  " numbers");
  std::vector<std::pair<int64_t, int64_t>> pads;
  for (size_t i = 0; i < flat.size(); i += 2) pads.emplace_back(flat[i], flat[i + 1]);
  return Padding(std::move(pads));
}

// ---- Conv2D ----
Conv2DLayer::Conv2DLayer(int64_t filters, std::vector<int64_t> ks, Conv2DOptions o)
    : Layer("Conv2D", o.name), filters_(filters), kernel_size_(std::move(ks)), o_(std::move(o)) {
  if (filters <= 0) fail<ValueError>(label(), ": filters must be positive, got ", filters);
  kernel_size_ = pair_of(label(), "kernel_size", kernel_size_);
  o_.strides = pair_of(label(), "strides", o_.strides);
  o_.dilation_rate = pair_of(label(), "dilation_rate", o_.dilation_rate);
  if (o_.groups <= 0 || filters % o_.groups != 0)
    fail<ValueError>(label(), ": filters ", filters, " must be divisible by groups ", o_.groups);
  if (!o_.input_shape.empty()) set_declared_input_shape(o_.input_shape.vec());
}
void Conv2DLayer::build(const Shape& in) {
  if (in.size() != 4)
    fail<ShapeError>(label(), ": expected input (batch, h, w, channels), got ", in);
  const int64_t c = in[o_.data_format == "channels_first" ? 1 : 3];
  if (c <= 0 || c % o_.groups != 0)
    fail<ShapeError>(label(), ": ", c, " input channels are not divisible by groups ", o_.groups);
  kernel_ = add_weight("kernel", {kernel_size_[0], kernel_size_[1], c / o_.groups, filters_},
                       o_.kernel_initializer.get());
  if (o_.use_bias) bias_ = add_weight("bias", {filters_}, o_.bias_initializer.get());
}
Tensor Conv2DLayer::call(const Tensor& x, bool) {
  const int64_t ca = channel_axis(o_.data_format);
  if (x.dim() != 4 || x.shape()[ca < 0 ? 3 : 1] != kernel_.shape()[2] * o_.groups)
    fail<ShapeError>(label(), ": expected input (batch, h, w, ", kernel_.shape()[2] * o_.groups,
                     ") in ", o_.data_format, ", got ", x.shape());
  // The bias and a relu activation go into the convolution op: one output tensor, the
  // pre-activation is never kept (the backend fuses them into its kernel where that pays).
  const bool relu = o_.activation.name() == "relu";
  Tensor y = conv2d(x, kernel_, bias_,
                    {.strides = o_.strides,
                     .padding = o_.padding,
                     .dilation_rate = o_.dilation_rate,
                     .groups = o_.groups,
                     .data_format = o_.data_format,
                     .fused_relu = relu});
  if (o_.kernel_regularizer) add_loss(o_.kernel_regularizer(kernel_));
  if (o_.bias_regularizer && bias_.defined()) add_loss(o_.bias_regularizer(bias_));
  return relu ? y : o_.activation(y);
}
Config Conv2DLayer::config() const {
  Config c = conv_config(Layer::config(), filters_, kernel_size_, o_);
  c.set("groups", o_.groups);
  write_regularizer(c, "kernel_regularizer", o_.kernel_regularizer);
  write_regularizer(c, "bias_regularizer", o_.bias_regularizer);
  return c;
}
std::shared_ptr<Layer> Conv2DLayer::from_config(const Config& c) {
  return std::make_shared<Conv2DLayer>(
      c.get<int64_t>("filters"), c.get<std::vector<int64_t>>("kernel_size"),
      Conv2DOptions{
          .strides = c.get<std::vector<int64_t>>("strides"),
          .padding = padding_from_config(c),
          .data_format = c.get<std::string>("data_format"),
          .dilation_rate = c.get<std::vector<int64_t>>("dilation_rate"),
          .groups = c.get<int64_t>("groups"),
          .activation = ActivationFn(c.get<std::string>("activation")),
          .use_bias = c.get<bool>("use_bias"),
          .kernel_regularizer =
              read_regularizer(c, "kernel_regularizer", c.get<std::string>("name")),
          .bias_regularizer = read_regularizer(c, "bias_regularizer", c.get<std::string>("name")),
          .input_shape = Shape(c.list_or_empty("input_shape")),
          .name = c.get<std::string>("name")});
}

// ---- Conv1D ----
Conv1DLayer::Conv1DLayer(int64_t filters, int64_t k, Conv1DOptions o)
    : Layer("Conv1D", o.name), filters_(filters), kernel_size_(k), o_(std::move(o)) {
  if (filters <= 0 || k <= 0)
    fail<ValueError>(label(), ": filters and kernel_size must be positive");
  if (o_.groups <= 0 || filters % o_.groups != 0)
    fail<ValueError>(label(), ": filters ", filters, " must be divisible by groups ", o_.groups);
  if (!o_.input_shape.empty()) set_declared_input_shape(o_.input_shape.vec());
}
void Conv1DLayer::build(const Shape& in) {
  if (in.size() != 3)
    fail<ShapeError>(label(), ": expected input (batch, steps, channels), got ", in);
  const int64_t c = in[o_.data_format == "channels_first" ? 1 : 2];
  if (c <= 0 || c % o_.groups != 0)
    fail<ShapeError>(label(), ": ", c, " input channels are not divisible by groups ", o_.groups);
  kernel_ =
      add_weight("kernel", {kernel_size_, c / o_.groups, filters_}, o_.kernel_initializer.get());
  if (o_.use_bias) bias_ = add_weight("bias", {filters_}, o_.bias_initializer.get());
}
Tensor Conv1DLayer::call(const Tensor& x, bool) {
  if (x.dim() != 3)
    fail<ShapeError>(label(), ": expected input (batch, steps, channels), got ", x.shape());
  const bool relu = o_.activation.name() == "relu";  // fused, as in Conv2D
  Tensor y = conv1d(x, kernel_, bias_,
                    {.strides = o_.strides,
                     .padding = o_.padding,
                     .dilation_rate = o_.dilation_rate,
                     .groups = o_.groups,
                     .data_format = o_.data_format,
                     .fused_relu = relu});
  if (o_.kernel_regularizer) add_loss(o_.kernel_regularizer(kernel_));
  return relu ? y : o_.activation(y);
}
Config Conv1DLayer::config() const {
  Config c = Layer::config();
  c.set("filters", filters_);
  c.set("kernel_size", kernel_size_);
  c.set("strides", o_.strides);
  write_padding(c, o_.padding);
  c.set("data_format", o_.data_format);
  c.set("dilation_rate", o_.dilation_rate);
  c.set("groups", o_.groups);
  c.set("activation", o_.activation.name());
  c.set("use_bias", o_.use_bias);
  write_regularizer(c, "kernel_regularizer", o_.kernel_regularizer);
  return c;
}
std::shared_ptr<Layer> Conv1DLayer::from_config(const Config& c) {
  return std::make_shared<Conv1DLayer>(
      c.get<int64_t>("filters"), c.get<int64_t>("kernel_size"),
      Conv1DOptions{.strides = c.get<int64_t>("strides"),
                    .padding = padding_from_config(c),
                    .data_format = c.get<std::string>("data_format"),
                    .dilation_rate = c.get<int64_t>("dilation_rate"),
                    .groups = c.get<int64_t>("groups"),
                    .activation = ActivationFn(c.get<std::string>("activation")),
                    .use_bias = c.get<bool>("use_bias"),
                    .kernel_regularizer =
                        read_regularizer(c, "kernel_regularizer", c.get<std::string>("name")),
                    .input_shape = Shape(c.list_or_empty("input_shape")),
                    .name = c.get<std::string>("name")});
}

// ---- Conv2DTranspose ----
Conv2DTransposeLayer::Conv2DTransposeLayer(int64_t filters, std::vector<int64_t> ks,
                                           Conv2DTransposeOptions o)
    : Layer("Conv2DTranspose", o.name),
      filters_(filters),
      kernel_size_(std::move(ks)),
      o_(std::move(o)) {
  if (filters <= 0) fail<ValueError>(label(), ": filters must be positive, got ", filters);
  kernel_size_ = pair_of(label(), "kernel_size", kernel_size_);
  o_.strides = pair_of(label(), "strides", o_.strides);
  o_.dilation_rate = pair_of(label(), "dilation_rate", o_.dilation_rate);
  if (!o_.input_shape.empty()) set_declared_input_shape(o_.input_shape.vec());
}
void Conv2DTransposeLayer::build(const Shape& in) {
  if (in.size() != 4)
    fail<ShapeError>(label(), ": expected input (batch, h, w, channels), got ", in);
  const int64_t c = in[o_.data_format == "channels_first" ? 1 : 3];
  kernel_ = add_weight("kernel", {kernel_size_[0], kernel_size_[1], filters_, c},
                       o_.kernel_initializer.get());
  if (o_.use_bias) bias_ = add_weight("bias", {filters_}, o_.bias_initializer.get());
}
Tensor Conv2DTransposeLayer::call(const Tensor& x, bool) {
  Tensor y = conv2d_transpose(x, kernel_,
                              {.strides = o_.strides,
                               .padding = o_.padding,
                               .dilation_rate = o_.dilation_rate,
                               .data_format = o_.data_format});
  return o_.activation(add_bias(y, bias_, o_.data_format));
}
Config Conv2DTransposeLayer::config() const {
  return conv_config(Layer::config(), filters_, kernel_size_, o_);
}
std::shared_ptr<Layer> Conv2DTransposeLayer::from_config(const Config& c) {
  return std::make_shared<Conv2DTransposeLayer>(
      c.get<int64_t>("filters"), c.get<std::vector<int64_t>>("kernel_size"),
      Conv2DTransposeOptions{.strides = c.get<std::vector<int64_t>>("strides"),
                             .padding = padding_from_config(c),
                             .data_format = c.get<std::string>("data_format"),
                             .dilation_rate = c.get<std::vector<int64_t>>("dilation_rate"),
                             .activation = ActivationFn(c.get<std::string>("activation")),
                             .use_bias = c.get<bool>("use_bias"),
                             .input_shape = Shape(c.list_or_empty("input_shape")),
                             .name = c.get<std::string>("name")});
}

// ---- registration (load_model rebuilds these types from their configs) ----
TG_REGISTER_LAYER("Conv2D", Conv2DLayer::from_config);
TG_REGISTER_LAYER("Conv1D", Conv1DLayer::from_config);
TG_REGISTER_LAYER("Conv2DTranspose", Conv2DTransposeLayer::from_config);
// Referenced by load_model, so that a static link keeps this file's registrars.
namespace detail {
void link_conv_layers() {}
}  // namespace detail

}  // namespace tg::nn
