// Helpers the op definitions share: IR checks (attribute types and ranges, per-channel constants),
// small shape rules, the two spellings of epilogue activations (IR 'leakyrelu', kernels
// 'leakyRelu') with their maps, and the operands of ops that take values or constants alike. The messages name the node's
// field or input, since they reach users reading an artifact or an ONNX file.

import type { Backend, EpilogueActivation, UnaryFn } from '../backend/backend.js';
import { fmtShape, ShapeError, ValueError } from '../errors.js';
import { isFloat32 } from '../io/fields.js';
import type { CheckCtx, ConstInfo, Info, OnnxCtx, OnnxOrder, Ref, Shape, ValueInfo } from './op.js';

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

/**
 * Refuses integer input to an op that weighs its input (linear, matmul, convolutions): the kernels
 * read float32, so token ids would count as their bit patterns (about k·1.4e-45: zero).
 */
export function weighsFloats(op: string, x: Info): void {
  if (x.dtype === 'int32')
    throw new ValueError(
      `${op}: input ${fmtShape(x.shape)} is int32 (token ids?), but ${op} weighs float values; look ids up in an embedding first`,
    );
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

/** Activations of a fused epilogue, as the IR spells them. */
export type ActivationFn = 'none' | 'relu' | 'leakyrelu' | 'sigmoid' | 'tanh' | 'gelu';
export const EPILOGUE_FNS: readonly ActivationFn[] = ['none', 'relu', 'leakyrelu', 'sigmoid', 'tanh', 'gelu'];
/** IR spelling → the kernels' (and the unary op's) spelling. */
export const KERNEL_ACTIVATION = {
  none: 'none',
  relu: 'relu',
  leakyrelu: 'leakyRelu',
  sigmoid: 'sigmoid',
  tanh: 'tanh',
  gelu: 'gelu',
} as const satisfies Record<ActivationFn, EpilogueActivation>;
/** The kernels' (and the unary op's) spelling → the IR's epilogue spelling. */
export const IR_ACTIVATION = Object.fromEntries(
  Object.entries(KERNEL_ACTIVATION).map(([ir, kernel]) => [kernel, ir]),
) as Record<EpilogueActivation, ActivationFn>;
/** Unary functions a conv/linear epilogue can absorb (the fuse pass). */
export const EPILOGUE_UNARY: ReadonlySet<UnaryFn> = new Set(
  Object.values(KERNEL_ACTIVATION).filter((f): f is Exclude<EpilogueActivation, 'none'> => f !== 'none'),
);

/** Input i as a value or a constant (binary ops take either). */
export function operand(c: CheckCtx<unknown>, i: number): ValueInfo {
  if (!c.isConstant(i)) return c.value(i);
  const k = c.constant(i);
  if (k.dtype !== 'float32' && k.dtype !== 'float16') c.bad(`input '${c.n.inputs[i]}' is ${k.dtype}, expected float`);
  return { shape: k.shape, dtype: 'float32' };
}

/** A value's float ONNX tensor (in `order`), or a constant as an initializer. */
export function operandOnnx(o: OnnxCtx, name: string, at: string, order: OnnxOrder): string {
  if (!o.isConstant(name)) return o.float(name, at, order);
  return o.tensor(name, [...o.constant(name).shape], o.floatData(name));
}

/**
 * Axis order for an elementwise op's ONNX operands: when all operands are values of one rank they
 * broadcast alike in either order, so the one they are held in (CNN residual adds stay NCHW,
 * attention's [N, h, L, L] scores stay as they are), ONNX's when they differ; else Graduate's,
 * which constants (and lower-rank operands) are written in.
 */
export function orderOf(o: OnnxCtx, inputs: readonly string[]): OnnxOrder {
  const ranks = inputs.map((v) => (o.isConstant(v) ? -1 : o.value(v).shape.length));
  if (!ranks.every((r) => r === ranks[0] && r >= 0)) return 'graduate';
  const held = inputs.map((v) => o.order(v));
  return held.every((h) => h === 'graduate') ? 'graduate' : 'onnx';
}
