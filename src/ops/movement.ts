// Data movement with ONNX's semantics, over float32 and int32 in host loops (host.ts): `gather`
// and `gatherelements` (index lookups along an axis; out-of-range indices are a ValueError,
// never a read past the tensor), `expand` (broadcast to a shape), `tile`, `pad` (constant,
// reflect, edge, wrap), `strided` (a slice with steps on every axis) and `trilu`. The general ONNX
// import path maps ops onto them. gather, gatherelements, expand, tile, pad, strided and trilu have
// vjps (for their float data); topk, gathernd and the scatters none. ONNX export: pad only.
import { fmtShape, ShapeError, ValueError } from '../errors.js';
import { broadcastShape } from '../shape/window.js';
import {
  aroundAxis,
  broadcastOffsets,
  expectHost,
  FLOAT_OR_INT,
  forEachIndex,
  type HostArray,
  offsetsOf,
  stridesOf,
  view,
  zeros,
} from './host.js';
import { valueOrConstant } from './math-onnx.js';
import type { Arg, CheckCtx, Exec, Grad, Info, OpDef, Ref } from './op.js';
import { normAxes, numel, sumTo } from './rules.js';

export interface MovementAttrs {
  /** out = data[..., indices, ...] along `axis` (indices int32, negative from the end). */
  gather: { axis: number };
  /** out[i][j][k] = data[index[i][j][k]][j][k] (axis 0; likewise for any axis). */
  gatherelements: { axis: number };
  /** x broadcast with `shape` (numpy rules, both ways). */
  expand: { shape: readonly number[] };
  /** x repeated `repeats[i]` times along axis i. */
  tile: { repeats: readonly number[] };
  /** pads: [begin of each axis…, end of each axis…], negative crops. */
  pad: { pads: readonly number[]; mode: 'constant' | 'reflect' | 'edge' | 'wrap'; value: number };
  /** out[i] = x[begin + i · step] on every axis (size elements; steps may be negative). */
  strided: { begin: readonly number[]; step: readonly number[]; size: readonly number[] };
  /** Keeps the upper (or lower) triangle of the last two axes from diagonal k; zeroes the rest. */
  trilu: { upper: boolean; k: number };
  /**
   * The k largest (or smallest) along `axis`, sorted: their values, or (`indices`) their int32
   * positions. An optional second input, int32 ids [..., S] (-1 padded), excludes positions of the
   * last axis per row (the items a user has already rated).
   */
  topk: { k: number; axis: number; largest: boolean; indices: boolean };
  /** out = data[indices[…]] with the last axis of indices indexing the leading axes after batchDims. */
  gathernd: { batchDims: number };
  /** A copy of data with updates written at indices along `axis` (reduction: none, add, mul, max, min). */
  scatterelements: { axis: number; reduction: Reduction };
  /** A copy of data with updates written at the index tuples (the last axis of indices). */
  scatternd: { reduction: Reduction };
}

export type Reduction = 'none' | 'add' | 'mul' | 'max' | 'min';
const REDUCTIONS: readonly string[] = ['none', 'add', 'mul', 'max', 'min'];

/** How a scatter combines an update u with the value v already there. */
function combine(r: Reduction, int: boolean): (v: number, u: number) => number {
  switch (r) {
    case 'none':
      return (_v, u) => u;
    case 'add':
      return int ? (v, u) => (v + u) | 0 : (v, u) => v + u;
    case 'mul':
      return int ? Math.imul : (v, u) => v * u;
    case 'max':
      return Math.max;
    case 'min':
      return Math.min;
  }
}

const isBatched = (x: Info) => x.shape[0] === -1;

/** Sets (or clears) skipped[id] for the ids of one row of topk's excluded ids; -1 is padding. */
function markSkipped(ids: Int32Array, at: number, S: number, skipped: Uint8Array, to: number): void {
  for (let s = 0; s < S; s++) {
    const id = ids[at + s];
    if (id === -1) continue;
    if (!(id >= 0 && id < skipped.length))
      throw new ValueError(`topk: excluded id ${id} is outside [0, ${skipped.length}) (-1 pads)`);
    skipped[id] = to;
  }
}

/**
 * Positions of the top.length best of src[base + t · inner] (t < n), best first: the largest (or
 * smallest) values, ties to the lower position, NaN as the worst value (tied with ∓∞ by position),
 * positions with skipped[t] set left out.
 * A bounded heap whose root is the worst kept: O(n log k), not a sort of n (a 9.7k-item catalogue
 * for 10 recommendations).
 */
function selectTop(
  src: ArrayLike<number>,
  base: number,
  n: number,
  inner: number,
  largest: boolean,
  skipped: Uint8Array | undefined,
  top: Int32Array,
): void {
  const k = top.length;
  if (k === 0) return;
  const sign = largest ? 1 : -1;
  const key = (t: number) => {
    const v = src[base + t * inner];
    return Number.isNaN(v) ? Number.NEGATIVE_INFINITY : sign * v;
  };
  // a before b in the answer: a higher key, or the same key at a lower position (NaN keys: -∞, then by position)
  const better = (p: number, q: number) => {
    const u = key(p);
    const v = key(q);
    return u > v || (u === v && p < q);
  };
  let size = 0;
  const down = (from: number) => {
    let at = from;
    for (;;) {
      const l = 2 * at + 1;
      if (l >= size) return;
      const r = l + 1;
      const worse = r < size && better(top[l], top[r]) ? r : l;
      if (!better(top[at], top[worse])) return;
      [top[at], top[worse]] = [top[worse], top[at]];
      at = worse;
    }
  };
  for (let t = 0; t < n; t++) {
    if (skipped?.[t]) continue;
    if (size < k) {
      let at = size++;
      top[at] = t;
      while (at > 0) {
        const up = (at - 1) >> 1;
        if (!better(top[up], top[at])) break;
        [top[up], top[at]] = [top[at], top[up]];
        at = up;
      }
    } else if (better(t, top[0])) {
      top[0] = t;
      down(0);
    }
  }
  if (size < k) throw new ValueError(`topk: only ${size} positions left after the excluded ones, k is ${k}`);
  const kept = Array.from(top).sort((p, q) => (better(p, q) ? -1 : 1));
  top.set(kept);
}

function intList(c: CheckCtx<unknown>, field: string, length?: number): void {
  const v = (c.n.attrs as Record<string, unknown>)[field];
  if (!Array.isArray(v) || !v.every(Number.isInteger) || (length !== undefined && v.length !== length))
    c.bad(`attrs.${field} must be ${length ?? 'a list of'} integers, got ${JSON.stringify(v)}`);
}

function axisOf(op: string, x: Info, axis: number): number {
  const [a] = normAxes(op, [axis], x.shape.length);
  if (isBatched(x) && a === 0) throw new ShapeError(`${op}: the IR cannot index along the batch axis`);
  return a;
}

/** Index `i` of an axis of size n (negative from the end), or a ValueError. */
function wrapIndex(op: string, i: number, n: number): number {
  const j = i < 0 ? i + n : i;
  if (!(j >= 0 && j < n)) throw new ValueError(`${op}: index ${i} is out of range for an axis of size ${n}`);
  return j;
}

/**
 * Offsets into data of shape `d` of each element of an index tensor of shape `iShape` whose values
 * index `axis` (GatherElements, ScatterElements): the other axes are the element's own position.
 */
function elementOffsets(
  op: string,
  d: readonly number[],
  iShape: readonly number[],
  idx: HostArray,
  axis: number,
): Int32Array {
  const ds = stridesOf(d);
  const offs = new Int32Array(idx.length);
  forEachIndex(iShape, (at, k) => {
    let off = 0;
    for (let q = 0; q < at.length; q++) off += (q === axis ? wrapIndex(op, idx[k], d[axis]) : at[q]) * ds[q];
    offs[k] = off;
  });
  return offs;
}

/** out[k] = x[sources[k]] (a source of -1: `fill`). */
function gatherFrom(x: Exec, i: Arg, out: Arg, sources: Int32Array, fill: number): void {
  const src = view(x, i);
  const dst = view(x, out);
  for (let k = 0; k < sources.length; k++) dst[k] = sources[k] < 0 ? fill : src[sources[k]];
}

/** The vjp of a gather by `sources` (gatherFrom): d[k] added back at sources[k] of a zeroed dx. */
function gradBack(g: Grad, x: Ref, d: Ref, sources: Int32Array): Ref {
  const dx = zeros(g, x.shape);
  const [dv, gv] = [g.backend.f32(d.buf, d.size), g.backend.f32(dx.buf, dx.size)];
  for (let k = 0; k < sources.length; k++) if (sources[k] >= 0) gv[sources[k]] += dv[k];
  return dx;
}

/** The input element each output element of a tile reads. */
function tileSources(xShape: readonly number[], outShape: readonly number[]): Int32Array {
  const is = stridesOf(xShape);
  const offs = new Int32Array(numel(outShape));
  forEachIndex(outShape, (at, k) => {
    let off = 0;
    for (let q = 0; q < at.length; q++) off += (at[q] % xShape[q]) * is[q];
    offs[k] = off;
  });
  return offs;
}

/** The input element each output element of a pad reads (-1: the constant). */
function padSources(xShape: readonly number[], outShape: readonly number[], a: MovementAttrs['pad']): Int32Array {
  const is = stridesOf(xShape);
  const offs = new Int32Array(numel(outShape));
  forEachIndex(outShape, (at, k) => {
    let off = 0;
    for (let q = 0; q < at.length && off >= 0; q++) {
      const s = padSource(at[q] - a.pads[q], xShape[q], a.mode);
      off = s < 0 ? -1 : off + s * is[q];
    }
    offs[k] = off;
  });
  return offs;
}

/** The input element each output element of a strided slice reads. */
function stridedSources(
  xShape: readonly number[],
  outShape: readonly number[],
  a: MovementAttrs['strided'],
): Int32Array {
  const is = stridesOf(xShape);
  let base = 0;
  for (let q = 0; q < is.length; q++) base += a.begin[q] * is[q];
  const offs = offsetsOf(
    outShape,
    is.map((st, q) => st * a.step[q]),
  );
  for (let k = 0; k < offs.length; k++) offs[k] += base;
  return offs;
}

/** Source index along an axis of size n for output position p of a pad by `before`. */
function padSource(p: number, n: number, mode: MovementAttrs['pad']['mode']): number {
  if (p >= 0 && p < n) return p;
  switch (mode) {
    case 'constant':
      return -1;
    case 'edge':
      return p < 0 ? 0 : n - 1;
    case 'wrap':
      return ((p % n) + n) % n;
    case 'reflect': {
      if (n === 1) return 0;
      const period = 2 * (n - 1);
      const q = ((p % period) + period) % period;
      return q < n ? q : period - q;
    }
  }
}

export const MOVEMENT = {
  gather: {
    arity: [2, 2],
    infer: ([d, i], a) => {
      const axis = axisOf('gather', d, a.axis);
      if (i.dtype !== 'int32') throw new ShapeError(`gather: indices must be int32, got ${i.dtype}`);
      if (isBatched(i) && !(axis === 0 || isBatched(d)))
        throw new ShapeError('gather: batched indices need a batched table');
      return { shape: [...d.shape.slice(0, axis), ...i.shape, ...d.shape.slice(axis + 1)], dtype: d.dtype };
    },
    check: (c) => {
      if (!Number.isInteger(c.n.attrs.axis)) c.bad(`attrs.axis must be an integer, got ${c.n.attrs.axis}`);
      expectHost(c, 0, ...FLOAT_OR_INT);
      expectHost(c, 1, 'int32');
      if (isBatched(c.out) && !c.isConstant(0) && c.value(0).shape[0] !== -1)
        c.bad('gather of a batched index tensor needs a batched table');
    },
    forward(x, [d, i], out, a) {
      const axis = normAxes('gather', [a.axis], d.shape.length)[0];
      const [outer, n, inner] = aroundAxis(d.shape, axis);
      const src = view(x, d);
      const idx = view(x, i);
      const dst = view(x, out);
      const m = idx.length;
      for (let o = 0; o < outer; o++)
        for (let t = 0; t < m; t++) {
          const k = wrapIndex('gather', idx[t], n);
          const from = (o * n + k) * inner;
          const to = (o * m + t) * inner;
          for (let j = 0; j < inner; j++) dst[to + j] = src[from + j];
        }
      return undefined;
    },
    // rows of d added back into the table's rows they were read from
    vjp: (g, [dt, i], _y, _s, d, a) => {
      if (dt.dtype !== 'float32') return [null, null];
      const axis = normAxes('gather', [a.axis], dt.shape.length)[0];
      const [outer, n, inner] = aroundAxis(dt.shape, axis);
      const dx = zeros(g, dt.shape);
      const [idx, dv, gv] = [
        g.backend.i32(i.buf, i.size),
        g.backend.f32(d.buf, d.size),
        g.backend.f32(dx.buf, dx.size),
      ];
      const m = idx.length;
      for (let o = 0; o < outer; o++)
        for (let t = 0; t < m; t++) {
          const from = (o * n + wrapIndex('gather', idx[t], n)) * inner;
          const to = (o * m + t) * inner;
          for (let j = 0; j < inner; j++) gv[from + j] += dv[to + j];
        }
      return [dx, null];
    },
    traits: {},
    onnx: (o, n) => {
      // ONNX's Gather: the same axis and negative indices; operands in Graduate's axis order
      const at = n.name;
      const [d, i] = n.inputs.map((v) => valueOrConstant(o, v, at));
      o.bind(n.output, o.node('Gather', [d, i], at, [{ name: 'axis', i: n.attrs.axis }]), at, 'graduate');
    },
  } satisfies OpDef<MovementAttrs['gather']>,
  gatherelements: {
    arity: [2, 2],
    infer: ([d, i], a) => {
      const axis = axisOf('gatherelements', d, a.axis);
      if (i.dtype !== 'int32') throw new ShapeError(`gatherelements: indices must be int32, got ${i.dtype}`);
      if (isBatched(i) !== isBatched(d))
        throw new ShapeError('gatherelements: data and indices are batched together or not at all');
      if (i.shape.length !== d.shape.length || i.shape.some((s, k) => k !== axis && s > d.shape[k]))
        throw new ShapeError(`gatherelements: indices ${i.shape} do not fit data ${d.shape} outside axis ${axis}`);
      return { shape: i.shape, dtype: d.dtype };
    },
    check: (c) => {
      if (!Number.isInteger(c.n.attrs.axis)) c.bad(`attrs.axis must be an integer, got ${c.n.attrs.axis}`);
      expectHost(c, 0, ...FLOAT_OR_INT);
      expectHost(c, 1, 'int32');
    },
    forward(x, [d, i], out, a) {
      const axis = normAxes('gatherelements', [a.axis], d.shape.length)[0];
      const offs = elementOffsets('gatherelements', d.shape, i.shape, view(x, i), axis);
      const src = view(x, d);
      const dst = view(x, out);
      for (let k = 0; k < offs.length; k++) dst[k] = src[offs[k]];
      return undefined;
    },
    vjp: (g, [dt, i], _y, _s, d, a) => {
      if (dt.dtype !== 'float32') return [null, null];
      const axis = normAxes('gatherelements', [a.axis], dt.shape.length)[0];
      return [
        gradBack(g, dt, d, elementOffsets('gatherelements', dt.shape, i.shape, g.backend.i32(i.buf, i.size), axis)),
        null,
      ];
    },
    traits: {},
    onnx: null,
  } satisfies OpDef<MovementAttrs['gatherelements']>,
  expand: {
    arity: [1, 1],
    infer: ([x], a) => ({ shape: broadcastShape(x.shape, a.shape, 'expand'), dtype: x.dtype }),
    check: (c) => {
      intList(c, 'shape');
      expectHost(c, 0, ...FLOAT_OR_INT);
    },
    forward(x, [i], out) {
      const offs = broadcastOffsets(i.shape, out.shape);
      const src = view(x, i);
      const dst = view(x, out);
      for (let k = 0; k < dst.length; k++) dst[k] = src[offs[k]];
      return undefined;
    },
    vjp: (g, [x], _y, _s, d) => {
      if (x.dtype !== 'float32') return [null];
      const copy = g.alloc(d.shape);
      g.backend.scale(d.buf, copy.buf, d.size, 1, 0);
      return [sumTo(g.backend, (sh) => g.alloc(sh), copy, x.shape)];
    },
    traits: {},
    onnx: (o, n) => {
      // ONNX's Expand takes no -1: a 1 there keeps the input's (batch) axis
      const at = n.name;
      const shape = o.ints(
        `${at}/shape`,
        n.attrs.shape.map((d) => (d < 0 ? 1 : d)),
      );
      o.bind(n.output, o.node('Expand', [valueOrConstant(o, n.inputs[0], at), shape], at), at, 'graduate');
    },
  } satisfies OpDef<MovementAttrs['expand']>,
  tile: {
    arity: [1, 1],
    infer: ([x], a) => {
      if (a.repeats.length !== x.shape.length)
        throw new ShapeError(`tile: ${a.repeats.length} repeats for rank ${x.shape.length}`);
      if (isBatched(x) && a.repeats[0] !== 1) throw new ShapeError('tile: the batch axis must repeat once');
      return { shape: x.shape.map((d, i) => (d < 0 ? d : d * a.repeats[i])), dtype: x.dtype };
    },
    check: (c) => {
      intList(c, 'repeats');
      if (!c.n.attrs.repeats.every((r) => r >= 0)) c.bad('attrs.repeats must not be negative');
      expectHost(c, 0, ...FLOAT_OR_INT);
    },
    forward(x, [i], out) {
      gatherFrom(x, i, out, tileSources(i.shape, out.shape), 0);
      return undefined;
    },
    vjp: (g, [x], y, _s, d) => [x.dtype === 'float32' ? gradBack(g, x, d, tileSources(x.shape, y.shape)) : null],
    traits: {},
    onnx: null,
  } satisfies OpDef<MovementAttrs['tile']>,
  pad: {
    arity: [1, 1],
    infer: ([x], a) => {
      const r = x.shape.length;
      if (a.pads.length !== 2 * r) throw new ShapeError(`pad: ${a.pads.length} pads for rank ${r} (needs ${2 * r})`);
      if (isBatched(x) && (a.pads[0] !== 0 || a.pads[r] !== 0))
        throw new ShapeError('pad: the batch axis cannot be padded');
      const shape = x.shape.map((d, i) => (d < 0 ? d : d + a.pads[i] + a.pads[i + r]));
      if (shape.some((d, i) => d < 0 && x.shape[i] >= 0))
        throw new ShapeError(`pad: pads [${a.pads.join(', ')}] crop ${x.shape} below nothing`);
      if (a.mode !== 'constant' && x.shape.some((d, i) => d === 0 && shape[i] > 0))
        throw new ShapeError(`pad: ${a.mode} padding of an empty axis`);
      return { shape, dtype: x.dtype };
    },
    check: (c) => {
      intList(c, 'pads');
      if (!['constant', 'reflect', 'edge', 'wrap'].includes(c.n.attrs.mode))
        c.bad(`attrs.mode must be constant, reflect, edge or wrap, got ${JSON.stringify(c.n.attrs.mode)}`);
      if (typeof c.n.attrs.value !== 'number') c.bad('attrs.value must be a number');
      expectHost(c, 0, ...FLOAT_OR_INT);
    },
    forward(x, [i], out, a) {
      gatherFrom(x, i, out, padSources(i.shape, out.shape, a), a.value);
      return undefined;
    },
    // each output reads one input cell (or the constant): its gradient goes back there
    vjp: (g, [x], y, _s, d, a) => [x.dtype === 'float32' ? gradBack(g, x, d, padSources(x.shape, y.shape, a)) : null],
    traits: {},
    onnx: (o, n) => {
      const at = n.name;
      const { pads, mode, value } = n.attrs;
      // float values only (int32 data has no float exports around it); wrap is opset 19
      if (mode === 'wrap' || o.value(n.inputs[0]).dtype === 'int32')
        throw new ValueError(
          `exportOnnx: pad '${at}' (${mode}, ${o.value(n.inputs[0]).dtype}) has no opset-17 form here`,
        );
      const x = o.float(n.inputs[0], at, 'graduate');
      const y = o.node('Pad', [x, o.ints(`${at}/pads`, pads), o.tensor(`${at}/value`, [], [value])], at, [
        { name: 'mode', s: mode },
      ]);
      o.bind(n.output, y, at, 'graduate');
    },
  } satisfies OpDef<MovementAttrs['pad']>,
  strided: {
    arity: [1, 1],
    infer: ([x], a) => {
      const r = x.shape.length;
      if (a.begin.length !== r || a.step.length !== r || a.size.length !== r)
        throw new ShapeError(`strided: begin, step and size need ${r} entries each`);
      x.shape.forEach((d, q) => {
        if (d < 0) {
          if (a.begin[q] !== 0 || a.step[q] !== 1 || a.size[q] !== -1)
            throw new ShapeError('strided: the batch axis is taken whole');
          return;
        }
        const { begin: b, step: s, size: n } = { begin: a.begin[q], step: a.step[q], size: a.size[q] };
        const last = b + (n - 1) * s;
        if (s === 0 || n < 0 || (n > 0 && (b < 0 || b >= d || last < 0 || last >= d)))
          throw new ShapeError(`strided: axis ${q} of size ${d}: begin ${b}, step ${s}, size ${n} leave the axis`);
      });
      return { shape: [...a.size], dtype: x.dtype };
    },
    check: (c) => {
      for (const f of ['begin', 'step', 'size']) intList(c, f);
      expectHost(c, 0, ...FLOAT_OR_INT);
    },
    forward(x, [i], out, a) {
      gatherFrom(x, i, out, stridedSources(i.shape, out.shape, a), 0);
      return undefined;
    },
    vjp: (g, [x], y, _s, d, a) => [
      x.dtype === 'float32' ? gradBack(g, x, d, stridedSources(x.shape, y.shape, a)) : null,
    ],
    traits: {},
    onnx: null,
  } satisfies OpDef<MovementAttrs['strided']>,
  trilu: {
    arity: [1, 1],
    infer: ([x]) => {
      if (x.shape.length < 2 || (x.shape.length === 2 && isBatched(x)))
        throw new ShapeError('trilu: needs a matrix in the last two axes');
      return { shape: x.shape, dtype: x.dtype };
    },
    check: (c) => {
      if (typeof c.n.attrs.upper !== 'boolean') c.bad('attrs.upper must be true or false');
      if (!Number.isInteger(c.n.attrs.k)) c.bad('attrs.k must be an integer');
      expectHost(c, 0, ...FLOAT_OR_INT);
    },
    forward(x, [i], out, a) {
      const r = i.shape.length;
      const R = i.shape[r - 2];
      const C = i.shape[r - 1];
      const src = view(x, i);
      const dst = view(x, out);
      const mats = numel(i.shape) / Math.max(1, R * C);
      for (let m = 0; m < mats; m++)
        for (let y = 0; y < R; y++)
          for (let z = 0; z < C; z++) {
            const k = (m * R + y) * C + z;
            const keep = a.upper ? z - y >= a.k : z - y <= a.k;
            dst[k] = keep ? src[k] : 0;
          }
      return undefined;
    },
    vjp: (g, [x], _y, _s, d, a) => {
      if (x.dtype !== 'float32') return [null];
      const dx = g.alloc(x.shape);
      const r = x.shape.length;
      const [R, C] = [x.shape[r - 2], x.shape[r - 1]];
      const [dv, gv] = [g.backend.f32(d.buf, d.size), g.backend.f32(dx.buf, dx.size)];
      for (let k = 0; k < gv.length; k++) {
        const z = k % C;
        const yy = Math.floor(k / C) % R;
        gv[k] = (a.upper ? z - yy >= a.k : z - yy <= a.k) ? dv[k] : 0;
      }
      return [dx];
    },
    traits: {},
    onnx: null,
  } satisfies OpDef<MovementAttrs['trilu']>,
  topk: {
    arity: [1, 2],
    infer: ([x, skip], a) => {
      const axis = axisOf('topk', x, a.axis);
      if (!(Number.isInteger(a.k) && a.k >= 0 && a.k <= x.shape[axis]))
        throw new ShapeError(`topk: k ${a.k} is out of range for an axis of size ${x.shape[axis]}`);
      if (skip) {
        const lead = x.shape.slice(0, -1).join();
        if (axis !== x.shape.length - 1 || skip.dtype !== 'int32' || skip.shape.slice(0, -1).join() !== lead)
          throw new ShapeError(
            `topk: excluded ids ${skip.dtype} ${fmtShape(skip.shape)} must be int32 [${x.shape.slice(0, -1).join(', ')}, S] over the last axis of ${fmtShape(x.shape)}`,
          );
        if (a.k > x.shape[axis] - skip.shape[skip.shape.length - 1])
          throw new ShapeError(
            `topk: k ${a.k} with up to ${skip.shape[skip.shape.length - 1]} excluded of ${x.shape[axis]} may leave fewer than k`,
          );
      }
      return { shape: x.shape.map((d, i) => (i === axis ? a.k : d)), dtype: a.indices ? 'int32' : x.dtype };
    },
    check: (c) => {
      if (!Number.isInteger(c.n.attrs.axis) || !Number.isInteger(c.n.attrs.k))
        c.bad('attrs.axis and attrs.k must be integers');
      expectHost(c, 0, ...FLOAT_OR_INT);
      if (c.n.inputs.length > 1) expectHost(c, 1, 'int32');
    },
    forward(x, [i, skip], out, a) {
      const axis = normAxes('topk', [a.axis], i.shape.length)[0];
      const [outer, n, inner] = aroundAxis(i.shape, axis);
      const src = view(x, i);
      const dst = view(x, out);
      const ids = skip && (view(x, skip) as Int32Array);
      const S = skip ? skip.shape[skip.shape.length - 1] : 0;
      const skipped = new Uint8Array(skip ? n : 0);
      const top = new Int32Array(a.k);
      for (let o = 0; o < outer; o++)
        for (let j = 0; j < inner; j++) {
          const base = o * n * inner + j;
          if (ids) markSkipped(ids, o * S, S, skipped, 1);
          selectTop(src, base, n, inner, a.largest, ids ? skipped : undefined, top);
          if (ids) markSkipped(ids, o * S, S, skipped, 0);
          for (let t = 0; t < a.k; t++)
            dst[(o * a.k + t) * inner + j] = a.indices ? top[t] : src[base + top[t] * inner];
        }
      return undefined;
    },
    vjp: null,
    traits: {},
    onnx: null,
  } satisfies OpDef<MovementAttrs['topk']>,
  gathernd: {
    arity: [2, 2],
    infer: ([d, i], a) => {
      const b = a.batchDims;
      const q = i.shape[i.shape.length - 1];
      if (i.dtype !== 'int32') throw new ShapeError('gathernd: indices must be int32');
      if (isBatched(d) || isBatched(i)) throw new ShapeError('gathernd: takes fixed shapes');
      if (!(q >= 1 && b + q <= d.shape.length && i.shape.length > b))
        throw new ShapeError(`gathernd: index tuples of ${q} for data [${d.shape}]`);
      if (i.shape.slice(0, b).join() !== d.shape.slice(0, b).join())
        throw new ShapeError(`gathernd: the first ${b} axes of indices [${i.shape}] and data [${d.shape}] differ`);
      return { shape: [...i.shape.slice(0, -1), ...d.shape.slice(b + q)], dtype: d.dtype };
    },
    check: (c) => {
      if (!Number.isInteger(c.n.attrs.batchDims) || c.n.attrs.batchDims < 0) c.bad('attrs.batchDims must be a natural');
      expectHost(c, 0, ...FLOAT_OR_INT);
      expectHost(c, 1, 'int32');
    },
    forward(x, [d, i], out, a) {
      const b = a.batchDims;
      const q = i.shape[i.shape.length - 1];
      const ds = stridesOf(d.shape);
      const slice = numel(d.shape.slice(b + q));
      const batches = numel(d.shape.slice(0, b));
      const tuples = numel(i.shape.slice(b, -1));
      const src = view(x, d);
      const idx = view(x, i);
      const dst = view(x, out);
      for (let bb = 0; bb < batches; bb++)
        for (let t = 0; t < tuples; t++) {
          let off = b > 0 ? bb * ds[b - 1] : 0;
          for (let k = 0; k < q; k++)
            off += wrapIndex('gathernd', idx[(bb * tuples + t) * q + k], d.shape[b + k]) * ds[b + k];
          dst.set(src.subarray(off, off + slice), (bb * tuples + t) * slice);
        }
      return undefined;
    },
    vjp: null,
    traits: {},
    onnx: null,
  } satisfies OpDef<MovementAttrs['gathernd']>,
  scatterelements: {
    arity: [3, 3],
    infer: ([d, i, u], a) => {
      axisOf('scatterelements', d, a.axis);
      if (i.dtype !== 'int32' || u.dtype !== d.dtype || i.shape.join() !== u.shape.join())
        throw new ShapeError('scatterelements: int32 indices and updates of one shape, updates of the data dtype');
      if ([d, i, u].some(isBatched)) throw new ShapeError('scatterelements: takes fixed shapes');
      const axis = normAxes('scatterelements', [a.axis], d.shape.length)[0];
      if (i.shape.length !== d.shape.length || i.shape.some((s, k) => k !== axis && s > d.shape[k]))
        throw new ShapeError(`scatterelements: indices ${i.shape} do not fit data ${d.shape} outside axis ${axis}`);
      return { shape: d.shape, dtype: d.dtype };
    },
    check: (c) => {
      if (!REDUCTIONS.includes(c.n.attrs.reduction)) c.bad(`attrs.reduction must be one of ${REDUCTIONS.join(', ')}`);
      expectHost(c, 0, ...FLOAT_OR_INT);
      expectHost(c, 1, 'int32');
    },
    forward(x, [d, i, u], out, a) {
      const axis = normAxes('scatterelements', [a.axis], d.shape.length)[0];
      const offs = elementOffsets('scatterelements', d.shape, i.shape, view(x, i), axis);
      const f = combine(a.reduction, d.dtype === 'int32');
      const dst = view(x, out);
      dst.set(view(x, d));
      const up = view(x, u);
      for (let k = 0; k < offs.length; k++) dst[offs[k]] = f(dst[offs[k]], up[k]);
      return undefined;
    },
    vjp: null,
    traits: {},
    onnx: null,
  } satisfies OpDef<MovementAttrs['scatterelements']>,
  scatternd: {
    arity: [3, 3],
    infer: ([d, i, u]) => {
      const q = i.shape[i.shape.length - 1];
      if (i.dtype !== 'int32' || u.dtype !== d.dtype)
        throw new ShapeError('scatternd: int32 indices, updates of the data dtype');
      if ([d, i, u].some(isBatched)) throw new ShapeError('scatternd: takes fixed shapes');
      const want = [...i.shape.slice(0, -1), ...d.shape.slice(q)];
      if (!(q >= 1 && q <= d.shape.length) || want.join() !== u.shape.join())
        throw new ShapeError(`scatternd: updates [${u.shape}] do not match indices [${i.shape}] into [${d.shape}]`);
      return { shape: d.shape, dtype: d.dtype };
    },
    check: (c) => {
      if (!REDUCTIONS.includes(c.n.attrs.reduction)) c.bad(`attrs.reduction must be one of ${REDUCTIONS.join(', ')}`);
      expectHost(c, 0, ...FLOAT_OR_INT);
      expectHost(c, 1, 'int32');
    },
    forward(x, [d, i, u], out, a) {
      const q = i.shape[i.shape.length - 1];
      const ds = stridesOf(d.shape);
      const slice = numel(d.shape.slice(q));
      const f = combine(a.reduction, d.dtype === 'int32');
      const dst = view(x, out);
      dst.set(view(x, d));
      const idx = view(x, i);
      const up = view(x, u);
      const tuples = numel(i.shape.slice(0, -1));
      for (let t = 0; t < tuples; t++) {
        let off = 0;
        for (let k = 0; k < q; k++) off += wrapIndex('scatternd', idx[t * q + k], d.shape[k]) * ds[k];
        for (let j = 0; j < slice; j++) dst[off + j] = f(dst[off + j], up[t * slice + j]);
      }
      return undefined;
    },
    vjp: null,
    traits: {},
    onnx: null,
  } satisfies OpDef<MovementAttrs['scatternd']>,
} satisfies { [K in keyof MovementAttrs]: OpDef<MovementAttrs[K]> };
