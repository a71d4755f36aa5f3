// l1, l2 and l1_l2 penalties.
#include "tapegrad/nn/regularizers.hpp"

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/core/error.hpp"

namespace tg::nn::regularizers {

Regularizer l1_l2(double a, double b) {
  Regularizer r;
  r.l1 = a;
  r.l2 = b;
  r.name = a && b ? "l1_l2" : (a ? "l1" : "l2");
  r.fn = [a, b](const Tensor& w) {
    Tensor p;
    if (a) p = mul(sum(abs(w)), a);
    if (b) {
      Tensor q = mul(sum(square(w)), b);
      p = p.defined() ? add(p, q) : q;
    }
    return p.defined() ? p : zeros({}, {.dtype = w.dtype(), .device = w.device()});
  };
  return r;
}
Regularizer l1(double a) { return l1_l2(a, 0.0); }
Regularizer l2(double b) { return l1_l2(0.0, b); }

}  // namespace tg::nn::regularizers

namespace tg::nn {

void write_regularizer(Config& c, const std::string& key, const Regularizer& r) {
  if (!r) return;
  if (r.name != "l1" && r.name != "l2" && r.name != "l1_l2") {
    c.set(key, std::string("custom"));
    return;
  }
  c.set(key, r.name);
  c.set(key + "_l1", r.l1);
  c.set(key + "_l2", r.l2);
}

Regularizer read_regularizer(const Config& c, const std::string& key, const std::string& layer) {
  if (!c.has(key)) return {};
  const std::string name = c.get<std::string>(key);
  if (name == "custom")
    fail<IOError>("load_model: layer '", layer, "' used a custom ", key,
                  ", which a file cannot hold; rebuild the model in code and use load_weights");
  if (name != "l1" && name != "l2" && name != "l1_l2")
    fail<IOError>("load_model: layer '", layer, "': unknown ", key, " '", name, "'");
  return regularizers::l1_l2(c.get_or<double>(key + "_l1", 0.0),
                             c.get_or<double>(key + "_l2", 0.0));
}

}  // namespace tg::nn
