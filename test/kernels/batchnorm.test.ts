// Batch normalization vs f64 references: statistics (also with a large mean, where a one-pass
// formula would cancel), the forward with and without gamma/beta, and the training-mode backward
// (also vs central differences of the forward through the batch statistics).
import { describe, expect, it } from 'vitest';
import { batchNormBackward, batchNormForward, batchNormStats } from '../../src/kernels/batchnorm.js';
import { download, engineConfigs, engineFor, expectClose, rand, upload } from '../helpers.js';

const EPS = 1e-5;

function refStats(x: ArrayLike<number>, rows: number, C: number) {
  const mean = new Float64Array(C);
  const variance = new Float64Array(C);
  for (let r = 0; r < rows; r++) for (let c = 0; c < C; c++) mean[c] += x[r * C + c] / rows;
  for (let r = 0; r < rows; r++) for (let c = 0; c < C; c++) variance[c] += (x[r * C + c] - mean[c]) ** 2 / rows;
  return { mean, variance };
}

/** BN forward with the batch statistics of x itself (f64). */
function refForward(x: ArrayLike<number>, rows: number, C: number, gamma: ArrayLike<number>, beta: ArrayLike<number>) {
  const { mean, variance } = refStats(x, rows, C);
  const y = new Float64Array(rows * C);
  for (let i = 0; i < y.length; i++) {
    const c = i % C;
    y[i] = ((x[i] - mean[c]) / Math.sqrt(variance[c] + EPS)) * gamma[c] + beta[c];
  }
  return y;
}

function refBackward(x: ArrayLike<number>, dy: ArrayLike<number>, rows: number, C: number, gamma: ArrayLike<number>) {
  const { mean, variance } = refStats(x, rows, C);
  const dgamma = new Float64Array(C);
  const dbeta = new Float64Array(C);
  const inv = Array.from(variance, (v) => 1 / Math.sqrt(v + EPS));
  for (let i = 0; i < rows * C; i++) {
    const c = i % C;
    dbeta[c] += dy[i];
    dgamma[c] += dy[i] * (x[i] - mean[c]) * inv[c];
  }
  const dx = new Float64Array(rows * C);
  for (let i = 0; i < dx.length; i++) {
    const c = i % C;
    const xhat = (x[i] - mean[c]) * inv[c];
    dx[i] = ((gamma[c] * inv[c]) / rows) * (rows * dy[i] - dbeta[c] - xhat * dgamma[c]);
  }
  return { dx, dgamma, dbeta };
}

const SHAPES: [rows: number, C: number][] = [
  [1, 1],
  [7, 3],
  [33, 5],
  [129, 17],
  [1000, 33],
  [4096, 64], // splits across threads (parts and rows)
];

describe.each(engineConfigs())('batchnorm isa=$isa threads=$threads', (cfg) => {
  const e = engineFor(cfg);

  it.each(SHAPES)('stats and forward for rows=%i C=%i', (rows, C) => {
    const x = rand(rows * C, 1).map((v, i) => 3 * v + (i % C) - 2);
    const gamma = rand(C, 2);
    const beta = rand(C, 3);
    const [px, pg, pb] = [upload(e, x), upload(e, gamma), upload(e, beta)];
    const [pm, pv, pout] = [e.alloc(C * 4), e.alloc(C * 4), e.alloc(rows * C * 4)];
    const live = e.memoryStats().liveBytes;
    batchNormStats(e, px, rows, C, pm, pv);
    batchNormForward(e, px, rows, C, pm, pv, EPS, pg, pb, pout);
    expect(e.memoryStats().liveBytes).toBe(live);
    const ref = refStats(x, rows, C);
    expectClose(download(e, pm, C), ref.mean, 1e-6, 1e-6);
    expectClose(download(e, pv, C), ref.variance, 1e-6, 1e-5);
    expectClose(download(e, pout, rows * C), refForward(x, rows, C, gamma, beta), 2e-4, 2e-4);
    // gamma = beta = 0 pointers: plain standardization.
    batchNormForward(e, px, rows, C, pm, pv, EPS, 0, 0, pout);
    const ones = new Float64Array(C).fill(1);
    expectClose(download(e, pout, rows * C), refForward(x, rows, C, ones, new Float64Array(C)), 2e-4, 2e-4);
    for (const p of [px, pg, pb, pm, pv, pout]) e.free(p);
  });

  it('stats stay accurate with a mean far from zero', () => {
    const rows = 5000;
    const C = 6;
    const x = rand(rows * C, 4).map((v) => 1000 + 0.01 * v);
    const [px, pm, pv] = [upload(e, x), e.alloc(C * 4), e.alloc(C * 4)];
    batchNormStats(e, px, rows, C, pm, pv);
    const ref = refStats(x, rows, C);
    expectClose(download(e, pm, C), ref.mean, 0, 1e-7);
    expectClose(download(e, pv, C), ref.variance, 0, 1e-4);
    for (const p of [px, pm, pv]) e.free(p);
  });

  it.each(SHAPES)('backward for rows=%i C=%i', (rows, C) => {
    const x = rand(rows * C, 5).map((v, i) => 2 * v + (i % 3));
    const dy = rand(rows * C, 6);
    const gamma = rand(C, 7);
    const [px, pdy, pg] = [upload(e, x), upload(e, dy), upload(e, gamma)];
    const [pm, pv, pdx, pdg, pdb] = [C, C, rows * C, C, C].map((n) => e.alloc(n * 4));
    batchNormStats(e, px, rows, C, pm, pv);
    const live = e.memoryStats().liveBytes;
    batchNormBackward(e, px, pdy, rows, C, pm, pv, EPS, pg, pdx, pdg, pdb);
    expect(e.memoryStats().liveBytes).toBe(live);
    const ref = refBackward(x, dy, rows, C, gamma);
    const dx = download(e, pdx, rows * C);
    // rows = 1: dx is ~0 up to rounding of x - mean; absolute tolerance covers it.
    expectClose(dx, ref.dx, 1e-4, 1e-3);
    expectClose(download(e, pdg, C), ref.dgamma, 1e-4, 1e-4);
    expectClose(download(e, pdb, C), ref.dbeta, 1e-4, 1e-4);
    // Central differences of L = sum(BN(x) * dy) (statistics recomputed from the perturbed x).
    const beta = new Float64Array(C);
    const L = (v: Float64Array) => refForward(v, rows, C, gamma, beta).reduce((s, y, i) => s + y * dy[i], 0);
    for (const i of [0, Math.floor((rows * C) / 2), rows * C - 1]) {
      const p = Float64Array.from(x);
      const h = 1e-4;
      p[i] += h;
      const lp = L(p);
      p[i] -= 2 * h;
      expect(dx[i]).toBeCloseTo((lp - L(p)) / (2 * h), 3);
    }
    // gamma and the gradients of the affine part are optional.
    batchNormBackward(e, px, pdy, rows, C, pm, pv, EPS, 0, pdx, 0, 0);
    const plain = refBackward(x, dy, rows, C, new Float64Array(C).fill(1));
    expectClose(download(e, pdx, rows * C), plain.dx, 1e-4, 1e-3);
    for (const p of [px, pdy, pg, pm, pv, pdx, pdg, pdb]) e.free(p);
  });
});
