// Modules and specs: presets build with the right shapes, specs round-trip, bad configs name the
// field, BatchNorm/Dropout behave per mode, losses match hand computations.
import { describe, expect, it } from 'vitest';
import * as G from '../../src/index.js';
import { buildModel } from '../../src/nn/build.js';
import { BatchNorm, Dropout, EmbeddingBag } from '../../src/nn/layers.js';
import { bceWithLogits, mse } from '../../src/nn/losses.js';
import { presetSpec } from '../../src/nn/presets.js';
import { expectClose, rand } from '../helpers.js';

describe('presets and specs', () => {
  it.each(['mlp', 'cnn', 'resnet-small'])('%s builds for 28x28x1 images and outputs 10 logits', (name) => {
    const { model, outShape } = buildModel(presetSpec(name, [28, 28, 1], 10));
    expect(outShape).toEqual([10]);
    G.tidy(() => {
      const y = G.noGrad(() => model.forward(G.randn([3, 28, 28, 1])));
      expect(y.shape).toEqual([3, 10]);
    });
    // the built model's spec rebuilds the same parameters
    const again = buildModel({
      inputShape: [28, 28, 1],
      layers: (model.spec() as { layers: G.nn.LayerSpec[] }).layers,
    });
    expect(again.model.namedParameters().map(([n, t]) => `${n}:${t.shape}`)).toEqual(
      model.namedParameters().map(([n, t]) => `${n}:${t.shape}`),
    );
    model.dispose();
    again.model.dispose();
  });

  it('names parameters by path', () => {
    const { model } = buildModel(presetSpec('cnn', [28, 28, 1], 10));
    const names = model.namedParameters().map(([n]) => n);
    expect(names).toContain('0.weight');
    expect(names).toContain('1.weight'); // batchnorm gamma
    expect(model.namedBuffers().map(([n]) => n)).toContain('1.running_mean');
    const convs = 32 * 9 + 64 + (64 * 288 + 128) + (64 * 576 + 128) + (128 * 576 + 256);
    expect(model.parameterCount()).toBe(convs + 1152 * 128 + 128 + 128 * 10 + 10);
    model.dispose();
  });

  it('rejects bad configs naming the field', () => {
    expect(() => buildModel({ inputShape: [28, 28, 1], layers: [{ type: 'conv2d', out: 8, kernel: 0 }] })).toThrow(
      /layers\[0\]\.kernel: must be a positive integer, got 0/,
    );
    expect(() => buildModel({ inputShape: [4], layers: [{ type: 'nope' } as never] })).toThrow(
      /layers\[0\]\.type: unknown layer type "nope"/,
    );
    expect(() => buildModel({ inputShape: [4], layers: [{ type: 'conv2d', out: 2, kernel: 3 }] })).toThrow(
      /layers\[0\]: conv2d needs an image/,
    );
    expect(() =>
      buildModel({
        inputShape: [8, 8, 3],
        layers: [{ type: 'residual', layers: [{ type: 'conv2d', out: 4, kernel: 1 }] }],
      }),
    ).toThrow(/block output \[8, 8, 4\] does not match shortcut output \[8, 8, 3\]/);
    expect(() => buildModel({ inputShape: [5], layers: [{ type: 'linear', in: 4, out: 2 }] })).toThrow(
      /layers\[0\]\.in: is 4 but the input has 5 features/,
    );
  });
});

describe('layers', () => {
  it('BatchNorm: batch statistics in training, running statistics (PyTorch momentum) in eval', () => {
    const bn = new BatchNorm(3, { momentum: 0.1 });
    const data = rand(4 * 3, 3).map((v, i) => v * (1 + (i % 3)) + (i % 3));
    G.tidy(() => {
      const x = G.tensor(data, [4, 3]);
      const y = bn.forward(x).data();
      // per channel: zero mean, unit (biased) variance
      for (let c = 0; c < 3; c++) {
        const col = [0, 1, 2, 3].map((r) => y[r * 3 + c]);
        expect(Math.abs(col.reduce((a, b) => a + b, 0) / 4)).toBeLessThan(1e-5);
      }
      const rm = bn.runningMean.data();
      const rv = bn.runningVar.data();
      for (let c = 0; c < 3; c++) {
        const col = [0, 1, 2, 3].map((r) => data[r * 3 + c]);
        const mean = col.reduce((a, b) => a + b, 0) / 4;
        const unbiased = col.reduce((a, b) => a + (b - mean) ** 2, 0) / 3;
        expect(rm[c]).toBeCloseTo(0.1 * mean, 5);
        expect(rv[c]).toBeCloseTo(0.9 + 0.1 * unbiased, 5);
      }
      bn.eval();
      const e = bn.forward(x).data();
      expectClose(
        e,
        Array.from(data, (v, i) => (v - rm[i % 3]) / Math.sqrt(rv[i % 3] + 1e-5)),
        1e-5,
      );
    });
    bn.dispose();
  });

  it('Dropout zeroes about p of the values and scales the rest in training; identity in eval', () => {
    const d = new Dropout(0.25);
    G.tidy(() => {
      const x = G.ones([10000]);
      const y = d.forward(x).data();
      const zeros = y.filter((v) => v === 0).length;
      expect(zeros / 10000).toBeGreaterThan(0.22);
      expect(zeros / 10000).toBeLessThan(0.28);
      expect(y.filter((v) => v !== 0).every((v) => Math.abs(v - 4 / 3) < 1e-6)).toBe(true);
      d.eval();
      // identity: a view of x (same memory, same shape), which capture records as a dropout node
      const same = d.forward(x);
      expect(same.buf).toBe(x.buf);
      expect(same.shape).toEqual(x.shape);
    });
  });

  it('EmbeddingBag averages the vectors of each bag, skipping padding (-1)', () => {
    const bag = new EmbeddingBag(5, 2);
    G.tidy(() => {
      const w = bag.weight.data();
      const ids = G.tensor(Int32Array.from([1, 3, -1, 4, -1, -1]), [2, 3]);
      const y = bag.forward(ids).data();
      expectClose(y, [(w[2] + w[6]) / 2, (w[3] + w[7]) / 2, w[8], w[9]], 1e-6);
      expect(() => bag.forward(G.tensor(Int32Array.from([5]), [1, 1]))).toThrow(
        /token id 5 at index 0 is outside \[-1, 5\)/,
      );
    });
    bag.dispose();
  });

  it('losses: BCE with logits and MSE match hand computation', () => {
    G.tidy(() => {
      const x = [-3, -0.5, 0, 2, 40];
      const t = [0, 1, 1, 0, 1];
      const bce = bceWithLogits(G.tensor(x), G.tensor(t)).item();
      const ref =
        x.reduce((s, v, i) => s + (Math.max(v, 0) - v * t[i] + Math.log1p(Math.exp(-Math.abs(v)))), 0) / x.length;
      expect(bce).toBeCloseTo(ref, 5);
      expect(mse(G.tensor([1, 2, 3]), G.tensor([1, 0, 0])).item()).toBeCloseTo(13 / 3, 5);
    });
  });
});

describe('MAC counts', () => {
  it('counts conv and linear multiply-accumulates per sample', () => {
    const { model, macs } = buildModel(presetSpec('cnn', [28, 28, 1], 10));
    expect(macs).toBe(
      28 * 28 * 32 * 9 + 14 * 14 * 64 * 288 + 14 * 14 * 64 * 576 + 7 * 7 * 128 * 576 + 1152 * 128 + 1280,
    );
    model.dispose();
  });
});
