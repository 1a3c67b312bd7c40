// Import of BERT-style text encoders as PyTorch 1.13 exports them (test/fixtures/onnx/text/, written
// by scripts/make-text-onnx.py with random weights): token + position embeddings →
// nn.TransformerEncoder (2 layers, d 32, 4 heads, erf GELU, batch_first, norm_first both ways) with
// the padding as src_key_padding_mask → masked mean → Linear. bert-pre takes input_ids and
// attention_mask (opset 17, LayerNormalization), bert-post input_ids alone (opset 14, the mask from
// ids != 0 in the graph, layer norm in primitives). Both leave the batch and token axes symbolic:
// the token count must be given (`shapes`, the CLI's --input-shape), and PyTorch's attention reads
// the batch size and moves the batch axis, so the import runs sample by sample (meta.perSample).
// Outputs within 1e-4 of ONNX Runtime on padded batches, before and after the compiler's passes;
// the imported graph (Erf-based GELU, Where/Equal masks) exports back and ONNX Runtime agrees.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { runPasses } from '../../src/compile/passes/index.js';
import { FormatError } from '../../src/errors.js';
import { exportOnnx } from '../../src/onnx/export.js';
import { importOnnx } from '../../src/onnx/import.js';
import { num, onnx } from '../../src/onnx/proto.js';
import { Session } from '../../src/runtime/session.js';
import { maxAbsDiff } from './fixtures.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/onnx/text/${name}`, import.meta.url));
const VOCAB = 50;

/** n texts of L slots with 1…L real tokens (ids 1…49), padded with 0. */
function padded(n: number, L: number, seed: number): Int32Array {
  const ids = new Int32Array(n * L);
  for (let i = 0; i < n; i++) {
    const len = 1 + ((i * 7 + seed) % L);
    for (let t = 0; t < len; t++) ids[i * L + t] = 1 + ((i * 13 + t * 29 + seed) % (VOCAB - 1));
  }
  return ids;
}
const maskOf = (ids: Int32Array) => ids.map((v) => (v > 0 ? 1 : 0));
const int64 = (a: Int32Array, dims: number[]) =>
  new ort.Tensor(
    'int64',
    BigInt64Array.from(a, (v) => BigInt(v)),
    dims,
  );

async function ortLogits(bytes: Uint8Array, feeds: Record<string, Int32Array>, dims: number[]) {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  try {
    const out = await s.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, int64(v, dims)])));
    return out[s.outputNames[0]].data as Float32Array;
  } finally {
    await s.release();
  }
}

const cases = [
  { file: 'bert-pre.onnx', inputs: ['input_ids', 'attention_mask'], opset: 17, ln: 'LayerNormalization' },
  { file: 'bert-post.onnx', inputs: ['input_ids'], opset: 14, ln: 'ReduceMean' },
];

describe('PyTorch BERT-style encoders import equal to ONNX Runtime', () => {
  for (const c of cases)
    it(`${c.file}: within 1e-4 on padded batches of 1 and 5 texts at L 9 and 16, before and after the passes`, async () => {
      const bytes = fixture(c.file);
      const m = onnx.ModelProto.decode(bytes);
      expect(num(m.opsetImport[0].version)).toBe(c.opset);
      expect(m.graph?.node?.map((n) => n.opType)).toContain(c.ln);
      expect(m.graph?.node?.map((n) => n.opType)).toContain('Erf');
      for (const L of [9, 16]) {
        const warnings: string[] = [];
        const shapes = Object.fromEntries(c.inputs.map((i) => [i, [-1, L]]));
        const g = importOnnx(bytes, c.file, { shapes, warn: (w) => warnings.push(w) });
        expect((g.meta.onnx as { path?: string }).path).toBe('general');
        // PyTorch's attention reads the batch size (Shape) and runs sequence-first: one sample at a time
        expect(g.meta.perSample).toBe(true);
        expect(warnings.join()).toMatch(/sample by sample/);
        expect(g.nodes.map((n) => n.op)).toContain('softmax');
        for (const graph of [g, runPasses(g).graph])
          for (const n of [1, 5]) {
            const ids = padded(n, L, L);
            const feeds: Record<string, Int32Array> = { input_ids: ids };
            if (c.inputs.includes('attention_mask')) feeds.attention_mask = maskOf(ids);
            const want = await ortLogits(bytes, feeds, [n, L]);
            const s = new Session(graph, { maxBatch: n });
            const got = s.runAll(
              c.inputs.map((i) => feeds[i]),
              n,
            )[0];
            s.dispose();
            expect(got.length).toBe(want.length);
            expect(maxAbsDiff(got, want), `${c.file} L ${L} batch ${n}`).toBeLessThan(1e-4);
          }
      }
    });

  it('masked keys are masked: a padded position changes nothing, whatever its id', async () => {
    const L = 9;
    const g = importOnnx(fixture('bert-pre.onnx'), 'bert-pre.onnx', {
      shapes: { input_ids: [-1, L], attention_mask: [-1, L] },
    });
    const ids = padded(3, L, 2);
    const mask = maskOf(ids);
    const noisy = ids.map((v, i) => (mask[i] ? v : 1 + (i % (VOCAB - 1)))); // the padding holds real ids
    const s = new Session(g, { maxBatch: 3 });
    const a = s.runAll([ids, mask], 3)[0];
    const b = s.runAll([noisy, mask], 3)[0];
    s.dispose();
    // −∞ of masked_fill is held as −FLOAT32_MAX: softmax weights of masked keys are exactly 0
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-6);
  });

  it('a symbolic token axis needs its length: the message names the input and the flag', () => {
    const load = () => importOnnx(fixture('bert-post.onnx'), 'bert-post.onnx');
    expect(load).toThrow(FormatError);
    expect(load).toThrow(/input 'input_ids' dimension 1 is symbolic \('tokens'\).*--input-shape/);
  });

  it('exports back (Erf GELU, Equal/Where masks, int64 ids) and ONNX Runtime agrees with the original', async () => {
    const L = 9;
    const bytes = fixture('bert-post.onnx');
    const g = importOnnx(bytes, 'bert-post.onnx', { shapes: { input_ids: [-1, L] } });
    const again = exportOnnx(g);
    const ops = onnx.ModelProto.decode(again).graph?.node?.map((n) => n.opType) ?? [];
    expect(ops).toContain('Erf');
    expect(ops).toContain('Where');
    // the import was specialized to one sample: the export takes one text [1, L]
    const input = onnx.ModelProto.decode(again).graph?.input?.[0];
    expect(input?.type?.tensorType?.shape?.dim?.map((d) => num(d.dimValue ?? 0))).toEqual([1, L]);
    const ids = padded(1, L, 3);
    const want = await ortLogits(bytes, { input_ids: ids }, [1, L]);
    const s = await ort.InferenceSession.create(again);
    const got = (await s.run({ input: int64(ids, [1, L]) })).logits.data as Float32Array;
    await s.release();
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
  });
});
