// The IR's scalar GELU (graph/scalar.ts), which constant folding and ONNX import share: the tanh
// form the kernels compute, the erf form within 5e-4 of it, and erf within its stated error.
import { describe, expect, it } from 'vitest';
import { erf, GELU_CUBIC, GELU_K, geluErf, geluTanh } from '../../src/graph/scalar.js';

describe('graph/scalar', () => {
  it('geluTanh is 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))', () => {
    expect(GELU_K).toBe(0.7978845608028654);
    expect(GELU_CUBIC).toBe(0.044715);
    for (const x of [-3, -1, -0.5, 0, 0.25, 1, 2.5])
      expect(geluTanh(x)).toBeCloseTo(0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))), 15);
    expect(geluTanh(0)).toBe(0);
    expect(geluTanh(10)).toBeCloseTo(10, 12);
    expect(geluTanh(-10)).toBeCloseTo(0, 12);
  });

  it('erf within 1.5e-7 of known values, odd; geluErf within 5e-4 of geluTanh', () => {
    const known: [number, number][] = [
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
    ];
    for (const [x, v] of known) {
      expect(Math.abs(erf(x) - v)).toBeLessThan(1.5e-7);
      expect(erf(-x)).toBe(-erf(x));
    }
    for (let x = -8; x <= 8; x += 0.01) expect(Math.abs(geluErf(x) - geluTanh(x))).toBeLessThan(5e-4);
  });
});
