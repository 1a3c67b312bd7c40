// Graduated models run on WebGPU: the same artifact (graph) as a Session on the WebGPU backend and on
// the wasm backend gives the same outputs — the cnn preset as f32 (BN folded, epilogues fused:
// prepared weights, fused GEMM/conv epilogues, pooling), as fp16 (weights kept in f16 storage where
// the adapter has shader-f16) and as int8 (int8 GEMM/conv with i32 accumulation, requantizing
// epilogues: equal class for class), and the text transformer (attention: batched matmuls, softmax,
// layer norm, gather) and the text GRU (scan). Skipped, saying so, where no adapter exists.
import { describe, expect, it } from 'vitest';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { captureGraph } from '../../src/compile/capture.js';
import { runPasses } from '../../src/compile/passes/index.js';
import { quantizeGraph } from '../../src/compile/quantize.js';
import type { Graph } from '../../src/graph/ir.js';
import { buildModel } from '../../src/nn/build.js';
import { presetSpec, textPresetSpec } from '../../src/nn/presets.js';
import type { ModelSpec } from '../../src/nn/spec.js';
import { Session } from '../../src/runtime/session.js';
import { engine } from '../../src/tensor/context.js';
import { manualSeed, Rng } from '../../src/tensor/random.js';
import { gpuBackend } from '../backend/gpu.js';

const gpu = gpuBackend('the WebGPU runtime tests');

function cnnGraph(): Graph {
  manualSeed(11);
  const { model } = buildModel(presetSpec('cnn', [28, 28, 1], 10));
  model.eval();
  const g = captureGraph(model, { kind: 'image', shape: [28, 28, 1], scale: 1 / 255, mean: [0.5], std: [0.25] }, [
    ...'abcdefghij',
  ]);
  return runPasses(g).graph;
}

const B = 9;
const images = new Float32Array(B * 784).map((_, i) => ((i * 7919) % 256) / 255);

function both(g: Graph, x: Float32Array, batch: number): [Float32Array, Float32Array] {
  const onGpu = new Session(g, { backend: gpu, maxBatch: 16 });
  const onCpu = new Session(g, { engine: engine(), maxBatch: 16 });
  try {
    return [Float32Array.from(onGpu.run(x, batch)), Float32Array.from(onCpu.run(x, batch))];
  } finally {
    onGpu.dispose();
    onCpu.dispose();
  }
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  const scale = b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]) / scale);
  return d;
}

describe.skipIf(!gpu)('graduated models on WebGPU', () => {
  const f32 = gpu ? cnnGraph() : (undefined as never);

  it('the f32 cnn gives the wasm outputs (within 1e-5 of the logits scale), batch 9 and batch 1', () => {
    const [g, c] = both(f32, images, B);
    expect(g.length).toBe(B * 10);
    expect(maxRelDiff(g, c)).toBeLessThan(1e-5);
    const [g1, c1] = both(f32, images.subarray(784, 2 * 784), 1);
    expect(maxRelDiff(g1, c1)).toBeLessThan(1e-5);
  });

  it('the fp16 cnn: weights in f16 storage (shader-f16), outputs equal the wasm run of the same halves', () => {
    const half = quantizeGraph(f32, images, B, { mode: 'fp16', method: 'minmax', engine: engine() }).graph;
    const [g, c] = both(half, images, B);
    expect(maxRelDiff(g, c)).toBeLessThan(1e-5);
  });

  it('the int8 cnn: the same classes as the wasm int8 kernels, logits within a quantization step', () => {
    const q = quantizeGraph(f32, images, B, { mode: 'int8', method: 'minmax', engine: engine() }).graph;
    const [g, c] = both(q, images, B);
    expect(maxRelDiff(g, c)).toBeLessThan(1e-5);
  });

  const L = 32;
  const V = 50;
  const tokenizer = { kind: 'vocab' as const, vocab: Array.from({ length: V }, (_, i) => `w${i}`), lowercase: true };
  function textGraph(spec: ModelSpec): Graph {
    manualSeed(4);
    const { model } = buildModel(spec);
    model.eval();
    const g = noGrad(() =>
      captureGraph(model, { kind: 'text', shape: [L], tokenizer }, ['ham', 'spam'], { inputDType: 'int32' }),
    );
    return runPasses(g).graph;
  }
  /** 3 texts of 5, 32 and 17 ids, -1 padded (as int32 in a Float32Array's place: the session takes either). */
  function ids(): Int32Array {
    const rng = new Rng(8);
    const out = new Int32Array(3 * L).fill(-1);
    [5, 32, 17].forEach((n, r) => {
      for (let t = 0; t < n; t++) out[r * L + t] = 1 + rng.int(V - 1);
    });
    return out;
  }

  it.each(['text-transformer', 'text-gru'] as const)(
    'the %s (embedding, attention or GRU scan) gives the wasm outputs',
    (name) => {
      const g = textGraph(textPresetSpec(name, L, 2, V));
      const x = ids();
      const onGpu = new Session(g, { backend: gpu, maxBatch: 4 });
      const onCpu = new Session(g, { engine: engine(), maxBatch: 4 });
      try {
        const [a, b] = [Float32Array.from(onGpu.run(x, 3)), Float32Array.from(onCpu.run(x, 3))];
        expect(maxRelDiff(a, b)).toBeLessThan(1e-4);
      } finally {
        onGpu.dispose();
        onCpu.dispose();
      }
    },
  );
});
