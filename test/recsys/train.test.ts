// The training loops on synthetic data whose answer is known: mf recovers a low-rank rating matrix
// (held-out RMSE far below the global mean's), and the two-tower learns a task where each user's
// next item follows from their history (users walk a ring of items), beating popularity on
// leave-last-out. Also: the per-epoch record, checkpoints that rebuild the same scores, and errors.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInteractions } from '../../src/data/interactions.js';
import { loadRecsysModel } from '../../src/recsys/checkpoint.js';
import { rmse } from '../../src/recsys/metrics.js';
import { type MatrixFactorization, TwoTower } from '../../src/recsys/models.js';
import {
  evaluateRecsys,
  fitRecsys,
  popularityBaseline,
  prepareRecsysData,
  RECSYS_DEFAULTS,
  towerScores,
} from '../../src/recsys/train.js';
import { init, shutdown } from '../../src/tensor/context.js';
import { manualSeed, Rng } from '../../src/tensor/random.js';

const tmp = mkdtempSync(join(tmpdir(), 'graduate-recsys-'));
beforeAll(() => init({ threads: 1 }));
afterAll(() => {
  shutdown();
  rmSync(tmp, { recursive: true, force: true });
});
const quiet = { dataSpec: 'synthetic', log: () => {}, progress: false };

/** Ratings 3 + ⟨a_u, b_i⟩ of rank-2 factors for 70% of a 60 × 50 matrix. */
function lowRank() {
  const rng = new Rng(7);
  const U = 60;
  const I = 50;
  const a = Array.from({ length: U }, () => [rng.normal(), rng.normal()]);
  const b = Array.from({ length: I }, () => [rng.normal(), rng.normal()]);
  const lines = ['user,item,rating'];
  for (let u = 0; u < U; u++)
    for (let i = 0; i < I; i++)
      if (rng.next() < 0.7) lines.push(`u${u},i${i},${(3 + 0.6 * (a[u][0] * b[i][0] + a[u][1] * b[i][1])).toFixed(4)}`);
  return parseInteractions(lines.join('\n'), 'low-rank.csv');
}

describe('mf', () => {
  const variants = [
    { optimizer: 'adam', lr: 0.02, sparse: false },
    { optimizer: 'adagrad', lr: 0.2, sparse: true },
  ] as const;
  it.each(variants)(
    'recovers a low-rank rating matrix: held-out RMSE well under the global mean’s (%o)',
    (v) => {
      manualSeed(1);
      const data = lowRank();
      const d = prepareRecsysData(data, 'random', 0);
      const r = fitRecsys(
        d,
        { ...RECSYS_DEFAULTS.mf, preset: 'mf', seed: 0, dim: 4, l2: 0.001, epochs: 60, batchSize: 64, ...v },
        quiet,
      );
      const ratings = data.ratings as Float32Array;
      const target = Array.from(d.test, (row) => ratings[row]);
      const meanOnly = rmse(
        new Array(target.length).fill((r.model as MatrixFactorization).recsysSpec.globalMean),
        target,
      );
      const final = r.epochs[r.epochs.length - 1].metrics;
      expect(meanOnly).toBeGreaterThan(0.5);
      expect(final.rmse).toBeLessThan(0.15 * meanOnly);
      expect(final).toEqual(evaluateRecsys(r.model, d));
      expect(r.epochs.map((e) => e.epoch)).toEqual(Array.from({ length: 60 }, (_, k) => k + 1));
      expect(r.epochs[59].trainLoss).toBeLessThan(r.epochs[0].trainLoss);
      r.model.dispose();
    },
    60_000,
  );

  it('refuses data without ratings, and bad options', () => {
    const data = parseInteractions('user,item\na,x\na,y\nb,x\nb,y\nc,x', 'implicit.csv');
    const d = prepareRecsysData(data, 'random', 0);
    const c = { ...RECSYS_DEFAULTS.mf, preset: 'mf' as const, seed: 0 };
    expect(() => fitRecsys(d, c, quiet)).toThrow(
      /implicit.csv: mf learns explicit ratings, and the data have no rating column/,
    );
    expect(() => fitRecsys(d, { ...c, epochs: 0 }, quiet)).toThrow(/mf: epochs must be a positive integer, got 0/);
    expect(() => fitRecsys(d, { ...c, l2: -1 }, quiet)).toThrow(/mf: l2 must be ≥ 0/);
  });
});

/**
 * 240 users walk a ring of 40 items: user u starts at s_u (drawn so that some items are more
 * popular) and rates s_u, s_u + 1, …, s_u + n − 1 at increasing times. The held-out last item is
 * the one after the last in the history.
 */
function ring() {
  const rng = new Rng(11);
  const I = 40;
  const lines = ['user,item,rating,timestamp'];
  for (let u = 0; u < 240; u++) {
    const start = Math.floor(I * rng.next() ** 2);
    const n = 4 + rng.int(5);
    for (let k = 0; k < n; k++) lines.push(`u${u},i${(start + k) % I},1,${1000 * u + k}`);
  }
  return parseInteractions(lines.join('\n'), 'ring.csv');
}

describe('two-tower', () => {
  it('learns next items that follow from the history, beating popularity on leave-last-out; its checkpoint scores the same', () => {
    manualSeed(2);
    const data = ring();
    const d = prepareRecsysData(data, 'leave-last-out', 0);
    const out = join(tmp, 'tt');
    const r = fitRecsys(
      d,
      {
        ...RECSYS_DEFAULTS['two-tower'],
        preset: 'two-tower',
        seed: 0,
        dim: 16,
        epochs: 25,
        batchSize: 64,
        lr: 0.01,
        historyLength: 4,
      },
      { ...quiet, outDir: out },
    );
    const base = popularityBaseline(d);
    const m = r.epochs[r.epochs.length - 1].metrics;
    expect(base['hr@10']).toBeLessThan(0.6);
    expect(m['hr@10']).toBeGreaterThan(Math.min(0.95, 1.5 * base['hr@10']));
    expect(m['ndcg@10']).toBeGreaterThan(1.5 * base['ndcg@10']);
    expect(r.baseline).toEqual(base);
    // the checkpoint rebuilds the model: same spec, same histories, the same scores
    const loaded = loadRecsysModel(out);
    expect(loaded.model).toBeInstanceOf(TwoTower);
    expect(loaded.config.model).toEqual(r.config.model);
    expect(loaded.config.itemIds).toEqual([...data.itemIds]);
    const users = Int32Array.of(0, 5, 17);
    expect(Array.from(towerScores(loaded.model as TwoTower)(users))).toEqual(
      Array.from(towerScores(r.model as TwoTower)(users)),
    );
    expect(evaluateRecsys(loaded.model, d)).toEqual(m);
    loaded.model.dispose();
    r.model.dispose();
  }, 120_000);
});
