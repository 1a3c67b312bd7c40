// InferenceModel.runNamed on imported ONNX graphs with several named inputs and outputs: what goes
// in (a name → typed array map, as onnxruntime-node's session.run takes it), what comes out (every
// output by name, in its declared type's array: int64 → BigInt64Array, bool → Uint8Array), the
// same values as ONNX Runtime on the same file, the metadata accessors, and errors that name the
// input. run() keeps working for one-input models and points multi-input ones to runNamed.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { runPasses } from '../../src/compile/passes/index.js';
import { writeArtifact } from '../../src/graph/artifact.js';
import { Engine } from '../../src/kernels/engine.js';
import { type ImportOptions, importOnnx } from '../../src/onnx/import.js';
import { type InferenceModel, loadArtifact } from '../../src/runtime/index.js';
import { constantModel, fixedModel, mixedModel, symbolicModel, twoInputModel } from '../onnx/named-fixtures.js';

const engine = Engine.create({ threads: 1 });

/** An ONNX model imported, passed through the compiler's passes and written, as `graduate import` does, then loaded. */
async function load(onnxBytes: Uint8Array, opts: ImportOptions = {}): Promise<InferenceModel> {
  const g = runPasses(importOnnx(onnxBytes, 'model.onnx', opts)).graph;
  return loadArtifact(writeArtifact(g, 'test'), { engine, maxBatch: 8 });
}

async function runOrt(bytes: Uint8Array, feeds: Record<string, ort.Tensor>) {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

const N = 3;
const x = Float32Array.from({ length: N * 12 }, (_, i) => Math.cos(i * 1.3) * 3);
const ids = BigInt64Array.from({ length: N * 3 }, (_, i) => BigInt((i * 7) % 10));

describe('InferenceModel.runNamed', () => {
  it('two inputs (float, int64) → three outputs (float, int64, bool) equal to ONNX Runtime', async () => {
    const bytes = twoInputModel();
    const model = await load(bytes);
    expect(model.inputs.map((t) => [t.name, t.dtype, t.shape])).toEqual([
      ['x', 'float32', [-1, 3, 4]],
      ['ids', 'int64', [-1, 3]],
    ]);
    expect(model.outputs.map((t) => [t.name, t.dtype, t.shape])).toEqual([
      ['sum', 'float32', [-1, 3, 4]],
      ['best', 'int64', [-1, 3]],
      ['pos', 'bool', [-1, 3, 4]],
    ]);
    expect(model.inputNames).toEqual(['x', 'ids']);
    expect(model.outputNames).toEqual(['sum', 'best', 'pos']);
    expect(model.signature.stackable).toBe(true);

    const out = model.runNamed({ x, ids });
    const ref = await runOrt(bytes, {
      x: new ort.Tensor('float32', x, [N, 3, 4]),
      ids: new ort.Tensor('int64', ids, [N, 3]),
    });
    expect(out.sum).toBeInstanceOf(Float32Array);
    expect(out.best).toBeInstanceOf(BigInt64Array);
    expect(out.pos).toBeInstanceOf(Uint8Array);
    expect(ref.best.data).toBeInstanceOf(BigInt64Array); // the types onnxruntime-node returns
    expect(ref.pos.data).toBeInstanceOf(Uint8Array);
    const sum = ref.sum.data as Float32Array;
    for (let i = 0; i < sum.length; i++) expect(out.sum[i]).toBeCloseTo(sum[i], 5);
    expect([...(out.best as BigInt64Array)]).toEqual([...(ref.best.data as BigInt64Array)]);
    expect([...(out.pos as Uint8Array)]).toEqual([...(ref.pos.data as Uint8Array)]);

    // the compute type's array is accepted too; batch given or inferred; some outputs only
    const again = model.runNamed({ x, ids: Int32Array.from(ids, Number) }, { batch: N, outputs: ['best'] });
    expect(Object.keys(again)).toEqual(['best']);
    expect([...(again.best as BigInt64Array)]).toEqual([...(out.best as BigInt64Array)]);
    // one sample of the batch is that sample alone
    const one = model.runNamed({ x: x.subarray(12, 24), ids: ids.subarray(3, 6) }, 1);
    expect([...(one.best as BigInt64Array)]).toEqual([...(out.best as BigInt64Array).subarray(3, 6)]);
    model.dispose();
  });

  it('fixed shapes (no batch axis): the whole tensors in, the whole tensors out', async () => {
    const bytes = fixedModel();
    const model = await load(bytes);
    expect(model.inputs.map((t) => [t.name, t.dtype, t.shape])).toEqual([
      ['a', 'float32', [2, 3]],
      ['b', 'int32', [3]],
    ]);
    expect(model.signature.stackable).toBe(false);
    const a = Float32Array.of(1, 2, 3, -1, 0.5, 4);
    const b = Int32Array.of(2, -3, 5);
    const out = model.runNamed({ a, b });
    const ref = await runOrt(bytes, { a: new ort.Tensor('float32', a, [2, 3]), b: new ort.Tensor('int32', b, [3]) });
    expect([...(out.prod as Float32Array)]).toEqual([...(ref.prod.data as Float32Array)]);
    expect(out.total).toBeInstanceOf(Int32Array);
    expect([...(out.total as Int32Array)]).toEqual([...(ref.total.data as Int32Array)]);
    expect(() => model.runNamed({ a: a.subarray(1), b })).toThrow(
      "input 'a' has 5 values, expected [2, 3] = 6 (a fixed shape)",
    );
    model.dispose();
  });

  it('inputs fixed at import and a symbolic dim given: the frozen input is gone, the result is ONNX Runtime’s', async () => {
    const bytes = symbolicModel();
    const model = await load(bytes, { shapes: { x: [2, 6] }, constants: { shape: { data: [4, 3, 1] } } });
    expect(model.inputNames).toEqual(['x']);
    expect(model.signature.frozen).toEqual(['shape']);
    const xv = Float32Array.from({ length: 12 }, (_, i) => i - 5);
    const out = model.runNamed({ x: xv });
    const ref = await runOrt(bytes, {
      x: new ort.Tensor('float32', xv, [2, 6]),
      shape: new ort.Tensor('int64', BigInt64Array.of(4n, 3n, 1n), [3]),
    });
    expect([...(out.y as Float32Array)]).toEqual([...(ref.y.data as Float32Array)]);
    expect(model.outputs[0].shape).toEqual([4, 3, 1]);
    model.dispose();
  });

  it('errors name the input: unknown, missing, wrong length with the shape expected, wrong array type, int32 range', async () => {
    const model = await load(twoInputModel());
    expect(() => model.runNamed({ x, ids, extra: x })).toThrow(
      "runNamed: unknown input 'extra'; the model takes 'x' float32 [-1, 3, 4], 'ids' int64 [-1, 3]",
    );
    expect(() => model.runNamed({ x })).toThrow("runNamed: missing input 'ids' (int64 [-1, 3])");
    expect(() => model.runNamed({ x: x.subarray(1), ids })).toThrow(
      "input 'x' has 35 values, expected a batch of samples [3, 4] (a multiple of 12)",
    );
    expect(() => model.runNamed({ x, ids: ids.subarray(3) })).toThrow(
      "input 'ids' has 6 values, expected 3 × [3] = 9 (shape [-1, 3], batch 3)",
    );
    expect(() => model.runNamed({ x, ids }, 2)).toThrow("input 'x' has 36 values, expected 2 × [3, 4] = 24");
    expect(() => model.runNamed({ x, ids: Float32Array.from(ids, Number) })).toThrow(
      "runNamed: input 'ids' (int64 [-1, 3]): expected a BigInt64Array or Int32Array, got Float32Array",
    );
    expect(() => model.runNamed({ x: Int32Array.from(x), ids })).toThrow(
      "runNamed: input 'x' (float32 [-1, 3, 4]): expected a Float32Array, got Int32Array",
    );
    const big = ids.slice();
    big[4] = 2n ** 40n;
    expect(() => model.runNamed({ x, ids: big })).toThrow(
      "runNamed: input 'ids': [4] = 1099511627776 does not fit int32 (Graduate computes integers in int32)",
    );
    expect(() => model.runNamed({ x, ids }, { outputs: ['nope'] })).toThrow("runNamed: unknown output 'nope'");
    // an index past the table is refused by the gather, naming it
    const far = ids.slice();
    far[0] = 10n;
    expect(() => model.runNamed({ x, ids: far })).toThrow(/index 10 is out of range/);
    expect(() => model.run(x, N)).toThrow('InferenceModel.run: the model takes 2 named inputs (x, ids); use runNamed');
    model.dispose();
  });
});

describe('runNamed on graphs of other shapes', () => {
  it('a batched input beside a fixed-shape one: the batch from the batched input, the fixed one whole', async () => {
    const bytes = mixedModel();
    const model = await load(bytes);
    expect(model.signature.stackable).toBe(false);
    const xv = Float32Array.from({ length: 3 * 4 }, (_, i) => i * 0.25 - 1);
    const bias = Float32Array.of(1, -2, 3, -4);
    const out = model.runNamed({ x: xv, bias });
    const ref = await runOrt(bytes, {
      x: new ort.Tensor('float32', xv, [3, 4]),
      bias: new ort.Tensor('float32', bias, [4]),
    });
    expect([...(out.y as Float32Array)]).toEqual([...(ref.y.data as Float32Array)]);
    model.dispose();
  });

  it('no inputs (a graph of constants): runNamed({}) returns its outputs', async () => {
    const model = await load(constantModel());
    expect(model.inputs).toEqual([]);
    expect([...(model.runNamed({}).k as BigInt64Array)]).toEqual([7n, 8n]);
    model.dispose();
  });
});

describe('runNamed on Graduate’s own models', () => {
  it('an image classifier: its input by value name, the same logits as run()', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { writeTinyArtifact } = await import('../serve/fixtures.js');
    const dir = mkdtempSync(join(tmpdir(), 'graduate-named-'));
    try {
      const model = await loadArtifact(writeTinyArtifact(dir), { engine, maxBatch: 4 });
      expect(model.inputs).toHaveLength(1);
      expect(model.inputs[0].shape).toEqual([-1, 8, 8, 1]);
      const img = Float32Array.from({ length: 128 }, (_, i) => Math.sin(i));
      const named = model.runNamed({ [model.inputNames[0]]: img });
      expect([...(named[model.outputNames[0]] as Float32Array)]).toEqual([...model.run(img, 2)]);
      model.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
