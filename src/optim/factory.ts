// Optimizers by name, for configuration files and the CLI.
import { ValueError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { Adagrad } from './adagrad.js';
import { Adam, AdamW } from './adam.js';
import type { Optimizer } from './optimizer.js';
import { SGD } from './sgd.js';

export const OPTIMIZER_NAMES = ['sgd', 'adam', 'adamw', 'adagrad'] as const;
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];

/** An optimizer by name; momentum applies to sgd only (Adam's moments use their default betas, Adagrad its defaults). */
export function createOptimizer(
  name: OptimizerName,
  params: readonly Tensor[],
  opts: { lr: number; weightDecay?: number; momentum?: number },
): Optimizer {
  const { lr, weightDecay, momentum } = opts;
  switch (name) {
    case 'sgd':
      return new SGD(params, { lr, weightDecay, momentum });
    case 'adam':
      return new Adam(params, { lr, weightDecay });
    case 'adamw':
      return new AdamW(params, { lr, weightDecay });
    case 'adagrad':
      return new Adagrad(params, { lr, weightDecay });
    default:
      throw new ValueError(`unknown optimizer '${String(name)}': expected one of ${OPTIMIZER_NAMES.join(', ')}`);
  }
}
