// Losses, built from the op table's primitives (cross-entropy has its own fused kernel).

import type { Tensor } from '../tensor/tensor.js';
import * as F from './functional.js';

/** Mean softmax cross-entropy of logits [B, C] against int32 labels [B], optional label smoothing. */
export function crossEntropy(logits: Tensor, labels: Tensor, opts: { labelSmoothing?: number } = {}): Tensor {
  return F.softmaxCrossEntropy(logits, labels, opts.labelSmoothing ?? 0);
}

/** Mean binary cross-entropy with logits: max(x, 0) - x·y + log(1 + e^-|x|) (stable for any x). */
export function bceWithLogits(logits: Tensor, targets: Tensor): Tensor {
  const softplus = F.log(F.add(F.exp(F.neg(F.abs(logits))), 1));
  return F.mean(F.add(F.sub(F.relu(logits), F.mul(logits, targets)), softplus));
}

/** Mean squared error. */
export function mse(pred: Tensor, target: Tensor): Tensor {
  return F.mean(F.square(F.sub(pred, target)));
}
