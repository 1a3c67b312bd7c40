// Small recommendation models for tests: the synthetic fixture (test/fixtures/recsys) plus item
// 999999, rated once as user 1's latest (a leave-last-out split never trains it: graduation
// prunes it), trained a few epochs through recsys/train.ts, checkpointed and reloaded.
import { appendFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadInteractionData } from '../../src/data/interactions.js';
import { type LoadedRecsys, loadRecsysModel } from '../../src/recsys/checkpoint.js';
import { compileRecsys } from '../../src/recsys/graduate.js';
import { fitRecsys, prepareRecsysData, RECSYS_DEFAULTS, type RecsysTrainConfig } from '../../src/recsys/train.js';
import { engine } from '../../src/tensor/context.js';

export const FIXTURE = join(__dirname, '..', 'fixtures', 'recsys');

/** Writes the fixture + the untrained item into `dir` (MovieLens layout); returns it. */
export function fixtureWithUntrainedItem(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const f of ['ratings.csv', 'movies.csv']) copyFileSync(join(FIXTURE, f), join(dir, f));
  appendFileSync(join(dir, 'ratings.csv'), '1,999999,4,2000000000\n');
  appendFileSync(join(dir, 'movies.csv'), '999999,Never Trained (2000),Drama\n');
  return dir;
}

/** A few epochs on `data` (leave-last-out, dim 8), checkpointed to `out` and reloaded (dispose its model). */
export function trainedFixture(
  data: string,
  out: string,
  preset: 'mf' | 'two-tower',
  over: Partial<RecsysTrainConfig> = {},
): LoadedRecsys {
  const c: RecsysTrainConfig = {
    ...RECSYS_DEFAULTS[preset],
    preset,
    seed: 1,
    epochs: 3,
    batchSize: 64,
    dim: 8,
    split: 'leave-last-out',
    ...over,
  };
  const d = prepareRecsysData(loadInteractionData(data), c.split, c.seed);
  fitRecsys(d, c, { outDir: out, dataSpec: data, progress: false, log: () => {} }).model.dispose();
  return loadRecsysModel(out);
}

/**
 * trainedFixture, then graduated as the runtime and serve tests use it (int8, K 5, no metric gate):
 * the artifact's bytes and the loaded checkpoint (dispose its model).
 */
export function graduatedFixture(
  data: string,
  out: string,
  preset: 'mf' | 'two-tower',
): { bytes: Uint8Array; loaded: LoadedRecsys } {
  const loaded = trainedFixture(data, out, preset);
  const { bytes } = compileRecsys(loaded, loadInteractionData(data), {
    quantize: 'int8',
    k: 5,
    maxMetricDrop: 100,
    engine: engine(),
  });
  return { bytes, loaded };
}
