// Elementwise kernels vs naive references: every unary op and its derivative (vs central finite
// differences), broadcasting binary ops on ranks 1-4, scale/fill/axpy/copy; odd sizes, both
// builds, one and two threads, a split-sized case, memory left flat.
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../src/errors.js';
import {
  axpy,
  BINARY_OPS,
  type BinaryOp,
  binary,
  copy,
  fill,
  scale,
  UNARY_OPS,
  type UnaryOp,
  unary,
  unaryBackward,
} from '../../src/kernels/elementwise.js';
import { broadcastShape } from '../../src/shape/window.js';
import { download, engineConfigs, engineFor, expectClose, ODD, rand, upload } from '../helpers.js';

const ALPHA = 0.1;
const tanhRef = (x: number) => Math.tanh(x);
const UNARY_REF: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  abs: Math.abs,
  square: (x) => x * x,
  reciprocal: (x) => 1 / x,
  relu: (x) => Math.max(x, 0),
  leakyRelu: (x) => (x > 0 ? x : ALPHA * x),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: tanhRef,
  gelu: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
};
/** Ops defined only for positive inputs, or singular at 0. */
const POSITIVE = new Set<UnaryOp>(['log', 'sqrt', 'reciprocal']);
/** Ops whose result is exact in f32 (bit-equal to the reference rounded to f32). */
const EXACT = new Set<UnaryOp>(['neg', 'abs', 'square', 'relu', 'sqrt', 'reciprocal']);

/** Inputs in [-3, 3), or (0.1, 3.1) for POSITIVE ops. */
function inputs(op: UnaryOp, n: number, seed: number): Float32Array {
  return rand(n, seed).map((v) => (POSITIVE.has(op) ? 1.6 + 1.5 * v : 3 * v));
}

const BINARY_REF: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  max: Math.max,
  min: Math.min,
  eq: (a, b) => (a === b ? 1 : 0),
  gt: (a, b) => (a > b ? 1 : 0),
};

/** Naive numpy broadcasting: index each operand through its own shape. */
function refBinary(
  f: (a: number, b: number) => number,
  a: Float32Array,
  as: number[],
  b: Float32Array,
  bs: number[],
): Float32Array {
  const shape = broadcastShape(as, bs);
  const n = shape.reduce((p, d) => p * d, 1);
  const out = new Float32Array(n);
  const at = (data: Float32Array, s: number[], idx: number[]) => {
    let off = 0;
    const lead = idx.length - s.length;
    for (let k = 0; k < s.length; k++) off = off * s[k] + (s[k] === 1 ? 0 : idx[lead + k]);
    return data[off];
  };
  for (let i = 0; i < n; i++) {
    const idx: number[] = [];
    let r = i;
    for (let k = shape.length - 1; k >= 0; k--) {
      idx.unshift(r % shape[k]);
      r = Math.floor(r / shape[k]);
    }
    out[i] = f(at(a, as, idx), at(b, bs, idx));
  }
  return out;
}

/** Operand shape pairs: same shape, scalar either side, bias rows, and general broadcasts. */
const BROADCASTS: [number[], number[]][] = [
  [[1], [1]],
  [[129], [129]],
  [
    [7, 17],
    [7, 17],
  ],
  [[33, 65], [1]],
  [[1], [3, 7]],
  [[65, 33], [33]],
  [[17], [65, 17]],
  [
    [7, 1],
    [1, 17],
  ],
  [
    [3, 7, 1],
    [7, 17],
  ],
  [
    [3, 1, 5, 7],
    [1, 4, 1, 7],
  ],
  [
    [2, 3, 1, 7],
    [3, 5, 1],
  ],
  [[300, 257], [257]],
  [
    [1, 65537],
    [2, 1],
  ],
];

describe('broadcastShape', () => {
  it('aligns trailing dims and stretches 1s', () => {
    expect(broadcastShape([3, 1, 5], [4, 1])).toEqual([3, 4, 5]);
    expect(broadcastShape([], [2, 3])).toEqual([2, 3]);
  });
  it('throws ShapeError naming the op and both shapes', () => {
    expect(() => broadcastShape([2, 3], [4], 'add')).toThrow(ShapeError);
    expect(() => broadcastShape([2, 3], [4], 'add')).toThrow(/add.*\[2, 3\].*\[4\]/);
  });
});

describe.each(engineConfigs())('elementwise isa=$isa threads=$threads', (cfg) => {
  const e = engineFor(cfg);
  const SIZES = [...ODD, 70001];

  describe.each(UNARY_OPS)('%s', (op) => {
    it.each(SIZES)('forward matches the reference, n=%i', (n) => {
      const x = inputs(op, n, n);
      const px = upload(e, x);
      const po = e.alloc(n * 4);
      unary(e, op, px, po, n, ALPHA);
      const ref = x.map(UNARY_REF[op]);
      if (EXACT.has(op)) expectClose(download(e, po, n), ref, 0, 0);
      else expectClose(download(e, po, n), ref, 2e-6, 2e-6);
      e.free(px);
      e.free(po);
    });

    it('backward matches central differences of forward', () => {
      const n = 129;
      const x = inputs(op, n, 11).map((v) => (Math.abs(v) < 0.05 ? v + 0.1 : v)); // keep off kinks
      const dy = rand(n, 12);
      const px = upload(e, x);
      const py = e.alloc(n * 4);
      const pdy = upload(e, dy);
      const pdx = e.alloc(n * 4);
      unary(e, op, px, py, n, ALPHA);
      unaryBackward(e, op, px, py, pdy, pdx, n, ALPHA);
      const h = 1e-3;
      const f = UNARY_REF[op];
      const fd = Array.from(x, (v, i) => (dy[i] * (f(v + h) - f(v - h))) / (2 * h));
      expectClose(download(e, pdx, n), fd, 1e-3, 1e-3);
      // and the f32 kernel's own forward agrees with the derivative (f32 differences are coarse)
      const H = 1e-2;
      const xp = upload(
        e,
        x.map((v) => v + H),
      );
      const xm = upload(
        e,
        x.map((v) => v - H),
      );
      unary(e, op, xp, xp, n, ALPHA);
      unary(e, op, xm, xm, n, ALPHA);
      const yp = download(e, xp, n);
      const ym = download(e, xm, n);
      const fdk = Array.from(x, (_, i) => (dy[i] * (yp[i] - ym[i])) / (2 * H));
      expectClose(download(e, pdx, n), fdk, 5e-3, 2e-2);
      for (const p of [px, py, pdy, pdx, xp, xm]) e.free(p);
    });

    it('backward over a split-sized input equals the elementwise formula', () => {
      const n = 70001;
      const x = inputs(op, n, 21);
      const dy = rand(n, 22);
      const [px, pdy] = [upload(e, x), upload(e, dy)];
      const py = e.alloc(n * 4);
      const pdx = e.alloc(n * 4);
      unary(e, op, px, py, n, ALPHA);
      unaryBackward(e, op, px, py, pdy, pdx, n, ALPHA);
      const single = e.alloc(n * 4);
      for (const i of [0, 1, 2, 3, 35000, 35001, 69999, 70000]) {
        e.k.unary_backward(UNARY_OPS.indexOf(op), px, py, pdy, single, ALPHA, i, i + 1, 0);
        expect(download(e, pdx + i * 4, 1)[0]).toBe(download(e, single + i * 4, 1)[0]);
      }
      for (const p of [px, py, pdy, pdx, single]) e.free(p);
    });
  });

  it('gelu and sigmoid/tanh agree with the GEMM epilogue activations (same scalar code)', () => {
    const x = rand(33, 5).map((v) => 4 * v);
    const px = upload(e, x);
    const po = e.alloc(33 * 4);
    for (const op of ['sigmoid', 'tanh', 'gelu'] as const) {
      unary(e, op, px, po, 33);
      expectClose(download(e, po, 33), x.map(UNARY_REF[op]), 2e-6, 2e-6);
    }
    e.free(px);
    e.free(po);
  });

  describe.each(BINARY_OPS)('binary %s', (op) => {
    it.each(BROADCASTS)('%j with %j matches numpy broadcasting', (as, bs) => {
      const na = as.reduce((p, d) => p * d, 1);
      const nb = bs.reduce((p, d) => p * d, 1);
      let a = rand(na, na + 1);
      let b = rand(nb, nb + 2).map((v) => (op === 'div' ? v + Math.sign(v) * 0.5 || 1 : v));
      if (op === 'eq') {
        // make some elements equal
        a = a.map((v) => Math.round(v * 2) / 2);
        b = b.map((v) => Math.round(v * 2) / 2);
      }
      const [pa, pb] = [upload(e, a), upload(e, b)];
      const shape = broadcastShape(as, bs);
      const n = shape.reduce((p, d) => p * d, 1);
      const po = e.alloc(n * 4);
      binary(e, op, pa, as, pb, bs, po);
      expectClose(download(e, po, n), refBinary(BINARY_REF[op], a, as, b, bs), 0, 0); // exact
      for (const p of [pa, pb, po]) e.free(p);
    });
  });

  it('binary max/min propagate NaN; eq/gt give 0 for NaN', () => {
    const a = new Float32Array([Number.NaN, 1, 2, Number.NaN, 5]);
    const b = new Float32Array([1, Number.NaN, 3, 4, Number.NaN]);
    const [pa, pb] = [upload(e, a), upload(e, b)];
    const po = e.alloc(20);
    binary(e, 'max', pa, [5], pb, [5], po);
    expect(Array.from(download(e, po, 5))).toEqual([Number.NaN, Number.NaN, 3, Number.NaN, Number.NaN]);
    binary(e, 'gt', pa, [5], pb, [5], po);
    expect(Array.from(download(e, po, 5))).toEqual([0, 0, 0, 0, 0]);
    for (const p of [pa, pb, po]) e.free(p);
  });

  it('binary rejects shapes that do not broadcast', () => {
    expect(() => binary(e, 'add', 0, [2, 3], 0, [2], 0)).toThrow(ShapeError);
  });

  it.each(SIZES)('scale, fill, axpy and copy, n=%i', (n) => {
    const x = rand(n, 31);
    const y = rand(n, 32);
    const [px, py] = [upload(e, x), upload(e, y)];
    const po = e.alloc(n * 4);
    scale(e, px, po, n, 1.5, -0.25);
    expectClose(
      download(e, po, n),
      x.map((v) => Math.fround(Math.fround(v * 1.5) - 0.25)),
      0,
      0,
    );
    axpy(e, 0.5, px, py, n);
    expectClose(
      download(e, py, n),
      y.map((v, i) => Math.fround(v + Math.fround(0.5 * x[i]))),
      0,
      0,
    );
    fill(e, po, n, 7.5);
    expect(download(e, po, n).every((v) => v === 7.5)).toBe(true);
    copy(e, px, po, n);
    expectClose(download(e, po, n), x, 0, 0);
    scale(e, po, po, n, 2, 0); // in place
    expectClose(
      download(e, po, n),
      x.map((v) => 2 * v),
      0,
      0,
    );
    for (const p of [px, py, po]) e.free(p);
  });

  it('copy handles overlapping ranges like memmove', () => {
    const x = rand(100, 41);
    const p = upload(e, x);
    copy(e, p, p + 8, 90);
    expect(download(e, p + 8, 90)).toEqual(x.slice(0, 90));
    e.free(p);
  });

  it('leaves memory flat across repeated calls', () => {
    const pa = upload(e, rand(3 * 5 * 7));
    const pb = upload(e, rand(5 * 1));
    const po = e.alloc(3 * 5 * 7 * 4);
    binary(e, 'add', pa, [3, 5, 7], pb, [5, 1], po);
    const live = e.memoryStats().liveBytes;
    for (let i = 0; i < 20; i++) {
      binary(e, 'mul', pa, [3, 5, 7], pb, [5, 1], po);
      unary(e, 'gelu', pa, po, 105);
    }
    expect(e.memoryStats().liveBytes).toBe(live);
    for (const p of [pa, pb, po]) e.free(p);
  });
});
