// Row softmax / log-softmax along the last axis (max-subtracted), their backward passes, and the
// fused softmax + cross-entropy loss (with label smoothing) used by classifiers.
// Rows [start, end) of x[rows, cols], so the pool can split rows across threads.
// Not for: softmax over other axes (the caller transposes) or reductions (reduce.ts).
import { madd } from './gemm_epilogue';

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;

/** e^x on 4 lanes (Cephes expf polynomial, ~2 ulp); x is clamped to [-87.3, 88.7], so very
 * negative inputs give ~1e-38 instead of 0. */
// @ts-ignore: decorator
@inline function exp4(x: v128): v128 {
  x = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-87.3365447505531)), f32x4.splat(88.72283905206835));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
  const r = madd(n, f32x4.splat(-LN2_LO), madd(n, f32x4.splat(-LN2_HI), x));
  let p = madd(f32x4.splat(1.9875691500e-4), r, f32x4.splat(1.3981999507e-3));
  p = madd(p, r, f32x4.splat(8.3334519073e-3));
  p = madd(p, r, f32x4.splat(4.1665795894e-2));
  p = madd(p, r, f32x4.splat(1.6666665459e-1));
  p = madd(p, r, f32x4.splat(5.0000001201e-1));
  p = f32x4.add(madd(p, f32x4.mul(r, r), r), f32x4.splat(1));
  const pow2n = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(p, pow2n);
}

/** exp4 on one value, so row tails round exactly like the vector body. */
// @ts-ignore: decorator
@inline function exp1(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0);
}

/** Largest value of row[0..n) (NaN propagates). */
// @ts-ignore: decorator
@inline function row_max(row: usize, n: i32): f32 {
  let acc = f32x4.splat(-Infinity);
  let c = 0;
  for (; c + 4 <= n; c += 4) acc = f32x4.max(acc, v128.load(row + (<usize>c << 2)));
  let m = max(max(f32x4.extract_lane(acc, 0), f32x4.extract_lane(acc, 1)), max(f32x4.extract_lane(acc, 2), f32x4.extract_lane(acc, 3)));
  for (; c < n; c++) m = max(m, load<f32>(row + (<usize>c << 2)));
  return m;
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** Writes e^(x - m) to dst (when dst != 0) and returns its sum. */
// @ts-ignore: decorator
@inline function exp_row(x: usize, dst: usize, n: i32, m: f32): f32 {
  const vm = f32x4.splat(m);
  let acc = f32x4.splat(0);
  let c = 0;
  for (; c + 4 <= n; c += 4) {
    const p = <usize>c << 2;
    const e = exp4(f32x4.sub(v128.load(x + p), vm));
    if (dst) v128.store(dst + p, e);
    acc = f32x4.add(acc, e);
  }
  let s = hsum(acc);
  for (; c < n; c++) {
    const p = <usize>c << 2;
    const e = exp1(load<f32>(x + p) - m);
    if (dst) store<f32>(dst + p, e);
    s += e;
  }
  return s;
}

/** dst[0..n) = src[0..n) * mul + add. */
// @ts-ignore: decorator
@inline function affine_row(src: usize, dst: usize, n: i32, mul: f32, add: f32): void {
  const vm = f32x4.splat(mul);
  const va = f32x4.splat(add);
  let c = 0;
  for (; c + 4 <= n; c += 4) {
    const p = <usize>c << 2;
    v128.store(dst + p, f32x4.add(f32x4.mul(v128.load(src + p), vm), va));
  }
  for (; c < n; c++) {
    const p = <usize>c << 2;
    store<f32>(dst + p, load<f32>(src + p) * mul + add);
  }
}

/** out = softmax(x) (or log-softmax when log != 0) along rows of x[rows, cols]; in place allowed. */
export function softmax_rows(x: usize, out: usize, cols: i32, log: i32, start: i32, end: i32, scratch: usize): void {
  for (let r = start; r < end; r++) {
    const off = <usize>r * <usize>cols << 2;
    const xr = x + off;
    const orow = out + off;
    const m = row_max(xr, cols);
    if (log) {
      const s = exp_row(xr, 0, cols, m);
      affine_row(xr, orow, cols, 1, -(m + Mathf.log(s)));
    } else {
      const s = exp_row(xr, orow, cols, m);
      affine_row(orow, orow, cols, <f32>1 / s, 0);
    }
  }
}

/** Sum of a[i] * b[i] (b = 0: sum of a). */
// @ts-ignore: decorator
@inline function dot_row(a: usize, b: usize, n: i32): f32 {
  let acc = f32x4.splat(0);
  let c = 0;
  if (b) {
    for (; c + 4 <= n; c += 4) acc = madd(v128.load(a + (<usize>c << 2)), v128.load(b + (<usize>c << 2)), acc);
  } else {
    for (; c + 4 <= n; c += 4) acc = f32x4.add(acc, v128.load(a + (<usize>c << 2)));
  }
  let s = hsum(acc);
  for (; c < n; c++) s += load<f32>(a + (<usize>c << 2)) * (b ? load<f32>(b + (<usize>c << 2)) : 1);
  return s;
}

/**
 * Softmax backward along rows, y = forward output: dx = y * (dy - sum(dy * y)); for
 * log-softmax: dx = dy - exp(y) * sum(dy). dx may alias dy.
 */
export function softmax_backward_rows(y: usize, dy: usize, dx: usize, cols: i32, log: i32, start: i32, end: i32, scratch: usize): void {
  for (let r = start; r < end; r++) {
    const off = <usize>r * <usize>cols << 2;
    const yr = y + off;
    const dyr = dy + off;
    const dxr = dx + off;
    if (log) {
      const vs = f32x4.splat(dot_row(dyr, 0, cols));
      let c = 0;
      for (; c + 4 <= cols; c += 4) {
        const p = <usize>c << 2;
        v128.store(dxr + p, f32x4.sub(v128.load(dyr + p), f32x4.mul(exp4(v128.load(yr + p)), vs)));
      }
      const s = f32x4.extract_lane(vs, 0);
      for (; c < cols; c++) {
        const p = <usize>c << 2;
        store<f32>(dxr + p, load<f32>(dyr + p) - exp1(load<f32>(yr + p)) * s);
      }
    } else {
      const vd = f32x4.splat(dot_row(dyr, yr, cols));
      let c = 0;
      for (; c + 4 <= cols; c += 4) {
        const p = <usize>c << 2;
        v128.store(dxr + p, f32x4.mul(v128.load(yr + p), f32x4.sub(v128.load(dyr + p), vd)));
      }
      const d = f32x4.extract_lane(vd, 0);
      for (; c < cols; c++) {
        const p = <usize>c << 2;
        store<f32>(dxr + p, load<f32>(yr + p) * (load<f32>(dyr + p) - d));
      }
    }
  }
}

/**
 * Per-row cross-entropy of softmax(logits) against integer labels, target = (1-s)·onehot + s/cols:
 * loss[r] = -(1-s)·logp[label] - (s/cols)·Σ logp; probs[r, :] = softmax(logits[r, :]).
 */
export function softmax_xent(logits: usize, labels: usize, probs: usize, loss: usize, cols: i32, smoothing: f32, start: i32, end: i32, scratch: usize): void {
  for (let r = start; r < end; r++) {
    const off = <usize>r * <usize>cols << 2;
    const xr = logits + off;
    const pr = probs + off;
    const m = row_max(xr, cols);
    const s = exp_row(xr, pr, cols, m);
    affine_row(pr, pr, cols, <f32>1 / s, 0);
    const lse = m + Mathf.log(s);
    const label = load<i32>(labels + (<usize>r << 2));
    let l = -(<f32>1 - smoothing) * (load<f32>(xr + (<usize>label << 2)) - lse);
    if (smoothing != 0) l -= (smoothing / <f32>cols) * (dot_row(xr, 0, cols) - <f32>cols * lse);
    store<f32>(loss + (<usize>r << 2), l);
  }
}

/** dLogits[r, :] = dLoss[r] · (probs[r, :] - target[r, :]). */
export function softmax_xent_backward(probs: usize, labels: usize, dLoss: usize, dLogits: usize, cols: i32, smoothing: f32, start: i32, end: i32, scratch: usize): void {
  const off_t = smoothing / <f32>cols;
  for (let r = start; r < end; r++) {
    const off = <usize>r * <usize>cols << 2;
    const g = load<f32>(dLoss + (<usize>r << 2));
    affine_row(probs + off, dLogits + off, cols, g, -g * off_t);
    const lp = dLogits + off + (<usize>load<i32>(labels + (<usize>r << 2)) << 2);
    store<f32>(lp, load<f32>(lp) - g * (<f32>1 - smoothing));
  }
}
