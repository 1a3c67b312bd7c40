// WebGPU kernels: elementwise unary functions and their backward, binary functions and `where`
// with numpy broadcasting, scale, fill, copy, axpy. Broadcast operands are read through strides
// (0 on broadcast axes) after merging adjacent axes that broadcast alike, up to rank 6.
// Semantics: src/backend/backend.ts and the reference backend (reference.ts).
import { broadcastShape } from '../../shape/window.js';
import type { BinaryFn, UnaryFn } from '../backend.js';
import { WebGpuError } from './device.js';
import { bind, fw, type KernelSpec, type Kernels, main1, specFor } from './wgsl.js';

/** Default negative slope of leakyRelu (the kernels' and the reference's). */
export const LEAKY_ALPHA = 0.01;

/** WGSL of fn(x) (alpha: leakyRelu's slope). */
export function unaryExpr(fn: UnaryFn, x: string): string {
  switch (fn) {
    case 'neg':
      return `-${x}`;
    case 'exp':
      return `exp(${x})`;
    case 'log':
      return `log(${x})`;
    case 'sqrt':
      return `sqrt(${x})`;
    case 'abs':
      return `abs(${x})`;
    case 'square':
      return `(${x} * ${x})`;
    case 'reciprocal':
      return `(1.0 / ${x})`;
    case 'relu':
      return `select(0.0, ${x}, ${x} > 0.0)`;
    case 'leakyRelu':
      return `select(${x} * alpha, ${x}, ${x} > 0.0)`;
    case 'sigmoid':
      return `sigmoid_(${x})`;
    case 'tanh':
      return `tanh_(${x})`;
    case 'gelu':
      return `gelu_(${x})`;
  }
}

function gradExpr(fn: UnaryFn): string {
  switch (fn) {
    case 'neg':
      return '-d';
    case 'exp':
      return 'd * yv';
    case 'log':
      return 'd / xv';
    case 'sqrt':
      return '(d * 0.5) / yv';
    case 'abs':
      return 'select(select(0.0, -d, xv < 0.0), d, xv > 0.0)';
    case 'square':
      return 'd * 2.0 * xv';
    case 'reciprocal':
      return '-d * yv * yv';
    case 'relu':
      return 'select(0.0, d, xv > 0.0)';
    case 'leakyRelu':
      return 'select(d * alpha, d, xv > 0.0)';
    case 'sigmoid':
      return 'd * yv * (1.0 - yv)';
    case 'tanh':
      return 'd * (1.0 - yv * yv)';
    case 'gelu':
      return `d * (0.5 * (1.0 + t) + 0.5 * xc * (1.0 - t * t) * du)`;
  }
}

const unarySpecs = new Map<UnaryFn, KernelSpec>();
function unarySpec(fn: UnaryFn): KernelSpec {
  return specFor(unarySpecs, fn, () => ({
    name: `unary_${fn}`,
    bindings: ['x:f32', 'y:f32!'],
    params: ['n:u32', 'alpha:f32'],
    body: main1(`let xv = x[o_x + i]; y[o_y + i] = ${unaryExpr(fn, 'xv')};`),
  }));
}

const gradSpecs = new Map<UnaryFn, KernelSpec>();
function gradSpec(fn: UnaryFn): KernelSpec {
  return specFor(gradSpecs, fn, () => {
    const gelu =
      fn === 'gelu'
        ? // past |x| = 10 the f64 reference gives exactly dy or 0; x³ would overflow f32 there
          'let xc = select(clamp(xv, -10.0, 10.0), xv, isnan_(xv) || abs(xv) > 3.4e38); let t = tanh_(0.7978845608028654 * (xc + 0.044715 * xc * xc * xc)); let du = 0.7978845608028654 * (1.0 + 3.0 * 0.044715 * xc * xc);'
        : '';
    return {
      name: `unary_grad_${fn}`,
      bindings: ['x:f32', 'y:f32', 'dy:f32', 'dx:f32!'],
      params: ['n:u32', 'alpha:f32'],
      body: main1(
        `let xv = x[o_x + i]; let yv = y[o_y + i]; let d = dy[o_dy + i]; ${gelu} dx[o_dx + i] = ${gradExpr(fn)};`,
      ),
    };
  });
}

export function unary(k: Kernels, fn: UnaryFn, x: number, out: number, n: number, alpha = LEAKY_ALPHA): void {
  k.run1(unarySpec(fn), [bind(x, n), bind(out, n)], [n, fw(alpha)], n);
}

export function unaryBackward(
  k: Kernels,
  fn: UnaryFn,
  x: number,
  y: number,
  dy: number,
  dx: number,
  n: number,
  alpha = LEAKY_ALPHA,
): void {
  k.run1(gradSpec(fn), [bind(x, n), bind(y, n), bind(dy, n), bind(dx, n)], [n, fw(alpha)], n);
}

const BINARY_EXPR: Record<BinaryFn, string> = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  // NaN propagates (numpy.maximum), which WGSL's max does not promise (and `a != a` may be folded away).
  max: 'select(max(a, b), a + b, isnan_(a) || isnan_(b))',
  min: 'select(min(a, b), a + b, isnan_(a) || isnan_(b))',
  eq: 'select(0.0, 1.0, a == b)',
  gt: 'select(0.0, 1.0, a > b)',
};

const MAX_RANK = 6;

/** Index arithmetic of a broadcast: the flat output index i → each operand's element offset. */
const BROADCAST_FN = `
fn bidx(i: u32, r: u32, base: u32, nops: u32, op: u32) -> u32 {
  // Words base…base+r−1: output dims; then per operand r strides.
  var rem = i;
  var off = 0u;
  for (var d = i32(r) - 1; d >= 0; d--) {
    let dim = pu_(base + u32(d));
    let c = rem % dim;
    rem = rem / dim;
    off += c * pu_(base + r + op * r + u32(d));
  }
  return off;
}`;

function binarySpec(fn: BinaryFn): KernelSpec {
  return {
    name: `binary_${fn}`,
    bindings: ['A:f32', 'B:f32', 'Y:f32!'],
    params: ['n:u32', 'r:u32'],
    body: `${BROADCAST_FN}
${main1(`let a = A[o_A + bidx(i, r, 5u, 2u, 0u)]; let b = B[o_B + bidx(i, r, 5u, 2u, 1u)]; Y[o_Y + i] = ${BINARY_EXPR[fn]};`)}`,
  };
}
const binarySpecs = new Map<BinaryFn, KernelSpec>();

const binarySameSpecs = new Map<BinaryFn, KernelSpec>();
function binarySameSpec(fn: BinaryFn): KernelSpec {
  return specFor(binarySameSpecs, fn, () => ({
    name: `binary_same_${fn}`,
    bindings: ['A:f32', 'B:f32', 'Y:f32!'],
    params: ['n:u32'],
    body: main1(`let a = A[o_A + i]; let b = B[o_B + i]; Y[o_Y + i] = ${BINARY_EXPR[fn]};`),
  }));
}

/**
 * The output dims and each operand's strides (0 where broadcast), with adjacent axes merged where
 * every operand either spans both fully or broadcasts both.
 */
export function broadcastPlan(
  shapes: readonly (readonly number[])[],
  out: readonly number[],
): { dims: number[]; strides: number[][] } {
  const r = out.length;
  const strides = shapes.map((s) => {
    const padded = [...new Array<number>(r - s.length).fill(1), ...s];
    const st = new Array<number>(r);
    let k = 1;
    for (let d = r - 1; d >= 0; d--) {
      st[d] = padded[d] === 1 && out[d] !== 1 ? 0 : k;
      k *= padded[d];
    }
    return st;
  });
  const dims: number[] = [];
  const merged: number[][] = shapes.map(() => []);
  for (let d = 0; d < r; d++) {
    if (out[d] === 1) continue;
    const last = dims.length - 1;
    const canMerge =
      last >= 0 &&
      strides.every((st, j) => {
        const prev = merged[j][last];
        return (prev === 0 && st[d] === 0) || (prev !== 0 && st[d] !== 0 && prev === st[d] * out[d]);
      });
    if (canMerge) {
      dims[last] *= out[d];
      for (let j = 0; j < strides.length; j++) merged[j][last] = strides[j][d];
    } else {
      dims.push(out[d]);
      for (let j = 0; j < strides.length; j++) merged[j].push(strides[j][d]);
    }
  }
  if (dims.length === 0) {
    dims.push(1);
    for (const m of merged) m.push(1);
  }
  return { dims, strides: merged };
}

function numel(s: readonly number[]): number {
  return s.reduce((p, d) => p * d, 1);
}

export function binary(
  k: Kernels,
  fn: BinaryFn,
  a: number,
  aShape: readonly number[],
  b: number,
  bShape: readonly number[],
  out: number,
): void {
  const shape = broadcastShape(aShape, bShape, fn);
  const n = numel(shape);
  if (n === 0) return;
  const [na, nb] = [numel(aShape), numel(bShape)];
  const binds = [bind(a, na), bind(b, nb), bind(out, n)];
  if (na === n && nb === n) {
    k.run1(binarySameSpec(fn), binds, [n], n);
    return;
  }
  const { dims, strides } = broadcastPlan([aShape, bShape], shape);
  if (dims.length > MAX_RANK)
    throw new WebGpuError(
      `webgpu binary ${fn}: broadcast of rank ${dims.length} after merging axes (at most ${MAX_RANK})`,
    );
  const s = specFor(binarySpecs, fn, binarySpec);
  // words: 3 offsets, n, r, then dims at 5…, strides after.
  k.run1(s, binds, [n, dims.length, ...dims, ...strides[0], ...strides[1]], n);
}

const WHERE: KernelSpec = {
  name: 'where',
  bindings: ['C:f32', 'A:f32', 'B:f32', 'Y:f32!'],
  params: ['n:u32', 'r:u32'],
  body: `${BROADCAST_FN}
${main1('let c = C[o_C + bidx(i, r, 6u, 3u, 0u)]; Y[o_Y + i] = select(B[o_B + bidx(i, r, 6u, 3u, 2u)], A[o_A + bidx(i, r, 6u, 3u, 1u)], c != 0.0 || isnan_(c));')}`,
};

export function where(
  k: Kernels,
  cond: number,
  condShape: readonly number[],
  a: number,
  aShape: readonly number[],
  b: number,
  bShape: readonly number[],
  out: number,
): void {
  const shape = broadcastShape(broadcastShape(condShape, aShape, 'where'), bShape, 'where');
  const n = numel(shape);
  if (n === 0) return;
  const { dims, strides } = broadcastPlan([condShape, aShape, bShape], shape);
  if (dims.length > MAX_RANK)
    throw new WebGpuError(`webgpu where: broadcast of rank ${dims.length} after merging axes (at most ${MAX_RANK})`);
  k.run1(
    WHERE,
    [bind(cond, numel(condShape)), bind(a, numel(aShape)), bind(b, numel(bShape)), bind(out, n)],
    [n, dims.length, ...dims, ...strides[0], ...strides[1], ...strides[2]],
    n,
  );
}

const SCALE: KernelSpec = {
  name: 'scale',
  bindings: ['x:f32', 'y:f32!'],
  params: ['n:u32', 'mul:f32', 'add:f32'],
  body: main1('y[o_y + i] = x[o_x + i] * mul + add;'),
};
export function scale(k: Kernels, x: number, out: number, n: number, mul: number, add: number): void {
  k.run1(SCALE, [bind(x, n), bind(out, n)], [n, fw(mul), fw(add)], n);
}

const FILL: KernelSpec = {
  name: 'fill',
  bindings: ['y:f32!'],
  params: ['n:u32', 'v:f32'],
  body: main1('y[o_y + i] = v;'),
};
export function fill(k: Kernels, out: number, n: number, value: number): void {
  k.run1(FILL, [bind(out, n)], [n, fw(value)], n);
}

const COPY: KernelSpec = {
  name: 'copy',
  bindings: ['x:f32', 'y:f32!'],
  params: ['n:u32'],
  body: main1('y[o_y + i] = x[o_x + i];'),
};
/** Overlapping ranges move as memmove: the executor gives the kernel a copy of the source. */
export function copy(k: Kernels, src: number, dst: number, n: number): void {
  k.run1(COPY, [bind(src, n), bind(dst, n)], [n], n);
}

const AXPY: KernelSpec = {
  name: 'axpy',
  bindings: ['x:f32', 'y:f32!'],
  params: ['n:u32', 'alpha:f32'],
  body: main1('y[o_y + i] = y[o_y + i] + alpha * x[o_x + i];'),
};
export function axpy(k: Kernels, alpha: number, x: number, y: number, n: number): void {
  k.run1(AXPY, [bind(x, n), bind(y, n)], [n, fw(alpha)], n);
}
