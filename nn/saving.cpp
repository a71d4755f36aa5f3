// Model files (TGMODEL format), weight files, .npy files, and atomic writes.
#include "tapegrad/nn/saving.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/core/registry.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/nn/json.hpp"
#include "tapegrad/nn/layer_registry.hpp"
#include "tapegrad/nn/optimizer_registry.hpp"

namespace tg::nn {

namespace detail {
void link_activation_layer_layers();
void link_conv_layers();
void link_dense_layers();
void link_merge_layers();
void link_normalization_layers();
void link_pooling_layers();
void link_recurrent_layers();
void link_reshaping_layers();
void link_functional_model();
void link_sequential_model();
}  // namespace detail

namespace {
constexpr char kMagic[8] = {'T', 'G', 'M', 'O', 'D', 'E', 'L', '\1'};

uint64_t fnv1a(const char* p, size_t n) {
  uint64_t h = 14695981039346656037ull;  // the FNV-1a 64-bit offset basis
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= 1099511628211ull;
  }
  return h;
}

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
uint64_t get_u64(const std::string& s, size_t at) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(s[at + i])) << (8 * i);
  return v;
}

std::string read_file(const std::string& path, const char* who) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail<IOError>(who, ": cannot open '", path, "'");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// A container of named tensors and a JSON header.
struct Container {
  Json::Object header;
  std::vector<std::pair<std::string, Tensor>> tensors;

  std::string serialize() const {
    Json::Array index;
    std::string data;
    for (const auto& [name, t0] : tensors) {
      Tensor t = t0.detach().to(Device::cpu()).contiguous();
      while (data.size() % 64) data += '\0';
      const size_t nbytes = static_cast<size_t>(t.numel()) * dtype_size(t.dtype());
      Json::Array shape;
      for (int64_t d : t.shape()) shape.emplace_back(d);
      index.emplace_back(Json::Object{{"name", name},
                                      {"dtype", std::string(dtype_name(t.dtype()))},
                                      {"shape", shape},
                                      {"offset", data.size()},
                                      {"nbytes", nbytes}});
      data.append(
          static_cast<const char*>(t.storage()->data()) + t.offset() * dtype_size(t.dtype()),
          nbytes);
    }
    Json::Object h = header;
    h["tensors"] = index;
    std::string hs = Json(h).dump();
    std::string out(kMagic, 8);
    put_u64(out, hs.size());
    out += hs;
    out += data;
    put_u64(out, fnv1a(out.data(), out.size()));
    return out;
  }

  static Container parse(const std::string& bytes, const std::string& path, const char* who) {
    if (bytes.size() < 24 || std::memcmp(bytes.data(), kMagic, 8) != 0)
      fail<IOError>(who, ": '", path,
                    "' is not a tapegrad model file (bad magic or too short: ", bytes.size(),
                    " bytes)");
    const uint64_t stored = get_u64(bytes, bytes.size() - 8);
    if (stored != fnv1a(bytes.data(), bytes.size() - 8))
      fail<IOError>(who, ": '", path, "' is corrupt or truncated (checksum mismatch)");
    const uint64_t hlen = get_u64(bytes, 8);
    if (hlen > bytes.size() - 24)
      fail<IOError>(who, ": '", path, "' has a header length past the end of the file");
    Container c;
    Json h = Json::parse(bytes.substr(16, hlen));
    c.header = h.as_object("header");
    const size_t data_start = 16 + hlen, data_end = bytes.size() - 8;
    for (const Json& e : h.at("tensors").as_array("tensors")) {
      const std::string& name = e.at("name").as_string("tensor name");
      DType dt = dtype_from_name(e.at("dtype").as_string("dtype"), who);
      Shape shape;
      for (const Json& d : e.at("shape").as_array("shape")) shape.push_back(d.as_int("shape"));
      const int64_t off = e.at("offset").as_int("offset");
      const int64_t nb = e.at("nbytes").as_int("nbytes");
      // Sizes come from the file: checked without overflow before anything is allocated.
      int64_t need = -1;
      try {
        need = checked_numel(who, shape, static_cast<int64_t>(dtype_size(dt))) *
               static_cast<int64_t>(dtype_size(dt));
      } catch (const ShapeError&) {
      }
      if (need < 0 || nb != need)
        fail<IOError>(who, ": '", path, "': tensor '", name, "' has ", nb, " bytes for shape ",
                      shape, " of ", dt);
      const uint64_t avail = data_end - data_start;
      if (off < 0 || static_cast<uint64_t>(off) > avail ||
          static_cast<uint64_t>(nb) > avail - static_cast<uint64_t>(off))
        fail<IOError>(who, ": '", path, "': tensor '", name, "' (offset ", off, ", ", nb,
                      " bytes) lies past the end of the data (", avail, " bytes)");
      c.tensors.emplace_back(name, from_blob(bytes.data() + data_start + off, shape, dt));
    }
    return c;
  }
};

/// Weights with their path names: "<layer>/<weight>", nested models prefixing their name.
void collect_named(Layer& l, const std::string& prefix,
                   std::vector<std::pair<std::string, Tensor>>& out, bool include_self) {
  // Iterative over the layer tree.
  std::vector<std::tuple<Layer*, std::string, bool>> stack{{&l, prefix, include_self}};
  std::unordered_map<const Layer*, bool> seen;
  while (!stack.empty()) {
    auto [layer, pre, self] = stack.back();
    stack.pop_back();
    if (seen[layer]) continue;
    seen[layer] = true;
    const std::string base = self ? pre + layer->name() + "/" : pre;
    std::vector<std::pair<std::string, Tensor>> own;
    for (Weight* w : layer->weights()) (void)w;
    // Own weights only: those not owned by a sublayer.
    std::unordered_map<const TensorImpl*, bool> sub;
    for (auto& s : layer->sublayers())
      for (Weight* w : s->weights()) sub[w->value.impl()] = true;
    for (Weight* w : layer->weights())
      if (!sub.count(w->value.impl())) out.emplace_back(base + w->name, w->value);
    auto subs = layer->sublayers();
    for (auto it = subs.rbegin(); it != subs.rend(); ++it)
      stack.emplace_back(it->get(), base, true);
  }
}

/// Every file that registers built-in layers or models, referenced so that a static link of a
/// program that only loads models keeps their registrars (an archive member nothing refers to is
/// left out).
void link_builtin_layers() {
  detail::link_activation_layer_layers();
  detail::link_conv_layers();
  detail::link_dense_layers();
  detail::link_merge_layers();
  detail::link_normalization_layers();
  detail::link_pooling_layers();
  detail::link_recurrent_layers();
  detail::link_reshaping_layers();
  detail::link_functional_model();
  detail::link_sequential_model();
}

void assign_weights(Layer& model, const std::vector<std::pair<std::string, Tensor>>& stored,
                    const char* who, const std::string& path) {
  std::vector<std::pair<std::string, Tensor>> named;
  collect_named(model, "", named, false);
  std::unordered_map<std::string, const Tensor*> by_name;
  for (const auto& [n, t] : stored) by_name[n] = &t;
  // Check everything first: a failed load changes no weight.
  for (const auto& [n, t] : named) {
    auto it = by_name.find(n);
    if (it == by_name.end()) fail<IOError>(who, ": '", path, "' has no weight '", n, "'");
    if (it->second->shape() != t.shape())
      fail<ShapeError>(who, ": weight '", n, "' has shape ", it->second->shape(), " in '", path,
                       "', the model has ", t.shape());
  }
  if (named.size() != stored.size())
    fail<IOError>(who, ": '", path, "' holds ", stored.size(), " weights, the model has ",
                  named.size());
  NoGrad ng;
  for (auto& [n, t] : named) {
    Tensor dst = t;
    dst.copy_(*by_name.at(n));
  }
}

}  // namespace

void atomic_write(const std::string& path, const std::string& bytes, const char* who) {
  // A name no other writer of this process or another one uses at the same time.
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." +
                          std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
  const auto error = [] { return std::string(std::strerror(errno)); };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    fail<IOError>(who, ": cannot create '", tmp, "' next to '", path, "': ", error(), "; '", path,
                  "' is unchanged");
  // The new file keeps the permissions of the one it replaces.
  struct stat old_stat;
  if (::stat(path.c_str(), &old_stat) == 0) (void)::fchmod(fd, old_stat.st_mode & 07777);
  std::string why;
  for (size_t done = 0; done < bytes.size() && why.empty();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n > 0)
      done += static_cast<size_t>(n);
    else if (n < 0 && errno != EINTR)
      why = "write: " + error();
    else if (n == 0)
      why = "write: no progress";
  }
  if (why.empty() && ::fsync(fd) != 0) why = "fsync: " + error();
  if (::close(fd) != 0 && why.empty()) why = "close: " + error();
  if (why.empty() && std::rename(tmp.c_str(), path.c_str()) != 0) why = "rename: " + error();
  if (!why.empty()) {
    ::unlink(tmp.c_str());
    fail<IOError>(who, ": writing '", path, "' failed (", why, "); '", path, "' is unchanged");
  }
  // The rename itself is durable only once the folder holding both names is synced.
  const std::string parent = [&] {
    const size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return std::string(".");
    return slash == 0 ? std::string("/") : path.substr(0, slash);
  }();
  const int dir = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) fail<IOError>(who, ": '", path, "' written, but its folder '", parent,
                             "' cannot be opened to sync it: ", error());
  const bool synced = ::fsync(dir) == 0;
  const std::string sync_error = synced ? std::string() : error();
  ::close(dir);
  if (!synced)
    fail<IOError>(who, ": '", path, "' written, but syncing its folder '", parent, "' failed: ",
                  sync_error);
}

void save_weights(Layer& model, const std::string& path) {
  Container c;
  c.header = {{"kind", "weights"}, {"format_version", 1}};
  collect_named(model, "", c.tensors, false);
  atomic_write(path, c.serialize(), "save_weights");
}

void load_weights(Layer& model, const std::string& path) {
  Container c = Container::parse(read_file(path, "load_weights"), path, "load_weights");
  assign_weights(model, c.tensors, "load_weights", path);
}

void save_model(ModelImpl& model, const std::string& path) {
  Container c;
  c.header = {{"kind", "model"}, {"format_version", 1}, {"architecture", model.saved_entry()}};
  collect_named(model, "", c.tensors, false);
  if (model.compiled() && model.optimizer()) {
    auto& opt = *model.optimizer();
    Json::Object o{{"config", Json::parse(opt.config().to_json())},
                   {"iterations", opt.iterations()}};
    // The weight each state index belongs to: the optimizer numbers parameters in the order it
    // first updated them, which differs from trainable_weights() once layers are (un)frozen.
    std::unordered_map<const TensorImpl*, std::string> weight_name;
    for (const auto& [n, t] : c.tensors) weight_name[t.impl()] = n;
    const std::vector<const TensorImpl*> seen = opt.state_params();
    std::vector<int64_t> renumber(seen.size(), -1);
    Json::Array owners;
    for (size_t i = 0; i < seen.size(); ++i) {
      auto it = weight_name.find(seen[i]);
      if (it == weight_name.end()) continue;  // state of a tensor that is no longer a weight
      renumber[i] = static_cast<int64_t>(owners.size());
      owners.emplace_back(it->second);
    }
    o["state_params"] = owners;
    c.header["optimizer"] = o;
    for (auto& [n, t] : opt.state()) {
      const size_t slash = n.find('/');
      const int64_t k = renumber.at(std::stoul(n.substr(0, slash)));
      if (k >= 0) c.tensors.emplace_back("optimizer/" + std::to_string(k) + n.substr(slash), t);
    }
    c.header["compile"] = Json::parse(model.compile_config().to_json());
  }
  atomic_write(path, c.serialize(), "save_model");
}

Model load_model(const std::string& path) {
  Container c = Container::parse(read_file(path, "load_model"), path, "load_model");
  Json h(c.header);
  if (h.at("kind").as_string("kind") != "model")
    fail<IOError>("load_model: '", path, "' holds ", h.at("kind").as_string("kind"),
                  ", not a model (use load_weights)");
  link_builtin_layers();
  {
    // The architecture's sizes come from the file too: built first on meta tensors (no memory,
    // no kernels), it may not need more weight bytes than the file holds, so that a damaged
    // size never allocates before it is known to be false.
    MetaScope meta;
    NoGrad ng;
    std::shared_ptr<Layer> probe = layer_from_entry(h.at("architecture"));
    uint64_t need = 0, held = 0;
    for (Weight* w : probe->weights())
      need += static_cast<uint64_t>(w->value.numel()) * dtype_size(w->value.dtype());
    for (const auto& [n, t] : c.tensors)
      held += static_cast<uint64_t>(t.numel()) * dtype_size(t.dtype());
    if (need > held)
      fail<IOError>("load_model: '", path, "': its architecture needs ", need,
                    " bytes of weights, the file holds ", held);
  }
  std::shared_ptr<Layer> root = layer_from_entry(h.at("architecture"));
  std::shared_ptr<ModelImpl> m = std::dynamic_pointer_cast<ModelImpl>(root);
  if (!m) fail<IOError>("load_model: '", path, "' holds a ", root->type(), " layer, not a model");
  std::vector<std::pair<std::string, Tensor>> weights, opt_state;
  for (auto& [n, t] : c.tensors) {
    if (n.rfind("optimizer/", 0) == 0)
      opt_state.emplace_back(n.substr(10), t);
    else
      weights.emplace_back(n, t);
  }
  assign_weights(*m, weights, "load_model", path);
  if (h.has("compile") && h.has("optimizer")) {
    Config cc = Config::from_json(h.at("compile").dump());
    if (m->restore_compile(
            cc, optim::from_config(Config::from_json(h.at("optimizer").at("config").dump())))) {
      std::vector<Tensor> params = m->trainable_weights();
      if (h.at("optimizer").has("state_params")) {
        std::vector<std::pair<std::string, Tensor>> named;
        collect_named(*m, "", named, false);
        params.clear();
        for (const Json& n : h.at("optimizer").at("state_params").as_array("state_params")) {
          auto it = std::find_if(named.begin(), named.end(), [&](const auto& e) {
            return e.first == n.as_string("state_params");
          });
          if (it == named.end())
            fail<IOError>("load_model: '", path, "' holds optimizer state for an unknown weight '",
                          n.as_string("state_params"), "'");
          params.push_back(it->second);
        }
      }
      m->optimizer()->load_state(params, opt_state,
                                 h.at("optimizer").at("iterations").as_int("iterations"));
    }
  }
  return Model(m);
}

// ---- .npy ----
void save_npy(const std::string& path, const Tensor& t0) {
  if (!t0.defined()) fail<ValueError>("save_npy: undefined tensor");
  Tensor t = t0.detach().to(Device::cpu()).contiguous();
  const char* descr = nullptr;
  switch (t.dtype()) {
    case kFloat32:
      descr = "<f4";
      break;
    case kFloat64:
      descr = "<f8";
      break;
    case kInt32:
      descr = "<i4";
      break;
    case kInt64:
      descr = "<i8";
      break;
    case kBool:
      descr = "|b1";
      break;
  }
  std::string shape = "(";
  for (size_t i = 0; i < t.shape().size(); ++i)
    shape += std::to_string(t.shape()[i]) +
             (t.shape().size() == 1 ? "," : (i + 1 < t.shape().size() ? ", " : ""));
  shape += ")";
  std::string header =
      std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\1';
  out += '\0';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(static_cast<const char*>(t.storage()->data()) + t.offset() * dtype_size(t.dtype()),
             static_cast<size_t>(t.numel()) * dtype_size(t.dtype()));
  atomic_write(path, out, "save_npy");
}

namespace {
/// What a .npy header says.
struct NpyHeader {
  DType dtype = kFloat32;
  bool fortran_order = false;
  Shape shape;
};

/// Parses the Python dict literal of a .npy header, e.g.
/// "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", strictly: the three keys, each
/// once, and nothing else. Throws IOError naming the file and what is wrong.
NpyHeader parse_npy_header(const std::string& h, const std::string& path) {
  size_t i = 0;
  auto bad = [&](const char* what) {
    fail<IOError>("load_npy: '", path, "' has a malformed header (", what, " at offset ", i, ")");
  };
  auto ws = [&] {
    while (i < h.size() && (h[i] == ' ' || h[i] == '\n' || h[i] == '\t')) ++i;
  };
  auto expect = [&](char c, const char* what) {
    ws();
    if (i >= h.size() || h[i] != c) bad(what);
    ++i;
  };
  auto quoted = [&] {
    ws();
    if (i >= h.size() || (h[i] != '\'' && h[i] != '"')) bad("expected a quoted string");
    const char q = h[i++];
    const size_t end = h.find(q, i);
    if (end == std::string::npos) bad("unterminated string");
    std::string v = h.substr(i, end - i);
    i = end + 1;
    return v;
  };
  NpyHeader out;
  bool seen_descr = false, seen_fortran = false, seen_shape = false;
  expect('{', "expected '{'");
  while (true) {
    ws();
    if (i < h.size() && h[i] == '}') break;
    const std::string key = quoted();
    expect(':', "expected ':'");
    if (key == "descr" && !seen_descr) {
      seen_descr = true;
      const std::string d = quoted();
      if (d == "<f4")
        out.dtype = kFloat32;
      else if (d == "<f8")
        out.dtype = kFloat64;
      else if (d == "<i4")
        out.dtype = kInt32;
      else if (d == "<i8")
        out.dtype = kInt64;
      else if (d == "|b1")
        out.dtype = kBool;
      else
        fail<IOError>("load_npy: '", path, "' has unsupported dtype '", d, "'");
    } else if (key == "fortran_order" && !seen_fortran) {
      seen_fortran = true;
      ws();
      if (h.compare(i, 4, "True") == 0) {
        out.fortran_order = true;
        i += 4;
      } else if (h.compare(i, 5, "False") == 0) {
        i += 5;
      } else {
        bad("fortran_order is neither True nor False");
      }
    } else if (key == "shape" && !seen_shape) {
      seen_shape = true;
      expect('(', "expected '(' of the shape");
      while (true) {
        ws();
        if (i < h.size() && h[i] == ')') break;
        int64_t d = 0;
        const size_t first = i;
        for (; i < h.size() && h[i] >= '0' && h[i] <= '9'; ++i)
          if (__builtin_mul_overflow(d, 10, &d) || __builtin_add_overflow(d, h[i] - '0', &d))
            bad("a size beyond int64");
        if (i == first) bad("expected a size");
        out.shape.push_back(d);
        ws();
        if (i < h.size() && h[i] == ',') ++i;
        else if (i >= h.size() || h[i] != ')') bad("expected ',' or ')' in the shape");
      }
      ++i;
    } else {
      fail<IOError>("load_npy: '", path, "' has an unknown or repeated header key '", key, "'");
    }
    ws();
    if (i < h.size() && h[i] == ',') ++i;
    else if (i >= h.size() || h[i] != '}') bad("expected ',' or '}'");
  }
  for (auto [seen, key] : {std::pair{seen_descr, "descr"}, std::pair{seen_fortran, "fortran_order"},
                           std::pair{seen_shape, "shape"}})
    if (!seen) fail<IOError>("load_npy: '", path, "' header lacks '", key, "'");
  return out;
}
}  // namespace

Tensor load_npy(const std::string& path) {
  std::string b = read_file(path, "load_npy");
  if (b.size() < 10 || b.compare(0, 6, "\x93NUMPY") != 0)
    fail<IOError>("load_npy: '", path, "' is not a .npy file");
  const int major = static_cast<unsigned char>(b[6]);
  size_t hlen, start;
  if (major == 1) {
    hlen = static_cast<unsigned char>(b[8]) |
           (static_cast<size_t>(static_cast<unsigned char>(b[9])) << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) fail<IOError>("load_npy: '", path, "' is truncated");
    hlen = 0;
    for (int i = 0; i < 4; ++i)
      hlen |= static_cast<size_t>(static_cast<unsigned char>(b[8 + i])) << (8 * i);
    start = 12;
  } else {
    fail<IOError>("load_npy: '", path, "' has unsupported version ", major);
  }
  if (start + hlen > b.size()) fail<IOError>("load_npy: '", path, "' is truncated in its header");
  const NpyHeader head = parse_npy_header(b.substr(start, hlen), path);
  const DType dt = head.dtype;
  const Shape& shape = head.shape;
  int64_t nbytes = -1;
  try {
    nbytes = checked_numel("load_npy", shape, static_cast<int64_t>(dtype_size(dt))) *
             static_cast<int64_t>(dtype_size(dt));
  } catch (const ShapeError&) {
  }
  if (nbytes < 0 || static_cast<uint64_t>(nbytes) > b.size() - start - hlen)
    fail<IOError>("load_npy: '", path, "' is truncated: ", b.size() - start - hlen,
                  " data bytes for shape ", shape, " of ", dt);
  const bool is_fortran = head.fortran_order;
  if (!is_fortran) return from_blob(b.data() + start + hlen, shape, dt);
  Shape rev(shape.rbegin(), shape.rend());
  Tensor t = from_blob(b.data() + start + hlen, rev, dt);
  Axes order;
  for (int64_t i = static_cast<int64_t>(shape.size()) - 1; i >= 0; --i) order.push_back(i);
  return t.permute(order).contiguous();
}

}  // namespace tg::nn
