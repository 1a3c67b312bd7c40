// Softmax family on the engine, along the last axis of x[rows, cols]: softmax / log-softmax and
// their backward, and the fused softmax + cross-entropy loss with label smoothing (PyTorch's).
// Rows are split across threads. Not for: other axes (transpose first) or loss reduction over the
// batch (the caller means loss[rows]).
import type { Engine } from './engine.js';

/** Elements per thread below which a softmax stays on one thread (exp makes elements dear). */
const MIN_PER_THREAD = 8192;

function minRows(cols: number): number {
  return Math.max(1, Math.ceil(MIN_PER_THREAD / cols));
}

/** out[rows, cols] = softmax(x) along the last axis (log-softmax when `log`); in place allowed. */
export function softmax(e: Engine, x: number, rows: number, cols: number, out: number, log = false): void {
  e.split('softmax_rows', [x, out, cols, log ? 1 : 0], rows, 1, minRows(cols));
}

/** dx[rows, cols] from y = softmax(x) (or log-softmax when `log`) and dy; dx may alias dy. */
export function softmaxBackward(
  e: Engine,
  y: number,
  dy: number,
  dx: number,
  rows: number,
  cols: number,
  log = false,
): void {
  e.split('softmax_backward_rows', [y, dy, dx, cols, log ? 1 : 0], rows, 1, minRows(cols));
}

/**
 * loss[rows] = cross-entropy of softmax(logits[rows, cols]) against labels (i32[rows]) with target
 * (1 - smoothing)·onehot + smoothing/cols; probs[rows, cols] = softmax(logits), kept for backward.
 */
export function softmaxCrossEntropy(
  e: Engine,
  logits: number,
  labels: number,
  rows: number,
  cols: number,
  loss: number,
  probs: number,
  smoothing = 0,
): void {
  e.split('softmax_xent', [logits, labels, probs, loss, cols, smoothing], rows, 1, minRows(cols));
}

/** dLogits[rows, cols] = dLoss[r] · (probs - target), the gradient of softmaxCrossEntropy. */
export function softmaxCrossEntropyBackward(
  e: Engine,
  probs: number,
  labels: number,
  rows: number,
  cols: number,
  dLoss: number,
  dLogits: number,
  smoothing = 0,
): void {
  e.split('softmax_xent_backward', [probs, labels, dLoss, dLogits, cols, smoothing], rows, 1, minRows(cols));
}
