// The WebGPU batch-norm kernels against the reference backend (which sums in float64): statistics
// of many rows around a large mean (1000 ± 1, where E[x²] − E[x]² in float32 would lose the
// variance), one row, one channel over more rows than 1024 chunks of 256, many channel blocks
// with a tail; the forward and backward with every combination of gamma / beta / dgamma / dbeta
// handles (0 = none) and dx written over dy. Buffers are views at odd offsets with guards
// (gpu-compare.ts). Skipped where no WebGPU adapter exists (test/backend/gpu.ts).
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import { ReferenceBackend } from '../../src/backend/reference.js';
import { rand } from '../helpers.js';
import { gpuBackend } from './gpu.js';
import { agreeOn, outputs } from './gpu-compare.js';

const gpu = gpuBackend('the WebGPU batch norm tests');
const ref = new ReferenceBackend();

/** x[rows, C]: channel c around offset + c with spread 1 + c. */
function input(rows: number, C: number, offset: number, seed: number): Float32Array {
  return rand(rows * C, seed).map((v, i) => offset + (i % C) + v * (1 + (i % C)));
}

/** Mean and biased variance of each channel in float64 (two passes). */
function stats64(x: Float32Array, rows: number, C: number): { mean: number[]; variance: number[] } {
  const mean = new Array<number>(C).fill(0);
  const variance = new Array<number>(C).fill(0);
  for (let i = 0; i < x.length; i++) mean[i % C] += x[i] / rows;
  for (let i = 0; i < x.length; i++) variance[i % C] += (x[i] - mean[i % C]) ** 2 / rows;
  return { mean, variance };
}

describe.skipIf(!gpu)('webgpu batch norm', () => {
  const be = gpu as Backend;

  it.each([
    { rows: 60000, C: 3, offset: 1000 },
    { rows: 262_500, C: 1, offset: 1000 },
    { rows: 777, C: 33, offset: 0 },
    { rows: 300, C: 100, offset: -5 },
    { rows: 1, C: 5, offset: 7 },
  ])('batchNormStats of $rows x $C around $offset', ({ rows, C, offset }) => {
    const x = input(rows, C, offset, 1);
    const r = outputs(be, (io) => io.be.batchNormStats(io.put(x), rows, C, io.out('mean', C), io.out('variance', C)));
    const e = stats64(x, rows, C);
    const body = (v: number[]) => v.slice(3, -3);
    // The mean to a few float32 roundings of the data's size; the variance to 1e-5 of itself,
    // though the data sits up to 1000 away from 0 and each channel's variance is ~ (1 + c)² / 3.
    body(r.mean).forEach((m, c) => {
      const size = Math.abs(e.mean[c]) + Math.sqrt(e.variance[c]);
      expect(Math.abs(m - e.mean[c]), `mean[${c}]`).toBeLessThanOrEqual(4e-7 * size);
    });
    body(r.variance).forEach((v, c) => {
      expect(Math.abs(v - e.variance[c]), `variance[${c}]`).toBeLessThanOrEqual(1e-5 * e.variance[c] + 1e-12);
    });
    agreeOn(be, ref, (io) => io.be.batchNormStats(io.put(x), rows, C, io.out('mean', C), io.out('variance', C)));
  });

  const combos = [
    { gamma: true, beta: true },
    { gamma: true, beta: false },
    { gamma: false, beta: true },
    { gamma: false, beta: false },
  ];
  it.each(
    combos.flatMap((h) => [
      { rows: 4099, C: 7, ...h },
      { rows: 61, C: 40, ...h },
    ]),
  )('batchNormForward and batchNormBackward $rows x $C, gamma $gamma beta $beta', ({ rows, C, gamma, beta }) => {
    const x = input(rows, C, 3, 2);
    const { mean, variance } = stats64(x, rows, C);
    const [dy, g, b] = [rand(rows * C, 3), rand(C, 4), rand(C, 5)];
    agreeOn(be, ref, (io) => {
      const [xb, mb, vb] = [io.put(x), io.put(mean), io.put(variance)];
      const gb = gamma ? io.put(g) : 0;
      const out = io.out('out', rows * C);
      io.be.batchNormForward(xb, rows, C, mb, vb, 1e-3, gb, beta ? io.put(b) : 0, out);
      // dgamma / dbeta handles follow gamma / beta; dx is written over dy.
      const dgamma = gamma ? io.out('dgamma', C) : 0;
      const dbeta = beta ? io.out('dbeta', C) : 0;
      const dyb = io.out('dx', rows * C);
      io.be.write(dyb, 'float32', dy);
      io.be.batchNormBackward(xb, dyb, rows, C, mb, vb, 1e-3, gb, dyb, dgamma, dbeta);
    });
  });
});
