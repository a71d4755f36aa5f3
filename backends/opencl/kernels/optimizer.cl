// Fused optimizer updates (Backend::sgd_update and the rest; core/backend.hpp states the
// rules), instantiated for the floating types only (T, SUF as in typed.cl). One work item per
// element; arithmetic in hireal in the order of the formulas. A slot the variant does not use
// (flag 0) points at any buffer and is not touched.

#define TG_OPT_PROLOGUE                       \
  const long i = get_global_id(0);            \
  if (i >= n) return;                         \
  __global T* pp = p + p_off + i;             \
  const hireal gi = (hireal)g[g_off + i];     \
  const hireal pv = (hireal)*pp;

__kernel void TG_CAT2(sgd_update, SUF)(__global T* p, __global const T* g, __global T* s0,
                                       long n, long p_off, long g_off, long s0_off,
                                       int has_momentum, int nesterov, hireal lr, hireal mu) {
  TG_OPT_PROLOGUE
  if (!has_momentum) {
    *pp = (T)(pv - gi * lr);
    return;
  }
  __global T* m = s0 + s0_off + i;
  *m = (T)((hireal)*m * mu - gi * lr);
  const hireal mt = (hireal)*m;
  *pp = (T)(nesterov ? pv + (mt * mu - gi * lr) : pv + mt);
}

__kernel void TG_CAT2(rmsprop_update, SUF)(__global T* p, __global const T* g, __global T* s0,
                                           __global T* s1, __global T* s2, long n, long p_off,
                                           long g_off, long s0_off, long s1_off, long s2_off,
                                           int centered, int has_momentum, hireal lr, hireal rho,
                                           hireal mu, hireal eps) {
  TG_OPT_PROLOGUE
  __global T* v = s0 + s0_off + i;
  *v = (T)((hireal)*v * rho + gi * gi * ((hireal)1 - rho));
  hireal denom = (hireal)*v;
  if (centered) {
    __global T* mg = s1 + s1_off + i;
    *mg = (T)((hireal)*mg * rho + gi * ((hireal)1 - rho));
    const hireal a = (hireal)*mg;
    denom -= a * a;
  }
  const hireal inc = gi * lr / sqrt(denom + eps);
  if (has_momentum) {
    __global T* ms = s2 + s2_off + i;
    *ms = (T)((hireal)*ms * mu + inc);
    *pp = (T)(pv - (hireal)*ms);
  } else {
    *pp = (T)(pv - inc);
  }
}

__kernel void TG_CAT2(adam_update, SUF)(__global T* p, __global const T* g, __global T* s0,
                                        __global T* s1, __global T* s2, long n, long p_off,
                                        long g_off, long s0_off, long s1_off, long s2_off,
                                        int amsgrad, hireal b1, hireal b2, hireal eps,
                                        hireal step_size) {
  TG_OPT_PROLOGUE
  __global T* m = s0 + s0_off + i;
  __global T* v = s1 + s1_off + i;
  *m = (T)((hireal)*m * b1 + gi * ((hireal)1 - b1));
  *v = (T)((hireal)*v * b2 + gi * gi * ((hireal)1 - b2));
  hireal vv = (hireal)*v;
  if (amsgrad) {
    __global T* vh = s2 + s2_off + i;
    const T mx = *vh < *v ? *v : *vh;
    *vh = mx;
    vv = (hireal)mx;
  }
  *pp = (T)(pv - (hireal)*m * step_size / (sqrt(vv) + eps));
}

__kernel void TG_CAT2(adagrad_update, SUF)(__global T* p, __global const T* g, __global T* s0,
                                           long n, long p_off, long g_off, long s0_off,
                                           hireal lr, hireal eps) {
  TG_OPT_PROLOGUE
  __global T* acc = s0 + s0_off + i;
  *acc = (T)((hireal)*acc + gi * gi);
  *pp = (T)(pv - gi * lr / sqrt((hireal)*acc + eps));
}

__kernel void TG_CAT2(adadelta_update, SUF)(__global T* p, __global const T* g, __global T* s0,
                                            __global T* s1, long n, long p_off, long g_off,
                                            long s0_off, long s1_off, hireal lr, hireal rho,
                                            hireal eps) {
  TG_OPT_PROLOGUE
  __global T* ag = s0 + s0_off + i;
  __global T* ad = s1 + s1_off + i;
  *ag = (T)((hireal)*ag * rho + gi * gi * ((hireal)1 - rho));
  const hireal delta = sqrt((hireal)*ad + eps) / sqrt((hireal)*ag + eps) * gi;
  *ad = (T)((hireal)*ad * rho + delta * delta * ((hireal)1 - rho));
  *pp = (T)(pv - delta * lr);
}

__kernel void TG_CAT2(adamax_update, SUF)(__global T* p, __global const T* g, __global T* s0,
                                          __global T* s1, long n, long p_off, long g_off,
                                          long s0_off, long s1_off, hireal b1, hireal b2,
                                          hireal eps, hireal step_size) {
  TG_OPT_PROLOGUE
  __global T* m = s0 + s0_off + i;
  __global T* u = s1 + s1_off + i;
  *m = (T)((hireal)*m * b1 + gi * ((hireal)1 - b1));
  const hireal ub = (hireal)*u * b2, ag = fabs(gi);
  *u = (T)(ub < ag ? ag : ub);
  *pp = (T)(pv - (hireal)*m * step_size / ((hireal)*u + eps));
}

__kernel void TG_CAT2(nadam_update, SUF)(__global T* p, __global const T* g, __global T* s0,
                                         __global T* s1, long n, long p_off, long g_off,
                                         long s0_off, long s1_off, hireal lr, hireal b1,
                                         hireal b2, hireal eps, hireal m_coef, hireal g_coef,
                                         hireal v_corr) {
  TG_OPT_PROLOGUE
  __global T* m = s0 + s0_off + i;
  __global T* v = s1 + s1_off + i;
  *m = (T)((hireal)*m * b1 + gi * ((hireal)1 - b1));
  *v = (T)((hireal)*v * b2 + gi * gi * ((hireal)1 - b2));
  const hireal m_hat = (hireal)*m * m_coef + gi * g_coef;
  const hireal v_hat = (hireal)*v / v_corr;
  *pp = (T)(pv - m_hat * lr / (sqrt(v_hat) + eps));
}

#undef TG_OPT_PROLOGUE
