// Embedding and EmbeddingBag with { sparse: true }: the weight asks for row-sparse gradients, the
// layer spec says so (and round-trips through buildModel; specs without it are unchanged), a bad
// value names its path, and a model built from such a spec trains with Adam on row gradients alone.
import { describe, expect, it } from 'vitest';
import * as G from '../../src/index.js';
import type { ModelSpec } from '../../src/nn/spec.js';
import { Adam } from '../../src/optim/index.js';
import { rand } from '../helpers.js';

describe('sparse embedding layers', () => {
  it('set weight.sparseGrad and carry sparse in their spec', () => {
    const dense = new G.nn.Embedding(10, 4);
    const sparse = new G.nn.Embedding(10, 4, { sparse: true });
    const bag = new G.nn.EmbeddingBag(10, 4, { sparse: true });
    expect(dense.weight.sparseGrad).toBe(false);
    expect(dense.spec()).toEqual({ type: 'embedding', vocab: 10, dim: 4 });
    expect(sparse.weight.sparseGrad).toBe(true);
    expect(sparse.spec()).toEqual({ type: 'embedding', vocab: 10, dim: 4, sparse: true });
    expect(bag.weight.sparseGrad).toBe(true);
    expect(bag.spec()).toEqual({ type: 'embeddingbag', vocab: 10, dim: 4, sparse: true });
    for (const m of [dense, sparse, bag]) m.dispose();
  });

  it('round-trip through buildModel; a non-boolean sparse names its path', () => {
    const spec: ModelSpec = {
      inputShape: [5],
      inputDType: 'int32',
      layers: [
        { type: 'embeddingbag', vocab: 30, dim: 8, sparse: true },
        { type: 'linear', in: 8, out: 1 },
      ],
    };
    const { model } = buildAndCheck(spec);
    const saved = model.spec();
    expect(saved).toMatchObject({ type: 'sequential', layers: [spec.layers[0], { type: 'linear' }] });
    model.dispose();
    const again = buildAndCheck({ ...spec, layers: (saved as { layers: ModelSpec['layers'] }).layers });
    expect(again.model.spec()).toEqual(saved);
    again.model.dispose();
    const bad = { ...spec, layers: [{ type: 'embedding', vocab: 30, dim: 8, sparse: 'yes' }] } as unknown as ModelSpec;
    expect(() => G.nn.buildModel(bad)).toThrow(/layers\[0\]\.sparse: must be true or false, got "yes"/);
  });

  it('a model with a sparse embedding bag trains with Adam from row gradients only', () => {
    G.manualSeed(4);
    const { model } = G.nn.buildModel({
      inputShape: [6],
      inputDType: 'int32',
      layers: [
        { type: 'embeddingbag', vocab: 500, dim: 8, sparse: true },
        { type: 'linear', in: 8, out: 1 },
      ],
    });
    const params = model.parameters();
    const table = params.find((p) => p.sparseGrad) as G.Tensor;
    const opt = new Adam(params, { lr: 0.05 });
    const ids = G.keep(
      G.tensor(
        Int32Array.from(rand(32 * 6, 5), (x) => Math.floor(((x + 1) / 2) * 500)),
        [32, 6],
      ),
    );
    const y = G.keep(G.tensor(rand(32, 6), [32, 1]));
    const losses: number[] = [];
    for (let t = 0; t < 60; t++) {
      losses.push(
        G.tidy(() => {
          const loss = G.nn.mse(model.forward(ids), y);
          G.backward(loss);
          expect(table.grad).toBeNull();
          expect(table.rowGrad?.rows.length).toBeLessThanOrEqual(32 * 6);
          opt.step();
          opt.zeroGrad();
          return loss.item();
        }),
      );
    }
    expect(losses[59]).toBeLessThan(losses[0] / 4);
    for (const t of [ids, y, opt, model]) t.dispose();
  });
});

/** buildModel, checking the built embedding asks for row-sparse gradients. */
function buildAndCheck(spec: ModelSpec) {
  const built = G.nn.buildModel(spec);
  expect(built.model.parameters().filter((p) => p.sparseGrad)).toHaveLength(1);
  return built;
}
