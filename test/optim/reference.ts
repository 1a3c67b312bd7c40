// Plain float64 references of the PyTorch update formulas (torch.optim.SGD / Adam / AdamW, written
// out as in their documentation) that the fused wasm kernels are checked against.

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
