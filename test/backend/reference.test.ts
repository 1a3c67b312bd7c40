// The reference backend as the oracle of the wasm backend: every Backend method runs on both with
// the same random inputs — odd sizes, strides 2, asymmetric padding, broadcasting, rank up to 5,
// non-zero int8 zero points, 1 and 2 wasm threads — and must agree (float results within 1e-5
// of the output's scale, int8 results exactly). Hand-computed cases pin the reference itself, so
// agreement is not just two implementations sharing a mistake; the edge cases where the kernels
// still differ from the reference are listed as `it.fails`.
import { afterAll, describe, expect, it } from 'vitest';
import {
  type Backend,
  type BinaryFn,
  type Buf,
  type BufDType,
  DTYPE_BYTES,
  type Epilogue,
  type Int8Epilogue,
  type ReduceFn,
  UNARY_FNS,
  type UnaryFn,
} from '../../src/backend/backend.js';
import { ReferenceBackend } from '../../src/backend/reference.js';
import { WasmBackend } from '../../src/backend/wasm.js';
import { WebGpuBackend } from '../../src/backend/webgpu/backend.js';
import {
  type Conv2dGeometry,
  conv2dGeometry,
  type Padding,
  type Pool2dGeometry,
  pool2dGeometry,
} from '../../src/shape/window.js';
import { rand } from '../helpers.js';
import { testGpu } from './gpu.js';

const ref = new ReferenceBackend();
/** The backends under test: wasm at 1 and 2 threads, and WebGPU where an adapter exists (test/backend/gpu.ts). */
const wasm: Backend[] = [
  ...(process.env.GRADUATE_TEST_ONLY_WEBGPU
    ? []
    : [WasmBackend.create({ threads: 1 }), WasmBackend.create({ threads: 2 })]),
  ...testGpu('the backend conformance tests'),
];
afterAll(() => {
  for (const b of [ref, ...wasm]) if (!(b instanceof WebGpuBackend)) b.dispose();
});

function label(be: Backend): string {
  return be instanceof WasmBackend ? `wasm, ${be.engine.threads} threads` : be.name;
}

// ---- harness ---------------------------------------------------------------------------------

/** The buffers of one case on one backend: filled when allocated, read back, freed together. */
class Scope {
  private readonly bufs: Buf[] = [];
  constructor(readonly be: Backend) {}

  put(dtype: BufDType, data: ArrayLike<number>): Buf {
    const b = this.be.alloc(data.length * DTYPE_BYTES[dtype]);
    this.be.write(b, dtype, data);
    this.bufs.push(b);
    return b;
  }
  f32(data: ArrayLike<number>): Buf {
    return this.put('float32', data);
  }
  i32(data: ArrayLike<number>): Buf {
    return this.put('int32', data);
  }
  i8(data: ArrayLike<number>): Buf {
    return this.put('int8', data);
  }
  /** An output buffer pre-filled with junk, so outputs that must be overwritten are checked to be. */
  out(n: number, dtype: BufDType = 'float32'): Buf {
    return this.put(dtype, dtype === 'int8' ? randInt8(n, 999) : rand(n, 999).map((v) => v * 100));
  }
  get(buf: Buf, n: number, dtype: BufDType = 'float32'): number[] {
    return Array.from(this.be.read(buf, dtype, n));
  }
  free(): void {
    for (const b of this.bufs) this.be.free(b);
  }
}

type Outputs = Record<string, number[] | number>;

/**
 * Runs `run` on the reference and on each wasm backend and compares every output: exactly, or
 * within |a − e| ≤ tol · (max |e| + |e|) (NaN equals NaN, infinities must match).
 */
function agree(run: (s: Scope) => Outputs, tol: number | 'exact' = 1e-5, backends: readonly Backend[] = wasm): void {
  const liveBefore = ref.memoryStats().liveBlocks;
  const expected = withScope(ref, run);
  expect(ref.memoryStats().liveBlocks).toBe(liveBefore);
  for (const be of backends) {
    const actual = withScope(be, run);
    for (const key of Object.keys(expected)) compare(`${key} (${label(be)})`, actual[key], expected[key], tol);
  }
}

function withScope(be: Backend, run: (s: Scope) => Outputs): Outputs {
  const s = new Scope(be);
  try {
    return run(s);
  } finally {
    s.free();
  }
}

function compare(what: string, actual: number[] | number, expected: number[] | number, tol: number | 'exact'): void {
  const a = typeof actual === 'number' ? [actual] : actual;
  const e = typeof expected === 'number' ? [expected] : expected;
  expect(a.length, what).toBe(e.length);
  const scale = e.reduce((m, v) => (Number.isFinite(v) ? Math.max(m, Math.abs(v)) : m), 0);
  for (let i = 0; i < e.length; i++) {
    if (a[i] === e[i] || (Number.isNaN(a[i]) && Number.isNaN(e[i]))) continue;
    if (tol !== 'exact' && Math.abs(a[i] - e[i]) <= tol * (scale + Math.abs(e[i]))) continue;
    expect.fail(`${what}[${i}]: wasm ${a[i]}, reference ${e[i]} (${tol === 'exact' ? 'exact' : `tol ${tol}`})`);
  }
}

/** Deterministic int8 values in [lo, hi]. */
function randInt8(n: number, seed: number, lo = -128, hi = 127): Int8Array {
  return Int8Array.from(rand(n, seed), (v) => Math.min(hi, lo + Math.floor(((v + 1) / 2) * (hi - lo + 1))));
}

function numel(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/** Values on a coarse grid, so that equal elements (ties, eq) occur. */
function coarse(n: number, seed: number, steps = 3): Float32Array {
  return rand(n, seed).map((v) => Math.round(v * steps) / steps);
}

// ---- elementwise -----------------------------------------------------------------------------

/** Inputs inside each function's domain (log, sqrt > 0; reciprocal away from 0), with exact zeros elsewhere. */
function unaryInput(fn: UnaryFn, n: number, seed: number): Float32Array {
  const x = rand(n, seed).map((v) => v * 4);
  if (fn === 'log' || fn === 'sqrt') return x.map((v) => Math.abs(v) + 0.05);
  if (fn === 'reciprocal') return x.map((v) => Math.sign(v) * (Math.abs(v) + 0.5));
  x[3] = 0;
  return x;
}

describe('ReferenceBackend agrees with WasmBackend: elementwise', () => {
  type UnaryCase = { fn: UnaryFn; alpha?: number };
  const cases = UNARY_FNS.flatMap((fn): UnaryCase[] => (fn === 'leakyRelu' ? [{ fn, alpha: 0.2 }, { fn }] : [{ fn }]));

  it.each(cases)('unary $fn (alpha $alpha), n = 37 and in place', ({ fn, alpha }) => {
    const x = unaryInput(fn, 37, 1);
    agree((s) => {
      const [xb, out] = [s.f32(x), s.out(37)];
      s.be.unary(fn, xb, out, 37, alpha);
      const inPlace = s.f32(x);
      s.be.unary(fn, inPlace, inPlace, 37, alpha);
      return { out: s.get(out, 37), inPlace: s.get(inPlace, 37) };
    });
  });

  it.each(cases)('unaryBackward $fn (alpha $alpha), dx aliasing dy too', ({ fn, alpha }) => {
    const x = unaryInput(fn, 37, 2);
    const y = withScope(ref, (s) => {
      const out = s.out(37);
      s.be.unary(fn, s.f32(x), out, 37, alpha);
      return { y: s.get(out, 37) };
    }).y as number[];
    const dy = rand(37, 3);
    agree((s) => {
      const [xb, yb, dyb, dx] = [s.f32(x), s.f32(y), s.f32(dy), s.out(37)];
      s.be.unaryBackward(fn, xb, yb, dyb, dx, 37, alpha);
      s.be.unaryBackward(fn, xb, yb, dyb, dyb, 37, alpha);
      return { dx: s.get(dx, 37), aliased: s.get(dyb, 37) };
    });
  });

  it('unary and unaryBackward of every function over 70001 elements (two threads)', () => {
    const n = 70001;
    for (const fn of UNARY_FNS) {
      const x = unaryInput(fn, n, 19);
      agree((s) => {
        const [xb, y, dx] = [s.f32(x), s.out(n), s.out(n)];
        s.be.unary(fn, xb, y, n, 0.2);
        s.be.unaryBackward(fn, xb, y, s.f32(rand(n, 20)), dx, n, 0.2);
        return { y: s.get(y, n), dx: s.get(dx, n) };
      });
    }
  });

  const SHAPES: [number[], number[]][] = [
    [
      [257, 1, 129],
      [3, 1],
    ],
    [
      [3, 1, 5],
      [4, 1],
    ],
    [[7], [7]],
    [[13, 17], [17]],
    [[], [5, 3]],
    [
      [5, 1],
      [1, 33],
    ],
    [
      [2, 3, 1, 4, 1],
      [3, 5, 4, 2],
    ],
  ];
  const BINARY: BinaryFn[] = ['add', 'sub', 'mul', 'div', 'max', 'min', 'eq', 'gt'];
  const binaryCases = BINARY.flatMap((fn) => SHAPES.map(([a, b]) => ({ fn, a, b })));

  it.each(binaryCases)('binary $fn of $a and $b (broadcast)', ({ fn, a, b }) => {
    const av = coarse(numel(a), 4);
    const bv = coarse(numel(b), 5).map((v) => (fn === 'div' && v === 0 ? 0.5 : v));
    agree((s) => {
      const shape = broadcastResult(a, b);
      const out = s.out(numel(shape));
      s.be.binary(fn, s.f32(av), a, s.f32(bv), b, out);
      return { out: s.get(out, numel(shape)) };
    });
  });

  it.each([
    { c: [3, 1, 5], a: [4, 1], b: [5] },
    { c: [], a: [2, 3], b: [3] },
    { c: [2, 1, 3, 1, 2], a: [1, 4, 1, 5, 1], b: [2] },
  ])('where: cond $c, a $a, b $b (all broadcast)', ({ c, a, b }) => {
    const cond = coarse(numel(c), 6, 1);
    agree((s) => {
      const shape = broadcastResult(broadcastResult(c, a), b);
      const out = s.out(numel(shape));
      s.be.where(s.f32(cond), c, s.f32(rand(numel(a), 7)), a, s.f32(rand(numel(b), 8)), b, out);
      return { out: s.get(out, numel(shape)) };
    });
  });

  it('scale, fill, axpy, copy (overlapping both ways)', () => {
    const x = rand(37, 9);
    agree((s) => {
      const [xb, scaled, filled, y] = [s.f32(x), s.out(37), s.out(37), s.f32(rand(37, 10))];
      s.be.scale(xb, scaled, 37, -1.5, 0.25);
      s.be.fill(filled, 33, 2.5);
      s.be.axpy(0.75, xb, y, 37);
      const [fwd, back, apart] = [s.f32(x), s.f32(x), s.out(37)];
      s.be.copy(fwd, fwd + 8, 30);
      s.be.copy(back + 8, back, 30);
      s.be.copy(xb, apart, 37);
      return {
        scaled: s.get(scaled, 37),
        filled: s.get(filled, 37),
        y: s.get(y, 37),
        fwd: s.get(fwd, 37),
        back: s.get(back, 37),
        apart: s.get(apart, 37),
      };
    });
  });
});

function broadcastResult(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  return Array.from({ length: rank }, (_, k) => {
    const da = a[a.length - rank + k] ?? 1;
    const db = b[b.length - rank + k] ?? 1;
    return da === 1 ? db : da;
  });
}

// ---- reduce and softmax ----------------------------------------------------------------------

describe('ReferenceBackend agrees with WasmBackend: reduce and softmax', () => {
  const REDUCE: [number[], number[]][] = [
    [[3, 5, 7], []],
    [[3, 5, 7], [0]],
    [[3, 5, 7], [1]],
    [[3, 5, 7], [2]],
    [
      [3, 5, 7],
      [0, 2],
    ],
    [
      [3, 5, 7],
      [1, 2],
    ],
    [
      [3, 5, 7],
      [0, 1, 2],
    ],
    [
      [2, 3, 1, 4, 5],
      [1, 3],
    ],
    [
      [2, 3, 1, 4, 5],
      [0, 4],
    ],
    [[2, 3, 1, 4, 5], [2]],
    [[33, 17], [0]],
    [[1025, 65], [1]],
    [[4099, 17], [0]],
  ];
  const FNS: ReduceFn[] = ['sum', 'mean', 'max'];
  const cases = FNS.flatMap((fn) => REDUCE.map(([shape, axes]) => ({ fn, shape, axes })));

  it.each(cases)('reduce $fn of $shape over $axes', ({ fn, shape, axes }) => {
    const x = rand(numel(shape), 11);
    const outN = numel(shape.filter((_, k) => !axes.includes(k)));
    agree((s) => {
      const out = s.out(outN);
      s.be.reduce(fn, s.f32(x), shape, axes, out);
      return { out: s.get(out, outN) };
    });
  });

  it('argmax: first of ties, NaN skipped, a row of NaNs gives 0, -Infinity rows', () => {
    const [rows, cols] = [7, 13];
    const x = coarse(rows * cols, 12, 1);
    x[2 * cols + 5] = Number.NaN;
    x.fill(Number.NaN, 3 * cols, 4 * cols);
    x.fill(Number.NEGATIVE_INFINITY, 4 * cols, 5 * cols);
    x[4 * cols] = Number.NaN;
    agree((s) => {
      const out = s.out(rows, 'int32');
      s.be.argmax(s.f32(x), rows, cols, out);
      return { out: s.get(out, rows, 'int32') };
    }, 'exact');
  });

  const SOFTMAX = [
    [5, 1],
    [5, 3],
    [5, 17],
    [5, 33],
    [129, 257],
  ].flatMap(([rows, cols]) => [false, true].map((log) => ({ rows, cols, log })));
  it.each(SOFTMAX)('softmax (log $log) of $rows x $cols, large logits, in place too', ({ rows, cols, log }) => {
    const x = rand(rows * cols, 13).map((v) => v * 30);
    agree((s) => {
      const [xb, out] = [s.f32(x), s.out(rows * cols)];
      s.be.softmax(xb, rows, cols, out, log);
      s.be.softmax(xb, rows, cols, xb, log);
      return { out: s.get(out, rows * cols), inPlace: s.get(xb, rows * cols) };
    });
  });

  it.each([3, 17].flatMap((cols) => [false, true].map((log) => ({ cols, log }))))(
    'softmaxBackward (log $log) of 5 x $cols',
    ({ cols, log }) => {
      const n = 5 * cols;
      const y = withScope(ref, (s) => {
        const out = s.out(n);
        s.be.softmax(s.f32(rand(n, 14).map((v) => v * 3)), 5, cols, out, log);
        return { y: s.get(out, n) };
      }).y as number[];
      const dy = rand(n, 15);
      agree((s) => {
        const dx = s.out(n);
        s.be.softmaxBackward(s.f32(y), s.f32(dy), dx, 5, cols, log);
        return { dx: s.get(dx, n) };
      });
    },
  );

  it.each([
    { rows: 7, cols: 13, smoothing: 0 },
    { rows: 7, cols: 13, smoothing: 0.1 },
    { rows: 129, cols: 257, smoothing: 0.1 },
  ])('softmaxCrossEntropy and its backward, $rows x $cols, smoothing $smoothing', ({ rows, cols, smoothing }) => {
    const logits = rand(rows * cols, 16).map((v) => v * 5);
    const labels = Int32Array.from(rand(rows, 17), (v) => Math.floor(((v + 1) / 2) * cols));
    const dLoss = rand(rows, 18);
    agree((s) => {
      const [lab, loss, probs, dLogits] = [s.i32(labels), s.out(rows), s.out(rows * cols), s.out(rows * cols)];
      s.be.softmaxCrossEntropy(s.f32(logits), lab, rows, cols, loss, probs, smoothing);
      s.be.softmaxCrossEntropyBackward(probs, lab, rows, cols, s.f32(dLoss), dLogits, smoothing);
      return { loss: s.get(loss, rows), probs: s.get(probs, rows * cols), dLogits: s.get(dLogits, rows * cols) };
    });
  });
});

// ---- matmul ----------------------------------------------------------------------------------

/** Epilogue variants; 'bias'/'residual' are filled in per case with buffers. */
interface EpilogueCase {
  name: string;
  bias?: boolean;
  residual?: boolean;
  accumulate?: boolean;
  activation?: Epilogue['activation'];
  alpha?: number;
}
const EPILOGUES: EpilogueCase[] = [
  { name: 'plain' },
  { name: 'bias', bias: true },
  { name: 'accumulate', accumulate: true },
  { name: 'residual (ldr = N + 3)', residual: true },
  { name: 'bias + residual + relu', bias: true, residual: true, activation: 'relu' },
  { name: 'leakyRelu 0.2', activation: 'leakyRelu', alpha: 0.2 },
  { name: 'leakyRelu default', bias: true, activation: 'leakyRelu' },
  { name: 'sigmoid', bias: true, activation: 'sigmoid' },
  { name: 'tanh', activation: 'tanh' },
  { name: 'gelu + accumulate', accumulate: true, activation: 'gelu' },
];

/** The epilogue's buffers on one backend (residual rows of ldr = N + 3). */
function epilogueOf(s: Scope, e: EpilogueCase, M: number, N: number): Epilogue {
  const ep: Epilogue = { accumulate: e.accumulate, activation: e.activation, alpha: e.alpha };
  if (e.bias) ep.bias = s.f32(rand(N, 21));
  if (e.residual) {
    ep.residual = s.f32(rand(M * (N + 3), 22));
    ep.ldr = N + 3;
  }
  return ep;
}

describe('ReferenceBackend agrees with WasmBackend: matmul', () => {
  const SHAPES: [number, number, number][] = [
    [1, 1, 1],
    [3, 5, 7],
    [13, 17, 33],
    [7, 33, 5],
    [5, 3, 17],
    [17, 13, 8],
  ];
  const cases = SHAPES.flatMap(([M, K, N], i) =>
    [false, true].flatMap((transA) =>
      [false, true].map((transB, j) => ({
        M,
        K,
        N,
        transA,
        transB,
        ep: EPILOGUES[(i * 4 + j * 2 + +transA) % EPILOGUES.length],
      })),
    ),
  );

  function runGemm(s: Scope, M: number, K: number, N: number, transA: boolean, transB: boolean, e: EpilogueCase) {
    const [a, b, c] = [s.f32(rand(M * K, 23)), s.f32(rand(K * N, 24)), s.out(M * N)];
    s.be.gemm(a, b, c, M, K, N, { transA, transB, ...epilogueOf(s, e, M, N) });
    return { c: s.get(c, M * N) };
  }

  it.each(cases)('gemm $M x $K x $N transA $transA transB $transB, $ep.name', ({ M, K, N, transA, transB, ep }) => {
    agree((s) => runGemm(s, M, K, N, transA, transB, ep));
  });

  it.each(EPILOGUES)('gemm 13 x 17 x 33, every epilogue: $name', (ep) => {
    agree((s) => runGemm(s, 13, 17, 33, false, false, ep));
  });

  it('gemm big enough for two threads (513 x 33 x 33) and K past one cache block (5 x 600 x 9)', () => {
    agree((s) => runGemm(s, 513, 33, 33, false, true, EPILOGUES[4]));
    agree((s) => runGemm(s, 5, 600, 9, true, false, EPILOGUES[2]), 2e-5);
  });

  it.each([1, 13, 513])('prepareWeights + gemmPrepared (M = %i) with bias, residual and relu; release', (M) => {
    const [K, N] = [17, 33];
    const w = rand(K * N, 25);
    agree((s) => {
      const p = s.be.prepareWeights(w, K, N);
      const c = s.out(M * N);
      s.be.gemmPrepared(s.f32(rand(M * K, 26)), M, p, c, epilogueOf(s, EPILOGUES[4], M, N));
      const plain = s.out(M * N);
      s.be.gemmPrepared(s.f32(rand(M * K, 27)), M, p, plain);
      s.be.release(p);
      return { c: s.get(c, M * N), plain: s.get(plain, M * N) };
    });
  });
});

// ---- conv ------------------------------------------------------------------------------------

const CONVS: { x: number[]; w: number[]; stride: number | [number, number]; padding: Padding }[] = [
  { x: [2, 7, 9, 3], w: [3, 3, 3, 5], stride: 1, padding: 'same' },
  { x: [2, 13, 11, 3], w: [3, 3, 3, 17], stride: 2, padding: [1, 0, 2, 1] },
  { x: [1, 7, 7, 5], w: [1, 1, 5, 7], stride: 1, padding: 'valid' },
  { x: [3, 9, 8, 2], w: [5, 3, 2, 4], stride: [2, 1], padding: [2, 1, 0, 1] },
  { x: [1, 5, 5, 1], w: [2, 2, 1, 3], stride: 1, padding: 3 },
  { x: [1, 6, 6, 4], w: [3, 3, 4, 8], stride: 1, padding: 'valid' },
  { x: [4, 17, 17, 8], w: [3, 3, 8, 16], stride: 1, padding: 'same' },
];

describe('ReferenceBackend agrees with WasmBackend: conv', () => {
  const cases = CONVS.map((c, i) => ({
    ...c,
    g: conv2dGeometry(c.x, c.w, c.stride, c.padding),
    ep: EPILOGUES[(i * 3) % EPILOGUES.length],
  }));

  it.each(cases)('conv2d x $x w $w stride $stride padding $padding, $ep.name', ({ g, ep }) => {
    agree((s) => {
      const out = s.out(outSize(g));
      s.be.conv2d(
        s.f32(rand(inSize(g), 31)),
        s.f32(rand(wSize(g), 32)),
        g,
        out,
        epilogueOf(s, ep, g.N * g.OH * g.OW, g.OC),
      );
      return { out: s.get(out, outSize(g)) };
    });
  });

  it.each(cases)('conv2dPrepared x $x w $w stride $stride padding $padding, bias + residual + relu', ({ g }) => {
    agree((s) => {
      const p = s.be.prepareWeights(rand(wSize(g), 33), g.KH * g.KW * g.C, g.OC);
      const out = s.out(outSize(g));
      s.be.conv2dPrepared(s.f32(rand(inSize(g), 34)), p, g, out, epilogueOf(s, EPILOGUES[4], g.N * g.OH * g.OW, g.OC));
      s.be.release(p);
      return { out: s.get(out, outSize(g)) };
    });
  });

  it.each(cases)('conv2dBackwardData and conv2dBackwardWeight x $x w $w stride $stride padding $padding', ({ g }) => {
    agree((s) => {
      const dy = s.f32(rand(outSize(g), 35));
      const [dx, dw] = [s.out(inSize(g)), s.out(wSize(g))];
      s.be.conv2dBackwardData(dy, s.f32(rand(wSize(g), 36)), g, dx);
      s.be.conv2dBackwardWeight(s.f32(rand(inSize(g), 37)), dy, g, dw);
      return { dx: s.get(dx, inSize(g)), dw: s.get(dw, wSize(g)) };
    });
  });
});

function inSize(g: Pool2dGeometry): number {
  return g.N * g.H * g.W * g.C;
}
function outSize(g: Conv2dGeometry): number {
  return g.N * g.OH * g.OW * g.OC;
}
function wSize(g: Conv2dGeometry): number {
  return g.KH * g.KW * g.C * g.OC;
}
function pooledSize(g: Pool2dGeometry): number {
  return g.N * g.OH * g.OW * g.C;
}

// ---- pool ------------------------------------------------------------------------------------

const POOLS: { x: number[]; k: number | [number, number]; stride: number | [number, number]; padding: Padding }[] = [
  { x: [2, 7, 9, 3], k: 2, stride: 2, padding: 'valid' },
  { x: [1, 13, 11, 5], k: 3, stride: 1, padding: 1 },
  { x: [2, 9, 8, 17], k: [3, 2], stride: 2, padding: [1, 0, 2, 1] },
  { x: [1, 5, 5, 4], k: 2, stride: 2, padding: 'same' },
  { x: [3, 6, 6, 33], k: 2, stride: 2, padding: 'valid' },
  { x: [4, 33, 33, 16], k: 3, stride: 2, padding: 1 },
];

describe('ReferenceBackend agrees with WasmBackend: pool', () => {
  const cases = POOLS.map((p) => ({ ...p, g: pool2dGeometry(p.x, p.k, p.stride, p.padding) }));

  it.each(cases)(
    'maxPool2d (argmax, and 0 = skip) and its backward, x $x k $k stride $stride padding $padding',
    ({ g }) => {
      const x = coarse(inSize(g), 41, 2); // ties: the first winner must be the same
      const argmax = withScope(ref, (s) => {
        const [y, am] = [s.out(pooledSize(g)), s.out(pooledSize(g), 'int32')];
        s.be.maxPool2d(s.f32(x), g, y, am);
        return { am: s.get(am, pooledSize(g), 'int32') };
      }).am as number[];
      agree((s) => {
        const [y, am, y0, dx] = [
          s.out(pooledSize(g)),
          s.out(pooledSize(g), 'int32'),
          s.out(pooledSize(g)),
          s.out(inSize(g)),
        ];
        const xb = s.f32(x);
        s.be.maxPool2d(xb, g, y, am);
        s.be.maxPool2d(xb, g, y0, 0);
        s.be.maxPool2dBackward(s.f32(rand(pooledSize(g), 42)), s.i32(argmax), g, dx);
        return {
          y: s.get(y, pooledSize(g)),
          argmax: s.get(am, pooledSize(g), 'int32'),
          withoutArgmax: s.get(y0, pooledSize(g)),
          dx: s.get(dx, inSize(g)),
        };
      });
    },
  );

  it.each(cases)('avgPool2d and its backward, x $x k $k stride $stride padding $padding', ({ g }) => {
    agree((s) => {
      const [y, dx] = [s.out(pooledSize(g)), s.out(inSize(g))];
      s.be.avgPool2d(s.f32(rand(inSize(g), 43)), g, y);
      s.be.avgPool2dBackward(s.f32(rand(pooledSize(g), 44)), g, dx);
      return { y: s.get(y, pooledSize(g)), dx: s.get(dx, inSize(g)) };
    });
  });

  it.each([
    [3, 13, 17],
    [2, 1, 5],
    [8, 400, 33],
  ])('globalAvgPool and its backward, N %i HW %i C %i', (N, HW, C) => {
    agree((s) => {
      const [y, dx] = [s.out(N * C), s.out(N * HW * C)];
      s.be.globalAvgPool(s.f32(rand(N * HW * C, 45)), N, HW, C, y);
      s.be.globalAvgPoolBackward(s.f32(rand(N * C, 46)), N, HW, C, dx);
      return { y: s.get(y, N * C), dx: s.get(dx, N * HW * C) };
    });
  });
});

// ---- norm ------------------------------------------------------------------------------------

describe('ReferenceBackend agrees with WasmBackend: batch norm', () => {
  it.each([
    { rows: 37, C: 13, affine: true },
    { rows: 37, C: 13, affine: false },
    { rows: 4099, C: 17, affine: true },
  ])('batchNormStats, batchNormForward, batchNormBackward: $rows x $C, affine $affine', ({ rows, C, affine }) => {
    const x = rand(rows * C, 51).map((v, i) => v * (1 + (i % C)) + 5);
    const eps = 1e-5;
    const stats = withScope(ref, (s) => {
      const [m, v] = [s.out(C), s.out(C)];
      s.be.batchNormStats(s.f32(x), rows, C, m, v);
      return { mean: s.get(m, C), variance: s.get(v, C) };
    });
    const [mean, variance] = [stats.mean as number[], stats.variance as number[]];
    agree((s) => {
      const xb = s.f32(x);
      const [m, v, out, dx] = [s.out(C), s.out(C), s.out(rows * C), s.out(rows * C)];
      const [dgamma, dbeta] = affine ? [s.out(C), s.out(C)] : [0, 0];
      const gamma = affine ? s.f32(rand(C, 52)) : 0;
      const beta = affine ? s.f32(rand(C, 53)) : 0;
      const [mb, vb] = [s.f32(mean), s.f32(variance)];
      s.be.batchNormStats(xb, rows, C, m, v);
      s.be.batchNormForward(xb, rows, C, mb, vb, eps, gamma, beta, out);
      s.be.batchNormBackward(xb, s.f32(rand(rows * C, 54)), rows, C, mb, vb, eps, gamma, dx, dgamma, dbeta);
      const grads: Outputs = affine ? { dgamma: s.get(dgamma, C), dbeta: s.get(dbeta, C) } : {};
      return { mean: s.get(m, C), variance: s.get(v, C), out: s.get(out, rows * C), dx: s.get(dx, rows * C), ...grads };
    });
  });
});

// ---- layout ----------------------------------------------------------------------------------

describe('ReferenceBackend agrees with WasmBackend: layout', () => {
  it.each([
    { shape: [13, 17], perm: [1, 0] },
    { shape: [3, 5, 7], perm: [2, 0, 1] },
    { shape: [3, 1, 5], perm: [0, 2, 1] },
    { shape: [2, 3, 4, 5], perm: [3, 1, 0, 2] },
    { shape: [2, 3, 1, 4, 5], perm: [4, 2, 0, 3, 1] },
    { shape: [3, 5, 7, 2, 3], perm: [0, 1, 2, 3, 4] },
    { shape: [64, 33, 33], perm: [1, 2, 0] },
    { shape: [8, 33, 17, 16], perm: [2, 0, 3, 1] },
  ])('transpose $shape by $perm', ({ shape, perm }) => {
    agree((s) => {
      const out = s.out(numel(shape));
      s.be.transpose(s.f32(rand(numel(shape), 61)), shape, perm, out);
      return { out: s.get(out, numel(shape)) };
    }, 'exact');
  });

  it.each([
    { shape: [13, 17], begin: [2, 3], size: [7, 5] },
    { shape: [3, 5, 7, 2, 4], begin: [1, 0, 2, 1, 1], size: [2, 5, 3, 1, 3] },
    { shape: [5, 7], begin: [0, 0], size: [5, 7] },
    { shape: [4, 1, 6], begin: [3, 0, 0], size: [1, 1, 6] },
    { shape: [300, 257], begin: [10, 3], size: [280, 250] },
  ])('slice and sliceBackward of $shape at $begin size $size', ({ shape, begin, size }) => {
    agree((s) => {
      const [out, dx] = [s.out(numel(size)), s.out(numel(shape))];
      s.be.slice(s.f32(rand(numel(shape), 62)), shape, begin, size, out);
      s.be.sliceBackward(s.f32(rand(numel(size), 63)), size, begin, dx, shape);
      return { out: s.get(out, numel(size)), dx: s.get(dx, numel(shape)) };
    }, 'exact');
  });

  it.each([0, 1, 2, 3, 4, -1])('concat of three rank-5 tensors along axis %i', (axis) => {
    const base = [2, 3, 4, 1, 5];
    const ax = axis < 0 ? axis + 5 : axis;
    const shapes = [1, 2, 3].map((d) => base.map((b, k) => (k === ax ? d : b)));
    const total = shapes.reduce((t, sh) => t + numel(sh), 0);
    agree((s) => {
      const out = s.out(total);
      s.be.concat(
        shapes.map((shape, i) => ({ buf: s.f32(rand(numel(shape), 64 + i)), shape })),
        axis,
        out,
      );
      return { out: s.get(out, total) };
    }, 'exact');
  });
});

// ---- gather / scatter ------------------------------------------------------------------------

describe('ReferenceBackend agrees with WasmBackend: gather and scatter', () => {
  const [V, D] = [11, 7];
  const ids = [3, -1, 0, 10, 3, 5, -1, 7, 3, 1, 9, 0, 2];

  it('gather (-1 gives zeros) and scatterAdd (repeated ids add up, -1 skipped)', () => {
    agree((s) => {
      const [out, dTable] = [s.out(ids.length * D), s.f32(rand(V * D, 71))];
      const idb = s.i32(ids);
      s.be.gather(s.f32(rand(V * D, 72)), D, idb, ids.length, out);
      s.be.scatterAdd(s.f32(rand(ids.length * D, 73)), D, idb, ids.length, dTable);
      return { out: s.get(out, ids.length * D), dTable: s.get(dTable, V * D) };
    });
  });

  it('embeddingBag (mean; -1 padding; an empty bag gives 0) and its backward', () => {
    const [B, L] = [5, 4];
    const bags = [3, 5, -1, 3, -1, -1, -1, -1, 10, 0, 2, 7, 6, -1, -1, -1, 1, 1, 1, 4];
    agree((s) => {
      const [out, dTable] = [s.out(B * D), s.f32(rand(V * D, 74))];
      const idb = s.i32(bags);
      s.be.embeddingBag(s.f32(rand(V * D, 75)), D, idb, B, L, out);
      s.be.embeddingBagBackward(s.f32(rand(B * D, 76)), D, idb, B, L, dTable);
      return { out: s.get(out, B * D), dTable: s.get(dTable, V * D) };
    });
  });
});

// ---- optimizers ------------------------------------------------------------------------------

describe('ReferenceBackend agrees with WasmBackend: optimizers', () => {
  const SGD = [
    { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 },
    { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0.1 },
    { momentum: 0.9, dampening: 0.1, nesterov: false, weightDecay: 0.01 },
    { momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 0 },
    { momentum: 0.5, dampening: 0.5, nesterov: true, weightDecay: 0.1 },
  ];
  it.each(SGD.flatMap((a) => [37, 70001].map((n) => ({ ...a, n }))))(
    'sgdStep x3, n $n: momentum $momentum dampening $dampening nesterov $nesterov weightDecay $weightDecay',
    ({ n, ...a }) => {
      agree((s) => {
        const [p, buf] = [s.f32(rand(n, 81)), a.momentum ? s.out(n) : 0];
        for (let step = 0; step < 3; step++) {
          s.be.sgdStep(p, s.f32(rand(n, 82 + step)), buf, n, { ...a, lr: 0.1, firstStep: step === 0 });
        }
        return { p: s.get(p, n), ...(buf ? { buf: s.get(buf, n) } : {}) };
      });
    },
  );

  const ADAM = [
    { weightDecay: 0, decoupled: false },
    { weightDecay: 0.01, decoupled: false },
    { weightDecay: 0.1, decoupled: true },
  ];
  it.each(ADAM.flatMap((a) => [37, 70001].map((n) => ({ ...a, n }))))(
    'adamStep x3, n $n: weightDecay $weightDecay decoupled $decoupled',
    ({ n, ...a }) => {
      agree((s) => {
        const [p, m, v] = [s.f32(rand(n, 85)), s.f32(new Float32Array(n)), s.f32(new Float32Array(n))];
        for (let step = 1; step <= 3; step++) {
          const args = { ...a, lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, step };
          s.be.adamStep(p, s.f32(rand(n, 86 + step)), m, v, n, args);
        }
        return { p: s.get(p, n), m: s.get(m, n), v: s.get(v, n) };
      });
    },
  );

  it.each([37, 70001])('adagradStep x3, n %i (weight decay, lr decay)', (n) => {
    agree((s) => {
      const [p, sum] = [s.f32(rand(n, 90)), s.f32(new Float32Array(n).fill(0.1))];
      for (let step = 1; step <= 3; step++) {
        const args = { lr: 0.05, lrDecay: 0.01, eps: 1e-10, weightDecay: 0.01, step };
        s.be.adagradStep(p, s.f32(rand(n, 91 + step)), sum, n, args);
      }
      return { p: s.get(p, n), sum: s.get(sum, n) };
    });
  });

  // Row-sparse updates: grad [count, width] for parameter rows ids (unique, not in order);
  // 12,000 rows of 6 split across two threads.
  const ROWS = [
    { V: 50, count: 17, width: 6 },
    { V: 20000, count: 12000, width: 6 },
  ];
  it.each(ROWS)('sgdStep, adamStep, adagradStep on rows: V $V, $count rows of $width', ({ V, count, width }) => {
    const ids = Int32Array.from({ length: count }, (_, i) => (i * 7 + 3) % V);
    expect(new Set(ids).size).toBe(count);
    agree((s) => {
      const n = V * width;
      const rows = { ids: s.i32(ids), count, width };
      const [p, buf, m, v, sum] = [
        s.f32(rand(n, 96)),
        s.f32(rand(n, 97)),
        s.f32(rand(n, 98)),
        s.f32(rand(n, 99).map(Math.abs)),
        s.f32(new Float32Array(n).fill(0.1)),
      ];
      for (let step = 1; step <= 3; step++) {
        const g = s.f32(rand(count * width, 100 + step));
        const sgd = { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: false, weightDecay: 0.01, firstStep: false };
        s.be.sgdStep(p, g, buf, n, sgd, rows);
        const adam = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: step === 2, step };
        s.be.adamStep(p, g, m, v, n, adam, rows);
        s.be.adagradStep(p, g, sum, n, { lr: 0.05, lrDecay: 0, eps: 1e-10, weightDecay: 0, step }, rows);
      }
      return { p: s.get(p, n), buf: s.get(buf, n), m: s.get(m, n), v: s.get(v, n), sum: s.get(sum, n) };
    });
  });

  it.each([0, 37, 70001])('sumSquares of %i values (f64)', (n) => {
    agree((s) => ({ sum: s.be.sumSquares(s.f32(rand(n, 89)), n) }), 1e-12);
  });
});

// ---- int8 ------------------------------------------------------------------------------------

/** Per-channel weight scales in [0.005, 0.02]. */
function weightScales(N: number, seed: number): number[] {
  return Array.from(rand(N, seed), (v) => 0.0125 + 0.0075 * v);
}

/** The reference's float32 output for a case, to choose an int8 output scale that saturates a few. */
function outputScale(run: (s: Scope, ep: Int8Epilogue) => number[]): number {
  const y = withScope(ref, (s) => ({ y: run(s, { out: { kind: 'float32' } }) })).y as number[];
  return Math.max(1e-6, y.reduce((m, v) => Math.max(m, Math.abs(v)), 0) / 150);
}

interface Int8Case {
  relu: boolean;
  bias: boolean;
  zx: number;
  zy: number;
}
const I8_EPILOGUES: Int8Case[] = [
  { relu: false, bias: true, zx: 5, zy: -7 },
  { relu: true, bias: true, zx: -128, zy: 3 },
  { relu: false, bias: false, zx: 127, zy: 0 },
  { relu: true, bias: false, zx: -3, zy: -128 },
];

/**
 * The outputs of `run` on every backend, exactly: int8 (the case's zero point, an output scale
 * that saturates a few) and, with `floatCount`, float32. The scale comes from the reference's
 * float32 output (`floatCount` elements; `scaleRun` when the int8 run cannot give float32).
 */
function agreeInt8(
  c: Int8Case,
  N: number,
  count: number,
  run: (s: Scope, ep: Int8Epilogue, y: Buf) => void,
  float: { count: number; compare: boolean; run?: (s: Scope, ep: Int8Epilogue, y: Buf) => void },
): void {
  const withBias = (s: Scope, out: Int8Epilogue['out']): Int8Epilogue => ({
    out,
    relu: c.relu,
    bias: c.bias ? s.f32(rand(N, 91).map((v) => v * 0.5)) : undefined,
  });
  const floatRun = float.run ?? run;
  const sy = outputScale((s) => {
    const y = s.out(float.count);
    floatRun(s, withBias(s, { kind: 'float32' }), y);
    return s.get(y, float.count);
  });
  agree((s) => {
    const yq = s.out(count, 'int8');
    run(s, withBias(s, { kind: 'int8', scale: sy, zeroPoint: c.zy }), yq);
    const int8: Outputs = { int8: s.get(yq, count, 'int8') };
    if (!float.compare) return int8;
    const yf = s.out(float.count);
    floatRun(s, withBias(s, { kind: 'float32' }), yf);
    return { ...int8, float32: s.get(yf, float.count) };
  }, 'exact');
}

const I8_CONVS: {
  name: string;
  x: number[];
  w: number[];
  stride: number;
  padding: Padding;
  winograd: boolean;
}[] = [
  { name: 'single channel (direct)', x: [2, 13, 11, 1], w: [5, 5, 1, 17], stride: 1, padding: 2, winograd: false },
  {
    name: 'single channel, asymmetric padding',
    x: [1, 9, 8, 1],
    w: [3, 3, 1, 8],
    stride: 1,
    padding: [1, 0, 2, 1],
    winograd: true,
  },
  { name: 'Winograd', x: [2, 7, 9, 8], w: [3, 3, 8, 17], stride: 1, padding: 1, winograd: true },
  {
    name: 'Winograd, channel tail',
    x: [1, 9, 7, 13],
    w: [3, 3, 13, 5],
    stride: 1,
    padding: [0, 1, 2, 0],
    winograd: true,
  },
  {
    name: 'im2col (Winograd off)',
    x: [1, 9, 7, 13],
    w: [3, 3, 13, 5],
    stride: 1,
    padding: [0, 1, 2, 0],
    winograd: false,
  },
  { name: 'im2col, stride 2', x: [2, 13, 13, 3], w: [3, 3, 3, 17], stride: 2, padding: [1, 0, 2, 1], winograd: true },
  { name: 'pointwise', x: [1, 7, 5, 9], w: [1, 1, 9, 13], stride: 1, padding: 'valid', winograd: false },
  { name: 'im2col, two threads', x: [6, 17, 17, 3], w: [3, 3, 3, 16], stride: 1, padding: 1, winograd: false },
  { name: 'Winograd, two threads', x: [4, 16, 16, 8], w: [3, 3, 8, 16], stride: 1, padding: 1, winograd: true },
  {
    name: 'Winograd, wide padding',
    x: [1, 6, 7, 9],
    w: [3, 3, 9, 6],
    stride: 1,
    padding: [2, 0, 1, 2],
    winograd: true,
  },
  {
    name: 'single channel, padding wider than the kernel',
    x: [1, 5, 6, 1],
    w: [3, 3, 1, 4],
    stride: 1,
    padding: 3,
    winograd: false,
  },
  {
    name: 'im2col, stride 2, padding wider than the kernel',
    x: [1, 5, 5, 2],
    w: [2, 2, 2, 3],
    stride: 2,
    padding: 3,
    winograd: false,
  },
  { name: 'single channel, two threads', x: [12, 13, 11, 1], w: [5, 5, 1, 17], stride: 1, padding: 2, winograd: false },
];

describe('ReferenceBackend agrees with WasmBackend: int8', () => {
  it.each([
    { scale: 0.25, zp: -3 },
    { scale: 0.5, zp: 7 },
    { scale: 0.013, zp: 0 },
  ])('quantize (ties to even, saturation, NaN) and dequantize, scale $scale zero point $zp', ({ scale, zp }) => {
    for (const n of [37, 70001]) {
      const x = rand(n, 92).map((v) => v * 3);
      x.set([0.125, 0.375, -0.125, -0.375, 0.625, 1000, -1000, Number.NaN, 32.375, -32.625]);
      const q = randInt8(n, 93);
      agree((s) => {
        const [qy, xy] = [s.out(n, 'int8'), s.out(n)];
        s.be.int8?.quantize(s.f32(x), n, scale, zp, qy);
        s.be.int8?.dequantize(s.i8(q), n, scale, zp, xy);
        return { q: s.get(qy, n, 'int8'), x: s.get(xy, n) };
      }, 'exact');
    }
  });

  const GEMMS: [number, number, number][] = [
    [1, 1, 1],
    [3, 7, 5],
    [5, 17, 8],
    [13, 33, 17],
    [7, 2, 13],
    [600, 33, 33],
  ];
  it.each(GEMMS.flatMap(([M, K, N], i) => [{ M, K, N, ...I8_EPILOGUES[i % 4] }]))(
    'gemm $M x $K x $N: relu $relu, bias $bias, zx $zx, zy $zy',
    ({ M, K, N, ...c }) => {
      const [x, w, scales] = [randInt8(M * K, 94), randInt8(K * N, 95, -127, 127), weightScales(N, 96)];
      const run = (s: Scope, ep: Int8Epilogue, y: Buf) => {
        const p = s.be.int8?.prepareGemm(w, K, N, scales);
        if (!p) throw new Error('no int8 family');
        s.be.int8?.gemm(s.i8(x), M, 0.02, c.zx, p, y, ep);
        s.be.release(p);
      };
      agreeInt8(c, N, M * N, run, { count: M * N, compare: true });
    },
  );

  const convCases = I8_CONVS.flatMap((c, i) =>
    [false, true].map((pool) => ({ ...c, pool, ep: I8_EPILOGUES[(i + +pool) % 4] })),
  );
  it.each(convCases)('conv2d $name, x $x w $w, pool $pool (relu $ep.relu, bias $ep.bias, zx $ep.zx)', (c) => {
    const g = conv2dGeometry(c.x, c.w, c.stride, c.padding);
    const [x, w, scales] = [randInt8(inSize(g), 97), randInt8(wSize(g), 98, -127, 127), weightScales(g.OC, 99)];
    const count = c.pool ? g.N * Math.floor(g.OH / 2) * Math.floor(g.OW / 2) * g.OC : outSize(g);
    const run = (s: Scope, ep: Int8Epilogue, y: Buf, pool: boolean) => {
      const p = s.be.int8?.prepareConv(w, c.w, scales, g, { winograd: c.winograd, pool });
      if (!p) throw new Error('no int8 family');
      s.be.int8?.conv2d(s.i8(x), 0.03, c.ep.zx, p, g, y, ep);
      s.be.release(p);
    };
    // The fused pooling outputs int8 only: its scale comes from the unpooled float32 output.
    agreeInt8(c.ep, g.OC, count, (s, ep, y) => run(s, ep, y, c.pool), {
      count: outSize(g),
      compare: !c.pool,
      run: (s, ep, y) => run(s, ep, y, false),
    });
  });

  it.each(POOLS.map((p) => ({ ...p, g: pool2dGeometry(p.x, p.k, p.stride, p.padding) })))(
    'maxPool2d x $x k $k stride $stride padding $padding (padding never wins)',
    ({ g }) => {
      const x = randInt8(inSize(g), 100, -128, -100); // all negative: a padding 0 would win
      agree((s) => {
        const y = s.out(pooledSize(g), 'int8');
        s.be.int8?.maxPool2d(s.i8(x), g, y);
        return { y: s.get(y, pooledSize(g), 'int8') };
      }, 'exact');
    },
  );

  it.each([
    [3, 13, 33],
    [2, 2, 17],
    [4, 4, 5],
    [8, 400, 33],
  ])('globalAvgPool N %i HW %i C %i (ties to even)', (N, HW, C) => {
    const x = randInt8(N * HW * C, 101);
    agree((s) => {
      const y = s.out(N * C, 'int8');
      s.be.int8?.globalAvgPool(s.i8(x), N, HW, C, y);
      return { y: s.get(y, N * C, 'int8') };
    }, 'exact');
  });
});

// ---- known divergences ----------------------------------------------------------------------

// Edge cases where the kernels do not (yet) give what the reference gives. `it.fails` passes
// while they differ: once a kernel is fixed its case turns red, and becomes a plain test.
// The wasm kernels fail these (it.fails); the WebGPU kernels must pass them.
const DIVERGENCES: [string, (s: Scope) => Outputs][] = [
  [
    'gemm with K = 0 stores epilogue(0) = bias (wasm: the K loop never runs, C is left as it was)',
    (s) => {
      const c = s.out(6);
      s.be.gemm(s.f32([]), s.f32([]), c, 2, 0, 3, { bias: s.f32([1, 2, 3]) });
      return { c: s.get(c, 6) };
    },
  ],
  [
    'reduce over an empty axis stores the identity (wasm: returns early, out is left as it was)',
    (s) => {
      const out = s.out(3);
      s.be.reduce('sum', s.f32([]), [3, 0], [1], out);
      return { out: s.get(out, 3) };
    },
  ],
  [
    'the GEMM epilogue relu maps NaN to 0 as unary relu does (wasm: full 4x8 tiles keep NaN)',
    (s) => {
      const c = s.out(4 * 9);
      s.be.gemm(s.f32([Number.NaN, 1, 1, 1]), s.f32(new Float32Array(9).fill(1)), c, 4, 1, 9, { activation: 'relu' });
      return { c: s.get(c, 4 * 9) };
    },
  ],
];
const wasmOnly = wasm.filter((b) => b instanceof WasmBackend);
const gpuOnly = wasm.filter((b) => b instanceof WebGpuBackend);

describe('known divergences of the wasm kernels (it.fails), which WebGPU gets right', () => {
  it.fails.each(wasmOnly.length ? DIVERGENCES : [])('wasm: %s', (_name, run) => agree(run, 1e-5, wasmOnly));
  it.skipIf(!gpuOnly.length).each(DIVERGENCES)('webgpu: %s', (_name, run) => agree(run, 1e-5, gpuOnly));
});

// ---- the reference by hand -------------------------------------------------------------------

describe('ReferenceBackend by hand', () => {
  /** Runs f on the reference with fresh buffers, returning what it returns. */
  function onRef<T>(f: (s: Scope) => T): T {
    const s = new Scope(ref);
    try {
      return f(s);
    } finally {
      s.free();
    }
  }
  const close = (actual: number[], expected: number[], tol = 1e-6) => {
    expect(actual.length).toBe(expected.length);
    actual.forEach((a, i) => {
      expect(a).toBeCloseTo(expected[i], -Math.log10(tol));
    });
  };

  it('allocates 64-byte aligned, non-zero blocks; reuses freed ones; keeps data when the heap grows', () => {
    const be = new ReferenceBackend();
    const a = be.alloc(0);
    const b = be.alloc(100);
    expect(a).toBeGreaterThan(0);
    expect([a % 64, b % 64]).toEqual([0, 0]);
    expect(b).not.toBe(a);
    be.write(b, 'float32', [1.5, -2, 3], 0);
    be.write(b, 'int32', [7], 3);
    expect(Array.from(be.read(b, 'float32', 3))).toEqual([1.5, -2, 3]);
    expect(Array.from(be.read(b, 'int32', 4))).toEqual([1069547520, -1073741824, 1077936128, 7]);
    expect(be.memoryStats()).toMatchObject({ liveBytes: 64 + 128, liveBlocks: 2, cachedBytes: 0 });
    be.free(a);
    expect(be.memoryStats()).toMatchObject({ liveBytes: 128, liveBlocks: 1, cachedBytes: 64, peakLiveBytes: 192 });
    expect(be.alloc(10)).toBe(a);
    const big = be.alloc(4 << 20);
    expect(be.memoryStats().wasmBytes).toBeGreaterThanOrEqual(big + (4 << 20));
    expect(Array.from(be.read(b, 'float32', 3))).toEqual([1.5, -2, 3]);
    be.f32(big, 4).set([1, 2, 3, 4]);
    be.i32(b, 1)[0] = 0;
    expect(Array.from(be.read(big, 'float32', 4))).toEqual([1, 2, 3, 4]);
    expect(be.read(b, 'float32', 1)[0]).toBe(0);
    const bytes = be.alloc(3);
    be.write(bytes, 'int8', [0, 0, 0]);
    be.write(bytes, 'int8', [-1, 127], 1);
    expect(Array.from(be.read(bytes, 'int8', 3))).toEqual([0, -1, 127]);
    expect(() => be.free(12345)).toThrow(/not a live buffer/);
    be.dispose();
  });

  it('elementwise: gelu (tanh approximation), leakyRelu, sigmoid, broadcasting, eq / gt, where', () => {
    onRef((s) => {
      const x = s.f32([1, -1, 0, 2]);
      const out = s.out(4);
      s.be.unary('gelu', x, out, 4);
      close(s.get(out, 4), [0.8411920071, -0.1588079929, 0, 1.9545977115]);
      s.be.unary('leakyRelu', x, out, 4, 0.2);
      close(s.get(out, 4), [1, -0.2, 0, 2]);
      s.be.unary('leakyRelu', x, out, 4);
      close(s.get(out, 4), [1, -0.01, 0, 2]);
      s.be.unary('sigmoid', x, out, 4);
      close(s.get(out, 4), [0.7310585786, 0.2689414214, 0.5, 0.880797078]);
      const sum = s.out(6);
      s.be.binary('add', s.f32([10, 20, 30]), [3, 1], s.f32([1, 2]), [1, 2], sum);
      expect(s.get(sum, 6)).toEqual([11, 12, 21, 22, 31, 32]);
      const cmp = s.out(3);
      s.be.binary('eq', s.f32([1, 2, 3]), [3], s.f32([2]), [], cmp);
      expect(s.get(cmp, 3)).toEqual([0, 1, 0]);
      s.be.binary('gt', s.f32([1, 2, 3]), [3], s.f32([2]), [], cmp);
      expect(s.get(cmp, 3)).toEqual([0, 0, 1]);
      const picked = s.out(4);
      s.be.where(s.f32([1, 0]), [2, 1], s.f32([5, 6]), [2], s.f32([-1]), [], picked);
      expect(s.get(picked, 4)).toEqual([5, 6, -1, -1]);
      const dx = s.out(2);
      s.be.unaryBackward('abs', s.f32([-3, 0]), s.f32([3, 0]), s.f32([2, 2]), dx, 2);
      expect(s.get(dx, 2)).toEqual([-2, 0]);
    });
  });

  it('reduce, argmax, softmax of [0, ln 2], cross-entropy with label smoothing', () => {
    onRef((s) => {
      const x = s.f32([1, 2, 3, 4, 5, 6]);
      const out = s.out(3);
      s.be.reduce('sum', x, [2, 3], [0], out);
      expect(s.get(out, 3)).toEqual([5, 7, 9]);
      s.be.reduce('mean', x, [2, 3], [1], out);
      expect(s.get(out, 2)).toEqual([2, 5]);
      s.be.reduce('max', x, [2, 3], [0, 1], out);
      expect(s.get(out, 1)).toEqual([6]);
      for (const [fn, identity] of [
        ['sum', 0],
        ['mean', Number.NaN],
        ['max', Number.NEGATIVE_INFINITY],
      ] as const) {
        s.be.reduce(fn, x, [2, 0], [1], out);
        expect(s.get(out, 2)).toEqual([identity, identity]);
      }
      const am = s.out(2, 'int32');
      s.be.argmax(s.f32([1, 3, 3, Number.NaN, -1, -2]), 2, 3, am);
      expect(s.get(am, 2, 'int32')).toEqual([1, 1]);
      const logits = s.f32([0, Math.LN2]);
      const p = s.out(2);
      s.be.softmax(logits, 1, 2, p, false);
      close(s.get(p, 2), [1 / 3, 2 / 3]);
      s.be.softmax(logits, 1, 2, p, true);
      close(s.get(p, 2), [Math.log(1 / 3), Math.log(2 / 3)]);
      const [loss, probs, dLogits] = [s.out(1), s.out(2), s.out(2)];
      s.be.softmaxCrossEntropy(logits, s.i32([1]), 1, 2, loss, probs, 0.1);
      // target = 0.9 · [0, 1] + 0.1 / 2 = [0.05, 0.95]
      close(s.get(loss, 1), [-(0.05 * Math.log(1 / 3) + 0.95 * Math.log(2 / 3))]);
      s.be.softmaxCrossEntropyBackward(probs, s.i32([1]), 1, 2, s.f32([2]), dLogits, 0.1);
      close(s.get(dLogits, 2), [2 * (1 / 3 - 0.05), 2 * (2 / 3 - 0.95)]);
    });
  });

  it('gemm with bias and relu, transposed operands, a 2x2 convolution, its gradients', () => {
    onRef((s) => {
      const c = s.out(4);
      const ep: Epilogue = { bias: s.f32([0.5, 0.5]), activation: 'relu' };
      s.be.gemm(s.f32([1, 2, 3, 4]), s.f32([1, 0, 0, -1]), c, 2, 2, 2, ep);
      expect(s.get(c, 4)).toEqual([1.5, 0, 3.5, 0]);
      // Aᵀ = [[1, 3], [2, 4]], Bᵀ = [[1, 0], [0, -1]]: Aᵀ·Bᵀ = [[1, -3], [2, -4]]
      s.be.gemm(s.f32([1, 2, 3, 4]), s.f32([1, 0, 0, -1]), c, 2, 2, 2, { transA: true, transB: true });
      expect(s.get(c, 4)).toEqual([1, -3, 2, -4]);
      s.be.gemm(s.f32([]), s.f32([]), c, 2, 0, 2, { bias: s.f32([5, 6]), activation: 'relu' });
      expect(s.get(c, 4)).toEqual([5, 6, 5, 6]); // K = 0: the epilogue of an empty sum
      // x 3x3 = 1..9, w 2x2 = [[1, 2], [3, 4]] (one channel in and out), valid, stride 1
      const g = conv2dGeometry([1, 3, 3, 1], [2, 2, 1, 1]);
      const [x, w, y] = [s.f32([1, 2, 3, 4, 5, 6, 7, 8, 9]), s.f32([1, 2, 3, 4]), s.out(4)];
      s.be.conv2d(x, w, g, y);
      expect(s.get(y, 4)).toEqual([37, 47, 67, 77]);
      const [dx, dw] = [s.out(9), s.out(4)];
      s.be.conv2dBackwardData(s.f32([1, 0, 0, 0]), w, g, dx);
      expect(s.get(dx, 9)).toEqual([1, 2, 0, 3, 4, 0, 0, 0, 0]);
      s.be.conv2dBackwardWeight(x, s.f32([1, 1, 1, 1]), g, dw);
      expect(s.get(dw, 4)).toEqual([12, 16, 24, 28]);
      // stride 2 with padding 1 on the top/left: the window of output (0, 0) holds only x[0, 0]
      const g2 = conv2dGeometry([1, 3, 3, 1], [2, 2, 1, 1], 2, [1, 1, 0, 0]);
      s.be.conv2d(x, w, g2, y);
      expect(s.get(y, 4)).toEqual([4, 3 * 2 + 4 * 3, 2 * 4 + 4 * 7, 5 + 2 * 6 + 3 * 8 + 4 * 9]);
    });
  });

  it('pooling: argmax is the flat index into the whole batch, 0 skips it; average excludes padding', () => {
    onRef((s) => {
      const g = pool2dGeometry([2, 2, 2, 1], 2, 2);
      const x = s.f32([1, 4, 4, 2, 0, -1, 3, 3]);
      const [y, am] = [s.out(2), s.out(2, 'int32')];
      s.be.maxPool2d(x, g, y, am);
      expect(s.get(y, 2)).toEqual([4, 3]);
      expect(s.get(am, 2, 'int32')).toEqual([1, 6]);
      s.be.maxPool2d(x, g, y, 0);
      expect(s.get(y, 2)).toEqual([4, 3]);
      const dx = s.out(8);
      s.be.maxPool2dBackward(s.f32([10, 20]), am, g, dx);
      expect(s.get(dx, 8)).toEqual([0, 10, 0, 0, 0, 0, 20, 0]);
      const ga = pool2dGeometry([1, 2, 2, 1], 2, 1, 1);
      const ya = s.out(9);
      s.be.avgPool2d(s.f32([1, 2, 3, 4]), ga, ya);
      expect(s.get(ya, 9)).toEqual([1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4]);
      const gy = s.out(2);
      s.be.globalAvgPool(s.f32([1, 10, 3, 20]), 1, 2, 2, gy);
      expect(s.get(gy, 2)).toEqual([2, 15]);
    });
  });

  it('batch norm: biased variance, normalization, gradients', () => {
    onRef((s) => {
      const x = s.f32([1, 2, 3, 4]);
      const [m, v, out] = [s.out(1), s.out(1), s.out(4)];
      s.be.batchNormStats(x, 4, 1, m, v);
      expect([s.get(m, 1)[0], s.get(v, 1)[0]]).toEqual([2.5, 1.25]);
      s.be.batchNormForward(x, 4, 1, m, v, 0, s.f32([2]), s.f32([1]), out);
      const z = [-1.5, -0.5, 0.5, 1.5].map((d) => d / Math.sqrt(1.25));
      close(
        s.get(out, 4),
        z.map((t) => 2 * t + 1),
      );
      const [dx, dg, db] = [s.out(4), s.out(1), s.out(1)];
      s.be.batchNormBackward(x, s.f32([1, 1, 1, 1]), 4, 1, m, v, 0, 0, dx, dg, db);
      close(s.get(dx, 4), [0, 0, 0, 0]); // a constant dy moves nothing through the mean
      close([s.get(dg, 1)[0], s.get(db, 1)[0]], [0, 4]);
    });
  });

  it('layout: transpose, slice, sliceBackward, concat', () => {
    onRef((s) => {
      const x = s.f32([1, 2, 3, 4, 5, 6]);
      const out = s.out(6);
      s.be.transpose(x, [2, 3], [1, 0], out);
      expect(s.get(out, 6)).toEqual([1, 4, 2, 5, 3, 6]);
      s.be.slice(x, [2, 3], [0, 1], [2, 2], out);
      expect(s.get(out, 4)).toEqual([2, 3, 5, 6]);
      s.be.sliceBackward(s.f32([7, 8]), [1, 2], [1, 0], out, [2, 3]);
      expect(s.get(out, 6)).toEqual([0, 0, 0, 7, 8, 0]);
      s.be.concat(
        [
          { buf: s.f32([1, 2]), shape: [2, 1] },
          { buf: s.f32([3, 4, 5, 6]), shape: [2, 2] },
        ],
        -1,
        out,
      );
      expect(s.get(out, 6)).toEqual([1, 3, 4, 2, 5, 6]);
    });
  });

  it('gather, scatterAdd, embeddingBag (mean, empty bag 0) and its backward', () => {
    onRef((s) => {
      const table = s.f32([1, 2, 3, 4, 5, 6]); // 3 rows of 2
      const out = s.out(6);
      s.be.gather(table, 2, s.i32([2, -1, 0]), 3, out);
      expect(s.get(out, 6)).toEqual([5, 6, 0, 0, 1, 2]);
      const dTable = s.f32(new Float32Array(6));
      s.be.scatterAdd(s.f32([1, 1, 2, 2, 3, 3]), 2, s.i32([1, -1, 1]), 3, dTable);
      expect(s.get(dTable, 6)).toEqual([0, 0, 4, 4, 0, 0]);
      const bags = s.i32([0, 2, -1, -1, -1, -1]);
      s.be.embeddingBag(table, 2, bags, 3, 2, out);
      expect(s.get(out, 6)).toEqual([3, 4, 0, 0, 0, 0]);
      s.be.embeddingBagBackward(s.f32([2, 4, 9, 9, 9, 9]), 2, bags, 3, 2, dTable);
      expect(s.get(dTable, 6)).toEqual([1, 2, 4, 4, 1, 2]);
    });
  });

  it('optimizers: SGD with momentum as torch (buffer starts as the gradient), Adam first step ≈ lr, sumSquares', () => {
    onRef((s) => {
      const [p, buf] = [s.f32([1]), s.out(1)];
      const sgd = { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0 };
      s.be.sgdStep(p, s.f32([0.5]), buf, 1, { ...sgd, firstStep: true });
      close([s.get(p, 1)[0], s.get(buf, 1)[0]], [0.95, 0.5]);
      s.be.sgdStep(p, s.f32([0.5]), buf, 1, { ...sgd, firstStep: false });
      close([s.get(p, 1)[0], s.get(buf, 1)[0]], [0.855, 0.95]);
      const [q, m, v] = [s.f32([1, 1]), s.f32([0, 0]), s.f32([0, 0])];
      const adam = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, step: 1 };
      s.be.adamStep(q, s.f32([0.3, -2]), m, v, 2, adam);
      close(s.get(q, 2), [0.9, 1.1]);
      s.be.adamStep(q, s.f32([0, 0]), m, v, 2, { ...adam, weightDecay: 0.5, decoupled: true, step: 2 });
      // decayed by 1 − lr·wd, then moved on by the momentum alone (g = 0)
      const [m2, v2] = [0.9 * 0.03, 0.999 * 0.001 * 0.09];
      const step2 = ((0.1 / (1 - 0.9 ** 2)) * m2) / (Math.sqrt(v2) / Math.sqrt(1 - 0.999 ** 2) + 1e-8);
      close([s.get(q, 2)[0]], [0.9 * 0.95 - step2]);
      expect(s.be.sumSquares(s.f32([1, 2, 3]), 3)).toBe(14);
    });
  });

  it('int8: quantize rounds half to even and saturates; the epilogue by hand; average ties to even; fused pool', () => {
    onRef((s) => {
      const int8 = s.be.int8;
      if (!int8) throw new Error('no int8 family');
      const q = s.out(8, 'int8');
      int8.quantize(s.f32([0.5, 1.5, 2.5, -0.5, -1.5, 300, -300, Number.NaN]), 8, 1, 0, q);
      expect(s.get(q, 8, 'int8')).toEqual([0, 2, 2, 0, -2, 127, -128, 0]);
      int8.quantize(s.f32([0.5, 1.5, 2.5]), 3, 1, 3, q);
      expect(s.get(q, 3, 'int8')).toEqual([3, 5, 5]);
      const xf = s.out(2);
      int8.dequantize(s.i8([-128, 127]), 2, 0.5, -1, xf);
      expect(s.get(xf, 2)).toEqual([-63.5, 64]);
      // x = [10, 20], zx = 10: x − zx = [0, 10]; w = [1, 2]ᵀ: acc = 20; sx·sw = 0.5·0.25: 2.5 real
      const w = int8.prepareGemm(Int8Array.from([1, 2]), 2, 1, [0.25]);
      const [y8, yf] = [s.out(1, 'int8'), s.out(1)];
      int8.gemm(s.i8([10, 20]), 1, 0.5, 10, w, yf, { out: { kind: 'float32' }, bias: s.f32([0.5]) });
      expect(s.get(yf, 1)).toEqual([3]);
      int8.gemm(s.i8([10, 20]), 1, 0.5, 10, w, y8, { out: { kind: 'int8', scale: 1, zeroPoint: 3 } });
      expect(s.get(y8, 1, 'int8')).toEqual([2 + 3]); // 2.5 rounds to 2
      int8.gemm(s.i8([10, 0]), 1, 0.5, 10, w, y8, { out: { kind: 'int8', scale: 1, zeroPoint: 3 }, relu: true });
      expect(s.get(y8, 1, 'int8')).toEqual([3]); // −2.5 → ReLU 0 → the zero point
      s.be.release(w);
      const avg = s.out(4, 'int8');
      int8.globalAvgPool(s.i8([1, 3, -1, 2, 2, 4, -2, 3]), 1, 2, 4, avg);
      expect(s.get(avg, 4, 'int8')).toEqual([2, 4, -2, 2]); // 1.5 → 2, 3.5 → 4, −1.5 → −2, 2.5 → 2
      // 1x1 conv (weight 1, scale 1) of a 3x3 image, fused 2x2 max pool: the odd last row/column are dropped
      const g = conv2dGeometry([1, 3, 3, 1], [1, 1, 1, 1]);
      const pc = int8.prepareConv(Int8Array.from([1]), [1, 1, 1, 1], [1], g, { winograd: false, pool: true });
      const pooled = s.out(1, 'int8');
      int8.conv2d(s.i8([1, 5, 9, 2, 3, 9, 9, 9, 9]), 1, 0, pc, g, pooled, {
        out: { kind: 'int8', scale: 1, zeroPoint: 0 },
      });
      expect(s.get(pooled, 1, 'int8')).toEqual([5]);
      s.be.release(pc);
      const mp = s.out(1, 'int8');
      int8.maxPool2d(s.i8([-5, -3, -9, -7]), pool2dGeometry([1, 2, 2, 1], 3, 3, 1), mp);
      expect(s.get(mp, 1, 'int8')).toEqual([-3]);
    });
  });
});
