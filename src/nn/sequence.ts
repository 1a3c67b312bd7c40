// Sequence layers over batch-first time series x [N, T, C] (N = batch, T = time steps, C = channels):
// 1-D convolution, GRU and LSTM (stacked, bidirectional), and pooling over time (masked or not).
// Everything is composed of registry ops through autograd (functional.ts), so the vjps are the
// ops' vjps and capture records the layers as plain graphs: conv1d is the NHWC conv2d kernel with
// H = 1 when it has no groups or dilation; with stride 1, dilated as im2col (slices + one GEMM) and
// depthwise as a sum of shifted slices times each tap's weights; the host-loop `convnd` op otherwise
// (other groups, strided depthwise or dilated). A recurrent
// layer's input projections of all T steps are one GEMM (linear), then each step is ONE GEMM of
// h_{t-1} with every gate's weights side by side: by default inside the `rnnscan` op (ops/
// recurrent.ts: backend GEMMs, gate math, BPTT vjp), or (impl 'composed') spelled per step in
// registry ops (slice, linear, sigmoid, tanh, mul, add). docs/speech.md gives the measurements.
// Gate order is ONNX's (GRU z, r, n; LSTM i, o, f, c), the GRU applies its reset gate after the
// recurrent GEMM (ONNX linear_before_reset = 1, as PyTorch), so the weights map onto ONNX's GRU/LSTM
// by a transpose.
import { apply } from '../autograd/apply.js';
import { ValueError } from '../errors.js';
import { randu } from '../tensor/random.js';
import { type Tensor, tensor, zeros } from '../tensor/tensor.js';
import * as F from './functional.js';
import { Module } from './module.js';
import type { InitName, LayerSpec } from './spec.js';

/** Padding of a 1-D window: 'valid' (none), 'same' (output length ⌈T / stride⌉), or [left, right] cells. */
export type Padding1d = 'valid' | 'same' | number | readonly [number, number];

export interface Conv1dOptions {
  stride?: number;
  dilation?: number;
  padding?: Padding1d;
  /** Channel groups: Cin and Cout divisible by it; groups = Cin is depthwise. */
  groups?: number;
}

/** [left, right] padding and output length of a 1-D window over T steps. */
export function conv1dGeometry(
  T: number,
  K: number,
  { stride = 1, dilation = 1, padding = 'valid' }: Conv1dOptions,
): { left: number; right: number; outT: number } {
  const span = dilation * (K - 1) + 1;
  let left = 0;
  let right = 0;
  if (padding === 'same') {
    const total = Math.max((Math.ceil(T / stride) - 1) * stride + span - T, 0);
    left = Math.floor(total / 2);
    right = total - left;
  } else if (typeof padding === 'number') [left, right] = [padding, padding];
  else if (Array.isArray(padding)) [left, right] = padding as [number, number];
  const outT = Math.floor((T + left + right - span) / stride) + 1;
  if (!(outT >= 1))
    throw new ValueError(
      `conv1d: kernel ${K} (dilation ${dilation}) does not fit ${T} steps with padding ${left}+${right}`,
    );
  return { left, right, outT };
}

/**
 * 1-D convolution: x [N, T, Cin], w [K, Cin / groups, Cout], b [Cout] → [N, T', Cout]. Without groups
 * or dilation it is conv2d over [N, 1, T, Cin] (the wasm kernel); with stride 1, dilated is im2col by
 * slices and one GEMM, depthwise (Cout = Cin) a sum over taps; otherwise convnd over [N, Cin, T].
 */
export function conv1d(x: Tensor, w: Tensor, b?: Tensor, opts: Conv1dOptions = {}): Tensor {
  const [K, Cg, Cout] = w.shape;
  const groups = opts.groups ?? 1;
  const stride = opts.stride ?? 1;
  const dilation = opts.dilation ?? 1;
  const [, T, Cin] = x.shape;
  if (x.rank !== 3 || w.rank !== 3 || Cg * groups !== Cin || Cout % groups)
    throw new ValueError(
      `conv1d: input [${x.shape}] and weight [${w.shape}] do not match groups ${groups} (weight [K, Cin/groups, Cout])`,
    );
  const { left, right } = conv1dGeometry(T, K, opts);
  if (groups === 1 && dilation === 1) {
    const y = apply(
      'conv2d',
      b
        ? [F.reshape(x, [-1, 1, T, Cin]), F.reshape(w, [1, K, Cin, Cout]), b]
        : [F.reshape(x, [-1, 1, T, Cin]), F.reshape(w, [1, K, Cin, Cout])],
      {
        activation: 'none',
        stride: [1, stride],
        pads: [0, left, 0, right],
      },
    );
    return F.reshape(y, [-1, y.shape[2], Cout]);
  }
  const depthwise = groups === Cin && Cout === Cin;
  if (stride === 1 && (groups === 1 || depthwise)) {
    // the K shifted views of the padded input; dense: side by side [N, T', K·Cin] (im2col) and one
    // GEMM with w as [K·Cin, Cout]; depthwise: Σ_k view_k ⊙ w[k] (elementwise kernels)
    const { outT } = conv1dGeometry(T, K, opts);
    const xp = left || right ? apply('pad', [x], { pads: [0, left, 0, 0, right, 0], mode: 'constant', value: 0 }) : x;
    const taps = Array.from({ length: K }, (_, k) => F.slice(xp, [0, k * dilation, 0], [-1, outT, Cin]));
    if (groups === 1) return F.linear(K === 1 ? taps[0] : F.concat(taps, 2), F.reshape(w, [K * Cin, Cout]), b);
    const wk = (k: number) => F.reshape(F.slice(w, [k, 0, 0], [1, 1, Cin]), [Cin]);
    let y = F.mul(taps[0], wk(0));
    for (let k = 1; k < K; k++) y = F.add(y, F.mul(taps[k], wk(k)));
    return b ? F.add(y, b) : y;
  }
  const xc = F.transpose(x, [0, 2, 1]); // [N, Cin, T]
  const wc = F.transpose(w, [2, 1, 0]); // [Cout, Cin/groups, K]
  const y = apply('convnd', b ? [xc, wc, b] : [xc, wc], {
    group: groups,
    strides: [stride],
    dilations: [dilation],
    pads: [left, right],
  });
  return F.transpose(y, [0, 2, 1]);
}

/**
 * Mean or max over time: x [N, T, C] → [N, C]. With mask [N, T] (1: a real step, 0: padding) the
 * padded steps are left out (a row with no real step gives 0 for mean, −3.4e38 for max).
 */
export function temporalPool(x: Tensor, kind: 'mean' | 'max', mask?: Tensor): Tensor {
  if (!mask) return kind === 'mean' ? F.mean(x, 1) : F.max(x, 1);
  const [N, T] = x.shape;
  if (mask.rank !== 2 || mask.shape[0] !== N || mask.shape[1] !== T)
    throw new ValueError(`temporalPool: mask [${mask.shape}] must be [N, T] = [${N}, ${T}] for x [${x.shape}]`);
  const m = F.reshape(mask, [-1, T, 1]);
  if (kind === 'mean') return F.div(F.sum(F.mul(x, m), 1), F.add(F.sum(m, 1), 1e-9));
  const floor = tensor(new Float32Array([-3.4e38]), [1], 'float32', x.backend);
  return F.max(F.where(m, x, floor), 1);
}

export class Conv1d extends Module {
  readonly weight: Tensor; // [K, Cin / groups, Cout]
  readonly bias?: Tensor; // [Cout]
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: number,
    readonly opts: Conv1dOptions & { bias?: boolean; init?: InitName } = {},
  ) {
    super();
    const g = opts.groups ?? 1;
    const fanIn = (kernel * inChannels) / g;
    const fanOut = (kernel * outChannels) / g;
    const bound = opts.init === 'glorot' ? Math.sqrt(6 / (fanIn + fanOut)) : Math.sqrt(6 / fanIn);
    this.weight = this.param('weight', randu([kernel, inChannels / g, outChannels], { low: -bound, high: bound }));
    if (opts.bias !== false) this.bias = this.param('bias', zeros([outChannels]));
  }
  forward(x: Tensor): Tensor {
    return conv1d(x, this.weight, this.bias, this.opts);
  }
  spec(): LayerSpec {
    const { stride = 1, dilation = 1, padding = 'valid', groups = 1, init } = this.opts;
    return {
      type: 'conv1d',
      in: this.inChannels,
      out: this.outChannels,
      kernel: this.kernel,
      stride,
      dilation,
      padding: typeof padding === 'object' ? [padding[0], padding[1]] : padding,
      groups,
      bias: this.bias !== undefined,
      init,
    };
  }
}

/** Mean or max over time, [N, T, C] → [N, C]; forwardMasked takes a [N, T] mask of real steps. */
export class TemporalPool extends Module {
  constructor(readonly kind: 'mean' | 'max') {
    super();
  }
  forward(x: Tensor): Tensor {
    return temporalPool(x, this.kind);
  }
  forwardMasked(x: Tensor, mask: Tensor): Tensor {
    return temporalPool(x, this.kind, mask);
  }
  spec(): LayerSpec {
    return { type: 'temporalpool', kind: this.kind };
  }
}

export type Cell = 'gru' | 'lstm';
const GATES: Record<Cell, number> = { gru: 3, lstm: 4 };

export interface RecurrentOptions {
  /** Stacked layers (each reads the previous one's sequence). */
  layers?: number;
  bidirectional?: boolean;
  /** Output every step [N, T, D·H] (true) or the last state [N, D·H] (false, the default). */
  returnSequences?: boolean;
  /**
   * 'fused' (default): each direction is one `rnnscan` op (recurrent GEMMs on the backend, gate math
   * and BPTT in host loops); 'composed': every step spelled in registry ops (slice, linear, sigmoid…).
   */
  impl?: 'fused' | 'composed';
}

/** x[:, t, :] as [N, C]. */
const step = (x: Tensor, t: number): Tensor => F.reshape(F.slice(x, [0, t, 0], [-1, 1, x.shape[2]]), [-1, x.shape[2]]);
/** Columns [from, from + n) of a [N, F] value. */
const cols = (x: Tensor, from: number, n: number): Tensor => F.slice(x, [0, from], [-1, n]);

/**
 * One direction of one layer over xw = x·Wx + bx [N, T, G·H] (all steps' input projections):
 * returns h_t [N, H] for every step, in time order. Wh [H, G·H] holds every gate's recurrent
 * weights side by side, so each step is one GEMM (GRU: + bh [G·H]).
 */
function scan(cell: Cell, xw: Tensor, Wh: Tensor, bh: Tensor | undefined, H: number, reverse: boolean): Tensor[] {
  const T = xw.shape[1];
  const out: Tensor[] = new Array(T);
  let h: Tensor | undefined;
  let c: Tensor | undefined;
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    const xt = step(xw, t); // [N, G·H]
    if (cell === 'gru') {
      // z, r = σ(x_zr + h_zr); n = tanh(x_n + r ⊙ h_n); h = n + z ⊙ (h − n)   (h_{-1} = 0: h_zr = bh)
      const hw = h ? F.linear(h, Wh, bh) : (bh as Tensor);
      const zr = F.sigmoid(F.add(cols(xt, 0, 2 * H), h ? cols(hw, 0, 2 * H) : F.slice(hw, [0], [2 * H])));
      const z = cols(zr, 0, H);
      const r = cols(zr, H, H);
      const n = F.tanh(F.add(cols(xt, 2 * H, H), F.mul(r, h ? cols(hw, 2 * H, H) : F.slice(hw, [2 * H], [H]))));
      h = h ? F.add(n, F.mul(z, F.sub(h, n))) : F.sub(n, F.mul(z, n));
    } else {
      // i, o, f = σ(·); g = tanh(·); c = f ⊙ c + i ⊙ g; h = o ⊙ tanh(c)   (h_{-1} = c_{-1} = 0)
      const gates = h ? F.add(xt, F.matmul(h, Wh)) : xt;
      const iof = F.sigmoid(cols(gates, 0, 3 * H));
      const g = F.tanh(cols(gates, 3 * H, H));
      const ig = F.mul(cols(iof, 0, H), g);
      c = c ? F.add(F.mul(cols(iof, 2 * H, H), c), ig) : ig;
      h = F.mul(cols(iof, H, H), F.tanh(c));
    }
    out[t] = h;
  }
  return out;
}

/**
 * GRU or LSTM over x [N, T, C] (batch first): `layers` stacked, optionally bidirectional (the
 * directions' outputs concatenated on the last axis, forward first). Parameters per layer l and
 * direction (suffix '_reverse'): weight_ih_l{l} [Cin, G·H], weight_hh_l{l} [H, G·H], bias_ih_l{l}
 * [G·H] and (GRU) bias_hh_l{l} [G·H], gates in ONNX order.
 */
export class Recurrent extends Module {
  readonly layers: number;
  readonly bidirectional: boolean;
  readonly returnSequences: boolean;
  readonly impl: 'fused' | 'composed';
  /** [layer][direction]: the parameters of that scan. */
  readonly weights: { wx: Tensor; wh: Tensor; bx: Tensor; bh?: Tensor }[][] = [];
  constructor(
    readonly cell: Cell,
    readonly inFeatures: number,
    readonly hidden: number,
    opts: RecurrentOptions = {},
  ) {
    super();
    this.layers = opts.layers ?? 1;
    this.bidirectional = opts.bidirectional ?? false;
    this.returnSequences = opts.returnSequences ?? false;
    this.impl = opts.impl ?? 'fused';
    const G = GATES[cell] * hidden;
    // PyTorch's initialization: U(−1/√H, 1/√H) for every weight and bias
    const k = 1 / Math.sqrt(hidden);
    const u = (shape: number[]) => randu(shape, { low: -k, high: k });
    const D = this.bidirectional ? 2 : 1;
    for (let l = 0; l < this.layers; l++) {
      const row: (typeof this.weights)[number] = [];
      const cin = l === 0 ? inFeatures : D * hidden;
      for (let d = 0; d < D; d++) {
        const sfx = `_l${l}${d ? '_reverse' : ''}`;
        row.push({
          wx: this.param(`weight_ih${sfx}`, u([cin, G])),
          wh: this.param(`weight_hh${sfx}`, u([hidden, G])),
          bx: this.param(`bias_ih${sfx}`, u([G])),
          bh: cell === 'gru' ? this.param(`bias_hh${sfx}`, u([G])) : undefined,
        });
      }
      this.weights.push(row);
    }
  }
  forward(x: Tensor): Tensor {
    if (x.rank !== 3 || x.shape[2] !== this.inFeatures)
      throw new ValueError(`${this.cell}: input [${x.shape}] must be [N, T, ${this.inFeatures}]`);
    const H = this.hidden;
    let seq = x;
    let last: Tensor[] = [];
    for (let l = 0; l < this.layers; l++) {
      const wantSeq = l < this.layers - 1 || this.returnSequences;
      const T = seq.shape[1];
      const dirs = this.weights[l].map((p, d) => {
        const xw = F.linear(seq, p.wx, p.bx);
        if (this.impl === 'fused') {
          const ys = apply('rnnscan', p.bh ? [xw, p.wh, p.bh] : [xw, p.wh], {
            cell: this.cell,
            hidden: H,
            reverse: d === 1,
          });
          return { ys: () => ys, last: () => step(ys, d === 1 ? 0 : T - 1) };
        }
        const hs = scan(this.cell, xw, p.wh, p.bh, H, d === 1);
        return {
          ys: () =>
            F.concat(
              hs.map((h) => F.reshape(h, [-1, 1, H])),
              1,
            ),
          last: () => (d === 1 ? hs[0] : hs[hs.length - 1]),
        };
      });
      if (l === this.layers - 1 && !this.returnSequences) last = dirs.map((d) => d.last());
      if (wantSeq) {
        const perDir = dirs.map((d) => d.ys());
        seq = perDir.length === 1 ? perDir[0] : F.concat(perDir, 2);
      }
    }
    if (this.returnSequences) return seq;
    return last.length === 1 ? last[0] : F.concat(last, 1);
  }
  spec(): LayerSpec {
    return {
      type: this.cell,
      in: this.inFeatures,
      hidden: this.hidden,
      layers: this.layers,
      bidirectional: this.bidirectional,
      returnSequences: this.returnSequences,
    };
  }
}
