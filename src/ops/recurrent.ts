// ONNX's recurrent layers — RNN, GRU and LSTM — in a host loop (host.ts), with their full option
// set: forward, reverse and bidirectional, batch-major or sequence-major layout, clipping, the
// per-gate activation functions, GRU's linear_before_reset, LSTM's peepholes and coupled input/
// forget gate. One op computes one of the layer's outputs (`output`: the sequence Y, the last
// hidden state Y_h, or the LSTM cell state Y_c), so the IR keeps one output per node.
// Inputs: X, W, R, B, initial_h, initial_c, P — absent ones given as zeros by the importer.
// No vjp yet; no ONNX export yet.
// `rnnscan` is the training side: one GRU or LSTM direction over the input projections of every
// step (nn/sequence.ts computes them in one GEMM), one recurrent GEMM per step on the backend with
// the gate math in a host loop, and a BPTT vjp (one GEMM per step back, one for the whole dWh).

import { SCAN_I8_MAX_HIDDEN } from '../backend/backend.js';
import { ShapeError, ValueError } from '../errors.js';
import { fromHalf } from '../shape/half.js';
import { view } from './host.js';
import type { Arg, ConstInfo, OpDef, Ref } from './op.js';
import { rnnscanOnnx } from './recurrent-onnx.js';

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
  /**
   * One direction of a GRU (gates z, r, n; reset after the recurrent GEMM, as PyTorch) or LSTM
   * (gates i, o, f, c): xw [N, T, G·H] (x·Wx + bx of every step), wh [H, G·H], bh [G·H] (optional)
   * → every step's hidden state [N, T, H] in time order; h and c start at 0.
   */
  rnnscan: { cell: 'gru' | 'lstm'; hidden: number; reverse: boolean };
}

const GATES = { rnn: 1, gru: 3, lstm: 4 } as const;
const SCAN_GATES = { gru: 3, lstm: 4 } as const;
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
  rnnscan: {
    arity: [2, 3],
    infer: ([xw, wh, bh], a) => {
      const GH = SCAN_GATES[a.cell] * a.hidden;
      if (xw.shape.length !== 3 || xw.shape[2] !== GH || xw.dtype !== 'float32')
        throw new ShapeError(
          `rnnscan: xw [${xw.shape}] must be float32 [N, T, ${GH}] for ${a.cell} hidden ${a.hidden}`,
        );
      if (wh.shape.join() !== `${a.hidden},${GH}`)
        throw new ShapeError(`rnnscan: wh [${wh.shape}] must be [${a.hidden}, ${GH}]`);
      if (bh && bh.shape.join() !== `${GH}`) throw new ShapeError(`rnnscan: bh [${bh.shape}] must be [${GH}]`);
      return { shape: [xw.shape[0], xw.shape[1], a.hidden], dtype: 'float32' };
    },
    check: (c) => {
      const a = c.n.attrs;
      if (a.cell !== 'gru' && a.cell !== 'lstm') c.bad('attrs.cell must be gru or lstm');
      if (!(Number.isInteger(a.hidden) && a.hidden > 0)) c.bad('attrs.hidden must be a positive integer');
      if (typeof a.reverse !== 'boolean') c.bad('attrs.reverse must be a boolean');
      const GH = SCAN_GATES[a.cell] * a.hidden;
      if (c.isConstant(1) && c.constant(1).dtype === 'int8') {
        // int8 recurrent weights: symmetric per gate column; the state runs as 16-bit fixed point
        const w = c.constant(1);
        if (w.quant?.scale.length !== GH || w.quant.zeroPoint.some((z) => z !== 0))
          c.bad(`int8 recurrent weights need ${GH} per-column scales and zero points 0`);
        if (a.hidden > SCAN_I8_MAX_HIDDEN) c.bad(`int8 recurrent weights need hidden ≤ ${SCAN_I8_MAX_HIDDEN}`);
        if (c.n.inputs[2] !== undefined && !c.isConstant(2)) c.bad('an int8 rnnscan needs a constant recurrent bias');
        // −128 would let H · 2^14 · 128 reach 2^31 in the int32 accumulator at H = 1024
        if ((w.data as Int8Array).some((v) => v === -128)) c.bad('int8 recurrent weights must lie in [-127, 127]');
      } else if ((c.isConstant(1) ? c.constant(1).dtype : c.value(1).dtype) === 'int32')
        c.bad(`recurrent weights '${c.n.inputs[1]}' must be float32, float16 or int8`);
      const bias = c.n.inputs[2] === undefined ? undefined : c.isConstant(2) ? c.constant(2).dtype : c.value(2).dtype;
      if (bias !== undefined && bias !== 'float32' && bias !== 'float16')
        c.bad(`recurrent bias '${c.n.inputs[2]}' must be float32 or float16, got ${bias}`);
    },
    forward(x, [xw, wh, bh], out, a) {
      if (wh.dtype === 'int8')
        throw new ValueError('rnnscan: int8 recurrent weights run only in the runtime (Session), not in training');
      const [N, T, GH] = xw.shape;
      const H = a.hidden;
      const G = SCAN_GATES[a.cell];
      const NH = N * H;
      // saved for the vjp, in processing order s: states [T + 1, N, H] (slot 0 = 0), gate values
      // gate-major [T, G, N, H] (each gate's block contiguous: the backend's sigmoid/tanh run on it),
      // and per cell: GRU the recurrent n-gate term h·Wh_n + bh_n, LSTM the cell states (slot 0 = 0)
      const hs = x.temp([T + 1, N, H]);
      const gates = x.temp([T, G, N, H]);
      const extra = x.temp(a.cell === 'gru' ? [T, N, H] : [T + 1, N, H]);
      const hw = x.temp([N, GH]);
      const tc = x.temp(a.cell === 'lstm' ? [T, N, H] : [1]); // LSTM: tanh(c) of each step
      const bk = x.backend;
      bk.fill(hs.buf, NH, 0);
      if (a.cell === 'lstm') bk.fill(extra.buf, NH, 0);
      for (let s = 0; s < T; s++) {
        const t = a.reverse ? T - 1 - s : s;
        const hPrev = hs.buf + s * NH * 4;
        if (s > 0) bk.gemm(hPrev, wh.buf, hw.buf, N, H, GH, bh ? { bias: bh.buf } : {});
        else if (bh) for (let n = 0; n < N; n++) bk.copy(bh.buf, hw.buf + n * GH * 4, GH);
        else bk.fill(hw.buf, N * GH, 0);
        const gs = gates.buf + s * G * NH * 4; // this step's [G, N, H]
        let [X, HW, S] = [view(x, xw), view(x, hw), view(x, gates)];
        const sigmoidGates = a.cell === 'gru' ? 2 : 3;
        // pre-activations of the sigmoid gates (and LSTM's cell candidate), gate-major
        for (let n = 0; n < N; n++) {
          const xo = (n * T + t) * GH;
          for (let k = 0; k < (a.cell === 'gru' ? 2 : 4); k++) {
            const so = ((s * G + k) * N + n) * H;
            for (let j = 0; j < H; j++) S[so + j] = X[xo + k * H + j] + HW[n * GH + k * H + j];
          }
        }
        bk.unary('sigmoid', gs, gs, sigmoidGates * NH);
        if (a.cell === 'lstm') bk.unary('tanh', gs + 3 * NH * 4, gs + 3 * NH * 4, NH);
        [X, HW, S] = [view(x, xw), view(x, hw), view(x, gates)];
        const E = view(x, extra);
        if (a.cell === 'gru') {
          // n = tanh(x_n + r ⊙ (h·Wh_n + bh_n)); the term kept for the vjp
          for (let n = 0; n < N; n++)
            for (let j = 0; j < H; j++) {
              const hn = HW[n * GH + 2 * H + j];
              E[(s * N + n) * H + j] = hn;
              S[((s * G + 2) * N + n) * H + j] =
                X[(n * T + t) * GH + 2 * H + j] + S[((s * G + 1) * N + n) * H + j] * hn;
            }
          bk.unary('tanh', gs + 2 * NH * 4, gs + 2 * NH * 4, NH);
          const [HS, S2] = [view(x, hs), view(x, gates)];
          const z0 = s * G * NH;
          for (let i = 0; i < NH; i++) {
            const nn = S2[z0 + 2 * NH + i];
            HS[(s + 1) * NH + i] = nn + S2[z0 + i] * (HS[s * NH + i] - nn);
          }
        } else {
          // c = f ⊙ c + i ⊙ g; h = o ⊙ tanh(c)
          const z0 = s * G * NH;
          for (let i = 0; i < NH; i++)
            E[(s + 1) * NH + i] = S[z0 + 2 * NH + i] * E[s * NH + i] + S[z0 + i] * S[z0 + 3 * NH + i];
          bk.unary('tanh', extra.buf + (s + 1) * NH * 4, tc.buf + s * NH * 4, NH);
          const [HS, S2, TC] = [view(x, hs), view(x, gates), view(x, tc)];
          for (let i = 0; i < NH; i++) HS[(s + 1) * NH + i] = S2[z0 + NH + i] * TC[s * NH + i];
        }
      }
      const Y = view(x, out);
      const HS = view(x, hs);
      for (let s = 0; s < T; s++) {
        const t = a.reverse ? T - 1 - s : s;
        for (let n = 0; n < N; n++)
          Y.set(HS.subarray(((s + 1) * N + n) * H, ((s + 1) * N + n + 1) * H), (n * T + t) * H);
      }
      return [hs, gates, extra, tc];
    },
    // BPTT: carry dh (and dc) from the last step back; each step's gate gradients are dxw's rows and
    // the recurrent GEMM's output gradient dhw; dh_{s-1} = dhw_s · whᵀ (+ the direct path), and
    // dwh = Σ_s h_{s-1}ᵀ · dhw_s is one GEMM over all steps at the end
    vjp: (g, [xw, wh, bh], _out, [hs, gates, extra, tcs], d, a, needs) => {
      const [N, T, GH] = xw.shape;
      const H = a.hidden;
      const NH = N * H;
      const bk = g.backend;
      const dxw = g.alloc(xw.shape);
      const dhw = g.alloc([T, N, GH]);
      const carry = g.alloc([2, N, H]); // dh, dc
      const back = g.alloc([N, H]);
      bk.fill(carry.buf, 2 * N * H, 0);
      const f32 = (r: Ref | Arg) =>
        bk.f32(
          r.buf,
          r.shape.reduce((p, q) => p * q, 1),
        );
      for (let s = T - 1; s >= 0; s--) {
        const t = a.reverse ? T - 1 - s : s;
        const [DY, DX, DHW, C, HS, S, E, TC] = [d, dxw, dhw, carry, hs, gates, extra, tcs].map(f32);
        for (let n = 0; n < N; n++) {
          const xo = (n * T + t) * GH;
          const go = (s * N + n) * GH;
          const sm = (s * SCAN_GATES[a.cell] * N + n) * H; // gate k of unit j: S[sm + k·N·H + j]
          const po = (s * N + n) * H;
          const co = n * H;
          for (let j = 0; j < H; j++) {
            const dh = C[co + j] + DY[(n * T + t) * H + j];
            if (a.cell === 'gru') {
              const [z, r, nn] = [S[sm + j], S[sm + NH + j], S[sm + 2 * NH + j]];
              const dnPre = dh * (1 - z) * (1 - nn * nn);
              const dzPre = dh * (HS[po + j] - nn) * z * (1 - z);
              const drPre = dnPre * E[po + j] * r * (1 - r);
              DX[xo + j] = DHW[go + j] = dzPre;
              DX[xo + H + j] = DHW[go + H + j] = drPre;
              DX[xo + 2 * H + j] = dnPre;
              DHW[go + 2 * H + j] = dnPre * r;
              C[co + j] = dh * z; // the direct path to h_{s-1}
            } else {
              const [ig, og, fg, gg] = [S[sm + j], S[sm + NH + j], S[sm + 2 * NH + j], S[sm + 3 * NH + j]];
              const tc = TC[po + j];
              const dc = C[N * H + co + j] + dh * og * (1 - tc * tc);
              DX[xo + j] = DHW[go + j] = dc * gg * ig * (1 - ig);
              DX[xo + H + j] = DHW[go + H + j] = dh * tc * og * (1 - og);
              DX[xo + 2 * H + j] = DHW[go + 2 * H + j] = dc * E[po + j] * fg * (1 - fg);
              DX[xo + 3 * H + j] = DHW[go + 3 * H + j] = dc * ig * (1 - gg * gg);
              C[N * H + co + j] = dc * fg;
              C[co + j] = 0;
            }
          }
        }
        if (s > 0) {
          bk.gemm(dhw.buf + s * N * GH * 4, wh.buf, back.buf, N, GH, H, { transB: true });
          bk.axpy(1, back.buf, carry.buf, N * H);
        }
      }
      let dwh: Ref | null = null;
      if (needs[1]) {
        dwh = g.alloc(wh.shape);
        bk.gemm(hs.buf, dhw.buf, dwh.buf, H, T * N, GH, { transA: true });
      }
      let dbh: Ref | null = null;
      if (bh && needs[2]) {
        dbh = g.alloc([GH]);
        bk.reduce('sum', dhw.buf, [T * N, GH], [0], dbh.buf);
      }
      for (const r of [dhw, carry, back]) r.dispose();
      if (!needs[0]) dxw.dispose();
      return [needs[0] ? dxw : null, dwh, dbh];
    },
    // inference: the backend's scan runs the whole time loop in one call (no gates kept), with the
    // weights prepared once — float32 (float16 widened) or int8 per gate column
    run(p, n) {
      const a = n.attrs;
      const w = p.constantInfo(n.inputs[1]);
      const b = n.inputs[2] === undefined ? undefined : p.constantInfo(n.inputs[2]);
      if (!w || (n.inputs[2] !== undefined && !b) || p.constantInfo(n.inputs[0])) return undefined;
      const floats = (c: ConstInfo) =>
        c.dtype === 'float16' ? Float32Array.from(c.data as Uint16Array, fromHalf) : (c.data as Float32Array);
      const wh = w.dtype === 'int8' ? (w.data as Int8Array) : floats(w);
      const packed = p.own(p.backend.prepareScan(a.cell, a.hidden, wh, w.quant?.scale, b && floats(b)));
      const T = p.value(n.inputs[0]).shape[1];
      const [xw, y, bk] = [p.buf(n.inputs[0]), p.buf(n.output), p.backend];
      return (N) => bk.scan(xw, N, T, packed, a.reverse, y);
    },
    traits: {},
    onnx: rnnscanOnnx,
  } satisfies OpDef<RecurrentAttrs['rnnscan']>,
} satisfies { [K in keyof RecurrentAttrs]: OpDef<RecurrentAttrs[K]> };
