// Export of text models (nn/transformer.ts): the text-transformer and text-gru presets and variants
// (post-norm, sinusoidal positions, cls and max pooling, attention alone) captured with int32 ids,
// exported, and run by ONNX Runtime on int64 token batches padded to L from 1 to L real tokens
// (0 and −1 both pad): within 1e-4 of the Graduate Session, as captured and after the compiler's
// passes. The graph computes its own padding mask (Greater + Cast), layer norm is one
// LayerNormalization (opset 17), attention's 4-D tensors keep their axis order (no Transposes
// beyond the model's own), and int8 graphs (quantizeGraph) export as QDQ with the int8 embedding
// table gathered row by row.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { captureGraph } from '../../src/compile/capture.js';
import { runPasses } from '../../src/compile/passes/index.js';
import { quantizeGraph } from '../../src/compile/quantize.js';
import type { Graph } from '../../src/graph/ir.js';
import * as G from '../../src/index.js';
import { buildModel } from '../../src/nn/build.js';
import { TEXT_TRANSFORMER_SIZE_V1, textPresetSpec } from '../../src/nn/presets.js';
import type { LayerSpec, ModelSpec } from '../../src/nn/spec.js';
import { exportOnnx } from '../../src/onnx/export.js';
import { num, onnx } from '../../src/onnx/proto.js';
import { Session } from '../../src/runtime/session.js';
import { argmaxAgreement, maxAbsDiff } from './fixtures.js';

const L = 12;
const V = 60;
const N = 8;

/** N texts of 12, 9, 6, 3, 1, 12, 5, 2 real tokens (ids 1…V−1), padded with 0 (odd rows: −1). */
function batch(): Int32Array {
  const ids = new Int32Array(N * L);
  const lens = [12, 9, 6, 3, 1, 12, 5, 2];
  for (let i = 0; i < N; i++)
    for (let t = 0; t < L; t++) ids[i * L + t] = t < lens[i] ? 1 + ((i * 37 + t * 11) % (V - 1)) : i % 2 ? -1 : 0;
  return ids;
}

function capture(spec: ModelSpec, seed = 4): Graph {
  G.manualSeed(seed);
  const { model } = buildModel(spec);
  model.eval();
  const g = captureGraph(model, { kind: 'tensor', shape: [L] }, ['ham', 'spam'], { inputDType: 'int32' });
  model.dispose();
  return g;
}

const textSpec = (text: Record<string, unknown>, layers: LayerSpec[]): ModelSpec => ({
  inputShape: [L],
  inputDType: 'int32',
  layers: [{ type: 'text', vocab: V, dim: 16, ...text, layers } as LayerSpec, { type: 'linear', out: 2 }],
});
const encoder = (norm: 'pre' | 'post'): LayerSpec => ({ type: 'encoder', heads: 4, ffn: 24, dropout: 0.1, norm });

const MODELS: { name: string; spec: ModelSpec }[] = [
  {
    name: 'text-transformer preset at its former size (d 128, 2 pre-norm layers, learned positions, mean)',
    spec: textPresetSpec('text-transformer', L, 2, V, TEXT_TRANSFORMER_SIZE_V1),
  },
  { name: 'text-gru preset (GRU 128 over every step, mean)', spec: textPresetSpec('text-gru', L, 2, V) },
  {
    name: 'post-norm, sinusoidal positions, cls pooling',
    spec: textSpec({ positions: 'sinusoidal', pool: 'cls' }, [encoder('post'), encoder('post')]),
  },
  {
    name: 'attention alone + layernorm, no positions, max pooling',
    spec: textSpec({ positions: 'none', pool: 'max' }, [
      { type: 'attention', heads: 2 },
      { type: 'layernorm' },
      { type: 'gelu' },
    ]),
  },
  { name: 'no layers (masked mean of the embeddings)', spec: textSpec({ positions: 'none' }, []) },
];

/** ONNX Runtime's logits for int ids [N, L] fed as `dtype`. */
async function ortLogits(bytes: Uint8Array, ids: Int32Array, dtype: 'int64' | 'int32' = 'int64', optimized = true) {
  const s = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: 1,
    graphOptimizationLevel: optimized ? 'all' : 'disabled',
  });
  try {
    const data = dtype === 'int64' ? BigInt64Array.from(ids, (v) => BigInt(v)) : ids;
    const out = await s.run({ input: new ort.Tensor(dtype, data, [ids.length / L, L]) });
    return out.logits.data as Float32Array;
  } finally {
    await s.release();
  }
}

const sessionRun = (g: Graph, ids: Int32Array) => {
  const s = new Session(g, { maxBatch: N });
  try {
    return s.run(ids, N);
  } finally {
    s.dispose();
  }
};

const opTypes = (bytes: Uint8Array) => onnx.ModelProto.decode(bytes).graph?.node?.map((n) => n.opType ?? '') ?? [];
const count = (ops: string[], op: string) => ops.filter((o) => o === op).length;

describe('text models export to ONNX', () => {
  const ids = batch();
  for (const m of MODELS)
    it(`${m.name}: ONNX Runtime on int64 ids within 1e-4 of the Session, as captured and after the passes`, async () => {
      const g = capture(m.spec);
      for (const graph of [g, runPasses(g).graph]) {
        const want = sessionRun(graph, ids);
        const bytes = exportOnnx(graph);
        const got = await ortLogits(bytes, ids);
        expect(got.length).toBe(want.length);
        expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
        const ops = opTypes(bytes);
        // the mask is computed in the graph from the ids
        expect(ops).toContain('Greater');
        // layer norm is one op; attention's [N, h, L, *] tensors are not relaid as NCHW
        const g2 = graph.nodes.map((n) => n.op);
        expect(count(ops, 'LayerNormalization')).toBe(count(g2, 'layernorm'));
        expect(count(ops, 'ReduceMean')).toBe(0);
        expect(count(ops, 'Transpose')).toBe(count(g2, 'transpose') + 2 * count(g2, 'rnnscan'));
        expect(count(ops, 'Softmax')).toBe(count(g2, 'softmax'));
      }
    });

  it('int32 ids on request (ids: int32), and the same answers at any padding', async () => {
    const g = capture(MODELS[2].spec);
    const ids = batch();
    const want = sessionRun(g, ids);
    const bytes = exportOnnx(g, { ids: 'int32' });
    const m = onnx.ModelProto.decode(bytes);
    expect(m.graph?.input?.[0].type?.tensorType?.elemType).toBe(6); // INT32
    expect(maxAbsDiff(await ortLogits(bytes, ids, 'int32'), want)).toBeLessThan(1e-4);
    // a text's answer does not depend on what fills its padding (0 or −1, or a longer text's tail)
    const zeroPadded = ids.map((v) => Math.max(v, 0));
    expect(maxAbsDiff(await ortLogits(bytes, zeroPadded, 'int32'), want)).toBeLessThan(1e-4);
  });

  it('declares the input: int64 token ids [N, L], pad 0, the tokenizer in metadata when the model has one', () => {
    const g = capture(MODELS[3].spec);
    const tokenizer = { kind: 'words', vocab: ['<unk>', 'win', 'cash'] };
    g.meta.input = { ...g.meta.input, kind: 'text', tokenizer };
    const m = onnx.ModelProto.decode(exportOnnx(g));
    expect(num(m.opsetImport[0].version)).toBe(17);
    const input = m.graph?.input?.[0];
    expect(input?.name).toBe('input');
    expect(input?.type?.tensorType?.elemType).toBe(7); // INT64
    expect(input?.type?.tensorType?.shape?.dim?.map((d) => d.dimParam || num(d.dimValue ?? 0))).toEqual(['N', L]);
    const props = Object.fromEntries(m.metadataProps.map((p) => [p.key, p.value]));
    expect(JSON.parse(props.input)).toMatchObject({
      kind: 'text',
      layout: 'NC',
      shape: [L],
      ids: { dtype: 'int64', pad: 0, vocab: V },
    });
    expect(JSON.parse(props.tokenizer)).toEqual(tokenizer);
    expect(JSON.parse(props.classNames)).toEqual(['ham', 'spam']);
  });

  it('int8 (quantizeGraph: linears and the embedding table int8) exports as QDQ and agrees with Graduate int8', async () => {
    const ids = batch();
    for (const name of ['text-transformer', 'text-gru'] as const) {
      const g = runPasses(capture(textPresetSpec(name, L, 2, V, TEXT_TRANSFORMER_SIZE_V1))).graph;
      const { graph: q, report } = quantizeGraph(g, ids as unknown as Float32Array, N, {
        mode: 'int8',
        method: 'minmax',
        engine: G.engine(),
      });
      expect(report.int8Layers.length).toBeGreaterThanOrEqual(name === 'text-gru' ? 2 : 9);
      const bytes = exportOnnx(q);
      const ops = opTypes(bytes);
      expect(ops).toContain('DequantizeLinear');
      const want = sessionRun(q, ids);
      const float = sessionRun(g, ids);
      const range = maxAbsDiff(float, new Float32Array(float.length));
      for (const optimized of [false, true]) {
        const got = await ortLogits(bytes, ids, 'int64', optimized);
        // measured: text-gru 1.8e-7; text-transformer 4.3e-3 of a range of 2.4 (a quantization step
        // of one activation flipped by float rounding: GELU's SIMD tanh against ORT's)
        expect(maxAbsDiff(got, want)).toBeLessThan(0.01 * range);
        expect(argmaxAgreement(got, want, N)).toBeGreaterThanOrEqual(0.95);
      }
    }
  });
});
