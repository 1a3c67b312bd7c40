// Optimizer kernels on the engine: fused SGD and Adam/AdamW updates of one parameter in place, and
// the sum of squares of a buffer (for gradient-norm clipping). Threading policy lives here.
// Not for: optimizer state, hyper-parameter checks or schedules (src/optim/).
import type { Engine } from './engine.js';
import { MIN_PER_THREAD } from './layout.js';

/** sgd_step flags (mirror of SGD_* in as/optim.ts). */
const SGD_FLAGS = { weightDecay: 1, momentum: 2, first: 4, nesterov: 8 } as const;
/** adam_step flags (mirror of ADAM_* in as/optim.ts). */
const ADAM_FLAGS = { l2: 1, decoupled: 2 } as const;

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

/** param[n] -= lr * d per torch.optim.SGD, updating the momentum buffer buf[n]; all in place. */
export function sgdStep(e: Engine, param: number, grad: number, buf: number, n: number, a: SgdStepArgs): void {
  let flags = 0;
  if (a.weightDecay !== 0) flags |= SGD_FLAGS.weightDecay;
  if (a.momentum !== 0) {
    flags |= SGD_FLAGS.momentum;
    if (a.firstStep) flags |= SGD_FLAGS.first;
    if (a.nesterov) flags |= SGD_FLAGS.nesterov;
  }
  e.split(
    'sgd_step',
    [param, grad, buf, a.lr, a.momentum, 1 - a.dampening, a.weightDecay, flags],
    n,
    4,
    MIN_PER_THREAD,
  );
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

/** One torch.optim.Adam / AdamW update of param[n] with moments m[n], v[n]; all in place. */
export function adamStep(
  e: Engine,
  param: number,
  grad: number,
  m: number,
  v: number,
  n: number,
  a: AdamStepArgs,
): void {
  const bc1 = 1 - a.beta1 ** a.step;
  const bc2Sqrt = Math.sqrt(1 - a.beta2 ** a.step);
  let flags = 0;
  if (a.weightDecay !== 0) flags |= a.decoupled ? ADAM_FLAGS.decoupled : ADAM_FLAGS.l2;
  const decay = 1 - a.lr * a.weightDecay;
  e.split(
    'adam_step',
    [param, grad, m, v, 1 - a.beta1, a.beta2, 1 - a.beta2, a.lr / bc1, bc2Sqrt, a.eps, a.weightDecay, decay, flags],
    n,
    4,
    MIN_PER_THREAD,
  );
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
