// Constant folding for the ONNX importer: constant subgraphs (shape arithmetic on int64 tensors,
// Constant, Cast, Shape, Reshape, Transpose, Concat, elementwise ops and QDQ of weights) are
// evaluated here while importing, so only computations on the graph input become Graduate nodes.
// Integer data stays exact (float64); float data is float32, as ONNX Runtime would hold it.
// Not for: reading tensors from the file (tensors.ts), or values computed from the input (layout.ts).

import { DT } from '../proto.js';
import type { Attrs } from './attrs.js';

/** A folded constant: float data as float32, integer data exactly (as float64). */
export interface Const {
  kind: 'const';
  dims: number[];
  data: Float32Array | Float64Array;
  int: boolean;
  /** The ONNX element type where it is known (read from the file, or a Cast's target). */
  elem?: number;
}

export const prod = (a: readonly number[]) => a.reduce((p, d) => p * d, 1);

/** A Constant node's value_float(s) / value_int(s) (undefined: neither; value tensors are read as tensors). */
export function constantAttr(A: Attrs): Const | undefined {
  const f = A.floats('value_floats') ?? (A.has('value_float') ? [A.float('value_float', 0)] : undefined);
  if (f)
    return {
      kind: 'const',
      dims: A.has('value_float') ? [] : [f.length],
      data: Float32Array.from(f),
      int: false,
    };
  const i = A.ints('value_ints') ?? (A.has('value_int') ? [A.int('value_int', 0)] : undefined);
  if (i)
    return {
      kind: 'const',
      dims: A.has('value_int') ? [] : [i.length],
      data: Float64Array.from(i),
      int: true,
    };
  return undefined;
}

/** Cast to ONNX data type `to`: integer types truncate. */
export function castConst(c: Const, to: number): Const {
  const isInt = to !== DT.FLOAT && to !== DT.DOUBLE && to !== DT.FLOAT16;
  const data = isInt ? Float64Array.from(c.data, Math.trunc) : Float32Array.from(c.data);
  return { kind: 'const', dims: c.dims, data, int: isInt, elem: to };
}

/** Shape of a constant, as an int64 vector. */
export function shapeConst(c: Const): Const {
  return { kind: 'const', dims: [c.dims.length], data: Float64Array.from(c.dims), int: true };
}

/** f elementwise (the result is float). */
export function mapConst(c: Const, f: (x: number) => number): Const {
  return { ...c, data: Float32Array.from(c.data, f), int: false, elem: undefined };
}

/** Flatten at `axis` (already non-negative): [prod(dims[:axis]), prod(dims[axis:])]. */
export function flattenConst(c: Const, axis: number): Const {
  return { ...c, dims: [prod(c.dims.slice(0, axis)), prod(c.dims.slice(axis))] };
}

/** Reshape's target shape s for a tensor of `dims` (0 copies a dim unless allowZero, one -1 is inferred). */
export function resolveShape(s: number[], dims: number[], allowZero: number, fail: (m: string) => never): number[] {
  const n = prod(dims);
  const t = s.map((d, i) => (d === 0 && !allowZero ? dims[i] : d));
  const known = prod(t.filter((d) => d !== -1));
  const out = t.map((d) => (d === -1 ? n / known : d));
  if (prod(out) !== n || out.some((d) => !Number.isInteger(d) || d < 0))
    fail(`cannot reshape [${dims.join(', ')}] to [${s.join(', ')}]`);
  return out;
}

export function transposeConst(c: Const, perm: number[]): Const {
  const r = c.dims.length;
  const dims = perm.map((p) => c.dims[p]);
  const stride = c.dims.map((_, i) => prod(c.dims.slice(i + 1)));
  const out = new (c.data.constructor as { new (n: number): Float32Array | Float64Array })(c.data.length);
  const idx = new Array(r).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let k = 0; k < r; k++) src += idx[k] * stride[perm[k]];
    out[o] = c.data[src];
    for (let k = r - 1; k >= 0; k--) {
      if (++idx[k] < dims[k]) break;
      idx[k] = 0;
    }
  }
  return { ...c, dims, data: out };
}

/** fn of two constants, broadcasting numpy-style; integer when both are (truncating). */
export function broadcastConst(
  a: Const,
  b: Const,
  fn: (x: number, y: number) => number,
  fail: (m: string) => never,
): Const {
  const r = Math.max(a.dims.length, b.dims.length);
  const pa = [...new Array(r - a.dims.length).fill(1), ...a.dims];
  const pb = [...new Array(r - b.dims.length).fill(1), ...b.dims];
  const dims = pa.map((d, i) => {
    if (d !== pb[i] && d !== 1 && pb[i] !== 1)
      fail(`shapes [${a.dims.join(', ')}] and [${b.dims.join(', ')}] do not broadcast`);
    return Math.max(d, pb[i]);
  });
  const n = prod(dims);
  const int = a.int && b.int;
  const out = int ? new Float64Array(n) : new Float32Array(n);
  const sa = pa.map((d, i) => (d === 1 ? 0 : prod(pa.slice(i + 1))));
  const sb = pb.map((d, i) => (d === 1 ? 0 : prod(pb.slice(i + 1))));
  const idx = new Array(r).fill(0);
  for (let o = 0; o < n; o++) {
    let ia = 0;
    let ib = 0;
    for (let k = 0; k < r; k++) {
      ia += idx[k] * sa[k];
      ib += idx[k] * sb[k];
    }
    const v = fn(a.data[ia], b.data[ib]);
    out[o] = int ? Math.trunc(v) : v;
    for (let k = r - 1; k >= 0; k--) {
      if (++idx[k] < dims[k]) break;
      idx[k] = 0;
    }
  }
  return { kind: 'const', dims, data: out, int };
}

export function concatConst(cs: Const[], axis0: number, fail: (m: string) => never): Const {
  const r = cs[0].dims.length;
  const axis = axis0 < 0 ? axis0 + r : axis0;
  if (cs.some((c) => c.dims.length !== r || c.dims.some((d, i) => i !== axis && d !== cs[0].dims[i])))
    fail('Concat inputs of mismatched shapes');
  const outer = prod(cs[0].dims.slice(0, axis));
  const dims = [...cs[0].dims];
  dims[axis] = cs.reduce((s, c) => s + c.dims[axis], 0);
  const int = cs.every((c) => c.int);
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const c of cs) {
      const inner = prod(c.dims.slice(axis));
      for (let i = 0; i < inner; i++) out.push(c.data[o * inner + i]);
    }
  }
  return { kind: 'const', dims, data: int ? Float64Array.from(out) : Float32Array.from(out), int };
}

/** Quantization parameters of one QuantizeLinear / DequantizeLinear: scale and zero point of element i's channel. */
export interface QParams {
  scale: Float32Array | Float64Array;
  zp?: Float32Array | Float64Array;
  ch: (i: number) => number;
}

export function dequantizeConst(x: Const, { scale, zp, ch }: QParams): Const {
  const data = Float32Array.from(x.data, (q, i) => (q - (zp ? zp[ch(i)] : 0)) * scale[ch(i)]);
  return { kind: 'const', dims: x.dims, data, int: false };
}

/** Round half to even and saturate to int8 (signed) or uint8. */
export function quantizeConst(x: Const, { scale, zp, ch }: QParams, signed: boolean): Const {
  const [lo, hi] = signed ? [-128, 127] : [0, 255];
  const data = Float64Array.from(x.data, (v, i) =>
    Math.min(hi, Math.max(lo, roundEven(v / scale[ch(i)]) + (zp ? zp[ch(i)] : 0))),
  );
  return { kind: 'const', dims: x.dims, data, int: true, elem: signed ? DT.INT8 : DT.UINT8 };
}

function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
