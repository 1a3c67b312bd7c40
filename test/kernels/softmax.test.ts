// Softmax family vs float64 references: softmax / log-softmax and backward, fused cross-entropy
// with and without label smoothing and its gradient (also vs finite differences of the loss);
// odd sizes, a split-sized case, both builds, one and two threads.
import { describe, expect, it } from 'vitest';
import {
  softmax,
  softmaxBackward,
  softmaxCrossEntropy,
  softmaxCrossEntropyBackward,
} from '../../src/kernels/softmax.js';
import { download, engineConfigs, engineFor, expectClose, ODD, rand, upload, uploadI32 } from '../helpers.js';

function refSoftmax(x: ArrayLike<number>, rows: number, cols: number, log: boolean): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, x[r * cols + c]);
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(x[r * cols + c] - m);
    for (let c = 0; c < cols; c++) {
      const v = x[r * cols + c] - m;
      out[r * cols + c] = log ? v - Math.log(s) : Math.exp(v) / s;
    }
  }
  return out;
}

function refLoss(x: ArrayLike<number>, labels: number[], rows: number, cols: number, s: number): Float64Array {
  const lp = refSoftmax(x, rows, cols, true);
  return Float64Array.from(labels, (l, r) => {
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += lp[r * cols + c];
    return -(1 - s) * lp[r * cols + l] - (s / cols) * sum;
  });
}

const SHAPES: [number, number][] = [...ODD.map((c) => [3, c] as [number, number]), [129, 7], [1, 1000], [2049, 33]];

describe.each(engineConfigs())('softmax isa=$isa threads=$threads', (cfg) => {
  const e = engineFor(cfg);

  describe.each([false, true])('log=%s', (log) => {
    it.each(SHAPES)('forward and backward for [%i, %i]', (rows, cols) => {
      const n = rows * cols;
      const x = rand(n, cols).map((v) => 8 * v);
      const dy = rand(n, cols + 1);
      const [px, pdy] = [upload(e, x), upload(e, dy)];
      const [py, pdx] = [e.alloc(n * 4), e.alloc(n * 4)];
      softmax(e, px, rows, cols, py, log);
      const y = refSoftmax(x, rows, cols, log);
      expectClose(download(e, py, n), y, 1e-6, 1e-5);
      softmaxBackward(e, py, pdy, pdx, rows, cols, log);
      const dx = new Float64Array(n);
      for (let r = 0; r < rows; r++) {
        let d = 0;
        for (let c = 0; c < cols; c++) d += log ? dy[r * cols + c] : dy[r * cols + c] * y[r * cols + c];
        for (let c = 0; c < cols; c++) {
          const i = r * cols + c;
          dx[i] = log ? dy[i] - Math.exp(y[i]) * d : y[i] * (dy[i] - d);
        }
      }
      expectClose(download(e, pdx, n), dx, 1e-5, 1e-4);
      softmax(e, px, rows, cols, px, log); // in place
      expect(download(e, px, n)).toEqual(download(e, py, n));
      for (const p of [px, pdy, py, pdx]) e.free(p);
    });
  });

  it('is stable for large logits and rows of equal values', () => {
    const px = upload(e, [1000, 1001, 999, -1000, 5, 5, 5, 5, 5]);
    const py = e.alloc(36);
    softmax(e, px, 1, 9, py);
    const y = download(e, py, 9);
    expect(y.every(Number.isFinite)).toBe(true);
    expectClose(y, refSoftmax([1000, 1001, 999, -1000, 5, 5, 5, 5, 5], 1, 9, false), 1e-6, 1e-5);
    e.free(px);
    e.free(py);
  });

  describe.each([0, 0.1])('cross-entropy smoothing=%s', (s) => {
    it.each(SHAPES)('loss, probs and dLogits for [%i, %i]', (rows, cols) => {
      const n = rows * cols;
      const x = rand(n, cols + 7).map((v) => 4 * v);
      const labels = Array.from({ length: rows }, (_, r) => (r * 7 + 3) % cols);
      const dLoss = rand(rows, 5);
      const [px, pl, pdl] = [upload(e, x), uploadI32(e, labels), upload(e, dLoss)];
      const [ploss, pp, pdx] = [e.alloc(rows * 4), e.alloc(n * 4), e.alloc(n * 4)];
      softmaxCrossEntropy(e, px, pl, rows, cols, ploss, pp, s);
      expectClose(download(e, ploss, rows), refLoss(x, labels, rows, cols, s), 1e-5, 1e-5);
      const p = refSoftmax(x, rows, cols, false);
      expectClose(download(e, pp, n), p, 1e-6, 1e-5);
      softmaxCrossEntropyBackward(e, pp, pl, rows, cols, pdl, pdx, s);
      const ref = p.map((v, i) => {
        const r = Math.floor(i / cols);
        const target = (1 - s) * (i % cols === labels[r] ? 1 : 0) + s / cols;
        return dLoss[r] * (v - target);
      });
      expectClose(download(e, pdx, n), ref, 1e-6, 1e-5);
      for (const q of [px, pl, pdl, ploss, pp, pdx]) e.free(q);
    });

    it('dLogits matches central differences of the loss', () => {
      const [rows, cols] = [3, 7];
      const x = Array.from(rand(rows * cols, 9), (v) => 2 * v);
      const labels = [0, 6, 3];
      const pl = uploadI32(e, labels);
      const pdl = upload(e, [1, 1, 1]);
      const pp = e.alloc(rows * cols * 4);
      const ploss = e.alloc(rows * 4);
      const pdx = e.alloc(rows * cols * 4);
      const px = upload(e, x);
      softmaxCrossEntropy(e, px, pl, rows, cols, ploss, pp, s);
      softmaxCrossEntropyBackward(e, pp, pl, rows, cols, pdl, pdx, s);
      const h = 1e-4;
      const total = (v: number[]) => refLoss(v, labels, rows, cols, s).reduce((a, b) => a + b, 0);
      const fd = x.map((_, i) => {
        const xp = [...x];
        const xm = [...x];
        xp[i] += h;
        xm[i] -= h;
        return (total(xp) - total(xm)) / (2 * h);
      });
      expectClose(download(e, pdx, rows * cols), fd, 1e-5, 1e-4);
      for (const q of [px, pl, pdl, ploss, pp, pdx]) e.free(q);
    });
  });

  it('leaves memory flat', () => {
    const live = e.memoryStats().liveBytes;
    const px = upload(e, rand(99));
    softmax(e, px, 9, 11, px, true);
    e.free(px);
    expect(e.memoryStats().liveBytes).toBe(live);
  });
});
