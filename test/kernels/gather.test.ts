// The embedding kernels (kernels/as/gather.ts) against plain loops: row gather, bag means, and
// their scatter-add adjoints, on odd widths (tails past the 4-lane loop), -1 padding, empty bags
// and ids repeated across a batch (the column-split scatters must add every repeat, on 1 and 2
// threads), at sizes large enough for the engine to split the work.
import { describe, expect, it } from 'vitest';
import { embeddingBag, embeddingBagBackward, gatherRows, scatterAdd } from '../../src/kernels/gather.js';
import { download, engineConfigs, engineFor, rand, upload, uploadI32 } from '../helpers.js';

/** The first index where two arrays differ, with both values (undefined: equal). */
function firstDiff(got: Float32Array, want: Float32Array): string | undefined {
  if (got.length !== want.length) return `length ${got.length} vs ${want.length}`;
  const i = got.findIndex((v, k) => !Object.is(v, want[k]));
  return i < 0 ? undefined : `[${i}] ${got[i]} vs ${want[i]}`;
}

/** Ids in [-1, V): about a fifth padding, many repeats. */
function ids(n: number, V: number, seed: number): Int32Array {
  const r = rand(n, seed);
  return Int32Array.from(r, (v) => (v < -0.6 ? -1 : Math.floor(((v + 1) / 2) * V) % V));
}

describe.each(engineConfigs())('embedding kernels isa=$isa threads=$threads', (cfg) => {
  const e = engineFor(cfg);
  for (const [V, D, B, L] of [
    [11, 3, 5, 4],
    [50, 13, 40, 7],
    [300, 64, 900, 20],
  ])
    it(`V ${V}, D ${D}, ${B} bags of ${L}`, () => {
      const table = rand(V * D, 3);
      const id = ids(B * L, V, 5);
      id.fill(-1, 0, L); // bag 0 empty
      const dy = rand(B * D, 7);
      const pT = upload(e, table);
      const pI = uploadI32(e, id);
      const pDy = upload(e, dy);
      // gather over all B·L ids
      const pG = e.alloc(B * L * D * 4);
      gatherRows(e, pT, D, pI, B * L, pG);
      const wantG = new Float32Array(B * L * D);
      id.forEach((k, i) => {
        if (k >= 0) wantG.set(table.subarray(k * D, (k + 1) * D), i * D);
      });
      expect(firstDiff(download(e, pG, B * L * D), wantG)).toBeUndefined();
      // bag means
      const pM = e.alloc(B * D * 4);
      embeddingBag(e, pT, D, pI, B, L, pM);
      const wantM = new Float32Array(B * D);
      const count = new Array(B).fill(0);
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < L; t++) {
          const k = id[b * L + t];
          if (k < 0) continue;
          count[b]++;
          for (let j = 0; j < D; j++) wantM[b * D + j] += table[k * D + j];
        }
        if (count[b] > 1) for (let j = 0; j < D; j++) wantM[b * D + j] /= count[b];
      }
      expect(firstDiff(download(e, pM, B * D), wantM)).toBeUndefined();
      // scatter-add of [B·L, D] rows, and the bag adjoint, into tables that already hold values
      const pS = upload(e, table);
      const wantS = Float32Array.from(table);
      const dyRows = rand(B * L * D, 9);
      const pDyRows = upload(e, dyRows);
      scatterAdd(e, pDyRows, D, pI, B * L, pS);
      id.forEach((k, i) => {
        if (k >= 0) for (let j = 0; j < D; j++) wantS[k * D + j] += dyRows[i * D + j];
      });
      expect(firstDiff(download(e, pS, V * D), wantS)).toBeUndefined();
      const pB = upload(e, table);
      const wantB = Float32Array.from(table);
      embeddingBagBackward(e, pDy, D, pI, B, L, pB);
      for (let b = 0; b < B; b++)
        for (let t = 0; t < L; t++) {
          const k = id[b * L + t];
          if (k >= 0) for (let j = 0; j < D; j++) wantB[k * D + j] += Math.fround(dy[b * D + j] / count[b]);
        }
      expect(firstDiff(download(e, pB, V * D), wantB)).toBeUndefined();
      for (const p of [pT, pI, pDy, pG, pM, pS, pDyRows, pB]) e.free(p);
    });
});
