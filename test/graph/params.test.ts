// graphParams counts the weights a graph reads: a captured kws model (conv1d → batchnorm → GRU →
// linear) holds the conv1d's [K, C, out] weight beside the [1, K, C, out] view its conv2d reads,
// and the compile report's parameter count must count that weight once.
import { describe, expect, it } from 'vitest';
import { captureGraph } from '../../src/compile/capture.js';
import { runPasses } from '../../src/compile/passes/index.js';
import { graphParams } from '../../src/graph/ir.js';
import { buildModel } from '../../src/nn/build.js';
import { presetSpec } from '../../src/nn/presets.js';

describe('graphParams', () => {
  it('counts the weights the nodes read: a captured kws model has its parameters and buffers, once each', () => {
    const { model } = buildModel(presetSpec('kws', [20, 8], 3));
    const g = captureGraph(model, { kind: 'tabular', shape: [20, 8] }, ['a', 'b', 'c']);
    const stored = [...model.namedParameters(), ...model.namedBuffers()].reduce((s, [, t]) => s + t.size, 0);
    // conv1d [3, 8, 64], batchnorm 4 × [64], GRU 2 × [64, 192] 2 × [192], linear [64, 3] [3]
    expect(stored).toBe(3 * 8 * 64 + 4 * 64 + (2 * 64 * 192 + 2 * 192) + (64 * 3 + 3));
    expect(Object.values(g.constants).reduce((s, c) => s + c.data.length, 0)).toBeGreaterThan(stored);
    expect(graphParams(g)).toBe(stored);
    // the passes fold batchnorm's four vectors into the conv1d (its reshape moved out of the way):
    // 4·64 fewer, and the conv gains a bias of 64
    expect(graphParams(runPasses(g).graph)).toBe(stored - 3 * 64);
    model.dispose();
  });
});
