// Transcendental functions on 4 f32 lanes for the activations: e^x (Cody–Waite reduction and
// Cephes' expf polynomial, about 1 ulp over the clamped range), the logistic function and tanh.
// exp4 clamps its argument to [−87.3, 88.3] (no inf, no denormal): right for sigmoid and tanh,
// not a general exp (elementwise.ts keeps the scalar Mathf.exp for the `exp` op).
// Not for: scalar forms (gemm_epilogue.ts: sigmoid, tanhf, gelu).
import { madd } from './gemm_epilogue';

/** e^x on 4 lanes: Cody–Waite range reduction and Cephes' expf polynomial (≈ 1 ulp), x clamped to [−87.3, 88.3]. */
// @ts-ignore: decorator
@inline export function exp4(x: v128): v128 {
  x = f32x4.min(f32x4.max(x, f32x4.splat(-87.3)), f32x4.splat(88.3));
  const fx = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.4426950408889634)));
  let r = f32x4.sub(x, f32x4.mul(fx, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(fx, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = madd(p, r, f32x4.splat(1.3981999507e-3));
  p = madd(p, r, f32x4.splat(8.3334519073e-3));
  p = madd(p, r, f32x4.splat(4.1665795894e-2));
  p = madd(p, r, f32x4.splat(1.6666665459e-1));
  p = madd(p, r, f32x4.splat(5.0000001201e-1));
  p = madd(p, f32x4.mul(r, r), f32x4.add(r, f32x4.splat(1)));
  // 2^fx through the exponent bits (fx in [−126, 127]: a normal number)
  return f32x4.mul(p, i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(fx), i32x4.splat(127)), 23));
}

// @ts-ignore: decorator
@inline export function sigmoid4(x: v128): v128 {
  return f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), exp4(f32x4.neg(x))));
}

/** tanh on 4 lanes via e^(−2|x|) (no overflow), the sign put back. */
// @ts-ignore: decorator
@inline export function tanh4(x: v128): v128 {
  const e = exp4(f32x4.mul(f32x4.abs(x), f32x4.splat(-2)));
  const t = f32x4.div(f32x4.sub(f32x4.splat(1), e), f32x4.add(f32x4.splat(1), e));
  return v128.or(t, v128.and(x, i32x4.splat(0x80000000)));
}

/** GELU, tanh approximation (PyTorch's approximate='tanh'), on 4 lanes. */
// @ts-ignore: decorator
@inline export function gelu4(x: v128): v128 {
  const u = f32x4.mul(f32x4.splat(0.7978845608028654), madd(f32x4.mul(f32x4.splat(0.044715), x), f32x4.mul(x, x), x));
  return f32x4.mul(f32x4.mul(f32x4.splat(0.5), x), f32x4.add(f32x4.splat(1), tanh4(u)));
}
