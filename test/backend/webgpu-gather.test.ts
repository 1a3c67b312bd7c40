// The WebGPU gather family against the reference backend: gather and embeddingBag with -1 ids and
// padding, empty bags, and the scatter-adds with ids repeated thousands of times — bit for bit, as
// the kernels add each id's gradient rows in the reference's (position) order — at sizes below,
// at and past the sort's 512-element blocks, and run twice to the same bits. Views with guards
// (gpu-compare.ts) catch writes outside the table. Skipped where no WebGPU adapter exists.
import { describe, it } from 'vitest';
import { ReferenceBackend } from '../../src/backend/reference.js';
import { rand } from '../helpers.js';
import { gpuBackend } from './gpu.js';
import { agreeOn, expectAgree, outputs } from './gpu-compare.js';

const gpu = gpuBackend('the WebGPU gather tests');
const ref = new ReferenceBackend();

/** n ids in [0, V) (squared toward 0: a few ids repeat very often), `holes` of them -1. */
function idsOf(n: number, V: number, seed: number, holes = 0.1): Int32Array {
  return Int32Array.from(rand(n, seed), (v, i) =>
    rand(1, seed * 7919 + i)[0] < 2 * holes - 1 ? -1 : Math.min(V - 1, Math.floor(v * v * V)),
  );
}

describe.skipIf(!gpu)('webgpu gather family', () => {
  const g = gpu as NonNullable<typeof gpu>;

  it.each([
    { n: 1, V: 3, D: 1 },
    { n: 13, V: 11, D: 7 },
    { n: 512, V: 5, D: 3 },
    { n: 513, V: 40, D: 33 },
    { n: 5000, V: 7, D: 5 },
    { n: 2049, V: 3000, D: 64 },
  ])('gather and scatterAdd of $n ids over $V rows of $D, bit for bit', ({ n, V, D }) => {
    const ids = idsOf(n, V, n + V);
    const [table, dy, dTable] = [rand(V * D, 51), rand(n * D, 52), rand(V * D, 53)];
    agreeOn(
      g,
      ref,
      (io) => {
        const idb = io.put(ids, 'int32');
        io.be.gather(io.put(table), D, idb, n, io.out('out', n * D));
        const dT = io.out('dTable', V * D);
        io.be.copy(io.put(dTable), dT, V * D);
        io.be.scatterAdd(io.put(dy), D, idb, n, dT);
      },
      'exact',
    );
  });

  it('scatterAdd is deterministic: the same bits on every run', () => {
    const [n, V, D] = [3001, 4, 17];
    const ids = idsOf(n, V, 54, 0);
    const dy = rand(n * D, 55).map((v) => v * 1e3);
    const run = () =>
      outputs(g, (io) => {
        const dT = io.out('dTable', V * D);
        io.be.fill(dT, V * D, 0);
        io.be.scatterAdd(io.put(dy), D, io.put(ids, 'int32'), n, dT);
      });
    expectAgree(run(), run(), 'exact');
  });

  it.each([
    { B: 5, L: 4, V: 11, D: 7 },
    { B: 300, L: 17, V: 50, D: 9 },
    { B: 64, L: 40, V: 6, D: 33 },
  ])('embeddingBag and its backward: $B bags of $L over $V rows of $D, padding, empty bags', ({ B, L, V, D }) => {
    const ids = idsOf(B * L, V, B + L, 0.4);
    ids.fill(-1, 0, L); // bag 0 empty
    ids.fill(V - 1, L, 2 * L); // bag 1 one id L times
    const [table, dy, dTable] = [rand(V * D, 56), rand(B * D, 57), rand(V * D, 58)];
    // The backward divides in f32 before adding (the reference in float64): 1e-6.
    agreeOn(
      g,
      ref,
      (io) => {
        const idb = io.put(ids, 'int32');
        io.be.embeddingBag(io.put(table), D, idb, B, L, io.out('out', B * D));
        const dT = io.out('dTable', V * D);
        io.be.copy(io.put(dTable), dT, V * D);
        io.be.embeddingBagBackward(io.put(dy), D, idb, B, L, dT);
      },
      1e-6,
    );
  });
});
