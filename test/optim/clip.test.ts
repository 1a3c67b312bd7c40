// clipGradNorm vs a float64 reference: returns the global L2 norm before clipping, scales every
// gradient by maxNorm / (norm + 1e-6) when the norm is larger, leaves small norms untouched,
// skips parameters without gradients, and splits large gradients across threads.
import { afterEach, describe, expect, it } from 'vitest';
import * as G from '../../src/index.js';
import { clipGradNorm } from '../../src/optim/index.js';
import { expectClose, rand } from '../helpers.js';

const made: G.Tensor[] = [];
afterEach(() => {
  for (const p of made.splice(0)) {
    p.grad?.dispose();
    p.dispose();
  }
});

function withGrads(grads: (Float32Array | null)[]): G.Tensor[] {
  return grads.map((g, i) => {
    const p = G.keep(G.zeros([g?.length ?? 3]));
    p.name = `p${i}`;
    p.requiresGrad = true;
    p.grad = g && G.keep(G.tensor(g));
    made.push(p);
    return p;
  });
}

describe('clipGradNorm', () => {
  it('returns the global norm and scales gradients down to maxNorm', () => {
    const grads = [rand(7, 1), null, rand(70001, 2), rand(33, 3)];
    const ps = withGrads(grads);
    let sq = 0;
    for (const g of grads) for (const v of g ?? []) sq += v * v;
    const norm = Math.sqrt(sq);
    expect(clipGradNorm(ps, 1)).toBeCloseTo(norm, 9);
    const coef = 1 / (norm + 1e-6);
    ps.forEach((p, i) => {
      const g = grads[i];
      if (g)
        expectClose(
          p.grad?.data() ?? [],
          Array.from(g, (v) => v * coef),
          1e-7,
          1e-6,
        );
      else expect(p.grad).toBeNull();
    });
    expect(clipGradNorm(ps, 1)).toBeCloseTo(1, 5);
  });

  it('leaves gradients whose norm is within maxNorm unchanged', () => {
    const g = new Float32Array([3, 4]);
    const ps = withGrads([g]);
    expect(clipGradNorm(ps, 5.5)).toBe(5);
    expect(ps[0].grad?.data()).toEqual(g);
    expect(clipGradNorm(ps, 2.5)).toBe(5);
    expectClose(ps[0].grad?.data() ?? [], [1.5, 2], 1e-6, 1e-6);
  });

  it('returns 0 without gradients and rejects a negative maxNorm', () => {
    expect(clipGradNorm(withGrads([null]), 1)).toBe(0);
    expect(() => clipGradNorm([], -1)).toThrow(/maxNorm must be >= 0, got -1/);
  });
});
