// Sliding-window ops with ONNX's semantics over channels-first tensors [N, C, spatial…] of any
// spatial rank (1-D, 2-D, 3-D): `convnd` (groups, dilations, asymmetric pads), `convtransposend`
// and `poolnd` (max or average; dilations, ceil mode, count_include_pad). They compute in host
// loops (host.ts): the general ONNX import path uses them where the NHWC kernels (window.ts:
// conv2d without groups or dilations, 2-D pools) do not apply. No vjps yet; no ONNX export yet.
import { ShapeError } from '../errors.js';
import { stridesOf, view } from './host.js';
import type { CheckCtx, DType, Info, OpDef } from './op.js';
import { numel } from './rules.js';

interface Window {
  /** Per spatial axis. */
  strides: readonly number[];
  dilations: readonly number[];
  /** [begin of each spatial axis…, end of each…]. */
  pads: readonly number[];
}
export interface WindowNdAttrs {
  /** y = conv(x [N, C, …], w [M, C/group, k…]) + b [M]. */
  convnd: Window & { group: number };
  /** The transpose (gradient) of convnd: w [C, M/group, k…]; outputPadding adds to the end of each axis. */
  convtransposend: Window & { group: number; outputPadding: readonly number[] };
  /** Max or average over the window (average: count_include_pad counts padded cells). */
  poolnd: Window & { kind: 'max' | 'avg'; kernel: readonly number[]; ceil: boolean; countPad: boolean };
}

function windowCheck(c: CheckCtx<Window>, rank: number): void {
  const a = c.n.attrs;
  const ok = (v: unknown, len: number, min: number) =>
    Array.isArray(v) && v.length === len && v.every((d) => Number.isInteger(d) && d >= min);
  if (!ok(a.strides, rank, 1)) c.bad(`attrs.strides must be ${rank} positive integers`);
  if (!ok(a.dilations, rank, 1)) c.bad(`attrs.dilations must be ${rank} positive integers`);
  if (!ok(a.pads, 2 * rank, 0)) c.bad(`attrs.pads must be ${2 * rank} non-negative integers`);
}

function floatIn(c: CheckCtx<unknown>, i: number): void {
  const d: DType = c.isConstant(i)
    ? c.constant(i).dtype === 'float16'
      ? 'float32'
      : (c.constant(i).dtype as DType)
    : c.value(i).dtype;
  if (d !== 'float32') c.bad(`input '${c.n.inputs[i]}' is ${d}, expected float32`);
}

/** Output size of one axis. */
function outSize(d: number, k: number, s: number, dil: number, p0: number, p1: number, ceil = false): number {
  const span = dil * (k - 1) + 1;
  const q = (d + p0 + p1 - span) / s;
  return (ceil ? Math.ceil(q) : Math.floor(q)) + 1;
}

function spatialOf(op: string, x: Info, rank: number): number[] {
  if (x.shape.length !== rank + 2 || rank < 1)
    throw new ShapeError(`${op}: input [${x.shape.join(', ')}] must be [N, C, spatial…] with ${rank} spatial axes`);
  return x.shape.slice(2);
}

/** Calls fn(out index along each spatial axis) for every output position (row-major). */
function forEachPosition(shape: readonly number[], fn: (at: readonly number[], k: number) => void): void {
  const r = shape.length;
  const at = new Array<number>(r).fill(0);
  const n = numel(shape);
  for (let k = 0; k < n; k++) {
    fn(at, k);
    for (let q = r - 1; q >= 0; q--) {
      if (++at[q] < shape[q]) break;
      at[q] = 0;
    }
  }
}

export const WINDOW_ND = {
  convnd: {
    arity: [2, 3],
    infer: ([x, w, b], a) => {
      const rank = w.shape.length - 2;
      const sp = spatialOf('convnd', x, rank);
      const [M, Cg] = w.shape;
      if (x.shape[1] !== Cg * a.group || M % a.group)
        throw new ShapeError(
          `convnd: input channels ${x.shape[1]} and weight [${w.shape.join(', ')}] do not match group ${a.group}`,
        );
      if (b && (b.shape.length !== 1 || b.shape[0] !== M)) throw new ShapeError(`convnd: bias must be [${M}]`);
      const out = sp.map((d, i) =>
        outSize(d, w.shape[2 + i], a.strides[i], a.dilations[i], a.pads[i], a.pads[i + rank]),
      );
      if (out.some((d) => d < 1)) throw new ShapeError(`convnd: the window does not fit [${x.shape.join(', ')}]`);
      return { shape: [x.shape[0], M, ...out], dtype: 'float32' };
    },
    check: (c) => {
      windowCheck(c, c.n.attrs.strides.length);
      if (!Number.isInteger(c.n.attrs.group) || c.n.attrs.group < 1) c.bad('attrs.group must be a positive integer');
      for (let i = 0; i < c.n.inputs.length; i++) floatIn(c, i);
    },
    forward(x, [xi, wi, bi], out, a) {
      const rank = wi.shape.length - 2;
      const [N, C] = xi.shape;
      const [M, Cg] = wi.shape;
      const sp = xi.shape.slice(2);
      const ks = wi.shape.slice(2);
      const os = out.shape.slice(2);
      const X = view(x, xi);
      const W = view(x, wi);
      const B = bi ? view(x, bi) : undefined;
      const Y = view(x, out);
      const xs = stridesOf(sp);
      const inner = numel(sp);
      const kn = numel(ks);
      const on = numel(os);
      const Mg = M / a.group;
      // tap offsets: for each kernel position, its spatial offset per axis
      const taps: number[][] = [];
      forEachPosition(ks, (at) => taps.push(at.map((t, i) => t * a.dilations[i])));
      for (let n = 0; n < N; n++)
        for (let m = 0; m < M; m++) {
          const g = Math.floor(m / Mg);
          forEachPosition(os, (at, k) => {
            let s = B ? B[m] : 0;
            const origin = at.map((o, i) => o * a.strides[i] - a.pads[i]);
            for (let t = 0; t < kn; t++) {
              let off = 0;
              let inside = true;
              for (let i = 0; i < rank; i++) {
                const p = origin[i] + taps[t][i];
                if (p < 0 || p >= sp[i]) {
                  inside = false;
                  break;
                }
                off += p * xs[i];
              }
              if (!inside) continue;
              for (let c = 0; c < Cg; c++) s += X[(n * C + g * Cg + c) * inner + off] * W[(m * Cg + c) * kn + t];
            }
            Y[(n * M + m) * on + k] = s;
          });
        }
      return undefined;
    },
    vjp: null,
    traits: {},
    onnx: null,
  } satisfies OpDef<WindowNdAttrs['convnd']>,
  convtransposend: {
    arity: [2, 3],
    infer: ([x, w, b], a) => {
      const rank = w.shape.length - 2;
      const sp = spatialOf('convtransposend', x, rank);
      const [C, Mg] = w.shape;
      if (x.shape[1] !== C || C % a.group)
        throw new ShapeError(`convtransposend: input channels ${x.shape[1]} and weight [${w.shape.join(', ')}] differ`);
      const M = Mg * a.group;
      if (b && (b.shape.length !== 1 || b.shape[0] !== M)) throw new ShapeError(`convtransposend: bias must be [${M}]`);
      const out = sp.map(
        (d, i) =>
          a.strides[i] * (d - 1) +
          a.outputPadding[i] +
          (w.shape[2 + i] - 1) * a.dilations[i] +
          1 -
          a.pads[i] -
          a.pads[i + rank],
      );
      if (out.some((d) => d < 1)) throw new ShapeError('convtransposend: the output would be empty');
      return { shape: [x.shape[0], M, ...out], dtype: 'float32' };
    },
    check: (c) => {
      windowCheck(c, c.n.attrs.strides.length);
      if (!Number.isInteger(c.n.attrs.group) || c.n.attrs.group < 1) c.bad('attrs.group must be a positive integer');
      for (let i = 0; i < c.n.inputs.length; i++) floatIn(c, i);
    },
    forward(x, [xi, wi, bi], out, a) {
      const rank = wi.shape.length - 2;
      const [N, C] = xi.shape;
      const Mg = wi.shape[1];
      const M = out.shape[1];
      const Cg = C / a.group;
      const sp = xi.shape.slice(2);
      const ks = wi.shape.slice(2);
      const os = out.shape.slice(2);
      const X = view(x, xi);
      const W = view(x, wi);
      const B = bi ? view(x, bi) : undefined;
      const Y = view(x, out);
      const ys = stridesOf(os);
      const inner = numel(sp);
      const kn = numel(ks);
      const on = numel(os);
      for (let n = 0; n < N; n++)
        for (let m = 0; m < M; m++) Y.fill(B ? B[m] : 0, (n * M + m) * on, (n * M + m + 1) * on);
      const taps: number[][] = [];
      forEachPosition(ks, (at) => taps.push(at.map((t, i) => t * a.dilations[i])));
      // scatter: every input cell adds w · x to the outputs its window covers
      for (let n = 0; n < N; n++)
        for (let c = 0; c < C; c++) {
          const g = Math.floor(c / Cg);
          forEachPosition(sp, (at, k) => {
            const v = X[(n * C + c) * inner + k];
            const origin = at.map((p, i) => p * a.strides[i] - a.pads[i]);
            for (let t = 0; t < kn; t++) {
              let off = 0;
              let inside = true;
              for (let i = 0; i < rank; i++) {
                const p = origin[i] + taps[t][i];
                if (p < 0 || p >= os[i]) {
                  inside = false;
                  break;
                }
                off += p * ys[i];
              }
              if (!inside) continue;
              for (let j = 0; j < Mg; j++) {
                const m = g * Mg + j;
                Y[(n * M + m) * on + off] += v * W[(c * Mg + j) * kn + t];
              }
            }
          });
        }
      return undefined;
    },
    vjp: null,
    traits: {},
    onnx: null,
  } satisfies OpDef<WindowNdAttrs['convtransposend']>,
  poolnd: {
    arity: [1, 1],
    infer: ([x], a) => {
      const rank = a.kernel.length;
      const sp = spatialOf('poolnd', x, rank);
      const out = sp.map((d, i) => {
        let o = outSize(d, a.kernel[i], a.strides[i], a.dilations[i], a.pads[i], a.pads[i + rank], a.ceil);
        // ceil mode: a last window that starts in the end padding is dropped (as ONNX Runtime, PyTorch)
        if (a.ceil && (o - 1) * a.strides[i] >= d + a.pads[i]) o--;
        return o;
      });
      if (out.some((d) => d < 1)) throw new ShapeError(`poolnd: the window does not fit [${x.shape.join(', ')}]`);
      return { shape: [x.shape[0], x.shape[1], ...out], dtype: 'float32' };
    },
    check: (c) => {
      windowCheck(c, c.n.attrs.kernel.length);
      if (!c.n.attrs.kernel.every((k) => Number.isInteger(k) && k >= 1))
        c.bad('attrs.kernel must be positive integers');
      if (c.n.attrs.kind !== 'max' && c.n.attrs.kind !== 'avg') c.bad("attrs.kind must be 'max' or 'avg'");
      floatIn(c, 0);
    },
    forward(x, [xi], out, a) {
      const rank = a.kernel.length;
      const [N, C] = xi.shape;
      const sp = xi.shape.slice(2);
      const os = out.shape.slice(2);
      const X = view(x, xi);
      const Y = view(x, out);
      const xs = stridesOf(sp);
      const inner = numel(sp);
      const on = numel(os);
      const taps: number[][] = [];
      forEachPosition(a.kernel, (at) => taps.push(at.map((t, i) => t * a.dilations[i])));
      for (let nc = 0; nc < N * C; nc++)
        forEachPosition(os, (at, k) => {
          const origin = at.map((o, i) => o * a.strides[i] - a.pads[i]);
          let best = Number.NEGATIVE_INFINITY;
          let sum = 0;
          let count = 0;
          let padded = 0;
          for (const tap of taps) {
            let off = 0;
            let inside = true;
            let inPad = true;
            for (let i = 0; i < rank; i++) {
              const p = origin[i] + tap[i];
              if (p < 0 || p >= sp[i]) inside = false;
              // count_include_pad counts cells inside the padded extent, not beyond it (ceil mode)
              if (p < -a.pads[i] || p >= sp[i] + a.pads[i + rank]) inPad = false;
              off += p * xs[i];
            }
            if (inPad) padded++;
            if (!inside) continue;
            const v = X[nc * inner + off];
            if (v > best || Number.isNaN(v)) best = v;
            sum += v;
            count++;
          }
          Y[nc * on + k] = a.kind === 'max' ? best : sum / (a.countPad ? padded : count);
        });
      return undefined;
    },
    vjp: null,
    traits: {},
    onnx: null,
  } satisfies OpDef<WindowNdAttrs['poolnd']>,
} satisfies { [K in keyof WindowNdAttrs]: OpDef<WindowNdAttrs[K]> };
