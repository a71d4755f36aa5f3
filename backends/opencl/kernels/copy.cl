// Strided copy with conversion, instantiated per (source, destination) type pair: TS, SUFS, TD,
// SUFD and TO_TD(v) (C++ static_cast semantics: bool is v != 0) are defined before it.

__kernel void TG_CAT3(copy, SUFS, SUFD)(__global const TS* src, __global TD* dst, Geom g) {
  const long i = get_global_id(0);
  if (i >= g.numel) return;
  long o[2];
  geom_offsets(&g, i, 2, o);  // 0: dst, 1: src
  dst[o[0]] = TO_TD(src[o[1]]);
}
