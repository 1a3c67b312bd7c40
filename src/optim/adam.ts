// Adam (L2 weight decay added to the gradient) and AdamW (decoupled weight decay), with the
// semantics of torch.optim.Adam / AdamW: bias-corrected moments, eps added after the square root.
// Row-sparse gradients (embedding tables with sparseGrad) get lazy Adam, torch.optim.SparseAdam's
// update on the rows hit: only those rows' m and v move (a row not hit keeps its moments, undecayed,
// where dense Adam would decay them and keep moving the row with its old momentum); the bias
// corrections use the parameter's step count t (every step it had a gradient), and eps is added
// before the bias correction: p −= lr·sqrt(1 − β2^t)/(1 − β1^t) · m / (sqrt(v) + eps) (dense Adam:
// lr/(1 − β1^t) · m / (sqrt(v)/sqrt(1 − β2^t) + eps)). Weight decay, which SparseAdam lacks, acts on
// the rows hit only (L2: added to their gradient; AdamW: their rows decayed by 1 − lr·wd).
// Not for: the update loop itself (src/kernels/as/optim.ts, one fused pass per parameter).
import type { RowSet } from '../backend/backend.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkRange, Optimizer, type ParamGroupOptions, type ParamState } from './optimizer.js';

export interface AdamOptions extends ParamGroupOptions {
  /** Decay rates of the first and second moment estimates (default [0.9, 0.999]). */
  betas?: readonly [number, number];
  /** Added to the denominator for stability (default 1e-8). */
  eps?: number;
}

/** torch.optim.Adam: g += wd·p; m, v moving averages of g, g²; p −= lr·m̂ / (√v̂ + eps). */
export class Adam extends Optimizer {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  protected readonly slots = ['m', 'v'] as const;
  /** AdamW: decay p by (1 − lr·wd) instead of adding wd·p to the gradient. */
  protected readonly decoupled: boolean = false;

  constructor(params: readonly Tensor[], opts: AdamOptions) {
    super(params, opts);
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    this.validate();
  }

  private validate(): void {
    const cls = this.constructor.name;
    checkRange(`${cls} beta1`, this.beta1, 0, 1);
    checkRange(`${cls} beta2`, this.beta2, 0, 1);
    checkRange(`${cls} eps`, this.eps, 0);
    checkRange(`${cls} weightDecay`, this.weightDecay, 0);
  }

  protected needsSlots(): boolean {
    return true;
  }

  protected hyperParams(): Record<string, number> {
    const { beta1, beta2, eps, weightDecay } = this;
    return { beta1, beta2, eps, weightDecay };
  }

  protected setHyperParams(h: Record<string, number>): void {
    this.beta1 = h.beta1;
    this.beta2 = h.beta2;
    this.eps = h.eps;
    this.weightDecay = h.weightDecay;
    this.validate();
  }

  protected update(p: Tensor, grad: Tensor, st: ParamState, _fresh?: boolean, rows?: RowSet): void {
    const [m, v] = st.tensors;
    const args = {
      lr: this.lr,
      beta1: this.beta1,
      beta2: this.beta2,
      eps: this.eps,
      weightDecay: this.weightDecay,
      decoupled: this.decoupled,
      step: st.step,
    };
    p.backend.adamStep(p.buf, grad.buf, m.buf, v.buf, p.size, args, rows);
  }

  protected override updateRows(p: Tensor, grad: Tensor, rows: RowSet, st: ParamState): void {
    this.update(p, grad, st, false, rows);
  }
}

/** torch.optim.AdamW: Adam with decoupled weight decay p ← p·(1 − lr·wd) (default wd 0.01). */
export class AdamW extends Adam {
  protected override readonly decoupled = true;

  constructor(params: readonly Tensor[], opts: AdamOptions) {
    super(params, { ...opts, weightDecay: opts.weightDecay ?? 0.01 });
  }
}
