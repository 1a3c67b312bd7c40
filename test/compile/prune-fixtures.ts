// Shared by the pruning tests (prune.test.ts: images; prune-sequence.test.ts: conv1d / GRU / LSTM):
// random-weight models captured and passed through eliminate + fold-bn, a Session run over N
// samples, and the comparison of a pruned graph's outputs with a reference's.
import { expect } from 'vitest';
import { captureGraph } from '../../src/compile/capture.js';
import { runPasses } from '../../src/compile/passes/index.js';
import type { PruneResult } from '../../src/compile/prune.js';
import { type Graph, numel } from '../../src/graph/ir.js';
import { buildModel } from '../../src/nn/build.js';
import type { ModelSpec } from '../../src/nn/spec.js';
import { Session } from '../../src/runtime/session.js';
import { manualSeed } from '../../src/tensor/random.js';
import { engineConfigs, engineFor, rand } from '../helpers.js';

export const engine = engineFor(engineConfigs()[0]);
export const N = 40; // calibration / test samples

const perSample = (g: Graph) => numel(g.values[g.inputs[0]].shape.slice(1));
export const data = (g: Graph, seed: number): Float32Array => rand(N * perSample(g), seed);

/** The graph's outputs for N samples `x`, in batches of 16. */
export function run(g: Graph, x: Float32Array): Float32Array {
  const s = new Session(g, { engine, maxBatch: 16 });
  const per = perSample(g);
  const out: number[] = [];
  try {
    for (let i = 0; i < N; i += 16) {
      const b = Math.min(16, N - i);
      out.push(...s.run(x.subarray(i * per, (i + b) * per), b));
    }
  } finally {
    s.dispose();
  }
  return Float32Array.from(out);
}

/** max |a − b| ≤ tol · max |b|. */
export function expectSame(a: Float32Array, b: Float32Array, tol: number): void {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  expect(diff).toBeLessThanOrEqual(tol * scale);
}

/** A random-weight model (biases too), captured, after the given passes (default: eliminate + fold-bn). */
export function compiled(spec: ModelSpec, passes = ['eliminate', 'fold-bn']): Graph {
  manualSeed(3);
  const { model } = buildModel(spec);
  const kind = spec.inputShape.length === 2 ? 'tabular' : 'image';
  const g = captureGraph(model, { kind, shape: spec.inputShape }, []);
  model.dispose();
  let seed = 50;
  for (const [name, c] of Object.entries(g.constants))
    if (name.endsWith('.bias')) c.data = rand(c.data.length, seed++).map((v) => 0.2 * v);
  return runPasses(g, passes).graph;
}

export const layer = (r: PruneResult, name: string): PruneResult['layers'][number] | undefined =>
  r.layers.find((l) => l.layer === name);
