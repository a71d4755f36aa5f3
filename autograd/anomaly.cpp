// Anomaly mode: per-thread guards, the finite checks of forward outputs and backward gradients,
// and the creation site of an op resolved from its call stack.
#include "tapegrad/autograd/anomaly.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>

#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/autograd/node.hpp"

#ifndef TG_SOURCE_ROOT
#define TG_SOURCE_ROOT ""
#endif

namespace tg::autograd {

struct AnomalyAccess {
  static void report(detect_anomaly& g, Anomaly a) {
    if (g.opts_.raise) throw AnomalyError(std::move(a));
    if (!g.first_) g.first_ = std::move(a);
  }
};

namespace {

/// The guards alive on this thread, innermost last.
thread_local std::vector<detect_anomaly*> t_guards;

// ---- call stacks ----

struct Frame {
  std::string function;  // demangled, "" when unknown
  std::string file;      // normalised source path, "" when unknown
  int line = 0;
  std::string module;  // the executable or shared object
};

std::string demangle(const char* name) {
  if (!name) return "";
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> d(abi::__cxa_demangle(name, nullptr, nullptr, &status),
                                          std::free);
  return status == 0 && d ? std::string(d.get()) : std::string(name);
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

/// Function, file and line of each address: dladdr finds the module and its load address,
/// addr2line (binutils) reads the module's debug information, one run per module.
std::vector<Frame> resolve(const std::vector<void*>& addrs) {
  std::vector<Frame> frames(addrs.size());
  std::map<std::string, std::vector<std::pair<size_t, uintptr_t>>> by_module;
  for (size_t i = 0; i < addrs.size(); ++i) {
    Dl_info info{};
    link_map* lm = nullptr;
    if (!dladdr1(addrs[i], &info, reinterpret_cast<void**>(&lm), RTLD_DL_LINKMAP) || !lm)
      continue;
    std::string module = info.dli_fname && *info.dli_fname ? info.dli_fname : "/proc/self/exe";
    frames[i].module = module;
    frames[i].function = demangle(info.dli_sname);
    // A return address points after the call: step back into the calling instruction.
    const uintptr_t rel = reinterpret_cast<uintptr_t>(addrs[i]) - lm->l_addr - 1;
    by_module[module].push_back({i, rel});
  }
  for (const auto& [module, entries] : by_module) {
    std::string cmd = "addr2line -C -f -e " + shell_quote(module);
    char hex[32];
    for (const auto& e : entries) {
      std::snprintf(hex, sizeof hex, " %#llx", static_cast<unsigned long long>(e.second));
      cmd += hex;
    }
    cmd += " 2>/dev/null";
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) continue;
    char buf[4096];
    for (const auto& e : entries) {
      // Two lines per address: the function, then file:line.
      if (!std::fgets(buf, sizeof buf, p)) break;
      std::string fn(buf);
      if (!std::fgets(buf, sizeof buf, p)) break;
      std::string loc(buf);
      while (!fn.empty() && (fn.back() == '\n' || fn.back() == '\r')) fn.pop_back();
      while (!loc.empty() && (loc.back() == '\n' || loc.back() == '\r')) loc.pop_back();
      Frame& f = frames[e.first];
      if (!fn.empty() && fn != "??") f.function = fn;
      const size_t colon = loc.rfind(':');
      if (colon != std::string::npos && loc.compare(0, 2, "??") != 0) {
        f.file = std::filesystem::path(loc.substr(0, colon)).lexically_normal().string();
        f.line = std::atoi(loc.c_str() + colon + 1);
      }
    }
    pclose(p);
  }
  return frames;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

/// tapegrad's own code: its source folders, its headers (in the tree or installed), or, without
/// debug information, the shared library itself.
bool is_library_frame(const Frame& f) {
  static const std::string root =
      std::filesystem::path(TG_SOURCE_ROOT).lexically_normal().string();
  if (!f.file.empty()) {
    if (f.file.find("/include/tapegrad/") != std::string::npos) return true;
    if (!root.empty())
      for (const char* dir : {"core/", "autograd/", "nn/", "backends/"})
        if (starts_with(f.file, root + "/" + dir)) return true;
    return false;
  }
  return f.module.find("libtapegrad") != std::string::npos;
}

/// The C++ standard library, the C runtime and frames with nothing known.
bool is_system_frame(const Frame& f) {
  if (f.file.empty()) return f.function.empty();
  return starts_with(f.file, "/usr/include/") || starts_with(f.file, "/usr/lib/") ||
         starts_with(f.file, "./") || f.line == 0;
}

std::string describe(const Frame& f) {
  std::string s;
  if (!f.file.empty())
    s = f.file + ":" + std::to_string(f.line);
  else
    s = f.module.empty() ? "?" : f.module;
  if (!f.function.empty()) s += " (" + f.function + ")";
  return s;
}

void fill_site(Anomaly& a, const Node& node) {
  const detail::CreationSite* cs = node.creation_site();
  if (!cs) {
    a.site = "unknown (the op was recorded before anomaly mode was on)";
    return;
  }
  a.context = cs->context;
  const std::vector<Frame> frames = resolve(cs->frames);
  for (const Frame& f : frames) a.trace.push_back(describe(f));
  for (const Frame& f : frames)
    if (!is_library_frame(f) && !is_system_frame(f)) {
      a.site = describe(f);
      return;
    }
  a.site = "unknown (no frame outside tapegrad; addr2line missing?)";
}

// ---- finite checks ----

/// "" when every value of t is finite (or t is not a floating tensor with data), else the kind
/// of the first non-finite value.
std::string non_finite(const Tensor& t) {
  if (!t.defined() || !is_floating(t.dtype()) || t.is_meta() || t.numel() == 0) return "";
  NoGrad no_grad;
  for (double v : t.detach().to_vector<double>())
    if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  return "";
}

Anomaly make(const Node& node, std::string phase, std::string where, bool produced,
             std::string value) {
  Anomaly a;
  a.op = node.name();
  a.phase = std::move(phase);
  a.where = std::move(where);
  a.produced = produced;
  a.value = std::move(value);
  return a;
}

void report(Anomaly a, const Node& node) {
  fill_site(a, node);
  AnomalyAccess::report(*t_guards.back(), std::move(a));
}

}  // namespace

std::string Anomaly::message() const {
  std::string s = "anomaly: " + phase + " of '" + op + "' ";
  s += produced ? "produced " + value + " in " + where : "received " + value + " in " + where;
  s += "; the op was created at " + site;
  if (!context.empty()) s += " inside '" + context + "'";
  return s;
}

AnomalyError::AnomalyError(Anomaly a) : ValueError(a.message()), a_(std::move(a)) {}

detect_anomaly::detect_anomaly() : detect_anomaly(Options{}) {}
detect_anomaly::detect_anomaly(Options opts) : opts_(opts) { t_guards.push_back(this); }
detect_anomaly::~detect_anomaly() {
  auto it = std::find(t_guards.rbegin(), t_guards.rend(), this);
  if (it != t_guards.rend()) t_guards.erase(std::next(it).base());
}

bool anomaly_mode_enabled() { return !t_guards.empty(); }

namespace detail {

void anomaly_check_forward(Node& node, const std::vector<const Tensor*>& inputs,
                           const std::vector<const Tensor*>& outputs) {
  auto site = std::make_shared<CreationSite>();
  void* buf[64];
  const int n = backtrace(buf, 64);
  site->frames.assign(buf + std::min(n, 1), buf + n);  // without this function's own frame
  if (const char* c = tg::detail::current_error_context()) site->context = c;
  node.set_creation_site(std::move(site));
  for (size_t k = 0; k < outputs.size(); ++k) {
    const std::string bad = non_finite(*outputs[k]);
    if (bad.empty()) continue;
    Anomaly a = make(node, "forward", "output " + std::to_string(k), true, bad);
    for (size_t i = 0; i < inputs.size(); ++i) {
      const std::string in = non_finite(*inputs[i]);
      if (in.empty()) continue;
      // It came in: from data or a parameter, or from an op recorded before the guard.
      a.produced = false;
      a.where = "input " + std::to_string(i);
      a.value = in;
      break;
    }
    report(std::move(a), node);
    return;
  }
}

void anomaly_check_backward(const Node& node, const std::vector<Tensor>& grads,
                            const std::vector<Tensor>& in_grads) {
  for (size_t k = 0; k < grads.size(); ++k) {
    const std::string bad = non_finite(grads[k]);
    if (bad.empty()) continue;
    report(make(node, "backward", "incoming gradient of output " + std::to_string(k), false, bad),
           node);
    return;
  }
  for (size_t i = 0; i < in_grads.size(); ++i) {
    const std::string bad = non_finite(in_grads[i]);
    if (bad.empty()) continue;
    report(make(node, "backward", "the gradient of input " + std::to_string(i), true, bad), node);
    return;
  }
}

}  // namespace detail

}  // namespace tg::autograd
