// Tensors: creation, data round trips, views, errors that name the problem, and the lifetime model.
import { describe, expect, it } from 'vitest';
import * as G from '../../src/index.js';

describe('tensor creation and data', () => {
  it('round-trips nested arrays, typed arrays and shapes', () => {
    G.tidy(() => {
      const t = G.tensor([
        [1, 2, 3],
        [4, 5, 6],
      ]);
      expect(t.shape).toEqual([2, 3]);
      expect(Array.from(t.data())).toEqual([1, 2, 3, 4, 5, 6]);
      expect(t.toArray()).toEqual([
        [1, 2, 3],
        [4, 5, 6],
      ]);
      const i = G.tensor(Int32Array.from([7, -8]));
      expect(i.dtype).toBe('int32');
      expect(Array.from(i.data())).toEqual([7, -8]);
      expect(G.full([2, 2], 3).data()).toEqual(new Float32Array([3, 3, 3, 3]));
      expect(G.tensor(5).item()).toBe(5);
    });
  });

  it('reshape shares memory and resolves -1', () => {
    G.tidy(() => {
      const t = G.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
      const r = G.reshape(t, [3, -1]);
      expect(r.shape).toEqual([3, 2]);
      expect(r.buf).toBe(t.buf);
      expect(() => G.reshape(t, [4, -1])).toThrow(/cannot reshape \[2, 3\] to \[4, -1\]/);
    });
  });

  it('seeded random tensors are reproducible', () => {
    G.tidy(() => {
      G.manualSeed(42);
      const a = G.randn([100]).data();
      G.manualSeed(42);
      const b = G.randn([100]).data();
      expect(a).toEqual(b);
      const m = Array.from(a).reduce((s, v) => s + v, 0) / 100;
      expect(Math.abs(m)).toBeLessThan(0.3);
    });
  });

  it('rejects bad input with messages that name it', () => {
    expect(() => G.tensor([1, 2, 3], [2, 2])).toThrow(G.ShapeError);
    expect(() => G.tensor([1, 2, 3], [2, 2])).toThrow(/3 values do not fill shape \[2, 2\]/);
    expect(() => G.tensor([[1, 2], [3]])).toThrow(/ragged/);
    expect(() => G.zeros([2, -1])).toThrow(/non-negative integers/);
    G.tidy(() => {
      const a = G.zeros([2, 3]);
      const b = G.zeros([4, 5]);
      expect(() => G.matmul(a, b)).toThrow(/matmul: cannot multiply \[2, 3\] by \[4, 5\]/);
      expect(() => G.add(a, b)).toThrow(G.ShapeError);
      expect(() => G.add(a, b)).toThrow(/\[2, 3\].*\[4, 5\]/);
      const logits = G.zeros([2, 3]);
      expect(() => G.softmaxCrossEntropy(logits, G.tensor(Int32Array.from([0, 3])))).toThrow(
        /label 3 at index 1 is outside \[0, 3\)/,
      );
    });
  });
});

describe('lifetime model', () => {
  it('tidy frees what it created except the result; keep() escapes', () => {
    const before = G.memoryStats().liveBytes;
    let kept: G.Tensor | undefined;
    const result = G.tidy(() => {
      const a = G.ones([256]);
      const b = G.add(a, a);
      kept = G.keep(G.mul(b, 2));
      return G.sum(b);
    });
    expect(result.item()).toBe(512);
    expect(kept?.data()[0]).toBe(4);
    result.dispose();
    kept?.dispose();
    expect(G.memoryStats().liveBytes).toBe(before);
  });

  it('frees the scope when the function throws', () => {
    const before = G.memoryStats().liveBytes;
    expect(() =>
      G.tidy(() => {
        G.ones([1000]);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(G.memoryStats().liveBytes).toBe(before);
  });

  it('use after dispose is a clear error', () => {
    const t = G.ones([3]);
    t.dispose();
    t.dispose(); // idempotent
    expect(() => t.data()).toThrow(G.DisposedError);
    expect(() => G.add(t, t)).toThrow(/disposed/);
  });

  it('`using` disposes at the end of the block', () => {
    const before = G.memoryStats().liveBytes;
    {
      using t = G.ones([64]);
      expect(t.size).toBe(64);
    }
    expect(G.memoryStats().liveBytes).toBe(before);
  });
});
