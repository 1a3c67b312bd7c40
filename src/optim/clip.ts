// Gradient-norm clipping across parameters (torch.nn.utils.clip_grad_norm_ with the L2 norm),
// row-sparse gradients (p.rowGrad) included: their rows are all the nonzeros there are.
// Not for: per-value clipping or anything that changes parameters.
import { ValueError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';

/** Scales all grads so their global L2 norm is at most maxNorm; returns the norm before clipping. */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): number {
  if (!(maxNorm >= 0)) throw new ValueError(`clipGradNorm: maxNorm must be >= 0, got ${maxNorm}`);
  const grads = params.map((p) => p.grad ?? p.rowGrad?.values ?? null).filter((g): g is Tensor => g !== null);
  let sum = 0;
  for (const g of grads) sum += g.backend.sumSquares(g.buf, g.size);
  const norm = Math.sqrt(sum);
  // As torch: coefficient maxNorm / (norm + 1e-6), clamped to 1 (a non-finite norm propagates).
  const coef = Math.min(maxNorm / (norm + 1e-6), 1);
  if (!(coef >= 1)) for (const g of grads) g.backend.scale(g.buf, g.buf, g.size, coef, 0);
  return norm;
}
