// Elementwise kernels: unary ops and their derivatives, binary ops on one strided row (the
// broadcasting walker in layout.ts calls binary_row), scale / fill / axpy / copy.
// Every exported kernel ends with (start, end, scratch) over elements so the pool can split it.
// Not for: shape logic or broadcasting rules (TypeScript side, src/kernels/elementwise.ts).
import { gelu, sigmoid, tanhf } from './gemm_epilogue';
import { gelu4, sigmoid4, tanh4 } from './math4';

/** Unary op codes (mirror of UNARY in src/kernels/elementwise.ts). */
const U_NEG: i32 = 0;
const U_EXP: i32 = 1;
const U_LOG: i32 = 2;
const U_SQRT: i32 = 3;
const U_ABS: i32 = 4;
const U_SQUARE: i32 = 5;
const U_RECIPROCAL: i32 = 6;
const U_RELU: i32 = 7;
const U_LEAKY: i32 = 8;
const U_SIGMOID: i32 = 9;
const U_TANH: i32 = 10;
const U_GELU: i32 = 11;

/** Binary op codes (mirror of BINARY in src/kernels/elementwise.ts). */
const B_ADD: i32 = 0;
const B_SUB: i32 = 1;
const B_MUL: i32 = 2;
const B_DIV: i32 = 3;
const B_MAX: i32 = 4;
const B_MIN: i32 = 5;
const B_EQ: i32 = 6;
const B_GT: i32 = 7;

const GELU_K: f32 = 0.7978845608028654;
const GELU_C: f32 = 0.044715;

// ---- unary ---------------------------------------------------------------------------------

/** One op on 4 lanes; only called for the codes that have a SIMD form (see unary_simd). */
// @ts-ignore: decorator
@inline function unary_v(op: i32, v: v128, alpha: f32): v128 {
  switch (op) {
    case U_NEG: return f32x4.neg(v);
    case U_SQRT: return f32x4.sqrt(v);
    case U_ABS: return f32x4.abs(v);
    case U_SQUARE: return f32x4.mul(v, v);
    case U_RECIPROCAL: return f32x4.div(f32x4.splat(1), v);
    // pmax(0, v) = 0 < v ? v : 0, which is act_scalar's relu bit for bit (NaN and -0 give 0).
    case U_RELU: return f32x4.pmax(f32x4.splat(0), v);
    case U_LEAKY: return v128.bitselect(v, f32x4.mul(v, f32x4.splat(alpha)), f32x4.gt(v, f32x4.splat(0)));
    case U_SIGMOID: return sigmoid4(v);
    case U_TANH: return tanh4(v);
    case U_GELU: return gelu4(v);
  }
  return v;
}

// @ts-ignore: decorator
@inline function unary_s(op: i32, x: f32, alpha: f32): f32 {
  switch (op) {
    case U_NEG: return -x;
    case U_EXP: return Mathf.exp(x);
    case U_LOG: return Mathf.log(x);
    case U_SQRT: return Mathf.sqrt(x);
    case U_ABS: return Mathf.abs(x);
    case U_SQUARE: return x * x;
    case U_RECIPROCAL: return <f32>1 / x;
    case U_RELU: return x > 0 ? x : 0;
    case U_LEAKY: return x > 0 ? x : x * alpha;
    case U_SIGMOID: return sigmoid(x);
    case U_TANH: return tanhf(x);
    case U_GELU: return gelu(x);
  }
  return x;
}

// @ts-ignore: decorator
@inline function unary_loop(op: i32, x: usize, out: usize, alpha: f32, start: i32, end: i32): void {
  let i = start;
  if (op == U_NEG || op == U_SQRT || op == U_ABS || op == U_SQUARE || op == U_RECIPROCAL || op == U_RELU || op == U_LEAKY ||
      op == U_SIGMOID || op == U_TANH || op == U_GELU) {
    for (; i + 4 <= end; i += 4) {
      const p = <usize>i << 2;
      v128.store(out + p, unary_v(op, v128.load(x + p), alpha));
    }
  }
  for (; i < end; i++) {
    const p = <usize>i << 2;
    store<f32>(out + p, unary_s(op, load<f32>(x + p), alpha));
  }
}

/** out[i] = f(x[i]) for i in [start, end); in place allowed. */
export function unary(op: i32, x: usize, out: usize, alpha: f32, start: i32, end: i32, scratch: usize): void {
  // One loop per op, so the op switch is resolved outside the loop.
  switch (op) {
    case U_NEG: unary_loop(U_NEG, x, out, alpha, start, end); break;
    case U_EXP: unary_loop(U_EXP, x, out, alpha, start, end); break;
    case U_LOG: unary_loop(U_LOG, x, out, alpha, start, end); break;
    case U_SQRT: unary_loop(U_SQRT, x, out, alpha, start, end); break;
    case U_ABS: unary_loop(U_ABS, x, out, alpha, start, end); break;
    case U_SQUARE: unary_loop(U_SQUARE, x, out, alpha, start, end); break;
    case U_RECIPROCAL: unary_loop(U_RECIPROCAL, x, out, alpha, start, end); break;
    case U_RELU: unary_loop(U_RELU, x, out, alpha, start, end); break;
    case U_LEAKY: unary_loop(U_LEAKY, x, out, alpha, start, end); break;
    case U_SIGMOID: unary_loop(U_SIGMOID, x, out, alpha, start, end); break;
    case U_TANH: unary_loop(U_TANH, x, out, alpha, start, end); break;
    case U_GELU: unary_loop(U_GELU, x, out, alpha, start, end); break;
  }
}

/** f'(x) times dy, given x and y = f(x); uses y where that is cheaper (exp, sigmoid, tanh, ...). */
// @ts-ignore: decorator
@inline function unary_grad_s(op: i32, x: f32, y: f32, dy: f32, alpha: f32): f32 {
  switch (op) {
    case U_NEG: return -dy;
    case U_EXP: return dy * y;
    case U_LOG: return dy / x;
    case U_SQRT: return dy * <f32>0.5 / y;
    case U_ABS: return x > 0 ? dy : x < 0 ? -dy : 0;
    case U_SQUARE: return dy * <f32>2 * x;
    case U_RECIPROCAL: return -dy * y * y;
    case U_RELU: return x > 0 ? dy : 0;
    case U_LEAKY: return x > 0 ? dy : dy * alpha;
    case U_SIGMOID: return dy * y * (<f32>1 - y);
    case U_TANH: return dy * (<f32>1 - y * y);
    // the 4-lane formula on one lane: an element's gradient does not depend on where a split falls
    case U_GELU:
      return f32x4.extract_lane(unary_grad_v(U_GELU, f32x4.splat(x), f32x4.splat(y), f32x4.splat(dy), alpha), 0);
  }
  return dy;
}

// @ts-ignore: decorator
@inline function unary_grad_v(op: i32, x: v128, y: v128, dy: v128, alpha: f32): v128 {
  const zero = f32x4.splat(0);
  const one = f32x4.splat(1);
  switch (op) {
    case U_NEG: return f32x4.neg(dy);
    case U_EXP: return f32x4.mul(dy, y);
    case U_LOG: return f32x4.div(dy, x);
    case U_SQRT: return f32x4.div(f32x4.mul(dy, f32x4.splat(0.5)), y);
    case U_ABS: return v128.bitselect(dy, v128.and(f32x4.neg(dy), f32x4.lt(x, zero)), f32x4.gt(x, zero));
    case U_SQUARE: return f32x4.mul(f32x4.mul(dy, f32x4.splat(2)), x);
    case U_RECIPROCAL: return f32x4.mul(f32x4.mul(f32x4.neg(dy), y), y);
    case U_RELU: return v128.and(dy, f32x4.gt(x, zero));
    case U_LEAKY: return v128.bitselect(dy, f32x4.mul(dy, f32x4.splat(alpha)), f32x4.gt(x, zero));
    case U_SIGMOID: return f32x4.mul(f32x4.mul(dy, y), f32x4.sub(one, y));
    case U_TANH: return f32x4.mul(dy, f32x4.sub(one, f32x4.mul(y, y)));
    case U_GELU: {
      // as the scalar: d/dx of 0.5·x·(1 + tanh(K·(x + C·x³)))
      const half = f32x4.splat(0.5);
      const x2 = f32x4.mul(x, x);
      const t = tanh4(f32x4.mul(f32x4.splat(GELU_K), f32x4.add(x, f32x4.mul(f32x4.splat(GELU_C), f32x4.mul(x2, x)))));
      const du = f32x4.mul(f32x4.splat(GELU_K), f32x4.add(one, f32x4.mul(f32x4.splat(<f32>3 * GELU_C), x2)));
      const left = f32x4.mul(half, f32x4.add(one, t));
      const right = f32x4.mul(f32x4.mul(f32x4.mul(half, x), f32x4.sub(one, f32x4.mul(t, t))), du);
      return f32x4.mul(dy, f32x4.add(left, right));
    }
  }
  return dy;
}

// @ts-ignore: decorator
@inline function unary_grad_loop(op: i32, x: usize, y: usize, dy: usize, dx: usize, alpha: f32, start: i32, end: i32): void {
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const p = <usize>i << 2;
    v128.store(dx + p, unary_grad_v(op, v128.load(x + p), v128.load(y + p), v128.load(dy + p), alpha));
  }
  for (; i < end; i++) {
    const p = <usize>i << 2;
    store<f32>(dx + p, unary_grad_s(op, load<f32>(x + p), load<f32>(y + p), load<f32>(dy + p), alpha));
  }
}

/** dx[i] = dy[i] * f'(x[i]) for i in [start, end), with y = f(x) given. dx may alias dy. */
export function unary_backward(op: i32, x: usize, y: usize, dy: usize, dx: usize, alpha: f32, start: i32, end: i32, scratch: usize): void {
  switch (op) {
    case U_NEG: unary_grad_loop(U_NEG, x, y, dy, dx, alpha, start, end); break;
    case U_EXP: unary_grad_loop(U_EXP, x, y, dy, dx, alpha, start, end); break;
    case U_LOG: unary_grad_loop(U_LOG, x, y, dy, dx, alpha, start, end); break;
    case U_SQRT: unary_grad_loop(U_SQRT, x, y, dy, dx, alpha, start, end); break;
    case U_ABS: unary_grad_loop(U_ABS, x, y, dy, dx, alpha, start, end); break;
    case U_SQUARE: unary_grad_loop(U_SQUARE, x, y, dy, dx, alpha, start, end); break;
    case U_RECIPROCAL: unary_grad_loop(U_RECIPROCAL, x, y, dy, dx, alpha, start, end); break;
    case U_RELU: unary_grad_loop(U_RELU, x, y, dy, dx, alpha, start, end); break;
    case U_LEAKY: unary_grad_loop(U_LEAKY, x, y, dy, dx, alpha, start, end); break;
    case U_SIGMOID: unary_grad_loop(U_SIGMOID, x, y, dy, dx, alpha, start, end); break;
    case U_TANH: unary_grad_loop(U_TANH, x, y, dy, dx, alpha, start, end); break;
    case U_GELU: unary_grad_loop(U_GELU, x, y, dy, dx, alpha, start, end); break;
  }
}

// ---- binary --------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function binary_v(op: i32, a: v128, b: v128): v128 {
  switch (op) {
    case B_ADD: return f32x4.add(a, b);
    case B_SUB: return f32x4.sub(a, b);
    case B_MUL: return f32x4.mul(a, b);
    case B_DIV: return f32x4.div(a, b);
    // max/min propagate NaN like numpy.maximum (the scalar Mathf.max does too).
    case B_MAX: return f32x4.max(a, b);
    case B_MIN: return f32x4.min(a, b);
    case B_EQ: return v128.and(f32x4.eq(a, b), f32x4.splat(1));
    case B_GT: return v128.and(f32x4.gt(a, b), f32x4.splat(1));
  }
  return a;
}

// @ts-ignore: decorator
@inline function binary_s(op: i32, a: f32, b: f32): f32 {
  switch (op) {
    case B_ADD: return a + b;
    case B_SUB: return a - b;
    case B_MUL: return a * b;
    case B_DIV: return a / b;
    case B_MAX: return Mathf.max(a, b);
    case B_MIN: return Mathf.min(a, b);
    case B_EQ: return a == b ? 1 : 0;
    case B_GT: return a > b ? 1 : 0;
  }
  return a;
}

/** out[0..n) = a[i*sa] op b[i*sb] (strides in elements; out dense). SIMD when each input
 * stride is 1 (same-shape) or 0 (scalar / broadcast row). */
// @ts-ignore: decorator
@inline function binary_loop(op: i32, a: usize, sa: i32, b: usize, sb: i32, out: usize, n: i32): void {
  let i = 0;
  if (sa == 1 && sb == 1) {
    for (; i + 4 <= n; i += 4) {
      const p = <usize>i << 2;
      v128.store(out + p, binary_v(op, v128.load(a + p), v128.load(b + p)));
    }
  } else if (sa == 1 && sb == 0) {
    const vb = v128.load32_splat(b);
    for (; i + 4 <= n; i += 4) {
      const p = <usize>i << 2;
      v128.store(out + p, binary_v(op, v128.load(a + p), vb));
    }
  } else if (sa == 0 && sb == 1) {
    const va = v128.load32_splat(a);
    for (; i + 4 <= n; i += 4) {
      const p = <usize>i << 2;
      v128.store(out + p, binary_v(op, va, v128.load(b + p)));
    }
  }
  const ea = <usize>sa << 2;
  const eb = <usize>sb << 2;
  for (; i < n; i++) {
    store<f32>(out + (<usize>i << 2), binary_s(op, load<f32>(a + <usize>i * ea), load<f32>(b + <usize>i * eb)));
  }
}

/** One output row of a broadcast binary op (called by strided_nd in layout.ts). */
export function binary_row(op: i32, a: usize, sa: i32, b: usize, sb: i32, out: usize, n: i32): void {
  switch (op) {
    case B_ADD: binary_loop(B_ADD, a, sa, b, sb, out, n); break;
    case B_SUB: binary_loop(B_SUB, a, sa, b, sb, out, n); break;
    case B_MUL: binary_loop(B_MUL, a, sa, b, sb, out, n); break;
    case B_DIV: binary_loop(B_DIV, a, sa, b, sb, out, n); break;
    case B_MAX: binary_loop(B_MAX, a, sa, b, sb, out, n); break;
    case B_MIN: binary_loop(B_MIN, a, sa, b, sb, out, n); break;
    case B_EQ: binary_loop(B_EQ, a, sa, b, sb, out, n); break;
    case B_GT: binary_loop(B_GT, a, sa, b, sb, out, n); break;
  }
}

// ---- scale / fill / axpy / copy --------------------------------------------------------------

/** out[i] = x[i] * mul + add over [start, end); in place allowed. */
export function scale_f32(x: usize, out: usize, mul: f32, add: f32, start: i32, end: i32, scratch: usize): void {
  const vm = f32x4.splat(mul);
  const va = f32x4.splat(add);
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const p = <usize>i << 2;
    v128.store(out + p, f32x4.add(f32x4.mul(v128.load(x + p), vm), va));
  }
  for (; i < end; i++) {
    const p = <usize>i << 2;
    store<f32>(out + p, load<f32>(x + p) * mul + add);
  }
}

/** out[i] = value over [start, end). */
export function fill_f32(out: usize, value: f32, start: i32, end: i32, scratch: usize): void {
  const v = f32x4.splat(value);
  let i = start;
  for (; i + 4 <= end; i += 4) v128.store(out + (<usize>i << 2), v);
  for (; i < end; i++) store<f32>(out + (<usize>i << 2), value);
}

/** y[i] += alpha * x[i] over [start, end). */
export function axpy_f32(alpha: f32, x: usize, y: usize, start: i32, end: i32, scratch: usize): void {
  const va = f32x4.splat(alpha);
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const p = <usize>i << 2;
    v128.store(y + p, f32x4.add(v128.load(y + p), f32x4.mul(v128.load(x + p), va)));
  }
  for (; i < end; i++) {
    const p = <usize>i << 2;
    store<f32>(y + p, load<f32>(y + p) + alpha * load<f32>(x + p));
  }
}

/** dst[i] = src[i] over [start, end) (memmove when the whole range is one call). */
export function copy_f32(src: usize, dst: usize, start: i32, end: i32, scratch: usize): void {
  const p = <usize>start << 2;
  memory.copy(dst + p, src + p, <usize>(end - start) << 2);
}
