// WebGPU kernels: reductions (sum/mean/max over axes, argmax, Σx²) and softmax, log-softmax,
// their backward and softmax cross-entropy with label smoothing. Semantics: src/backend/backend.ts
// and the reference backend (reference.ts).

import type { ReduceFn } from '../backend.js';
import { notBuilt } from './stub.js';
import type { Kernels } from './wgsl.js';

export function reduce(
  k: Kernels,
  fn: ReduceFn,
  x: number,
  shape: readonly number[],
  axes: readonly number[],
  out: number,
): void {
  notBuilt(k, 'reduce', fn, x, shape, axes, out);
}
export function argmax(k: Kernels, x: number, rows: number, cols: number, out: number): void {
  notBuilt(k, 'argmax', x, rows, cols, out);
}
export function sumSquares(k: Kernels, x: number, n: number): number {
  return notBuilt(k, 'sumSquares', x, n);
}
export function softmax(k: Kernels, x: number, rows: number, cols: number, out: number, log: boolean): void {
  notBuilt(k, 'softmax', x, rows, cols, out, log);
}
export function softmaxBackward(
  k: Kernels,
  y: number,
  dy: number,
  dx: number,
  rows: number,
  cols: number,
  log: boolean,
): void {
  notBuilt(k, 'softmaxBackward', y, dy, dx, rows, cols, log);
}
export function softmaxCrossEntropy(
  k: Kernels,
  logits: number,
  labels: number,
  rows: number,
  cols: number,
  loss: number,
  probs: number,
  smoothing: number,
): void {
  notBuilt(k, 'softmaxCrossEntropy', logits, labels, rows, cols, loss, probs, smoothing);
}
export function softmaxCrossEntropyBackward(
  k: Kernels,
  probs: number,
  labels: number,
  rows: number,
  cols: number,
  dLoss: number,
  dLogits: number,
  smoothing: number,
): void {
  notBuilt(k, 'softmaxCrossEntropyBackward', probs, labels, rows, cols, dLoss, dLogits, smoothing);
}
