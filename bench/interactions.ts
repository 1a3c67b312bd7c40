// node --import tsx bench/interactions.ts [DIR] — how fast the recommendation data layer is on
// MovieLens ml-latest-small (DIR, default $GRADUATE_DATA_DIR/movielens-small or ../shared/datasets/
// movielens-small): loading ratings.csv alone and with movies.csv, beside a bare line split of the
// same file (the floor any CSV reader pays) and csv-parse's reading of it (strings, no conversion), the two splits, the seen lists, and negative draws
// (uniform and popularity^0.75) in millions per second. Best of 5 runs each.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCsv } from '../src/data/csv.js';
import { itemCounts, leaveLastOut, randomSplit, seenItems } from '../src/data/interaction-splits.js';
import { loadInteractions, loadMovieLens } from '../src/data/interactions.js';
import { NegativeSampler } from '../src/data/negative-sampling.js';

const dir =
  process.argv[2] ??
  [
    process.env.GRADUATE_DATA_DIR && join(process.env.GRADUATE_DATA_DIR, 'movielens-small'),
    join(import.meta.dirname, '../../shared/datasets/movielens-small'),
  ].find((d): d is string => !!d && existsSync(join(d, 'ratings.csv')));
if (!dir) throw new Error('no movielens-small: pass its folder, or run `graduate data fetch movielens-small`');

function best(name: string, run: () => unknown, per?: (ms: number) => string): void {
  let ms = Infinity;
  for (let k = 0; k < 5; k++) {
    const t = performance.now();
    run();
    ms = Math.min(ms, performance.now() - t);
  }
  console.log(`${name.padEnd(44)} ${ms.toFixed(1).padStart(7)} ms${per ? `  ${per(ms)}` : ''}`);
}

const ratings = join(dir, 'ratings.csv');
best('line split of ratings.csv (floor)', () => {
  const text = readFileSync(ratings, 'utf8');
  let n = 0;
  for (const line of text.split('\n')) n += line.split(',').length;
  return n;
});
best('readCsv(ratings.csv) (csv-parse, strings only)', () => readCsv(ratings));
best('loadInteractions(ratings.csv)', () => loadInteractions(ratings));
best('loadMovieLens (ratings + movies)', () => loadMovieLens(dir));
const d = loadMovieLens(dir);
best('randomSplit 80/20', () => randomSplit(d));
best('leaveLastOut + validation', () => leaveLastOut(d, { validation: true }));
const split = leaveLastOut(d);
best('seenItems (train rows)', () => seenItems(d, split.train));
const seen = seenItems(d, split.train);
const users = d.users.slice(0, 100_000);
const out = new Int32Array(users.length * 10);
const draws = (ms: number) => `${((out.length / ms) * 1e-3).toFixed(1)} M draws/s`;
const uniform = new NegativeSampler(seen, d.numItems, { seed: 0 });
best(`NegativeSampler uniform, ${users.length}×10`, () => uniform.sampleBatch(users, 10, out), draws);
const popular = new NegativeSampler(seen, d.numItems, { seed: 0, popularity: itemCounts(d, split.train), alpha: 0.75 });
best(`NegativeSampler popularity^0.75, ${users.length}×10`, () => popular.sampleBatch(users, 10, out), draws);
