// Pruning sequence models (conv1d → batchnorm → relu → GRU / LSTM → linear, as the kws preset):
// conv1d channels pass the [N, 1, T, C] ↔ [N, T, C] reshapes, an rnnscan's hidden units go with
// their gate columns (x-projection, wh, bh), wh's rows and the readers' rows, through slices,
// concats of the directions, stacked layers and pooling over time. A pruned graph must equal the
// unpruned one with the removed units' weights zeroed, which holds exactly: a GRU or LSTM unit
// whose gate inputs are all 0 stays at h = 0 (z = r = ½, n = 0; i = o = f = ½, g = 0).
import { describe, expect, it } from 'vitest';
import { type LayerPruneReport, pruneChannels, pruneDeadUnits } from '../../src/compile/prune.js';
import { dumpGraph } from '../../src/graph/dump.js';
import { type Graph, graphMacs } from '../../src/graph/ir.js';
import { validateGraph } from '../../src/graph/validate.js';
import { graphModel } from '../../src/nn/graph-module.js';
import type { LayerSpec, ModelSpec } from '../../src/nn/spec.js';
import { rand } from '../helpers.js';
import { compiled, data, engine, expectSame, layer, N, run } from './prune-fixtures.js';

type Node = Graph['nodes'][number];

/** conv1d 12 (stride 2, no bias) → batchnorm → relu → `recurrent` → (`pool`) → linear 4, over [9, 5]. */
function kws(recurrent: LayerSpec, pool?: 'mean' | 'max'): Graph {
  const spec: ModelSpec = {
    inputShape: [9, 5],
    layers: [
      { type: 'conv1d', out: 12, kernel: 3, stride: 2, padding: 'same', bias: false },
      { type: 'batchnorm' },
      { type: 'relu' },
      recurrent,
      ...(pool ? [{ type: 'temporalpool', kind: pool } as LayerSpec] : []),
      { type: 'linear', out: 4 },
    ],
  };
  const g = compiled(spec);
  // batchnorm's fresh statistics make the affine 1 and 0: give it a real scale and shift
  g.constants['1.scale'].data = rand(12, 7).map((v) => 1 + 0.5 * v);
  g.constants['1.shift'].data = rand(12, 8).map((v) => 0.3 * v);
  return g;
}

const node = (g: Graph, name: string) => g.nodes.find((n) => n.name === name) as Node;

/** Zeroes columns `cols` (of the last axis) of constant `name`. */
function zeroColumns(g: Graph, name: string, cols: readonly number[]): void {
  const c = g.constants[name];
  const C = c.shape[c.shape.length - 1];
  for (let i = 0; i < c.data.length; i++) if (cols.includes(i % C)) c.data[i] = 0;
}

/**
 * The unpruned graph with each removed unit's incoming weights zeroed: a conv channel's weight
 * column and the following affine's shift (so relu gives 0); an rnnscan unit's gate columns
 * g·H + j in its x-projection (weight, bias), wh and bh.
 */
function zeroedReference(g: Graph, layers: readonly LayerPruneReport[]): Graph {
  const ref = structuredClone(g);
  for (const l of layers) {
    if (!l.kept) continue;
    const removed = Array.from({ length: l.channels[0] }, (_, c) => c).filter((c) => !l.kept?.includes(c));
    const p = node(ref, l.layer);
    if (p.op === 'rnnscan') {
      const H = p.attrs.hidden;
      const cols = [0, 1, 2, 3].slice(0, p.attrs.cell === 'gru' ? 3 : 4).flatMap((k) => removed.map((j) => k * H + j));
      const gates = node(ref, l.gates as string);
      for (const name of [...gates.inputs.slice(1), ...p.inputs.slice(1)]) zeroColumns(ref, name, cols);
    } else {
      for (const name of p.inputs.slice(1)) zeroColumns(ref, name, removed);
      const affine = ref.nodes.find((n) => n.op === 'affine' && n.inputs[0] === node(ref, '0.reshape.2').output);
      if (affine) zeroColumns(ref, affine.inputs[2], removed);
    }
  }
  return ref;
}

const CASES: [string, number, LayerSpec, ('mean' | 'max')?][] = [
  ['GRU', 1, { type: 'gru', hidden: 10 }],
  ['LSTM', 1, { type: 'lstm', hidden: 10 }],
  ['bidirectional GRU (reverse scan, concat of the last states)', 2, { type: 'gru', hidden: 10, bidirectional: true }],
  ['stacked bidirectional LSTM', 4, { type: 'lstm', hidden: 10, layers: 2, bidirectional: true }],
  ['GRU sequences → mean over time', 1, { type: 'gru', hidden: 10, returnSequences: true }, 'mean'],
  [
    'bidirectional LSTM sequences → max over time',
    2,
    { type: 'lstm', hidden: 10, bidirectional: true, returnSequences: true },
    'max',
  ],
];

describe('pruneChannels on sequence models', () => {
  it.each(CASES)(
    '%s (%i scans): every scan and the conv1d shrink; equals the graph with those units zeroed',
    (_, scanCount, rec, pool) => {
      const g = kws(rec, pool);
      const before = dumpGraph(g);
      const r = pruneChannels(g, { fraction: 0.5, criterion: 'l1' });
      expect(dumpGraph(g)).toBe(before);
      const out = r.graph;
      validateGraph(out);
      expect(r.reached).toBe(true);
      expect(r.macs.after).toBe(graphMacs(out));
      const scans = r.layers.filter((l) => l.op === 'rnnscan');
      expect(scans).toHaveLength(scanCount);
      for (const l of scans) {
        expect(l.blocked).toBeUndefined();
        const [H, kept] = l.channels;
        expect(kept).toBeLessThan(H);
        expect(kept).toBeGreaterThanOrEqual(4);
        expect(l.kept).toHaveLength(kept);
        const scan = node(out, l.layer);
        const G = scan.op === 'rnnscan' && scan.attrs.cell === 'gru' ? 3 : 4;
        expect(scan.op === 'rnnscan' && scan.attrs.hidden).toBe(kept);
        expect(out.constants[scan.inputs[1]].shape).toEqual([kept, G * kept]);
        expect(out.constants[node(out, l.gates as string).inputs[1]].shape.at(-1)).toBe(G * kept);
        expect(out.values[scan.output].shape).toEqual([-1, 5, kept]);
      }
      const conv = layer(r, '0.conv2d') as LayerPruneReport;
      expect(conv.channels[1]).toBeLessThan(12);
      expect(out.constants['1.scale'].shape).toEqual([conv.channels[1]]);
      expect(out.values[node(out, '0.reshape.2').output].shape).toEqual([-1, 5, conv.channels[1]]);
      expect(layer(r, pool ? '5' : '4')?.blocked).toMatch(/graph output/);
      const x = data(g, 21);
      expectSame(run(out, x), run(zeroedReference(g, r.layers), x), 1e-4);
    },
  );

  it('removes the units of least importance first: weak incoming weights', () => {
    const g = kws({ type: 'gru', hidden: 10 });
    for (const name of ['3.weight_ih_l0', '3.weight_hh_l0', '3.bias_ih_l0', '3.bias_hh_l0']) {
      const c = g.constants[name];
      for (let i = 0; i < c.data.length; i++) if ([2, 5].includes((i % 30) % 10)) c.data[i] *= 0.01;
    }
    // 15% of 4,240 MACs is two units (469 and 439 MACs: their share of the scan, of the gate GEMM, of the classifier)
    const r = pruneChannels(g, { fraction: 0.15, criterion: 'l2' });
    expect(layer(r, '3.rnnscan')).toMatchObject({ channels: [10, 8], kept: [0, 1, 3, 4, 6, 7, 8, 9] });
    expect(layer(r, '0.conv2d')?.channels).toEqual([12, 12]);
    expect(r.graph.constants['4.weight'].shape).toEqual([8, 4]);
  });

  it('rounds the kept units to a multiple of align', () => {
    const g = kws({ type: 'lstm', hidden: 20 });
    const r = pruneChannels(g, { fraction: 0.5, criterion: 'l1', align: 8 });
    validateGraph(r.graph);
    expect((layer(r, '3.rnnscan')?.channels[1] ?? 0) % 8).toBe(0);
    const x = data(g, 22);
    expectSame(run(r.graph, x), run(zeroedReference(g, r.layers), x), 1e-4);
  });

  it('leaves a scan whose states are the graph output, or whose gate input has another reader, and says why', () => {
    const seq = kws({ type: 'gru', hidden: 10, returnSequences: true }, 'mean');
    seq.outputs.push(node(seq, '3.rnnscan').output);
    const r = pruneChannels(seq, { fraction: 0.3, criterion: 'l1' });
    expect(layer(r, '3.rnnscan')).toMatchObject({ channels: [10, 10], blocked: expect.stringMatching(/graph output/) });
    validateGraph(r.graph);

    const shared = kws({ type: 'gru', hidden: 10 });
    shared.outputs.push(node(shared, '3.linear').output);
    const s = pruneChannels(shared, { fraction: 0.3, criterion: 'l1' });
    expect(layer(s, '3.rnnscan')?.blocked).toMatch(
      /gate input 'v7' of '3.rnnscan' is not a conv2d\/linear read by it alone/,
    );
    expect(layer(s, '3.linear')?.blocked).toMatch(/graph output|mixes channels/);
    validateGraph(s.graph);
  });

  it('fine-tuning trains the scan: its wh and bh are parameters of the graph module', () => {
    const { model } = graphModel(
      pruneChannels(kws({ type: 'gru', hidden: 10 }), { fraction: 0.5, criterion: 'l1' }).graph,
    );
    const names = model.namedParameters().map(([n]) => n);
    model.dispose();
    expect(names.some((n) => n.endsWith('3.weight_hh_l0'))).toBe(true);
    expect(names.some((n) => n.endsWith('3.bias_hh_l0'))).toBe(true);
  });
});

describe('pruneDeadUnits on sequence models', () => {
  it('removes conv1d channels that are 0 after relu through the reshape, outputs unchanged', () => {
    const g = kws({ type: 'gru', hidden: 10 });
    for (const c of [3, 8]) {
      zeroColumns(g, 'const1', [c]);
      g.constants['1.shift'].data[c] = -0.5;
    }
    const r = pruneDeadUnits(g, data(g, 23), N, { engine });
    validateGraph(r.graph);
    expect(layer(r, '0.conv2d')).toMatchObject({ channels: [12, 10], kept: [0, 1, 2, 4, 5, 6, 7, 9, 10, 11] });
    expect(r.graph.constants['3.weight_ih_l0'].shape).toEqual([10, 30]);
    expect(layer(r, '3.rnnscan')?.channels).toEqual([10, 10]);
    expectSame(run(r.graph, data(g, 24)), run(g, data(g, 24)), 1e-5);
  });
});
