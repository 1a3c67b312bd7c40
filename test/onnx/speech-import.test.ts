// Import of speech models as PyTorch exports them (test/fixtures/onnx/speech/, written by
// scripts/make-speech-onnx.py with random weights): a batch-first GRU, a stacked bidirectional LSTM,
// strided/dilated/grouped/depthwise Conv1d, and a conv1d → BatchNorm → GRU → linear keyword model.
// Each imports through the general path and must equal ONNX Runtime within 1e-4 at batch 1 and 3;
// a symbolic time axis imports once its length is given (`shapes`, the CLI's --input-shape). Their
// GRU/LSTM layers import as linear + rnnscan (the training op: backend GEMMs, a vjp), not the
// `recurrent` host loop. Graduate's 1-D window ops export back (import → export → ONNX Runtime).
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { runPasses } from '../../src/compile/passes/index.js';
import { FormatError } from '../../src/errors.js';
import { exportOnnx } from '../../src/onnx/export.js';
import { type ImportOptions, importOnnx } from '../../src/onnx/import.js';
import { Session } from '../../src/runtime/session.js';
import { handModel, init, maxAbsDiff, node, runOrt } from './fixtures.js';

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

/** scans: rnnscan nodes after the passes (each GRU/LSTM direction: linear + rnnscan, no `recurrent`). */
const cases: { file: string; shape: number[]; scans: number; opts?: ImportOptions }[] = [
  { file: 'gru.onnx', shape: [7, 8], scans: 1 },
  { file: 'lstm-bi2.onnx', shape: [7, 8], scans: 4 },
  { file: 'conv1d.onnx', shape: [6, 16], scans: 0 },
  { file: 'kws.onnx', shape: [20, 10], scans: 1 },
  { file: 'kws-dyn-time.onnx', shape: [20, 10], scans: 1, opts: { shapes: { x: [-1, 20, 10] } } },
];

describe('PyTorch speech models import equal to ONNX Runtime', () => {
  for (const c of cases)
    it(`${c.file}: every output within 1e-4 at batch 1 and 3, before and after the compiler's passes`, async () => {
      const bytes = fixture(c.file);
      const warnings: string[] = [];
      const g = importOnnx(bytes, c.file, { ...c.opts, warn: (m) => warnings.push(m) });
      const passed = runPasses(g).graph;
      expect(passed.nodes.filter((n) => n.op === 'rnnscan')).toHaveLength(c.scans);
      expect(passed.nodes.map((n) => n.op)).not.toContain('recurrent');
      // PyTorch sizes initial_h by reading the batch (Shape → ConstantOfShape) and runs GRU/LSTM
      // sequence-major: the import runs sample by sample (meta.perSample), and says so
      if (c.scans) expect(warnings.join()).toMatch(/sample by sample/);
      for (const graph of [g, passed])
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
    });

  it('a symbolic time axis needs its length: the message names the input and the flag', () => {
    const load = () => importOnnx(fixture('kws-dyn-time.onnx'), 'kws-dyn-time.onnx');
    expect(load).toThrow(FormatError);
    expect(load).toThrow(/input 'x'.*--input-shape/);
  });
});

describe('1-D windows export back to ONNX (convnd, convtransposend, poolnd)', () => {
  const N = 3;
  /** Imports `bytes`, exports the graph again, and runs both files in ONNX Runtime on one input. */
  async function roundTrip(bytes: Uint8Array, dims: number[], ops: string[]) {
    const g = importOnnx(bytes, 'model.onnx');
    for (const op of ops) expect(g.nodes.map((n) => n.op)).toContain(op);
    const x = input(N * dims[0] * dims[1], 2);
    const want = await runOrt(bytes, x, [N, ...dims]);
    const again = exportOnnx(g);
    expect(maxAbsDiff(await runOrt(again, x, [N, ...dims]), want)).toBeLessThan(1e-4);
  }

  it("PyTorch's strided, dilated, grouped and depthwise Conv1d", async () => {
    await roundTrip(fixture('conv1d.onnx'), [6, 16], ['convnd']);
  });

  it('ConvTranspose, MaxPool (dilated, ceil mode) and AveragePool (padding counted) over [N, C, T]', async () => {
    const w = Array.from({ length: 4 * 3 * 3 }, (_, i) => Math.cos(i * 0.7) * 0.5);
    const bytes = handModel({
      input: [-1, 4, 11],
      nodes: [
        node('ConvTranspose', ['x', 'w', 'b'], ['t'], 'up', {
          strides: [2],
          pads: [1, 0],
          output_padding: [1],
          group: 1,
          dilations: [2],
        }),
        node('MaxPool', ['t'], ['m'], 'max', { kernel_shape: [3], strides: [2], dilations: [2], ceil_mode: 1 }),
        node('AveragePool', ['m'], ['y'], 'avg', { kernel_shape: [3], pads: [1, 1], count_include_pad: 1 }),
      ],
      inits: [init('w', [4, 3, 3], w), init('b', [3], [0.1, -0.2, 0.3])],
    });
    await roundTrip(bytes, [4, 11], ['convtransposend', 'poolnd']);
  });
});
