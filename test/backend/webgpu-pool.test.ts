// The WebGPU pooling kernels against the reference backend: max pooling with and without argmax
// (ties, NaN, ±1e30, 1e-30), its backward through overlapping windows (several outputs pick the
// same input and must add up), windows that skip inputs (stride > kernel), average pooling with
// padding cells not counted, and global average pooling over many channel blocks and pixels.
// Buffers are views at odd offsets with guards (gpu-compare.ts). Skipped where no WebGPU adapter
// exists (test/backend/gpu.ts).
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import { ReferenceBackend } from '../../src/backend/reference.js';
import { type Padding, type Pool2dGeometry, pool2dGeometry } from '../../src/shape/window.js';
import { rand } from '../helpers.js';
import { gpuBackend } from './gpu.js';
import { agreeOn, outputs } from './gpu-compare.js';

const gpu = gpuBackend('the WebGPU pool tests');
const ref = new ReferenceBackend();

const inSize = (g: Pool2dGeometry) => g.N * g.H * g.W * g.C;
const outSize = (g: Pool2dGeometry) => g.N * g.OH * g.OW * g.C;

const CASES: { x: number[]; k: number | [number, number]; stride: number | [number, number]; padding: Padding }[] = [
  { x: [2, 11, 10, 7], k: 3, stride: 1, padding: 1 }, // every input in up to 9 windows
  { x: [3, 9, 12, 37], k: [3, 4], stride: [2, 3], padding: [2, 1, 1, 3] }, // overlapping, asymmetric padding
  { x: [1, 10, 10, 3], k: 2, stride: 3, padding: 'valid' }, // windows skip inputs: their dx is 0
  { x: [2, 6, 5, 1], k: 6, stride: 1, padding: 'same' }, // one channel, windows wider than the pad
  { x: [1, 40, 40, 40], k: 2, stride: 2, padding: 'valid' }, // many workgroups
];

/** Values with ties (a coarse grid), some huge, some tiny, and a NaN. */
function poolInput(n: number, seed: number): Float32Array {
  const x = rand(n, seed).map((v) => Math.round(v * 3) / 3);
  for (let i = 0; i < n; i += 7) x[i] = 1e30 * Math.sign(x[i] || 1);
  for (let i = 3; i < n; i += 11) x[i] = 1e-30 * (i % 2 ? 1 : -1);
  x[Math.floor(n / 2)] = Number.NaN;
  return x;
}

describe.skipIf(!gpu)('webgpu pool', () => {
  const cases = CASES.map((c) => ({ ...c, g: pool2dGeometry(c.x, c.k, c.stride, c.padding) }));

  // Sums in output order on both sides, so even dx is exact.
  it.each(cases)(
    'maxPool2d (argmax, 0 = skip) and its backward, x $x k $k stride $stride padding $padding',
    ({ g }) => {
      const [x, dy] = [poolInput(inSize(g), 1), rand(outSize(g), 2)];
      agreeOn(
        gpu as Backend,
        ref,
        (io) => {
          const [y, am, y0, dx] = [
            io.out('y', outSize(g)),
            io.out('argmax', outSize(g), 'int32'),
            io.out('y without argmax', outSize(g)),
            io.out('dx', inSize(g)),
          ];
          const xb = io.put(x);
          io.be.maxPool2d(xb, g, y, am);
          io.be.maxPool2d(xb, g, y0, 0);
          io.be.maxPool2dBackward(io.put(dy), am, g, dx);
        },
        'exact',
      );
    },
  );

  it.each(cases.flatMap((c) => [1, 1e30, 1e-30].map((scale) => ({ ...c, scale }))))(
    'avgPool2d and its backward, x $x k $k stride $stride padding $padding, values ×$scale',
    ({ g, scale }) => {
      const [x, dy] = [rand(inSize(g), 3).map((v) => v * scale), rand(outSize(g), 4).map((v) => v * scale)];
      agreeOn(gpu as Backend, ref, (io) => {
        const [y, dx] = [io.out('y', outSize(g)), io.out('dx', inSize(g))];
        io.be.avgPool2d(io.put(x), g, y);
        io.be.avgPool2dBackward(io.put(dy), g, dx);
      });
    },
  );

  it('maxPool2dBackward adds the gradients of every window that picked the same input', () => {
    // x [1, 3, 3, 1] with its max in the middle; 2×2 windows at stride 1 all pick it.
    const g = pool2dGeometry([1, 3, 3, 1], 2, 1, 'valid');
    const r = outputs(gpu as Backend, (io) => {
      const [y, am, dx] = [io.out('y', 4), io.out('argmax', 4, 'int32'), io.out('dx', 9)];
      io.be.maxPool2d(io.put([0, 1, 0, 1, 5, 1, 0, 1, 0]), g, y, am);
      io.be.maxPool2dBackward(io.put([1, 2, 3, 4]), am, g, dx);
    });
    const body = (v: number[]) => v.slice(3, -3); // without the guards
    expect(body(r.y)).toEqual([5, 5, 5, 5]);
    expect(body(r.argmax)).toEqual([4, 4, 4, 4]);
    expect(body(r.dx)).toEqual([0, 0, 0, 0, 10, 0, 0, 0, 0]);
  });

  it.each([
    [2, 3000, 1], // the workgroup reductions: 1, 4, 8 and 32 channels per workgroup
    [3, 200, 100],
    [2, 65, 4],
    [3, 80, 7],
    [3, 50, 100], // one invocation per output
    [1, 1, 33],
    [70, 7, 5],
  ])('globalAvgPool and its backward, N %i HW %i C %i', (N, HW, C) => {
    const [x, dy] = [rand(N * HW * C, 5).map((v) => v * 3 + 1), rand(N * C, 6)];
    agreeOn(gpu as Backend, ref, (io) => {
      const [y, dx] = [io.out('y', N * C), io.out('dx', N * HW * C)];
      io.be.globalAvgPool(io.put(x), N, HW, C, y);
      io.be.globalAvgPoolBackward(io.put(dy), N, HW, C, dx);
    });
  });
});
