// Engine.split: static splits give each thread one aligned range; dynamic splits hand out
// chunks from a shared counter. Either way every element is computed exactly once, and the
// results equal a single-threaded run.
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/kernels/engine.js';

describe('Engine.split', () => {
  const one = Engine.create({ threads: 1 });
  const two = Engine.create({ threads: 2 });
  afterAll(() => {
    one.dispose();
    two.dispose();
  });

  /** dequantize_i8 of n int8 values on `e` (split as asked); returns the f32 results. */
  function dequant(e: Engine, q: Int8Array, dynamic: boolean, align: number, minPerThread: number): Float32Array {
    const pq = e.alloc(q.length);
    const px = e.alloc(q.length * 4);
    new Int8Array(e.memory.buffer, pq, q.length).set(q);
    e.f32.fill(Number.NaN, px / 4, px / 4 + q.length); // an element no range covers stays NaN
    e.split('dequantize_i8', [pq, px, 0.5, 3], q.length, align, minPerThread, dynamic);
    const out = e.f32.slice(px / 4, px / 4 + q.length);
    e.free(pq);
    e.free(px);
    return out;
  }

  it.each([
    [1, 1, 1],
    [1000, 16, 1],
    [100_003, 16, 64],
    [100_003, 4, 1],
    [33, 16, 1], // fewer units than threads × chunks
  ])('n=%i align=%i minPerThread=%i: dynamic and static cover every element once, as 1 thread', (n, align, min) => {
    const q = Int8Array.from({ length: n }, (_, i) => ((i * 37) % 256) - 128);
    const want = dequant(one, q, false, align, min);
    expect(want.every((v) => Number.isFinite(v))).toBe(true);
    for (const dynamic of [false, true])
      expect(Array.from(dequant(two, q, dynamic, align, min))).toEqual(Array.from(want));
    // the pool is reusable after a dynamic job: a static one right after still covers everything
    expect(Array.from(dequant(two, q, false, align, min))).toEqual(Array.from(want));
  });
});
