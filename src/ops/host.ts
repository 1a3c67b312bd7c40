// Host loops: how ops without a device kernel compute. They run in TypeScript over the backend's
// live views of its memory (InferenceBackend.f32 / i32), so every backend runs them unchanged —
// the ONNX-semantics ops of the general import path (math.ts, movement.ts) and the int32 side of
// layout ops whose kernels move float32. Views stay valid until the next alloc: a host loop takes
// its views after its temporaries. Also the index arithmetic they share: row-major strides and the
// input offsets of a broadcast.
// Not for: fast paths (the backend's kernels) or shape rules (the ops' infer).
import { fromHalf, toHalf } from '../shape/half.js';
import type { Arg, CheckCtx, DType, Exec, Grad, Ref } from './op.js';
import { numel } from './rules.js';

export type HostArray = Float32Array | Int32Array;

/** The live view of an argument's elements (float32 or int32; int8 is not a host dtype). */
export function view(x: Exec, a: Arg): HostArray {
  const n = numel(a.shape);
  if (a.dtype === 'int32') return x.backend.i32(a.buf, n);
  if (a.dtype === 'float32') return x.backend.f32(a.buf, n);
  throw new Error(`host loops take float32 or int32 tensors, got ${a.dtype}`);
}

/** Row-major element strides of `shape`. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let k = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = k;
    k *= shape[i];
  }
  return s;
}

/** For each element of `shape` (row-major), Σ index[i] · strides[i]: offsets into a strided tensor. */
export function offsetsOf(shape: readonly number[], strides: readonly number[]): Int32Array {
  const n = numel(shape);
  const r = shape.length;
  const offs = new Int32Array(n);
  const at = new Array<number>(r).fill(0);
  let off = 0;
  for (let k = 0; k < n; k++) {
    offs[k] = off;
    // carry: the last axis steps; an axis at its end returns to 0 and the next one steps
    for (let q = r - 1; q >= 0; q--) {
      at[q]++;
      off += strides[q];
      if (at[q] < shape[q]) break;
      off -= strides[q] * at[q];
      at[q] = 0;
    }
  }
  return offs;
}

/**
 * For each element of `out` (row-major), the offset of the element of a tensor of shape `from`
 * that numpy broadcasting reads there (from's axes align with out's last axes; size-1 axes repeat).
 */
export function broadcastOffsets(from: readonly number[], out: readonly number[]): Int32Array {
  const lead = out.length - from.length;
  const fs = stridesOf(from);
  // stride in `from` of each output axis (0 where from repeats)
  return offsetsOf(
    out,
    out.map((_, i) => (i < lead || from[i - lead] === 1 ? 0 : fs[i - lead])),
  );
}

/** Calls fn(index along each axis, flat index) for every element of `shape`, in row-major order. */
export function forEachIndex(shape: readonly number[], fn: (at: readonly number[], k: number) => void): void {
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

/**
 * Calls fn(base, n, inner) for every lane along `axis` of `shape`: the lane's elements lie at
 * base + k · inner for k < n (argmax, cumsum, softmax-like ops).
 */
export function forEachLane(
  shape: readonly number[],
  axis: number,
  fn: (base: number, n: number, inner: number) => void,
): void {
  const [outer, n, inner] = aroundAxis(shape, axis);
  for (let o = 0; o < outer; o++) for (let j = 0; j < inner; j++) fn(o * n * inner + j, n, inner);
}

/** The dtype of node input i as host ops see it (float16 constants compute as float32). */
export function hostDtype(c: CheckCtx<unknown>, i: number): DType {
  if (!c.isConstant(i)) return c.value(i).dtype;
  const k = c.constant(i).dtype;
  return k === 'float16' ? 'float32' : k;
}

/** IR check: input i is one of `ok` (a value or a constant). */
export function expectHost(c: CheckCtx<unknown>, i: number, ...ok: DType[]): DType {
  const d = hostDtype(c, i);
  if (!ok.includes(d)) c.bad(`input '${c.n.inputs[i]}' is ${d}, expected ${ok.join(' or ')}`);
  return d;
}

export const FLOAT_OR_INT: readonly DType[] = ['float32', 'int32'];

/** A zero-filled gradient tensor (the vjps that scatter into it). */
export function zeros(g: Grad, shape: readonly number[]): Ref {
  const t = g.alloc(shape);
  g.backend.fill(t.buf, t.size, 0);
  return t;
}

/** Shape of `x` with the axis `axis` split off: [outer, size of axis, inner]. */
export function aroundAxis(shape: readonly number[], axis: number): [number, number, number] {
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i];
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i];
  return [outer, shape[axis], inner];
}

/** Copies `x` permuted by `perm` into `out` (any host dtype). */
export function permute(src: HostArray, shape: readonly number[], perm: readonly number[], dst: HostArray): void {
  const s = stridesOf(shape);
  const offs = offsetsOf(
    perm.map((p) => shape[p]),
    perm.map((p) => s[p]),
  );
  for (let k = 0; k < dst.length; k++) dst[k] = src[offs[k]];
}

/** erf(x) to double precision (series below 2.5, continued fraction of erfc above). */
export function erf(x: number): number {
  if (Number.isNaN(x)) return x;
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // erf x = 2/√π · Σ (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax;
    let sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 80; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  if (ax > 6) return Math.sign(x);
  // erfc x = exp(-x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + 2/(x + …)))))
  let f = 0;
  for (let k = 60; k >= 1; k--) f = k / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}

/** x rounded to float16 precision (as float). */
export function roundHalf(x: number): number {
  return fromHalf(toHalf(x));
}

/**
 * x cut to bfloat16 precision: the upper 16 bits of its float32 (truncation, as ONNX's reference
 * implementation and its backend test data convert; NaN stays NaN).
 */
export function roundBfloat16(x: number): number {
  if (Number.isNaN(x)) return x;
  const u = new Uint32Array(new Float32Array([x]).buffer)[0];
  const r = u & 0xffff0000;
  return new Float32Array(new Uint32Array([r >>> 0]).buffer)[0];
}
