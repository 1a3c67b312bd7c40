// GraphModule: a graph IR run eagerly as a trainable module. What goes in: an imported PyTorch CNN
// (test/fixtures/onnx/torch-cnn.onnx: input normalization, a residual block, flatten, Gemm) and
// captured Graduate graphs (batchnorm, dropout, fused epilogues, a final softmax). What must come
// out: the Session's outputs; a capture with the graph's node names and the same outputs; a spec
// that rebuilds it through buildModel and the checkpoint's weights; falling loss in training, with
// a gradient for every weight; quantized graphs refused by name.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/autograd/backward.js';
import { captureGraph } from '../../src/compile/capture.js';
import { runPasses } from '../../src/compile/passes/index.js';
import { quantizeGraph } from '../../src/compile/quantize.js';
import type { Graph } from '../../src/graph/ir.js';
import * as G from '../../src/index.js';
import { buildModel } from '../../src/nn/build.js';
import { GraphModule, graphModel } from '../../src/nn/graph-module.js';
import { crossEntropy } from '../../src/nn/losses.js';
import { importOnnx } from '../../src/onnx/import.js';
import { createOptimizer } from '../../src/optim/index.js';
import { loadWeights, moduleTensors } from '../../src/train/checkpoint.js';
import { CNN, captured, GAP, maxAbsDiff, runGraph } from '../onnx/fixtures.js';

const FIXTURE = join(import.meta.dirname, '../fixtures/onnx/torch-cnn.onnx');
const torchCnn = () => importOnnx(readFileSync(FIXTURE), 'torch-cnn.onnx');

/** n samples of the graph's per-sample input: smooth values in [0, 255]. */
function inputs(g: Graph, n: number): Float32Array {
  const per = g.values[g.inputs[0]].shape.slice(1).reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n * per }, (_, i) => 127.5 + 127.5 * Math.sin(i * 0.37 + (i % 7)));
}

/** The module's eval-mode output on x. */
function forward(m: G.nn.Module, g: Graph, x: Float32Array, n: number): Float32Array {
  m.eval();
  return G.noGrad(() =>
    G.tidy(() => m.forward(G.tensor(x, [n, ...g.values[g.inputs[0]].shape.slice(1)])).data() as Float32Array),
  );
}

describe('GraphModule', () => {
  it('runs an imported PyTorch CNN as the Session does', () => {
    const g = torchCnn();
    expect(g.nodes.some((n) => n.op === 'add')).toBe(true); // branches: not a layer sequence
    const { model } = graphModel(g);
    const x = inputs(g, 5);
    expect(maxAbsDiff(forward(model, g, x, 5), runGraph(g, x, 5))).toBeLessThan(1e-5);
    model.dispose();
  });

  it.each([
    ['CNN (batchnorm, residual, dropout, pools, gelu)', CNN],
    ['GAP (final softmax)', GAP],
  ] as const)(
    'runs a captured %s graph, raw and after the passes (fused epilogues), as the Session does',
    (_, layers) => {
      const raw = captured(layers);
      for (const g of [raw, runPasses(raw).graph]) {
        const { model } = graphModel(g);
        const x = inputs(g, 4).map((v) => (v - 127.5) / 64);
        expect(maxAbsDiff(forward(model, g, x, 4), runGraph(g, x, 4))).toBeLessThan(1e-4);
        model.dispose();
      }
    },
  );

  it('captures back into a graph with the same node names and outputs', () => {
    const g = torchCnn();
    const { model } = graphModel(g);
    const back = captureGraph(model.layers[0], g.meta.input, g.meta.classNames);
    expect(back.nodes.map((n) => n.name)).toEqual(g.nodes.map((n) => n.name));
    const x = inputs(g, 3);
    expect(maxAbsDiff(runGraph(back, x, 3), runGraph(g, x, 3))).toBeLessThan(1e-5);
    model.dispose();
  });

  it('rebuilds from its JSON spec (as a checkpoint config) and loads its weights', () => {
    const g = torchCnn();
    const { model, spec } = graphModel(g);
    const built = buildModel(JSON.parse(JSON.stringify(spec)));
    expect(built.outShape).toEqual([10]);
    loadWeights(built.model, moduleTensors(model), 'weights');
    const x = inputs(g, 2);
    expect(maxAbsDiff(forward(built.model, g, x, 2), forward(model, g, x, 2))).toBe(0);
    // the input's normalization (an affine of the input) is kept, not trained
    const trained = model.namedParameters().map(([n]) => n);
    expect(trained).toHaveLength(12); // 5 conv weights and biases, 2 linear
    const norm = g.nodes.find((n) => n.op === 'affine' && n.inputs[0] === g.inputs[0]);
    expect(model.namedBuffers().map(([n]) => n)).toEqual(norm?.inputs.slice(1).map((c) => `0.${c}`));
    model.dispose();
    built.model.dispose();
  });

  it('a spec that does not fit its graph is refused naming the field', () => {
    const { model, spec } = graphModel(torchCnn());
    model.dispose();
    const bad = JSON.parse(JSON.stringify(spec));
    bad.layers[0].nodes[1].inputs[1] = 'nope';
    expect(() => buildModel(bad)).toThrow(/layers\[0\].*'nope' is not defined/);
    expect(() => buildModel({ ...spec, inputShape: [14, 14, 1] })).toThrow(/layers\[0\].*\[28, 28, 1\]/);
  });

  // GAP's pooled sigmoid features barely tell random inputs apart: its loss falls slowly
  it.each([
    ['the imported PyTorch CNN', () => torchCnn(), 0.7],
    ['a fused CNN graph (epilogues unfused to train)', () => runPasses(captured(CNN)).graph, 0.7],
    ['a graph ending in softmax (trained on its logits)', () => captured(GAP), 0.95],
  ] as const)('trains %s: the loss falls and every weight gets a gradient', (_, make, ratio) => {
    const g = make();
    G.manualSeed(1);
    const { model } = graphModel(g);
    const n = 32;
    const classes = g.values[g.outputs[0]].shape[1];
    // random samples (raw pixels for the PyTorch CNN, standardized values for the others)
    const shape = [n, ...g.values[g.inputs[0]].shape.slice(1)];
    const x = g.meta.input.scale === 1 ? G.randu(shape, { low: 0, high: 255 }) : G.randn(shape);
    const y = G.tensor(
      Int32Array.from({ length: n }, (_, i) => i % classes),
      [n],
      'int32',
    );
    const opt = createOptimizer('adam', model.parameters(), { lr: 3e-3 });
    model.train();
    const losses: number[] = [];
    for (let step = 0; step < 25; step++) {
      G.tidy(() => {
        const loss = crossEntropy(model.forward(x), y);
        backward(loss);
        if (step === 0)
          for (const [name, p] of model.namedParameters())
            expect(
              p.grad?.data().some((v) => v !== 0),
              `gradient of ${name}`,
            ).toBe(true);
        opt.step();
        opt.zeroGrad();
        losses.push(loss.item());
      });
    }
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] * ratio);
    opt.dispose();
    model.dispose();
    x.dispose();
    y.dispose();
  });

  it('gives probabilities in eval mode and logits in training mode for a graph ending in softmax', () => {
    const g = captured(GAP);
    const { model } = graphModel(g);
    const x = G.randn([3, ...g.values[g.inputs[0]].shape.slice(1)]);
    const rowSums = (train: boolean) => {
      model.train(train);
      const out = G.noGrad(() => G.tidy(() => model.forward(x).data() as Float32Array));
      return [0, 1, 2].map((r) => out.slice(r * 4, r * 4 + 4).reduce((a, b) => a + b, 0));
    };
    for (const s of rowSums(false)) expect(s).toBeCloseTo(1, 5);
    expect(rowSums(true).some((s) => Math.abs(s - 1) > 1e-3)).toBe(true);
    model.dispose();
    x.dispose();
  });

  it('refuses a quantized graph, naming the constant', () => {
    const g = runPasses(captured(GAP)).graph;
    const x = inputs(g, 16).map((v) => (v - 127.5) / 64);
    const q = quantizeGraph(g, x, 16, { mode: 'int8', method: 'minmax', engine: G.engine() }).graph;
    expect(() => GraphModule.fromGraph(q)).toThrow(/fine-tuning needs a float model: .* is (quantized|int8)/);
  });
});
