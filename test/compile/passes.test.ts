// Compiler passes: each changes what it should (ops, constants, dump), leaves the graph's outputs
// equal on random inputs (run before/after in a Session) and never edits its input graph.
import { describe, expect, it } from 'vitest';
import { captureGraph } from '../../src/compile/capture.js';
import {
  eliminateDeadCode,
  eliminateTrainingOps,
  foldBatchNorm,
  foldConstants,
  fuseEpilogues,
  PASS_NAMES,
  runPasses,
  sinkReshapes,
} from '../../src/compile/passes/index.js';
import { ValueError } from '../../src/errors.js';
import { dumpGraph } from '../../src/graph/dump.js';
import { type Graph, graphMacs, numel } from '../../src/graph/ir.js';
import { validateGraph } from '../../src/graph/validate.js';
import { buildModel } from '../../src/nn/build.js';
import type { ModelSpec } from '../../src/nn/spec.js';
import { Session } from '../../src/runtime/session.js';
import { manualSeed } from '../../src/tensor/random.js';
import { engineConfigs, engineFor, expectClose, rand } from '../helpers.js';

const engine = engineFor(engineConfigs()[0]);
const BATCH = 5;

/** The graph's outputs for BATCH random samples (seeded). */
function run(g: Graph, seed = 7): Float32Array {
  const s = new Session(g, { engine, maxBatch: BATCH });
  try {
    return s.run(rand(BATCH * numel(g.values[g.inputs[0]].shape.slice(1)), seed), BATCH);
  } finally {
    s.dispose();
  }
}

/** A captured model with random weights; batchnorm statistics randomized so that BN is not the identity. */
function capture(spec: ModelSpec): Graph {
  manualSeed(2);
  const { model } = buildModel(spec);
  const kind = spec.inputShape.length === 3 ? 'image' : 'tabular';
  const g = captureGraph(model, { kind, shape: spec.inputShape }, ['a', 'b', 'c', 'd', 'e']);
  model.dispose();
  let seed = 100;
  for (const [name, c] of Object.entries(g.constants)) {
    const r = rand(c.data.length, seed++);
    if (name.endsWith('running_var')) c.data = r.map((v) => 0.5 + Math.abs(v));
    else if (name.endsWith('running_mean') || /\d\.bias$/.test(name)) c.data = r.map((v) => 0.3 * v);
    else if (g.nodes.some((n) => n.op === 'batchnorm' && n.inputs[1] === name)) c.data = r.map((v) => 1 + 0.5 * v);
  }
  validateGraph(g);
  return g;
}

/** Runs `pass` and checks that it left its input untouched and kept the outputs. */
function applyPass(pass: (g: Graph) => Graph, g: Graph): Graph {
  const before = dumpGraph(g);
  const data = Object.fromEntries(Object.entries(g.constants).map(([k, c]) => [k, c.data.slice()]));
  const out = pass(g);
  expect(dumpGraph(g)).toBe(before);
  for (const [k, c] of Object.entries(g.constants)) expect(c.data).toEqual(data[k]);
  validateGraph(out, 'pass output');
  expectClose(run(out), run(g), 1e-4, 1e-4);
  return out;
}

const ops = (g: Graph) => g.nodes.map((n) => n.op);

const CNN: ModelSpec = {
  inputShape: [8, 8, 3],
  layers: [
    { type: 'conv2d', out: 6, kernel: 3, padding: 'same' },
    { type: 'batchnorm' },
    { type: 'relu' },
    { type: 'maxpool2d', kernel: 2 },
    { type: 'dropout', p: 0.5 },
    { type: 'flatten' },
    { type: 'linear', out: 8, bias: false },
    { type: 'batchnorm' },
    { type: 'leakyrelu', alpha: 0.2 },
    { type: 'linear', out: 5 },
    { type: 'dropout', p: 0.1 },
  ],
};

const RESNET: ModelSpec = {
  inputShape: [6, 6, 4],
  layers: [
    {
      type: 'residual',
      layers: [
        { type: 'conv2d', out: 4, kernel: 3, padding: 'same' },
        { type: 'batchnorm' },
        { type: 'relu' },
        { type: 'conv2d', out: 4, kernel: 3, padding: 'same' },
        { type: 'batchnorm' },
      ],
      activation: 'relu',
    },
    { type: 'globalavgpool' },
    { type: 'linear', out: 6 },
    { type: 'gelu' },
    { type: 'linear', out: 5 },
    { type: 'softmax' },
  ],
};

describe('eliminate', () => {
  it('removes dropout (also as graph output) and turns batchnorm into affine scale/shift', () => {
    const g = capture(CNN);
    const out = applyPass(eliminateTrainingOps, g);
    expect(ops(out)).toEqual([
      'conv2d',
      'affine',
      'unary',
      'maxpool2d',
      'flatten',
      'linear',
      'affine',
      'unary',
      'linear',
    ]);
    expect(out.outputs).toEqual([out.nodes[8].output]);
    const bn = g.nodes[1];
    const [gamma, beta, mean, variance] = bn.inputs.slice(1).map((c) => g.constants[c].data);
    const scale = out.constants['1.scale'].data;
    const shift = out.constants['1.shift'].data;
    for (let c = 0; c < 6; c++) {
      const s = gamma[c] / Math.sqrt(variance[c] + 1e-5);
      expect(scale[c]).toBeCloseTo(s, 5);
      expect(shift[c]).toBeCloseTo(beta[c] - mean[c] * s, 5);
    }
    expect(out.constants['1.running_var']).toBeUndefined();
    expect(Object.keys(out.values).length).toBe(g.nodes.length + 1 - 2);
    const dump = dumpGraph(out);
    expect(dump).toContain('= affine(%v1, @1.scale, @1.shift)  # 1');
    expect(dump).not.toContain('dropout');
  });
});

describe('fold-bn', () => {
  it('folds each affine into the conv2d/linear before it, creating a zero bias where there was none', () => {
    const g = eliminateTrainingOps(capture(CNN));
    const out = applyPass(foldBatchNorm, g);
    expect(ops(out)).toEqual(['conv2d', 'unary', 'maxpool2d', 'flatten', 'linear', 'unary', 'linear']);
    // conv: W'[…, c] = W[…, c]·scale[c]
    const w = g.constants['0.weight'].data;
    const scale = g.constants['1.scale'].data;
    expect(out.constants['0.weight'].data[3 * 6 + 4]).toBeCloseTo(w[3 * 6 + 4] * scale[4], 6);
    // the linear had no bias: it gets one equal to the shift
    const lin = out.nodes[4];
    expect(lin.inputs[2]).toBe('6.bias');
    expect(out.constants['6.bias'].data).toEqual(g.constants['7.shift'].data);
    expect(dumpGraph(out)).toContain('linear(%v6, @6.weight, @6.bias)');
    expect(out.constants['1.scale']).toBeUndefined();
  });

  it('leaves an affine after an activation, or after a conv whose output has another reader', () => {
    const g = eliminateTrainingOps(
      capture({
        inputShape: [5, 5, 2],
        layers: [
          { type: 'conv2d', out: 3, kernel: 1 },
          { type: 'relu' },
          { type: 'batchnorm' },
          { type: 'residual', layers: [{ type: 'conv2d', out: 3, kernel: 1 }, { type: 'batchnorm' }] },
          { type: 'flatten' },
          { type: 'linear', out: 2 },
        ],
      }),
    );
    // the residual block's batchnorm folds; the one after relu stays
    const out = applyPass(foldBatchNorm, g);
    expect(ops(out)).toEqual(['conv2d', 'unary', 'affine', 'conv2d', 'add', 'unary', 'flatten', 'linear']);
    // give the residual conv's output a second reader: it can no longer absorb its affine
    const shared = structuredClone(g);
    const conv = shared.nodes[3].output;
    shared.values.extra = { ...shared.values[conv] };
    shared.nodes.splice(4, 0, {
      name: 'extra',
      op: 'unary',
      inputs: [conv],
      output: 'extra',
      attrs: { fn: 'tanh' },
    });
    expect(ops(foldBatchNorm(shared)).filter((o) => o === 'affine').length).toBe(2);
  });
});

describe('fuse', () => {
  it('fuses residual add then activation into the conv epilogue, and gelu into a linear, not softmax', () => {
    const g = foldBatchNorm(eliminateTrainingOps(capture(RESNET)));
    expect(ops(g)).toEqual([
      'conv2d',
      'unary',
      'conv2d',
      'add',
      'unary',
      'globalavgpool',
      'linear',
      'unary',
      'linear',
      'softmax',
    ]);
    const out = applyPass(fuseEpilogues, g);
    expect(ops(out)).toEqual(['conv2d', 'conv2d', 'globalavgpool', 'linear', 'linear', 'softmax']);
    const [c1, c2, , l1, l2] = out.nodes;
    expect(c1.attrs).toMatchObject({ activation: 'relu' });
    expect(c1.attrs).not.toHaveProperty('residual');
    expect(c2.attrs).toMatchObject({ activation: 'relu', residual: 'input' });
    expect(c2.output).toBe(g.nodes[4].output); // the fused node writes what the relu wrote
    expect(l1.attrs).toMatchObject({ activation: 'gelu' });
    expect(l2.attrs).toMatchObject({ activation: 'none' });
    expect(dumpGraph(out)).toContain('{activation: "relu", stride: [1,1], pads: [1,1,1,1], residual: "input"}');
  });

  it('keeps leakyrelu alpha and does not fuse an output that is also read elsewhere', () => {
    const g = foldBatchNorm(eliminateTrainingOps(capture(CNN)));
    const out = applyPass(fuseEpilogues, g);
    expect(out.nodes.find((n) => n.name === '6')?.attrs).toMatchObject({ activation: 'leakyrelu', alpha: 0.2 });
    const twice = structuredClone(g);
    twice.outputs = [twice.nodes[0].output]; // the conv's output is now a graph output too
    expect(ops(fuseEpilogues(twice))[0]).toBe('conv2d');
    expect(fuseEpilogues(twice).nodes[0].attrs).toMatchObject({ activation: 'none' });
  });
});

describe('fold-constants', () => {
  // x[-1, 4] · relu(flatten(W0 · s + t) + D) + b: the weight is computed from constants
  const W0 = rand(12, 3);
  const s = rand(3, 4);
  const t = rand(3, 5);
  const D = rand(12, 6);
  const b = rand(3, 8);
  const f32 = (shape: number[], data: Float32Array) => ({ shape, dtype: 'float32' as const, data });
  const graph = (): Graph => ({
    inputs: ['x'],
    outputs: ['y'],
    values: {
      x: { shape: [-1, 4], dtype: 'float32' },
      wa: { shape: [4, 3], dtype: 'float32' },
      wf: { shape: [4, 3], dtype: 'float32' },
      wd: { shape: [4, 3], dtype: 'float32' },
      wr: { shape: [4, 3], dtype: 'float32' },
      y: { shape: [-1, 3], dtype: 'float32' },
    },
    constants: { W0: f32([4, 3], W0), s: f32([3], s), t: f32([3], t), D: f32([4, 3], D), b: f32([3], b) },
    nodes: [
      { name: 'aff', op: 'affine', inputs: ['W0', 's', 't'], output: 'wa', attrs: {} },
      { name: 'flat', op: 'flatten', inputs: ['wa'], output: 'wf', attrs: {} },
      { name: 'plus', op: 'add', inputs: ['wf', 'D'], output: 'wd', attrs: {} },
      { name: 'act', op: 'unary', inputs: ['wd'], output: 'wr', attrs: { fn: 'relu' } },
      { name: 'fc', op: 'linear', inputs: ['x', 'wr', 'b'], output: 'y', attrs: { activation: 'none' } },
    ],
    meta: { classNames: [], input: { kind: 'tabular', shape: [4] }, producer: 'test' },
  });

  it('evaluates all-constant nodes so that the result runs like a graph built with the computed weight', () => {
    const g = graph();
    const before = dumpGraph(g);
    const out = foldConstants(g);
    expect(dumpGraph(g)).toBe(before);
    validateGraph(out);
    expect(ops(out)).toEqual(['linear']);
    expect(Object.keys(out.constants).sort()).toEqual(['b', 'wr']);
    const expected = W0.map((v, i) => Math.max(0, v * s[i % 3] + t[i % 3] + D[i]));
    expectClose(out.constants.wr.data, expected, 1e-6, 1e-6);
    expect(out.constants.wr.shape).toEqual([4, 3]);
    const { x, y } = graph().values; // the folded weight's intermediate values are gone, as in `out`
    const reference: Graph = {
      ...graph(),
      values: { x, y },
      nodes: [],
      constants: { W: f32([4, 3], expected), b: f32([3], b) },
    };
    reference.nodes = [
      { name: 'fc', op: 'linear', inputs: ['x', 'W', 'b'], output: 'y', attrs: { activation: 'none' } },
    ];
    expectClose(run(out), run(reference), 1e-6, 1e-6);
    expect(dumpGraph(out)).toContain('linear(%x, @wr, @b)');
  });

  it('leaves nodes that read a graph value alone', () => {
    const g = foldBatchNorm(eliminateTrainingOps(capture(CNN)));
    const out = applyPass(foldConstants, g);
    expect(ops(out)).toEqual(ops(g));
  });
});

describe('dce', () => {
  it('removes nodes no output depends on, and constants and values only they used', () => {
    const g = eliminateTrainingOps(capture(CNN));
    g.nodes.splice(3, 0, {
      name: 'side',
      op: 'affine',
      inputs: [g.nodes[2].output, '1.scale', 'unused.shift'],
      output: 'side',
      attrs: {},
    });
    g.values.side = { ...g.values[g.nodes[2].output] };
    g.constants['unused.shift'] = { shape: [6], dtype: 'float32', data: new Float32Array(6) };
    g.constants.orphan = { shape: [1], dtype: 'float32', data: new Float32Array(1) };
    const out = applyPass(eliminateDeadCode, g);
    expect(out.nodes.map((n) => n.name)).not.toContain('side');
    expect(out.nodes.length).toBe(g.nodes.length - 1);
    expect(out.values.side).toBeUndefined();
    expect(out.constants['unused.shift']).toBeUndefined();
    expect(out.constants.orphan).toBeUndefined();
    expect(out.constants['1.scale']).toBeDefined();
  });
});

describe('reshapes', () => {
  // conv1d is conv2d over [N, 1, T, C] viewed back as [N, T, C]: its batch norm and ReLU sit after
  // the view until the pass moves it, then fold-bn and fuse take them into the conv
  const CONV1D: ModelSpec = {
    inputShape: [9, 5],
    layers: [
      { type: 'conv1d', out: 6, kernel: 3, stride: 2, padding: 'same', bias: false },
      { type: 'batchnorm' },
      { type: 'relu' },
      { type: 'conv1d', out: 4, kernel: 1 },
      { type: 'sigmoid' },
      { type: 'flatten' },
      { type: 'linear', out: 3 },
    ],
  };

  it('moves a channel-keeping reshape after the affine and activations that read it', () => {
    const g = applyPass(eliminateTrainingOps, capture(CONV1D));
    const out = applyPass(sinkReshapes, g);
    const after = (op: Graph['nodes'][number]['op']) => ops(out)[ops(out).indexOf(op) + 1];
    expect(after('conv2d')).toBe('affine');
    const fused = runPasses(g, ['reshapes', 'fold-bn', 'fuse']).graph;
    expect(ops(fused)).not.toContain('affine');
    expect(
      fused.nodes.filter((n) => n.op === 'conv2d').map((n) => (n.attrs as { activation: string }).activation),
    ).toEqual(['relu', 'sigmoid']);
    expectClose(run(fused), run(g), 1e-4, 1e-4);
  });

  it('leaves reshapes that change the channel axis, and ops that mix positions', () => {
    const g = applyPass(eliminateTrainingOps, capture(CONV1D));
    // the flatten before the linear merges T into the channels: nothing moves past it
    const out = applyPass(sinkReshapes, applyPass(sinkReshapes, g));
    expect(ops(out).slice(-2)).toEqual(['flatten', 'linear']);
    expect(dumpGraph(applyPass(sinkReshapes, out))).toBe(dumpGraph(out));
  });
});

describe('runPasses', () => {
  it('runs the whole pipeline with a report per pass and the dump after the chosen pass', () => {
    const g = capture(RESNET);
    const lines: string[] = [];
    const { graph, report, dump } = runPasses(g, PASS_NAMES, { dumpAfter: 'fold-bn', log: (l) => lines.push(l) });
    expect(report.map((r) => r.pass)).toEqual([
      'eliminate',
      'reshapes',
      'fold-bn',
      'fold-ln',
      'transposes',
      'fuse',
      'fold-constants',
      'dce',
    ]);
    expect(report[1].after.nodes).toBe(12); // no reshape between a conv and its batch norm here
    expect(report[2].before.nodes).toBe(12);
    expect(report[2].after.nodes).toBe(10);
    expect(report[3].after.nodes).toBe(10); // no layer norm to fold
    expect(report[4].after.nodes).toBe(10); // no transposes to move
    expect(report[5].after.nodes).toBe(6);
    expect(report[0].before.macs).toBe(graphMacs(g));
    expect(report[7].after).toEqual({ nodes: 6, constants: 8, macs: graphMacs(graph) });
    expect(lines[5]).toMatch(/^fuse: nodes 10 → 6, constants 8 → 8, MACs \d+ → \d+ \(/);
    expect(dump).toContain('add(');
    expect(dump).not.toContain('affine(');
    expectClose(run(graph), run(g), 1e-4, 1e-4);
  });

  it('rejects unknown pass names, listing the valid ones', () => {
    const g = capture(CNN);
    expect(() => runPasses(g, ['eliminate', 'fold-everything'])).toThrow(ValueError);
    expect(() => runPasses(g, ['fold-everything'])).toThrow(
      "unknown pass 'fold-everything' (valid: eliminate, reshapes, fold-bn, fold-ln, transposes, fuse, fold-constants, dce)",
    );
    expect(() => runPasses(g, ['eliminate'], { dumpAfter: 'fuse' })).toThrow(/not among the passes run/);
  });
});

describe('passes on int8 layers (imported quantized models)', () => {
  /** x → quantize → int8 linear (float out) → add x2 → sigmoid; and an affine after a second one. */
  function int8Graph(): Graph {
    return {
      inputs: ['x'],
      outputs: ['s', 'af'],
      values: {
        x: { shape: [-1, 3], dtype: 'float32' },
        xq: { shape: [-1, 3], dtype: 'int8', quant: { scale: [0.05], zeroPoint: [0] } },
        y: { shape: [-1, 3], dtype: 'float32' },
        r: { shape: [-1, 3], dtype: 'float32' },
        s: { shape: [-1, 3], dtype: 'float32' },
        y2: { shape: [-1, 3], dtype: 'float32' },
        af: { shape: [-1, 3], dtype: 'float32' },
      },
      constants: {
        w: {
          dtype: 'int8',
          shape: [3, 3],
          data: Int8Array.from({ length: 9 }, (_, i) => i - 4),
          quant: { scale: [0.1, 0.2, 0.3], zeroPoint: [0, 0, 0] },
        },
        k: { dtype: 'float32', shape: [3], data: Float32Array.of(-1, 2, 0.5) },
        b: { dtype: 'float32', shape: [3], data: Float32Array.of(0.1, 0, -0.1) },
      },
      nodes: [
        { name: 'q', op: 'quantize', inputs: ['x'], output: 'xq', attrs: {} },
        { name: 'fc', op: 'linear', inputs: ['xq', 'w'], output: 'y', attrs: { activation: 'none' } },
        { name: 'add', op: 'add', inputs: ['y', 'x'], output: 'r', attrs: {} },
        { name: 'sig', op: 'unary', inputs: ['r'], output: 's', attrs: { fn: 'sigmoid' } },
        { name: 'fc2', op: 'linear', inputs: ['xq', 'w'], output: 'y2', attrs: { activation: 'none' } },
        { name: 'aff', op: 'affine', inputs: ['y2', 'k', 'b'], output: 'af', attrs: {} },
      ],
      meta: { classNames: [], input: { kind: 'tabular', shape: [3] }, producer: 'test' },
    };
  }

  it('fold-bn and fuse leave what int8 epilogues cannot hold (residual, sigmoid, a folded affine)', () => {
    const g = int8Graph();
    validateGraph(g, 'int8');
    const { graph } = runPasses(g);
    validateGraph(graph, 'passed');
    expect(graph.nodes.map((n) => n.op)).toEqual(['quantize', 'linear', 'add', 'unary', 'linear', 'affine']);
    const run = (gr: Graph) => {
      const s = new Session(gr, { maxBatch: 2 });
      const out = s.runAll([Float32Array.of(1, -1, 0.5, 2, 0, -0.25)], 2);
      s.dispose();
      return out.map((o) => Array.from(o));
    };
    expect(run(graph)).toEqual(run(g));
  });
});
