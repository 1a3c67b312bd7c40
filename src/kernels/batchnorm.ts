// Batch normalization on the engine, x viewed as [rows, C] with channels last (rows = N*H*W for
// images, N for dense features): batch statistics, the normalizing forward and the training-mode
// backward. Sums run in f32 blocks then f64 per thread part (as/batchnorm.ts); temporaries are
// freed on return.
// gamma/beta may be 0 (no affine transform: scale 1, shift 0); so may dgamma/dbeta (not wanted).
// Not for: running averages or inference folding (the layer keeps those; they are elementwise).
import type { Engine } from './engine.js';

/** Elements below which a batch-norm pass stays on one thread. */
const MIN_ELEMS_PER_THREAD = 1 << 15;

/** One reduction part per thread when the input is big enough to split. */
function partsFor(e: Engine, rows: number, C: number): number {
  return Math.max(1, Math.min(e.threads, rows, Math.floor((rows * C) / MIN_ELEMS_PER_THREAD)));
}

function rowGrain(C: number): number {
  return Math.ceil(MIN_ELEMS_PER_THREAD / C);
}

/** mean [C] and biased variance [C] (divided by rows) of x [rows, C]: one pass of shifted sums. */
export function batchNormStats(e: Engine, x: number, rows: number, C: number, mean: number, variance: number): void {
  const parts = partsFor(e, rows, C);
  const partials = e.alloc(parts * 2 * C * 8);
  try {
    e.split('bn_moments', [x, rows, C, parts, partials], parts);
    e.k.bn_mean_var(partials, parts, rows, C, x, mean, variance);
  } finally {
    e.free(partials);
  }
}

/** out [rows, C] = (x - mean) / sqrt(variance + eps) * gamma + beta. */
export function batchNormForward(
  e: Engine,
  x: number,
  rows: number,
  C: number,
  mean: number,
  variance: number,
  eps: number,
  gamma: number,
  beta: number,
  out: number,
): void {
  const coef = e.alloc(2 * C * 4);
  try {
    e.k.bn_scale_shift(variance, gamma, beta, C, eps, coef);
    e.split('bn_forward', [x, C, mean, coef, out], rows, 1, rowGrain(C));
  } finally {
    e.free(coef);
  }
}

/**
 * Training-mode backward through the batch statistics (mean/variance of this very x):
 * dx [rows, C] = gamma/std * (dy - mean(dy) - xhat * mean(dy * xhat)); dgamma [C] = sum dy*xhat,
 * dbeta [C] = sum dy (both overwritten).
 */
export function batchNormBackward(
  e: Engine,
  x: number,
  dy: number,
  rows: number,
  C: number,
  mean: number,
  variance: number,
  eps: number,
  gamma: number,
  dx: number,
  dgamma: number,
  dbeta: number,
): void {
  const parts = partsFor(e, rows, C);
  const partials = e.alloc(parts * 2 * C * 8);
  // [invstd | A | B | D]: 1/std, then the dx coefficients of bn_backward_coefs.
  const coef = e.alloc(4 * C * 4);
  try {
    e.k.bn_scale_shift(variance, 0, 0, C, eps, coef);
    e.split('bn_backward_sums', [x, dy, rows, C, mean, coef, parts, partials], parts);
    e.k.bn_backward_coefs(partials, parts, rows, C, gamma, coef, dgamma, dbeta, coef + C * 4);
    e.split('bn_backward_dx', [x, dy, C, mean, coef + C * 4, dx], rows, 1, rowGrain(C));
  } finally {
    e.free(coef);
    e.free(partials);
  }
}
