// Elementwise ops on the engine: unary activations and math with their derivatives, broadcasting
// binary ops, and the BLAS-1 helpers (scale, fill, axpy, copy). Threading policy lives here.
// Not for: reductions (reduce.ts), data movement (layout.ts), autograd bookkeeping (src/ops/).
import { broadcastShape } from '../shape/window.js';
import { broadcastStrides, coalesce, denseStrides } from './broadcast.js';
import type { Engine } from './engine.js';
import { MIN_PER_THREAD, stridedNd } from './layout.js';

/** Unary op codes (mirror of U_* in as/elementwise.ts). */
const UNARY = {
  neg: 0,
  exp: 1,
  log: 2,
  sqrt: 3,
  abs: 4,
  square: 5,
  reciprocal: 6,
  relu: 7,
  leakyRelu: 8,
  sigmoid: 9,
  tanh: 10,
  gelu: 11,
} as const;
export type UnaryOp = keyof typeof UNARY;
export const UNARY_OPS = Object.keys(UNARY) as UnaryOp[];

/** Binary op codes (mirror of B_* in as/elementwise.ts). */
const BINARY = { add: 0, sub: 1, mul: 2, div: 3, max: 4, min: 5, eq: 6, gt: 7 } as const;
export type BinaryOp = keyof typeof BINARY;
export const BINARY_OPS = Object.keys(BINARY) as BinaryOp[];

/** Ops whose scalar exp/tanh makes an element ~10x dearer: split them across threads sooner. */
const TRANSCENDENTAL = new Set<UnaryOp>(['exp', 'log', 'sigmoid', 'tanh', 'gelu']);

/** out[n] = op(x[n]) (gelu: tanh approximation; leakyRelu: slope alpha); in place allowed. */
export function unary(e: Engine, op: UnaryOp, x: number, out: number, n: number, alpha = 0.01): void {
  const min = TRANSCENDENTAL.has(op) ? MIN_PER_THREAD / 8 : MIN_PER_THREAD;
  e.split('unary', [UNARY[op], x, out, alpha], n, 4, min);
}

/** dx[n] = dy[n] * op'(x[n]), given y = op(x); dx may alias dy. */
export function unaryBackward(
  e: Engine,
  op: UnaryOp,
  x: number,
  y: number,
  dy: number,
  dx: number,
  n: number,
  alpha = 0.01,
): void {
  const min = op === 'gelu' ? MIN_PER_THREAD / 8 : MIN_PER_THREAD;
  e.split('unary_backward', [UNARY[op], x, y, dy, dx, alpha], n, 4, min);
}

/**
 * out[broadcastShape(aShape, bShape)] = a op b with numpy broadcasting (eq/gt give 1 or 0).
 * After merging dims, same-shape is one SIMD row, a scalar operand a splatted row, a bias-like
 * operand [rows, cols] + [cols] SIMD rows; anything else walks strided (rank <= 6 after merging).
 */
export function binary(
  e: Engine,
  op: BinaryOp,
  a: number,
  aShape: readonly number[],
  b: number,
  bShape: readonly number[],
  out: number,
): void {
  const shape = broadcastShape(aShape, bShape, op);
  const sp = coalesce(shape, [broadcastStrides(aShape, shape), broadcastStrides(bShape, shape), denseStrides(shape)]);
  stridedNd(e, BINARY[op], a, b, out, sp, op);
}

/** out[n] = x[n] * mul + add (in place allowed). */
export function scale(e: Engine, x: number, out: number, n: number, mul: number, add: number): void {
  e.split('scale_f32', [x, out, mul, add], n, 4, MIN_PER_THREAD);
}

/** out[n] = value. */
export function fill(e: Engine, out: number, n: number, value: number): void {
  e.split('fill_f32', [out, value], n, 4, MIN_PER_THREAD);
}

/** y[n] += alpha * x[n]. */
export function axpy(e: Engine, alpha: number, x: number, y: number, n: number): void {
  e.split('axpy_f32', [alpha, x, y], n, 4, MIN_PER_THREAD);
}

/** dst[n] = src[n]; overlapping ranges are allowed (then it runs on one thread, as memmove). */
export function copy(e: Engine, src: number, dst: number, n: number): void {
  if (src === dst || n === 0) return;
  const overlap = src < dst + n * 4 && dst < src + n * 4;
  if (overlap) e.k.copy_f32(src, dst, 0, n, 0);
  else e.split('copy_f32', [src, dst], n, 4, MIN_PER_THREAD);
}
