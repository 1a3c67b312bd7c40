// Every op's vjp against central finite differences. The loss is L = Σ out ⊙ R for a fixed
// random R, summed in float64 on the JS side so that float32 round-off stays below the
// differences being measured.
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../src/index.js';
import * as G from '../../src/index.js';
import { rand } from '../helpers.js';

interface Input {
  shape: number[];
  data?: Float32Array;
  /** Keep |x| ≥ margin away from kinks (relu, max, abs). */
  margin?: number;
  positive?: boolean;
}

function makeData(inp: Input, seed: number): Float32Array {
  const n = inp.shape.reduce((a, b) => a * b, 1);
  if (inp.data) return inp.data;
  const d = rand(n, seed);
  for (let i = 0; i < n; i++) {
    if (inp.positive) d[i] = 0.5 + Math.abs(d[i]);
    else if (inp.margin) d[i] = Math.sign(d[i] || 1) * (inp.margin + Math.abs(d[i]));
  }
  return d;
}

function lossOf(out: Tensor, r: Float32Array): number {
  const o = out.data();
  let s = 0;
  for (let i = 0; i < o.length; i++) s += o[i] * r[i];
  return s;
}

function gradcheck(
  f: (...xs: Tensor[]) => Tensor,
  inputs: Input[],
  opts: { eps?: number; tol?: number; samples?: number } = {},
): void {
  const { eps = 1e-2, tol = 2e-2, samples = 12 } = opts;
  G.tidy(() => {
    const datas = inputs.map((inp, i) => makeData(inp, 11 + i));
    const leaves = inputs.map((inp, i) => {
      const t = G.tensor(datas[i], inp.shape);
      t.requiresGrad = true;
      return t;
    });
    const out = f(...leaves);
    const r = rand(out.size, 99);
    const rt = G.tensor(r, out.shape);
    G.backward(G.sum(G.mul(out, rt)));
    leaves.forEach((leaf, li) => {
      const grad = leaf.grad?.data();
      expect(grad, `input ${li} got no gradient`).toBeDefined();
      const n = leaf.size;
      const picks =
        n <= samples
          ? [...Array(n).keys()]
          : Array.from({ length: samples }, (_, k) => Math.floor(((k + 0.5) * n) / samples));
      for (const i of picks) {
        const x = datas[li];
        const orig = x[i];
        const evalAt = (v: number) =>
          G.noGrad(() =>
            G.tidy(() => {
              x[i] = v;
              const ins = inputs.map((inp, j) => G.tensor(datas[j], inp.shape));
              return lossOf(f(...ins), r);
            }),
          );
        const num = (evalAt(orig + eps) - evalAt(orig - eps)) / (2 * eps);
        x[i] = orig;
        const ana = (grad as Float32Array)[i];
        const err = Math.abs(num - ana) / Math.max(1, Math.abs(num));
        expect(err, `input ${li} index ${i}: analytic ${ana} vs numeric ${num}`).toBeLessThan(tol);
      }
      leaf.grad?.dispose();
    });
  });
}

const labels = (vals: number[]) => G.tensor(Int32Array.from(vals), [vals.length]);

describe('vjp vs central finite differences', () => {
  it('add/sub/mul/div with broadcasting', () => {
    gradcheck((a, b) => G.add(a, b), [{ shape: [3, 4] }, { shape: [4] }]);
    gradcheck((a, b) => G.sub(a, b), [{ shape: [2, 1, 5] }, { shape: [3, 1] }]);
    gradcheck((a, b) => G.mul(a, b), [{ shape: [3, 5] }, { shape: [3, 1] }]);
    gradcheck((a, b) => G.div(a, b), [{ shape: [2, 3] }, { shape: [2, 3], positive: true }]);
    gradcheck((a) => G.add(G.mul(a, 3), 1), [{ shape: [7] }]);
  });
  it('maximum/minimum', () => {
    const a = rand(12, 5);
    const b = a.map((v, i) => v + (i % 2 ? 0.3 : -0.3));
    gradcheck(
      (x, y) => G.maximum(x, y),
      [
        { shape: [3, 4], data: a },
        { shape: [3, 4], data: b },
      ],
    );
    gradcheck(
      (x, y) => G.minimum(x, y),
      [
        { shape: [3, 4], data: a },
        { shape: [3, 4], data: b },
      ],
    );
  });
  it.each(['neg', 'exp', 'sigmoid', 'tanh', 'gelu', 'square'] as const)('unary %s', (fn) => {
    gradcheck((x) => G[fn](x), [{ shape: [3, 7] }]);
  });
  it.each(['relu', 'abs'] as const)('unary %s (away from the kink)', (fn) => {
    gradcheck((x) => G[fn](x), [{ shape: [3, 7], margin: 0.1 }]);
  });
  it('log, sqrt, reciprocal on positive inputs; leakyRelu', () => {
    gradcheck((x) => G.log(x), [{ shape: [9], positive: true }]);
    gradcheck((x) => G.sqrt(x), [{ shape: [9], positive: true }]);
    gradcheck((x) => G.reciprocal(x), [{ shape: [9], positive: true }]);
    gradcheck((x) => G.leakyRelu(x, 0.2), [{ shape: [9], margin: 0.1 }]);
  });
  it('matmul and linear (bias, rank-3 input)', () => {
    gradcheck((a, b) => G.matmul(a, b), [{ shape: [5, 7] }, { shape: [7, 3] }]);
    gradcheck((x, w, b) => G.linear(x, w, b), [{ shape: [2, 3, 9] }, { shape: [9, 17] }, { shape: [17] }]);
  });
  it('conv2d: valid, same with stride 2, bias', () => {
    gradcheck((x, w, b) => G.conv2d(x, w, b), [{ shape: [2, 5, 6, 3] }, { shape: [3, 3, 3, 4] }, { shape: [4] }]);
    gradcheck(
      (x, w) => G.conv2d(x, w, undefined, { stride: 2, padding: 'same' }),
      [{ shape: [1, 7, 7, 2] }, { shape: [3, 3, 2, 5] }],
    );
  });
  it('pooling: max, avg (padded), global average', () => {
    // distinct values so the max is unique under ±eps
    const x = Float32Array.from({ length: 2 * 6 * 6 * 3 }, (_, i) => ((i * 37) % 101) / 50 - 1);
    gradcheck((t) => G.maxPool2d(t, 2), [{ shape: [2, 6, 6, 3], data: x }]);
    gradcheck((t) => G.avgPool2d(t, 3, { stride: 2, padding: 1 }), [{ shape: [2, 6, 6, 3] }]);
    gradcheck((t) => G.globalAvgPool(t), [{ shape: [2, 3, 4, 5] }]);
  });
  it('reshape, transpose, slice, concat', () => {
    gradcheck((x) => G.reshape(x, [6, -1]), [{ shape: [2, 3, 4] }]);
    gradcheck((x) => G.transpose(x, [2, 0, 1]), [{ shape: [2, 3, 4] }]);
    gradcheck((x) => G.slice(x, [1, 0, 2], [1, 3, -1]), [{ shape: [2, 3, 5] }]);
    gradcheck((a, b) => G.concat([a, b], 1), [{ shape: [2, 3] }, { shape: [2, 4] }]);
  });
  it('sum, mean, max over axes', () => {
    gradcheck((x) => G.sum(x, [0, 2]), [{ shape: [3, 4, 5] }]);
    gradcheck((x) => G.mean(x, 1, true), [{ shape: [3, 4, 5] }]);
    const x = Float32Array.from({ length: 20 }, (_, i) => ((i * 7) % 20) / 10);
    gradcheck((t) => G.max(t, 1), [{ shape: [4, 5], data: x }]);
  });
  it('softmax, logSoftmax, cross-entropy (with label smoothing)', () => {
    gradcheck((x) => G.softmax(x), [{ shape: [3, 7] }]);
    gradcheck((x) => G.logSoftmax(x), [{ shape: [3, 7] }]);
    gradcheck((x) => G.softmaxCrossEntropy(x, labels([0, 6, 3])), [{ shape: [3, 7] }]);
    gradcheck((x) => G.softmaxCrossEntropy(x, labels([2, 1]), 0.1), [{ shape: [2, 5] }]);
  });
  it('batchNorm (training statistics)', () => {
    gradcheck(
      (x, g, b) => G.batchNorm(x, g, b),
      [{ shape: [4, 3, 5] }, { shape: [5], positive: true }, { shape: [5] }],
      {
        eps: 1e-2,
        tol: 3e-2,
      },
    );
  });
  it('a small network end to end (conv → relu → pool → linear → CE)', () => {
    gradcheck(
      (x, w, b, fw) => {
        const h = G.maxPool2d(G.relu(G.conv2d(x, w, b, { padding: 'same' })), 2);
        return G.softmaxCrossEntropy(G.linear(G.flatten(h), fw), labels([1, 2]));
      },
      [{ shape: [2, 4, 4, 1] }, { shape: [3, 3, 1, 2] }, { shape: [2] }, { shape: [8, 3] }],
      { samples: 6 },
    );
  });
});

describe('vjp vs finite differences: embeddings', () => {
  it('embedding and embeddingBag (weights)', () => {
    const ids = G.tensor(Int32Array.from([0, 2, -1, 2, 1, 1]), [2, 3]);
    gradcheck((w) => G.embedding(w, ids), [{ shape: [3, 4] }]);
    gradcheck((w) => G.embeddingBag(w, ids), [{ shape: [3, 4] }]);
    ids.dispose();
  });
});
