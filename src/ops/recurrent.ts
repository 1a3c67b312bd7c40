// ONNX's recurrent layers — RNN, GRU and LSTM — in a host loop (host.ts), with their full option
// set: forward, reverse and bidirectional, batch-major or sequence-major layout, clipping, the
// per-gate activation functions, GRU's linear_before_reset, LSTM's peepholes and coupled input/
// forget gate. One op computes one of the layer's outputs (`output`: the sequence Y, the last
// hidden state Y_h, or the LSTM cell state Y_c), so the IR keeps one output per node.
// Inputs: X, W, R, B, initial_h, initial_c, P — absent ones given as zeros by the importer.
// No vjp yet; no ONNX export yet.
import { ShapeError } from '../errors.js';
import { view } from './host.js';
import type { OpDef } from './op.js';

export interface RecurrentAttrs {
  recurrent: {
    cell: 'rnn' | 'gru' | 'lstm';
    hidden: number;
    direction: 'forward' | 'reverse' | 'bidirectional';
    /** 0: X [seq, batch, in], Y [seq, dirs, batch, H]; 1: X [batch, seq, in], Y [batch, seq, dirs, H]. */
    layout: 0 | 1;
    /** Cell input clip (0: none). */
    clip: number;
    /** Activation functions by ONNX name, with their alpha/beta (one set per direction). */
    activations: readonly string[];
    alpha: readonly number[];
    beta: readonly number[];
    linearBeforeReset: boolean;
    inputForget: boolean;
    output: 'y' | 'h' | 'c';
  };
}

const GATES = { rnn: 1, gru: 3, lstm: 4 } as const;
/** Activations ONNX allows in recurrent layers; alpha/beta where they take them. */
export const ACT_NAMES: readonly string[] = [
  'Sigmoid',
  'Tanh',
  'Relu',
  'LeakyRelu',
  'ThresholdedRelu',
  'ScaledTanh',
  'HardSigmoid',
  'Elu',
  'Softsign',
  'Softplus',
  'Affine',
];

function activation(name: string, alpha: number | undefined, beta: number | undefined): (x: number) => number {
  switch (name) {
    case 'Sigmoid':
      return (x) => 1 / (1 + Math.exp(-x));
    case 'Tanh':
      return Math.tanh;
    case 'Relu':
      return (x) => Math.max(0, x);
    case 'LeakyRelu':
      return (x) => (x < 0 ? (alpha ?? 0.01) * x : x);
    case 'ThresholdedRelu':
      return (x) => (x > (alpha ?? 1) ? x : 0);
    case 'ScaledTanh':
      return (x) => (alpha ?? 1) * Math.tanh((beta ?? 1) * x);
    case 'HardSigmoid':
      return (x) => Math.max(0, Math.min(1, (alpha ?? 0.2) * x + (beta ?? 0.5)));
    case 'Elu':
      return (x) => (x < 0 ? (alpha ?? 1) * (Math.exp(x) - 1) : x);
    case 'Softsign':
      return (x) => x / (1 + Math.abs(x));
    case 'Softplus':
      return (x) => Math.log1p(Math.exp(x));
    default:
      // Affine
      return (x) => (alpha ?? 1) * x + (beta ?? 0);
  }
}

type A = RecurrentAttrs['recurrent'];
const dirsOf = (a: A) => (a.direction === 'bidirectional' ? 2 : 1);
/** Activation functions per cell: rnn f; gru f, g; lstm f, g, h. */
const perCell = (a: A) => ({ rnn: 1, gru: 2, lstm: 3 })[a.cell];

export const RECURRENT = {
  recurrent: {
    arity: [7, 7],
    infer: ([x, ...rest], a) => {
      if (x.shape.length !== 3 || x.shape.includes(-1)) throw new ShapeError('recurrent: X must be a fixed 3-D tensor');
      const [seq, batch] = a.layout === 0 ? x.shape : [x.shape[1], x.shape[0]];
      const D = dirsOf(a);
      const H = a.hidden;
      const want = [
        [D, GATES[a.cell] * H, x.shape[2]],
        [D, GATES[a.cell] * H, H],
        [D, 2 * GATES[a.cell] * H],
        [D, batch, H],
        [D, batch, H],
        [D, 3 * H],
      ];
      const names = ['W', 'R', 'B', 'initial_h', 'initial_c', 'P'];
      for (const [k, t] of rest.entries())
        if (t.shape.join() !== want[k].join() || t.dtype !== 'float32')
          throw new ShapeError(`recurrent: ${names[k]} [${t.shape}] must be float32 [${want[k]}]`);
      if (a.output === 'y')
        return { shape: a.layout === 0 ? [seq, D, batch, H] : [batch, seq, D, H], dtype: 'float32' };
      if (a.output === 'c' && a.cell !== 'lstm') throw new ShapeError('recurrent: only LSTM has a cell state');
      return { shape: a.layout === 0 ? [D, batch, H] : [batch, D, H], dtype: 'float32' };
    },
    check: (c) => {
      const a = c.n.attrs;
      if (!['rnn', 'gru', 'lstm'].includes(a.cell)) c.bad('attrs.cell must be rnn, gru or lstm');
      if (!(Number.isInteger(a.hidden) && a.hidden > 0)) c.bad('attrs.hidden must be a positive integer');
      if (!Array.isArray(a.activations) || a.activations.length !== perCell(a) * dirsOf(a))
        c.bad(`attrs.activations must name ${perCell(a) * dirsOf(a)} functions`);
      for (const f of a.activations) if (!ACT_NAMES.includes(f)) c.bad(`activation '${f}' is not supported`);
      for (let i = 0; i < 7; i++)
        if (c.isConstant(i) ? c.constant(i).dtype === 'int32' : c.value(i).dtype !== 'float32')
          c.bad(`input '${c.n.inputs[i]}' must be float32`);
    },
    forward(x, [xi, wi, ri, bi, h0i, c0i, pi], out, a) {
      const X = view(x, xi);
      const W = view(x, wi);
      const R = view(x, ri);
      const Bv = view(x, bi);
      const H0 = view(x, h0i);
      const C0 = view(x, c0i);
      const P = view(x, pi);
      const Y = view(x, out);
      const D = dirsOf(a);
      const Hn = a.hidden;
      const G = GATES[a.cell];
      const I = xi.shape[2];
      const [S, Bn] = a.layout === 0 ? [xi.shape[0], xi.shape[1]] : [xi.shape[1], xi.shape[0]];
      const xAt = (t: number, b: number, k: number) => X[(a.layout === 0 ? t * Bn + b : b * S + t) * I + k];
      const clip = (v: number) => (a.clip > 0 ? Math.max(-a.clip, Math.min(a.clip, v)) : v);
      const k = perCell(a);
      let ai = 0;
      const fns: ((v: number) => number)[][] = [];
      for (let d = 0; d < D; d++) {
        fns.push([]);
        for (let j = 0; j < k; j++, ai++) fns[d].push(activation(a.activations[ai], a.alpha[ai], a.beta[ai]));
      }
      for (let d = 0; d < D; d++) {
        const reverse = a.direction === 'reverse' || d === 1;
        const [f, g, hAct] = fns[d];
        const h = new Float64Array(Bn * Hn);
        const c = new Float64Array(Bn * Hn);
        for (let i = 0; i < Bn * Hn; i++) {
          h[i] = H0[d * Bn * Hn + i];
          c[i] = C0[d * Bn * Hn + i];
        }
        const w = (gate: number, j: number, kk: number) => W[(d * G * Hn + gate * Hn + j) * I + kk];
        const r = (gate: number, j: number, kk: number) => R[(d * G * Hn + gate * Hn + j) * Hn + kk];
        const wb = (gate: number, j: number) => Bv[d * 2 * G * Hn + gate * Hn + j];
        const rb = (gate: number, j: number) => Bv[d * 2 * G * Hn + G * Hn + gate * Hn + j];
        const xw = new Float64Array(G * Hn);
        const hr = new Float64Array(G * Hn);
        const next = new Float64Array(Bn * Hn);
        const reset = new Float64Array(Hn);
        for (let s = 0; s < S; s++) {
          const t = reverse ? S - 1 - s : s;
          for (let b = 0; b < Bn; b++) {
            for (let gate = 0; gate < G; gate++)
              for (let j = 0; j < Hn; j++) {
                let u = wb(gate, j);
                for (let kk = 0; kk < I; kk++) u += xAt(t, b, kk) * w(gate, j, kk);
                xw[gate * Hn + j] = u;
                let v = rb(gate, j);
                for (let kk = 0; kk < Hn; kk++) v += h[b * Hn + kk] * r(gate, j, kk);
                hr[gate * Hn + j] = v;
              }
            // GRU's reset gates of every unit first: the candidate reads r ⊙ h over all units
            if (a.cell === 'gru') for (let j = 0; j < Hn; j++) reset[j] = f(clip(xw[Hn + j] + hr[Hn + j]));
            for (let j = 0; j < Hn; j++) {
              const hp = h[b * Hn + j];
              if (a.cell === 'rnn') next[b * Hn + j] = f(clip(xw[j] + hr[j]));
              else if (a.cell === 'gru') {
                // gates z, r, h
                const z = f(clip(xw[j] + hr[j]));
                let hh: number;
                if (a.linearBeforeReset) hh = g(clip(xw[2 * Hn + j] + reset[j] * hr[2 * Hn + j]));
                else {
                  let v = rb(2, j);
                  for (let kk = 0; kk < Hn; kk++) v += reset[kk] * h[b * Hn + kk] * r(2, j, kk);
                  hh = g(clip(xw[2 * Hn + j] + v));
                }
                next[b * Hn + j] = (1 - z) * hh + z * hp;
              } else {
                // gates i, o, f, c; peepholes P [i, o, f]
                const cp = c[b * Hn + j];
                const p = (q: number) => P[d * 3 * Hn + q * Hn + j];
                const ig = f(clip(xw[j] + hr[j] + p(0) * cp));
                const fg = a.inputForget ? 1 - ig : f(clip(xw[2 * Hn + j] + hr[2 * Hn + j] + p(2) * cp));
                const cc = g(clip(xw[3 * Hn + j] + hr[3 * Hn + j]));
                const ct = fg * cp + ig * cc;
                const og = f(clip(xw[Hn + j] + hr[Hn + j] + p(1) * ct));
                c[b * Hn + j] = ct;
                next[b * Hn + j] = og * hAct(ct);
              }
            }
          }
          h.set(next);
          if (a.output === 'y')
            for (let b = 0; b < Bn; b++)
              for (let j = 0; j < Hn; j++) {
                const at = a.layout === 0 ? ((t * D + d) * Bn + b) * Hn + j : ((b * S + t) * D + d) * Hn + j;
                Y[at] = h[b * Hn + j];
              }
        }
        if (a.output !== 'y') {
          const src = a.output === 'h' ? h : c;
          for (let b = 0; b < Bn; b++)
            for (let j = 0; j < Hn; j++)
              Y[a.layout === 0 ? (d * Bn + b) * Hn + j : (b * D + d) * Hn + j] = src[b * Hn + j];
        }
      }
      return undefined;
    },
    vjp: null,
    traits: {},
    onnx: null,
  } satisfies OpDef<RecurrentAttrs['recurrent']>,
} satisfies { [K in keyof RecurrentAttrs]: OpDef<RecurrentAttrs[K]> };
