// Sliding-window ops with ONNX's semantics over channels-first tensors [N, C, spatial…] of any
// spatial rank (1-D, 2-D, 3-D): `convnd` (groups, dilations, asymmetric pads), `convtransposend`
// and `poolnd` (max or average; dilations, ceil mode, count_include_pad). They compute in host
// loops (host.ts): the general ONNX import path uses them where the NHWC kernels (window.ts:
// conv2d without groups or dilations, 2-D pools) do not apply, and nn's conv1d trains through
// convnd where it has groups or dilations (its vjp: host loops too). ONNX export: Conv,
// ConvTranspose, MaxPool and AveragePool on the same axis order (the values are channels-first in
// Graduate too, so they take order 'graduate': no transposes around them); not resize.
import { ShapeError, ValueError } from '../errors.js';
import { MEMORY_LIMIT_BYTES } from '../limits.js';
import { expectHost, forEachIndex, stridesOf, view, zeros } from './host.js';
import type { CheckCtx, Info, NodeView, OnnxAttr, OnnxCtx, OpDef } from './op.js';
import { numel, weighsFloats } from './rules.js';

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
  /**
   * Max or average over the window (average: count_include_pad counts padded cells); argmax: the
   * int32 index of each maximum in the whole input flattened (ONNX MaxPool's Indices, row-major).
   */
  poolnd: Window & {
    kind: 'max' | 'avg' | 'argmax';
    kernel: readonly number[];
    ceil: boolean;
    countPad: boolean;
    /** argmax: spatial indices in column-major order (ONNX MaxPool storage_order 1). */
    columnMajor?: boolean;
  };
  /**
   * ONNX Resize of every axis to `sizes`: scales[i] maps output to input coordinates (as the
   * model gave them, or size ratios), roi for tf_crop_and_resize ([starts…, ends…], normalized).
   */
  resize: {
    sizes: readonly number[];
    scales: readonly number[];
    mode: 'nearest' | 'linear' | 'cubic';
    coordinate:
      | 'half_pixel'
      | 'pytorch_half_pixel'
      | 'align_corners'
      | 'asymmetric'
      | 'tf_crop_and_resize'
      | 'half_pixel_symmetric'
      | 'tf_half_pixel_for_nn';
    nearest: 'round_prefer_floor' | 'round_prefer_ceil' | 'floor' | 'ceil';
    cubicA: number;
    excludeOutside: boolean;
    extrapolation: number;
    roi?: readonly number[];
  };
}

/** Interpolation taps of one output coordinate along one axis: input indices and weights. */
function resizeTaps(
  a: WindowNdAttrs['resize'],
  axis: number,
  o: number,
  inSize: number,
  outSize: number,
): { at: number[]; w: number[] } {
  const s = a.scales[axis];
  let x: number;
  switch (a.coordinate) {
    case 'half_pixel':
      x = (o + 0.5) / s - 0.5;
      break;
    case 'half_pixel_symmetric': {
      const adj = outSize / (s * inSize);
      const center = inSize / 2;
      const offset = center * (1 - adj);
      x = offset + (o + 0.5) / s - 0.5;
      break;
    }
    // the resized length is in · scale, unrounded (ONNX's reference: with scales given it is not the output size)
    case 'pytorch_half_pixel':
      x = s * inSize > 1 ? (o + 0.5) / s - 0.5 : 0;
      break;
    case 'align_corners':
      x = s * inSize === 1 ? 0 : (o * (inSize - 1)) / (s * inSize - 1);
      break;
    case 'asymmetric':
      x = o / s;
      break;
    case 'tf_half_pixel_for_nn':
      x = (o + 0.5) / s;
      break;
    case 'tf_crop_and_resize': {
      const r = a.roi ?? [];
      const n = a.sizes.length;
      const [r0, r1] = [r[axis] ?? 0, r[axis + n] ?? 1];
      x =
        outSize > 1
          ? r0 * (inSize - 1) + (o * (r1 - r0) * (inSize - 1)) / (outSize - 1)
          : 0.5 * (r0 + r1) * (inSize - 1);
      if (x < 0 || x > inSize - 1) return { at: [], w: [] }; // extrapolated
      break;
    }
  }
  if (a.mode === 'nearest') {
    let i: number;
    switch (a.nearest) {
      case 'round_prefer_floor':
        i = x % 1 === 0.5 || x % 1 === -0.5 ? Math.floor(x) : Math.round(x);
        break;
      case 'round_prefer_ceil':
        i = Math.round(x);
        break;
      case 'floor':
        i = Math.floor(x);
        break;
      case 'ceil':
        i = Math.ceil(x);
        break;
    }
    return { at: [Math.min(Math.max(i, 0), inSize - 1)], w: [1] };
  }
  if (a.mode === 'linear') {
    const xc = Math.min(Math.max(x, 0), inSize - 1);
    const i0 = Math.floor(xc);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const t = xc - i0;
    return { at: [i0, i1], w: [1 - t, t] };
  }
  const A = a.cubicA;
  const i0 = Math.floor(x);
  const t = x - i0;
  const cub = (d: number) => {
    const z = Math.abs(d);
    if (z <= 1) return ((A + 2) * z - (A + 3)) * z * z + 1;
    if (z < 2) return ((A * z - 5 * A) * z + 8 * A) * z - 4 * A;
    return 0;
  };
  const at: number[] = [];
  const w: number[] = [];
  for (let k = -1; k <= 2; k++) {
    const j = i0 + k;
    const inside = j >= 0 && j < inSize;
    if (a.excludeOutside && !inside) continue;
    at.push(Math.min(Math.max(j, 0), inSize - 1));
    w.push(cub(t - k));
  }
  if (a.excludeOutside) {
    const sum = w.reduce((p, q) => p + q, 0);
    for (let k = 0; k < w.length; k++) w[k] /= sum;
  }
  return { at, w };
}

function windowCheck(c: CheckCtx<Window>, rank: number): void {
  const a = c.n.attrs;
  const ok = (v: unknown, len: number, min: number) =>
    Array.isArray(v) && v.length === len && v.every((d) => Number.isInteger(d) && d >= min);
  if (!ok(a.strides, rank, 1)) c.bad(`attrs.strides must be ${rank} positive integers`);
  if (!ok(a.dilations, rank, 1)) c.bad(`attrs.dilations must be ${rank} positive integers`);
  if (!ok(a.pads, 2 * rank, 0)) c.bad(`attrs.pads must be ${2 * rank} non-negative integers`);
}

/** Offset of window position origin + tap in a tensor of spatial `dims` (strides `st`), or -1 outside it. */
function tapOffset(
  origin: readonly number[],
  tap: readonly number[],
  dims: readonly number[],
  st: readonly number[],
): number {
  let off = 0;
  for (let i = 0; i < dims.length; i++) {
    const p = origin[i] + tap[i];
    if (p < 0 || p >= dims[i]) return -1;
    off += p * st[i];
  }
  return off;
}

/** The spatial offset of each kernel tap per axis (dilated), in row-major tap order. */
function tapsOf(kernel: readonly number[], dilations: readonly number[]): number[][] {
  const taps: number[][] = [];
  forEachIndex(kernel, (at) => taps.push(at.map((t, i) => t * dilations[i])));
  return taps;
}

/**
 * For every window position of `positions` (origin = position · stride − pad) and every tap of
 * `kernel`, the offset in a tensor of spatial `dims`: table[p · taps + t], -1 where the tap falls
 * outside (padding). Convolution reads x through it; its vjp and the transposed convolution scatter.
 */
function windowOffsets(
  positions: readonly number[],
  dims: readonly number[],
  kernel: readonly number[],
  a: Window,
): Int32Array {
  const taps = tapsOf(kernel, a.dilations);
  const st = stridesOf(dims);
  const offs = new Int32Array(numel(positions) * taps.length);
  forEachIndex(positions, (at, p) => {
    const origin = at.map((o, i) => o * a.strides[i] - a.pads[i]);
    for (let t = 0; t < taps.length; t++) offs[p * taps.length + t] = tapOffset(origin, taps[t], dims, st);
  });
  return offs;
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

/** A float weight or bias as an ONNX tensor: an initializer when constant (int8 refused), else the value. */
function onnxOperand(o: OnnxCtx, v: string, at: string): string {
  if (!o.isConstant(v)) return o.float(v, at, 'graduate');
  const c = o.constant(v);
  if (c.dtype === 'int8' || c.dtype === 'int32')
    throw new ValueError(`exportOnnx: '${at}' reads ${c.dtype} constant '${v}'; only float window weights export`);
  return o.tensor(v, [...c.shape], o.floatData(v));
}

/** Conv / ConvTranspose with the window's attributes; channels-first in and out. */
function convOnnx(
  o: OnnxCtx,
  n: NodeView<WindowNdAttrs['convnd'] | WindowNdAttrs['convtransposend']>,
  op: 'Conv' | 'ConvTranspose',
): void {
  const at = n.name;
  const a = n.attrs;
  const w = o.isConstant(n.inputs[1]) ? o.constant(n.inputs[1]).shape : o.value(n.inputs[1]).shape;
  const attrs: OnnxAttr[] = [
    { name: 'kernel_shape', ints: w.slice(2) },
    { name: 'strides', ints: [...a.strides] },
    { name: 'dilations', ints: [...a.dilations] },
    { name: 'pads', ints: [...a.pads] },
    { name: 'group', i: a.group },
  ];
  if ('outputPadding' in a) attrs.push({ name: 'output_padding', ints: [...a.outputPadding] });
  const ins = [o.float(n.inputs[0], at, 'graduate'), ...n.inputs.slice(1).map((v) => onnxOperand(o, v, at))];
  o.bind(n.output, o.node(op, ins, at, attrs), at, 'graduate');
}

export const WINDOW_ND = {
  convnd: {
    arity: [2, 3],
    infer: ([x, w, b], a) => {
      weighsFloats('convnd', x);
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
      for (let i = 0; i < c.n.inputs.length; i++) expectHost(c, i, 'float32');
    },
    forward(x, [xi, wi, bi], out, a) {
      const [N, C] = xi.shape;
      const [M, Cg] = wi.shape;
      const sp = xi.shape.slice(2);
      const ks = wi.shape.slice(2);
      const os = out.shape.slice(2);
      const X = view(x, xi);
      const W = view(x, wi);
      const B = bi ? view(x, bi) : undefined;
      const Y = view(x, out);
      const inner = numel(sp);
      const kn = numel(ks);
      const on = numel(os);
      const Mg = M / a.group;
      const offs = windowOffsets(os, sp, ks, a);
      for (let n = 0; n < N; n++)
        for (let m = 0; m < M; m++) {
          const g = Math.floor(m / Mg);
          for (let o = 0; o < on; o++) {
            let s = B ? B[m] : 0;
            for (let t = 0; t < kn; t++) {
              const off = offs[o * kn + t];
              if (off < 0) continue;
              for (let c = 0; c < Cg; c++) s += X[(n * C + g * Cg + c) * inner + off] * W[(m * Cg + c) * kn + t];
            }
            Y[(n * M + m) * on + o] = s;
          }
        }
      return undefined;
    },
    // dx and dw: the forward's loops with each product's partner scattered or accumulated (one
    // table of tap offsets per output position); db: dy summed over batch and positions
    vjp: (g, [xi, wi, bi], out, _s, d, a, needs) => {
      const [N, C] = xi.shape;
      const [M, Cg] = wi.shape;
      const sp = xi.shape.slice(2);
      const ks = wi.shape.slice(2);
      const os = out.shape.slice(2);
      const inner = numel(sp);
      const kn = numel(ks);
      const on = numel(os);
      const Mg = M / a.group;
      const offs = windowOffsets(os, sp, ks, a); // offs[o * kn + t]: input offset of tap t at output o
      const dx = needs[0] ? zeros(g, xi.shape) : null;
      const dw = needs[1] ? zeros(g, wi.shape) : null;
      const db = bi && needs[2] ? zeros(g, bi.shape) : null;
      const f32 = (r: { buf: number; size: number }) => g.backend.f32(r.buf, r.size);
      const [X, W, D] = [f32(xi), f32(wi), f32(d)];
      const [DX, DW, DB] = [dx && f32(dx), dw && f32(dw), db && f32(db)];
      for (let n = 0; n < N; n++)
        for (let m = 0; m < M; m++) {
          const grp = Math.floor(m / Mg);
          const yBase = (n * M + m) * on;
          for (let o = 0; o < on; o++) {
            const dy = D[yBase + o];
            if (DB) DB[m] += dy;
            if (dy === 0) continue;
            for (let t = 0; t < kn; t++) {
              const off = offs[o * kn + t];
              if (off < 0) continue;
              for (let c = 0; c < Cg; c++) {
                const xAt = (n * C + grp * Cg + c) * inner + off;
                const wAt = (m * Cg + c) * kn + t;
                if (DX) DX[xAt] += dy * W[wAt];
                if (DW) DW[wAt] += dy * X[xAt];
              }
            }
          }
        }
      return [dx, dw, db];
    },
    traits: {},
    onnx: (o, n) => convOnnx(o, n, 'Conv'),
  } satisfies OpDef<WindowNdAttrs['convnd']>,
  convtransposend: {
    arity: [2, 3],
    infer: ([x, w, b], a) => {
      weighsFloats('convnd', x);
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
      for (let i = 0; i < c.n.inputs.length; i++) expectHost(c, i, 'float32');
    },
    forward(x, [xi, wi, bi], out, a) {
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
      const inner = numel(sp);
      const kn = numel(ks);
      const on = numel(os);
      for (let n = 0; n < N; n++)
        for (let m = 0; m < M; m++) Y.fill(B ? B[m] : 0, (n * M + m) * on, (n * M + m + 1) * on);
      // scatter: every input cell adds w · x to the outputs its window covers
      const offs = windowOffsets(sp, os, ks, a);
      for (let n = 0; n < N; n++)
        for (let c = 0; c < C; c++) {
          const g = Math.floor(c / Cg);
          for (let k = 0; k < inner; k++) {
            const v = X[(n * C + c) * inner + k];
            for (let t = 0; t < kn; t++) {
              const off = offs[k * kn + t];
              if (off < 0) continue;
              for (let j = 0; j < Mg; j++) {
                const m = g * Mg + j;
                Y[(n * M + m) * on + off] += v * W[(c * Mg + j) * kn + t];
              }
            }
          }
        }
      return undefined;
    },
    vjp: null,
    traits: {},
    onnx: (o, n) => convOnnx(o, n, 'ConvTranspose'),
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
      // indices count from the start of the whole tensor: a tile of a batch would restart them
      if (a.kind === 'argmax' && x.shape[0] === -1) throw new ShapeError('poolnd: argmax indices need a fixed batch');
      return { shape: [x.shape[0], x.shape[1], ...out], dtype: a.kind === 'argmax' ? 'int32' : 'float32' };
    },
    check: (c) => {
      windowCheck(c, c.n.attrs.kernel.length);
      if (!c.n.attrs.kernel.every((k) => Number.isInteger(k) && k >= 1))
        c.bad('attrs.kernel must be positive integers');
      if (!['max', 'avg', 'argmax'].includes(c.n.attrs.kind)) c.bad("attrs.kind must be 'max', 'avg' or 'argmax'");
      expectHost(c, 0, 'float32');
    },
    forward(x, [xi], out, a) {
      const rank = a.kernel.length;
      const [N, C] = xi.shape;
      const sp = xi.shape.slice(2);
      const os = out.shape.slice(2);
      const X = view(x, xi);
      const Y = view(x, out);
      const xs = stridesOf(sp);
      // column-major strides of the spatial axes (MaxPool's storage_order 1 for its Indices)
      const cs = sp.map((_, i) => numel(sp.slice(0, i)));
      const inner = numel(sp);
      const on = numel(os);
      const taps = tapsOf(a.kernel, a.dilations);
      for (let nc = 0; nc < N * C; nc++)
        forEachIndex(os, (at, k) => {
          const origin = at.map((o, i) => o * a.strides[i] - a.pads[i]);
          let best = Number.NEGATIVE_INFINITY;
          let at0 = -1;
          let sum = 0;
          let count = 0;
          let padded = 0;
          for (const tap of taps) {
            let off = 0;
            let colOff = 0;
            let inside = true;
            let inPad = true;
            for (let i = 0; i < rank; i++) {
              const p = origin[i] + tap[i];
              if (p < 0 || p >= sp[i]) inside = false;
              // count_include_pad counts cells inside the padded extent, not beyond it (ceil mode)
              if (p < -a.pads[i] || p >= sp[i] + a.pads[i + rank]) inPad = false;
              off += p * xs[i];
              colOff += p * cs[i];
            }
            if (inPad) padded++;
            if (!inside) continue;
            const v = X[nc * inner + off];
            // the first largest (a NaN propagates)
            if (at0 < 0 || v > best || (Number.isNaN(v) && !Number.isNaN(best))) {
              best = v;
              at0 = nc * inner + (a.columnMajor ? colOff : off);
            }
            sum += v;
            count++;
          }
          Y[nc * on + k] = a.kind === 'max' ? best : a.kind === 'argmax' ? at0 : sum / (a.countPad ? padded : count);
        });
      return undefined;
    },
    vjp: null,
    traits: {},
    onnx: (o, n) => {
      const at = n.name;
      const a = n.attrs;
      const dilated = a.dilations.some((d) => d !== 1);
      // opset 17: MaxPool has no argmax-only form here, AveragePool no dilations (opset 19)
      if (a.kind === 'argmax' || (a.kind === 'avg' && dilated))
        throw new ValueError(
          `exportOnnx: poolnd '${at}' (${a.kind}${dilated ? ', dilated' : ''}) has no opset-17 ONNX form`,
        );
      const attrs: OnnxAttr[] = [
        { name: 'kernel_shape', ints: [...a.kernel] },
        { name: 'strides', ints: [...a.strides] },
        { name: 'pads', ints: [...a.pads] },
        { name: 'ceil_mode', i: a.ceil ? 1 : 0 },
        a.kind === 'max'
          ? { name: 'dilations', ints: [...a.dilations] }
          : { name: 'count_include_pad', i: a.countPad ? 1 : 0 },
      ];
      const y = o.node(a.kind === 'max' ? 'MaxPool' : 'AveragePool', [o.float(n.inputs[0], at, 'graduate')], at, attrs);
      o.bind(n.output, y, at, 'graduate');
    },
  } satisfies OpDef<WindowNdAttrs['poolnd']>,
  resize: {
    arity: [1, 1],
    infer: ([x], a) => {
      if (a.sizes.length !== x.shape.length || a.scales.length !== x.shape.length)
        throw new ShapeError(`resize: ${a.sizes.length} sizes for rank ${x.shape.length}`);
      if (x.shape[0] === -1 && (a.sizes[0] !== -1 || a.scales[0] !== 1))
        throw new ShapeError('resize: the batch axis keeps its size');
      if (a.sizes.some((d, i) => d < 1 && !(i === 0 && d === -1))) throw new ShapeError('resize: empty output');
      if (x.shape[0] === -1 && a.roi && (a.roi[0] !== 0 || a.roi[a.sizes.length] !== 1))
        throw new ShapeError('resize: the batch axis is not cropped');
      // the forward resizes one axis at a time: its largest intermediate must fit in memory
      let shape = x.shape.map((d) => Math.max(d, 1));
      for (let i = 0; i < shape.length; i++) {
        shape = shape.map((d, k) => (k === i ? Math.max(a.sizes[i], 1) : d));
        if (numel(shape) * 8 > MEMORY_LIMIT_BYTES)
          throw new ShapeError(`resize: an intermediate of [${shape.join(', ')}] is beyond the engine's memory`);
      }
      return { shape: [...a.sizes], dtype: x.dtype };
    },
    check: (c) => {
      const a = c.n.attrs;
      if (!['nearest', 'linear', 'cubic'].includes(a.mode)) c.bad('attrs.mode must be nearest, linear or cubic');
      if (!a.scales.every((v) => v > 0 && Number.isFinite(v))) c.bad('attrs.scales must be positive');
      const x = c.value(0);
      if (a.mode !== 'nearest' && x.dtype !== 'float32') c.bad(`${a.mode} resizing takes float32`);
    },
    forward(x, [i], out, a) {
      // separable: one axis at a time (n-linear and n-cubic interpolation factor by axis)
      const r = i.shape.length;
      let shape = [...i.shape];
      let cur: Float64Array = Float64Array.from(view(x, i));
      for (let axis = 0; axis < r; axis++) {
        const inSize = shape[axis];
        const outSize = out.shape[axis];
        if (inSize === outSize && a.scales[axis] === 1 && a.coordinate !== 'tf_crop_and_resize') continue;
        const [outer, , inner] = [numel(shape.slice(0, axis)), inSize, numel(shape.slice(axis + 1))];
        const next = new Float64Array(outer * outSize * inner);
        for (let o = 0; o < outSize; o++) {
          const { at, w } = resizeTaps(a, axis, o, inSize, outSize);
          for (let p = 0; p < outer; p++)
            for (let j = 0; j < inner; j++) {
              let v = at.length ? 0 : a.extrapolation;
              for (let k = 0; k < at.length; k++) v += w[k] * cur[(p * inSize + at[k]) * inner + j];
              next[(p * outSize + o) * inner + j] = v;
            }
        }
        cur = next;
        shape = shape.map((d, k) => (k === axis ? outSize : d));
      }
      view(x, out).set(cur);
      return undefined;
    },
    vjp: null,
    traits: {},
    onnx: null,
  } satisfies OpDef<WindowNdAttrs['resize']>,
} satisfies { [K in keyof WindowNdAttrs]: OpDef<WindowNdAttrs[K]> };
