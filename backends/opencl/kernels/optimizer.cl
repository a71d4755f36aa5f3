// Fused optimizer updates (Backend::optimizer_update), instantiated for the floating types only
// (T, SUF as in typed.cl). One work item per element; arithmetic in hireal in the order
// nn/optimizer.cpp states the rules. kind is the enumerator value of tg::OptimizerKind; unused
// slot arguments point at any buffer and are not touched.

__kernel void TG_CAT2(optimizer_update, SUF)(__global T* p, __global const T* g, __global T* s0,
                                             __global T* s1, __global T* s2, long n, long p_off,
                                             long g_off, long s0_off, long s1_off, long s2_off,
                                             int kind, hireal lr, hireal b1, hireal b2,
                                             hireal rho, hireal mu, hireal eps, hireal step_size,
                                             hireal m_coef, hireal g_coef, hireal v_corr) {
  const long i = get_global_id(0);
  if (i >= n) return;
  __global T* pp = p + p_off + i;
  const hireal gi = (hireal)g[g_off + i];
  __global T* a = s0 + s0_off + i;
  __global T* b = s1 + s1_off + i;
  __global T* c = s2 + s2_off + i;
  const hireal pv = (hireal)*pp;
  switch (kind) {
    case 0:  // Sgd
      *pp = (T)(pv - gi * lr);
      break;
    case 1:    // SgdMomentum
    case 2: {  // SgdNesterov
      *a = (T)((hireal)*a * mu - gi * lr);
      const hireal m = (hireal)*a;
      *pp = (T)(kind == 2 ? pv + (m * mu - gi * lr) : pv + m);
      break;
    }
    case 3:    // RMSprop
    case 4:    // RMSpropMomentum
    case 5:    // RMSpropCentered
    case 6: {  // RMSpropCenteredMomentum
      *a = (T)((hireal)*a * rho + gi * gi * ((hireal)1 - rho));
      hireal denom = (hireal)*a;
      if (kind >= 5) {
        *b = (T)((hireal)*b * rho + gi * ((hireal)1 - rho));
        const hireal mg = (hireal)*b;
        denom -= mg * mg;
      }
      const hireal inc = gi * lr / sqrt(denom + eps);
      if (kind == 4 || kind == 6) {
        __global T* ms = kind == 6 ? c : b;
        *ms = (T)((hireal)*ms * mu + inc);
        *pp = (T)(pv - (hireal)*ms);
      } else {
        *pp = (T)(pv - inc);
      }
      break;
    }
    case 7:    // Adam
    case 8: {  // AdamAmsgrad
      *a = (T)((hireal)*a * b1 + gi * ((hireal)1 - b1));
      *b = (T)((hireal)*b * b2 + gi * gi * ((hireal)1 - b2));
      hireal vv = (hireal)*b;
      if (kind == 8) {
        const T mx = *c < *b ? *b : *c;
        *c = mx;
        vv = (hireal)mx;
      }
      *pp = (T)(pv - (hireal)*a * step_size / (sqrt(vv) + eps));
      break;
    }
    case 9:  // Adagrad
      *a = (T)((hireal)*a + gi * gi);
      *pp = (T)(pv - gi * lr / sqrt((hireal)*a + eps));
      break;
    case 10: {  // Adadelta
      *a = (T)((hireal)*a * rho + gi * gi * ((hireal)1 - rho));
      const hireal delta = sqrt((hireal)*b + eps) / sqrt((hireal)*a + eps) * gi;
      *b = (T)((hireal)*b * rho + delta * delta * ((hireal)1 - rho));
      *pp = (T)(pv - delta * lr);
      break;
    }
    case 11: {  // Adamax
      *a = (T)((hireal)*a * b1 + gi * ((hireal)1 - b1));
      const hireal ub = (hireal)*b * b2, ag = fabs(gi);
      *b = (T)(ub < ag ? ag : ub);
      *pp = (T)(pv - (hireal)*a * step_size / ((hireal)*b + eps));
      break;
    }
    case 12: {  // Nadam
      *a = (T)((hireal)*a * b1 + gi * ((hireal)1 - b1));
      *b = (T)((hireal)*b * b2 + gi * gi * ((hireal)1 - b2));
      const hireal m_hat = (hireal)*a * m_coef + gi * g_coef;
      const hireal v_hat = (hireal)*b / v_corr;
      *pp = (T)(pv - m_hat * lr / (sqrt(v_hat) + eps));
      break;
    }
  }
}
