// Quantization: parameters and weight quantization are exact by construction, calibration methods
// choose sensible ranges, an int8 graph runs through the int8 kernels and stays close to float,
// and fp16 halves are exact where they can be.
import { describe, expect, it } from 'vitest';
import { captureGraph } from '../../src/compile/capture.js';
import { fuseConvPool } from '../../src/compile/passes/fuse-pool.js';
import { runPasses } from '../../src/compile/passes/index.js';
import { chooseRange, int8Params, quantizeGraph, quantizeWeights, toHalf } from '../../src/compile/quantize.js';
import { fromHalf } from '../../src/graph/ir.js';
import * as G from '../../src/index.js';
import { buildModel } from '../../src/nn/build.js';
import { Session } from '../../src/runtime/session.js';
import { rand } from '../helpers.js';

describe('quantization parameters', () => {
  it('int8 ranges always contain zero exactly', () => {
    for (const [lo, hi] of [
      [0, 6],
      [-1, 1],
      [-3, 0.5],
      [0.2, 0.9],
    ] as [number, number][]) {
      const { scale, zeroPoint } = int8Params([lo, hi]);
      expect(zeroPoint[0]).toBeGreaterThanOrEqual(-128);
      expect(zeroPoint[0]).toBeLessThanOrEqual(127);
      // q = zp represents 0 exactly; the range ends are representable within half a step
      expect(scale[0] * (-128 - zeroPoint[0])).toBeLessThanOrEqual(Math.min(0, lo) + scale[0] / 2);
      expect(scale[0] * (127 - zeroPoint[0])).toBeGreaterThanOrEqual(Math.max(0, hi) - scale[0] / 2);
    }
  });

  it('weights: symmetric per output channel, max magnitude maps to ±127', () => {
    const w = Float32Array.from([0.5, -2, 0.25, 1, -0.5, 0.1]); // [3, 2]: channel 0 max 0.5, channel 1 max 2
    const q = quantizeWeights({ shape: [3, 2], dtype: 'float32', data: w });
    expect(q.quant?.scale).toEqual([0.5 / 127, 2 / 127]);
    expect(Array.from(q.data)).toEqual([127, -127, 64, 64, -127, 6]);
  });

  it('percentile clips rare outliers that min-max keeps; KL picks a threshold inside the range', () => {
    const hist = new Float64Array(2048);
    for (let i = 0; i < 400; i++) hist[i] = 1000 * Math.exp(-i / 60);
    hist[2047] = 1; // one outlier at the top
    const r = { min: 0, max: 100, hist };
    expect(chooseRange(r, 'minmax')).toEqual([0, 100]);
    const [, p] = chooseRange(r, 'percentile');
    expect(p).toBeLessThan(50);
    const [, k] = chooseRange(r, 'kl');
    expect(k).toBeLessThan(100);
    expect(k).toBeGreaterThan(5);
  });

  it('fp16 conversion is exact for representable values and rounds to nearest', () => {
    for (const v of [0, 1, -2.5, 65504, 2 ** -14, 2 ** -24, 0.333251953125]) expect(fromHalf(toHalf(v))).toBe(v);
    expect(Math.abs(fromHalf(toHalf(0.1)) - 0.1)).toBeLessThan(1e-4);
    expect(fromHalf(toHalf(1e6))).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('int8 graphs', () => {
  it('computes conv/linear in int8 and stays close to the float graph', () => {
    G.manualSeed(5);
    const { model } = buildModel({
      inputShape: [12, 12, 3],
      layers: [
        { type: 'conv2d', out: 8, kernel: 3, padding: 'same' },
        { type: 'relu' },
        { type: 'maxpool2d', kernel: 2 },
        { type: 'conv2d', out: 16, kernel: 3 },
        { type: 'relu' },
        { type: 'flatten' },
        { type: 'linear', out: 5 },
      ],
    });
    model.eval();
    const g = runPasses(captureGraph(model, { kind: 'image', shape: [12, 12, 3] }, ['a', 'b', 'c', 'd', 'e'])).graph;
    const n = 64;
    const calib = rand(n * 12 * 12 * 3, 9);
    for (const method of ['minmax', 'percentile', 'kl'] as const) {
      const { graph, report } = quantizeGraph(g, calib, n, { mode: 'int8', method, engine: G.engine() });
      expect(report.int8Layers.sort()).toEqual(['0', '3', '6']);
      expect(graph.nodes.map((x) => x.op)).toContain('quantize');
      expect(graph.constants['0.weight'].dtype).toBe('int8');
      const f = new Session(g, { engine: G.engine(), maxBatch: 16 });
      const q = new Session(graph, { engine: G.engine(), maxBatch: 16 });
      const x = rand(16 * 12 * 12 * 3, 10);
      const a = f.run(x, 16);
      const b = q.run(x, 16);
      let err = 0;
      let mag = 0;
      for (let i = 0; i < a.length; i++) {
        err += (a[i] - b[i]) ** 2;
        mag += a[i] ** 2;
      }
      // relative RMS error of the logits; KL clips the tails of these random-weight activations on
      // purpose (it trades outliers for resolution), so it is held to a looser bound
      expect(Math.sqrt(err / mag), method).toBeLessThan(method === 'kl' ? 0.3 : 0.08);
      // the conv → 2×2 max pool pair fused (fuse-pool) runs as one kernel, bit for bit as the two kernels
      const fusedGraph = fuseConvPool(graph);
      expect(fusedGraph.nodes.length).toBe(graph.nodes.length - 1);
      expect(fusedGraph.nodes.some((x) => x.op === 'conv2d' && x.attrs.pool === 'max2x2')).toBe(true);
      const fused = new Session(fusedGraph, { engine: G.engine(), maxBatch: 16 });
      expect(Array.from(fused.run(x, 16))).toEqual(Array.from(b));
      fused.dispose();
      // the 8-channel 3x3 conv runs by Winograd F(2x2, 3x3) unless told not to: exact, the same outputs
      const direct = new Session(graph, { engine: G.engine(), maxBatch: 16, winograd: false });
      expect(Array.from(direct.run(x, 16))).toEqual(Array.from(b));
      direct.dispose();
      f.dispose();
      q.dispose();
    }
    model.dispose();
  });
});

describe('quantization scales', () => {
  it('stay usable for the kernels: a near-zero channel gets at least 2^-126, an all-zero one 1', () => {
    const w = Float32Array.of(1e-40, 0.5, -2e-39, 0.25, 0, 0); // [3, 2]: channel 0 is ~0, channel 1 is not
    const q = quantizeWeights({ shape: [3, 2], dtype: 'float32', data: w });
    expect(q.quant?.scale[0]).toBe(2 ** -126); // before: 2e-39 / 127, refused by the validator
    expect(q.quant?.scale[1]).toBeCloseTo(0.5 / 127, 12);
    expect(quantizeWeights({ shape: [2, 1], dtype: 'float32', data: new Float32Array(2) }).quant?.scale).toEqual([1]);
    expect(int8Params([0, 1e-40]).scale[0]).toBe(2 ** -126);
  });
});
