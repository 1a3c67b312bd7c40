// PyTorch exports with a dynamic batch axis that the IR cannot carry symbolically: a CNN that
// reads the batch size (x.view(x.size(0), -1): Shape → Gather → Concat → Reshape) and a
// transformer layer that moves the batch axis (batch_first=True transposes to [seq, batch, …]).
// The general path specializes them to one sample (meta.perSample, with a warning saying why) and
// the Session runs a batch sample by sample: outputs equal ONNX Runtime's for a batch of 3.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { runPasses } from '../../src/compile/passes/index.js';
import { importOnnx } from '../../src/onnx/import.js';
import { Session } from '../../src/runtime/session.js';
import { graphSignature } from '../../src/runtime/signature.js';

const N = 3;
const fixture = (f: string) => readFileSync(new URL(`../fixtures/onnx/general/${f}`, import.meta.url));

describe('models whose batch axis is specialized to one sample', () => {
  it.each([
    ['cnn-dyn.onnx', 'x', [N, 1, 28, 28]],
    ['tx-dyn.onnx', 'ids', [N, 12]],
  ] as const)('%s: a batch of 3 equals ONNX Runtime', async (file, input, dims) => {
    const bytes = fixture(file);
    const warnings: string[] = [];
    const g = importOnnx(bytes, file, { warn: (m) => warnings.push(m) });
    expect(g.meta.perSample).toBe(true);
    expect(warnings.join('\n')).toMatch(/batch axis cannot be carried .*one sample/);
    // callers still see a batch axis
    expect(graphSignature(g).inputs[0].shape[0]).toBe(-1);
    const p = runPasses(g).graph;
    const n = (dims as readonly number[]).reduce((a, b) => a * b, 1);
    const ids = file.startsWith('tx');
    const x = ids
      ? Int32Array.from({ length: n }, (_, i) => (i * 7) % 100)
      : Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    const s = new Session(p, { maxBatch: 8 });
    const got = s.runAll([x], N)[0];
    s.dispose();
    const ref = await ort.InferenceSession.create(bytes);
    const feed = ids
      ? new ort.Tensor(
          'int64',
          BigInt64Array.from(x, (v) => BigInt(v)),
          [...dims],
        )
      : new ort.Tensor('float32', x as Float32Array, [...dims]);
    const want = (await ref.run({ [input]: feed }))[ref.outputNames[0]].data as Float32Array;
    await ref.release();
    expect(got.length).toBe(want.length);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    expect(worst).toBeLessThan(1e-4);
  });

  it('a graph specialized to one sample may not hold batched values (validation)', () => {
    const g = importOnnx(fixture('two-input-cnn.onnx'), 'two-input-cnn.onnx');
    g.meta.perSample = true;
    expect(() => new Session(g)).toThrow(/meta\.perSample: a graph specialized to one sample has no batched/);
  });
});
