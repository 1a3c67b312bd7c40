// Physical pruning: dead units (exactly zero after relu on calibration data) disappear with the
// outputs unchanged; structured pruning reaches its MAC budget with consistent shapes and equals
// the unpruned graph with the removed channels zeroed (which checks the flatten → linear rows).
import { describe, expect, it } from 'vitest';
import { pruneChannels, pruneDeadUnits } from '../../src/compile/prune.js';
import { ValueError } from '../../src/errors.js';
import { dumpGraph } from '../../src/graph/dump.js';
import { type Graph, graphMacs } from '../../src/graph/ir.js';
import { validateGraph } from '../../src/graph/validate.js';
import type { ModelSpec } from '../../src/nn/spec.js';
import { expectClose } from '../helpers.js';
import { compiled, data, engine, expectSame, layer, N, run } from './prune-fixtures.js';

/** Makes output channel `c` of the conv2d/linear `layer` constant: zero weights, bias `bias`. */
function killChannel(g: Graph, layer: string, c: number, bias = -1): void {
  const n = g.nodes.find((m) => m.name === layer) as Graph['nodes'][number];
  const w = g.constants[n.inputs[1]];
  const C = w.shape[w.shape.length - 1];
  for (let i = c; i < w.data.length; i += C) w.data[i] = 0;
  g.constants[n.inputs[2]].data[c] = bias;
}

const DEAD: ModelSpec = {
  inputShape: [6, 6, 3],
  layers: [
    { type: 'conv2d', out: 8, kernel: 3, padding: 'same' },
    { type: 'batchnorm' },
    { type: 'relu' },
    { type: 'maxpool2d', kernel: 2 },
    { type: 'conv2d', out: 6, kernel: 3, padding: 'same' },
    { type: 'relu' },
    { type: 'flatten' },
    { type: 'linear', out: 7 },
    { type: 'relu' },
    { type: 'linear', out: 4 },
  ],
};

describe('pruneDeadUnits', () => {
  it.each([
    ['relu nodes', ['eliminate', 'fold-bn']],
    ['fused relu epilogues', ['eliminate', 'fold-bn', 'fuse']],
  ])('removes channels that are zero after relu, through pool and flatten, with %s', (_, passes) => {
    const g = compiled(DEAD, passes);
    // every other unit fires: positive bias, and non-negative weights on non-negative (post-relu) inputs
    for (const b of ['0.bias', '4.bias', '7.bias']) g.constants[b].data.fill(1);
    for (const w of ['4.weight', '7.weight']) g.constants[w].data = g.constants[w].data.map(Math.abs);
    killChannel(g, '0', 1);
    killChannel(g, '0', 5, -0.5);
    killChannel(g, '4', 2);
    killChannel(g, '7', 3);
    const before = dumpGraph(g);
    const r = pruneDeadUnits(g, data(g, 1), N, { engine, batch: 16 });
    expect(dumpGraph(g)).toBe(before);
    const out = r.graph;
    validateGraph(out);
    expect(out.constants['0.weight'].shape).toEqual([3, 3, 3, 6]);
    expect(out.constants['0.bias'].shape).toEqual([6]);
    expect(out.constants['4.weight'].shape).toEqual([3, 3, 6, 5]);
    expect(out.constants['7.weight'].shape).toEqual([3 * 3 * 5, 6]);
    expect(out.constants['9.weight'].shape).toEqual([6, 4]);
    expect(layer(r, '0')).toMatchObject({ channels: [8, 6], kept: [0, 2, 3, 4, 6, 7] });
    expect(layer(r, '4')).toMatchObject({ channels: [6, 5], macs: [9 * 9 * 8 * 6, 9 * 9 * 6 * 5] });
    expect(layer(r, '9')).toMatchObject({ channels: [4, 4], blocked: expect.stringContaining('graph output') });
    expect(r.macs.after).toBe(graphMacs(out));
    expect(r.macs.after).toBeLessThan(r.macs.before);
    // identical on the calibration data and on other data too (the channels are constant zero)
    expectSame(run(out, data(g, 1)), run(g, data(g, 1)), 1e-5);
    expectSame(run(out, data(g, 2)), run(g, data(g, 2)), 1e-5);
  });

  it('keeps a zero channel that a following affine shifts away from zero, prunes it when the shift is 0', () => {
    const spec: ModelSpec = {
      inputShape: [3, 3, 2],
      layers: [
        { type: 'conv2d', out: 4, kernel: 1 },
        { type: 'relu' },
        { type: 'batchnorm' },
        { type: 'flatten' },
        { type: 'linear', out: 3 },
      ],
    };
    const g = compiled(spec);
    expect(g.nodes.map((n) => n.op)).toEqual(['conv2d', 'unary', 'affine', 'flatten', 'linear']);
    killChannel(g, '0', 0);
    g.constants['2.shift'].data[0] = 0.5;
    expect(pruneDeadUnits(g, data(g, 3), N, { engine }).graph.constants['0.weight'].shape).toEqual([1, 1, 2, 4]);
    g.constants['2.shift'].data[0] = 0;
    const r = pruneDeadUnits(g, data(g, 3), N, { engine });
    expect(r.graph.constants['0.weight'].shape).toEqual([1, 1, 2, 3]);
    expect(r.graph.constants['2.scale'].shape).toEqual([3]);
    expect(r.graph.constants['4.weight'].shape).toEqual([27, 3]);
    expectSame(run(r.graph, data(g, 4)), run(g, data(g, 4)), 1e-5);
  });

  it('leaves channels that feed a residual add', () => {
    const spec: ModelSpec = {
      inputShape: [4, 4, 4],
      layers: [
        {
          type: 'residual',
          layers: [
            { type: 'conv2d', out: 5, kernel: 3, padding: 'same' },
            { type: 'relu' },
            { type: 'conv2d', out: 4, kernel: 3, padding: 'same' },
            { type: 'relu' },
          ],
        },
        { type: 'globalavgpool' },
        { type: 'linear', out: 3 },
      ],
    };
    for (const passes of [['eliminate'], ['eliminate', 'fuse']]) {
      const g = compiled(spec, passes);
      killChannel(g, '0.block.0', 4);
      killChannel(g, '0.block.2', 1);
      const r = pruneDeadUnits(g, data(g, 5), N, { engine });
      validateGraph(r.graph);
      expect(layer(r, '0.block.0')).toMatchObject({ channels: [5, 4], kept: [0, 1, 2, 3] });
      expect(layer(r, '0.block.2')).toMatchObject({ channels: [4, 4], blocked: expect.stringMatching(/add/) });
      expectSame(run(r.graph, data(g, 5)), run(g, data(g, 5)), 1e-5);
    }
  });
});

const WIDE: ModelSpec = {
  inputShape: [8, 8, 3],
  layers: [
    { type: 'conv2d', out: 16, kernel: 3, padding: 'same' },
    { type: 'batchnorm' },
    { type: 'relu' },
    { type: 'maxpool2d', kernel: 2 },
    { type: 'conv2d', out: 12, kernel: 3, padding: 'same' },
    { type: 'batchnorm' },
    { type: 'relu' },
    { type: 'flatten' },
    { type: 'linear', out: 20 },
    { type: 'relu' },
    { type: 'linear', out: 5 },
  ],
};

/** The unpruned graph with every removed channel's weight column and bias zeroed. */
function zeroedReference(g: Graph, r: ReturnType<typeof pruneChannels>): Graph {
  const ref = structuredClone(g);
  for (const l of r.layers) {
    if (!l.kept) continue;
    for (let c = 0; c < l.channels[0]; c++) if (!l.kept.includes(c)) killChannel(ref, l.layer, c, 0);
  }
  return ref;
}

describe('pruneChannels', () => {
  it.each([
    [0.3, 'l2'],
    [0.5, 'l1'],
    [0.7, 'l1'],
  ] as const)(
    'removes at least %s of the MACs (%s) and equals the graph with those channels zeroed',
    (fraction, criterion) => {
      const g = compiled(WIDE);
      const before = dumpGraph(g);
      const r = pruneChannels(g, { fraction, criterion });
      expect(dumpGraph(g)).toBe(before);
      validateGraph(r.graph);
      expect(r.reached).toBe(true);
      expect(r.macs.before).toBe(graphMacs(g));
      expect(r.macs.after).toBe(graphMacs(r.graph));
      expect(r.macs.after).toBeLessThanOrEqual((1 - fraction) * r.macs.before);
      const [c0, c1, l0, l1] = ['0', '4', '8', '10'].map((name) => layer(r, name) as (typeof r.layers)[number]);
      expect(l1.channels).toEqual([5, 5]);
      expect(c0.channels[1]).toBeGreaterThanOrEqual(4);
      expect(c1.channels[1]).toBeGreaterThanOrEqual(4);
      expect(l0.channels[1]).toBeGreaterThanOrEqual(4);
      expect(r.graph.constants['0.weight'].shape).toEqual([3, 3, 3, c0.channels[1]]);
      expect(r.graph.constants['4.weight'].shape).toEqual([3, 3, c0.channels[1], c1.channels[1]]);
      expect(r.graph.constants['8.weight'].shape).toEqual([16 * c1.channels[1], l0.channels[1]]);
      expect(r.graph.constants['10.weight'].shape).toEqual([l0.channels[1], 5]);
      expect(c1.macs).toEqual([16 * 9 * 16 * 12, 16 * 9 * c0.channels[1] * c1.channels[1]]);
      const x = data(g, 9);
      expectClose(run(r.graph, x), run(zeroedReference(g, r), x), 1e-4, 1e-4);
    },
  );

  it('removes the channels of least weight norm relative to their layer first', () => {
    const g = compiled(WIDE);
    const w = g.constants['0.weight'];
    for (let i = 0; i < w.data.length; i++) if (i % 16 === 3 || i % 16 === 7) w.data[i] *= 0.01;
    // one channel of conv 0 is 3456 of 59236 MACs: 10% takes exactly the two weak ones
    const r = pruneChannels(g, { fraction: 0.1, criterion: 'l1' });
    expect(layer(r, '0')).toMatchObject({ channels: [16, 14], kept: [0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15] });
    expect(layer(r, '4')?.channels).toEqual([12, 12]);
    const x = data(g, 10);
    expectClose(run(r.graph, x), run(zeroedReference(g, r), x), 1e-4, 1e-4);
  });

  it.each([0.3, 0.5, 0.7])(
    'align 4 rounds every pruned layer to a multiple of 4 channels (fraction %s)',
    (fraction) => {
      const g = compiled(WIDE);
      const exact = pruneChannels(g, { fraction, criterion: 'l1' });
      const r = pruneChannels(g, { fraction, criterion: 'l1', align: 4 });
      validateGraph(r.graph);
      for (const name of ['0', '4', '8']) {
        const kept = (layer(r, name) as (typeof r.layers)[number]).channels[1];
        const before = (layer(exact, name) as (typeof r.layers)[number]).channels[1];
        expect(kept % 4).toBe(0);
        expect(Math.abs(kept - before)).toBeLessThanOrEqual(2);
      }
      expect(r.graph.constants['10.weight'].shape).toEqual([layer(r, '8')?.channels[1], 5]);
      const x = data(g, 11);
      expectClose(run(r.graph, x), run(zeroedReference(g, r), x), 1e-4, 1e-4);
      expect(() => pruneChannels(g, { fraction, criterion: 'l1', align: 0 })).toThrow(/align 0/);
    },
  );

  it('keeps max(4, 10%) channels per layer and says when the target cannot be reached', () => {
    const g = compiled(WIDE);
    const r = pruneChannels(g, { fraction: 0.99, criterion: 'l2' });
    expect(r.reached).toBe(false);
    expect(r.layers.map((l) => l.channels[1])).toEqual([4, 4, 4, 5]);
    validateGraph(r.graph);
    expect(() => pruneChannels(g, { fraction: 1, criterion: 'l1' })).toThrow(ValueError);
    expect(() => pruneChannels(g, { fraction: 0.5, criterion: 'linf' as 'l1' })).toThrow(/criterion 'linf'/);
  });
});
