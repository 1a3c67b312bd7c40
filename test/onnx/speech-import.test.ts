// Import of speech models as PyTorch exports them (test/fixtures/onnx/speech/, written by
// scripts/make-speech-onnx.py with random weights): a batch-first GRU, a stacked bidirectional LSTM,
// strided/dilated/grouped/depthwise Conv1d, and a conv1d → BatchNorm → GRU → linear keyword model.
// Each imports through the general path and must equal ONNX Runtime within 1e-4 at batch 1 and 3;
// a symbolic time axis imports once its length is given (`shapes`, the CLI's --input-shape).
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { runPasses } from '../../src/compile/passes/index.js';
import { FormatError } from '../../src/errors.js';
import { type ImportOptions, importOnnx } from '../../src/onnx/import.js';
import { Session } from '../../src/runtime/session.js';
import { maxAbsDiff } from './fixtures.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/onnx/speech/${name}`, import.meta.url));

/** Deterministic inputs in about [-1.5, 1.5]. */
const input = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.37 + seed) * 1.5);

/** ONNX Runtime's outputs, in the model's output order. */
async function ortRun(bytes: Uint8Array, x: Float32Array, dims: number[]): Promise<Float32Array[]> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  try {
    const out = await s.run({ x: new ort.Tensor('float32', x, dims) });
    return s.outputNames.map((o) => out[o].data as Float32Array);
  } finally {
    await s.release();
  }
}

const cases: { file: string; shape: number[]; opts?: ImportOptions }[] = [
  { file: 'gru.onnx', shape: [7, 8] },
  { file: 'lstm-bi2.onnx', shape: [7, 8] },
  { file: 'conv1d.onnx', shape: [6, 16] },
  { file: 'kws.onnx', shape: [20, 10] },
  { file: 'kws-dyn-time.onnx', shape: [20, 10], opts: { shapes: { x: [-1, 20, 10] } } },
];

describe('PyTorch speech models import equal to ONNX Runtime', () => {
  for (const c of cases)
    it(`${c.file}: every output within 1e-4 at batch 1 and 3, before and after the compiler's passes`, async () => {
      const bytes = fixture(c.file);
      const warnings: string[] = [];
      const g = importOnnx(bytes, c.file, { ...c.opts, warn: (m) => warnings.push(m) });
      for (const graph of [g, runPasses(g).graph])
        for (const N of [1, 3]) {
          const x = input(N * c.shape[0] * c.shape[1], N);
          const want = await ortRun(bytes, x, [N, ...c.shape]);
          const s = new Session(graph, { maxBatch: N });
          const got = s.runAll([x], N);
          s.dispose();
          expect(got.length).toBe(want.length);
          for (const [k, w] of want.entries()) {
            expect(got[k].length, `${c.file} output ${k}`).toBe(w.length);
            expect(maxAbsDiff(got[k], w), `${c.file} output ${k} at batch ${N}`).toBeLessThan(1e-4);
          }
        }
      console.log(c.file, g.nodes.map((n) => n.op).join(' '), warnings);
    });

  it('a symbolic time axis needs its length: the message names the input and the flag', () => {
    expect(() => importOnnx(fixture('kws-dyn-time.onnx'), 'kws-dyn-time.onnx')).toThrow(FormatError);
  });
});
