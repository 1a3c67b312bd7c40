// int8 inference kernels vs naive TypeScript references: the i32 accumulation is compared exactly
// (integers), the requantized int8 outputs exactly (the reference repeats the kernel's documented
// f32 steps with Math.fround, as/int8_epilogue.ts), float32 outputs within 1e-5 of f64 math.
// Odd GEMM shapes, every zero-point edge, ReLU, saturation; int8 convolution (padding = zero
// point); quantize/dequantize rounding and clamping; int8 pools; thread splits; memory left flat.
import { describe, expect, it } from 'vitest';
import { ShapeError, ValueError } from '../../src/errors.js';
import type { Engine } from '../../src/kernels/engine.js';
import {
  conv2dC1Int8,
  conv2dInt8,
  conv2dPoolInt8,
  conv2dWinogradInt8,
  convC1Applies,
  dequantize,
  freePackedB8,
  freePackedWino8,
  gemmInt8,
  globalAvgPoolInt8,
  type Int8Epilogue,
  maxPool2dInt8,
  packB8,
  packConvC1,
  packWinograd8,
  quantize,
  winogradApplies,
} from '../../src/kernels/int8.js';
import { type Conv2dGeometry, conv2dGeometry, type Padding, pool2dGeometry } from '../../src/shape/window.js';
import { download, engineConfigs, engineFor, expectClose, ODD, rand, upload } from '../helpers.js';

const f = Math.fround;

/** Deterministic int8 values in [lo, hi]. */
function randInt8(n: number, seed: number, lo = -128, hi = 127): Int8Array {
  return Int8Array.from(rand(n, seed), (v) => Math.min(hi, lo + Math.floor(((v + 1) / 2) * (hi - lo + 1))));
}

function uploadI8(e: Engine, data: Int8Array): number {
  const p = e.alloc(data.length);
  new Int8Array(e.memory.buffer, p, data.length).set(data);
  return p;
}

function downloadI8(e: Engine, p: number, n: number): Int8Array {
  return new Int8Array(e.memory.buffer, p, n).slice();
}

function roundHalfEven(v: number): number {
  const fl = Math.floor(v);
  const d = v - fl;
  if (d !== 0.5) return d < 0.5 ? fl : fl + 1;
  return fl % 2 === 0 ? fl : fl + 1;
}

function sat8(v: number): number {
  return Math.max(-128, Math.min(127, v));
}

/** acc[m, n] = Σk (qx[m, k] − zx) · qw[k, n], exact. */
function refAcc(qx: Int8Array, qw: Int8Array, M: number, K: number, N: number, zx: number): Int32Array {
  const acc = new Int32Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (qx[m * K + k] - zx) * qw[k * N + n];
      acc[m * N + n] = s;
    }
  return acc;
}

interface Quant {
  sx: number;
  sw: Float32Array;
  bias?: Float32Array;
  relu: boolean;
}

/** The kernel's epilogue, step by step in f32 (see as/int8_epilogue.ts). */
function refInt8Out(acc: Int32Array, N: number, q: Quant, sy: number, zy: number): Int8Array {
  const outMul = f(1 / sy);
  return Int8Array.from(acc, (a, i) => {
    const n = i % N;
    const mul = f(f(q.sw[n] * f(q.sx)) * outMul);
    const add = q.bias ? f(q.bias[n] * outMul) : 0;
    let t = f(f(f(a) * mul) + add);
    if (q.relu && t < 0) t = 0;
    return sat8(roundHalfEven(t) + zy);
  });
}

/** y = sx · sw[n] · acc + bias[n] (then ReLU) in f64. */
function refFloatOut(acc: Int32Array, N: number, q: Quant): Float64Array {
  return Float64Array.from(acc, (a, i) => {
    const n = i % N;
    const y = f(q.sx) * q.sw[n] * a + (q.bias ? q.bias[n] : 0);
    return q.relu ? Math.max(y, 0) : y;
  });
}

/** Float outputs within 1e-5 relative to the largest magnitude (f32 rounding of a cancelling sum). */
function expectCloseRel(actual: ArrayLike<number>, expected: Float64Array): void {
  const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  expectClose(actual, expected, 1e-5 * scale + 1e-30, 1e-5);
}

function expectEqualInts(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) expect.fail(`index ${i}: got ${actual[i]}, expected ${expected[i]}`);
  }
}

/** Output scale so that outputs span about ±150 quanta: some saturate. */
function outScale(acc: Int32Array, N: number, q: Quant): number {
  const y = refFloatOut(acc, N, q);
  return Math.max(1e-6, y.reduce((m, v) => Math.max(m, Math.abs(v)), 0) / 150);
}

const ZPS = [-128, 0, 5, 127];

/** M x K x N combinations over ODD: every M and K, N rotating, so each remainder path appears. */
const SHAPES: [number, number, number][] = ODD.flatMap((M, i) =>
  ODD.map((K, j): [number, number, number] => [M, K, ODD[(i + 2 * j) % ODD.length]]),
);

describe.each(engineConfigs())('int8 kernels isa=$isa threads=$threads', (cfg) => {
  const e = engineFor(cfg);

  /** Runs gemmInt8 with both outputs and checks them; returns nothing, frees everything. */
  function checkGemm(qx: Int8Array, qw: Int8Array, M: number, K: number, N: number, zx: number, q: Quant, zy: number) {
    const acc = refAcc(qx, qw, M, K, N, zx);
    const px = uploadI8(e, qx);
    const pw = uploadI8(e, qw);
    const pbias = q.bias ? upload(e, q.bias) : undefined;
    const py = e.alloc(M * N * 4);
    const packed = packB8(e, pw, K, N, q.sw);
    const live = e.memoryStats().liveBytes;
    const sy = outScale(acc, N, q);
    gemmInt8(e, px, M, q.sx, zx, packed, py, {
      bias: pbias,
      relu: q.relu,
      out: { kind: 'int8', scale: sy, zeroPoint: zy },
    });
    expectEqualInts(downloadI8(e, py, M * N), refInt8Out(acc, N, q, sy, zy));
    gemmInt8(e, px, M, q.sx, zx, packed, py, { bias: pbias, relu: q.relu, out: { kind: 'float32' } });
    expectCloseRel(download(e, py, M * N), refFloatOut(acc, N, q));
    expect(e.memoryStats().liveBytes).toBe(live);
    freePackedB8(e, packed);
    for (const p of [px, pw, py, pbias]) if (p !== undefined) e.free(p);
  }

  function quant(N: number, seed: number, relu: boolean, bias: boolean): Quant {
    const sw = Float32Array.from(rand(N, seed), (v) => 0.002 + 0.004 * (v + 1));
    return { sx: 0.05, sw, relu, bias: bias ? Float32Array.from(rand(N, seed + 1), (v) => 3 * v) : undefined };
  }

  it.each(SHAPES)('gemmInt8 M=%i K=%i N=%i: every zero point, ReLU on/off, int8 and float32 out', (M, K, N) => {
    const qx = randInt8(M * K, M * 1000 + K);
    const qw = randInt8(K * N, K * 1000 + N, -127, 127);
    ZPS.forEach((zx, i) => {
      checkGemm(qx, qw, M, K, N, zx, quant(N, i + 3, i % 2 === 0, i !== 1), ZPS[(i + 1) % ZPS.length]);
    });
  });

  it('saturates at the int8 range edges and keeps exact i32 sums of extreme values', () => {
    for (const [M, K, N] of [
      [5, 1001, 9],
      [8, 1, 8],
      [1, 777, 24],
    ]) {
      for (const [xv, wv] of [
        [127, 127],
        [-128, 127],
        [-128, -127],
      ]) {
        const qx = new Int8Array(M * K).fill(xv);
        const qw = Int8Array.from({ length: K * N }, (_, i) => (i % 3 === 0 ? -wv : wv));
        for (const zx of [-128, 127]) checkGemm(qx, qw, M, K, N, zx, quant(N, 7, false, true), 0);
      }
      // Tiny output scale: everything clamps to -128 or 127 whatever the zero point.
      const qx = randInt8(M * K, 11);
      const qw = randInt8(K * N, 12, -127, 127);
      const pw = uploadI8(e, qw);
      const px = uploadI8(e, qx);
      const py = e.alloc(M * N);
      const sw = new Float32Array(N).fill(0.01);
      const packed = packB8(e, pw, K, N, sw);
      for (const zy of [-128, 127]) {
        gemmInt8(e, px, M, 0.1, 3, packed, py, { out: { kind: 'int8', scale: 1e-9, zeroPoint: zy } });
        const acc = refAcc(qx, qw, M, K, N, 3);
        expectEqualInts(
          downloadI8(e, py, M * N),
          Int8Array.from(acc, (a) => (a > 0 ? 127 : a < 0 ? -128 : zy)),
        );
      }
      freePackedB8(e, packed);
      for (const p of [pw, px, py]) e.free(p);
    }
  });

  it('splits a large GEMM across threads with the same results (M=300 K=300 N=70)', () => {
    const [M, K, N] = [300, 300, 70];
    checkGemm(randInt8(M * K, 21), randInt8(K * N, 22, -127, 127), M, K, N, -7, quant(N, 23, true, true), 9);
  });

  it('runs a GEMM whose packed A exceeds one chunk in row chunks (M=600 K=4001 N=5)', () => {
    const [M, K, N] = [600, 4001, 5];
    checkGemm(randInt8(M * K, 24), randInt8(K * N, 25, -127, 127), M, K, N, 100, quant(N, 26, false, true), -3);
  });

  it('rejects bad shapes, scales and zero points', () => {
    const pw = uploadI8(e, new Int8Array(12));
    expect(() => packB8(e, pw, 3, 4, [1, 1, 1])).toThrow(ShapeError);
    expect(() => packB8(e, pw, 3, 4, [1, 1, 0, 1])).toThrow(ValueError);
    const packed = packB8(e, pw, 3, 4, [1, 1, 1, 1]);
    const out: Int8Epilogue['out'] = { kind: 'float32' };
    expect(() => gemmInt8(e, pw, 1, 1, 128, packed, pw, { out })).toThrow(ValueError);
    expect(() => gemmInt8(e, pw, 1, -1, 0, packed, pw, { out })).toThrow(ValueError);
    expect(() => gemmInt8(e, pw, 1, 1, 0, packed, pw, { out: { kind: 'int8', scale: 1, zeroPoint: 1.5 } })).toThrow(
      ValueError,
    );
    freePackedB8(e, packed);
    e.free(pw);
  });

  /** Direct reference: padding taps read zx, so they contribute (zx − zx)·w = 0. */
  function refConvAcc(qx: Int8Array, qw: Int8Array, g: Conv2dGeometry, zx: number): Int32Array {
    const acc = new Int32Array(g.N * g.OH * g.OW * g.OC);
    for (let n = 0; n < g.N; n++)
      for (let oh = 0; oh < g.OH; oh++)
        for (let ow = 0; ow < g.OW; ow++)
          for (let oc = 0; oc < g.OC; oc++) {
            let s = 0;
            for (let kh = 0; kh < g.KH; kh++)
              for (let kw = 0; kw < g.KW; kw++)
                for (let c = 0; c < g.C; c++) {
                  const ih = oh * g.strideH - g.padTop + kh;
                  const iw = ow * g.strideW - g.padLeft + kw;
                  const inside = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
                  const xv = inside ? qx[((n * g.H + ih) * g.W + iw) * g.C + c] : zx;
                  s += (xv - zx) * qw[((kh * g.KW + kw) * g.C + c) * g.OC + oc];
                }
            acc[((n * g.OH + oh) * g.OW + ow) * g.OC + oc] = s;
          }
    return acc;
  }

  const CONVS: [number[], number[], number, Padding][] = [
    [[2, 7, 9, 3], [3, 3, 3, 17], 1, 'same'],
    [[1, 9, 7, 5], [3, 3, 5, 8], 2, 'same'],
    [[3, 8, 8, 1], [5, 5, 1, 7], 1, 'valid'],
    [[1, 11, 13, 17], [2, 3, 17, 33], 2, 'valid'],
    [[2, 5, 6, 33], [1, 1, 33, 9], 1, 'valid'],
    [[1, 6, 5, 7], [1, 1, 7, 5], 2, 'same'],
    [[2, 33, 31, 4], [3, 3, 4, 16], 1, 'same'],
    [[3, 30, 30, 64], [3, 3, 64, 9], 1, 'same'], // M = 2700 rows: two im2col chunks
    [[3, 28, 28, 1], [3, 3, 1, 16], 1, 'same'], // a first layer: 3-byte runs, K = 9
    [[2, 14, 14, 24], [3, 3, 24, 56], 1, 'same'], // K = 216: a partial 16-k chunk
  ];

  it.each(CONVS)('conv2dInt8 x=%j w=%j stride=%i %s (padding = zero point)', (xs, ws, stride, padding) => {
    const g = conv2dGeometry(xs, ws, stride, padding);
    const xn = xs.reduce((a, b) => a * b);
    const K = ws[0] * ws[1] * ws[2];
    const qx = randInt8(xn, 31);
    const qw = randInt8(K * g.OC, 32, -127, 127);
    const M = g.N * g.OH * g.OW;
    const px = uploadI8(e, qx);
    const pw = uploadI8(e, qw);
    const py = e.alloc(M * g.OC * 4);
    for (const [i, zx] of ZPS.entries()) {
      const q = quant(g.OC, 33 + i, i % 2 === 1, i !== 2);
      const pbias = q.bias ? upload(e, q.bias) : undefined;
      const packed = packB8(e, pw, K, g.OC, q.sw);
      const live = e.memoryStats().liveBytes;
      const acc = refConvAcc(qx, qw, g, zx);
      const sy = outScale(acc, g.OC, q);
      const zy = ZPS[3 - i];
      conv2dInt8(e, px, q.sx, zx, packed, g, py, {
        bias: pbias,
        relu: q.relu,
        out: { kind: 'int8', scale: sy, zeroPoint: zy },
      });
      expectEqualInts(downloadI8(e, py, M * g.OC), refInt8Out(acc, g.OC, q, sy, zy));
      conv2dInt8(e, px, q.sx, zx, packed, g, py, { bias: pbias, relu: q.relu, out: { kind: 'float32' } });
      expectCloseRel(download(e, py, M * g.OC), refFloatOut(acc, g.OC, q));
      expect(e.memoryStats().liveBytes).toBe(live);
      freePackedB8(e, packed);
      if (pbias) e.free(pbias);
    }
    for (const p of [px, pw, py]) e.free(p);
  });

  it.each(
    CONVS.filter(([xs, ws, stride, padding]) => {
      const g = conv2dGeometry(xs, ws, stride, padding);
      return g.OH >= 2 && g.OW >= 2;
    }),
  )(
    'conv2dPoolInt8 x=%j w=%j stride=%i %s equals conv2dInt8 then 2×2 maxPool2dInt8, bit for bit',
    (xs, ws, stride, padding) => {
      const g = conv2dGeometry(xs, ws, stride, padding);
      const pg = pool2dGeometry([g.N, g.OH, g.OW, g.OC], 2, 2, 'valid');
      const K = ws[0] * ws[1] * ws[2];
      const qx = randInt8(
        xs.reduce((a, b) => a * b),
        41,
      );
      const qw = randInt8(K * g.OC, 42, -127, 127);
      const px = uploadI8(e, qx);
      const pw = uploadI8(e, qw);
      const M = g.N * g.OH * g.OW;
      const P = g.N * pg.OH * pg.OW;
      const pc = e.alloc(M * g.OC);
      const want = e.alloc(P * g.OC);
      const got = e.alloc(P * g.OC);
      for (const [i, zx] of ZPS.entries()) {
        const q = quant(g.OC, 43 + i, i % 2 === 1, i !== 2);
        const pbias = q.bias ? upload(e, q.bias) : undefined;
        const packed = packB8(e, pw, K, g.OC, q.sw);
        const sy = outScale(refConvAcc(qx, qw, g, zx), g.OC, q);
        const ep: Int8Epilogue = { bias: pbias, relu: q.relu, out: { kind: 'int8', scale: sy, zeroPoint: ZPS[3 - i] } };
        conv2dInt8(e, px, q.sx, zx, packed, g, pc, ep);
        maxPool2dInt8(e, pc, pg, want);
        const live = e.memoryStats().liveBytes;
        conv2dPoolInt8(e, px, q.sx, zx, packed, g, got, ep);
        expect(e.memoryStats().liveBytes).toBe(live);
        expectEqualInts(downloadI8(e, got, P * g.OC), downloadI8(e, want, P * g.OC));
        freePackedB8(e, packed);
        if (pbias) e.free(pbias);
      }
      const ones = packB8(e, pw, K, g.OC, new Array(g.OC).fill(1));
      expect(() => conv2dPoolInt8(e, px, 1, 0, ones, g, got, { out: { kind: 'float32' } })).toThrow(
        /needs an int8 output/,
      );
      freePackedB8(e, ones);
      for (const p of [px, pw, pc, want, got]) e.free(p);
    },
  );

  /** 3x3 / stride-1 convolutions: odd sizes, channel tails (C % 8), panels with N % 8, both paddings. */
  const WINOS: [number[], number, Padding][] = [
    [[2, 7, 9, 3], 17, 'same'], // C = 3: the channel tail only
    [[1, 5, 5, 8], 8, 'same'],
    [[3, 9, 6, 13], 5, 'valid'], // 8 + 5 channels, odd valid output
    [[1, 1, 1, 1], 1, 'same'], // one pixel: a tile that is mostly padding
    [[2, 14, 14, 48], 56, 'same'], // the Fashion-MNIST CNN's second stage
    [[1, 7, 7, 56], 112, 'same'],
    [[5, 11, 10, 24], 9, 'same'],
    [[2, 30, 31, 16], 24, 'same'], // 930 tiles: several chunks and thread splits
    [[1, 4, 5, 8], 264, 'same'], // more output channels than one pass of epilogue constants (256)
  ];

  /** A special convolution kernel: packs its weights, runs (pool: the fused 2×2 max pool), frees. */
  interface SpecialConv<W> {
    pack(qw: Int8Array, sw: Float32Array): W;
    run(px: number, sx: number, zx: number, w: W, y: number, ep: Int8Epilogue, pool: boolean): void;
    free(w: W): void;
  }

  /**
   * Runs `special` and the direct kernels (conv2dInt8, conv2dPoolInt8) on random int8 data for
   * every zero-point edge, ReLU on/off, bias on/off, int8 and float32 outputs: equal bytes.
   */
  function expectSameAsDirect<W>(g: Conv2dGeometry, seed: number, special: SpecialConv<W>): void {
    const K = g.KH * g.KW * g.C;
    const qx = randInt8(g.N * g.H * g.W * g.C, seed);
    const qw = randInt8(K * g.OC, seed + 1, -127, 127);
    const px = uploadI8(e, qx);
    const pw = uploadI8(e, qw);
    const M = g.N * g.OH * g.OW;
    const P = g.N * Math.floor(g.OH / 2) * Math.floor(g.OW / 2);
    const want = e.alloc(M * g.OC * 4);
    const got = e.alloc(M * g.OC * 4);
    for (const [i, zx] of ZPS.entries()) {
      const q = quant(g.OC, seed + 2 + i, i % 2 === 1, i !== 2);
      const pbias = q.bias ? upload(e, q.bias) : undefined;
      const direct = packB8(e, pw, K, g.OC, q.sw);
      const w = special.pack(qw, q.sw);
      const sy = outScale(refConvAcc(qx, qw, g, zx), g.OC, q);
      const int8: Int8Epilogue = {
        bias: pbias,
        relu: q.relu,
        out: { kind: 'int8', scale: sy, zeroPoint: ZPS[3 - i] },
      };
      const f32: Int8Epilogue = { bias: pbias, relu: q.relu, out: { kind: 'float32' } };
      const live = e.memoryStats().liveBytes;
      for (const [ep, bytes] of [
        [int8, M * g.OC],
        [f32, M * g.OC * 4],
      ] as const) {
        conv2dInt8(e, px, q.sx, zx, direct, g, want, ep);
        special.run(px, q.sx, zx, w, got, ep, false);
        expectEqualInts(downloadI8(e, got, bytes), downloadI8(e, want, bytes));
      }
      if (P > 0) {
        conv2dPoolInt8(e, px, q.sx, zx, direct, g, want, int8);
        special.run(px, q.sx, zx, w, got, int8, true);
        expectEqualInts(downloadI8(e, got, P * g.OC), downloadI8(e, want, P * g.OC));
      }
      expect(e.memoryStats().liveBytes).toBe(live);
      freePackedB8(e, direct);
      special.free(w);
      if (pbias) e.free(pbias);
    }
    for (const p of [px, pw, want, got]) e.free(p);
  }

  it.each(WINOS)(
    'conv2dWinogradInt8 x=%j OC=%i %s equals conv2dInt8 (and the pooled variant conv2dPoolInt8), bit for bit',
    (xs, OC, padding) => {
      const C = xs[3];
      const g = conv2dGeometry(xs, [3, 3, C, OC], 1, padding);
      expectSameAsDirect(g, 51 + C, {
        pack: (qw, sw) => packWinograd8(e, qw, C, OC, sw),
        run: (px, sx, zx, w, y, ep, pool) => conv2dWinogradInt8(e, px, sx, zx, w, g, y, ep, pool),
        free: (w) => freePackedWino8(e, w),
      });
    },
  );

  it('conv2dWinogradInt8 is exact at the range edges: |x − zx| = 255, |w| = 127, 300 channels', () => {
    const C = 300;
    const OC = 9;
    const g = conv2dGeometry([1, 6, 5, C], [3, 3, C, OC], 1, 'same');
    // x = -128 against zx = 127 everywhere, weights ±127 by output channel: interior sums reach
    // 9·300·255·127 (27 bits), Winograd's M[1,1] = 300·(−1020)·(±1143) (29 bits)
    const qx = new Int8Array(6 * 5 * C).fill(-128);
    const qw = Int8Array.from({ length: 9 * C * OC }, (_, i) => ((i % OC) % 2 ? -127 : 127));
    const px = uploadI8(e, qx);
    const pw = uploadI8(e, qw);
    const sw = new Array(OC).fill(1);
    const direct = packB8(e, pw, 9 * C, OC, sw);
    const wino = packWinograd8(e, qw, C, OC, sw);
    const want = e.alloc(30 * OC * 4);
    const got = e.alloc(30 * OC * 4);
    // scale 1 and f32 output: the outputs are f32(the i32 sums), the same rounding in every kernel
    const ep: Int8Epilogue = { out: { kind: 'float32' } };
    conv2dInt8(e, px, 1, 127, direct, g, want, ep);
    conv2dWinogradInt8(e, px, 1, 127, wino, g, got, ep);
    const w = download(e, want, 30 * OC);
    expect(Math.max(...w.map(Math.abs))).toBe(Math.fround(9 * C * 255 * 127)); // the interior pixels
    expectEqualInts(download(e, got, 30 * OC), w);
    expectEqualInts(w, Float32Array.from(refConvAcc(qx, qw, g, 127)));
    freePackedB8(e, direct);
    freePackedWino8(e, wino);
    for (const p of [px, pw, want, got]) e.free(p);
  });

  it('conv2dWinogradInt8 rejects other kernels, strides and weights transformed for another geometry', () => {
    const qw = new Int8Array(9 * 8 * 4);
    const wino = packWinograd8(e, qw, 8, 4, [1, 1, 1, 1]);
    const ep: Int8Epilogue = { out: { kind: 'float32' } };
    const p = e.alloc(4096);
    expect(() => conv2dWinogradInt8(e, p, 1, 0, wino, conv2dGeometry([1, 4, 4, 8], [3, 3, 8, 4], 2), p, ep)).toThrow(
      /3x3 kernel, stride 1/,
    );
    expect(() => conv2dWinogradInt8(e, p, 1, 0, wino, conv2dGeometry([1, 4, 4, 8], [3, 3, 8, 5]), p, ep)).toThrow(
      /C=8 OC=4, geometry has C=8 OC=5/,
    );
    expect(() => conv2dWinogradInt8(e, p, 1, 0, wino, conv2dGeometry([1, 4, 4, 8], [3, 3, 8, 4]), p, ep, true)).toThrow(
      /needs an int8 output/,
    );
    expect(() => packWinograd8(e, qw, 8, 5, [1, 1, 1, 1, 1])).toThrow(/288 weights for \[3, 3, 8, 5\]/);
    expect(() => packWinograd8(e, qw, 8, 4, [1, 1, 0, 1])).toThrow(/scales\[2\]/);
    expect(winogradApplies(conv2dGeometry([1, 4, 4, 8], [3, 3, 8, 4]))).toBe(true);
    expect(winogradApplies(conv2dGeometry([1, 4, 4, 1], [3, 3, 1, 4]))).toBe(false); // too few channels to pay
    expect(winogradApplies(conv2dGeometry([1, 6, 6, 8], [5, 5, 8, 4]))).toBe(false);
    freePackedWino8(e, wino);
    e.free(p);
  });

  /** Single-channel, stride-1 convolutions: kernel widths odd and even, both paddings, N % 8 ≠ 0. */
  const C1S: [number[], number, number, number, Padding][] = [
    [[2, 28, 28, 1], 3, 3, 16, 'same'], // the Fashion-MNIST CNN's first layer
    [[3, 7, 9, 1], 5, 5, 5, 'same'],
    [[1, 9, 6, 1], 2, 3, 17, 'valid'],
    [[2, 5, 5, 1], 1, 1, 8, 'valid'],
    [[1, 40, 38, 1], 3, 3, 9, 'same'], // near the largest padded image that fits the scratch
  ];

  it.each(C1S)(
    'conv2dC1Int8 x=%j %ix%i→%i %s equals conv2dInt8 (and the pooled variant conv2dPoolInt8), bit for bit',
    (xs, KH, KW, OC, padding) => {
      const g = conv2dGeometry(xs, [KH, KW, 1, OC], 1, padding);
      expect(convC1Applies(e, g)).toBe(true);
      expectSameAsDirect(g, 61 + KW, {
        pack: (qw, sw) => packConvC1(e, qw, KH, KW, OC, sw),
        run: (px, sx, zx, w, y, ep, pool) => conv2dC1Int8(e, px, sx, zx, w, g, y, ep, pool),
        free: (w) => freePackedB8(e, w.b),
      });
    },
  );

  it('conv2dC1Int8 refuses what it does not cover: channels, strides, large images, other weights', () => {
    const c1 = packConvC1(e, new Int8Array(9 * 4), 3, 3, 4, [1, 1, 1, 1]);
    const ep: Int8Epilogue = { out: { kind: 'float32' } };
    const p = e.alloc(4096);
    expect(convC1Applies(e, conv2dGeometry([1, 8, 8, 2], [3, 3, 2, 4], 1, 'same'))).toBe(false);
    expect(convC1Applies(e, conv2dGeometry([1, 8, 8, 1], [3, 3, 1, 4], 2, 'same'))).toBe(false);
    expect(convC1Applies(e, conv2dGeometry([1, 224, 224, 1], [3, 3, 1, 4], 1, 'same'))).toBe(false);
    expect(() =>
      conv2dC1Int8(e, p, 1, 0, c1, conv2dGeometry([1, 224, 224, 1], [3, 3, 1, 4], 1, 'same'), p, ep),
    ).toThrow(/padded image of at most/);
    expect(() => conv2dC1Int8(e, p, 1, 0, c1, conv2dGeometry([1, 8, 8, 1], [3, 3, 1, 5], 1, 'same'), p, ep)).toThrow(
      /packed for 3x3→4, geometry is 3x3→5/,
    );
    expect(() =>
      conv2dC1Int8(e, p, 1, 0, c1, conv2dGeometry([1, 8, 8, 1], [3, 3, 1, 4], 1, 'same'), p, ep, true),
    ).toThrow(/needs an int8 output/);
    expect(() => packConvC1(e, new Int8Array(9 * 4), 3, 3, 5, [1, 1, 1, 1, 1])).toThrow(
      /36 weights for \[3, 3, 1, 5\]/,
    );
    freePackedB8(e, c1.b);
    e.free(p);
  });

  it('conv2dInt8 rejects weights packed for another geometry', () => {
    const g = conv2dGeometry([1, 4, 4, 2], [3, 3, 2, 4]);
    const pw = uploadI8(e, new Int8Array(18 * 4));
    const packed = packB8(e, pw, 18, 3, [1, 1, 1]);
    expect(() => conv2dInt8(e, pw, 1, 0, packed, g, pw, { out: { kind: 'float32' } })).toThrow(ShapeError);
    freePackedB8(e, packed);
    e.free(pw);
  });

  /** The kernel's quantization: f32 division, round half to even, add zp, clamp; NaN -> zp. */
  function refQuantize(x: Float32Array, scale: number, zp: number): Int8Array {
    return Int8Array.from(x, (v) =>
      Number.isNaN(v) ? zp : sat8(Math.max(-32768, Math.min(32767, roundHalfEven(f(v / f(scale))))) + zp),
    );
  }

  it.each([1, 7, 17, 33, 129, 1000, 70001])(
    'quantize / dequantize n=%i: half-to-even ties, clamping, round trip',
    (n) => {
      const scale = 0.5;
      const x = Float32Array.from(rand(n, n), (v) => 80 * v);
      // Ties at ±0.5·k quanta, values that clamp, infinities and NaN.
      const special = [0.25, 0.75, -0.25, -0.75, 1.25, 63.25, -64.25, 63.75, 1e9, -1e9, Infinity, -Infinity, NaN, -0];
      special.slice(0, n).forEach((v, i) => {
        x[i] = v;
      });
      const px = upload(e, x);
      const pq = e.alloc(n);
      const pd = e.alloc(n * 4);
      const live = e.memoryStats().liveBytes;
      for (const zp of ZPS) {
        quantize(e, px, n, scale, zp, pq);
        const q = downloadI8(e, pq, n);
        expectEqualInts(q, refQuantize(x, scale, zp));
        dequantize(e, pq, n, scale, zp, pd);
        const d = download(e, pd, n);
        expectEqualInts(
          d,
          Float32Array.from(q, (v) => f(scale) * (v - zp)),
        );
        // Round trip: within half a quantum wherever x lies inside the representable range.
        for (let i = 0; i < n; i++) {
          const lo = scale * (-128 - zp);
          const hi = scale * (127 - zp);
          if (x[i] >= lo && x[i] <= hi) expect(Math.abs(d[i] - x[i])).toBeLessThanOrEqual(scale / 2);
        }
      }
      expect(e.memoryStats().liveBytes).toBe(live);
      for (const p of [px, pq, pd]) e.free(p);
    },
  );

  it('quantize rounds ties to even: 0.5 -> 0, 1.5 -> 2, -2.5 -> -2, and clamps to [-128, 127]', () => {
    const x = Float32Array.from([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 127.5, 128, -128.5, -129, 126.5]);
    const px = upload(e, x);
    const pq = e.alloc(x.length);
    quantize(e, px, x.length, 1, 0, pq);
    expect(Array.from(downloadI8(e, pq, x.length))).toEqual([0, 2, 2, 0, -2, -2, 127, 127, -128, -128, 126]);
    quantize(e, px, x.length, 1, 1, pq);
    expect(Array.from(downloadI8(e, pq, x.length))).toEqual([1, 3, 3, 1, -1, -1, 127, 127, -127, -128, 127]);
    e.free(px);
    e.free(pq);
  });

  const POOLS: [number[], number, number, Padding][] = [
    [[2, 7, 9, 3], 2, 2, 'valid'],
    [[1, 8, 7, 17], 3, 2, 'same'],
    [[2, 9, 9, 33], 3, 1, 'same'],
    [[1, 5, 6, 16], 2, 1, 'valid'],
    [[4, 16, 16, 35], 2, 2, 'valid'],
    [[2, 6, 6, 24], 2, 2, 'valid'], // 16 + 8 lanes
    [[1, 7, 7, 13], 3, 2, 'same'], // 8 lanes + 5
  ];

  it.each(POOLS)('maxPool2dInt8 x=%j window %i stride %i %s: padding never wins', (xs, k, s, padding) => {
    const g = pool2dGeometry(xs, k, s, padding);
    const n = xs.reduce((a, b) => a * b);
    // Mostly -128 so a padded cell that counted (as 0 or anything) would show up.
    const qx = Int8Array.from(randInt8(n, 41), (v, i) => (i % 5 === 0 ? v : -128));
    const px = uploadI8(e, qx);
    const outN = g.N * g.OH * g.OW * g.C;
    const py = e.alloc(outN);
    maxPool2dInt8(e, px, g, py);
    const ref = new Int8Array(outN);
    for (let b = 0; b < g.N; b++)
      for (let oh = 0; oh < g.OH; oh++)
        for (let ow = 0; ow < g.OW; ow++)
          for (let c = 0; c < g.C; c++) {
            let best = -Infinity;
            for (let kh = 0; kh < g.KH; kh++)
              for (let kw = 0; kw < g.KW; kw++) {
                const ih = oh * g.strideH - g.padTop + kh;
                const iw = ow * g.strideW - g.padLeft + kw;
                if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W)
                  best = Math.max(best, qx[((b * g.H + ih) * g.W + iw) * g.C + c]);
              }
            ref[((b * g.OH + oh) * g.OW + ow) * g.C + c] = best;
          }
    expectEqualInts(downloadI8(e, py, outN), ref);
    e.free(px);
    e.free(py);
  });

  it.each([
    [1, 4, 1],
    [3, 4, 17],
    [2, 49, 35],
    [64, 169, 64],
    [5, 2, 16],
  ])('globalAvgPoolInt8 N=%i HW=%i C=%i: exact sum, mean rounded half to even', (N, HW, C) => {
    // HW = 2 with values (1, 2) and (-1, -2) makes ties.
    const qx = randInt8(N * HW * C, 51 + C);
    const px = uploadI8(e, qx);
    const py = e.alloc(N * C);
    globalAvgPoolInt8(e, px, N, HW, C, py);
    const ref = new Int8Array(N * C);
    for (let b = 0; b < N; b++)
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let p = 0; p < HW; p++) s += qx[(b * HW + p) * C + c];
        ref[b * C + c] = roundHalfEven(s / HW);
      }
    expectEqualInts(downloadI8(e, py, N * C), ref);
    e.free(px);
    e.free(py);
  });
});
