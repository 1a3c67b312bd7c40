// Transformer layers (src/nn/transformer.ts) as specifications: multi-head self-attention against a
// plain loop on odd shapes, padded keys without influence, layer norm against a loop; gradients of
// attention, layer norm and the encoder layer against central finite differences; text models
// captured to graphs the Session runs to the eager answer (the padding mask computed in the graph
// from the ids); answers that do not depend on how far a text is padded; the text presets learning
// a toy task; bad configs named by field.
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/autograd/backward.js';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { captureGraph } from '../../src/compile/capture.js';
import { runPasses } from '../../src/compile/passes/index.js';
import { readArtifact, writeArtifact } from '../../src/graph/artifact.js';
import * as G from '../../src/index.js';
import { buildModel } from '../../src/nn/build.js';
import * as F from '../../src/nn/functional.js';
import { crossEntropy } from '../../src/nn/losses.js';
import { presetSpec, textPresetSpec } from '../../src/nn/presets.js';
import type { LayerSpec, ModelSpec } from '../../src/nn/spec.js';
import {
  attend,
  LayerNorm,
  MultiHeadSelfAttention,
  paddingMask,
  sinusoidalPositions,
  type TextEncoder,
  TransformerEncoderLayer,
} from '../../src/nn/transformer.js';
import { createOptimizer } from '../../src/optim/index.js';
import { Session } from '../../src/runtime/session.js';
import { tidy } from '../../src/tensor/scope.js';
import { type Tensor, tensor, write } from '../../src/tensor/tensor.js';
import { expectClose, rand } from '../helpers.js';

const N = 2;
const L = 7;
const D = 12;
const H = 3;
/** Real tokens per sample: the rest of each row is padding. */
const LENGTHS = [7, 4];
const maskData = (lengths: number[], len: number) =>
  Float32Array.from({ length: lengths.length * len }, (_, i) => (i % len < lengths[Math.floor(i / len)] ? 1 : 0));

/**
 * Self-attention by the definition, in float64: per sample, head and query, softmax over the real
 * keys of q·k / √dh, the weighted sum of v, then the output projection.
 */
function attentionRef(
  x: Float32Array,
  [wqkv, bqkv, wo, bo]: Float32Array[],
  mask: Float32Array,
  [n, len, d, h]: number[],
): Float64Array {
  const dh = d / h;
  const qkv = new Float64Array(n * len * 3 * d);
  for (let r = 0; r < n * len; r++)
    for (let j = 0; j < 3 * d; j++) {
      let s = bqkv[j];
      for (let c = 0; c < d; c++) s += x[r * d + c] * wqkv[c * 3 * d + j];
      qkv[r * 3 * d + j] = s;
    }
  const at = (b: number, t: number, part: number, head: number, k: number) =>
    qkv[(b * len + t) * 3 * d + part * d + head * dh + k];
  const ctx = new Float64Array(n * len * d);
  for (let b = 0; b < n; b++)
    for (let head = 0; head < h; head++)
      for (let i = 0; i < len; i++) {
        const keys = [...Array(len).keys()].filter((j) => mask[b * len + j] > 0);
        const s = keys.map((j) => {
          let dot = 0;
          for (let k = 0; k < dh; k++) dot += at(b, i, 0, head, k) * at(b, j, 1, head, k);
          return dot / Math.sqrt(dh);
        });
        const m = Math.max(...s);
        const e = s.map((v) => Math.exp(v - m));
        const z = e.reduce((a, v) => a + v, 0);
        for (let k = 0; k < dh; k++)
          ctx[(b * len + i) * d + head * dh + k] = keys.reduce((a, j, u) => a + (e[u] / z) * at(b, j, 2, head, k), 0);
      }
  const y = new Float64Array(n * len * d);
  for (let r = 0; r < n * len; r++)
    for (let j = 0; j < d; j++) {
      let s = bo[j];
      for (let c = 0; c < d; c++) s += ctx[r * d + c] * wo[c * d + j];
      y[r * d + j] = s;
    }
  return y;
}

/** Writes seeded values into a module's parameters (biases included, which start at zero). */
function randomize(params: Tensor[], seed: number): void {
  for (const [i, p] of params.entries())
    write(
      p,
      rand(p.size, seed + i).map((v) => 0.5 * v),
    );
}

/**
 * d(Σ f() ⊙ r)/d leaf from autograd against central differences at 6 entries of each leaf, the leaf
 * perturbed in place (inputs and module parameters alike).
 */
function gradCheck(f: () => Tensor, leaves: [string, Tensor][], tol = 2e-2): void {
  tidy(() => {
    for (const [, t] of leaves) t.requiresGrad = true;
    const out = f();
    const r = rand(out.size, 5);
    backward(F.sum(F.mul(out, tensor(r, out.shape))));
    const loss = () =>
      noGrad(() =>
        tidy(() => {
          const o = f().data();
          let s = 0;
          for (let i = 0; i < o.length; i++) s += o[i] * r[i];
          return s;
        }),
      );
    const eps = 1e-2;
    for (const [name, t] of leaves) {
      const g = t.grad?.data() as Float32Array;
      expect(g, `${name} has a gradient`).toBeDefined();
      const data = t.data() as Float32Array;
      const picks = Math.min(6, data.length);
      for (let k = 0; k < picks; k++) {
        const i = Math.floor(((k + 0.5) * data.length) / picks);
        const at = (v: number) => {
          const d = data.slice();
          d[i] = v;
          write(t, d);
          return loss();
        };
        const fd = (at(data[i] + eps) - at(data[i] - eps)) / (2 * eps);
        write(t, data);
        if (Math.abs(g[i] - fd) > tol * (1 + Math.abs(fd)))
          expect.fail(`d/d${name}[${i}]: autograd ${g[i]}, finite difference ${fd}`);
      }
      t.grad?.dispose();
      t.grad = null;
    }
  });
}

describe('multi-head self-attention', () => {
  it('equals the definition on odd shapes (L 7, d 12, 3 heads), padded keys left out', () => {
    G.manualSeed(3);
    const attn = new MultiHeadSelfAttention(D, H);
    randomize(attn.parameters(), 40);
    const xd = rand(N * L * D, 41);
    const md = maskData(LENGTHS, L);
    const p = [attn.qkv.weight, attn.qkv.bias, attn.out.weight, attn.out.bias].map((t) => t?.data() as Float32Array);
    const want = attentionRef(xd, p, md, [N, L, D, H]);
    tidy(() => {
      const y = noGrad(() => attn.withMask(tensor(md, [N, L]), () => attn.forward(tensor(xd, [N, L, D]))));
      expect(y.shape).toEqual([N, L, D]);
      expectClose(y.data(), want, 1e-5, 1e-4);
      // without a mask every key counts
      const all = attentionRef(xd, p, new Float32Array(N * L).fill(1), [N, L, D, H]);
      expectClose(noGrad(() => attn.forward(tensor(xd, [N, L, D]))).data(), all, 1e-5, 1e-4);
    });
    attn.dispose();
  });

  it('a padded position has no influence on any other position: exactly the same outputs', () => {
    G.manualSeed(4);
    const attn = new MultiHeadSelfAttention(D, H);
    const md = maskData(LENGTHS, L);
    const xd = rand(N * L * D, 42);
    const changed = xd.slice();
    for (let c = 0; c < D; c++) changed[(L + 5) * D + c] += 3; // sample 1, position 5: padding
    tidy(() => {
      const run = (x: Float32Array) =>
        noGrad(() => attn.withMask(tensor(md, [N, L]), () => attn.forward(tensor(x, [N, L, D])))).data();
      const a = run(xd);
      const b = run(changed);
      // every other row — real tokens and the other padded queries alike — reads only real keys
      for (let r = 0; r < N * L; r++) {
        const same = [...Array(D).keys()].every((c) => a[r * D + c] === b[r * D + c]);
        expect(same, `row ${r}`).toBe(r !== L + 5);
      }
    });
    attn.dispose();
  });

  it('gradients of x and every weight = finite differences (masked)', () => {
    G.manualSeed(5);
    const attn = new MultiHeadSelfAttention(D, H);
    randomize(attn.parameters(), 50);
    const x = tensor(rand(N * L * D, 51), [N, L, D]);
    const mask = tensor(maskData(LENGTHS, L), [N, L]);
    gradCheck(() => attn.withMask(mask, () => attn.forward(x)), [['x', x], ...attn.namedParameters()]);
    x.dispose();
    mask.dispose();
    attn.dispose();
  });

  it('attend() refuses a qkv whose width does not split into heads, and a mask of the wrong shape', () => {
    tidy(() => {
      expect(() => attend(tensor(rand(2 * 3 * 12), [2, 3, 12]), 3)).toThrow(/d divisible by 3 heads/);
      expect(() => attend(tensor(rand(2 * 3 * 12), [2, 3, 12]), 2, { mask: tensor(rand(6), [3, 2]) })).toThrow(
        /mask \[3,2\] must be \[N, L\] = \[2, 3\]/,
      );
    });
  });
});

describe('layer norm', () => {
  it('equals (x − mean) / √(var + eps) · gamma + beta per row', () => {
    const ln = new LayerNorm(5, 1e-3);
    randomize(ln.parameters(), 60);
    const xd = rand(4 * 5, 61);
    const [g, b] = ln.parameters().map((t) => t.data());
    const want = new Float64Array(20);
    for (let r = 0; r < 4; r++) {
      const row = [...xd.subarray(r * 5, r * 5 + 5)];
      const m = row.reduce((a, v) => a + v, 0) / 5;
      const v = row.reduce((a, u) => a + (u - m) ** 2, 0) / 5;
      row.forEach((u, c) => {
        want[r * 5 + c] = ((u - m) / Math.sqrt(v + 1e-3)) * g[c] + b[c];
      });
    }
    tidy(() => expectClose(noGrad(() => ln.forward(tensor(xd, [2, 2, 5]))).data(), want, 1e-5, 1e-4));
    ln.dispose();
  });

  it('gradients of x, gamma and beta = finite differences', () => {
    const ln = new LayerNorm(D);
    randomize(ln.parameters(), 62);
    const x = tensor(rand(3 * D, 63), [3, D]);
    gradCheck(() => ln.forward(x), [['x', x], ...ln.namedParameters()]);
    x.dispose();
    ln.dispose();
  });
});

describe('transformer encoder layer', () => {
  for (const norm of ['pre', 'post'] as const)
    it(`${norm}-norm: gradients of x and every parameter = finite differences (masked)`, () => {
      G.manualSeed(7);
      const layer = new TransformerEncoderLayer(D, H, 10, { norm });
      randomize(layer.parameters(), 70);
      const x = tensor(rand(N * L * D, 71), [N, L, D]);
      const mask = tensor(maskData(LENGTHS, L), [N, L]);
      gradCheck(() => layer.withMask(mask, () => layer.forward(x)), [['x', x], ...layer.namedParameters()]);
      x.dispose();
      mask.dispose();
      layer.dispose();
    });

  it('pre-norm is x + attn(ln1(x)), then + ffn2(gelu(ffn1(ln2(·)))), from its parts', () => {
    G.manualSeed(8);
    const layer = new TransformerEncoderLayer(D, H, 10);
    randomize(layer.parameters(), 80);
    tidy(() => {
      const x = tensor(rand(N * L * D, 81), [N, L, D]);
      const mask = tensor(maskData(LENGTHS, L), [N, L]);
      noGrad(() => {
        const h = F.add(
          x,
          layer.attn.withMask(mask, () => layer.attn.forward(layer.norm1.forward(x))),
        );
        const want = F.add(h, layer.ffn2.forward(F.gelu(layer.ffn1.forward(layer.norm2.forward(h)))));
        expectClose(layer.withMask(mask, () => layer.forward(x)).data(), want.data(), 1e-6, 1e-5);
      });
    });
    layer.dispose();
  });

  it('dropout is active in training only (attention weights and sub-layers)', () => {
    G.manualSeed(9);
    const layer = new TransformerEncoderLayer(D, H, 10, { dropout: 0.5 });
    tidy(() => {
      const x = tensor(rand(N * L * D, 91), [N, L, D]);
      const a = noGrad(() => layer.forward(x)).data();
      const b = noGrad(() => layer.forward(x)).data();
      expect(Array.from(a)).not.toEqual(Array.from(b));
      layer.eval();
      expect(Array.from(noGrad(() => layer.forward(x)).data())).toEqual(
        Array.from(noGrad(() => layer.forward(x)).data()),
      );
    });
    layer.dispose();
  });
});

describe('positions and the padding mask', () => {
  it('sinusoidal table: sin at even, cos at odd columns of p / 10000^(2i/d)', () => {
    const pe = sinusoidalPositions(5, 6);
    expect(pe[3 * 6 + 2]).toBeCloseTo(Math.sin(3 / 10000 ** (2 / 6)), 6);
    expect(pe[3 * 6 + 3]).toBeCloseTo(Math.cos(3 / 10000 ** (2 / 6)), 6);
    expect(pe[0 * 6 + 1]).toBe(1);
  });

  it('paddingMask: 1 for ids > 0, 0 for [PAD] (0) and −1', () => {
    tidy(() => {
      const m = paddingMask(tensor(Int32Array.from([4, 0, -1, 1, 7, 0]), [2, 3], 'int32'));
      expect(Array.from(m.data())).toEqual([1, 0, 0, 1, 1, 0]);
      expect(m.dtype).toBe('float32');
    });
  });
});

/** Three samples of 7 ids with 7, 3 and 1 real tokens (then [PAD] = 0). */
const IDS = Int32Array.from([5, 9, 2, 14, 3, 8, 1, 4, 11, 6, 0, 0, 0, 0, 13, 0, 0, 0, 0, 0, 0]);
const textModels: { name: string; text: Omit<Extract<LayerSpec, { type: 'text' }>, 'type'> }[] = [
  {
    name: 'learned positions, 2 pre-norm encoders, final norm, mean',
    text: {
      vocab: 16,
      dim: D,
      pool: 'mean',
      layers: [{ type: 'encoder', heads: H, ffn: 10 }, { type: 'encoder', heads: H, ffn: 10 }, { type: 'layernorm' }],
    },
  },
  {
    name: 'sinusoidal positions, post-norm encoder, [CLS]',
    text: {
      vocab: 16,
      dim: D,
      positions: 'sinusoidal',
      pool: 'cls',
      layers: [{ type: 'encoder', heads: 2, ffn: 8, norm: 'post' }],
    },
  },
  {
    name: 'attention + layer norm + linear, max',
    text: {
      vocab: 16,
      dim: D,
      pool: 'max',
      layers: [{ type: 'attention', heads: 4 }, { type: 'layernorm' }, { type: 'linear', out: 5 }],
    },
  },
  {
    name: 'GRU over every step, mean (text-gru)',
    text: {
      vocab: 16,
      dim: 6,
      positions: 'none',
      pool: 'mean',
      layers: [{ type: 'gru', hidden: 5, returnSequences: true }],
    },
  },
];

describe('text models capture', () => {
  for (const md of textModels)
    it(`${md.name}: the Session runs the captured graph (mask computed from the ids) equal to eager`, () => {
      G.manualSeed(10);
      const spec: ModelSpec = {
        inputShape: [L],
        inputDType: 'int32',
        layers: [
          { type: 'text', ...md.text },
          { type: 'linear', out: 3 },
        ],
      };
      const { model } = buildModel(spec);
      model.eval();
      const want = tidy(() => noGrad(() => model.forward(tensor(IDS, [3, L], 'int32'))).data());
      const graph = captureGraph(model, { kind: 'tensor', shape: [L] }, ['a', 'b', 'c'], { inputDType: 'int32' });
      expect(graph.nodes.some((n) => n.op === 'binop')).toBe(true); // the mask: ids > 0
      const s = new Session(readArtifact(writeArtifact(graph), 'text.grad'), { maxBatch: 3 });
      expectClose(s.run(IDS, 3), want, 1e-5, 1e-4);
      // −1 is padding too: the same answers
      expectClose(
        s.run(
          IDS.map((v) => (v === 0 ? -1 : v)),
          3,
        ),
        want,
        1e-5,
        1e-4,
      );
      s.dispose();
      const passed = new Session(runPasses(graph).graph, { maxBatch: 3 });
      expectClose(passed.run(IDS, 3), want, 1e-5, 1e-4);
      passed.dispose();
      // the spec round-trips through buildModel
      const again = buildModel({ ...spec, layers: (model.spec() as { layers: LayerSpec[] }).layers });
      expect(again.model.spec()).toEqual(model.spec());
      again.model.dispose();
      model.dispose();
    });

  it('an answer does not depend on how far the text is padded (eager, L 7 and 11)', () => {
    for (const md of textModels) {
      G.manualSeed(11);
      const { model } = buildModel({
        inputShape: [11],
        layers: [
          { type: 'text', ...md.text },
          { type: 'linear', out: 3 },
        ],
      });
      model.eval();
      const longer = new Int32Array(3 * 11);
      for (let i = 0; i < 3; i++) longer.set(IDS.subarray(i * L, (i + 1) * L), i * 11);
      tidy(() => {
        const a = noGrad(() => model.forward(tensor(IDS, [3, L], 'int32'))).data();
        const b = noGrad(() => model.forward(tensor(longer, [3, 11], 'int32'))).data();
        expectClose(a, b, 1e-5, 1e-4);
      });
      model.dispose();
    }
  });
});

describe('text presets', () => {
  const T = 16;
  const V = 40;
  /** Token ids of 2–16 real tokens from 1…39; label 1 when token 5 appears anywhere (half the samples). */
  function toy(n: number, seed: number): { ids: Int32Array; ys: Int32Array } {
    const rng = new G.Rng(seed);
    const ids = new Int32Array(n * T);
    const ys = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const len = 2 + rng.int(T - 1);
      for (let t = 0; t < len; t++) {
        let v = 1 + rng.int(V - 1);
        while (v === 5) v = 1 + rng.int(V - 1);
        ids[i * T + t] = v;
      }
      if (rng.next() < 0.5) {
        ids[i * T + rng.int(len)] = 5;
        ys[i] = 1;
      }
    }
    return { ids, ys };
  }

  for (const [name, epochs, lr] of [
    ['text-transformer', 2, 1e-3],
    ['text-gru', 5, 3e-3],
  ] as const)
    it(`${name} learns whether token 5 appears (≥ 95% on held-out texts)`, () => {
      G.manualSeed(1);
      const { model } = buildModel(textPresetSpec(name, T, 2, V));
      const train = toy(512, 3);
      const test = toy(256, 4);
      const opt = createOptimizer('adam', model.parameters(), { lr });
      for (let e = 0; e < epochs; e++)
        for (let s = 0; s < 512; s += 32)
          tidy(() => {
            const x = tensor(train.ids.subarray(s * T, (s + 32) * T), [32, T], 'int32');
            backward(crossEntropy(model.forward(x), tensor(train.ys.subarray(s, s + 32), [32], 'int32')));
            opt.step();
            opt.zeroGrad();
          });
      model.eval();
      const p = tidy(() => noGrad(() => model.forward(tensor(test.ids, [256, T], 'int32'))).data());
      let ok = 0;
      for (let i = 0; i < 256; i++) if ((p[2 * i + 1] > p[2 * i] ? 1 : 0) === test.ys[i]) ok++;
      expect(ok / 256).toBeGreaterThanOrEqual(0.95);
      model.dispose();
    }, 120_000);

  it('text-transformer: embedding 64 + learned positions, 1 encoder (4 heads, FFN 256), mean pooling', () => {
    const { model, outShape } = buildModel(textPresetSpec('text-transformer', 128, 2, 1000));
    expect(outShape).toEqual([2]);
    const text = model.layers[0] as TextEncoder;
    expect([text.dim, text.positions, text.pool]).toEqual([64, 'learned', 'mean']);
    const encoders = text.layers.layers.filter((l) => l instanceof TransformerEncoderLayer);
    expect(encoders.map((l) => [l.heads, l.ffn])).toEqual([[4, 256]]);
    expect(model.namedParameters().find(([n]) => n === '0.embed.weight')?.[1].shape).toEqual([1000, 64]);
    model.dispose();
  });

  it('presetSpec takes the vocabulary from the tokenizer and refuses input without one', () => {
    const tokenizer = { kind: 'vocab' as const, vocab: ['<unk>', 'a', 'b'], lowercase: true };
    const spec = presetSpec('text-gru', [8], 2, { kind: 'text', inputShape: [8], tokenizer });
    expect((spec.layers[0] as { vocab: number }).vocab).toBe(3);
    expect(() => presetSpec('text-transformer', [8], 2)).toThrow(/needs text input \(token ids \[L\]/);
    expect(() => presetSpec('text-gru', [8, 3], 2)).toThrow(/per-sample shape \[8, 3\]/);
  });
});

describe('text configs', () => {
  const bad: [string, LayerSpec, number[], RegExp][] = [
    [
      'heads that do not divide the width',
      { type: 'text', vocab: 9, dim: 12, layers: [{ type: 'encoder', heads: 5, ffn: 8 }] },
      [6],
      /layers\[0\]\.layers\[0\]\.heads: 5 heads do not divide the width 12/,
    ],
    [
      'a layer that drops the token axis',
      { type: 'text', vocab: 9, dim: 4, layers: [{ type: 'gru', hidden: 3 }] },
      [6],
      /layers\[0\]\.layers\[0\]: layers of a text block must keep the token axis/,
    ],
    [
      'a text block on a non-sequence input',
      { type: 'text', vocab: 9, dim: 4, layers: [] },
      [6, 2],
      /layers\[0\]: text needs token ids \[L\] input/,
    ],
    [
      'an unknown pooling',
      { type: 'text', vocab: 9, dim: 4, layers: [], pool: 'first' as 'cls' },
      [6],
      /layers\[0\]\.pool: must be one of 'cls', 'mean', 'max', 'none', got "first"/,
    ],
    [
      'a position table shorter than the input',
      { type: 'text', vocab: 9, dim: 4, layers: [], maxLen: 4 },
      [6],
      /layers\[0\]\.maxLen: is 4, shorter than the input's 6 tokens/,
    ],
    [
      'attention dropout of 1',
      { type: 'encoder', heads: 2, ffn: 4, attentionDropout: 1 },
      [6, 4],
      /layers\[0\]\.attentionDropout: must be in \[0, 1\), got 1/,
    ],
  ];
  it.each(bad)('%s is refused, naming the field', (_, layer, inputShape, message) => {
    expect(() => buildModel({ inputShape, layers: [layer] })).toThrow(message);
  });

  it('an empty text block is the masked mean of the token vectors', () => {
    G.manualSeed(12);
    const { model } = buildModel({
      inputShape: [L],
      layers: [{ type: 'text', vocab: 16, dim: 4, positions: 'none', layers: [] }],
    });
    const table = (model.layers[0] as TextEncoder).embed.weight.data();
    tidy(() => {
      const y = noGrad(() => model.forward(tensor(IDS, [3, L], 'int32'))).data();
      const want = [0, 1, 2].flatMap((i) => {
        const ids = [...IDS.subarray(i * L, (i + 1) * L)].filter((v) => v > 0);
        return [0, 1, 2, 3].map((c) => ids.reduce((a, id) => a + table[id * 4 + c], 0) / ids.length);
      });
      expectClose(y, want, 1e-5, 1e-4);
    });
    model.dispose();
  });
});
