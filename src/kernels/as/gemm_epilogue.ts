// GEMM epilogue: what happens to an accumulator tile before it is stored (accumulate into C,
// bias, residual add, activation). Shared by every generated micro-kernel (generated/micro.ts).
// Not for: the GEMM loops themselves (gemm.ts) or standalone elementwise ops (elementwise.ts).

import { gelu4, sigmoid4, tanh4 } from './math4';

/** Flags (bit set). ACCUM: add the tile to what C already holds (beta = 1; also every K block
 * after the first). LAST: this is the final K block, apply bias/residual/activation. */
export const EPI_ACCUM: i32 = 1;
export const EPI_LAST: i32 = 2;
export const EPI_BIAS: i32 = 4;
export const EPI_RES: i32 = 8;
/** Activation codes, stored in flags >> 8. Codes below ACT_SCALAR_FIRST run in SIMD registers. */
export const ACT_NONE: i32 = 0;
export const ACT_RELU: i32 = 1;
export const ACT_LEAKY: i32 = 2;
export const ACT_SCALAR_FIRST: i32 = 3;
export const ACT_SIGMOID: i32 = 3;
export const ACT_TANH: i32 = 4;
export const ACT_GELU: i32 = 5;

/** a * b + c; one FMA on the relaxed-SIMD build, mul + add on the baseline build. */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** Epilogue for one 4-lane vector of a full tile; `cp` is where it will be stored. */
// @ts-ignore: decorator
@inline export function epi(v: v128, cp: usize, flags: i32, bp: usize, rp: usize, alpha: f32): v128 {
  if (flags & EPI_ACCUM) v = f32x4.add(v, v128.load(cp));
  if (flags & EPI_LAST) {
    if (flags & EPI_BIAS) v = f32x4.add(v, v128.load(bp));
    if (flags & EPI_RES) v = f32x4.add(v, v128.load(rp));
    const act = flags >> 8;
    if (act == ACT_RELU) v = f32x4.pmax(v, f32x4.splat(0));
    else if (act == ACT_LEAKY) v = f32x4.pmax(v, f32x4.mul(v, f32x4.splat(alpha)));
  }
  return v;
}

/** Scalar activation (all codes); the reference the SIMD paths must agree with. */
export function act_scalar(x: f32, act: i32, alpha: f32): f32 {
  switch (act) {
    case ACT_RELU:
      return x > 0 ? x : 0;
    case ACT_LEAKY:
      return x > 0 ? x : x * alpha;
    case ACT_SIGMOID:
      return sigmoid(x);
    case ACT_TANH:
      return tanhf(x);
    case ACT_GELU:
      return gelu(x);
  }
  return x;
}

/** Numerically safe logistic function. */
export function sigmoid(x: f32): f32 {
  if (x >= 0) return <f32>1 / (<f32>1 + Mathf.exp(-x));
  const e = Mathf.exp(x);
  return e / (<f32>1 + e);
}

/** tanh via exp of a non-positive argument (no overflow). */
export function tanhf(x: f32): f32 {
  const e = Mathf.exp(-2 * Mathf.abs(x));
  const t: f32 = (<f32>1 - e) / (<f32>1 + e);
  return x < 0 ? -t : t;
}

/** GELU, tanh approximation (PyTorch's approximate='tanh'). */
export function gelu(x: f32): f32 {
  const u: f32 = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  return <f32>0.5 * x * (<f32>1 + tanhf(u));
}

/** Applies sigmoid, tanh or GELU to a stored full tile (w a multiple of 4): 4 lanes at a time (math4.ts). */
export function act_rows(c: usize, ldc: usize, mr: i32, w: i32, act: i32, alpha: f32): void {
  for (let r = 0; r < mr; r++) {
    const row = c + <usize>r * ldc;
    for (let j = 0; j < w; j += 4) {
      const p = row + (<usize>j << 2);
      const v = v128.load(p);
      v128.store(p, act == ACT_SIGMOID ? sigmoid4(v) : act == ACT_TANH ? tanh4(v) : gelu4(v));
    }
  }
}

/** Stores the first `ncols` columns of a spilled tile (scratch[mr][w]) with the epilogue. */
export function store_partial(scratch: usize, w: i32, c: usize, ldc: usize, mr: i32, ncols: i32, n: i32, flags: i32, bias: usize, res: usize, ldr: usize, alpha: f32): void {
  const act = flags >> 8;
  for (let r = 0; r < mr; r++) {
    for (let j = 0; j < ncols; j++) {
      const cp = c + <usize>r * ldc + (<usize>j << 2);
      let v = load<f32>(scratch + (<usize>(r * w + j) << 2));
      if (flags & EPI_ACCUM) v += load<f32>(cp);
      if (flags & EPI_LAST) {
        if (flags & EPI_BIAS) v += load<f32>(bias + (<usize>(n + j) << 2));
        if (flags & EPI_RES) v += load<f32>(res + <usize>r * ldr + (<usize>j << 2));
        v = act_scalar(v, act, alpha);
      }
      store<f32>(cp, v);
    }
  }
}
