// Pooling vs naive references: max (with argmax; padding never wins), average (padding not
// counted), their backward passes and global average pooling, on odd NHWC shapes and windows.
import { describe, expect, it } from 'vitest';
import { ShapeError, ValueError } from '../../src/errors.js';
import {
  avgPool2d,
  avgPool2dBackward,
  globalAvgPool,
  globalAvgPoolBackward,
  maxPool2d,
  maxPool2dBackward,
} from '../../src/kernels/pooling.js';
import type { Padding } from '../../src/shape/window.js';
import { type Pool2dGeometry, pool2dGeometry } from '../../src/shape/window.js';
import { download, downloadI32, engineConfigs, engineFor, expectClose, rand, upload } from '../helpers.js';

/** Calls f(outIndex, inIndices) per output element with the flat indices of its window's real cells. */
function forEachWindow(g: Pool2dGeometry, f: (o: number, cells: number[]) => void): void {
  for (let n = 0; n < g.N; n++)
    for (let oh = 0; oh < g.OH; oh++)
      for (let ow = 0; ow < g.OW; ow++)
        for (let c = 0; c < g.C; c++) {
          const cells: number[] = [];
          for (let kh = 0; kh < g.KH; kh++)
            for (let kw = 0; kw < g.KW; kw++) {
              const ih = oh * g.strideH - g.padTop + kh;
              const iw = ow * g.strideW - g.padLeft + kw;
              if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) cells.push(((n * g.H + ih) * g.W + iw) * g.C + c);
            }
          f(((n * g.OH + oh) * g.OW + ow) * g.C + c, cells);
        }
}

function refMax(x: Float32Array, g: Pool2dGeometry) {
  const len = g.N * g.OH * g.OW * g.C;
  const y = new Float32Array(len);
  const arg = new Int32Array(len);
  forEachWindow(g, (o, cells) => {
    let best = cells[0];
    for (const i of cells) if (x[i] > x[best]) best = i;
    y[o] = x[best];
    arg[o] = best;
  });
  return { y, arg };
}

function refAvg(x: Float32Array, g: Pool2dGeometry): Float64Array {
  const y = new Float64Array(g.N * g.OH * g.OW * g.C);
  forEachWindow(g, (o, cells) => {
    for (const i of cells) y[o] += x[i] / cells.length;
  });
  return y;
}

function refAvgBackward(dy: Float32Array, g: Pool2dGeometry): Float64Array {
  const dx = new Float64Array(g.N * g.H * g.W * g.C);
  forEachWindow(g, (o, cells) => {
    for (const i of cells) dx[i] += dy[o] / cells.length;
  });
  return dx;
}

type Case = [
  N: number,
  H: number,
  W: number,
  C: number,
  kernel: number | [number, number],
  stride: number | [number, number] | undefined,
  padding: Padding,
];
const CASES: Case[] = [
  [1, 1, 1, 1, 1, undefined, 'valid'],
  [2, 7, 9, 3, 2, undefined, 'valid'],
  [3, 9, 7, 5, 3, 2, 'same'],
  [1, 17, 17, 17, 3, 1, 1],
  [2, 3, 7, 33, [2, 3], [1, 2], [1, 0, 0, 2]],
  [1, 17, 9, 4, 5, 1, 'same'],
  [2, 1, 3, 1, 3, 2, 'same'],
  [4, 32, 32, 32, 2, 2, 'valid'], // large enough to split across threads
  [2, 7, 8, 6, 2, 3, [1, 1, 0, 1]], // stride > window: gaps between windows (gather backward)
];

describe('pool2dGeometry', () => {
  it('defaults the stride to the window and pads like TensorFlow for same', () => {
    const g = pool2dGeometry([1, 7, 8, 3], 2);
    expect([g.OH, g.OW, g.strideH, g.strideW]).toEqual([3, 4, 2, 2]);
    const s = pool2dGeometry([1, 8, 7, 3], 3, 2, 'same');
    expect([s.OH, s.OW, s.padTop, s.padBottom, s.padLeft, s.padRight]).toEqual([4, 4, 0, 1, 1, 1]);
  });

  it('rejects windows that do not fit and padding as wide as the window', () => {
    expect(() => pool2dGeometry([1, 2, 2, 3], 3)).toThrow(ShapeError);
    expect(() => pool2dGeometry([2, 2, 3], 2)).toThrow(ShapeError);
    expect(() => pool2dGeometry([1, 5, 5, 3], 2, 1, 2)).toThrow(ValueError);
    expect(() => pool2dGeometry([1, 5, 5, 3], 0)).toThrow(ValueError);
  });
});

describe.each(engineConfigs())('pooling isa=$isa threads=$threads', (cfg) => {
  const e = engineFor(cfg);

  it.each(CASES)('max pool + backward N=%i H=%i W=%i C=%i kernel=%j stride=%j padding=%j', (...c) => {
    const [N, H, W, C, kernel, stride, padding] = c;
    const g = pool2dGeometry([N, H, W, C], kernel, stride, padding);
    // All negative: a padding cell (0) would win if it took part.
    const x = rand(N * H * W * C, 3).map((v) => -Math.abs(v) - 0.01);
    const len = N * g.OH * g.OW * C;
    const dy = rand(len, 4);
    const [px, pdy] = [upload(e, x), upload(e, dy)];
    const [pout, parg, pdx] = [e.alloc(len * 4), e.alloc(len * 4), upload(e, rand(x.length, 5))];
    const live = e.memoryStats().liveBytes;
    maxPool2d(e, px, g, pout, parg);
    maxPool2dBackward(e, pdy, parg, g, pdx);
    expect(e.memoryStats().liveBytes).toBe(live);
    const ref = refMax(x, g);
    expectClose(download(e, pout, len), ref.y, 0, 0);
    expect(Array.from(downloadI32(e, parg, len))).toEqual(Array.from(ref.arg));
    const dx = new Float64Array(x.length);
    for (let o = 0; o < len; o++) dx[ref.arg[o]] += dy[o];
    expectClose(download(e, pdx, x.length), dx, 1e-6, 1e-6);
    // Without argmax the values are the same.
    e.f32.fill(0, pout / 4, pout / 4 + len);
    maxPool2d(e, px, g, pout, 0);
    expectClose(download(e, pout, len), ref.y, 0, 0);
    for (const p of [px, pdy, pout, parg, pdx]) e.free(p);
  });

  it.each(CASES)('avg pool + backward N=%i H=%i W=%i C=%i kernel=%j stride=%j padding=%j', (...c) => {
    const [N, H, W, C, kernel, stride, padding] = c;
    const g = pool2dGeometry([N, H, W, C], kernel, stride, padding);
    const x = rand(N * H * W * C, 6);
    const len = N * g.OH * g.OW * C;
    const dy = rand(len, 7);
    const [px, pdy] = [upload(e, x), upload(e, dy)];
    const [pout, pdx] = [e.alloc(len * 4), upload(e, rand(x.length, 8))];
    const live = e.memoryStats().liveBytes;
    avgPool2d(e, px, g, pout);
    avgPool2dBackward(e, pdy, g, pdx);
    expect(e.memoryStats().liveBytes).toBe(live);
    expectClose(download(e, pout, len), refAvg(x, g), 1e-6, 1e-5);
    expectClose(download(e, pdx, x.length), refAvgBackward(dy, g), 1e-6, 1e-5);
    for (const p of [px, pdy, pout, pdx]) e.free(p);
  });

  it.each([
    [1, 1, 1],
    [2, 49, 3],
    [3, 9, 33],
    [1, 289, 17],
    [64, 64, 32], // splits across threads
  ])('global avg pool + backward N=%i HW=%i C=%i', (N, HW, C) => {
    const x = rand(N * HW * C, 9);
    const dy = rand(N * C, 10);
    const [px, pdy] = [upload(e, x), upload(e, dy)];
    const [pout, pdx] = [e.alloc(N * C * 4), e.alloc(x.length * 4)];
    const live = e.memoryStats().liveBytes;
    globalAvgPool(e, px, N, HW, C, pout);
    globalAvgPoolBackward(e, pdy, N, HW, C, pdx);
    expect(e.memoryStats().liveBytes).toBe(live);
    const ref = new Float64Array(N * C);
    for (let n = 0; n < N; n++)
      for (let p = 0; p < HW; p++) for (let c = 0; c < C; c++) ref[n * C + c] += x[(n * HW + p) * C + c] / HW;
    expectClose(download(e, pout, N * C), ref, 1e-6, 1e-5);
    const refDx = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) refDx[i] = dy[Math.floor(i / (HW * C)) * C + (i % C)] / HW;
    expectClose(download(e, pdx, x.length), refDx, 1e-7, 1e-6);
    for (const p of [px, pdy, pout, pdx]) e.free(p);
  });
});
