// Optimizer kernels on the engine: fused SGD, Adam/AdamW and Adagrad updates of one parameter in
// place — all of it, or only the rows of a row-sparse gradient (RowSet) — and the sum of squares of
// a buffer (for gradient-norm clipping). Threading policy lives here.
// Not for: optimizer state, hyper-parameter checks or schedules (src/optim/).
import type { Engine } from './engine.js';
import { MIN_PER_THREAD } from './layout.js';

/** sgd_step flags (mirror of SGD_* in as/optim.ts). */
const SGD_FLAGS = { weightDecay: 1, momentum: 2, first: 4, nesterov: 8 } as const;
/** adam_step flags (mirror of ADAM_* in as/optim.ts). */
const ADAM_FLAGS = { l2: 1, decoupled: 2 } as const;
/** adagrad_step flags (mirror of ADAGRAD_* in as/optim.ts). */
const ADAGRAD_FLAGS = { weightDecay: 1 } as const;

/**
 * A row-sparse update: the gradient holds `count` rows of `width` values, for the parameter's rows
 * ids[count] (int32 in backend memory, unique); the parameter and its state are [V, width].
 */
export interface RowSet {
  ids: number;
  count: number;
  width: number;
}

/** Runs a dense update kernel over all n elements, or its *_rows variant over the rows of `rows`. */
function run(
  e: Engine,
  kernel: 'sgd_step' | 'adam_step' | 'adagrad_step',
  args: readonly number[],
  n: number,
  rows?: RowSet,
): void {
  if (!rows) e.split(kernel, args, n, 4, MIN_PER_THREAD);
  else {
    const rowKernel = kernel.replace('_step', '_rows') as 'sgd_rows' | 'adam_rows' | 'adagrad_rows';
    const minRows = Math.ceil(MIN_PER_THREAD / Math.max(rows.width, 1));
    e.split(rowKernel, [...args, rows.ids, rows.width], rows.count, 1, minRows);
  }
}

export interface SgdStepArgs {
  lr: number;
  /** 0 turns the momentum buffer off (buf is then not touched and may be 0). */
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
  /** The buffer has no history yet: it starts as the (decayed) gradient, as in PyTorch. */
  firstStep: boolean;
}

/** param[n] -= lr * d per torch.optim.SGD, updating the momentum buffer buf[n]; all in place (rows: only those). */
export function sgdStep(
  e: Engine,
  param: number,
  grad: number,
  buf: number,
  n: number,
  a: SgdStepArgs,
  rows?: RowSet,
): void {
  let flags = 0;
  if (a.weightDecay !== 0) flags |= SGD_FLAGS.weightDecay;
  if (a.momentum !== 0) {
    flags |= SGD_FLAGS.momentum;
    if (a.firstStep) flags |= SGD_FLAGS.first;
    if (a.nesterov) flags |= SGD_FLAGS.nesterov;
  }
  run(e, 'sgd_step', [param, grad, buf, a.lr, a.momentum, 1 - a.dampening, a.weightDecay, flags], n, rows);
}

export interface AdamStepArgs {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdamW: decay the parameter by (1 - lr * weightDecay) instead of adding weightDecay * p to g. */
  decoupled: boolean;
  /** 1-based step count of this parameter (for the bias corrections). */
  step: number;
}

/**
 * One torch.optim.Adam / AdamW update of param[n] with moments m[n], v[n]; all in place. With rows,
 * only those rows, as torch.optim.SparseAdam: p -= lr·sqrt(1 − β2^t)/(1 − β1^t) · m / (sqrt(v) + eps)
 * (eps outside the bias correction; see adamScalars).
 */
export function adamStep(
  e: Engine,
  param: number,
  grad: number,
  m: number,
  v: number,
  n: number,
  a: AdamStepArgs,
  rows?: RowSet,
): void {
  const { stepSize, bc2Sqrt } = adamScalars(a, rows !== undefined);
  let flags = 0;
  if (a.weightDecay !== 0) flags |= a.decoupled ? ADAM_FLAGS.decoupled : ADAM_FLAGS.l2;
  const decay = 1 - a.lr * a.weightDecay;
  const args = [param, grad, m, v, 1 - a.beta1, a.beta2, 1 - a.beta2, stepSize, bc2Sqrt, a.eps, a.weightDecay, decay];
  run(e, 'adam_step', [...args, flags], n, rows);
}

/**
 * The kernel's p -= stepSize · m / (sqrt(v) / bc2Sqrt + eps). Dense (torch.optim.Adam): stepSize =
 * lr/(1 − β1^t), bc2Sqrt = sqrt(1 − β2^t). Lazy (torch.optim.SparseAdam): stepSize = lr·sqrt(1 −
 * β2^t)/(1 − β1^t), bc2Sqrt = 1 — the same update but for eps, which SparseAdam adds before the
 * bias correction (in effect eps·sqrt(1 − β2^t) of dense Adam's).
 */
export function adamScalars(a: AdamStepArgs, lazy: boolean): { stepSize: number; bc2Sqrt: number } {
  const bc1 = 1 - a.beta1 ** a.step;
  const bc2Sqrt = Math.sqrt(1 - a.beta2 ** a.step);
  return lazy ? { stepSize: (a.lr * bc2Sqrt) / bc1, bc2Sqrt: 1 } : { stepSize: a.lr / bc1, bc2Sqrt };
}

export interface AdagradStepArgs {
  lr: number;
  /** Learning-rate decay per step: lr / (1 + (step − 1)·lrDecay). */
  lrDecay: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count of this parameter. */
  step: number;
}

/** One torch.optim.Adagrad update of param[n] with the sum of squared gradients sum[n]; in place (rows: only those). */
export function adagradStep(
  e: Engine,
  param: number,
  grad: number,
  sum: number,
  n: number,
  a: AdagradStepArgs,
  rows?: RowSet,
): void {
  const clr = a.lr / (1 + (a.step - 1) * a.lrDecay);
  const flags = a.weightDecay !== 0 ? ADAGRAD_FLAGS.weightDecay : 0;
  run(e, 'adagrad_step', [param, grad, sum, clr, a.eps, a.weightDecay, flags], n, rows);
}

/** Sum of x[n]² accumulated in f64; the same value for any thread count. */
export function sumSquares(e: Engine, x: number, n: number): number {
  if (n === 0) return 0;
  // Parts depend on n only (fixed summation order); each is large enough to be worth a thread.
  const parts = Math.max(1, Math.min(64, Math.floor(n / MIN_PER_THREAD)));
  const partials = e.alloc(parts * 8);
  try {
    e.split('sum_squares', [x, n, parts, partials], parts);
    const f64 = new Float64Array(e.memory.buffer, partials, parts);
    let s = 0;
    for (let p = 0; p < parts; p++) s += f64[p];
    return s;
  } finally {
    e.free(partials);
  }
}
