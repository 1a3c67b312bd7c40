// Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay, with the
// semantics of torch.optim.SGD (the momentum buffer starts as the first gradient). Row-sparse
// gradients update only their rows, lazily: momentum and weight decay act on those rows alone (a row
// keeps its buffer untouched until it is hit again), and a row first hit after the parameter's
// first step starts from a zero buffer (buf = (1 − dampening)·d; the same as torch with dampening 0).
// Not for: the update loop itself (src/kernels/as/optim.ts, one fused pass per parameter).
import type { RowSet } from '../backend/backend.js';
import { ValueError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkRange, Optimizer, type ParamGroupOptions, type ParamState } from './optimizer.js';

export interface SGDOptions extends ParamGroupOptions {
  /** Momentum factor (default 0: plain SGD, no state). */
  momentum?: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0). */
  nesterov?: boolean;
  /** Dampening of the gradient's contribution to the momentum buffer (default 0). */
  dampening?: number;
}

/** torch.optim.SGD: d = g + wd·p; buf = momentum·buf + (1 − dampening)·d; p −= lr·(nesterov ? d + momentum·buf : buf). */
export class SGD extends Optimizer {
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
  protected readonly slots = ['momentum'] as const;

  constructor(params: readonly Tensor[], opts: SGDOptions) {
    super(params, opts);
    this.momentum = opts.momentum ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.nesterov = opts.nesterov ?? false;
    this.weightDecay = opts.weightDecay ?? 0;
    this.validate();
  }

  private validate(): void {
    checkRange('SGD momentum', this.momentum, 0);
    checkRange('SGD dampening', this.dampening, 0, 1, true);
    checkRange('SGD weightDecay', this.weightDecay, 0);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new ValueError(
        `SGD: nesterov needs momentum > 0 and dampening 0 (got momentum ${this.momentum}, dampening ${this.dampening})`,
      );
    }
  }

  protected needsSlots(): boolean {
    return this.momentum !== 0;
  }

  protected hyperParams(): Record<string, number> {
    const { momentum, dampening, weightDecay } = this;
    return { momentum, dampening, nesterov: this.nesterov ? 1 : 0, weightDecay };
  }

  protected setHyperParams(h: Record<string, number>): void {
    this.momentum = h.momentum;
    this.dampening = h.dampening;
    this.nesterov = h.nesterov !== 0;
    this.weightDecay = h.weightDecay;
    this.validate();
  }

  protected update(p: Tensor, grad: Tensor, st: ParamState, fresh: boolean, rows?: RowSet): void {
    const buf = st.tensors[0]?.buf ?? 0;
    const args = {
      lr: this.lr,
      momentum: this.momentum,
      dampening: this.dampening,
      nesterov: this.nesterov,
      weightDecay: this.weightDecay,
      firstStep: fresh,
    };
    p.backend.sgdStep(p.buf, grad.buf, buf, p.size, args, rows);
  }

  protected override updateRows(p: Tensor, grad: Tensor, rows: RowSet, st: ParamState, fresh: boolean): void {
    this.update(p, grad, st, fresh, rows);
  }
}
