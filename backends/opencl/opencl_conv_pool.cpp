// OpenCL convolution (im2col / col2im around CLBlast GEMM), pooling, batch normalization and CTC
// loss: geometry set-up and kernel launches.
#include <algorithm>

#include "tapegrad/backends/opencl/opencl_backend.hpp"
#include "tapegrad/backends/opencl/opencl_blas.hpp"
#include "tapegrad/backends/opencl/opencl_runtime.hpp"

namespace tg {

using opencl::mem;

namespace {

std::string kname(const char* base, DType t) { return std::string(base) + "_" + opencl::suffix(t); }

/// Convolution geometry from x (N, H, W, CI), w (KH, KW, CI / groups, CO), y (N, OH, OW, CO).
opencl::ConvGeom conv_geom(const Tensor& x, const Tensor& w, const Tensor& y,
                           const Conv2dParams& p) {
  opencl::ConvGeom g{};
  g.n = x.shape()[0];
  g.h = x.shape()[1];
  g.w = x.shape()[2];
  g.ci = x.shape()[3];
  g.oh = y.shape()[1];
  g.ow = y.shape()[2];
  g.co = y.shape()[3];
  g.kh = w.shape()[0];
  g.kw = w.shape()[1];
  g.cig = w.shape()[2];
  g.cog = y.shape()[3] / p.groups;
  g.sh = p.stride_h;
  g.sw = p.stride_w;
  g.dh = p.dilation_h;
  g.dw = p.dilation_w;
  g.pt = p.pad_top;
  g.pl = p.pad_left;
  g.x_off = x.offset();
  g.w_off = w.offset();
  g.y_off = y.offset();
  return g;
}

/// Pooling geometry from x (N, H, W, C) and y (N, OH, OW, C).
opencl::PoolGeom pool_geom(const Tensor& x, const Tensor& y, const Pool2dParams& p) {
  opencl::PoolGeom g{};
  g.n = x.shape()[0];
  g.h = x.shape()[1];
  g.w = x.shape()[2];
  g.c = x.shape()[3];
  g.oh = y.shape()[1];
  g.ow = y.shape()[2];
  g.kh = p.kernel_h;
  g.kw = p.kernel_w;
  g.sh = p.stride_h;
  g.sw = p.stride_w;
  g.pt = p.pad_top;
  g.pl = p.pad_left;
  g.x_off = x.offset();
  g.y_off = y.offset();
  return g;
}

void require_floating(const char* op, DType t) {
  if (!is_floating(t)) fail<BackendError>("opencl ", op, ": needs a floating dtype, got ", t);
}

}  // namespace

namespace {

/// Largest column matrix, in bytes, one im2col pass writes; larger batches go in chunks of images.
constexpr int64_t kColumnBudget = int64_t{64} << 20;

/// How a convolution maps onto GEMM. The column matrix of a chunk of images has one row per output
/// pixel and row_len = taps · ci columns, group g's k = taps · cig of them at g · k (see im2col in
/// kernels/typed.cl); group g then multiplies them by the k × cog block of the (k, co) weight
/// matrix at column g · cog.
struct ConvPlan {
  opencl::ConvGeom g;
  int64_t groups, k, row_len, pixels;  // pixels: output pixels of one image (oh · ow)
  bool identity;                       // 1×1, stride 1, unpadded: the column matrix is x itself
  int64_t chunk;                       // images per im2col pass
};

ConvPlan conv_plan(const opencl::ConvGeom& g, DType dt, uint64_t max_allocation) {
  ConvPlan c{};
  c.g = g;
  c.groups = g.cig ? g.ci / g.cig : 1;
  c.k = g.kh * g.kw * g.cig;
  c.row_len = g.kh * g.kw * g.ci;
  c.pixels = g.oh * g.ow;
  c.identity = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 &&
               g.oh == g.h && g.ow == g.w;
  const int64_t per_image = std::max<int64_t>(1, c.pixels * c.row_len * dtype_size(dt));
  const int64_t budget = std::min<int64_t>(kColumnBudget, static_cast<int64_t>(max_allocation / 2));
  c.chunk = std::clamp<int64_t>(budget / per_image, 1, std::max<int64_t>(g.n, 1));
  return c;
}

/// Scratch for one chunk's column matrix (none when x serves as its own column matrix).
Tensor column_scratch(const ConvPlan& c, DType dt, Device d) {
  if (c.identity) return Tensor();
  return Tensor::empty({c.chunk * c.pixels * c.row_len}, dt, d);
}

/// The column matrix of images b0 .. b0 + nb - 1 of x: written into col by im2col, or x itself.
/// Returns its buffer and element offset.
std::pair<cl_mem, int64_t> columns(opencl::Context& ctx, const ConvPlan& c, const Tensor& x,
                                   const Tensor& col, int64_t b0, int64_t nb) {
  if (c.identity) return {mem(x), x.offset() + b0 * c.g.h * c.g.w * c.g.ci};
  ctx.launch(kname("im2col", x.dtype()), static_cast<size_t>(nb * c.pixels * c.g.ci), mem(x),
             mem(col), c.g, static_cast<cl_long>(b0), static_cast<cl_long>(nb));
  return {mem(col), 0};
}

}  // namespace

// y = col · w per group: one GEMM (strided-batched over groups) per chunk of images.
void OpenClBackend::conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                           const Conv2dParams& p) {
  const DType dt = x.dtype();
  require_floating("conv2d", dt);
  ctx_->require_dtype("conv2d", dt);
  if (y.numel() == 0) return;
  const ConvPlan c = conv_plan(conv_geom(x, w, y, p), dt, ctx_->info().max_allocation);
  // The bias, when given, and the fused relu run as elementwise kernels after the GEMMs.
  auto epilogue = [&] {
    if (bias.defined()) binary(BinaryOp::Add, y, bias.expand(y.shape()), y);
    if (p.relu) unary(UnaryOp::Relu, y, y, 0, 0);  // the fused relu, after the bias
  };
  if (c.k == 0) {
    fill(y, 0.0);
    epilogue();
    return;
  }
  const Tensor col = column_scratch(c, dt, ctx_->device());
  for (int64_t b0 = 0; b0 < c.g.n; b0 += c.chunk) {
    const int64_t nb = std::min(c.chunk, c.g.n - b0);
    const auto [cm, co] = columns(*ctx_, c, x, col, b0, nb);
    opencl::gemm(*ctx_, dt,
                 {.m = nb * c.pixels,
                  .n = c.g.cog,
                  .k = c.k,
                  .a = cm,
                  .a_off = co,
                  .lda = c.row_len,
                  .a_stride = c.k,
                  .b = mem(w),
                  .b_off = w.offset(),
                  .ldb = c.g.co,
                  .b_stride = c.g.cog,
                  .c = mem(y),
                  .c_off = y.offset() + b0 * c.pixels * c.g.co,
                  .ldc = c.g.co,
                  .c_stride = c.g.cog,
                  .batch = c.groups});
  }
  epilogue();
}

// grad_col = grad_y · wᵀ per group, then col2im sums each input element's column entries.
void OpenClBackend::conv2d_backward_input(const Tensor& gy, const Tensor& w, const Tensor& gx,
                                          const Conv2dParams& p) {
  const DType dt = gy.dtype();
  require_floating("conv2d_backward_input", dt);
  ctx_->require_dtype("conv2d_backward_input", dt);
  if (gx.numel() == 0) return;
  const ConvPlan c = conv_plan(conv_geom(gx, w, gy, p), dt, ctx_->info().max_allocation);
  if (c.pixels == 0 || c.g.cog == 0) {
    fill(gx, 0.0);
    return;
  }
  const Tensor col = column_scratch(c, dt, ctx_->device());
  for (int64_t b0 = 0; b0 < c.g.n; b0 += c.chunk) {
    const int64_t nb = std::min(c.chunk, c.g.n - b0);
    // The identity plan writes grad_x directly: its rows are the column matrix's.
    const cl_mem cm = c.identity ? mem(gx) : mem(col);
    const int64_t co = c.identity ? gx.offset() + b0 * c.g.h * c.g.w * c.g.ci : 0;
    opencl::gemm(*ctx_, dt,
                 {.tb = true,
                  .m = nb * c.pixels,
                  .n = c.k,
                  .k = c.g.cog,
                  .a = mem(gy),
                  .a_off = gy.offset() + b0 * c.pixels * c.g.co,
                  .lda = c.g.co,
                  .a_stride = c.g.cog,
                  .b = mem(w),
                  .b_off = w.offset(),
                  .ldb = c.g.co,
                  .b_stride = c.g.cog,
                  .c = cm,
                  .c_off = co,
                  .ldc = c.row_len,
                  .c_stride = c.k,
                  .batch = c.groups});
    if (!c.identity)
      ctx_->launch(kname("col2im", dt), static_cast<size_t>(nb * c.g.h * c.g.w * c.g.ci), mem(col),
                   mem(gx), c.g, static_cast<cl_long>(b0), static_cast<cl_long>(nb));
  }
}

// grad_w = colᵀ · grad_y per group, accumulated over chunks of images.
void OpenClBackend::conv2d_backward_weight(const Tensor& x, const Tensor& gy, const Tensor& gw,
                                           const Conv2dParams& p) {
  const DType dt = x.dtype();
  require_floating("conv2d_backward_weight", dt);
  ctx_->require_dtype("conv2d_backward_weight", dt);
  if (gw.numel() == 0) return;
  const ConvPlan c = conv_plan(conv_geom(x, gw, gy, p), dt, ctx_->info().max_allocation);
  if (c.pixels == 0 || c.g.n == 0) {
    fill(gw, 0.0);
    return;
  }
  const Tensor col = column_scratch(c, dt, ctx_->device());
  for (int64_t b0 = 0; b0 < c.g.n; b0 += c.chunk) {
    const int64_t nb = std::min(c.chunk, c.g.n - b0);
    const auto [cm, co] = columns(*ctx_, c, x, col, b0, nb);
    opencl::gemm(*ctx_, dt,
                 {.ta = true,
                  .m = c.k,
                  .n = c.g.cog,
                  .k = nb * c.pixels,
                  .a = cm,
                  .a_off = co,
                  .lda = c.row_len,
                  .a_stride = c.k,
                  .b = mem(gy),
                  .b_off = gy.offset() + b0 * c.pixels * c.g.co,
                  .ldb = c.g.co,
                  .b_stride = c.g.cog,
                  .c = mem(gw),
                  .c_off = gw.offset(),
                  .ldc = c.g.co,
                  .c_stride = c.g.cog,
                  .batch = c.groups,
                  .beta = b0 == 0 ? 0.0 : 1.0});
  }
}

void OpenClBackend::max_pool2d(const Tensor& x, const Tensor& y, const Tensor& indices,
                               const Pool2dParams& p) {
  ctx_->require_dtype("max_pool2d", x.dtype());
  opencl::PoolGeom g = pool_geom(x, y, p);
  const bool with_idx = indices.defined();
  if (with_idx) g.i_off = indices.offset();
  // Without indices the kernel never touches its index argument; any buffer will do.
  ctx_->launch(kname("max_pool2d", x.dtype()), y.numel(), mem(x), mem(y),
               with_idx ? mem(indices) : mem(y), g, static_cast<cl_int>(with_idx));
}

void OpenClBackend::avg_pool2d(const Tensor& x, const Tensor& y, const Pool2dParams& p) {
  ctx_->require_dtype("avg_pool2d", x.dtype());
  ctx_->launch(kname("avg_pool2d", x.dtype()), y.numel(), mem(x), mem(y), pool_geom(x, y, p));
}

void OpenClBackend::avg_pool2d_backward(const Tensor& gy, const Tensor& gx, const Pool2dParams& p) {
  ctx_->require_dtype("avg_pool2d_backward", gy.dtype());
  ctx_->launch(kname("avg_pool2d_backward", gy.dtype()), gx.numel(), mem(gy), mem(gx),
               pool_geom(gx, gy, p));
}

namespace {
/// Batch-norm geometry of rows x (M, C) and the [C] vectors v (offsets and strides).
opencl::BnGeom bn_geom(const Tensor& x, const Tensor& y, std::initializer_list<const Tensor*> v) {
  opencl::BnGeom q{};
  q.c = x.shape().back();
  q.m = q.c ? x.numel() / q.c : 0;
  q.x_off = x.offset();
  q.y_off = y.offset();
  size_t k = 0;
  for (const Tensor* t : v) {
    q.v_off[k] = t->offset();
    q.v_s[k] = t->strides()[0];
    ++k;
  }
  return q;
}
}  // namespace

void OpenClBackend::batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                               const Tensor& mean, const Tensor& var, double eps, bool training,
                               const Tensor& y) {
  require_floating("batch_norm", x.dtype());
  ctx_->require_dtype("batch_norm", x.dtype());
  const opencl::BnGeom q = bn_geom(x, y, {&gamma, &beta, &mean, &var});
  ctx_->launch(kname("batch_norm", x.dtype()), q.c, mem(x), mem(gamma), mem(beta), mem(mean),
               mem(var), mem(y), q, opencl::Real{eps, ctx_->fp64()}, static_cast<cl_int>(training));
}

void OpenClBackend::batch_norm_backward(const Tensor& x, const Tensor& gy, const Tensor& gamma,
                                        const Tensor& mean, const Tensor& var, double eps,
                                        const Tensor& gx, const Tensor& gg, const Tensor& gb) {
  require_floating("batch_norm_backward", x.dtype());
  ctx_->require_dtype("batch_norm_backward", x.dtype());
  const opencl::BnGeom q = bn_geom(x, gy, {&gamma, &mean, &var});
  if (q.c == 0) return;
  ctx_->launch(kname("batch_norm_backward", x.dtype()), q.c, mem(x), mem(gy), mem(gamma), mem(mean),
               mem(var), mem(gx), mem(gg), mem(gb), q, opencl::Real{eps, ctx_->fp64()},
               static_cast<cl_long>(gx.offset()), static_cast<cl_long>(gg.offset()),
               static_cast<cl_long>(gb.offset()));
}

void OpenClBackend::ctc_loss(const Tensor& log_probs, const Tensor& labels,
                             const Tensor& label_lengths, const Tensor& input_lengths,
                             int64_t blank, const Tensor& loss, const Tensor& grad) {
  require_floating("ctc_loss", log_probs.dtype());
  ctx_->require_dtype("ctc_loss", log_probs.dtype());
  opencl::CtcGeom q{};
  q.n = log_probs.shape()[0];
  q.tmax = log_probs.shape()[1];
  q.c = log_probs.shape()[2];
  q.smax = 2 * labels.shape()[1] + 1;
  q.blank = blank;
  q.lp_off = log_probs.offset();
  q.lp_s0 = log_probs.strides()[0];
  q.lp_s1 = log_probs.strides()[1];
  q.lp_s2 = log_probs.strides()[2];
  q.lab_off = labels.offset();
  q.lab_s0 = labels.strides()[0];
  q.lab_s1 = labels.strides()[1];
  q.ll_off = label_lengths.offset();
  q.ll_s = label_lengths.strides()[0];
  q.il_off = input_lengths.offset();
  q.il_s = input_lengths.strides()[0];
  q.loss_off = loss.offset();
  q.loss_s = loss.strides()[0];
  q.has_grad = grad.defined();
  if (grad.defined()) {
    q.g_off = grad.offset();
    q.g_s0 = grad.strides()[0];
    q.g_s1 = grad.strides()[1];
    q.g_s2 = grad.strides()[2];
  }
  if (q.n == 0) return;
  // Per-sample scratch: the extended label and the alpha, beta and occupation tables.
  const DType acc = ctx_->fp64() ? kFloat64 : kFloat32;
  const Device d = ctx_->device();
  Tensor ext = Tensor::empty({q.n * q.smax}, kInt64, d);
  Tensor alpha = Tensor::empty({q.n * std::max<int64_t>(q.tmax, 1) * q.smax}, acc, d);
  Tensor beta = Tensor::empty(alpha.shape(), acc, d);
  Tensor occ = Tensor::empty({q.n * std::max<int64_t>(q.c, 1)}, acc, d);
  ctx_->launch(kname("ctc_loss", log_probs.dtype()), q.n, mem(log_probs), mem(labels),
               mem(label_lengths), mem(input_lengths), mem(loss),
               grad.defined() ? mem(grad) : mem(loss), mem(ext), mem(alpha), mem(beta), mem(occ),
               q);
}

// LSTM/GRU gate kernels: one work item per (row, unit); all tensors contiguous, passed with
// their offsets.
void OpenClBackend::lstm_cell(const Tensor& z, const Tensor& c_prev, const Tensor& h,
                              const Tensor& c, const Tensor& gates) {
  require_floating("lstm_cell", z.dtype());
  ctx_->require_dtype("lstm_cell", z.dtype());
  const auto H = static_cast<cl_long>(c.shape().back());
  ctx_->launch(kname("lstm_cell", z.dtype()), c.numel(), mem(z), mem(c_prev), mem(h), mem(c),
               mem(gates), static_cast<cl_long>(z.offset()), static_cast<cl_long>(c_prev.offset()),
               static_cast<cl_long>(h.offset()), static_cast<cl_long>(c.offset()),
               static_cast<cl_long>(gates.offset()), H, static_cast<cl_long>(c.numel()));
}

void OpenClBackend::lstm_cell_backward(const Tensor& grad_h, const Tensor& grad_c,
                                       const Tensor& gates, const Tensor& c_prev, const Tensor& c,
                                       const Tensor& grad_z, const Tensor& grad_c_prev) {
  require_floating("lstm_cell_backward", gates.dtype());
  ctx_->require_dtype("lstm_cell_backward", gates.dtype());
  const auto H = static_cast<cl_long>(c.shape().back());
  ctx_->launch(kname("lstm_cell_backward", gates.dtype()), c.numel(), mem(grad_h), mem(grad_c),
               mem(gates), mem(c_prev), mem(c), mem(grad_z), mem(grad_c_prev),
               static_cast<cl_long>(grad_h.offset()), static_cast<cl_long>(grad_c.offset()),
               static_cast<cl_long>(gates.offset()), static_cast<cl_long>(c_prev.offset()),
               static_cast<cl_long>(c.offset()), static_cast<cl_long>(grad_z.offset()),
               static_cast<cl_long>(grad_c_prev.offset()), H, static_cast<cl_long>(c.numel()));
}

void OpenClBackend::gru_cell(const Tensor& xz, const Tensor& hz, const Tensor& h_prev,
                             const Tensor& h, const Tensor& gates) {
  require_floating("gru_cell", xz.dtype());
  ctx_->require_dtype("gru_cell", xz.dtype());
  const auto H = static_cast<cl_long>(h.shape().back());
  ctx_->launch(kname("gru_cell", xz.dtype()), h.numel(), mem(xz), mem(hz), mem(h_prev), mem(h),
               mem(gates), static_cast<cl_long>(xz.offset()), static_cast<cl_long>(hz.offset()),
               static_cast<cl_long>(h_prev.offset()), static_cast<cl_long>(h.offset()),
               static_cast<cl_long>(gates.offset()), H, static_cast<cl_long>(h.numel()));
}

void OpenClBackend::gru_cell_backward(const Tensor& grad_h, const Tensor& gates, const Tensor& hz,
                                      const Tensor& h_prev, const Tensor& grad_xz,
                                      const Tensor& grad_hz, const Tensor& grad_h_prev) {
  require_floating("gru_cell_backward", gates.dtype());
  ctx_->require_dtype("gru_cell_backward", gates.dtype());
  const auto H = static_cast<cl_long>(h_prev.shape().back());
  ctx_->launch(kname("gru_cell_backward", gates.dtype()), h_prev.numel(), mem(grad_h), mem(gates),
               mem(hz), mem(h_prev), mem(grad_xz), mem(grad_hz), mem(grad_h_prev),
               static_cast<cl_long>(grad_h.offset()), static_cast<cl_long>(gates.offset()),
               static_cast<cl_long>(hz.offset()), static_cast<cl_long>(h_prev.offset()),
               static_cast<cl_long>(grad_xz.offset()), static_cast<cl_long>(grad_hz.offset()),
               static_cast<cl_long>(grad_h_prev.offset()), H, static_cast<cl_long>(h_prev.numel()));
}

}  // namespace tg
