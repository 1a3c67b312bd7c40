// Column reductions shared by the pool and norm kernels: over x[rows, C] (NHWC pixels, batch-norm
// rows), a workgroup of 256 holds CT adjacent channels (so a row's reads stay contiguous) and
// 256 / CT lanes that stride the rows, summed by a tree in workgroup memory.
// Not for: reductions over the innermost axis (reduce.ts).

/** Channels per workgroup: the smallest power of two ≥ C, at most 32. */
export function channelTile(C: number): number {
  let ct = 1;
  while (ct < C && ct < 32) ct *= 2;
  return ct;
}

/**
 * WGSL: `colsum(lid, v)` sums v over the lanes of lid's channel (lid % ct) and returns it to every
 * invocation; all 256 invocations of the workgroup must call it (it holds barriers).
 */
export function colsumFn(ct: number): string {
  return `var<workgroup> red_: array<f32, 256>;
fn colsum(lid: u32, v: f32) -> f32 {
  red_[lid] = v;
  workgroupBarrier();
  for (var h = ${256 / ct / 2}u; h > 0u; h >>= 1u) {
    if (lid < h * ${ct}u) { red_[lid] += red_[lid + h * ${ct}u]; }
    workgroupBarrier();
  }
  let r = red_[lid % ${ct}u];
  workgroupBarrier();
  return r;
}`;
}
