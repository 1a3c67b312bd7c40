// int8 GEMM epilogue: turns a tile's i32 accumulators into outputs (zero-point correction,
// per-channel scale, bias, ReLU, then float32 or requantized int8). Shared by every generated
// int8 micro-kernel (generated/int8_micro.ts); full and partial tiles run the same SIMD code.
// Not for: the GEMM loops (int8.ts) or standalone quantize/dequantize (int8.ts).
//
// Exact arithmetic (each step rounded to f32, no FMA on any build, so results are identical on
// the baseline and relaxed builds and reproducible by a TypeScript reference with Math.fround):
//   acc'  = acc - zx * colsum[n]                    (i32, exact)
//   mul   = (sw[n] * sx) * outMul,  add = bias[n] * outMul   (outMul = 1/sy for int8, 1 for f32)
//   t     = f32(acc') * mul + add;  t = max(t, 0) with ReLU
//   f32 out: y = t;  int8 out: q = sat8(sat16(roundHalfEven(t)) + zy)

/** Epilogue flags. */
export const I8_OUT: i32 = 1;
export const I8_RELU: i32 = 2;
/** Raw i32 output (acc − zx·colsum), no scaling: the Winograd convolution transforms it after. */
export const I8_RAW: i32 = 4;

/** zx * colsum[n + 4h .. n + 4h + 4): colsum is padded to whole panels, so 8 lanes are readable. */
// @ts-ignore: decorator
@inline export function col_zero(colsum: usize, n: i32, zxv: v128, h: i32): v128 {
  return i32x4.mul(v128.load(colsum + (<usize>(n + 4 * h) << 2)), zxv);
}

/** (sw[n..] * sx) * outMul for 4 columns; scales are padded to whole panels like colsum. */
// @ts-ignore: decorator
@inline export function col_mul(scale: usize, n: i32, sxv: v128, outv: v128, h: i32): v128 {
  return f32x4.mul(f32x4.mul(v128.load(scale + (<usize>(n + 4 * h) << 2)), sxv), outv);
}

/**
 * Pointer to 8 bias values for columns [n, n + 8): in place when all 8 exist, else copied
 * (zero-padded) to scratch + 128 so no load reads past the caller's bias[N]; zeros without bias.
 */
export function bias8(bias: usize, n: i32, w: i32, scratch: usize): usize {
  if (bias != 0 && w >= 8) return bias + (<usize>n << 2);
  const tmp = scratch + 128;
  v128.store(tmp, i32x4.splat(0));
  v128.store(tmp, i32x4.splat(0), 16);
  if (bias != 0) for (let j = 0; j < w; j++) store<f32>(tmp + (<usize>j << 2), load<f32>(bias + (<usize>(n + j) << 2)));
  return tmp;
}

/** Applies the epilogue to one tile row (8 columns: c0 = columns 0-3, c1 = 4-7) and stores it at dst. */
// @ts-ignore: decorator
@inline export function epi_row8(c0: v128, c1: v128, z0: v128, z1: v128, m0: v128, m1: v128, o0: v128, o1: v128, flags: i32, zyv: v128, dst: usize): void {
  let t0 = f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(c0, z0)), m0), o0);
  let t1 = f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(c1, z1)), m1), o1);
  if (flags & I8_RELU) {
    t0 = f32x4.pmax(t0, f32x4.splat(0));
    t1 = f32x4.pmax(t1, f32x4.splat(0));
  }
  if (flags & I8_OUT) {
    v128.store64_lane(dst, requant8(t0, t1, zyv), 0);
  } else {
    v128.store(dst, t0);
    v128.store(dst, t1, 16);
  }
}

/**
 * 8 floats (t0, t1) -> int8 in the low 8 bytes: round half to even, then add the zero point
 * with saturation at every width (i32 -> i16 -> +zy -> i8), so any input clamps to [-128, 127]
 * (NaN -> zy). quantize_i8 uses the same routine.
 */
// @ts-ignore: decorator
@inline export function requant8(t0: v128, t1: v128, zyv: v128): v128 {
  const q0 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(t0));
  const q1 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(t1));
  const h = i16x8.add_sat_s(i16x8.narrow_i32x4_s(q0, q1), zyv);
  return i8x16.narrow_i16x8_s(h, h);
}

/** Copies the first w columns of mr spilled rows (scratch, 32-byte rows) to y (row stride ldy bytes). */
export function copy_partial(scratch: usize, y: usize, ldy: usize, mr: i32, w: i32, esz: usize): void {
  const bytes = <usize>w * esz;
  for (let r = 0; r < mr; r++) memory.copy(y + <usize>r * ldy, scratch + <usize>(r * 32), bytes);
}
