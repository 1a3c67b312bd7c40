// The optimizer base class: parameter bookkeeping, lazily created per-parameter state (kept out of
// tidy scopes), the step counter and learning rate, and the state dict that resumes a run
// bit-exactly. Subclasses supply their hyper-parameters, state slots and the fused update kernel.
// A parameter with a row-sparse gradient (p.rowGrad: embedding tables with sparseGrad) is updated
// only on those rows (updateRows); its state slots stay dense [V, D], so memory does not depend on
// which rows are hit.
// Not for: update formulas (sgd.ts, adam.ts, as kernels) or learning-rate schedules (schedule.ts).
import { dropRows } from '../autograd/row-grad.js';
import type { RowSet } from '../backend/backend.js';
import { DisposedError, ShapeError, ValueError } from '../errors.js';
import { keep } from '../tensor/scope.js';
import { full, type RowGrad, type Tensor, tensor, write } from '../tensor/tensor.js';

/** Options every optimizer takes. */
export interface ParamGroupOptions {
  lr: number;
  weightDecay?: number;
}

/** A saved optimizer: state tensors by `${param.name}.${slot}` and scalars (steps, lr, hyper-parameters). */
export interface OptimizerState {
  tensors: Record<string, Float32Array>;
  scalars: Record<string, number>;
}

/** Per-parameter state: its own update count (PyTorch's state['step']) and slot tensors. */
export interface ParamState {
  step: number;
  /** One tensor per name in `slots`, same shape as the parameter. */
  readonly tensors: Tensor[];
}

/** Checks that an option is a finite number in [min, max) (or [min, max] when `inclusive`). */
export function checkRange(
  what: string,
  value: number,
  min: number,
  max = Number.POSITIVE_INFINITY,
  inclusive = false,
) {
  const ok = Number.isFinite(value) && value >= min && (inclusive ? value <= max : value < max);
  if (!ok) {
    const hi = Number.isFinite(max) ? `, ${max}${inclusive ? ']' : ')'}` : ', ∞)';
    throw new ValueError(`${what} must be a number in [${min}${hi}, got ${value}`);
  }
}

export abstract class Optimizer {
  /** Learning rate used by the next step (schedules set it). */
  lr: number;
  protected readonly params: readonly Tensor[];
  private base: number;
  private count = 0;
  private readonly state = new Map<Tensor, ParamState>();
  private disposed = false;

  /** params: float32 tensors, each with a unique .name (the state dict keys); those without grad are skipped. */
  constructor(params: readonly Tensor[], opts: ParamGroupOptions) {
    const cls = new.target.name;
    if (params.length === 0) throw new ValueError(`${cls}: got an empty parameter list`);
    const names = new Set<string>();
    for (const [i, p] of params.entries()) {
      if (!p.name) throw new ValueError(`${cls}: parameter ${i} (${p.describe()}) has no name (state dicts need one)`);
      if (names.has(p.name)) throw new ValueError(`${cls}: two parameters are named '${p.name}'`);
      if (p.dtype !== 'float32') throw new ValueError(`${cls}: parameter ${p.describe()} is not float32`);
      names.add(p.name);
    }
    checkRange(`${cls} lr`, opts.lr, 0);
    this.params = [...params];
    this.lr = opts.lr;
    this.base = opts.lr;
  }

  /** The learning rate given at construction (schedules multiply it). */
  get baseLr(): number {
    return this.base;
  }
  /** Number of step() calls so far. */
  get steps(): number {
    return this.count;
  }

  /** State tensor names per parameter, in ParamState.tensors order ('momentum'; 'm', 'v'). */
  protected abstract readonly slots: readonly string[];
  /** Whether a parameter's state needs its slot tensors under the current hyper-parameters. */
  protected abstract needsSlots(): boolean;
  /** Hyper-parameters as saved in the state dict (booleans as 0/1). */
  protected abstract hyperParams(): Record<string, number>;
  /** Restores hyper-parameters from a state dict (already checked to hold every key). */
  protected abstract setHyperParams(h: Record<string, number>): void;
  /** Updates p in place from grad; st.step already counts this update. fresh: the slots were just created. */
  protected abstract update(p: Tensor, grad: Tensor, st: ParamState, fresh: boolean): void;
  /** The value slot k starts at (Adagrad's initial accumulator; 0 otherwise). */
  protected initialSlotValue(_k: number): number {
    return 0;
  }

  /**
   * Updates only the rows of p [V, D] in `rows` from their gradient grad [rows.count, D], in place;
   * as update() otherwise. Optimizers that cannot apply row-sparse gradients keep this default.
   */
  protected updateRows(p: Tensor, _grad: Tensor, _rows: RowSet, _st: ParamState, _fresh: boolean): void {
    const cls = this.constructor.name;
    throw new ValueError(
      `${cls}: parameter ${p.describe()} has a row-sparse gradient (sparseGrad), which ${cls} cannot apply; ` +
        `use SGD, Adam, AdamW or Adagrad, or build the layer without sparse`,
    );
  }

  /** Updates every parameter that has a gradient, in place. Allocates only state, on first use. */
  step(): void {
    this.live();
    checkRange(`${this.constructor.name} lr`, this.lr, 0);
    this.count++;
    for (const p of this.params) {
      const rows = p.grad ? null : p.rowGrad;
      const g = p.grad ?? rows?.values;
      if (!g) continue;
      if (rows ? !rowsFit(p, rows) : g.size !== p.size) {
        throw new ShapeError(`${this.constructor.name}.step: gradient ${g.describe()} does not fit ${p.describe()}`);
      }
      let st = this.state.get(p);
      if (!st) {
        st = { step: 0, tensors: [] };
        this.state.set(p, st);
      }
      const fresh = st.tensors.length === 0 && this.needsSlots();
      if (fresh) {
        st.tensors.push(
          ...this.slots.map((_, k) => keep(full(p.shape, this.initialSlotValue(k), 'float32', p.backend))),
        );
      }
      st.step++;
      if (p.size === 0) continue;
      if (!rows) this.update(p, g, st, fresh);
      else if (rows.rows.length > 0) {
        const ids = tensor(rows.rows, [rows.rows.length], 'int32', p.backend);
        try {
          this.updateRows(p, g, { ids: ids.buf, count: rows.rows.length, width: p.shape[1] }, st, fresh);
        } finally {
          ids.dispose();
        }
      }
    }
  }

  /** Drops gradients (disposes p.grad and p.rowGrad and sets them to null). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
      dropRows(p);
    }
  }

  /** Everything needed to resume bit-exactly (copies; the optimizer keeps running independently). */
  stateDict(): OptimizerState {
    this.live();
    const tensors: Record<string, Float32Array> = {};
    const scalars: Record<string, number> = {
      steps: this.count,
      lr: this.lr,
      baseLr: this.base,
      ...this.hyperParams(),
    };
    for (const p of this.params) {
      const st = this.state.get(p);
      if (!st) continue;
      scalars[`${p.name}.step`] = st.step;
      st.tensors.forEach((t, k) => {
        tensors[`${p.name}.${this.slots[k]}`] = t.data() as Float32Array;
      });
    }
    return { tensors, scalars };
  }

  /** Restores a stateDict(); checks every entry (names, sizes, numbers) before changing anything. */
  loadStateDict(s: OptimizerState): void {
    this.live();
    const cls = this.constructor.name;
    const fail = (msg: string): never => {
      throw new ValueError(`${cls}.loadStateDict: ${msg}`);
    };
    if (typeof s !== 'object' || s === null || typeof s.tensors !== 'object' || typeof s.scalars !== 'object') {
      fail('expected { tensors, scalars }');
    }
    const byName = new Map(this.params.map((p) => [p.name as string, p]));
    const required = ['steps', 'lr', 'baseLr', ...Object.keys(this.hyperParams())];
    for (const key of required) if (!(key in s.scalars)) fail(`missing scalar '${key}'`);
    const steps = new Map<Tensor, number>();
    for (const [key, value] of Object.entries(s.scalars)) {
      if (typeof value !== 'number' || !Number.isFinite(value))
        fail(`scalar '${key}' is not a finite number (${value})`);
      if (required.includes(key)) continue;
      const p = key.endsWith('.step') ? byName.get(key.slice(0, -5)) : undefined;
      if (!p) fail(`unknown scalar '${key}' (expected ${required.join(', ')} or '<param name>.step')`);
      if (!Number.isInteger(value) || value < 1) fail(`scalar '${key}' must be a positive integer, got ${value}`);
      steps.set(p as Tensor, value);
    }
    if (!Number.isInteger(s.scalars.steps) || s.scalars.steps < 0) fail(`scalar 'steps' must be an integer >= 0`);
    const slotData = new Map<Tensor, Float32Array[]>();
    for (const [key, data] of Object.entries(s.tensors)) {
      const dot = key.lastIndexOf('.');
      const p = byName.get(key.slice(0, dot));
      const k = this.slots.indexOf(key.slice(dot + 1));
      if (dot < 0 || !p || k < 0) {
        fail(`unknown tensor '${key}' (expected '<param name>.<${this.slots.join('|') || 'no slots'}>')`);
      }
      const param = p as Tensor;
      if (!(data instanceof Float32Array)) fail(`tensor '${key}' is not a Float32Array`);
      if (data.length !== param.size) {
        fail(`tensor '${key}' has ${data.length} values, parameter ${param.describe()} has ${param.size}`);
      }
      if (!steps.has(param)) fail(`tensor '${key}' has no step count '${param.name}.step'`);
      const list = slotData.get(param) ?? [];
      list[k] = data;
      slotData.set(param, list);
    }
    for (const [p, list] of slotData) {
      this.slots.forEach((slot, k) => {
        if (!list[k]) fail(`tensor '${p.name}.${slot}' is missing (the other state of '${p.name}' is present)`);
      });
    }
    this.setHyperParams(s.scalars);
    checkRange(`${cls}.loadStateDict lr`, s.scalars.lr, 0);
    this.count = s.scalars.steps;
    this.lr = s.scalars.lr;
    this.base = s.scalars.baseLr;
    for (const p of this.params) {
      const step = steps.get(p);
      const data = slotData.get(p);
      const old = this.state.get(p);
      if (step === undefined) {
        for (const t of old?.tensors ?? []) t.dispose();
        this.state.delete(p);
        continue;
      }
      const tensors = old?.tensors ?? [];
      if (!data) {
        for (const t of tensors) t.dispose();
        tensors.length = 0;
      } else {
        this.slots.forEach((_, k) => {
          tensors[k] ??= keep(full(p.shape, 0, 'float32', p.backend));
          write(tensors[k], data[k]);
        });
      }
      this.state.set(p, { step, tensors });
    }
  }

  /** Frees the state tensors; the optimizer cannot step afterwards. */
  dispose(): void {
    for (const st of this.state.values()) for (const t of st.tensors) t.dispose();
    this.state.clear();
    this.disposed = true;
  }
  [Symbol.dispose](): void {
    this.dispose();
  }

  private live(): void {
    if (this.disposed) throw new DisposedError(`${this.constructor.name} was used after dispose()`);
  }
}

/** A row gradient fits p [V, D]: values [rows, D] and its (sorted) rows within [0, V). */
function rowsFit(p: Tensor, { rows, values }: RowGrad): boolean {
  const [n, D] = values.shape;
  return (
    p.rank === 2 && D === p.shape[1] && n === rows.length && (n === 0 || (rows[0] >= 0 && rows[n - 1] < p.shape[0]))
  );
}
