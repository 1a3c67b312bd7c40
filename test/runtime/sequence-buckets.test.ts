// Pad-to-longest batching of text models (issue 18 item 5): a batch runs at the shortest length
// (16, 32, …, maxTokens) holding its longest text, through the graph specialized to that length,
// and every answer equals the full-length graph's, for the transformer (float and int8), the GRU
// and the bag-of-words presets; models that read padding, or whose graph merges the sequence axis,
// are refused and run at full length.
import { beforeAll, describe, expect, it } from 'vitest';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { captureGraph } from '../../src/compile/capture.js';
import { runPasses } from '../../src/compile/passes/index.js';
import { quantizeGraph } from '../../src/compile/quantize.js';
import type { Graph } from '../../src/graph/ir.js';
import { withSequenceLength } from '../../src/graph/sequence.js';
import { buildModel } from '../../src/nn/build.js';
import { presetSpec, TEXT_TRANSFORMER_SIZE_V1, textPresetSpec } from '../../src/nn/presets.js';
import type { ModelSpec } from '../../src/nn/spec.js';
import { bucketLengths, InferenceModel } from '../../src/runtime/index.js';
import { longestRow } from '../../src/runtime/sequence-buckets.js';
import { manualSeed, Rng } from '../../src/tensor/random.js';
import { engine } from '../compile/prune-fixtures.js';

const L = 64;
const V = 50;
const tokenizer = { kind: 'vocab' as const, vocab: Array.from({ length: V }, (_, i) => `w${i}`), lowercase: true };

/** A model of `spec` with seeded random weights, captured for int32 ids [N, L]. */
function captured(spec: ModelSpec, seed = 3): Graph {
  manualSeed(seed);
  const { model } = buildModel(spec);
  model.eval();
  return noGrad(() =>
    captureGraph(model, { kind: 'text', shape: [L], tokenizer }, ['a', 'b'], { inputDType: 'int32' }),
  );
}

/** `lengths.length` texts of real ids (1…V-1) of those lengths, -1 padded to L. */
function texts(lengths: readonly number[], seed: number): Int32Array {
  const rng = new Rng(seed);
  const ids = new Int32Array(lengths.length * L).fill(-1);
  lengths.forEach((n, r) => {
    for (let t = 0; t < n; t++) ids[r * L + t] = 1 + rng.int(V - 1);
  });
  return ids;
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

/** Runs batches of several length mixes bucketed and at full length; returns the lengths used. */
function expectSameAnswers(m: InferenceModel, tol: number): number[] {
  const used: number[] = [];
  for (const [i, lengths] of [[3], [1, 9, 16], [17, 2], [33, 5, 64], [64], [40, 12, 7, 30]].entries()) {
    const ids = texts(lengths, 10 + i);
    const got = m.run(ids, lengths.length);
    const want = m.session.run(ids, lengths.length);
    expect(maxDiff(got, want), `lengths ${lengths}`).toBeLessThanOrEqual(tol);
    // and each text alone: its answer does not depend on the texts batched with it
    lengths.forEach((_, r) => {
      const one = m.run(ids.slice(r * L, (r + 1) * L), 1);
      expect(maxDiff(one, got.subarray(r * 2, r * 2 + 2))).toBeLessThanOrEqual(tol);
    });
    used.push(m.sequences?.lengthFor(Math.max(...lengths)) ?? L);
  }
  return used;
}

describe('pad-to-longest batching of text models', () => {
  it('bucket lengths and the longest row', () => {
    expect(bucketLengths(128)).toEqual([16, 32, 64, 128]);
    expect(bucketLengths(100)).toEqual([16, 32, 64, 100]);
    expect(bucketLengths(16)).toEqual([16]);
    expect(bucketLengths(8)).toEqual([8]);
    const ids = texts([3, 0, 10], 1);
    expect(longestRow(ids, 3, L)).toBe(10);
    expect(longestRow(texts([0, 0], 1), 2, L)).toBe(0);
    // a -1 inside a row does not end it: only trailing padding is dropped
    ids[L + 20] = 7;
    expect(longestRow(ids, 3, L)).toBe(21);
  });

  let transformer: Graph;
  beforeAll(() => {
    transformer = captured(textPresetSpec('text-transformer', L, 2, V, TEXT_TRANSFORMER_SIZE_V1)); // d 128: a feature axis the size of maxTokens
  });

  it('the transformer graph specializes: reshapes, slices and the positions table follow the sequence axis', () => {
    const g = withSequenceLength(transformer, 16);
    if (typeof g === 'string') throw new Error(g);
    expect(g.values[g.inputs[0]].shape).toEqual([-1, 16]);
    expect(g.meta.input.shape).toEqual([16]);
    expect(g.constants['0.positions'].shape).toEqual([16, 128]);
    expect(g.constants['0.positions'].data).toEqual(transformer.constants['0.positions'].data.subarray(0, 16 * 128));
    const scores = g.nodes.find((n) => n.op === 'softmax');
    expect(g.values[scores?.output as string].shape).toEqual([-1, 4, 16, 16]);
    // the feature axis (128, the same size as L at maxTokens 128) is left alone
    const qkv = g.nodes.find((n) => n.name.endsWith('attn.qkv'));
    expect(g.values[qkv?.output as string].shape).toEqual([-1, 16, 384]);
    expect(withSequenceLength(transformer, 0)).toMatch(/not an integer in \[1, 64\]/);
  });

  it('a constant laid along the sequence twice ([L, L], as a causal mask) is cut on both axes', () => {
    const L2 = 8;
    const g: Graph = {
      inputs: ['ids'],
      outputs: ['y'],
      values: {
        ids: { shape: [-1, L2], dtype: 'int32' },
        e: { shape: [-1, L2, 4], dtype: 'float32' },
        et: { shape: [-1, 4, L2], dtype: 'float32' },
        s: { shape: [-1, L2, L2], dtype: 'float32' },
        b: { shape: [-1, L2, L2], dtype: 'float32' },
        y: { shape: [-1], dtype: 'float32' },
      },
      constants: {
        table: { shape: [V, 4], dtype: 'float32', data: new Float32Array(V * 4).fill(0.5) },
        mask: { shape: [L2, L2], dtype: 'float32', data: Float32Array.from({ length: L2 * L2 }, (_, i) => i) },
      },
      nodes: [
        { name: 'embed', op: 'embedding', inputs: ['ids', 'table'], output: 'e', attrs: {} },
        { name: 't', op: 'transpose', inputs: ['e'], output: 'et', attrs: { perm: [0, 2, 1] } },
        { name: 'mm', op: 'matmul', inputs: ['e', 'et'], output: 's', attrs: {} },
        { name: 'add', op: 'add', inputs: ['s', 'mask'], output: 'b', attrs: {} },
        { name: 'sum', op: 'sum', inputs: ['b'], output: 'y', attrs: { axes: [1, 2], keepDims: false } },
      ] as Graph['nodes'],
      meta: { classNames: [], input: { kind: 'text', shape: [L2], tokenizer }, producer: 'test' },
    };
    const h = withSequenceLength(g, 3);
    if (typeof h === 'string') throw new Error(h);
    expect(h.constants.mask.shape).toEqual([3, 3]);
    expect(Array.from(h.constants.mask.data)).toEqual([0, 1, 2, 8, 9, 10, 16, 17, 18]);
    expect(h.values.b.shape).toEqual([-1, 3, 3]);
  });

  it('transformer (float): every answer equals the full-length graph, at lengths 16, 32 and 64', () => {
    const m = new InferenceModel(runPasses(transformer).graph, { engine, maxBatch: 8 });
    const used = expectSameAnswers(m, 1e-5);
    expect(m.sequences?.refusal).toBeUndefined();
    expect(new Set(used)).toEqual(new Set([16, 32, 64]));
    m.dispose();
  });

  it('transformer (int8: static activation scales) answers as at full length', () => {
    const g = runPasses(transformer).graph;
    const calib = texts(
      Array.from({ length: 64 }, (_, i) => 1 + ((i * 37) % L)),
      5,
    );
    const q = quantizeGraph(g, calib as unknown as Float32Array, 64, { mode: 'int8', method: 'minmax', engine });
    const m = new InferenceModel(q.graph, { engine, maxBatch: 8 });
    expectSameAnswers(m, 1e-5);
    expect(m.sequences?.refusal).toBeUndefined();
    m.dispose();
  });

  it('text-gru and the bag-of-words mlp answer as at full length', () => {
    for (const spec of [
      textPresetSpec('text-gru', L, 2, V),
      presetSpec('mlp', [L], 2, { kind: 'text', inputShape: [L], tokenizer }),
    ]) {
      const m = new InferenceModel(captured(spec), { engine, maxBatch: 8 });
      expectSameAnswers(m, 1e-5);
      expect(m.sequences?.refusal).toBeUndefined();
      m.dispose();
    }
  });

  it('a model that reads its padding (an unmasked mean over tokens) is refused by the probe and runs at full length', () => {
    const spec: ModelSpec = {
      inputShape: [L],
      inputDType: 'int32',
      layers: [
        { type: 'text', vocab: V, dim: 8, positions: 'learned', pool: 'mean', layers: [] },
        { type: 'linear', out: 2 },
      ],
    };
    const g = captured(spec);
    // the pooling's mask removed: the mean now divides by L, padding included
    const unmasked = structuredClone(g);
    const mul = unmasked.nodes.findIndex((n) => n.op === 'mul');
    const sum = unmasked.nodes.findIndex((n, i) => i > mul && n.op === 'sum');
    unmasked.nodes[sum] = {
      ...unmasked.nodes[sum],
      op: 'mean',
      inputs: [unmasked.nodes[mul].inputs[0]],
    } as Graph['nodes'][number];
    const div = unmasked.nodes.findIndex((n) => n.op === 'div');
    const linear = unmasked.nodes[unmasked.nodes.length - 1];
    unmasked.nodes[unmasked.nodes.length - 1] = {
      ...linear,
      inputs: [unmasked.nodes[sum].output, ...linear.inputs.slice(1)],
    };
    unmasked.nodes = unmasked.nodes.filter((_, i) => i !== div); // the mask's count, now unread
    const m = new InferenceModel(unmasked, { engine, maxBatch: 8 });
    const ids = texts([5, 9], 2);
    expect(maxDiff(m.run(ids, 2), m.session.run(ids, 2))).toBe(0);
    expect(m.sequences?.refusal).toMatch(/at length 16 its outputs differ from length 64's/);
    expect(m.sequences?.lengthFor(5)).toBe(L);
    m.dispose();
  });

  it('a graph that merges the sequence axis into features is refused by the rewrite, naming the node', () => {
    const spec: ModelSpec = {
      inputShape: [L],
      inputDType: 'int32',
      layers: [{ type: 'embedding', vocab: V, dim: 4 }, { type: 'flatten' }, { type: 'linear', out: 2 }],
    };
    const g = captured(spec);
    expect(withSequenceLength(g, 16)).toMatch(/merges or splits the sequence axis|maps over the sequence axis/);
    const m = new InferenceModel(g, { engine, maxBatch: 8 });
    const ids = texts([5], 2);
    expect(maxDiff(m.run(ids, 1), m.session.run(ids, 1))).toBe(0);
    expect(m.sequences?.refusal).toMatch(/node '.*'/);
    m.dispose();
  });
});
