// The general import path's op table: ONNX op type → the registry ops that compute it, with
// ONNX's semantics across opsets 6–22 (attributes that became inputs, legacy broadcasting, the
// 2-D coercion of softmax before opset 13). Float32 ops with a kernel op (add, matmul, conv2d,
// softmax, the unary activations, …) map onto it; the rest onto the host-loop ops (ops/math.ts,
// ops/movement.ts). Shape arithmetic folds (general.ts emit). An op or attribute value that is not
// handled is refused by name (cx.fail), never run wrong.
// Not for: the image path's converters (converters.ts).
import type { UnaryFn } from '../../backend/backend.js';
import type { BinFn, MapFn, ReduceFn } from '../../ops/math.js';
import { ACT_NAMES, type RecurrentAttrs } from '../../ops/recurrent.js';
import { numel } from '../../ops/rules.js';
import { broadcastShape } from '../../shape/window.js';
import type { Attrs } from './attrs.js';
import { ELEM_NAMES, type GeneralConverter, type GeneralImporter, type SequenceConverter, type T } from './general.js';

type Cx = GeneralImporter;

const FLOAT_ELEMS = new Set([1, 10, 11, 16]);
const INT_ELEMS = new Set([2, 3, 4, 5, 6, 7, 12, 13]);

function need(cx: Cx, ins: (T | undefined)[], i: number): T {
  return ins[i] ?? cx.fail(`input ${i} is required`);
}

const isBatched = (t: T) => t.shape[0] === -1;

/** t reshaped to `shape` (concrete; -1 only as the batch axis). */
export function reshape(cx: Cx, t: T, shape: readonly number[]): T {
  if (shape.length === t.shape.length && shape.every((d, i) => d === t.shape[i])) return t;
  if (shape.some((d, i) => d < 0 && i > 0)) cx.fail(`reshape to [${shape.join(', ')}]: unknown dimensions`);
  if (t.kind === 'const') return { ...t, shape: [...shape] };
  return cx.emit('reshape', [t], { shape: [...shape] });
}

function transpose(cx: Cx, t: T, perm: readonly number[]): T {
  if (perm.every((p, i) => p === i)) return t;
  return cx.emit('transpose', [t], { perm: [...perm] });
}

function normAxis(cx: Cx, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!(Number.isInteger(a) && a >= 0 && a < Math.max(rank, 1)))
    cx.fail(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Legacy (opset < 7) broadcasting: b aligned at `axis` of a when broadcast = 1. */
function legacyB(cx: Cx, A: Attrs, a: T, b: T): T {
  if (cx.opset >= 7 || A.int('broadcast', 0) !== 1 || !A.has('axis')) return b;
  const axis = normAxis(cx, A.int('axis', 0), a.shape.length);
  const tail = a.shape.length - axis - b.shape.length;
  return tail > 0 ? reshape(cx, b, [...b.shape, ...new Array<number>(tail).fill(1)]) : b;
}

const KERNEL_BIN: Partial<Record<BinFn, 'add' | 'sub' | 'mul' | 'div'>> = {
  add: 'add',
  sub: 'sub',
  mul: 'mul',
  div: 'div',
};

/** a fn b: the float kernel op where there is one, else the host binop (ints, comparisons, …). */
export function bin(cx: Cx, fn: BinFn, a: T, b: T): T {
  const k = KERNEL_BIN[fn];
  if (k && cx.dtype(a) === 'float32' && cx.dtype(b) === 'float32') return cx.emit(k, [a, b], {});
  if (fn !== 'pow' && cx.dtype(a) !== cx.dtype(b))
    cx.fail(`operands are ${cx.dtype(a)} and ${cx.dtype(b)}; ONNX requires one type`);
  return cx.emit('binop', [a, b], { fn });
}

const binary =
  (fn: BinFn): GeneralConverter =>
  (cx, _n, A, ins) => {
    const a = need(cx, ins, 0);
    return [bin(cx, fn, a, legacyB(cx, A, a, need(cx, ins, 1)))];
  };

const variadic =
  (fn: BinFn, mean = false): GeneralConverter =>
  (cx, _n, _A, ins) => {
    const xs = ins.filter((t): t is T => t !== undefined);
    if (!xs.length) cx.fail('needs at least one input');
    let acc = xs[0];
    for (const t of xs.slice(1)) acc = bin(cx, fn, acc, t);
    if (mean) acc = bin(cx, 'div', acc, cx.constant([], [xs.length], cx.dtype(acc) === 'int32'));
    if (xs.length === 1) acc = cx.emit('map', [acc], { fn: 'identity' });
    return [acc];
  };

const KERNEL_UNARY: Partial<Record<MapFn, UnaryFn>> = {
  neg: 'neg',
  exp: 'exp',
  log: 'log',
  sqrt: 'sqrt',
  abs: 'abs',
  reciprocal: 'reciprocal',
  relu: 'relu',
  leakyRelu: 'leakyRelu',
  sigmoid: 'sigmoid',
  tanh: 'tanh',
};

/** fn(x): the float kernel op where there is one, else the host map. */
function map(cx: Cx, fn: MapFn, x: T, p: { alpha?: number; beta?: number; gamma?: number } = {}): T {
  const k = KERNEL_UNARY[fn];
  if (k && cx.dtype(x) === 'float32')
    return cx.emit('unary', [x], { fn: k, ...(p.alpha === undefined ? {} : { alpha: p.alpha }) });
  return cx.emit('map', [x], { fn, ...p });
}

const unary =
  (fn: MapFn, params: (A: Attrs) => { alpha?: number; beta?: number; gamma?: number } = () => ({})): GeneralConverter =>
  (cx, _n, A, ins) => [map(cx, fn, need(cx, ins, 0), params(A))];

/** Axes of a reduction: the input (newer opsets) or the attribute. */
function axesOf(cx: Cx, A: Attrs, ins: (T | undefined)[], inputFrom: number): number[] | undefined {
  if (cx.opset >= inputFrom) return ins[1] ? cx.constValues(ins[1], 'axes') : undefined;
  return A.ints('axes');
}

function reduceWith(cx: Cx, fn: ReduceFn, x: T, axes: number[], keepDims: boolean): T {
  const r = x.shape.length;
  const ax = [...new Set(axes.map((a) => normAxis(cx, a, r)))].sort((p, q) => p - q);
  if (cx.dtype(x) === 'float32' && (fn === 'sum' || fn === 'mean' || fn === 'max'))
    return cx.emit(fn, [x], { axes: ax, keepDims });
  return cx.emit('reduce', [x], { fn, axes: ax, keepDims });
}

const reduction =
  (fn: ReduceFn, inputFrom: number): GeneralConverter =>
  (cx, _n, A, ins) => {
    const x = need(cx, ins, 0);
    const keep = A.int('keepdims', 1) !== 0;
    let axes = axesOf(cx, A, ins, inputFrom);
    if (!axes || axes.length === 0) {
      if (A.int('noop_with_empty_axes', 0) === 1) return [cx.emit('map', [x], { fn: 'identity' })];
      axes = x.shape.map((_, i) => i);
    }
    if (x.shape.length === 0) return [cx.emit('map', [x], { fn: 'identity' })];
    return [reduceWith(cx, fn, x, axes, keep)];
  };

const argReduce =
  (min: boolean): GeneralConverter =>
  (cx, _n, A, ins) => {
    const x = need(cx, ins, 0);
    return [
      cx.emit('argmax', [x], {
        axis: normAxis(cx, A.int('axis', 0), x.shape.length),
        keepDims: A.int('keepdims', 1) !== 0,
        last: A.int('select_last_index', 0) !== 0,
        min,
      }),
    ];
  };

/** Softmax-like ops: over `axis` (opset ≥ 13), or over the 2-D coercion at `axis` (older). */
const softmaxLike =
  (kind: 'softmax' | 'log' | 'hard'): GeneralConverter =>
  (cx, _n, A, ins) => {
    const x = need(cx, ins, 0);
    const r = x.shape.length;
    const apply = (t: T, axis: number) =>
      kind === 'hard' ? cx.emit('hardmax', [t], { axis }) : cx.emit('softmax', [t], { axis, log: kind === 'log' });
    if (cx.dtype(x) !== 'float32') cx.fail('takes float tensors');
    if (cx.opset >= 13) return [apply(x, normAxis(cx, A.int('axis', -1), r))];
    const axis = normAxis(cx, A.int('axis', 1), r);
    if (axis === r - 1) return [apply(x, axis)];
    const inner = numel(x.shape.slice(axis));
    const coerced = axis === 0 ? [1, inner] : [x.shape[0], numel(x.shape.slice(1, axis)), inner];
    if (axis === 0 && isBatched(x)) cx.fail('the 2-D coercion at axis 0 would mix the batch');
    return [reshape(cx, apply(reshape(cx, x, coerced), coerced.length - 1), x.shape)];
  };

const NARROW_ELEMS: Record<number, 'uint8' | 'int8' | 'uint16' | 'int16'> = {
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
};

function castTo(cx: Cx, x: T, to: number): T {
  const target = FLOAT_ELEMS.has(to) ? 'float32' : INT_ELEMS.has(to) ? 'int32' : to === 9 ? 'bool' : undefined;
  if (!target) return cx.fail(`cast to ${ELEM_NAMES[to] ?? to} is not supported`);
  if (to === 10 || to === 16) return cx.emit('cast', [x], { to: to === 10 ? 'float16' : 'bfloat16' });
  if (NARROW_ELEMS[to]) return { ...cx.emit('cast', [x], { to: NARROW_ELEMS[to] }), elem: to };
  if (target === 'float32' && cx.dtype(x) === 'float32') return x;
  if (target === 'int32' && cx.dtype(x) === 'int32') return x;
  return cx.emit('cast', [x], { to: target });
}

/** Slice geometry of one axis (ONNX's clamping rules): begin, step and size. */
function sliceAxis(d: number, start: number, end: number, step: number): [number, number, number] {
  let s = start < 0 ? start + d : start;
  let e = end < 0 ? end + d : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), d);
    e = Math.min(Math.max(e, 0), d);
  } else {
    s = Math.min(Math.max(s, -1), d - 1);
    e = Math.min(Math.max(e, -1), d - 1);
  }
  const size = Math.max(0, Math.ceil((e - s) / step));
  return [size === 0 ? 0 : s, step, size];
}

function sliceBy(cx: Cx, x: T, begin: number[], step: number[], size: number[]): T {
  if (isBatched(x) && !(begin[0] === 0 && step[0] === 1 && size[0] === -1))
    cx.fail('slicing the batch axis is not supported');
  if (size.some((s) => s === 0)) {
    if (x.kind === 'const') return cx.constant(size, [], cx.dtype(x) === 'int32');
    return cx.emit('strided', [x], { begin, step, size });
  }
  if (cx.dtype(x) === 'float32' && step.every((s) => s === 1))
    return cx.emit('slice', [x], { begin: [...begin], size: [...size] });
  return cx.emit('strided', [x], { begin, step, size });
}

/** ONNX window attributes over `rank` spatial axes (auto_pad resolved against x). */
function windowNd(
  cx: Cx,
  A: Attrs,
  x: T,
  kernel: number[],
  transposed = false,
): { strides: number[]; dilations: number[]; pads: number[] } {
  const rank = kernel.length;
  const strides = A.ints('strides') ?? new Array<number>(rank).fill(1);
  const dilations = A.ints('dilations') ?? new Array<number>(rank).fill(1);
  let pads = A.ints('pads') ?? new Array<number>(2 * rank).fill(0);
  const auto = A.str('auto_pad', 'NOTSET');
  if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    pads = new Array<number>(2 * rank).fill(0);
    for (let i = 0; i < rank; i++) {
      const d = x.shape[2 + i];
      const span = (kernel[i] - 1) * dilations[i] + 1;
      const total = transposed
        ? Math.max(0, strides[i] * (d - 1) + span - d * strides[i])
        : Math.max(0, (Math.ceil(d / strides[i]) - 1) * strides[i] + span - d);
      const small = Math.floor(total / 2);
      const upper = auto === 'SAME_UPPER';
      pads[i] = upper ? small : total - small;
      pads[i + rank] = total - pads[i];
    }
  } else if (auto === 'VALID') pads = new Array<number>(2 * rank).fill(0);
  else if (auto !== 'NOTSET') cx.fail(`auto_pad '${auto}' is not supported`);
  if (strides.length !== rank || dilations.length !== rank || pads.length !== 2 * rank)
    cx.fail(`strides/dilations/pads do not match a ${rank}-D window`);
  return { strides, dilations, pads };
}

const toNhwc = [0, 2, 3, 1];
const toNchw = [0, 3, 1, 2];

/** An NCHW 2-D (or 1-D, as H = 1) window on the NHWC kernels: x transposed in, y back out. */
function viaNhwc(cx: Cx, x: T, run: (x4: T) => T): T {
  const one = x.shape.length === 3;
  const x4 = one ? reshape(cx, x, [x.shape[0], x.shape[1], 1, x.shape[2]]) : x;
  const y = transpose(cx, run(transpose(cx, x4, toNhwc)), toNchw);
  return one ? reshape(cx, y, [y.shape[0], y.shape[1], y.shape[3]]) : y;
}

/** Pads as the 2-D kernels take them ([top, left, bottom, right]) for a 1-D or 2-D window. */
function pads2d(p: number[]): [number, number, number, number] {
  return p.length === 2 ? [0, p[0], 0, p[1]] : [p[0], p[1], p[2], p[3]];
}

const conv: GeneralConverter = (cx, _n, A, ins) => {
  const x = need(cx, ins, 0);
  const w = need(cx, ins, 1);
  const b = ins[2];
  if (cx.dtype(x) !== 'float32' || cx.dtype(w) !== 'float32') cx.fail('takes float tensors');
  const ks = w.shape.slice(2);
  const group = A.int('group', 1);
  const win = windowNd(cx, A, x, ks);
  const rank = ks.length;
  const fast =
    group === 1 &&
    win.dilations.every((d) => d === 1) &&
    w.kind === 'const' &&
    (rank === 1 || rank === 2) &&
    (!b || b.kind === 'const');
  if (!fast) return [cx.emit('convnd', b ? [x, w, b] : [x, w], { group, ...win })];
  // [Cout, Cin, KH, KW] → [KH, KW, Cin, Cout] for the NHWC kernel
  const [Cout, Cin] = w.shape;
  const [KH, KW] = rank === 1 ? [1, ks[0]] : ks;
  const src = (w as Extract<T, { kind: 'const' }>).data;
  const wt = new Float32Array(src.length);
  for (let o = 0; o < Cout; o++)
    for (let c = 0; c < Cin; c++)
      for (let h = 0; h < KH; h++)
        for (let k = 0; k < KW; k++) wt[((h * KW + k) * Cin + c) * Cout + o] = src[((o * Cin + c) * KH + h) * KW + k];
  const weight = cx.constant([KH, KW, Cin, Cout], wt, false);
  const stride: [number, number] = rank === 1 ? [1, win.strides[0]] : [win.strides[0], win.strides[1]];
  return [
    viaNhwc(cx, x, (x4) =>
      cx.emit('conv2d', b ? [x4, weight, b] : [x4, weight], { activation: 'none', stride, pads: pads2d(win.pads) }),
    ),
  ];
};

const convTranspose: GeneralConverter = (cx, _n, A, ins) => {
  const x = need(cx, ins, 0);
  const w = need(cx, ins, 1);
  const b = ins[2];
  const ks = w.shape.slice(2);
  const rank = ks.length;
  const group = A.int('group', 1);
  const outputPadding = [...(A.ints('output_padding') ?? new Array<number>(rank).fill(0))];
  let win = windowNd(cx, A, x, ks, true);
  const outShape = A.ints('output_shape');
  if (outShape) {
    // pads from the requested output size (ONNX: SAME_UPPER-style split unless auto_pad says lower)
    const pads = new Array<number>(2 * rank).fill(0);
    for (let i = 0; i < rank; i++) {
      const full = win.strides[i] * (x.shape[2 + i] - 1) + outputPadding[i] + (ks[i] - 1) * win.dilations[i] + 1;
      const total = full - outShape[outShape.length - rank + i];
      // a larger requested output: the difference is extra output padding at the end
      if (total < 0) outputPadding[i] -= total;
      const t = Math.max(0, total);
      const lower = A.str('auto_pad', 'NOTSET') === 'SAME_LOWER';
      pads[i] = lower ? t - Math.floor(t / 2) : Math.floor(t / 2);
      pads[i + rank] = t - pads[i];
    }
    win = { ...win, pads };
  }
  return [cx.emit('convtransposend', b ? [x, w, b] : [x, w], { group, outputPadding, ...win })];
};

const pool =
  (kind: 'max' | 'avg'): GeneralConverter =>
  (cx, n, A, ins) => {
    const x = need(cx, ins, 0);
    if ((n.output ?? [])[1]) {
      // with Indices: both outputs by the host pool (values, and the argmax of the same windows)
      if (kind !== 'max' || cx.dtype(x) !== 'float32') cx.fail('Indices are given for float MaxPool only');
      const k = A.ints('kernel_shape') ?? cx.fail('kernel_shape is required');
      const w = windowNd(cx, A, x, k);
      const at = { kernel: k, ceil: A.int('ceil_mode', 0) !== 0, countPad: false, ...w };
      const columnMajor = A.int('storage_order', 0) !== 0;
      return [
        cx.emit('poolnd', [x], { kind: 'max', ...at }),
        cx.emit('poolnd', [x], { kind: 'argmax', columnMajor, ...at }),
      ];
    }
    const kernel = A.ints('kernel_shape') ?? cx.fail('kernel_shape is required');
    if (cx.dtype(x) === 'int32') {
      // integer max pooling: through float32 (exact for the 8- and 16-bit types ONNX allows here)
      if (kind !== 'max') cx.fail('average pooling takes float tensors');
      const xf = cx.emit('cast', [x], { to: 'float32' });
      const [y] = pool('max')(cx, n, A, [xf]);
      return [cx.emit('cast', [y], { to: 'int32' })];
    }
    const win = windowNd(cx, A, x, kernel);
    const rank = kernel.length;
    const ceil = A.int('ceil_mode', 0) !== 0;
    const countPad = A.int('count_include_pad', 0) !== 0;
    const p2 = pads2d(win.pads);
    const fast =
      (rank === 1 || rank === 2) &&
      !ceil &&
      win.dilations.every((d) => d === 1) &&
      (kind === 'max' || !countPad || win.pads.every((p) => p === 0)) &&
      p2[0] < (rank === 1 ? 1 : kernel[0]) &&
      p2[2] < (rank === 1 ? 1 : kernel[0]) &&
      p2[1] < kernel[rank - 1] &&
      p2[3] < kernel[rank - 1];
    if (!fast) return [cx.emit('poolnd', [x], { kind, kernel, ceil, countPad, ...win })];
    const k2: [number, number] = rank === 1 ? [1, kernel[0]] : [kernel[0], kernel[1]];
    const stride: [number, number] = rank === 1 ? [1, win.strides[0]] : [win.strides[0], win.strides[1]];
    const op = kind === 'max' ? 'maxpool2d' : 'avgpool2d';
    return [viaNhwc(cx, x, (x4) => cx.emit(op, [x4], { kernel: k2, stride, pads: p2 }))];
  };

const globalPool =
  (fn: 'mean' | 'max'): GeneralConverter =>
  (cx, _n, _A, ins) => {
    const x = need(cx, ins, 0);
    const axes = x.shape.map((_, i) => i).slice(2);
    return [reduceWith(cx, fn, x, axes, true)];
  };

/** Per-channel constant [C] as [C, 1, …] against an NC… tensor of rank r. */
function channelShaped(cx: Cx, values: ArrayLike<number>, r: number): T {
  return cx.constant([values.length, ...new Array<number>(Math.max(0, r - 2)).fill(1)], values, false);
}

const batchNorm: GeneralConverter = (cx, n, A, ins) => {
  const x = need(cx, ins, 0);
  const eps = A.float('epsilon', 1e-5);
  const r0 = x.shape.length;
  const training = A.int('training_mode', 0) !== 0 || (n.output ?? []).slice(1).some((o) => o);
  if (training) {
    // training mode (opset 14+): batch statistics over every axis but the channels, and the
    // running statistics blended by momentum as outputs 1 and 2
    if (isBatched(x)) cx.fail('training-mode statistics over the batch axis need a fixed batch');
    const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
    const shaped = (t: T) => reshape(cx, t, [x.shape[1], ...new Array<number>(Math.max(0, r0 - 2)).fill(1)]);
    const mean = reduceWith(cx, 'mean', x, axes, true);
    const xc = bin(cx, 'sub', x, mean);
    const variance = reduceWith(cx, 'mean', bin(cx, 'mul', xc, xc), axes, true);
    const inv = map(cx, 'sqrt', bin(cx, 'add', variance, cx.constant([], [eps], false)));
    const y = bin(
      cx,
      'add',
      bin(cx, 'div', bin(cx, 'mul', xc, shaped(need(cx, ins, 1))), inv),
      shaped(need(cx, ins, 2)),
    );
    const m = A.float('momentum', 0.9);
    const blend = (running: T, current: T) =>
      bin(
        cx,
        'add',
        bin(cx, 'mul', running, cx.constant([], [m], false)),
        bin(cx, 'mul', reshape(cx, current, [x.shape[1]]), cx.constant([], [1 - m], false)),
      );
    return [y, blend(need(cx, ins, 3), mean), blend(need(cx, ins, 4), variance)];
  }
  if ([1, 2, 3, 4].some((i) => ins[i]?.kind !== 'const')) {
    // parameters computed at run time: (x − mean) · scale / sqrt(var + eps) + b, channel-shaped
    const [sc, bb, mu, va] = [1, 2, 3, 4].map((i) =>
      reshape(cx, need(cx, ins, i), [x.shape[1], ...new Array<number>(Math.max(0, r0 - 2)).fill(1)]),
    );
    const inv = map(cx, 'sqrt', bin(cx, 'add', va, cx.constant([], [eps], false)));
    return [bin(cx, 'add', bin(cx, 'div', bin(cx, 'mul', bin(cx, 'sub', x, mu), sc), inv), bb)];
  }
  const [scale, b, mean, v] = [1, 2, 3, 4].map((i) => cx.constValues(ins[i], `input ${i}`));
  const s = scale.map((g, c) => g / Math.sqrt(v[c] + eps));
  const t = b.map((bb, c) => bb - mean[c] * s[c]);
  const r = x.shape.length;
  return [bin(cx, 'add', bin(cx, 'mul', x, channelShaped(cx, s, r)), channelShaped(cx, t, r))];
};

/** (x − mean) / sqrt(var + eps) over `axes`, composed of reductions. */
function normalize(cx: Cx, x: T, axes: number[], eps: number): T {
  const mean = reduceWith(cx, 'mean', x, axes, true);
  const xc = bin(cx, 'sub', x, mean);
  const variance = reduceWith(cx, 'mean', bin(cx, 'mul', xc, xc), axes, true);
  const std = map(cx, 'sqrt', bin(cx, 'add', variance, cx.constant([], [eps], false)));
  return bin(cx, 'div', xc, std);
}

const instanceNorm: GeneralConverter = (cx, _n, A, ins) => {
  const x = need(cx, ins, 0);
  const r = x.shape.length;
  const shaped = (t: T) => reshape(cx, t, [t.shape[0], ...new Array<number>(Math.max(0, r - 2)).fill(1)]);
  const y = normalize(cx, x, x.shape.map((_, i) => i).slice(2), A.float('epsilon', 1e-5));
  return [bin(cx, 'add', bin(cx, 'mul', y, shaped(need(cx, ins, 1))), shaped(need(cx, ins, 2)))];
};

const layerNorm: GeneralConverter = (cx, n, A, ins) => {
  const x = need(cx, ins, 0);
  const r = x.shape.length;
  const axis = normAxis(cx, A.int('axis', -1), r);
  const eps = A.float('epsilon', 1e-5);
  const scale = need(cx, ins, 1);
  const bias = ins[2];
  const C = x.shape[r - 1];
  const stats = (n.output ?? []).slice(1).some((o) => o);
  const fused =
    !stats &&
    axis === r - 1 &&
    scale.kind === 'const' &&
    scale.shape.length === 1 &&
    (!bias || (bias.kind === 'const' && bias.shape.length === 1)) &&
    cx.dtype(x) === 'float32';
  if (fused) {
    const b = bias ?? cx.constant([C], new Float32Array(C), false);
    return [cx.emit('layernorm', [x, scale, b], { eps })];
  }
  // composed: (x − mean) · invStd · scale + bias, with Mean and InvStdDev as outputs 1 and 2
  const axes = x.shape.map((_, i) => i).slice(axis);
  const mean = reduceWith(cx, 'mean', x, axes, true);
  const xc = bin(cx, 'sub', x, mean);
  const variance = reduceWith(cx, 'mean', bin(cx, 'mul', xc, xc), axes, true);
  const invStd = map(cx, 'reciprocal', map(cx, 'sqrt', bin(cx, 'add', variance, cx.constant([], [eps], false))));
  const y = bin(cx, 'mul', bin(cx, 'mul', xc, invStd), scale);
  return [bias ? bin(cx, 'add', y, bias) : y, mean, invStd];
};

const gemm: GeneralConverter = (cx, _n, A, ins) => {
  let a = need(cx, ins, 0);
  let b = need(cx, ins, 1);
  if (cx.dtype(a) !== 'float32' || cx.dtype(b) !== 'float32') cx.fail('takes float tensors');
  if (A.int('transA', 0)) a = transpose(cx, a, [1, 0]);
  if (A.int('transB', 0)) b = transpose(cx, b, [1, 0]);
  let y = cx.emit('matmul', [a, b], {});
  const alpha = A.float('alpha', 1);
  const beta = A.float('beta', 1);
  if (alpha !== 1) y = bin(cx, 'mul', y, cx.constant([], [alpha], false));
  const c = ins[2];
  if (c && beta !== 0) y = bin(cx, 'add', y, beta === 1 ? c : bin(cx, 'mul', c, cx.constant([], [beta], false)));
  return [y];
};

const matmul: GeneralConverter = (cx, _n, _A, ins) => {
  let a = need(cx, ins, 0);
  let b = need(cx, ins, 1);
  if (cx.dtype(a) !== 'float32' || cx.dtype(b) !== 'float32')
    cx.fail('takes float tensors (integer MatMul is not supported)');
  const a1 = a.shape.length === 1;
  const b1 = b.shape.length === 1;
  if (a1) a = reshape(cx, a, [1, a.shape[0]]);
  if (b1) b = reshape(cx, b, [b.shape[0], 1]);
  const la = a.shape.slice(0, -2);
  const lb = b.shape.slice(0, -2);
  if (lb.length > 0 && !(la.length === lb.length && la.every((d, i) => d === lb[i]))) {
    const lead = broadcastShape(la, lb, 'MatMul');
    const ea = [...lead, ...a.shape.slice(-2)];
    const eb = [...lead, ...b.shape.slice(-2)];
    if (la.length !== lead.length || la.some((d, i) => d !== lead[i])) a = cx.emit('expand', [a], { shape: ea });
    if (lb.length !== lead.length || lb.some((d, i) => d !== lead[i])) b = cx.emit('expand', [b], { shape: eb });
  }
  let y = cx.emit('matmul', [a, b], {});
  if (a1 || b1) {
    const s = y.shape.slice(0, -2);
    y = reshape(cx, y, [
      ...s,
      ...(a1 ? [] : [y.shape[y.shape.length - 2]]),
      ...(b1 ? [] : [y.shape[y.shape.length - 1]]),
    ]);
  }
  return [y];
};

const reshapeOp: GeneralConverter = (cx, _n, A, ins) => {
  const x = need(cx, ins, 0);
  const target = cx.opset >= 5 ? cx.constValues(ins[1], 'shape') : (A.ints('shape') ?? cx.fail('shape is required'));
  const allowZero = A.int('allowzero', 0) === 1;
  const s = target.map((d, i) =>
    d === 0 && !allowZero ? (x.shape[i] ?? cx.fail(`shape[${i}] = 0 copies a dimension the input lacks`)) : d,
  );
  if (isBatched(x)) {
    if (s[0] !== -1) cx.fail(`reshape to [${target.join(', ')}] must keep the batch axis first`);
    if (s.slice(1).includes(-1)) {
      const rest = numel(s.slice(1).filter((d) => d !== -1));
      const k = s.indexOf(-1, 1);
      s[k] = numel(x.shape) / rest;
    } else if (numel(s) !== numel(x.shape)) cx.fail(`cannot reshape [${x.shape}] to [${target.join(', ')}]`);
    return [reshape(cx, x, s)];
  }
  const total = numel(x.shape);
  const k = s.indexOf(-1);
  if (k >= 0) {
    const rest = numel(s.filter((_, i) => i !== k));
    if (rest === 0 || total % rest !== 0) cx.fail(`cannot reshape [${x.shape}] to [${target.join(', ')}]`);
    s[k] = total / rest;
  }
  if (numel(s) !== total || s.some((d) => d < 0)) cx.fail(`cannot reshape [${x.shape}] to [${target.join(', ')}]`);
  return [reshape(cx, x, s)];
};

const flatten: GeneralConverter = (cx, _n, A, ins) => {
  const x = need(cx, ins, 0);
  const r = x.shape.length;
  const axis = A.int('axis', 1) < 0 ? A.int('axis', 1) + r : A.int('axis', 1);
  const outer = numel(x.shape.slice(0, axis));
  const inner = numel(x.shape.slice(axis));
  if (isBatched(x)) {
    if (axis === 0 || numel(x.shape.slice(1, axis)) !== 1) cx.fail(`flatten at axis ${axis} would merge the batch`);
    return [reshape(cx, x, [-1, inner])];
  }
  return [reshape(cx, x, [outer, inner])];
};

const squeeze: GeneralConverter = (cx, _n, A, ins) => {
  const x = need(cx, ins, 0);
  const r = x.shape.length;
  const given = cx.opset >= 13 ? (ins[1] ? cx.constValues(ins[1], 'axes') : undefined) : A.ints('axes');
  const axes = given ? given.map((a) => normAxis(cx, a, r)) : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  for (const a of axes) if (x.shape[a] !== 1) cx.fail(`axis ${a} has size ${x.shape[a]}, not 1`);
  return [
    reshape(
      cx,
      x,
      x.shape.filter((_, i) => !axes.includes(i)),
    ),
  ];
};

const unsqueeze: GeneralConverter = (cx, _n, A, ins) => {
  const x = need(cx, ins, 0);
  const given = cx.opset >= 13 ? cx.constValues(ins[1], 'axes') : (A.ints('axes') ?? cx.fail('axes are required'));
  const r = x.shape.length + given.length;
  const axes = given.map((a) => normAxis(cx, a, r));
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < r; i++) out.push(axes.includes(i) ? 1 : x.shape[k++]);
  if (isBatched(x) && axes.includes(0)) cx.fail('unsqueeze before the batch axis is not supported');
  return [reshape(cx, x, out)];
};

const sliceOp: GeneralConverter = (cx, _n, A, ins) => {
  const x = need(cx, ins, 0);
  const r = x.shape.length;
  const starts = cx.opset >= 10 ? cx.constValues(ins[1], 'starts') : (A.ints('starts') ?? []);
  const ends = cx.opset >= 10 ? cx.constValues(ins[2], 'ends') : (A.ints('ends') ?? []);
  const axes =
    (cx.opset >= 10 ? (ins[3] ? cx.constValues(ins[3], 'axes') : undefined) : A.ints('axes')) ??
    starts.map((_, i) => i);
  const steps = cx.opset >= 10 && ins[4] ? cx.constValues(ins[4], 'steps') : starts.map(() => 1);
  const begin = x.shape.map(() => 0);
  const step = x.shape.map(() => 1);
  const size = [...x.shape];
  axes.forEach((a0, k) => {
    const a = normAxis(cx, a0, r);
    if (steps[k] === 0) cx.fail('a step of 0');
    if (a === 0 && isBatched(x)) {
      if (starts[k] === 0 && steps[k] === 1 && ends[k] >= 2 ** 31 - 1) return;
      cx.fail('slicing the batch axis is not supported');
    }
    [begin[a], step[a], size[a]] = sliceAxis(x.shape[a], starts[k], ends[k], steps[k]);
  });
  return [sliceBy(cx, x, begin, step, size)];
};

const split: GeneralConverter = (cx, n, A, ins) => {
  const x = need(cx, ins, 0);
  const r = x.shape.length;
  const axis = normAxis(cx, A.int('axis', 0), r);
  const count = (n.output ?? []).length;
  const d = x.shape[axis];
  let parts = cx.opset >= 13 ? (ins[1] ? cx.constValues(ins[1], 'split') : undefined) : A.ints('split');
  if (!parts) {
    const k = A.int('num_outputs', count);
    const each = Math.ceil(d / k);
    parts = Array.from({ length: k }, (_, i) => Math.min(each, d - each * i));
  }
  if (parts.reduce((s, p) => s + p, 0) !== d) cx.fail(`split sizes [${parts.join(', ')}] do not sum to ${d}`);
  let off = 0;
  return parts.map((p) => {
    const begin = x.shape.map((_, i) => (i === axis ? off : 0));
    const size = x.shape.map((s, i) => (i === axis ? p : s));
    off += p;
    return sliceBy(
      cx,
      x,
      begin,
      x.shape.map(() => 1),
      size,
    );
  });
};

const concat: GeneralConverter = (cx, _n, A, ins) => {
  const xs = ins.filter((t): t is T => t !== undefined && numel(t.shape) > 0);
  if (!xs.length) cx.fail('nothing to join');
  const axis = normAxis(cx, A.int('axis', 0), xs[0].shape.length);
  if (xs.length === 1) return [cx.emit('map', [xs[0]], { fn: 'identity' })];
  return [cx.emit('concat', xs, { axis })];
};

const gather: GeneralConverter = (cx, _n, A, ins) => {
  const x = need(cx, ins, 0);
  let idx = need(cx, ins, 1);
  if (cx.dtype(idx) !== 'int32') idx = cx.emit('cast', [idx], { to: 'int32' });
  return [cx.emit('gather', [x, idx], { axis: normAxis(cx, A.int('axis', 0), x.shape.length) })];
};

const gatherElements: GeneralConverter = (cx, _n, A, ins) => {
  const x = need(cx, ins, 0);
  return [cx.emit('gatherelements', [x, need(cx, ins, 1)], { axis: normAxis(cx, A.int('axis', 0), x.shape.length) })];
};

const where: GeneralConverter = (cx, _n, _A, ins) => {
  const [c, a, b] = [0, 1, 2].map((i) => need(cx, ins, i));
  if (cx.dtype(a) === 'float32' && cx.dtype(b) === 'float32')
    return [cx.emit('where', [cx.emit('cast', [c], { to: 'float32' }), a, b], {})];
  // integers, exactly (wrapping arithmetic): b + c · (a − b)
  const cond = cx.emit('cast', [c], { to: 'bool' });
  return [bin(cx, 'add', b, bin(cx, 'mul', cond, bin(cx, 'sub', a, b)))];
};

const clip: GeneralConverter = (cx, _n, A, ins) => {
  const x = need(cx, ins, 0);
  if (cx.opset < 11) {
    return [
      cx.emit('map', [x], {
        fn: 'clip',
        alpha: A.float('min', -3.4028234663852886e38),
        beta: A.float('max', 3.4028234663852886e38),
      }),
    ];
  }
  const lo = ins[1];
  const hi = ins[2];
  if ((!lo || lo.kind === 'const') && (!hi || hi.kind === 'const'))
    return [
      cx.emit('map', [x], {
        fn: 'clip',
        ...(lo ? { alpha: cx.constValues(lo, 'min')[0] } : {}),
        ...(hi ? { beta: cx.constValues(hi, 'max')[0] } : {}),
      }),
    ];
  let y = x;
  if (lo) y = bin(cx, 'max', y, lo);
  if (hi) y = bin(cx, 'min', y, hi);
  return [y];
};

const constantOp: GeneralConverter = (cx, n, A) => {
  const t = A.tensor('value');
  if (t) return [constFromTensor(cx, t)];
  if (A.has('value_float')) return [cx.constant([], [A.float('value_float', 0)], false)];
  if (A.has('value_floats')) {
    const f = A.floats('value_floats') ?? [];
    return [cx.constant([f.length], f, false)];
  }
  if (A.has('value_int')) return [cx.constant([], [A.int('value_int', 0)], true)];
  if (A.has('value_ints')) {
    const v = A.ints('value_ints') ?? [];
    return [cx.constant([v.length], v, true)];
  }
  return cx.fail(`Constant with attributes ${(n.attribute ?? []).map((a) => a.name).join(', ')} is not supported`);
};

function constFromTensor(cx: Cx, t: NonNullable<ReturnType<Attrs['tensor']>>): T {
  const c = cx.readTensor(t);
  return { kind: 'const', shape: c.dims, int: c.int, data: c.data, elem: c.elem };
}

const shapeOp: GeneralConverter = (cx, _n, A, ins) => {
  const x = need(cx, ins, 0);
  const r = x.shape.length;
  const clampAxis = (a: number) => Math.min(Math.max(a < 0 ? a + r : a, 0), r);
  const dims = x.shape.slice(clampAxis(A.int('start', 0)), clampAxis(A.int('end', r)));
  if (dims.includes(-1)) cx.fail('Shape of the batch axis is not known until run time');
  return [cx.constant([dims.length], dims, true)];
};

const sizeOp: GeneralConverter = (cx, _n, _A, ins) => {
  const x = need(cx, ins, 0);
  if (isBatched(x)) cx.fail('Size of a batched tensor is not known until run time');
  return [cx.constant([], [numel(x.shape)], true)];
};

const constantOfShape: GeneralConverter = (cx, _n, A, ins) => {
  const shape = cx.constValues(ins[0], 'shape');
  const t = A.tensor('value');
  const v = t ? constFromTensor(cx, t) : cx.constant([1], [0], false);
  if (v.kind !== 'const') return cx.fail('value must be a tensor');
  const n = numel(shape);
  if (n > 2 ** 26) cx.fail(`${n} elements is too large`);
  return [cx.constant(shape, new Float64Array(n).fill(v.data[0] ?? 0), v.int)];
};

const range: GeneralConverter = (cx, _n, _A, ins) => {
  const [start, limit, delta] = [0, 1, 2].map((i) => cx.constValues(ins[i], `input ${i}`)[0]);
  const n = Math.max(Math.ceil((limit - start) / delta), 0);
  if (!Number.isFinite(n) || n > 2 ** 26) cx.fail(`Range of ${n} elements`);
  const int = (ins[0] as T & { kind: 'const' }).int;
  return [
    cx.constant(
      [n],
      Array.from({ length: n }, (_, i) => start + i * delta),
      int,
    ),
  ];
};

const expand: GeneralConverter = (cx, _n, _A, ins) => {
  const x = need(cx, ins, 0);
  return [cx.emit('expand', [x], { shape: cx.constValues(ins[1], 'shape') })];
};

const tile: GeneralConverter = (cx, _n, _A, ins) => [
  cx.emit('tile', [need(cx, ins, 0)], { repeats: cx.constValues(ins[1], 'repeats') }),
];

const pad: GeneralConverter = (cx, _n, A, ins) => {
  const x = need(cx, ins, 0);
  const r = x.shape.length;
  const mode = A.str('mode', 'constant');
  if (!['constant', 'reflect', 'edge', 'wrap'].includes(mode)) cx.fail(`mode '${mode}' is not supported`);
  let pads: number[];
  let value = 0;
  if (cx.opset < 11) {
    pads = A.ints('pads') ?? A.ints('paddings') ?? cx.fail('pads are required');
    value = A.float('value', 0);
  } else {
    pads = cx.constValues(ins[1], 'pads');
    if (ins[2]) value = cx.constValues(ins[2], 'constant_value')[0] ?? 0;
    if (ins[3]) {
      const axes = cx.constValues(ins[3], 'axes').map((a) => normAxis(cx, a, r));
      const full = new Array<number>(2 * r).fill(0);
      axes.forEach((a, k) => {
        full[a] = pads[k];
        full[a + r] = pads[k + axes.length];
      });
      pads = full;
    }
  }
  return [cx.emit('pad', [x], { pads, mode: mode as 'constant', value })];
};

const trilu: GeneralConverter = (cx, _n, A, ins) => [
  cx.emit('trilu', [need(cx, ins, 0)], {
    upper: A.int('upper', 1) !== 0,
    k: ins[1] ? cx.constValues(ins[1], 'k')[0] : 0,
  }),
];

const cumsum: GeneralConverter = (cx, _n, A, ins) => {
  const x = need(cx, ins, 0);
  return [
    cx.emit('cumsum', [x], {
      axis: normAxis(cx, cx.constValues(ins[1], 'axis')[0], x.shape.length),
      exclusive: A.int('exclusive', 0) !== 0,
      reverse: A.int('reverse', 0) !== 0,
    }),
  ];
};

const dropout: GeneralConverter = (cx, n, _A, ins) => {
  const x = need(cx, ins, 0);
  const training = ins[2];
  const ratio = ins[1];
  const zeroRatio = ratio?.kind === 'const' && ratio.data[0] === 0;
  if (training && (training.kind !== 'const' || training.data[0]) && !zeroRatio)
    cx.fail(
      'training_mode with a ratio above 0 is not supported (random; inference only: training_mode false or absent)',
    );
  const y = cx.emit('map', [x], { fn: 'identity' });
  if (!(n.output ?? [])[1]) return [y];
  // the mask in inference keeps everything: all true (not(isNaN) of every number)
  return [y, cx.emit('map', [cx.emit('map', [x], { fn: 'isNaN' })], { fn: 'not' })];
};

const identity: GeneralConverter = (cx, _n, _A, ins) => [need(cx, ins, 0)];

const depthToSpace: GeneralConverter = (cx, _n, A, ins) => {
  const x = need(cx, ins, 0);
  const b = A.int('blocksize', 0);
  const [N, C, H, W] = x.shape;
  if (x.shape.length !== 4 || b < 1 || C % (b * b))
    cx.fail(`blocksize ${b} does not divide the channels of [${x.shape}]`);
  const c = C / (b * b);
  const crd = A.str('mode', 'DCR') === 'CRD';
  const t = crd ? reshape(cx, x, [N, c, b, b, H, W]) : reshape(cx, x, [N, b, b, c, H, W]);
  const p = crd ? transpose(cx, t, [0, 1, 4, 2, 5, 3]) : transpose(cx, t, [0, 3, 4, 1, 5, 2]);
  return [reshape(cx, p, [N, c, H * b, W * b])];
};

const spaceToDepth: GeneralConverter = (cx, _n, A, ins) => {
  const x = need(cx, ins, 0);
  const b = A.int('blocksize', 0);
  const [N, C, H, W] = x.shape;
  if (x.shape.length !== 4 || b < 1 || H % b || W % b) cx.fail(`blocksize ${b} does not divide [${x.shape}]`);
  const t = reshape(cx, x, [N, C, H / b, b, W / b, b]);
  return [reshape(cx, transpose(cx, t, [0, 3, 5, 1, 2, 4]), [N, C * b * b, H / b, W / b])];
};

const castOp: GeneralConverter = (cx, _n, A, ins) => [castTo(cx, need(cx, ins, 0), A.int('to', 1))];
const castLike: GeneralConverter = (cx, _n, _A, ins) => {
  const like = need(cx, ins, 1);
  return [castTo(cx, need(cx, ins, 0), cx.dtype(like) === 'float32' ? 1 : 6)];
};

const eyeLike: GeneralConverter = (cx, _n, A, ins) => {
  const x = need(cx, ins, 0);
  if (x.shape.length !== 2 || isBatched(x)) cx.fail('takes a fixed 2-D tensor');
  const [R, C] = x.shape;
  const k = A.int('k', 0);
  const data = new Float64Array(R * C);
  for (let i = 0; i < R; i++) if (i + k >= 0 && i + k < C) data[i * C + i + k] = 1;
  const dt = A.int('dtype', 0);
  return [cx.constant([R, C], data, dt ? !FLOAT_ELEMS.has(dt) : cx.dtype(x) === 'int32')];
};

const transposeOp: GeneralConverter = (cx, _n, A, ins) => {
  const x = need(cx, ins, 0);
  const perm = A.ints('perm') ?? x.shape.map((_, i) => x.shape.length - 1 - i);
  return [transpose(cx, x, perm)];
};

const oneHot: GeneralConverter = (cx, _n, A, ins) => {
  let ids = need(cx, ins, 0);
  const depth = cx.constValues(ins[1], 'depth')[0];
  const values = need(cx, ins, 2);
  if (cx.dtype(ids) !== 'int32') ids = cx.emit('cast', [ids], { to: 'int32' });
  const r = ids.shape.length + 1;
  const axis = normAxis(cx, A.int('axis', -1), r);
  // negative ids count from the end: id + depth · (id < 0)
  const neg = bin(cx, 'lt', ids, cx.constant([], [0], true));
  ids = bin(cx, 'add', ids, bin(cx, 'mul', neg, cx.constant([], [depth], true)));
  const shape = [...ids.shape.slice(0, axis), 1, ...ids.shape.slice(axis)];
  const positions = cx.constant(
    shape.map((_, i) => (i === axis ? depth : 1)),
    Array.from({ length: depth }, (_, i) => i),
    true,
  );
  const hot = bin(cx, 'eq', reshape(cx, ids, shape), positions);
  const int = cx.dtype(values) === 'int32';
  const h = int ? hot : cx.emit('cast', [hot], { to: 'float32' });
  // values [off, on] (computed or constant): off + hot · (on − off)
  const pick = (i: number) => cx.emit('gather', [values, cx.constant([], [i], true)], { axis: 0 });
  const off = pick(0);
  return [bin(cx, 'add', bin(cx, 'mul', h, bin(cx, 'sub', pick(1), off)), off)];
};

const gelu: GeneralConverter = (cx, _n, A, ins) => [
  map(cx, A.str('approximate', 'none') === 'tanh' ? 'geluTanh' : 'gelu', need(cx, ins, 0)),
];

const isInf: GeneralConverter = (cx, _n, A, ins) => [
  cx.emit('map', [need(cx, ins, 0)], {
    fn: 'isInf',
    alpha: A.int('detect_positive', 1),
    beta: A.int('detect_negative', 1),
  }),
];

/** NegativeLogLikelihoodLoss of log-probabilities x [N, C, d…] at int targets t [N, d…]. */
function nll(cx: Cx, A: Attrs, x: T, target: T, weight: T | undefined): T {
  const reduction = A.str('reduction', 'mean');
  if (!['none', 'sum', 'mean'].includes(reduction)) cx.fail(`reduction '${reduction}' is not supported`);
  if (x.shape.length < 2) cx.fail('input must be [N, C, …]');
  let t = cx.dtype(target) === 'int32' ? target : cx.emit('cast', [target], { to: 'int32' });
  // ignored targets: weight 0, index 0 (so the lookup stays in range)
  let valid: T | undefined;
  if (A.has('ignore_index')) {
    const ig = bin(cx, 'eq', t, cx.constant([], [A.int('ignore_index', 0)], true));
    valid = cx.emit('map', [ig], { fn: 'not' });
    t = bin(cx, 'mul', t, valid);
  }
  const idx = reshape(cx, t, [t.shape[0], 1, ...t.shape.slice(1)]);
  const picked = reshape(cx, cx.emit('gatherelements', [x, idx], { axis: 1 }), t.shape);
  let loss = map(cx, 'neg', picked);
  let w: T | undefined = weight ? cx.emit('gather', [weight, t], { axis: 0 }) : undefined;
  if (valid) {
    const v = cx.emit('cast', [valid], { to: 'float32' });
    w = w ? bin(cx, 'mul', w, v) : v;
  }
  if (w) loss = bin(cx, 'mul', loss, w);
  if (reduction === 'none') return loss;
  const all = loss.shape.map((_, i) => i);
  const total = reduceWith(cx, 'sum', loss, all, false);
  if (reduction === 'sum') return total;
  if (!w) return reduceWith(cx, 'mean', loss, all, false);
  return bin(cx, 'div', total, reduceWith(cx, 'sum', w, all, false));
}

const nllLoss: GeneralConverter = (cx, _n, A, ins) => [nll(cx, A, need(cx, ins, 0), need(cx, ins, 1), ins[2])];

const softmaxCrossEntropy: GeneralConverter = (cx, _n, A, ins) => {
  const scores = need(cx, ins, 0);
  if (cx.dtype(scores) !== 'float32') cx.fail('takes float scores');
  const logProb = cx.emit('softmax', [scores], { axis: 1, log: true });
  return [nll(cx, A, logProb, need(cx, ins, 1), ins[2]), logProb];
};

const resize: GeneralConverter = (cx, n, A, ins) => {
  const x = need(cx, ins, 0);
  const r = x.shape.length;
  const legacy = n.opType === 'Upsample' || cx.opset < 11;
  if (A.int('antialias', 0)) cx.fail('antialias 1 is not supported');
  let mode = A.str('mode', 'nearest');
  if (mode === 'bilinear' || mode === 'trilinear') mode = 'linear';
  if (!['nearest', 'linear', 'cubic'].includes(mode)) cx.fail(`mode '${mode}' is not supported`);
  const coordinate = legacy ? 'asymmetric' : A.str('coordinate_transformation_mode', 'half_pixel');
  const known = [
    'half_pixel',
    'half_pixel_symmetric',
    'pytorch_half_pixel',
    'align_corners',
    'asymmetric',
    'tf_crop_and_resize',
    'tf_half_pixel_for_nn',
  ];
  if (!known.includes(coordinate)) cx.fail(`coordinate_transformation_mode '${coordinate}' is not supported`);
  const axes = (A.ints('axes') ?? x.shape.map((_, i) => i)).map((a) => normAxis(cx, a, r));
  // scales and sizes: attribute (Upsample-7), input 1 (Upsample-9, Resize-10) or inputs 2 and 3
  const given = (t: T | undefined, what: string) => (t && numel(t.shape) > 0 ? cx.constValues(t, what) : undefined);
  let scalesIn: number[] | undefined;
  let sizesIn: number[] | undefined;
  let roi: number[] | undefined;
  if (n.opType === 'Upsample' && cx.opset < 9)
    scalesIn = (A.floats('scales') ?? cx.fail('scales are required')).slice();
  else if (legacy) scalesIn = given(ins[1], 'scales');
  else {
    roi = given(ins[1], 'roi');
    scalesIn = given(ins[2], 'scales');
    sizesIn = given(ins[3], 'sizes');
  }
  const scales = x.shape.map(() => 1);
  const sizes = [...x.shape];
  if (sizesIn) {
    const policy = A.str('keep_aspect_ratio_policy', 'stretch');
    const ratio = axes.map((a, k) => (sizesIn as number[])[k] / x.shape[a]);
    const uniform =
      policy === 'not_larger' ? Math.min(...ratio) : policy === 'not_smaller' ? Math.max(...ratio) : undefined;
    axes.forEach((a, k) => {
      scales[a] = uniform ?? ratio[k];
      sizes[a] = uniform === undefined ? (sizesIn as number[])[k] : Math.round(uniform * x.shape[a]);
    });
  } else if (scalesIn) {
    axes.forEach((a, k) => {
      scales[a] = (scalesIn as number[])[k];
      sizes[a] = Math.floor(x.shape[a] * scales[a]);
    });
  } else cx.fail('needs scales or sizes');
  if (isBatched(x) && (scales[0] !== 1 || sizes[0] !== -1)) cx.fail('resizing the batch axis is not supported');
  if (roi && axes.length !== r) {
    const full = [...x.shape.map(() => 0), ...x.shape.map(() => 1)];
    axes.forEach((a, k) => {
      full[a] = (roi as number[])[k];
      full[a + r] = (roi as number[])[k + axes.length];
    });
    roi = full;
  }
  return [
    cx.emit('resize', [x], {
      sizes,
      scales,
      mode: mode as 'nearest',
      coordinate: coordinate as 'half_pixel',
      nearest: (legacy ? 'floor' : A.str('nearest_mode', 'round_prefer_floor')) as 'floor',
      cubicA: A.float('cubic_coeff_a', -0.75),
      excludeOutside: A.int('exclude_outside', 0) !== 0,
      extrapolation: A.float('extrapolation_value', 0),
      ...(roi ? { roi } : {}),
    }),
  ];
};

const topK: GeneralConverter = (cx, _n, A, ins) => {
  const x = need(cx, ins, 0);
  const k = cx.opset >= 10 ? cx.constValues(ins[1], 'K')[0] : A.int('k', 1);
  const axis = normAxis(cx, A.int('axis', -1), x.shape.length);
  const largest = A.int('largest', 1) !== 0;
  return [
    cx.emit('topk', [x], { k, axis, largest, indices: false }),
    cx.emit('topk', [x], { k, axis, largest, indices: true }),
  ];
};

const int32 = (cx: Cx, t: T) => (cx.dtype(t) === 'int32' ? t : cx.emit('cast', [t], { to: 'int32' }));

const lrn: GeneralConverter = (cx, _n, A, ins) => {
  // x / (bias + alpha/size · Σ x² over `size` neighbouring channels)^beta
  const x = need(cx, ins, 0);
  const size = A.int('size', 1);
  const r = x.shape.length;
  const sq = bin(cx, 'mul', x, x);
  const lo = Math.floor((size - 1) / 2);
  const hi = Math.ceil((size - 1) / 2);
  const pads = new Array<number>(2 * r).fill(0);
  pads[1] = lo;
  pads[1 + r] = hi;
  const padded = cx.emit('pad', [sq], { pads, mode: 'constant', value: 0 });
  let sum: T | undefined;
  for (let k = 0; k < size; k++) {
    const part = sliceBy(
      cx,
      padded,
      x.shape.map((_, i) => (i === 1 ? k : 0)),
      x.shape.map(() => 1),
      [...x.shape],
    );
    sum = sum ? bin(cx, 'add', sum, part) : part;
  }
  const scaled = bin(
    cx,
    'add',
    bin(cx, 'mul', sum as T, cx.constant([], [A.float('alpha', 1e-4) / size], false)),
    cx.constant([], [A.float('bias', 1)], false),
  );
  return [bin(cx, 'div', x, bin(cx, 'pow', scaled, cx.constant([], [A.float('beta', 0.75)], false)))];
};

const mvn: GeneralConverter = (cx, _n, A, ins) => {
  const x = need(cx, ins, 0);
  const axes = (A.ints('axes') ?? [0, 2, 3]).map((a) => normAxis(cx, a, x.shape.length));
  const mean = reduceWith(cx, 'mean', x, axes, true);
  const xc = bin(cx, 'sub', x, mean);
  const sd = map(cx, 'sqrt', reduceWith(cx, 'mean', bin(cx, 'mul', xc, xc), axes, true));
  return [bin(cx, 'div', xc, bin(cx, 'add', sd, cx.constant([], [1e-9], false)))];
};

/** Blackman, Hamming and Hann windows of a constant size (constants). */
const windowFn =
  (kind: 'blackman' | 'hamming' | 'hann'): GeneralConverter =>
  (cx, _n, A, ins) => {
    const size = cx.constValues(ins[0], 'size')[0];
    if (!(size >= 0 && size <= 2 ** 24)) cx.fail(`size ${size}`);
    const N = A.int('periodic', 1) ? size : size - 1;
    const f = (i: number) => {
      const c = (2 * Math.PI * i) / N;
      if (kind === 'hann') return 0.5 - 0.5 * Math.cos(c);
      if (kind === 'hamming') return 25 / 46 - (21 / 46) * Math.cos(c);
      return 0.42 - 0.5 * Math.cos(c) + 0.08 * Math.cos(2 * c);
    };
    const dt = A.int('output_datatype', 1);
    return [
      cx.constant(
        [size],
        Array.from({ length: size }, (_, i) => f(i)),
        !FLOAT_ELEMS.has(dt),
      ),
    ];
  };

/**
 * Quantized tensors on the general path hold their integer values in int32 and compute in float
 * (exactly: sums of 8-bit products stay far below 2^24 in the suite's shapes). This is ONNX's
 * arithmetic, not int8 speed: int8 models that should run in the int8 kernels take the image path
 * (convert-quant.ts).
 */
function zeroPoint(zp: T | undefined): { zp: T | undefined; lo: number; hi: number } {
  // the zero point's element type decides the range (uint8 when there is none); a constant of
  // unknown type is int8 when it holds a negative value
  const elem = zp?.elem ?? (zp?.kind === 'const' && zp.data.some((v) => v < 0) ? 3 : 2);
  const range: Record<number, [number, number]> = { 2: [0, 255], 3: [-128, 127], 4: [0, 65535], 5: [-32768, 32767] };
  const [lo, hi] = range[elem] ?? [0, 255];
  return { zp, lo, hi };
}

/** A per-axis parameter [C] shaped to broadcast along `axis` of a rank-r tensor (scalars as they are). */
function alongAxis(cx: Cx, p: T, axis: number, r: number): T {
  if (p.shape.length === 0 || numel(p.shape) === 1) return reshape(cx, p, []);
  return reshape(cx, p, [p.shape[0], ...new Array<number>(r - axis - 1).fill(1)]);
}

/** The axis of per-axis parameters (only read when the scale has more than one value). */
function paramAxis(cx: Cx, A: Attrs, x: T, scale: T): number {
  return numel(scale.shape) > 1 ? normAxis(cx, A.int('axis', 1), x.shape.length) : 0;
}

const toFloat = (cx: Cx, t: T) => (cx.dtype(t) === 'float32' ? t : cx.emit('cast', [t], { to: 'float32' }));

function dequant(cx: Cx, x: T, scale: T, zp: T | undefined, axis: number): T {
  const r = x.shape.length;
  let y = toFloat(cx, x);
  if (zp) y = bin(cx, 'sub', y, toFloat(cx, alongAxis(cx, zp, axis, r)));
  return bin(cx, 'mul', y, alongAxis(cx, scale, axis, r));
}

function quant(cx: Cx, x: T, scale: T, zp: T | undefined, axis: number, lo: number, hi: number): T {
  const r = x.shape.length;
  let y = map(cx, 'round', bin(cx, 'div', x, alongAxis(cx, scale, axis, r)));
  if (zp) y = bin(cx, 'add', y, toFloat(cx, alongAxis(cx, zp, axis, r)));
  return cx.emit('cast', [cx.emit('map', [y], { fn: 'clip', alpha: lo, beta: hi })], { to: 'int32' });
}

const quantizeLinear: GeneralConverter = (cx, _n, A, ins) => {
  const x = need(cx, ins, 0);
  if (A.has('block_size') && A.int('block_size', 0) !== 0) cx.fail('blocked quantization is not supported');
  const { zp, lo, hi } = zeroPoint(ins[2]);
  const axis = paramAxis(cx, A, x, need(cx, ins, 1));
  return [quant(cx, toFloat(cx, x), need(cx, ins, 1), zp, axis, lo, hi)];
};

const dequantizeLinear: GeneralConverter = (cx, _n, A, ins) => {
  const x = need(cx, ins, 0);
  const axis = paramAxis(cx, A, x, need(cx, ins, 1));
  return [dequant(cx, x, need(cx, ins, 1), ins[2], axis)];
};

const dynamicQuantizeLinear: GeneralConverter = (cx, _n, _A, ins) => {
  const x = need(cx, ins, 0);
  const all = x.shape.map((_, i) => i);
  const zero = cx.constant([], [0], false);
  const max = bin(cx, 'max', reduceWith(cx, 'max', x, all, false), zero);
  const min = bin(cx, 'min', reduceWith(cx, 'min', x, all, false), zero);
  const scale = bin(cx, 'div', bin(cx, 'sub', max, min), cx.constant([], [255], false));
  const zpF = cx.emit('map', [map(cx, 'round', bin(cx, 'sub', zero, bin(cx, 'div', min, scale)))], {
    fn: 'clip',
    alpha: 0,
    beta: 255,
  });
  const y = quant(cx, x, scale, zpF, 0, 0, 255);
  return [y, scale, cx.emit('cast', [zpF], { to: 'int32' })];
};

/** (x − zero point) as float, for the integer ops. */
const centred = (cx: Cx, x: T, zp: T | undefined, axis: number) =>
  zp ? bin(cx, 'sub', toFloat(cx, x), toFloat(cx, alongAxis(cx, zp, axis, x.shape.length))) : toFloat(cx, x);

const matMulInteger: GeneralConverter = (cx, n, A, ins) => {
  const a = centred(cx, need(cx, ins, 0), ins[2], need(cx, ins, 0).shape.length - 1);
  const b = centred(cx, need(cx, ins, 1), ins[3], need(cx, ins, 1).shape.length - 1);
  const [y] = matmul(cx, n, A, [a, b]);
  return [cx.emit('cast', [map(cx, 'round', y)], { to: 'int32' })];
};

const convInteger: GeneralConverter = (cx, n, A, ins) => {
  const x = centred(cx, need(cx, ins, 0), ins[2], 1);
  const w = centred(cx, need(cx, ins, 1), ins[3], 0);
  const [y] = conv(cx, n, A, [x, w]);
  return [cx.emit('cast', [map(cx, 'round', y)], { to: 'int32' })];
};

const qlinearMatMul: GeneralConverter = (cx, n, A, ins) => {
  const [a, as, az, b, bs, bz, ys, yz] = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => need(cx, ins, i));
  const af = dequant(cx, a, as, az, a.shape.length - 1);
  const bf = dequant(cx, b, bs, bz, b.shape.length - 1);
  const [y] = matmul(cx, n, A, [af, bf]);
  const { lo, hi } = zeroPoint(yz);
  return [quant(cx, y, ys, yz, 1, lo, hi)];
};

const qlinearConv: GeneralConverter = (cx, n, A, ins) => {
  const [x, xs, xz, w, ws, wz, ys, yz] = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => need(cx, ins, i));
  const xf = dequant(cx, x, xs, xz, 1);
  const wf = dequant(cx, w, ws, wz, 0);
  // the int32 bias is in units of x_scale · w_scale
  const b = ins[8] ? [bin(cx, 'mul', toFloat(cx, ins[8]), bin(cx, 'mul', reshape(cx, xs, []), ws))] : [];
  const [y] = conv(cx, n, A, [xf, wf, ...b]);
  const { lo, hi } = zeroPoint(yz);
  return [quant(cx, y, ys, yz, 1, lo, hi)];
};

const allZero = (t: T) => t.kind === 'const' && t.data.every((v) => v === 0);

/**
 * A GRU (linear_before_reset = 1) or LSTM as nn/sequence.ts computes one: per direction, one
 * `linear` for every step's input projection and one `rnnscan` (backend GEMMs, a vjp), instead of
 * the `recurrent` host loop. Only for ONNX's defaults (activations, no clip, no peepholes, coupled
 * gates or initial states) with constant weights; undefined otherwise. Y and Y_h only: a wanted
 * Y_c (PyTorch names it whether read or not) stays a `recurrent` node, which nothing reads when
 * only the exporter named it (the compiler's dce drops it).
 */
function asScans(
  cx: Cx,
  a: Omit<RecurrentAttrs['recurrent'], 'output'>,
  [x, W, R, B, h0, c0, P]: T[],
  wanted: boolean[],
  defaults: string[],
): T[] | undefined {
  const D = a.direction === 'bidirectional' ? 2 : 1;
  const plain =
    (a.cell === 'lstm' || a.linearBeforeReset) &&
    a.clip === 0 &&
    !a.inputForget &&
    a.alpha.length === 0 &&
    a.beta.length === 0 &&
    a.activations.every((f, i) => f === defaults[i % defaults.length]) &&
    [W, R, B].every((t) => t.kind === 'const') &&
    [h0, c0, P].every(allZero) &&
    cx.dtype(x) === 'float32';
  if (!plain || a.cell === 'rnn' || W.kind !== 'const' || R.kind !== 'const' || B.kind !== 'const') return undefined;
  const cell = a.cell;
  const H = a.hidden;
  const GH = (cell === 'gru' ? 3 : 4) * H;
  const I = W.shape[2];
  const xb = a.layout === 0 ? transpose(cx, x, [1, 0, 2]) : x; // [B, S, I]
  const [Bn, S] = xb.shape;
  /** Rows [from, from + rows) of a [D, rows·…, cols] weight, transposed: [cols, rows]. */
  const columns = (w: typeof W, d: number, rows: number, cols: number) => {
    const out = new Float32Array(rows * cols);
    for (let j = 0; j < rows; j++) for (let k = 0; k < cols; k++) out[k * rows + j] = w.data[(d * rows + j) * cols + k];
    return cx.constant([cols, rows], out, false);
  };
  const ys: T[] = [];
  const hs: T[] = [];
  for (let d = 0; d < D; d++) {
    const bias = (from: number) => cx.constant([GH], B.data.slice(d * 2 * GH + from, d * 2 * GH + from + GH), false);
    const xw = cx.emit('linear', [xb, columns(W, d, GH, I), bias(0)], { activation: 'none' });
    const reverse = a.direction === 'reverse' || d === 1;
    const y = cx.emit('rnnscan', [xw, columns(R, d, GH, H), bias(GH)], { cell, hidden: H, reverse });
    // Y: [S, D, B, H] (layout 0) or [B, S, D, H]; Y_h: [D, B, H] or [B, D, H]
    ys.push(a.layout === 0 ? reshape(cx, transpose(cx, y, [1, 0, 2]), [S, 1, Bn, H]) : reshape(cx, y, [Bn, S, 1, H]));
    const last = sliceBy(cx, y, [0, reverse ? 0 : S - 1, 0], [1, 1, 1], [Bn, 1, H]);
    hs.push(a.layout === 0 ? reshape(cx, last, [1, Bn, H]) : last);
  }
  const join = (ts: T[], axis: number) => (ts.length === 1 ? ts[0] : cx.emit('concat', ts, { axis }));
  const outs: T[] = [];
  if (wanted[0]) outs[0] = join(ys, a.layout === 0 ? 1 : 2);
  if (wanted[1]) outs[1] = join(hs, a.layout === 0 ? 0 : 1);
  return outs;
}

/**
 * RNN, GRU and LSTM: the linear + rnnscan form when it computes the layer (asScans), else one
 * recurrent node per requested output (absent inputs as zeros).
 */
const recurrent =
  (cell: 'rnn' | 'gru' | 'lstm'): GeneralConverter =>
  (cx, n, A, ins) => {
    const x = need(cx, ins, 0);
    const w = need(cx, ins, 1);
    const direction = A.str('direction', 'forward') as 'forward' | 'reverse' | 'bidirectional';
    if (!['forward', 'reverse', 'bidirectional'].includes(direction))
      cx.fail(`direction '${direction}' is not supported`);
    const D = direction === 'bidirectional' ? 2 : 1;
    const H = A.int('hidden_size', w.shape[1] / { rnn: 1, gru: 3, lstm: 4 }[cell]);
    const layout = A.int('layout', 0) as 0 | 1;
    const [S, Bn] = layout === 0 ? [x.shape[0], x.shape[1]] : [x.shape[1], x.shape[0]];
    const G = { rnn: 1, gru: 3, lstm: 4 }[cell];
    const lens = ins[4];
    if (lens && lens.kind !== 'const') cx.constValues(lens, 'sequence_lens');
    if (lens && !(lens.kind === 'const' && lens.data.every((v) => v === S)))
      cx.fail('sequence_lens other than the full length of every sequence is not supported');
    const zeros = (shape: number[]) => cx.constant(shape, new Float32Array(numel(shape)), false);
    const state = (t: T | undefined) => {
      if (!t) return zeros([D, Bn, H]);
      return layout === 0 ? t : transpose(cx, t, [1, 0, 2]);
    };
    const defaults = { rnn: ['Tanh'], gru: ['Sigmoid', 'Tanh'], lstm: ['Sigmoid', 'Tanh', 'Tanh'] }[cell];
    const given = (A.strs('activations') ?? []).map((a) => a.charAt(0).toUpperCase() + a.slice(1));

    const canon = (a: string) => ACT_NAMES.find((c) => c.toLowerCase() === a.toLowerCase()) ?? a;
    const activations = given.length ? given.map(canon) : [...defaults, ...(D === 2 ? defaults : [])];
    const attrs = {
      cell,
      hidden: H,
      direction,
      layout,
      clip: A.float('clip', 0),
      activations,
      alpha: [...(A.floats('activation_alpha') ?? [])],
      beta: [...(A.floats('activation_beta') ?? [])],
      linearBeforeReset: A.int('linear_before_reset', 0) !== 0,
      inputForget: A.int('input_forget', 0) !== 0,
    };
    const inputs = [
      x,
      w,
      need(cx, ins, 2),
      ins[3] ?? zeros([D, 2 * G * H]),
      state(ins[5]),
      cell === 'lstm' ? state(ins[6]) : zeros([D, Bn, H]),
      cell === 'lstm' && ins[7] ? ins[7] : zeros([D, 3 * H]),
    ];
    const wanted = (n.output ?? []).map((o) => !!o);
    const outs: T[] = asScans(cx, attrs, inputs, wanted, defaults) ?? [];
    (['y', 'h', 'c'] as const).forEach((output, k) => {
      if (!wanted[k] || outs[k]) return;
      const y = cx.emit('recurrent', inputs, { ...attrs, output });
      outs[k] = y;
    });
    return outs;
  };

export const GENERAL_OPS: Readonly<Record<string, GeneralConverter>> = {
  Abs: unary('abs'),
  Acos: unary('acos'),
  Acosh: unary('acosh'),
  Add: binary('add'),
  And: binary('and'),
  ArgMax: argReduce(false),
  ArgMin: argReduce(true),
  Asin: unary('asin'),
  Asinh: unary('asinh'),
  Atan: unary('atan'),
  Atanh: unary('atanh'),
  AveragePool: pool('avg'),
  BatchNormalization: batchNorm,
  BlackmanWindow: windowFn('blackman'),
  BitShift: (cx, _n, A, ins) => [
    bin(cx, A.str('direction', '') === 'LEFT' ? 'shl' : 'shr', need(cx, ins, 0), need(cx, ins, 1)),
  ],
  BitwiseAnd: binary('bitand'),
  BitwiseOr: binary('bitor'),
  BitwiseXor: binary('bitxor'),
  Cast: castOp,
  CastLike: castLike,
  Ceil: unary('ceil'),
  Celu: unary('celu', (A) => ({ alpha: A.float('alpha', 1) })),
  Clip: clip,
  Concat: concat,
  Constant: constantOp,
  ConstantOfShape: constantOfShape,
  Conv: conv,
  ConvInteger: convInteger,
  ConvTranspose: convTranspose,
  Cos: unary('cos'),
  Cosh: unary('cosh'),
  CumSum: cumsum,
  DequantizeLinear: dequantizeLinear,
  DepthToSpace: depthToSpace,
  Div: binary('div'),
  DynamicQuantizeLinear: dynamicQuantizeLinear,
  Dropout: dropout,
  Einsum: (cx, _n, A, ins) => [
    cx.emit(
      'einsum',
      ins.filter((t): t is T => t !== undefined),
      { equation: A.str('equation', '') },
    ),
  ],
  Elu: unary('elu', (A) => ({ alpha: A.float('alpha', 1) })),
  Equal: binary('eq'),
  Erf: unary('erf'),
  Exp: unary('exp'),
  Expand: expand,
  EyeLike: eyeLike,
  Flatten: flatten,
  Floor: unary('floor'),
  Gather: gather,
  GatherElements: gatherElements,
  GatherND: (cx, _n, A, ins) => [
    cx.emit('gathernd', [need(cx, ins, 0), int32(cx, need(cx, ins, 1))], { batchDims: A.int('batch_dims', 0) }),
  ],
  Gelu: gelu,
  GRU: recurrent('gru'),
  Gemm: gemm,
  GlobalAveragePool: globalPool('mean'),
  GlobalMaxPool: globalPool('max'),
  Greater: binary('gt'),
  GreaterOrEqual: binary('ge'),
  Hardmax: softmaxLike('hard'),
  HardSigmoid: unary('hardSigmoid', (A) => ({ alpha: A.float('alpha', 0.2), beta: A.float('beta', 0.5) })),
  HardSwish: unary('hardSwish'),
  HammingWindow: windowFn('hamming'),
  HannWindow: windowFn('hann'),
  Identity: identity,
  InstanceNormalization: instanceNorm,
  IsInf: isInf,
  IsNaN: unary('isNaN'),
  LayerNormalization: layerNorm,
  LRN: lrn,
  LSTM: recurrent('lstm'),
  LeakyRelu: unary('leakyRelu', (A) => ({ alpha: A.float('alpha', 0.01) })),
  Less: binary('lt'),
  LessOrEqual: binary('le'),
  Log: unary('log'),
  LogSoftmax: softmaxLike('log'),
  MatMul: matmul,
  MatMulInteger: matMulInteger,
  Max: variadic('max'),
  MaxPool: pool('max'),
  Mean: variadic('add', true),
  MeanVarianceNormalization: mvn,
  Min: variadic('min'),
  Mish: unary('mish'),
  Mod: (cx, _n, A, ins) => [bin(cx, A.int('fmod', 0) ? 'fmod' : 'mod', need(cx, ins, 0), need(cx, ins, 1))],
  Mul: binary('mul'),
  NegativeLogLikelihoodLoss: nllLoss,
  Neg: unary('neg'),
  Not: unary('not'),
  OneHot: oneHot,
  Or: binary('or'),
  Pad: pad,
  Pow: binary('pow'),
  PRelu: (cx, _n, _A, ins) => {
    const x = need(cx, ins, 0);
    let slope = need(cx, ins, 1);
    // a per-channel slope [C] of an NC… tensor (PyTorch's export, older opsets): along axis 1
    if (
      slope.shape.length === 1 &&
      x.shape.length > 2 &&
      slope.shape[0] === x.shape[1] &&
      slope.shape[0] !== x.shape[x.shape.length - 1]
    )
      slope = reshape(cx, slope, [slope.shape[0], ...new Array<number>(x.shape.length - 2).fill(1)]);
    return [bin(cx, 'prelu', x, slope)];
  },
  QLinearConv: qlinearConv,
  QLinearMatMul: qlinearMatMul,
  QuantizeLinear: quantizeLinear,
  Range: range,
  Reciprocal: unary('reciprocal'),
  ReduceL1: reduction('l1', 18),
  ReduceL2: reduction('l2', 18),
  ReduceLogSum: reduction('logsum', 18),
  ReduceLogSumExp: reduction('logsumexp', 18),
  ReduceMax: reduction('max', 18),
  ReduceMean: reduction('mean', 18),
  ReduceMin: reduction('min', 18),
  ReduceProd: reduction('prod', 18),
  ReduceSum: reduction('sum', 13),
  ReduceSumSquare: reduction('sumsquare', 18),
  Relu: unary('relu'),
  Reshape: reshapeOp,
  Resize: resize,
  RNN: recurrent('rnn'),
  Round: unary('round'),
  ScatterElements: (cx, _n, A, ins) => {
    const x = need(cx, ins, 0);
    return [
      cx.emit('scatterelements', [x, int32(cx, need(cx, ins, 1)), need(cx, ins, 2)], {
        axis: normAxis(cx, A.int('axis', 0), x.shape.length),
        reduction: A.str('reduction', 'none') as 'none',
      }),
    ];
  },
  ScatterND: (cx, _n, A, ins) => [
    cx.emit('scatternd', [need(cx, ins, 0), int32(cx, need(cx, ins, 1)), need(cx, ins, 2)], {
      reduction: A.str('reduction', 'none') as 'none',
    }),
  ],
  Selu: unary('selu', (A) => ({
    alpha: A.float('alpha', 1.6732632423543772),
    gamma: A.float('gamma', 1.0507009873554805),
  })),
  Shape: shapeOp,
  Shrink: unary('shrink', (A) => ({ alpha: A.float('lambd', 0.5), beta: A.float('bias', 0) })),
  Sigmoid: unary('sigmoid'),
  Sign: unary('sign'),
  Sin: unary('sin'),
  Sinh: unary('sinh'),
  Size: sizeOp,
  Slice: sliceOp,
  Softmax: softmaxLike('softmax'),
  SoftmaxCrossEntropyLoss: softmaxCrossEntropy,
  Softplus: unary('softplus'),
  Softsign: unary('softsign'),
  SpaceToDepth: spaceToDepth,
  Split: split,
  Sqrt: unary('sqrt'),
  Squeeze: squeeze,
  Sub: binary('sub'),
  Sum: variadic('add'),
  Tan: unary('tan'),
  Tanh: unary('tanh'),
  ThresholdedRelu: unary('thresholdedRelu', (A) => ({ alpha: A.float('alpha', 1) })),
  Tile: tile,
  TopK: topK,
  Transpose: transposeOp,
  Trilu: trilu,
  Unsqueeze: unsqueeze,
  Upsample: resize,
  Where: where,
  Xor: binary('xor'),
};

// ---- sequences: lists of tensors known at import (positions and lengths are constants) ----------

function seqIn(cx: Cx, ins: (T | T[] | undefined)[], i: number): T[] {
  const s = ins[i];
  if (!Array.isArray(s)) return cx.fail(`input ${i} must be a sequence`);
  return s;
}

function tensorIn(cx: Cx, ins: (T | T[] | undefined)[], i: number): T {
  const t = ins[i];
  if (!t || Array.isArray(t)) return cx.fail(`input ${i} must be a tensor`);
  return t;
}

/** A position in a sequence of `n` (negative from the end; `end` allows n itself, for inserts). */
function position(cx: Cx, t: T | T[] | undefined, n: number, dflt: number, end = false): number {
  if (!t) return dflt;
  if (Array.isArray(t)) return cx.fail('a position must be a tensor');
  const p = cx.constValues(t, 'position')[0];
  const q = p < 0 ? p + n : p;
  if (!(q >= 0 && (end ? q <= n : q < n))) cx.fail(`position ${p} is out of range for a sequence of ${n}`);
  return q;
}

export const SEQUENCE_OPS: Readonly<Record<string, SequenceConverter>> = {
  // Identity passes a sequence or a tensor through
  Identity: (cx, _n, _A, ins) => [ins[0] ?? cx.fail('input 0 is required')],
  SequenceEmpty: () => [[]],
  SequenceConstruct: (cx, _n, _A, ins) => [ins.map((_, i) => tensorIn(cx, ins, i))],
  SequenceAt: (cx, _n, _A, ins) => {
    const s = seqIn(cx, ins, 0);
    return [s[position(cx, ins[1], s.length, 0)]];
  },
  SequenceInsert: (cx, _n, _A, ins) => {
    const s = seqIn(cx, ins, 0);
    const at = position(cx, ins[2], s.length, s.length, true);
    return [[...s.slice(0, at), tensorIn(cx, ins, 1), ...s.slice(at)]];
  },
  SequenceErase: (cx, _n, _A, ins) => {
    const s = seqIn(cx, ins, 0);
    const at = position(cx, ins[1], s.length, s.length - 1);
    return [[...s.slice(0, at), ...s.slice(at + 1)]];
  },
  SequenceLength: (cx, _n, _A, ins) => [cx.constant([], [seqIn(cx, ins, 0).length], true)],
  SplitToSequence: (cx, _n, A, ins) => {
    const x = tensorIn(cx, ins, 0);
    const axis = normAxis(cx, A.int('axis', 0), x.shape.length);
    const d = x.shape[axis];
    const split = ins[1] ? cx.constValues(tensorIn(cx, ins, 1), 'split') : undefined;
    const scalar = ins[1] && !Array.isArray(ins[1]) && ins[1].shape.length === 0;
    const sizes = !split
      ? new Array<number>(d).fill(1)
      : scalar
        ? Array.from({ length: Math.ceil(d / split[0]) }, (_, i) => Math.min(split[0], d - i * split[0]))
        : split;
    if (sizes.reduce((p, q) => p + q, 0) !== d) cx.fail(`split sizes [${sizes.join(', ')}] do not sum to ${d}`);
    const keep = A.int('keepdims', 1) !== 0 || !!split;
    let off = 0;
    return [
      sizes.map((p) => {
        const begin = x.shape.map((_, i) => (i === axis ? off : 0));
        const size = x.shape.map((v, i) => (i === axis ? p : v));
        off += p;
        const part = sliceBy(
          cx,
          x,
          begin,
          x.shape.map(() => 1),
          size,
        );
        return keep
          ? part
          : reshape(
              cx,
              part,
              x.shape.filter((_, i) => i !== axis),
            );
      }),
    ];
  },
  ConcatFromSequence: (cx, _n, A, ins) => {
    const s = seqIn(cx, ins, 0);
    if (!s.length) cx.fail('concatenating an empty sequence');
    const fresh = A.int('new_axis', 0) !== 0;
    const r = s[0].shape.length + (fresh ? 1 : 0);
    const axis = normAxis(cx, A.int('axis', 0), r);
    const parts = fresh ? s.map((t) => reshape(cx, t, [...t.shape.slice(0, axis), 1, ...t.shape.slice(axis)])) : s;
    return [parts.length === 1 ? cx.emit('map', [parts[0]], { fn: 'identity' }) : cx.emit('concat', parts, { axis })];
  },
};
