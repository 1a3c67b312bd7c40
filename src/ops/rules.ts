// Helpers the op definitions share: IR checks (attribute types and ranges, per-channel constants,
// the conv/linear epilogue and int8 rules) and small shape rules. The messages name the node's
// field or input, since they reach users reading an artifact or an ONNX file.

import type { Backend } from '../backend/backend.js';
import { ShapeError } from '../errors.js';
import { isFloat32 } from '../io/fields.js';
import type { CheckCtx, ConstInfo, Info, Ref, Shape, ValueInfo } from './op.js';

export const same = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** Number of elements (a -1 batch counts as 1). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d < 0 ? 1 : d;
  return n;
}

export function expectDtype(c: CheckCtx<unknown>, what: string, v: ValueInfo, ...dtypes: string[]): void {
  if (!dtypes.includes(v.dtype)) c.bad(`${what} is ${v.dtype}, expected ${dtypes.join(' or ')}`);
}

/** attrs[field] must be `length` integers satisfying `ok`. */
export function ints(c: CheckCtx<unknown>, field: string, length: number, ok: (v: unknown) => boolean, what: string) {
  const v = (c.n.attrs as Record<string, unknown>)[field];
  if (!Array.isArray(v) || v.length !== length || !v.every(ok))
    c.bad(`attrs.${field} must be ${length} ${what}, got ${JSON.stringify(v)}`);
  return v as number[];
}

export function optionalNumber(c: CheckCtx<unknown>, field: string): void {
  const v = (c.n.attrs as Record<string, unknown>)[field];
  if (v !== undefined && !isFloat32(v))
    c.bad(`attrs.${field} must be a finite float32 number, got ${JSON.stringify(v)}`);
}

/** A per-channel float constant of C values (bias, norm parameters). */
export function channelConstant(c: CheckCtx<unknown>, i: number, C: number, what: string): ConstInfo {
  const k = c.constant(i);
  if (k.dtype !== 'float32' && k.dtype !== 'float16') c.bad(`${what} '${c.n.inputs[i]}' is ${k.dtype}, expected float`);
  if (k.data.length !== C) c.bad(`${what} '${c.n.inputs[i]}' has ${k.data.length} values for ${C} channels`);
  return k;
}

/** A value in, the same dtype out (views and elementwise ops). */
export function sameDtype(c: CheckCtx<unknown>, ...dtypes: string[]): ValueInfo {
  const x = c.value(0);
  expectDtype(c, `input '${c.n.inputs[0]}'`, x, ...dtypes);
  if (c.out.dtype !== x.dtype) c.bad(`output '${c.n.output}' is ${c.out.dtype}, its input ${x.dtype}`);
  return x;
}

/** Normalizes axes (negative from the end), sorted and unique; ShapeError when out of range. */
export function normAxes(op: string, axes: readonly number[], rank: number): number[] {
  const out = axes.map((a) => (a < 0 ? a + rank : a));
  for (const [i, a] of out.entries()) {
    if (!Number.isInteger(a) || a < 0 || a >= rank)
      throw new ShapeError(`${op}: axis ${axes[i]} is out of range for rank ${rank}`);
  }
  return [...new Set(out)].sort((x, y) => x - y);
}

export function channelsOf(op: string, x: Info): number {
  if (x.shape.length < 1) throw new ShapeError(`${op}: input must have a channel axis, got a scalar`);
  return x.shape[x.shape.length - 1];
}

/** Sums a broadcast gradient back down to `shape` (the inverse of broadcasting); g is released. */
export function sumTo(b: Backend, alloc: (s: Shape) => Ref, g: Ref, shape: Shape): Ref {
  if (same(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  const out = alloc(shape);
  b.reduce('sum', g.buf, g.shape, axes, out.buf);
  g.dispose();
  return out;
}

/** Rows and width of a row-wise op over the last axis of x. */
export function rowsOf(x: Info): [number, number] {
  const C = x.shape[x.shape.length - 1];
  return [numel(x.shape) / C, C];
}
