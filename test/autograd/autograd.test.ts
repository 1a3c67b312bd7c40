// Autograd mechanics: accumulation, no-grad mode, shared subexpressions, error messages, and
// live memory staying flat over thousands of training steps.
import { describe, expect, it } from 'vitest';
import * as G from '../../src/index.js';

function param(t: G.Tensor): G.Tensor {
  t.requiresGrad = true;
  return G.keep(t);
}

describe('autograd', () => {
  it('accumulates gradients across backward calls and through shared subexpressions', () => {
    const x = param(G.tensor([1, 2, 3]));
    G.tidy(() => {
      const y = G.mul(x, x); // used twice below: d/dx Σ(y + y) = 4x
      G.backward(G.sum(G.add(y, y)));
    });
    expect(Array.from(x.grad?.data() ?? [])).toEqual([4, 8, 12]);
    G.tidy(() => G.backward(G.sum(x)));
    expect(Array.from(x.grad?.data() ?? [])).toEqual([5, 9, 13]);
    x.grad?.dispose();
    x.dispose();
  });

  it('records nothing under noGrad', () => {
    const x = param(G.tensor([1, 2]));
    G.tidy(() => {
      const y = G.noGrad(() => G.mul(x, 2));
      expect(y.requiresGrad).toBe(false);
      expect(y.gradNode).toBeNull();
      expect(() => G.backward(G.sum(y))).toThrow(/does not require gradients/);
    });
    x.dispose();
  });

  it('needs an explicit gradient for non-scalars', () => {
    const x = param(G.tensor([1, 2]));
    G.tidy(() => {
      const y = G.mul(x, 3);
      expect(() => G.backward(y)).toThrow(/not a scalar/);
      G.backward(y, G.tensor([1, 10]));
    });
    expect(Array.from(x.grad?.data() ?? [])).toEqual([3, 30]);
    x.grad?.dispose();
    x.dispose();
  });

  it('keeps live memory flat over 5,000 forward/backward/update steps', () => {
    G.manualSeed(1);
    const w1 = param(G.randn([20, 32], { std: 0.2 }));
    const b1 = param(G.zeros([32]));
    const w2 = param(G.randn([32, 4], { std: 0.2 }));
    const b2 = param(G.zeros([4]));
    const params = [w1, b1, w2, b2];
    const x = G.keep(G.randn([16, 20]));
    const y = G.keep(G.tensor(Int32Array.from({ length: 16 }, (_, i) => i % 4)));
    const step = () =>
      G.tidy(() => {
        const loss = G.softmaxCrossEntropy(G.linear(G.relu(G.linear(x, w1, b1)), w2, b2), y);
        G.backward(loss);
        G.noGrad(() => {
          for (const p of params) {
            const updated = G.sub(p, G.mul(p.grad as G.Tensor, 0.1));
            p.backend.write(p.buf, p.dtype, updated.data());
            p.grad?.dispose();
            p.grad = null;
          }
        });
        return loss.item();
      });
    const first = step();
    for (let i = 0; i < 100; i++) step();
    const live = G.memoryStats().liveBytes;
    const wasm = G.memoryStats().wasmBytes;
    let last = first;
    for (let i = 0; i < 5000; i++) last = step();
    expect(G.memoryStats().liveBytes).toBe(live);
    expect(G.memoryStats().wasmBytes).toBe(wasm);
    expect(last).toBeLessThan(first * 0.5); // and it actually learned
    for (const t of [...params, x, y]) t.dispose();
  });
});
