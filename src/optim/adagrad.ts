// Adagrad with the semantics of torch.optim.Adagrad (lr, lr_decay, initial_accumulator_value, eps
// 1e-10, L2 weight decay): each element's step shrinks with the sum of its squared gradients, which
// suits embedding tables whose rows are hit at very different rates. Row-sparse gradients update
// only their rows and those rows' sums — exactly what the dense update does to them (an untouched
// row's sum and value would not change there either) — except weight decay, which torch refuses with
// sparse gradients and which here acts on the rows hit only.
// Not for: the update loop itself (src/kernels/as/optim.ts adagrad_step / adagrad_rows).
import type { RowSet } from '../backend/backend.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkRange, Optimizer, type ParamGroupOptions, type ParamState } from './optimizer.js';

export interface AdagradOptions extends ParamGroupOptions {
  /** Learning-rate decay: step t uses lr / (1 + (t − 1)·lrDecay) (default 0). */
  lrDecay?: number;
  /** The value every sum of squared gradients starts at (default 0). */
  initialAccumulatorValue?: number;
  /** Added to the denominator for stability (default 1e-10). */
  eps?: number;
}

/** torch.optim.Adagrad: g += wd·p; sum += g²; p −= lr/(1 + (t − 1)·lrDecay) · g / (√sum + eps). */
export class Adagrad extends Optimizer {
  lrDecay: number;
  initialAccumulatorValue: number;
  eps: number;
  weightDecay: number;
  protected readonly slots = ['sum'] as const;

  constructor(params: readonly Tensor[], opts: AdagradOptions) {
    super(params, opts);
    this.lrDecay = opts.lrDecay ?? 0;
    this.initialAccumulatorValue = opts.initialAccumulatorValue ?? 0;
    this.eps = opts.eps ?? 1e-10;
    this.weightDecay = opts.weightDecay ?? 0;
    this.validate();
  }

  private validate(): void {
    checkRange('Adagrad lrDecay', this.lrDecay, 0);
    checkRange('Adagrad initialAccumulatorValue', this.initialAccumulatorValue, 0);
    checkRange('Adagrad eps', this.eps, 0);
    checkRange('Adagrad weightDecay', this.weightDecay, 0);
  }

  protected needsSlots(): boolean {
    return true;
  }

  protected override initialSlotValue(): number {
    return this.initialAccumulatorValue;
  }

  protected hyperParams(): Record<string, number> {
    const { lrDecay, initialAccumulatorValue, eps, weightDecay } = this;
    return { lrDecay, initialAccumulatorValue, eps, weightDecay };
  }

  protected setHyperParams(h: Record<string, number>): void {
    this.lrDecay = h.lrDecay;
    this.initialAccumulatorValue = h.initialAccumulatorValue;
    this.eps = h.eps;
    this.weightDecay = h.weightDecay;
    this.validate();
  }

  protected update(p: Tensor, grad: Tensor, st: ParamState, _fresh?: boolean, rows?: RowSet): void {
    const { lr, lrDecay, eps, weightDecay } = this;
    p.backend.adagradStep(
      p.buf,
      grad.buf,
      st.tensors[0].buf,
      p.size,
      { lr, lrDecay, eps, weightDecay, step: st.step },
      rows,
    );
  }

  protected override updateRows(p: Tensor, grad: Tensor, rows: RowSet, st: ParamState): void {
    this.update(p, grad, st, false, rows);
  }
}
