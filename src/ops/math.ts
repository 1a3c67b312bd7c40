// Tensor math with ONNX's semantics, over float32 and int32 (the IR's bool is int32 0/1): `map`
// (unary math and parameterized activations), `binop` (broadcasting arithmetic, comparisons,
// logic, bit ops), `cast`, `reduce` (ten reductions over any axes), `argmax`, `cumsum` and
// `hardmax`. They compute in host loops (host.ts): what the general ONNX import path maps ops
// onto when Graduate has no faster kernel op for them, plus `einsum`. Float map/binop/cast/reduce/
// cumsum have vjps (fine-tuning imported graphs); argmax, hardmax and einsum none. map, binop and
// cast export to ONNX (math-onnx.ts); the others do not yet (the exporter names the op).
import { ShapeError } from '../errors.js';
import { broadcastShape } from '../shape/window.js';
import {
  broadcastOffsets,
  erf,
  expectHost,
  FLOAT_OR_INT,
  forEachLane,
  type HostArray,
  offsetsOf,
  roundBfloat16,
  roundHalf,
  stridesOf,
  view,
} from './host.js';
import { binopExport, castExport, mapExport } from './math-onnx.js';
import type { CheckCtx, DType, Info, OpDef, Ref } from './op.js';
import { normAxes, numel, sumTo } from './rules.js';

export const MAP_FNS = [
  'identity',
  'abs',
  'neg',
  'sign',
  'exp',
  'log',
  'sqrt',
  'reciprocal',
  'floor',
  'ceil',
  'round',
  'sin',
  'cos',
  'tan',
  'asin',
  'acos',
  'atan',
  'sinh',
  'cosh',
  'asinh',
  'acosh',
  'atanh',
  'erf',
  'sigmoid',
  'tanh',
  'relu',
  'leakyRelu',
  'elu',
  'selu',
  'celu',
  'hardSigmoid',
  'hardSwish',
  'softplus',
  'softsign',
  'mish',
  'gelu',
  'geluTanh',
  'thresholdedRelu',
  'shrink',
  'clip',
  'not',
  'isNaN',
  'isInf',
] as const;
export type MapFn = (typeof MAP_FNS)[number];

/** Functions defined on int32 too (the rest take float32). */
const INT_MAP: ReadonlySet<MapFn> = new Set(['identity', 'abs', 'neg', 'sign', 'relu', 'clip', 'not']);
/** Functions whose result is a bool (int32 0/1) whatever the input. */
const BOOL_MAP: ReadonlySet<MapFn> = new Set(['isNaN', 'isInf']);

export const BIN_FNS = [
  'add',
  'sub',
  'mul',
  'div',
  'pow',
  'mod',
  'fmod',
  'max',
  'min',
  'eq',
  'lt',
  'le',
  'gt',
  'ge',
  'and',
  'or',
  'xor',
  'shl',
  'shr',
  'bitand',
  'bitor',
  'bitxor',
  'prelu',
] as const;
export type BinFn = (typeof BIN_FNS)[number];
const COMPARE: ReadonlySet<BinFn> = new Set(['eq', 'lt', 'le', 'gt', 'ge', 'and', 'or', 'xor']);
const INT_ONLY: ReadonlySet<BinFn> = new Set(['shl', 'shr', 'bitand', 'bitor', 'bitxor', 'and', 'or', 'xor']);

export const REDUCE_FNS = [
  'sum',
  'mean',
  'max',
  'min',
  'prod',
  'l1',
  'l2',
  'logsum',
  'logsumexp',
  'sumsquare',
] as const;
export type ReduceFn = (typeof REDUCE_FNS)[number];
const INT_REDUCE: ReadonlySet<ReduceFn> = new Set(['sum', 'max', 'min', 'prod', 'l1', 'sumsquare']);

export interface MathAttrs {
  /** y = fn(x); alpha/beta/gamma as ONNX's activations name them (clip: alpha = min, beta = max; isInf: alpha/beta = detect +/− as 1/0). */
  map: { fn: MapFn; alpha?: number; beta?: number; gamma?: number };
  /** y = a fn b, numpy broadcasting; comparisons and logic give bool (int32 0/1). pow takes any exponent dtype. */
  binop: { fn: BinFn };
  /**
   * Conversion: to float32 (float16/bfloat16: rounded to that precision), to int32 (toward zero, as
   * C; narrower integer types wrap as C casts do, held in int32), or to bool (≠ 0).
   */
  cast: { to: 'float32' | 'float16' | 'bfloat16' | 'int32' | 'int16' | 'uint16' | 'int8' | 'uint8' | 'bool' };
  /** Reduction over `axes` (sorted, non-empty). */
  reduce: { fn: ReduceFn; axes: readonly number[]; keepDims: boolean };
  /** Index (int32) of the first (or `last`) largest (`min`: smallest) element along `axis`. */
  argmax: { axis: number; keepDims: boolean; last: boolean; min: boolean };
  /** Running sum along `axis`. */
  cumsum: { axis: number; exclusive: boolean; reverse: boolean };
  /** 1 at the first largest element along `axis`, 0 elsewhere. */
  hardmax: { axis: number };
  /** Einstein summation ('ij,jk->ik'; '...' and the implicit output form as numpy). */
  einsum: { equation: string };
}

/** An einsum equation resolved against input ranks: each operand's labels and the output's. */
function parseEinsum(eq: string, ranks: readonly number[]): { ins: string[][]; out: string[] } {
  const bad = (why: string): never => {
    throw new ShapeError(`einsum '${eq}': ${why}`);
  };
  const [lhs, rhs] = eq.replace(/\s/g, '').split('->');
  const terms = lhs.split(',');
  if (terms.length !== ranks.length) bad(`${terms.length} operands in the equation, ${ranks.length} given`);
  // '...' becomes one label per broadcast axis (digits, right-aligned across operands)
  const ell = Math.max(0, ...terms.map((t, i) => (t.includes('...') ? ranks[i] - t.replace('...', '').length : 0)));
  const ellLabels = (k: number) => Array.from({ length: k }, (_, j) => String(ell - k + j));
  const expand = (t: string, rank: number): string[] => {
    const [a, b] = t.split('...');
    if (b === undefined) return [...a];
    return [...a, ...ellLabels(rank - a.length - b.length), ...b];
  };
  const ins = terms.map((t, i) => expand(t, ranks[i]));
  ins.forEach((l, i) => {
    if (l.length !== ranks[i]) bad(`operand ${i} has rank ${ranks[i]}, the equation ${l.length} labels`);
    if (l.some((c) => !/[A-Za-z0-9]/.test(c))) bad('labels must be letters');
  });
  let out: string[];
  if (rhs === undefined) {
    const count = new Map<string, number>();
    for (const l of ins) for (const c of l) count.set(c, (count.get(c) ?? 0) + 1);
    out = [...ellLabels(ell), ...[...count.keys()].filter((c) => count.get(c) === 1 && /[A-Za-z]/.test(c)).sort()];
  } else out = expand(rhs, rhs.replace('...', '').length + (rhs.includes('...') ? ell : 0));
  return { ins, out };
}

/** Sizes of the einsum labels (size-1 axes broadcast). */
function einsumSizes(eq: string, ins: string[][], shapes: readonly (readonly number[])[]): Map<string, number> {
  const size = new Map<string, number>();
  for (const [i, l] of ins.entries())
    for (const [k, c] of l.entries()) {
      const d = shapes[i][k];
      const known = size.get(c);
      if (known === undefined || known === 1) size.set(c, d);
      else if (d !== 1 && d !== known) throw new ShapeError(`einsum '${eq}': label ${c} is ${known} and ${d}`);
    }
  return size;
}

const isBatched = (x: Info) => x.shape[0] === -1;

function noBatchAxis(op: string, x: Info, axes: readonly number[]): void {
  if (isBatched(x) && axes.includes(0)) throw new ShapeError(`${op}: the IR cannot compute across the batch axis`);
}

function expectOut(c: CheckCtx<unknown>, want: DType): void {
  if (c.out.dtype !== want) c.bad(`output '${c.n.output}' is ${c.out.dtype}, expected ${want}`);
}

function finiteAttr(c: CheckCtx<unknown>, field: string): void {
  const v = (c.n.attrs as Record<string, unknown>)[field];
  if (v !== undefined && (typeof v !== 'number' || Number.isNaN(v)))
    c.bad(`attrs.${field} must be a number, got ${JSON.stringify(v)}`);
}

function boolAttr(c: CheckCtx<unknown>, field: string): void {
  const v = (c.n.attrs as Record<string, unknown>)[field];
  if (typeof v !== 'boolean') c.bad(`attrs.${field} must be true or false, got ${JSON.stringify(v)}`);
}

function intAttr(c: CheckCtx<unknown>, field: string): void {
  const v = (c.n.attrs as Record<string, unknown>)[field];
  if (!Number.isInteger(v)) c.bad(`attrs.${field} must be an integer, got ${JSON.stringify(v)}`);
}

const SELU_ALPHA = 1.6732632423543772;
const SELU_GAMMA = 1.0507009873554805;

/** The scalar function of a map node (float semantics; int32 results are truncated by the store). */
function mapFn(a: MathAttrs['map']): (x: number) => number {
  const alpha = a.alpha;
  const beta = a.beta;
  switch (a.fn) {
    case 'identity':
      return (x) => x;
    case 'abs':
      return Math.abs;
    case 'neg':
      return (x) => -x;
    case 'sign':
      return (x) => (Number.isNaN(x) ? x : Math.sign(x));
    case 'exp':
      return Math.exp;
    case 'log':
      return Math.log;
    case 'sqrt':
      return Math.sqrt;
    case 'reciprocal':
      return (x) => 1 / x;
    case 'floor':
      return Math.floor;
    case 'ceil':
      return Math.ceil;
    case 'round':
      // half to even
      return (x) => {
        const r = Math.round(x);
        return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
      };
    case 'sin':
      return Math.sin;
    case 'cos':
      return Math.cos;
    case 'tan':
      return Math.tan;
    case 'asin':
      return Math.asin;
    case 'acos':
      return Math.acos;
    case 'atan':
      return Math.atan;
    case 'sinh':
      return Math.sinh;
    case 'cosh':
      return Math.cosh;
    case 'asinh':
      return Math.asinh;
    case 'acosh':
      return Math.acosh;
    case 'atanh':
      return Math.atanh;
    case 'erf':
      return erf;
    case 'sigmoid':
      return (x) => 1 / (1 + Math.exp(-x));
    case 'tanh':
      return Math.tanh;
    case 'relu':
      return (x) => (Number.isNaN(x) ? x : Math.max(0, x));
    case 'leakyRelu': {
      const s = alpha ?? 0.01;
      return (x) => (x < 0 ? x * s : x);
    }
    case 'elu': {
      const s = alpha ?? 1;
      return (x) => (x < 0 ? s * (Math.exp(x) - 1) : x);
    }
    case 'selu': {
      const s = alpha ?? SELU_ALPHA;
      const g = a.gamma ?? SELU_GAMMA;
      return (x) => (x <= 0 ? g * s * (Math.exp(x) - 1) : g * x);
    }
    case 'celu': {
      const s = alpha ?? 1;
      return (x) => Math.max(0, x) + Math.min(0, s * (Math.exp(x / s) - 1));
    }
    case 'hardSigmoid': {
      const s = alpha ?? 0.2;
      const b = beta ?? 0.5;
      return (x) => Math.max(0, Math.min(1, s * x + b));
    }
    case 'hardSwish':
      return (x) => x * Math.max(0, Math.min(1, x / 6 + 0.5));
    case 'softplus':
      return (x) => (x > 30 ? x : Math.log1p(Math.exp(x)));
    case 'softsign':
      return (x) => x / (1 + Math.abs(x));
    case 'mish':
      return (x) => x * Math.tanh(x > 30 ? x : Math.log1p(Math.exp(x)));
    case 'gelu':
      return (x) => 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'geluTanh':
      return (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    case 'thresholdedRelu': {
      const s = alpha ?? 1;
      return (x) => (x > s ? x : 0);
    }
    case 'shrink': {
      const l = alpha ?? 0.5;
      const b = beta ?? 0;
      return (x) => (x < -l ? x + b : x > l ? x - b : 0);
    }
    case 'clip': {
      const lo = alpha ?? Number.NEGATIVE_INFINITY;
      const hi = beta ?? Number.POSITIVE_INFINITY;
      return (x) => (Number.isNaN(x) ? x : Math.min(hi, Math.max(lo, x)));
    }
    case 'not':
      return (x) => (x === 0 ? 1 : 0);
    case 'isNaN':
      return (x) => (Number.isNaN(x) ? 1 : 0);
    case 'isInf': {
      const pos = (alpha ?? 1) !== 0;
      const neg = (beta ?? 1) !== 0;
      return (x) => ((pos && x === Number.POSITIVE_INFINITY) || (neg && x === Number.NEGATIVE_INFINITY) ? 1 : 0);
    }
  }
}

/**
 * d fn(x) / dx of a map node from x and y = fn(x) (piecewise-constant functions: 0); undefined for
 * functions without a gradient here (isNaN, isInf, not: bool results).
 */
function mapGrad(a: MathAttrs['map']): ((x: number, y: number) => number) | undefined {
  const alpha = a.alpha;
  const beta = a.beta;
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  switch (a.fn) {
    case 'identity':
      return () => 1;
    case 'abs':
      return (x) => Math.sign(x);
    case 'neg':
      return () => -1;
    case 'sign':
    case 'floor':
    case 'ceil':
    case 'round':
      return () => 0;
    case 'exp':
      return (_x, y) => y;
    case 'log':
      return (x) => 1 / x;
    case 'sqrt':
      return (_x, y) => 0.5 / y;
    case 'reciprocal':
      return (_x, y) => -y * y;
    case 'sin':
      return Math.cos;
    case 'cos':
      return (x) => -Math.sin(x);
    case 'tan':
      return (_x, y) => 1 + y * y;
    case 'asin':
      return (x) => 1 / Math.sqrt(1 - x * x);
    case 'acos':
      return (x) => -1 / Math.sqrt(1 - x * x);
    case 'atan':
      return (x) => 1 / (1 + x * x);
    case 'sinh':
      return Math.cosh;
    case 'cosh':
      return Math.sinh;
    case 'asinh':
      return (x) => 1 / Math.sqrt(x * x + 1);
    case 'acosh':
      return (x) => 1 / Math.sqrt(x * x - 1);
    case 'atanh':
      return (x) => 1 / (1 - x * x);
    case 'erf':
      return (x) => (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x);
    case 'sigmoid':
      return (_x, y) => y * (1 - y);
    case 'tanh':
      return (_x, y) => 1 - y * y;
    case 'relu':
      return (x) => (x > 0 ? 1 : 0);
    case 'leakyRelu':
      return (x) => (x < 0 ? (alpha ?? 0.01) : 1);
    case 'elu':
      return (x, y) => (x < 0 ? y + (alpha ?? 1) : 1);
    case 'selu': {
      const s = alpha ?? SELU_ALPHA;
      const g = a.gamma ?? SELU_GAMMA;
      return (x) => (x <= 0 ? g * s * Math.exp(x) : g);
    }
    case 'celu':
      return (x) => (x < 0 ? Math.exp(x / (alpha ?? 1)) : 1);
    case 'hardSigmoid': {
      const s = alpha ?? 0.2;
      const b = beta ?? 0.5;
      return (x) => (s * x + b > 0 && s * x + b < 1 ? s : 0);
    }
    case 'hardSwish':
      return (x) => (x < -3 ? 0 : x > 3 ? 1 : x / 3 + 0.5);
    case 'softplus':
      return sig;
    case 'softsign':
      return (x) => 1 / (1 + Math.abs(x)) ** 2;
    case 'mish':
      return (x) => {
        const t = Math.tanh(x > 30 ? x : Math.log1p(Math.exp(x)));
        return t + x * (1 - t * t) * sig(x);
      };
    case 'gelu':
      return (x) => 0.5 * (1 + erf(x / Math.SQRT2)) + (x * Math.exp((-x * x) / 2)) / Math.sqrt(2 * Math.PI);
    case 'geluTanh':
      return (x) => {
        const k = Math.sqrt(2 / Math.PI);
        const t = Math.tanh(k * (x + 0.044715 * x * x * x));
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x);
      };
    case 'thresholdedRelu':
      return (x) => (x > (alpha ?? 1) ? 1 : 0);
    case 'shrink': {
      const l = alpha ?? 0.5;
      return (x) => (x < -l || x > l ? 1 : 0);
    }
    case 'clip': {
      const lo = alpha ?? Number.NEGATIVE_INFINITY;
      const hi = beta ?? Number.POSITIVE_INFINITY;
      return (x) => (x > lo && x < hi ? 1 : 0);
    }
    default:
      return undefined;
  }
}

/**
 * Partial derivatives of a binop at (a, b) with result y: [∂y/∂a, ∂y/∂b]; undefined for
 * comparisons, logic and bit ops (no gradient).
 */
function binGrad(fn: BinFn): ((a: number, b: number, y: number) => [number, number]) | undefined {
  switch (fn) {
    case 'add':
      return () => [1, 1];
    case 'sub':
      return () => [1, -1];
    case 'mul':
      return (a, b) => [b, a];
    case 'div':
      return (a, b) => [1 / b, -a / (b * b)];
    case 'pow':
      return (a, b, y) => [b * a ** (b - 1), a > 0 ? y * Math.log(a) : 0];
    case 'max':
      return (a, b) => (a > b ? [1, 0] : [0, 1]);
    case 'min':
      return (a, b) => (a < b ? [1, 0] : [0, 1]);
    case 'prelu':
      return (a, b) => (a < 0 ? [b, a] : [1, 0]);
    case 'mod':
    case 'fmod':
      return (a, b) => [1, -Math.trunc(a / b) - (fn === 'mod' && a % b !== 0 && a < 0 !== b < 0 ? 1 : 0)];
    default:
      return undefined;
  }
}

/** Python's modulo (result takes the divisor's sign). */
const pyMod = (a: number, b: number) => {
  const r = a % b;
  return r !== 0 && r < 0 !== b < 0 ? r + b : r;
};

/** The scalar function of a binop node; `int`: int32 operands (wrapping arithmetic). */
function binFn(fn: BinFn, int: boolean): (a: number, b: number) => number {
  switch (fn) {
    case 'add':
      return int ? (a, b) => (a + b) | 0 : (a, b) => a + b;
    case 'sub':
      return int ? (a, b) => (a - b) | 0 : (a, b) => a - b;
    case 'mul':
      return int ? Math.imul : (a, b) => a * b;
    case 'div':
      // integer division truncates toward zero (C, ONNX Runtime); by zero: 0, never a trap
      return int ? (a, b) => (b === 0 ? 0 : Math.trunc(a / b) | 0) : (a, b) => a / b;
    case 'pow':
      return int ? (a, b) => Math.trunc(a ** b) | 0 : (a, b) => a ** b;
    case 'mod':
      return int ? (a, b) => (b === 0 ? 0 : pyMod(a, b)) : pyMod;
    case 'fmod':
      return int ? (a, b) => (b === 0 ? 0 : a % b) : (a, b) => a % b;
    case 'max':
      return (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? Number.NaN : Math.max(a, b));
    case 'min':
      return (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? Number.NaN : Math.min(a, b));
    case 'eq':
      return (a, b) => (a === b ? 1 : 0);
    case 'lt':
      return (a, b) => (a < b ? 1 : 0);
    case 'le':
      return (a, b) => (a <= b ? 1 : 0);
    case 'gt':
      return (a, b) => (a > b ? 1 : 0);
    case 'ge':
      return (a, b) => (a >= b ? 1 : 0);
    case 'and':
      return (a, b) => (a !== 0 && b !== 0 ? 1 : 0);
    case 'or':
      return (a, b) => (a !== 0 || b !== 0 ? 1 : 0);
    case 'xor':
      return (a, b) => ((a !== 0) !== (b !== 0) ? 1 : 0);
    case 'shl':
      return (a, b) => (b >= 32 || b < 0 ? 0 : a << b);
    case 'shr':
      return (a, b) => (b >= 32 || b < 0 ? 0 : a >>> b);
    case 'bitand':
      return (a, b) => a & b;
    case 'bitor':
      return (a, b) => a | b;
    case 'bitxor':
      return (a, b) => a ^ b;
    case 'prelu':
      return (a, b) => (a < 0 ? a * b : a);
  }
}

/** Reduction: the start value, the accumulation, and the final map over (acc, count). */
function reducer(fn: ReduceFn): {
  init: number;
  add: (acc: number, x: number) => number;
  end: (acc: number, n: number) => number;
} {
  const id = (acc: number) => acc;
  switch (fn) {
    case 'sum':
      return { init: 0, add: (s, x) => s + x, end: id };
    case 'mean':
      return { init: 0, add: (s, x) => s + x, end: (s, n) => s / n };
    case 'max':
      return { init: Number.NEGATIVE_INFINITY, add: (s, x) => (x > s || Number.isNaN(x) ? x : s), end: id };
    case 'min':
      return { init: Number.POSITIVE_INFINITY, add: (s, x) => (x < s || Number.isNaN(x) ? x : s), end: id };
    case 'prod':
      return { init: 1, add: (s, x) => s * x, end: id };
    case 'l1':
      return { init: 0, add: (s, x) => s + Math.abs(x), end: id };
    case 'l2':
      return { init: 0, add: (s, x) => s + x * x, end: (s) => Math.sqrt(s) };
    case 'logsum':
      return { init: 0, add: (s, x) => s + x, end: (s) => Math.log(s) };
    case 'logsumexp':
      return { init: 0, add: (s, x) => s + Math.exp(x), end: (s) => Math.log(s) };
    case 'sumsquare':
      return { init: 0, add: (s, x) => s + x * x, end: id };
  }
}

/** An integer result wrapped to int32 as integer arithmetic would (non-finite: 0). */
const wrap32 = (v: number) => (Number.isFinite(v) ? Number(BigInt.asIntN(32, BigInt(Math.trunc(v)))) : 0);

function reducedShape(shape: readonly number[], axes: readonly number[], keepDims: boolean): number[] {
  return keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

/** Output offset of every input element of a reduction over `axes` (kept axes in order). */
function reduceOffsets(shape: readonly number[], axes: readonly number[]): Int32Array {
  const kept = reducedShape(shape, axes, true);
  const ks = stridesOf(kept).map((s, i) => (axes.includes(i) ? 0 : s));
  return offsetsOf(shape, ks);
}

/** Position along a lane of the element `better` keeps (the first, unless better takes ties). */
function bestIn(
  src: HostArray,
  base: number,
  n: number,
  inner: number,
  better: (v: number, b: number) => boolean,
): number {
  let best = 0;
  for (let k = 1; k < n; k++) if (better(src[base + k * inner], src[base + best * inner])) best = k;
  return best;
}

function axisOf(op: string, x: Info, axis: number): number {
  const [a] = normAxes(op, [axis], x.shape.length);
  noBatchAxis(op, x, [a]);
  return a;
}

const CAST_TO: readonly string[] = [
  'float32',
  'float16',
  'bfloat16',
  'int32',
  'int16',
  'uint16',
  'int8',
  'uint8',
  'bool',
];
/** Narrow integer casts: bits and signedness (the value wraps, as C casts do). */
const NARROW: Record<string, [number, boolean]> = {
  int16: [16, true],
  uint16: [16, false],
  int8: [8, true],
  uint8: [8, false],
};

export const MATH = {
  map: {
    arity: [1, 1],
    infer: ([x], a) => {
      if (x.dtype === 'int32' && !INT_MAP.has(a.fn) && !BOOL_MAP.has(a.fn))
        throw new ShapeError(`map: ${a.fn} takes float32, got int32`);
      return { shape: x.shape, dtype: BOOL_MAP.has(a.fn) ? 'int32' : x.dtype };
    },
    check: (c) => {
      if (!(MAP_FNS as readonly string[]).includes(c.n.attrs.fn))
        c.bad(`attrs.fn ${JSON.stringify(c.n.attrs.fn)} is not one of ${MAP_FNS.join(', ')}`);
      for (const f of ['alpha', 'beta', 'gamma']) finiteAttr(c, f);
      expectHost(c, 0, ...FLOAT_OR_INT);
    },
    forward(x, [i], out, a) {
      const f = mapFn(a);
      const src = view(x, i);
      const dst = view(x, out);
      for (let k = 0; k < dst.length; k++) dst[k] = f(src[k]);
      return undefined;
    },
    vjp: (g, [x], y, _s, d, a) => {
      const df = mapGrad(a);
      if (!df || x.dtype !== 'float32') return [null];
      const dx = g.alloc(x.shape);
      const [xv, yv, dv, gv] = [x, y, d, dx].map((t) => g.backend.f32(t.buf, t.size));
      for (let k = 0; k < gv.length; k++) gv[k] = dv[k] * df(xv[k], yv[k]);
      return [dx];
    },
    traits: { perChannel: true, elementwise: true },
    onnx: mapExport,
  } satisfies OpDef<MathAttrs['map']>,
  binop: {
    arity: [2, 2],
    infer: ([a, b], at) => {
      const shape = broadcastShape(a.shape, b.shape, at.fn);
      if (at.fn !== 'pow' && a.dtype !== b.dtype)
        throw new ShapeError(`${at.fn}: operands are ${a.dtype} and ${b.dtype}; they must have one dtype`);
      if (INT_ONLY.has(at.fn) && a.dtype !== 'int32') throw new ShapeError(`${at.fn}: takes int32 (or bool) operands`);
      return { shape, dtype: COMPARE.has(at.fn) ? 'int32' : a.dtype };
    },
    check: (c) => {
      if (!(BIN_FNS as readonly string[]).includes(c.n.attrs.fn))
        c.bad(`attrs.fn ${JSON.stringify(c.n.attrs.fn)} is not one of ${BIN_FNS.join(', ')}`);
      expectHost(c, 0, ...FLOAT_OR_INT);
      expectHost(c, 1, ...FLOAT_OR_INT);
    },
    forward(x, [a, b], out, at) {
      const f = binFn(at.fn, a.dtype === 'int32');
      const oa = broadcastOffsets(a.shape, out.shape);
      const ob = broadcastOffsets(b.shape, out.shape);
      const va = view(x, a);
      const vb = view(x, b);
      const dst = view(x, out);
      for (let k = 0; k < dst.length; k++) dst[k] = f(va[oa[k]], vb[ob[k]]);
      return undefined;
    },
    vjp: (g, [a, b], y, _s, d, at, needs) => {
      const df = binGrad(at.fn);
      if (!df || a.dtype !== 'float32' || b.dtype !== 'float32') return [null, null];
      // gradients at the output's shape, then summed back over each operand's broadcast axes
      const ga = g.alloc(y.shape);
      const gb = g.alloc(y.shape);
      const oa = broadcastOffsets(a.shape, y.shape);
      const ob = broadcastOffsets(b.shape, y.shape);
      const [av, bv, yv, dv, gav, gbv] = [a, b, y, d, ga, gb].map((t) => g.backend.f32(t.buf, t.size));
      for (let k = 0; k < yv.length; k++) {
        const [pa, pb] = df(av[oa[k]], bv[ob[k]], yv[k]);
        gav[k] = dv[k] * pa;
        gbv[k] = dv[k] * pb;
      }
      const alloc = (sh: readonly number[]) => g.alloc(sh);
      const back = (t: Ref, shape: readonly number[], need: boolean) => {
        if (!need) {
          t.dispose();
          return null;
        }
        return sumTo(g.backend, alloc, t, shape);
      };
      return [back(ga, a.shape, needs[0]), back(gb, b.shape, needs[1])];
    },
    traits: { elementwise: true },
    onnx: binopExport,
  } satisfies OpDef<MathAttrs['binop']>,
  cast: {
    arity: [1, 1],
    infer: ([x], a) => ({
      shape: x.shape,
      dtype: a.to === 'float32' || a.to === 'float16' || a.to === 'bfloat16' ? 'float32' : 'int32',
    }),
    check: (c) => {
      if (!CAST_TO.includes(c.n.attrs.to))
        c.bad(`attrs.to must be one of ${CAST_TO.join(', ')}, got ${JSON.stringify(c.n.attrs.to)}`);
      expectHost(c, 0, ...FLOAT_OR_INT);
    },
    forward(x, [i], out, a) {
      const src = view(x, i);
      const dst = view(x, out);
      if (a.to === 'bool') for (let k = 0; k < dst.length; k++) dst[k] = src[k] !== 0 ? 1 : 0;
      // NaN and out-of-range floats are undefined in ONNX; here NaN → 0 and ±∞ saturate
      else if (a.to === 'int32' && i.dtype === 'float32')
        for (let k = 0; k < dst.length; k++) {
          const v = Math.trunc(src[k]);
          dst[k] = Number.isNaN(v) ? 0 : Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, v));
        }
      else if (NARROW[a.to]) {
        const [bits, signed] = NARROW[a.to];
        const m = 2 ** bits;
        for (let k = 0; k < dst.length; k++) {
          const t = Math.trunc(src[k]);
          const w = Number.isFinite(t) ? ((t % m) + m) % m : 0;
          dst[k] = signed && w >= m / 2 ? w - m : w;
        }
      } else if (a.to === 'float16') for (let k = 0; k < dst.length; k++) dst[k] = roundHalf(src[k]);
      else if (a.to === 'bfloat16') for (let k = 0; k < dst.length; k++) dst[k] = roundBfloat16(src[k]);
      else dst.set(src);
      return undefined;
    },
    // float → float (float16/bfloat16 rounding: straight through); to integers: no gradient
    vjp: (g, [x], y, _s, d) => {
      if (x.dtype !== 'float32' || y.dtype !== 'float32') return [null];
      const dx = g.alloc(x.shape);
      g.backend.scale(d.buf, dx.buf, d.size, 1, 0);
      return [dx];
    },
    traits: { elementwise: true },
    onnx: castExport,
  } satisfies OpDef<MathAttrs['cast']>,
  reduce: {
    arity: [1, 1],
    infer: ([x], a) => {
      const axes = normAxes('reduce', a.axes, x.shape.length);
      noBatchAxis(`reduce ${a.fn}`, x, axes);
      if (x.dtype === 'int32' && !INT_REDUCE.has(a.fn))
        throw new ShapeError(`reduce ${a.fn}: takes float32, got int32`);
      return { shape: reducedShape(x.shape, axes, a.keepDims), dtype: x.dtype };
    },
    check: (c) => {
      if (!(REDUCE_FNS as readonly string[]).includes(c.n.attrs.fn))
        c.bad(`attrs.fn ${JSON.stringify(c.n.attrs.fn)} is not one of ${REDUCE_FNS.join(', ')}`);
      if (!Array.isArray(c.n.attrs.axes) || !c.n.attrs.axes.every(Number.isInteger))
        c.bad(`attrs.axes must be integers, got ${JSON.stringify(c.n.attrs.axes)}`);
      boolAttr(c, 'keepDims');
      expectHost(c, 0, ...FLOAT_OR_INT);
    },
    forward(x, [i], out, a) {
      const axes = normAxes('reduce', a.axes, i.shape.length);
      const r = reducer(a.fn);
      const offs = reduceOffsets(i.shape, axes);
      const n = numel(i.shape) / Math.max(1, numel(out.shape));
      const acc = new Float64Array(numel(out.shape)).fill(r.init);
      const src = view(x, i);
      for (let k = 0; k < src.length; k++) acc[offs[k]] = r.add(acc[offs[k]], src[k]);
      const dst = view(x, out);
      const int = out.dtype === 'int32';
      for (let k = 0; k < dst.length; k++) {
        const v = r.end(acc[k], n);
        dst[k] = int ? wrap32(v) : v;
      }
      return undefined;
    },
    vjp: (g, [x], y, _s, d, a) => {
      if (x.dtype !== 'float32') return [null];
      const offs = reduceOffsets(x.shape, normAxes('reduce', a.axes, x.shape.length));
      const n = x.size / Math.max(1, y.size);
      const dx = g.alloc(x.shape);
      const [xv, yv, dv, gv] = [x, y, d, dx].map((t) => g.backend.f32(t.buf, t.size));
      // prod: the product of the others, exact where x holds zeros (counted per group)
      const zeros = new Int32Array(yv.length);
      const nonzero = new Float64Array(yv.length).fill(1);
      if (a.fn === 'prod')
        for (let k = 0; k < xv.length; k++) {
          if (xv[k] === 0) zeros[offs[k]]++;
          else nonzero[offs[k]] *= xv[k];
        }
      const part = (v: number, o: number): number => {
        switch (a.fn) {
          case 'sum':
            return 1;
          case 'mean':
            return 1 / n;
          case 'max':
          case 'min':
            return v === yv[o] ? 1 : 0;
          case 'prod':
            return zeros[o] === 0 ? nonzero[o] / v : zeros[o] === 1 && v === 0 ? nonzero[o] : 0;
          case 'l1':
            return Math.sign(v);
          case 'l2':
            return yv[o] === 0 ? 0 : v / yv[o];
          case 'logsum':
            return Math.exp(-yv[o]);
          case 'logsumexp':
            return Math.exp(v - yv[o]);
          case 'sumsquare':
            return 2 * v;
        }
      };
      for (let k = 0; k < xv.length; k++) gv[k] = dv[offs[k]] * part(xv[k], offs[k]);
      return [dx];
    },
    traits: {},
    onnx: null,
  } satisfies OpDef<MathAttrs['reduce']>,
  argmax: {
    arity: [1, 1],
    infer: ([x], a) => {
      const axis = axisOf('argmax', x, a.axis);
      return { shape: reducedShape(x.shape, [axis], a.keepDims), dtype: 'int32' };
    },
    check: (c) => {
      intAttr(c, 'axis');
      for (const f of ['keepDims', 'last', 'min']) boolAttr(c, f);
      expectHost(c, 0, ...FLOAT_OR_INT);
      expectOut(c, 'int32');
    },
    forward(x, [i], out, a) {
      const axis = normAxes('argmax', [a.axis], i.shape.length)[0];
      const src = view(x, i);
      const dst = view(x, out);
      const better = a.min
        ? (v: number, b: number) => (a.last ? v <= b : v < b)
        : (v: number, b: number) => (a.last ? v >= b : v > b);
      // lanes come in output order
      let lane = 0;
      forEachLane(i.shape, axis, (base, n, inner) => {
        dst[lane++] = bestIn(src, base, n, inner, better);
      });
      return undefined;
    },
    vjp: null,
    traits: {},
    onnx: null,
  } satisfies OpDef<MathAttrs['argmax']>,
  cumsum: {
    arity: [1, 1],
    infer: ([x], a) => {
      axisOf('cumsum', x, a.axis);
      return { shape: x.shape, dtype: x.dtype };
    },
    check: (c) => {
      intAttr(c, 'axis');
      boolAttr(c, 'exclusive');
      boolAttr(c, 'reverse');
      expectHost(c, 0, ...FLOAT_OR_INT);
    },
    forward(x, [i], out, a) {
      const axis = normAxes('cumsum', [a.axis], i.shape.length)[0];
      const src = view(x, i);
      const dst = view(x, out);
      const int = i.dtype === 'int32';
      forEachLane(i.shape, axis, (base, n, inner) => {
        let s = 0;
        for (let t = 0; t < n; t++) {
          const k = a.reverse ? n - 1 - t : t;
          const v = src[base + k * inner];
          if (!a.exclusive) s = int ? (s + v) | 0 : s + v;
          dst[base + k * inner] = s;
          if (a.exclusive) s = int ? (s + v) | 0 : s + v;
        }
      });
      return undefined;
    },
    // each input reaches the outputs after (before, reversed) it: the running sum of d the other way
    vjp: (g, [x], _y, _s, d, a) => {
      if (x.dtype !== 'float32') return [null];
      const dx = g.alloc(x.shape);
      const axis = normAxes('cumsum', [a.axis], x.shape.length)[0];
      const [dv, gv] = [d, dx].map((t) => g.backend.f32(t.buf, t.size));
      forEachLane(x.shape, axis, (base, n, inner) => {
        let s = 0;
        for (let t = 0; t < n; t++) {
          const k = a.reverse ? t : n - 1 - t;
          if (!a.exclusive) s += dv[base + k * inner];
          gv[base + k * inner] = s;
          if (a.exclusive) s += dv[base + k * inner];
        }
      });
      return [dx];
    },
    traits: {},
    onnx: null,
  } satisfies OpDef<MathAttrs['cumsum']>,
  hardmax: {
    arity: [1, 1],
    infer: ([x], a) => {
      axisOf('hardmax', x, a.axis);
      return { shape: x.shape, dtype: x.dtype };
    },
    check: (c) => {
      intAttr(c, 'axis');
      expectHost(c, 0, 'float32');
    },
    forward(x, [i], out, a) {
      const axis = normAxes('hardmax', [a.axis], i.shape.length)[0];
      const src = view(x, i);
      const dst = view(x, out) as HostArray;
      dst.fill(0);
      forEachLane(i.shape, axis, (base, n, inner) => {
        if (n > 0) dst[base + bestIn(src, base, n, inner, (v, b) => v > b) * inner] = 1;
      });
      return undefined;
    },
    vjp: null,
    traits: {},
    onnx: null,
  } satisfies OpDef<MathAttrs['hardmax']>,
  einsum: {
    arity: [1, 8],
    infer: (ins, a) => {
      if (ins.some(isBatched)) throw new ShapeError('einsum: takes fixed shapes');
      const { ins: labels, out } = parseEinsum(
        a.equation,
        ins.map((t) => t.shape.length),
      );
      const size = einsumSizes(
        a.equation,
        labels,
        ins.map((t) => t.shape),
      );
      const dtype = ins[0].dtype;
      if (ins.some((t) => t.dtype !== dtype)) throw new ShapeError('einsum: operands of one dtype');
      // the forward visits every combination of labels: bounded, so no equation runs for hours
      const work = [...size.values()].reduce((p, d) => p * d, 1);
      if (work > 2 ** 31) throw new ShapeError(`einsum '${a.equation}': ${work} products is too many`);
      return { shape: out.map((c) => size.get(c) ?? 1), dtype };
    },
    check: (c) => {
      if (typeof c.n.attrs.equation !== 'string') c.bad('attrs.equation must be a string');
      for (let i = 0; i < c.n.inputs.length; i++) expectHost(c, i, ...FLOAT_OR_INT);
    },
    forward(x, ins, out, a) {
      const { ins: labels, out: outL } = parseEinsum(
        a.equation,
        ins.map((t) => t.shape.length),
      );
      const size = einsumSizes(
        a.equation,
        labels,
        ins.map((t) => t.shape),
      );
      const all = [...new Set([...outL, ...labels.flat()])];
      const dims = all.map((c) => size.get(c) ?? 1);
      const pos = new Map(all.map((c, i) => [c, i]));
      // each operand's element stride per label (0 where it broadcasts)
      const strides = ins.map((t, i) => {
        const st = stridesOf(t.shape);
        const per = new Array<number>(all.length).fill(0);
        labels[i].forEach((c, k) => {
          if (t.shape[k] !== 1) per[pos.get(c) as number] += st[k];
        });
        return per;
      });
      const os = stridesOf(outL.map((c) => size.get(c) ?? 1));
      const outStride = new Array<number>(all.length).fill(0);
      outL.forEach((c, k) => {
        outStride[pos.get(c) as number] = os[k];
      });
      const srcs = ins.map((t) => view(x, t));
      const dst = view(x, out);
      dst.fill(0);
      const at = new Array<number>(all.length).fill(0);
      const total = numel(dims);
      const offs = new Array<number>(ins.length).fill(0);
      let o = 0;
      for (let k = 0; k < total; k++) {
        let p = 1;
        for (let i = 0; i < srcs.length; i++) p *= srcs[i][offs[i]];
        dst[o] += p;
        for (let q = all.length - 1; q >= 0; q--) {
          at[q]++;
          o += outStride[q];
          for (let i = 0; i < offs.length; i++) offs[i] += strides[i][q];
          if (at[q] < dims[q]) break;
          o -= outStride[q] * at[q];
          for (let i = 0; i < offs.length; i++) offs[i] -= strides[i][q] * at[q];
          at[q] = 0;
        }
      }
      return undefined;
    },
    vjp: null,
    traits: {},
    onnx: null,
  } satisfies OpDef<MathAttrs['einsum']>,
} satisfies { [K in keyof MathAttrs]: OpDef<MathAttrs[K]> };
