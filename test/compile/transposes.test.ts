// The transposes pass on a graph read by the general ONNX path (ONNX's NCHW order kept, each
// convolution wrapped in transposes to the NHWC kernels): the transposes between the convolutions
// cancel, the ReLU fuses into the first convolution, and the outputs still equal ONNX Runtime's.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { runPasses, sinkTransposes } from '../../src/compile/passes/index.js';
import type { Graph } from '../../src/graph/ir.js';
import { validateGraph } from '../../src/graph/validate.js';
import { importOnnx } from '../../src/onnx/import.js';
import { Session } from '../../src/runtime/session.js';

const FILE = new URL('../fixtures/onnx/general/two-input-cnn.onnx', import.meta.url);
const N = 3;
const x = Float32Array.from({ length: N * 90 }, (_, i) => Math.sin(i * 0.7));
const y = Float32Array.from({ length: N * 120 }, (_, i) => Math.cos(i * 0.3));

function run(g: Graph): Float32Array {
  const s = new Session(g, { maxBatch: N });
  try {
    return s.runAll([x, y], N)[0] as Float32Array;
  } finally {
    s.dispose();
  }
}

const count = (g: Graph, op: string) => g.nodes.filter((n) => n.op === op).length;

describe('pass transposes', () => {
  it('cancels the transposes between NCHW convolutions and keeps the answer', async () => {
    const bytes = readFileSync(FILE);
    const g = importOnnx(bytes, 'two-input-cnn.onnx');
    expect((g.meta.onnx as { path: string }).path).toBe('general');
    expect(count(g, 'transpose')).toBe(4);
    const sunk = sinkTransposes(g);
    validateGraph(sunk, 'sunk');
    // one transpose into NHWC at the input, one back out before the Add with the NCHW input y
    expect(count(sunk, 'transpose')).toBe(2);
    const { graph: p } = runPasses(g);
    const convs = p.nodes.filter((n) => n.op === 'conv2d');
    expect(convs.map((n) => (n.attrs as { activation: string }).activation)).toEqual(['relu', 'none']);
    const s = await ort.InferenceSession.create(bytes);
    const r = await s.run({
      x: new ort.Tensor('float32', x, [N, 3, 6, 5]),
      y: new ort.Tensor('float32', y, [N, 4, 6, 5]),
    });
    const want = r.out.data as Float32Array;
    for (const got of [run(g), run(sunk), run(p)]) {
      expect(got.length).toBe(want.length);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
      expect(worst).toBeLessThan(1e-4);
    }
  });

  it('leaves graphs without transposes as they are', () => {
    const g = importOnnx(readFileSync(FILE), 'two-input-cnn.onnx');
    const once = sinkTransposes(g);
    expect(sinkTransposes(once).nodes.map((n) => n.op)).toEqual(once.nodes.map((n) => n.op));
  });
});
