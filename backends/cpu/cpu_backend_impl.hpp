// Private state of the CPU backend: the oneDNN engine and stream and the primitive caches.
#pragma once
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>

#include "tapegrad/backends/cpu/cpu_backend.hpp"

namespace tg {

/// A float32 tensor holding at least the bytes of md (a layout oneDNN wants, a workspace), from
/// the caching allocator: the memory stays valid while the tensor is alive.
inline Tensor scratch_tensor(const dnnl::memory::desc& md) {
  return Tensor::empty({static_cast<int64_t>((md.get_size() + 3) / 4)}, kFloat32);
}

/// A cached convolution primitive with the weight layout it wants and reorders to and from the
/// Keras layout (absent when the layouts agree).
struct ConvEntry {
  dnnl::primitive prim;
  dnnl::memory::desc prim_w, user_w;
  dnnl::reorder to_prim, from_prim;
  bool same_layout = true;
  /// Forward only, when the primitive wants blocked activations (Winograd): their layouts
  /// and the reorders from x and into y (empty otherwise).
  dnnl::memory::desc prim_src, prim_dst;
  dnnl::reorder to_src, from_dst;
  /// Forward only: the bias and the fused relu run after the primitive rather than inside it.
  bool bias_after = false, relu_after = false;
};

/// Cached oneDNN RNN primitives of one whole-sequence problem: the forward and, for training,
/// the backward, with reorders between the Keras weight layout (ldigo) and the layouts they want
/// (a reorder is empty when the layouts agree).
struct RnnEntry {
  dnnl::primitive fwd, bwd;
  dnnl::memory::desc user_wl, user_wi;    // Keras kernel / recurrent kernel (ldigo)
  dnnl::memory::desc fwd_wl, fwd_wi, ws;  // forward weights, workspace
  dnnl::memory::desc bwd_wl, bwd_wi;      // backward weights
  dnnl::memory::desc bwd_dwl, bwd_dwi;    // backward weight gradients
  dnnl::reorder to_fwd_wl, to_fwd_wi, to_bwd_wl, to_bwd_wi, from_dwl, from_dwi;
};

struct CpuBackend::Impl {
  static void* data_ptr(const Tensor& t) {
    return static_cast<char*>(t.storage()->data()) + t.offset() * dtype_size(t.dtype());
  }
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::mutex mu;
  std::unordered_map<std::string, dnnl::primitive> cache;
  uint64_t created = 0, hits = 0;

  /// The cached primitive for key, built by make() on first use.
  template <class Make>
  dnnl::primitive get(const std::string& key, Make make) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(key);
    if (it != cache.end()) {
      ++hits;
      return it->second;
    }
    dnnl::primitive p;
    try {
      p = make();
      // oneDNN's own reference implementations are slower than ours: cache an empty primitive,
      // which tells the caller to use the reference loops.
      const_dnnl_primitive_desc_t pd = p.get_primitive_desc();
      const char* info = nullptr;
      dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &info);
      if (info && std::string(info).rfind("ref", 0) == 0) p = dnnl::primitive();
    } catch (const dnnl::error& e) {
      fail<BackendError>("oneDNN: creating primitive '", key, "' failed: ", e.what());
    }
    ++created;
    cache.emplace(key, p);
    return p;
  }

  void run(const char* what, dnnl::primitive& p,
           const std::unordered_map<int, dnnl::memory>& args) {
    try {
      p.execute(stream, args);
      stream.wait();
    } catch (const dnnl::error& e) {
      fail<BackendError>("oneDNN: executing ", what, " failed: ", e.what());
    }
  }
  dnnl::memory mem(const dnnl::memory::desc& md, const Tensor& t) {
    return dnnl::memory(md, engine, data_ptr(t));
  }

  std::unordered_map<std::string, ConvEntry> conv_cache;
  std::unordered_map<std::string, RnnEntry> rnn_cache;

  /// The cached convolution entry for key, built by make() (and its reorders) on first use.
  template <class Make>
  ConvEntry& conv_entry(const std::string& key, Make make) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = conv_cache.find(key);
    if (it != conv_cache.end()) {
      ++hits;
      return it->second;
    }
    ConvEntry e;
    try {
      e = make();
      e.same_layout = e.prim_w == e.user_w;
      if (!e.same_layout) {
        e.to_prim =
            dnnl::reorder(dnnl::reorder::primitive_desc(engine, e.user_w, engine, e.prim_w));
        e.from_prim =
            dnnl::reorder(dnnl::reorder::primitive_desc(engine, e.prim_w, engine, e.user_w));
        created += 2;
      }
    } catch (const dnnl::error& err) {
      fail<BackendError>("oneDNN: creating primitive '", key, "' failed: ", err.what());
    }
    ++created;
    return conv_cache.emplace(key, std::move(e)).first->second;
  }

  /// The cached RNN entry for key, built by make() on first use.
  template <class Make>
  RnnEntry& rnn_entry(const std::string& key, Make make) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = rnn_cache.find(key);
    if (it != rnn_cache.end()) {
      ++hits;
      return it->second;
    }
    RnnEntry e;
    try {
      e = make();
    } catch (const dnnl::error& err) {
      fail<BackendError>("oneDNN: creating primitive '", key, "' failed: ", err.what());
    }
    ++created;
    return rnn_cache.emplace(key, std::move(e)).first->second;
  }

  /// Executes a convolution entry; the weights tensor w (Keras layout) is read, or written
  /// when weights_out, through a reorder when the primitive wants another layout.
  void run_conv(const char* what, ConvEntry& e, int weights_arg, const Tensor& w, bool weights_out,
                std::unordered_map<int, dnnl::memory> args) {
    try {
      dnnl::memory user = mem(e.user_w, w);
      if (e.same_layout) {
        args[weights_arg] = user;
        e.prim.execute(stream, args);
      } else {
        Tensor held = scratch_tensor(e.prim_w);
        dnnl::memory pm = mem(e.prim_w, held);
        if (!weights_out) e.to_prim.execute(stream, user, pm);
        args[weights_arg] = pm;
        e.prim.execute(stream, args);
        if (weights_out) e.from_prim.execute(stream, pm, user);
      }
      stream.wait();
    } catch (const dnnl::error& err) {
      fail<BackendError>("oneDNN: executing ", what, " failed: ", err.what());
    }
  }
};

}  // namespace tg
