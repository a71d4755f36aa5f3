// Model summary: layer names, types, output shapes and parameter counts, as Keras prints them.
#include "tapegrad/nn/model.hpp"

#include <iomanip>
#include <sstream>
#include <unordered_map>

namespace tg::nn {

void ModelImpl::summary(std::ostream& os) {
  struct Row {
    std::string name, shape;
    int64_t params;
  };
  std::vector<Row> rows;
  auto shape_text = [](const Shape& s) {
    std::ostringstream o;
    o << '(';
    for (size_t i = 0; i < s.size(); ++i)
      o << (i ? ", " : "") << (s[i] < 0 ? std::string("None") : std::to_string(s[i]));
    if (s.size() == 1) o << ',';
    o << ')';
    return o.str();
  };
  std::unordered_map<const Layer*, std::vector<Shape>> out_shapes;
  for (const auto& c : order_) {
    auto& v = out_shapes[c->layer.get()];
    if (v.empty())
      v = c->layer->compute_output_shapes([&] {
        std::vector<Shape> in;
        for (const Symbol& s : c->inputs) in.push_back(s.shape());
        return in;
      }());
  }
  for (const auto& l : sublayers()) {
    std::string shape = "?";
    auto it = out_shapes.find(l.get());
    if (it != out_shapes.end()) {
      shape.clear();
      for (size_t i = 0; i < it->second.size(); ++i)
        shape += (i ? ", " : "") + shape_text(it->second[i]);
    }
    rows.push_back({l->name() + " (" + l->type() + ")", shape, l->built() ? l->count_params() : 0});
  }
  const int w1 = 34, w2 = 26, w3 = 12;
  const std::string rule(w1 + w2 + w3, '-'), thick(w1 + w2 + w3, '=');
  os << "Model: \"" << name() << "\"\n" << rule << "\n";
  os << std::left << std::setw(w1) << "Layer (type)" << std::setw(w2) << "Output Shape"
     << std::right << std::setw(w3) << "Param #"
     << "\n"
     << thick << "\n";
  for (const Row& r : rows)
    os << std::left << std::setw(w1) << r.name << std::setw(w2) << r.shape << std::right
       << std::setw(w3) << r.params << "\n";
  int64_t trainable = 0, total = count_params();
  for (const Tensor& t : trainable_weights()) trainable += t.numel();
  os << thick << "\n";
  os << "Total params: " << total << "\n";
  os << "Trainable params: " << trainable << "\n";
  os << "Non-trainable params: " << (total - trainable) << "\n" << rule << "\n";
}

}  // namespace tg::nn
