// forEachActivation hands over every sample of each batch: also when the values are big enough
// that a default session would run the batch in several tiles (only the last tile's values would
// be left in the arena).
import { describe, expect, it } from 'vitest';
import { forEachActivation } from '../../src/compile/calibrate.js';
import { captureGraph } from '../../src/compile/capture.js';
import { runPasses } from '../../src/compile/passes/index.js';
import * as G from '../../src/index.js';
import { buildModel } from '../../src/nn/build.js';
import { Session } from '../../src/runtime/session.js';
import { rand } from '../helpers.js';

describe('forEachActivation', () => {
  it('observes all samples of a batch bigger than a default tile', () => {
    G.manualSeed(3);
    const { model } = buildModel({
      inputShape: [48, 48, 2],
      layers: [
        { type: 'conv2d', out: 16, kernel: 3, padding: 'same' },
        { type: 'relu' },
        { type: 'flatten' },
        { type: 'linear', out: 3 },
      ],
    });
    model.eval();
    const g = runPasses(captureGraph(model, { kind: 'image', shape: [48, 48, 2] }, ['a', 'b', 'c'])).graph;
    model.dispose();
    const conv = g.nodes[0].output;
    const per = 48 * 48 * 2;
    const n = 20;
    expect(new Session(g, { engine: G.engine(), maxBatch: n }).tile).toBeLessThan(n); // the case at stake
    const x = rand(n * per, 4);
    const seen: Float32Array[] = [];
    forEachActivation(g, x, n, [conv], (_v, a) => seen.push(a.slice()), { engine: G.engine(), batch: n });
    expect(seen.length).toBe(1);
    const one = new Session(g, { engine: G.engine(), maxBatch: 1, tile: 1 });
    const size = 48 * 48 * 16;
    for (const i of [0, 7, n - 1]) {
      one.run(x.subarray(i * per, (i + 1) * per), 1);
      const p = one.ptr(conv) >> 2;
      expect(Array.from(seen[0].subarray(i * size, (i + 1) * size))).toEqual(
        Array.from(G.engine().f32.subarray(p, p + size)),
      );
    }
    one.dispose();
  });
});
