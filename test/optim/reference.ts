// Plain float64 references of the PyTorch update formulas (torch.optim.SGD / Adam / AdamW / Adagrad
// and SparseAdam, written out as in their documentation and source) that the fused wasm kernels are
// checked against.

export interface SgdRefOptions {
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

/** A stateful torch.optim.SGD step on a float64 copy of one parameter. */
export function sgdRef(o: SgdRefOptions): (p: Float64Array, g: ArrayLike<number>, lr: number) => void {
  const { momentum = 0, dampening = 0, nesterov = false, weightDecay = 0 } = o;
  let buf: Float64Array | null = null;
  return (p, g, lr) => {
    const first = buf === null;
    buf ??= new Float64Array(p.length);
    for (let i = 0; i < p.length; i++) {
      let d = g[i] + weightDecay * p[i];
      if (momentum !== 0) {
        buf[i] = first ? d : momentum * buf[i] + (1 - dampening) * d;
        d = nesterov ? d + momentum * buf[i] : buf[i];
      }
      p[i] -= lr * d;
    }
  };
}

export interface AdamRefOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  decoupled?: boolean;
}

/** A stateful torch.optim.Adam (decoupled: AdamW) step on a float64 copy of one parameter. */
export function adamRef(o: AdamRefOptions): (p: Float64Array, g: ArrayLike<number>, lr: number) => void {
  const { beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0, decoupled = false } = o;
  let m: Float64Array | null = null;
  let v: Float64Array | null = null;
  let t = 0;
  return (p, g, lr) => {
    m ??= new Float64Array(p.length);
    v ??= new Float64Array(p.length);
    t++;
    const bc1 = 1 - beta1 ** t;
    const bc2 = 1 - beta2 ** t;
    for (let i = 0; i < p.length; i++) {
      let gi = g[i];
      if (decoupled) p[i] *= 1 - lr * weightDecay;
      else gi += weightDecay * p[i];
      m[i] = beta1 * m[i] + (1 - beta1) * gi;
      v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
      p[i] -= (lr * (m[i] / bc1)) / (Math.sqrt(v[i] / bc2) + eps);
    }
  };
}

export interface AdagradRefOptions {
  lrDecay?: number;
  initialAccumulatorValue?: number;
  eps?: number;
  weightDecay?: number;
}

/** A stateful torch.optim.Adagrad step on a float64 copy of one parameter. */
export function adagradRef(o: AdagradRefOptions): (p: Float64Array, g: ArrayLike<number>, lr: number) => void {
  const { lrDecay = 0, initialAccumulatorValue = 0, eps = 1e-10, weightDecay = 0 } = o;
  let sum: Float64Array | null = null;
  let t = 0;
  return (p, g, lr) => {
    sum ??= new Float64Array(p.length).fill(initialAccumulatorValue);
    t++;
    const clr = lr / (1 + (t - 1) * lrDecay);
    for (let i = 0; i < p.length; i++) {
      const gi = g[i] + weightDecay * p[i];
      sum[i] += gi * gi;
      p[i] -= (clr * gi) / (Math.sqrt(sum[i]) + eps);
    }
  };
}

/** Lazy Adam state after a step: the moments, to check that rows not hit keep theirs. */
export interface SparseAdamRefState {
  m: Float64Array;
  v: Float64Array;
}

/**
 * A stateful torch.optim.SparseAdam step (torch/optim/_functional.py sparse_adam, written out) on a
 * float64 copy of a [V, D] table, for the row gradient values[rows.length, D]. Weight decay, which
 * SparseAdam lacks, is Graduate's extension on the rows hit: L2 (added to the gradient) or decoupled.
 */
export function sparseAdamRef(
  o: AdamRefOptions,
  D: number,
): (p: Float64Array, rows: Int32Array, values: ArrayLike<number>, lr: number) => SparseAdamRefState {
  const { beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0, decoupled = false } = o;
  let state: SparseAdamRefState | null = null;
  let t = 0;
  return (p, rows, values, lr) => {
    state ??= { m: new Float64Array(p.length), v: new Float64Array(p.length) };
    const { m, v } = state;
    t++;
    const bc1 = 1 - beta1 ** t;
    const bc2 = 1 - beta2 ** t;
    const stepSize = (lr * Math.sqrt(bc2)) / bc1;
    rows.forEach((row, r) => {
      for (let j = 0; j < D; j++) {
        const i = row * D + j;
        let g = values[r * D + j];
        if (decoupled) p[i] *= 1 - lr * weightDecay;
        else g += weightDecay * p[i];
        // old <- b * old + (1 - b) * new, as old += (1 - b) * (new - old)
        m[i] += (1 - beta1) * (g - m[i]);
        v[i] += (1 - beta2) * (g * g - v[i]);
        p[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) + eps);
      }
    });
    return state;
  };
}

/**
 * Lazy SGD with momentum on a float64 copy of a [V, D] table, for the row gradient values[rows, D]:
 * only the rows hit move; a row's buffer starts as its first d on the parameter's first step
 * (torch's clone) and from zero when first hit later.
 */
export function lazySgdRef(
  o: SgdRefOptions,
  D: number,
): (p: Float64Array, rows: Int32Array, values: ArrayLike<number>, lr: number) => void {
  const { momentum = 0, dampening = 0, nesterov = false, weightDecay = 0 } = o;
  let buf: Float64Array | null = null;
  return (p, rows, values, lr) => {
    const first = buf === null;
    buf ??= new Float64Array(p.length);
    const b = buf;
    rows.forEach((row, r) => {
      for (let j = 0; j < D; j++) {
        const i = row * D + j;
        let d = values[r * D + j] + weightDecay * p[i];
        if (momentum !== 0) {
          b[i] = first ? d : momentum * b[i] + (1 - dampening) * d;
          d = nesterov ? d + momentum * b[i] : b[i];
        }
        p[i] -= lr * d;
      }
    });
  };
}
