// The WebGPU layout kernels against the reference backend, exactly: transposes through the tiled
// path (the innermost axis moves; sizes not multiples of the 32×32 tile, batch axes in between)
// and the gather path (innermost axis kept, or a tiny innermost axis), size-1 axes, rank 7; slices
// and sliceBackward with empty and whole windows; concat of many inputs (one empty) along every
// kind of axis. Values include NaN, ±1e30 and 1e-30, which must move bit for bit. The axis merging
// is pinned by hand, and bad arguments give the reference's errors. Buffers are views at odd
// offsets with guards (gpu-compare.ts). Skipped where no WebGPU adapter exists (test/backend/gpu.ts).
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import { ReferenceBackend } from '../../src/backend/reference.js';
import { mergeTranspose, mergeWindow } from '../../src/backend/webgpu/layout.js';
import { ShapeError, ValueError } from '../../src/errors.js';
import { rand } from '../helpers.js';
import { gpuBackend } from './gpu.js';
import { agreeOn } from './gpu-compare.js';

const gpu = gpuBackend('the WebGPU layout tests');
const ref = new ReferenceBackend();

function numel(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/** Random values with NaN, ±1e30 and 1e-30 mixed in. */
function values(n: number, seed: number): Float32Array {
  const x = rand(n, seed);
  for (let i = 0; i < n; i += 13) x[i] = Number.NaN;
  for (let i = 5; i < n; i += 17) x[i] = i % 2 ? 1e30 : -1e30;
  for (let i = 9; i < n; i += 19) x[i] = 1e-30;
  return x;
}

describe('webgpu layout: axis merging', () => {
  it('drops size-1 axes and merges axes that stay adjacent and in order', () => {
    expect(mergeTranspose([2, 3, 4], [0, 1, 2])).toEqual({ shape: [24], perm: [0] });
    expect(mergeTranspose([2, 3, 4, 5], [2, 3, 0, 1])).toEqual({ shape: [6, 20], perm: [1, 0] });
    expect(mergeTranspose([2, 1, 3], [1, 2, 0])).toEqual({ shape: [2, 3], perm: [1, 0] });
    expect(mergeTranspose([2, 3, 4, 5], [3, 0, 1, 2])).toEqual({ shape: [24, 5], perm: [1, 0] });
    expect(mergeTranspose([1, 1], [1, 0])).toEqual({ shape: [], perm: [] });
  });

  it('merges a window axis into the one before it where it is taken whole', () => {
    expect(mergeWindow([4, 5, 6], [1, 0, 0], [2, 5, 6])).toEqual({ shape: [120], begin: [30], size: [60] });
    expect(mergeWindow([4, 5, 6], [0, 1, 0], [4, 3, 6])).toEqual({ shape: [4, 30], begin: [0, 6], size: [4, 18] });
    expect(mergeWindow([4, 5, 6], [0, 0, 2], [4, 5, 3])).toEqual({ shape: [20, 6], begin: [0, 2], size: [20, 3] });
    expect(mergeWindow([4, 5, 6], [0, 1, 2], [4, 3, 3])).toEqual({
      shape: [4, 5, 6],
      begin: [0, 1, 2],
      size: [4, 3, 3],
    });
  });
});

describe.skipIf(!gpu)('webgpu layout', () => {
  const be = gpu as Backend;

  it.each([
    { shape: [70, 45], perm: [1, 0] },
    { shape: [3, 70, 45], perm: [0, 2, 1] },
    { shape: [5, 33, 2, 40], perm: [3, 1, 2, 0] },
    { shape: [130, 1, 67], perm: [2, 1, 0] },
    { shape: [2, 1, 3, 1, 4], perm: [4, 3, 2, 1, 0] },
    { shape: [4, 5, 6], perm: [1, 0, 2] },
    { shape: [2, 3, 4, 3, 2, 3, 2], perm: [5, 0, 6, 2, 4, 1, 3] },
    { shape: [1, 1, 1], perm: [2, 0, 1] },
    { shape: [9, 64, 64], perm: [2, 1, 0] },
    { shape: [20, 3, 17, 2, 18], perm: [3, 4, 1, 2, 0] },
    { shape: [20, 3, 5, 18], perm: [1, 3, 2, 0] },
    { shape: [300, 3], perm: [1, 0] },
    { shape: [3, 300], perm: [1, 0] },
    { shape: new Array<number>(14).fill(2), perm: [13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0] },
  ])('transpose $shape by $perm', ({ shape, perm }) => {
    const x = values(numel(shape), 1);
    agreeOn(be, ref, (io) => io.be.transpose(io.put(x), shape, perm, io.out('out', numel(shape))), 'exact');
  });

  it.each([
    { shape: [13, 17], begin: [2, 3], size: [7, 5] },
    { shape: [4, 5, 6], begin: [0, 1, 0], size: [4, 3, 6] },
    { shape: [4, 5, 6], begin: [1, 0, 0], size: [2, 5, 6] },
    { shape: [3, 2, 4, 2, 3, 5], begin: [1, 0, 1, 1, 0, 2], size: [2, 2, 2, 1, 3, 3] },
    { shape: [6, 7], begin: [0, 0], size: [6, 7] },
    { shape: [6, 7], begin: [2, 3], size: [0, 4] },
    { shape: [129, 300], begin: [1, 44], size: [127, 255] },
    // 16 axes that do not merge: too many for sliceBackward's one pass (zeros, then a scatter).
    {
      shape: [3, 2, 2, 2, 3, 2, 2, 2, 3, 2, 2, 2, 3, 2, 2, 2],
      begin: [1, 0, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 0, 1, 0],
      size: [2, 1, 1, 1, 2, 1, 1, 1, 2, 1, 1, 1, 2, 1, 1, 1],
    },
  ])('slice and sliceBackward of $shape at $begin size $size', ({ shape, begin, size }) => {
    const [x, dy] = [values(numel(shape), 2), values(numel(size), 3)];
    agreeOn(
      be,
      ref,
      (io) => {
        io.be.slice(io.put(x), shape, begin, size, io.out('out', numel(size)));
        io.be.sliceBackward(io.put(dy), size, begin, io.out('dx', numel(shape)), shape);
      },
      'exact',
    );
  });

  it.each([
    { base: [3, 4, 5], axis: 0 },
    { base: [3, 4, 5], axis: 1 },
    { base: [3, 4, 5], axis: -1 },
    { base: [40], axis: 0 },
    { base: [2, 1, 7, 3], axis: 2 },
  ])('concat of five inputs (one empty) of $base along $axis', ({ base, axis }) => {
    const ax = axis < 0 ? axis + base.length : axis;
    const shapes = [2, 0, 1, 5, 3].map((d) => base.map((b, a) => (a === ax ? d : b)));
    const inputs = shapes.map((shape, i) => values(numel(shape), 10 + i));
    const total = shapes.reduce((t, s) => t + numel(s), 0);
    agreeOn(
      be,
      ref,
      (io) =>
        io.be.concat(
          shapes.map((shape, i) => ({ buf: io.put(inputs[i]), shape })),
          axis,
          io.out('out', total),
        ),
      'exact',
    );
  });

  it('rejects bad arguments as the reference does', () => {
    const x = be.alloc(4 * 24);
    try {
      expect(() => be.transpose(x, [2, 3, 4], [0, 0, 1], x)).toThrow(ValueError);
      expect(() => be.slice(x, [4, 6], [1, 2], [4, 2], x)).toThrow(ShapeError);
      expect(() => be.sliceBackward(x, [2, 2], [0, 5], x, [4, 6])).toThrow(/does not fit \[4, 6\]/);
      expect(() => be.concat([], 0, x)).toThrow(ValueError);
      expect(() => be.concat([{ buf: x, shape: [2, 3] }], 2, x)).toThrow(/axis 2 out of range/);
      const mismatched = [
        { buf: x, shape: [2, 3] },
        { buf: x, shape: [3, 3] },
      ];
      expect(() => be.concat(mismatched, 1, x)).toThrow(ShapeError);
    } finally {
      be.free(x);
    }
  });
});
