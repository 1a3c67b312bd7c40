// test/fixtures/onnx/fashion-cnn.onnx, the model of bench:infer's imported-model sections
// (bench/infer-imported.ts; made by make-fashion-cnn.py): a typical PyTorch Fashion-MNIST CNN.
// What the benchmark relies on: it imports by the image path (NHWC kernels, no transposes), and
// what `graduate import` makes of it (import, then the graph passes) computes what ONNX Runtime
// computes on the original file.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPasses } from '../../src/compile/passes/index.js';
import { importOnnx } from '../../src/onnx/import.js';
import { maxAbsDiff, runGraph, runOrt } from './fixtures.js';

const FILE = join(import.meta.dirname, '../fixtures/onnx/fashion-cnn.onnx');

/** n pseudo-random 28×28 images of raw pixels 0..255 (one channel: NCHW and NHWC are the same bytes). */
function images(n: number): Float32Array {
  let s = 7;
  return Float32Array.from({ length: n * 784 }, () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return (s >>> 16) % 256;
  });
}

describe('fashion-cnn.onnx (the imported-model benchmark)', () => {
  const bytes = new Uint8Array(readFileSync(FILE));

  it('is a Fashion-MNIST-sized NCHW classifier that imports by the image path', () => {
    const g = importOnnx(bytes, FILE);
    expect((g.meta.onnx as { path?: string }).path).not.toBe('general');
    expect((g.meta.onnx as { inputLayout?: string }).inputLayout).toBe('NCHW');
    expect(g.meta.input.shape).toEqual([28, 28, 1]);
    expect(g.values[g.outputs[0]].shape.slice(1)).toEqual([10]);
    expect(g.nodes.map((n) => n.op).filter((op) => op === 'conv2d')).toHaveLength(3);
  });

  it('imported and passed (as `graduate import` writes it) matches onnxruntime-node on the original file', async () => {
    const g = runPasses(importOnnx(bytes, FILE)).graph;
    const n = 8;
    const x = images(n);
    const want = await runOrt(bytes, x, [n, 1, 28, 28]);
    const got = runGraph(g, x, n);
    const scale = Math.max(...want.map(Math.abs));
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-4 * Math.max(1, scale));
  });
});
