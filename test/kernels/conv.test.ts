// Convolution (im2col + GEMM) vs a direct 7-loop reference: odd NHWC shapes, 1x1/3x3/5x5/2x3
// kernels, strides 1/2, valid/same/explicit padding, the fused epilogue, pre-packed weights, both
// backward passes (also vs finite differences), im2col chunking, memory left flat.
import { describe, expect, it } from 'vitest';
import { ShapeError, ValueError } from '../../src/errors.js';
import { conv2d, conv2dBackwardData, conv2dBackwardWeight, conv2dPacked } from '../../src/kernels/conv.js';
import type { Engine } from '../../src/kernels/engine.js';
import { freePacked, packB } from '../../src/kernels/gemm.js';
import { type Conv2dGeometry, conv2dGeometry, type Padding } from '../../src/shape/window.js';
import { download, engineConfigs, engineFor, expectClose, rand, upload } from '../helpers.js';

/** Calls f(x offset, y row offset, w row offset) for every real (non-padding) tap of every output. */
function forEachTap(g: Conv2dGeometry, f: (xi: number, yRow: number, wRow: number) => void): void {
  for (let n = 0; n < g.N; n++)
    for (let oh = 0; oh < g.OH; oh++)
      for (let ow = 0; ow < g.OW; ow++)
        for (let kh = 0; kh < g.KH; kh++)
          for (let kw = 0; kw < g.KW; kw++) {
            const ih = oh * g.strideH - g.padTop + kh;
            const iw = ow * g.strideW - g.padLeft + kw;
            if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
            f(((n * g.H + ih) * g.W + iw) * g.C, ((n * g.OH + oh) * g.OW + ow) * g.OC, (kh * g.KW + kw) * g.C * g.OC);
          }
}

/** y[n, oh, ow, oc] = sum over kh, kw, c of x[n, ih, iw, c] * w[kh, kw, c, oc] (f64). */
function refConv(x: ArrayLike<number>, w: ArrayLike<number>, g: Conv2dGeometry): Float64Array {
  const y = new Float64Array(g.N * g.OH * g.OW * g.OC);
  forEachTap(g, (xi, yr, wr) => {
    for (let c = 0; c < g.C; c++) for (let oc = 0; oc < g.OC; oc++) y[yr + oc] += x[xi + c] * w[wr + c * g.OC + oc];
  });
  return y;
}

function refBackwardData(dy: ArrayLike<number>, w: ArrayLike<number>, g: Conv2dGeometry): Float64Array {
  const dx = new Float64Array(g.N * g.H * g.W * g.C);
  forEachTap(g, (xi, yr, wr) => {
    for (let c = 0; c < g.C; c++) for (let oc = 0; oc < g.OC; oc++) dx[xi + c] += dy[yr + oc] * w[wr + c * g.OC + oc];
  });
  return dx;
}

function refBackwardWeight(x: ArrayLike<number>, dy: ArrayLike<number>, g: Conv2dGeometry): Float64Array {
  const dw = new Float64Array(g.KH * g.KW * g.C * g.OC);
  forEachTap(g, (xi, yr, wr) => {
    for (let c = 0; c < g.C; c++) for (let oc = 0; oc < g.OC; oc++) dw[wr + c * g.OC + oc] += x[xi + c] * dy[yr + oc];
  });
  return dw;
}

/** Loss L = sum(conv(x, w) * r) in f64; its gradients are the backward passes applied to r. */
function loss(x: ArrayLike<number>, w: ArrayLike<number>, r: ArrayLike<number>, g: Conv2dGeometry): number {
  const y = refConv(x, w, g);
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i] * r[i];
  return s;
}

/** Central difference of `loss` w.r.t. element i of `v` (v is copied to f64). */
function numGrad(v: ArrayLike<number>, i: number, f: (v: Float64Array) => number, h = 1e-2): number {
  const p = Float64Array.from(v);
  p[i] += h;
  const lp = f(p);
  p[i] -= 2 * h;
  return (lp - f(p)) / (2 * h);
}

type Case = [
  N: number,
  H: number,
  W: number,
  C: number,
  KH: number,
  KW: number,
  OC: number,
  stride: number | [number, number],
  padding: Padding,
];
const CASES: Case[] = [
  [1, 1, 1, 1, 1, 1, 1, 1, 'valid'],
  [2, 7, 7, 3, 1, 1, 17, 1, 'valid'], // pointwise: no im2col
  [1, 9, 9, 5, 1, 1, 3, 2, 'valid'], // 1x1 but strided: im2col path
  [2, 7, 9, 3, 3, 3, 5, 1, 'same'],
  [3, 9, 7, 5, 3, 3, 17, 2, 'same'],
  [1, 17, 17, 1, 5, 5, 3, 1, 'valid'],
  [3, 17, 9, 1, 5, 5, 1, 2, 'same'],
  [2, 9, 17, 17, 2, 3, 33, [2, 1], [1, 0, 2, 1]],
  [1, 3, 7, 33, 3, 3, 5, 2, 1],
  [1, 3, 3, 3, 3, 3, 5, 1, [3, 4, 3, 4]], // padding wider than the kernel: all-padding outputs
  [2, 8, 9, 4, 2, 4, 6, 1, 'same'], // stride 1, even kernel: asymmetric padding of the flipped conv
  [1, 6, 5, 3, 2, 3, 4, 1, [1, 0, 0, 2]],
  [2, 9, 8, 2, 3, 3, 16, 1, 'same'], // narrow col, OC % 8 = 0: weight gradient reads dy in place
];

function setup(e: Engine, c: Case, seed: number) {
  const [N, H, W, C, KH, KW, OC, stride, padding] = c;
  const g = conv2dGeometry([N, H, W, C], [KH, KW, C, OC], stride, padding);
  const x = rand(N * H * W * C, seed);
  const w = rand(KH * KW * C * OC, seed + 1);
  const dy = rand(N * g.OH * g.OW * OC, seed + 2);
  return { g, x, w, dy, px: upload(e, x), pw: upload(e, w), pdy: upload(e, dy) };
}

describe('conv2dGeometry', () => {
  it('pads like TensorFlow for same (extra on bottom/right) and computes output sizes', () => {
    const g = conv2dGeometry([1, 8, 7, 3], [3, 3, 3, 4], 2, 'same');
    expect([g.OH, g.OW, g.padTop, g.padBottom, g.padLeft, g.padRight]).toEqual([4, 4, 0, 1, 1, 1]);
    const v = conv2dGeometry([2, 9, 17, 5], [2, 3, 5, 6], [2, 1], [1, 0, 2, 1]);
    expect([v.OH, v.OW, v.N, v.C, v.OC, v.strideH, v.strideW]).toEqual([6, 16, 2, 5, 6, 2, 1]);
    expect(conv2dGeometry([1, 5, 5, 1], [5, 5, 1, 1]).OH).toBe(1);
  });

  it('rejects shapes that do not fit, naming both shapes', () => {
    expect(() => conv2dGeometry([1, 5, 5, 3], [3, 3, 4, 8])).toThrow(ShapeError);
    expect(() => conv2dGeometry([1, 5, 5, 3], [3, 3, 4, 8])).toThrow(/\[1, 5, 5, 3\].*\[3, 3, 4, 8\]/);
    expect(() => conv2dGeometry([1, 2, 5, 3], [3, 3, 3, 8])).toThrow(ShapeError);
    expect(() => conv2dGeometry([5, 5, 3], [3, 3, 3, 8])).toThrow(ShapeError);
    expect(() => conv2dGeometry([1, 5, 5, 3], [3, 3, 3])).toThrow(ShapeError);
    expect(() => conv2dGeometry([1, 5, 5, 3], [3, 3, 3, 8], 0)).toThrow(ValueError);
    expect(() => conv2dGeometry([1, 5, 5, 3], [3, 3, 3, 8], 1, -1)).toThrow(ValueError);
  });
});

describe.each(engineConfigs())('conv2d isa=$isa threads=$threads', (cfg) => {
  const e = engineFor(cfg);

  it.each(CASES)('forward N=%i H=%i W=%i C=%i %ix%i OC=%i stride=%j padding=%j', (...c) => {
    const { g, x, w, px, pw, pdy } = setup(e, c, 11);
    const pout = e.alloc(g.N * g.OH * g.OW * g.OC * 4);
    const live = e.memoryStats().liveBytes;
    conv2d(e, px, pw, g, pout);
    expect(e.memoryStats().liveBytes).toBe(live);
    expectClose(download(e, pout, g.N * g.OH * g.OW * g.OC), refConv(x, w, g), 1e-4, 1e-4);
    for (const p of [px, pw, pdy, pout]) e.free(p);
  });

  it.each(CASES)('backward N=%i H=%i W=%i C=%i %ix%i OC=%i stride=%j padding=%j', (...c) => {
    const { g, x, w, dy, px, pw, pdy } = setup(e, c, 21);
    const pdx = upload(e, rand(g.N * g.H * g.W * g.C, 99)); // garbage: must be overwritten
    const pdw = upload(e, rand(w.length, 98));
    const live = e.memoryStats().liveBytes;
    conv2dBackwardData(e, pdy, pw, g, pdx);
    conv2dBackwardWeight(e, px, pdy, g, pdw);
    expect(e.memoryStats().liveBytes).toBe(live);
    const dx = download(e, pdx, x.length);
    const dw = download(e, pdw, w.length);
    expectClose(dx, refBackwardData(dy, w, g), 1e-4, 1e-4);
    expectClose(dw, refBackwardWeight(x, dy, g), 1e-4, 1e-4);
    // Independent check: central differences of the forward at a few coordinates.
    for (const i of [0, Math.floor(x.length / 2), x.length - 1]) {
      expect(dx[i]).toBeCloseTo(
        numGrad(x, i, (v) => loss(v, w, dy, g)),
        3,
      );
    }
    for (const i of [0, Math.floor(w.length / 3), w.length - 1]) {
      expect(dw[i]).toBeCloseTo(
        numGrad(w, i, (v) => loss(x, v, dy, g)),
        3,
      );
    }
    // accumulate: dw += gradient
    conv2dBackwardWeight(e, px, pdy, g, pdw, true);
    expectClose(
      download(e, pdw, w.length),
      dw.map((v) => 2 * v),
      1e-4,
      1e-4,
    );
    for (const p of [px, pw, pdy, pdx, pdw]) e.free(p);
  });

  it('fused epilogue (bias + residual + relu, accumulate) and pre-packed weights', () => {
    for (const c of [CASES[2], CASES[4], CASES[7]]) {
      const { g, x, w, px, pw, pdy } = setup(e, c, 31);
      const len = g.N * g.OH * g.OW * g.OC;
      const bias = rand(g.OC, 32);
      const res = rand(len, 33);
      const [pbias, pres] = [upload(e, bias), upload(e, res)];
      const pout = e.alloc(len * 4);
      const y = refConv(x, w, g);
      conv2d(e, px, pw, g, pout, { bias: pbias, residual: pres, activation: 'relu' });
      expectClose(
        download(e, pout, len),
        y.map((v, i) => Math.max(0, v + bias[i % g.OC] + res[i])),
        1e-4,
        1e-4,
      );
      const packed = packB(e, pw, g.KH * g.KW * g.C, g.OC);
      const before = download(e, pout, len);
      conv2dPacked(e, px, packed, g, pout, { accumulate: true });
      expectClose(
        download(e, pout, len),
        before.map((v, i) => v + y[i]),
        1e-4,
        1e-4,
      );
      expect(() => conv2dPacked(e, px, { ...packed, N: g.OC + 1 }, g, pout)).toThrow(ShapeError);
      freePacked(e, packed);
      for (const p of [px, pw, pdy, pbias, pres, pout]) e.free(p);
    }
  });

  it('large case: im2col in several chunks, split across threads, fused residual', () => {
    // M = 2*64*64 = 8192 rows of K = 288: 9.4 MB of im2col, processed in 1 MiB chunks.
    const { g, x, w, dy, px, pw, pdy } = setup(e, [2, 64, 64, 32, 3, 3, 8, 1, 'same'], 41);
    const len = g.N * g.OH * g.OW * g.OC;
    const res = rand(len, 42);
    const pres = upload(e, res);
    const pout = e.alloc(len * 4);
    const pdx = e.alloc(x.length * 4);
    const pdw = e.alloc(w.length * 4);
    const live = e.memoryStats().liveBytes;
    conv2d(e, px, pw, g, pout, { residual: pres });
    conv2dBackwardData(e, pdy, pw, g, pdx);
    conv2dBackwardWeight(e, px, pdy, g, pdw);
    expect(e.memoryStats().liveBytes).toBe(live);
    expectClose(
      download(e, pout, len),
      refConv(x, w, g).map((v, i) => v + res[i]),
      1e-4,
      1e-4,
    );
    expectClose(download(e, pdx, x.length), refBackwardData(dy, w, g), 1e-4, 1e-4);
    expectClose(download(e, pdw, w.length), refBackwardWeight(x, dy, g), 1e-3, 1e-4);
    for (const p of [px, pw, pdy, pres, pout, pdx, pdw]) e.free(p);
  });
});
