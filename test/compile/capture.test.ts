// Capture records the ops a module applies (no list of layer classes): modules the old capture
// refused — Embedding, and a custom module written with the functional API (a one-head
// self-attention block: matmul of two activations, transpose, softmax, layernorm, rank-3 linear)
// — become graphs the runtime runs to the eager result, and survive an artifact round trip.
import { describe, expect, it } from 'vitest';
import { captureGraph } from '../../src/compile/capture.js';
import { readArtifact, writeArtifact } from '../../src/graph/artifact.js';
import * as G from '../../src/index.js';
import { buildModel } from '../../src/nn/build.js';
import * as F from '../../src/nn/functional.js';
import { Embedding, Linear, Sequential } from '../../src/nn/layers.js';
import { Module } from '../../src/nn/module.js';
import type { LayerSpec } from '../../src/nn/spec.js';
import { Session } from '../../src/runtime/session.js';
import type { Tensor } from '../../src/tensor/tensor.js';

/** x [B, T, C] → layernorm(x + softmax(q·kᵀ/√C)·v) · W_out, mean over T. */
class TinyAttention extends Module {
  readonly q = this.child('q', new Linear(8, 8));
  readonly k = this.child('k', new Linear(8, 8));
  readonly v = this.child('v', new Linear(8, 8));
  readonly out = this.child('out', new Linear(8, 3));
  readonly gamma = this.param('ln.weight', G.tensor(Array.from({ length: 8 }, (_, i) => 1 + i / 10)));
  readonly beta = this.param('ln.bias', G.tensor(Array.from({ length: 8 }, (_, i) => i / 20 - 0.2)));
  forward(x: Tensor): Tensor {
    const scores = F.scale(F.matmul(this.q.forward(x), F.transpose(this.k.forward(x), [0, 2, 1])), 1 / Math.sqrt(8));
    const h = F.layerNorm(F.add(x, F.matmul(F.softmax(scores), this.v.forward(x))), this.gamma, this.beta);
    return F.mean(this.out.forward(h), 1);
  }
  spec(): LayerSpec {
    return { type: 'sequential', layers: [] };
  }
}

function runBoth(model: Module, x: Tensor, dtype: 'float32' | 'int32') {
  model.eval();
  const graph = captureGraph(model, { kind: 'tabular', shape: x.shape.slice(1) }, ['a', 'b', 'c'], {
    inputDType: dtype,
  });
  const want = G.noGrad(() => model.forward(x)).data();
  const back = readArtifact(writeArtifact(graph), 'captured.grad');
  const s = new Session(back, { maxBatch: x.shape[0] });
  const got = s.run(x.data() as Float32Array | Int32Array, x.shape[0]);
  s.dispose();
  return { graph, got, want };
}

describe('capture records applied ops', () => {
  it('captures an Embedding model (ids [B, L] → [B, L, D] → linear), equal to eager', () => {
    G.manualSeed(3);
    const model = new Sequential([new Embedding(11, 4), new Linear(4, 3)]);
    const ids = G.tensor(Int32Array.from([0, 3, 10, -1, 7, 2, 2, 5, 9]), [3, 3], 'int32');
    const { graph, got, want } = runBoth(model, ids, 'int32');
    expect(graph.nodes.map((n) => [n.name, n.op])).toEqual([
      ['0', 'embedding'],
      ['1', 'linear'],
    ]);
    expect(graph.constants['0.weight'].shape).toEqual([11, 4]);
    expect(Array.from(got)).toEqual(Array.from(want));
    model.dispose();
  });

  it('captures a custom self-attention module (functional API only), equal to eager', () => {
    G.manualSeed(5);
    const model = new TinyAttention();
    const x = G.randn([4, 5, 8]);
    const { graph, got, want } = runBoth(model, x, 'float32');
    const ops = graph.nodes.map((n) => n.op);
    for (const op of ['matmul', 'transpose', 'softmax', 'layernorm', 'linear', 'mean'] as const)
      expect(ops, op).toContain(op);
    // node names come from the module that applied the op
    expect(graph.nodes.find((n) => n.op === 'linear')?.name).toBe('q');
    expect(graph.values[graph.outputs[0]].shape).toEqual([-1, 3]);
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 5);
    model.dispose();
  });

  it('keeps constants a forward computes and frees itself, and parameter names that look like values', () => {
    class Projected extends Module {
      readonly input = this.param('input', G.tensor([1, 2, 3, 4, 5, 6], [3, 2]));
      forward(x: Tensor): Tensor {
        // wᵀ is computed from a parameter inside the forward's own scope (freed when it returns)
        return G.tidy(() => F.matmul(x, F.transpose(this.input, [1, 0])));
      }
      spec(): LayerSpec {
        return { type: 'sequential', layers: [] };
      }
    }
    const m = new Projected();
    const x = G.tensor([1, 0, 0, 1], [2, 2]);
    const { graph, got, want } = runBoth(m, x, 'float32');
    expect(Object.keys(graph.constants)).not.toContain('input');
    expect(Array.from(got)).toEqual(Array.from(want));
    m.dispose();
  });

  it('names residual blocks as before: path.add, path.relu', () => {
    G.manualSeed(2);
    const { model } = buildModel({
      inputShape: [4, 4, 2],
      layers: [{ type: 'residual', layers: [{ type: 'conv2d', out: 2, kernel: 3, padding: 'same' }] }],
    });
    model.eval();
    const g = captureGraph(model, { kind: 'image', shape: [4, 4, 2] }, []);
    expect(g.nodes.map((n) => n.name)).toEqual(['0.block.0', '0.add', '0.relu']);
    model.dispose();
  });

  it('refuses a model whose output does not depend on its input, naming why', () => {
    class Constant extends Module {
      readonly w = this.param('w', G.ones([2]));
      forward(_x: Tensor): Tensor {
        return F.scale(this.w, 2);
      }
      spec(): LayerSpec {
        return { type: 'sequential', layers: [] };
      }
    }
    const m = new Constant();
    expect(() => captureGraph(m, { kind: 'tabular', shape: [2] }, [])).toThrow(/does not depend on its input/);
    m.dispose();
  });
});
