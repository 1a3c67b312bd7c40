// General graphs in the runtime (several inputs, fixed-shape values beside batched ones, int32
// data flowing between host ops): the cases a review found wrong, each pinned here — a fixed input
// must survive every tile, ids from any input are checked against their table, a fixed rank-1
// input to an op with a runtime step is refused, and ops that would mix samples across tiles are
// refused by the shape rules.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { sinkTransposes } from '../../src/compile/passes/transposes.js';
import { GraduateError } from '../../src/errors.js';
import type { Graph } from '../../src/graph/ir.js';
import { validateGraph } from '../../src/graph/validate.js';
import { importOnnx } from '../../src/onnx/import.js';
import { Session } from '../../src/runtime/session.js';
import { namedGraph } from '../graph/build.js';

describe('general graphs in the Session', () => {
  it('a fixed-shape input keeps its value in every tile (its memory is not reused by later values)', () => {
    const g = namedGraph({ x: { shape: [-1, 64], dtype: 'float32' }, w: { shape: [64], dtype: 'float32' } }, [
      { name: 'a', op: 'add', inputs: ['x', 'w'], attrs: {} },
      { name: 's1', op: 'scale', inputs: ['y0'], attrs: { mul: 2, add: 0 } },
      { name: 's2', op: 'scale', inputs: ['y1'], attrs: { mul: 2, add: 0 } },
      { name: 's3', op: 'scale', inputs: ['y2'], attrs: { mul: 2, add: 0 } },
    ]);
    const s = new Session(g, { maxBatch: 4, tile: 1 });
    const [y] = s.runAll([new Float32Array(4 * 64), new Float32Array(64).fill(1)], 4);
    s.dispose();
    expect(new Set(y)).toEqual(new Set([8]));
  });

  it('checks token ids from any input against their table (never reads past it)', () => {
    const g = namedGraph(
      { x: { shape: [-1, 2], dtype: 'float32' }, ids: { shape: [-1, 3], dtype: 'int32' } },
      [{ name: 'e', op: 'embedding', inputs: ['ids', 'w'], attrs: {} }],
      { w: { shape: [2, 2], dtype: 'float32', data: Float32Array.of(1, 2, 3, 4) } },
    );
    g.outputs = ['y0'];
    const s = new Session(g, { maxBatch: 2 });
    const x = new Float32Array(4);
    expect(Array.from(s.runAll([x, Int32Array.of(0, 1, -1, 1, 0, 0)], 2)[0])).toEqual([
      1, 2, 3, 4, 0, 0, 3, 4, 1, 2, 1, 2,
    ]);
    expect(() => s.runAll([x, Int32Array.of(0, 2, 0, 0, 0, 0)], 2)).toThrow(
      /embedding: token id 2 .*outside \[-1, 2\)/,
    );
    expect(() => s.runAll([x, Int32Array.of(0, 0, 0, 1000, 0, 0)], 2)).toThrow(GraduateError);
    s.dispose();
  });

  it('refuses a fixed rank-1 input to an op whose runtime step takes rows (linear)', () => {
    const g = namedGraph(
      { x: { shape: [8], dtype: 'float32' } },
      [{ name: 'fc', op: 'linear', inputs: ['x', 'w'], attrs: { activation: 'none' } }],
      { w: { shape: [8, 64], dtype: 'float32', data: new Float32Array(8 * 64).fill(1) } },
    );
    expect(() => new Session(g)).toThrow(/node 'fc' \(linear\) takes a fixed-shape input of rank 1/);
  });

  it('refuses ops that would mix samples across tiles (batched indices into fixed data, batched scatters)', () => {
    const data = { shape: [4, 2], dtype: 'float32' as const, data: Float32Array.of(0, 0, 10, 10, 20, 20, 30, 30) };
    expect(() =>
      namedGraph(
        { i: { shape: [-1, 2], dtype: 'int32' } },
        [{ name: 'g', op: 'gatherelements', inputs: ['d', 'i'], attrs: { axis: 1 } }],
        { d: data },
      ),
    ).toThrow(/gatherelements: data and indices are batched together/);
    expect(() =>
      namedGraph(
        { i: { shape: [-1], dtype: 'int32' }, u: { shape: [-1], dtype: 'float32' } },
        [{ name: 's', op: 'scatterelements', inputs: ['d', 'i', 'u'], attrs: { axis: 0, reduction: 'add' } }],
        { d: { shape: [4], dtype: 'float32', data: new Float32Array(4) } },
      ),
    ).toThrow(/scatterelements: takes fixed shapes/);
  });

  it('moves a transpose below a broadcasting op with the broadcast shape (squeeze-excitation)', () => {
    const g = namedGraph(
      { s: { shape: [-1, 1, 1, 4], dtype: 'float32' }, x: { shape: [-1, 2, 3, 4], dtype: 'float32' } },
      [
        { name: 't1', op: 'transpose', inputs: ['s'], attrs: { perm: [0, 3, 1, 2] } },
        { name: 't2', op: 'transpose', inputs: ['x'], attrs: { perm: [0, 3, 1, 2] } },
        { name: 'm', op: 'mul', inputs: ['y0', 'y1'], attrs: {} },
      ],
    );
    const sunk = sinkTransposes(g);
    validateGraph(sunk, 'sunk');
    const run = (gr: Graph) => {
      const sess = new Session(gr, { maxBatch: 2 });
      const out = sess.runAll(
        [Float32Array.from({ length: 8 }, (_, i) => i + 1), Float32Array.from({ length: 48 }, (_, i) => i * 0.5)],
        2,
      )[0];
      sess.dispose();
      return Array.from(out);
    };
    expect(run(sunk)).toEqual(run(g));
    expect(sunk.nodes.filter((n) => n.op === 'transpose')).toHaveLength(1);
  });
});

describe('recurrent layers against ONNX Runtime (random, non-uniform weights)', () => {
  const X = Float32Array.from({ length: 5 * 2 * 3 }, (_, i) => Math.sin(i * 1.7) * 1.5);
  it.each(['gru', 'gru-lbr', 'lstm', 'rnn'])('%s: every output equals ONNX Runtime within 1e-5', async (name) => {
    const bytes = readFileSync(new URL(`../fixtures/onnx/general/${name}.onnx`, import.meta.url));
    const g = importOnnx(bytes, `${name}.onnx`);
    const s = new Session(g);
    const got = s.runAll([X]);
    s.dispose();
    const ref = await ort.InferenceSession.create(bytes);
    const want = await ref.run({ X: new ort.Tensor('float32', X, [5, 2, 3]) });
    ref.release();
    expect(got.length).toBe(ref.outputNames.length);
    ref.outputNames.forEach((o, k) => {
      const w = want[o].data as Float32Array;
      expect(got[k].length).toBe(w.length);
      let worst = 0;
      for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(got[k][i] - w[i]));
      expect(worst, `${name} output ${o}`).toBeLessThan(1e-5);
    });
  });
});
