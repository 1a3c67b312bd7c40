// npm run bench:recommend [-- MF_RUN TWO_TOWER_RUN] — graduation of the recommendation models on
// MovieLens ml-latest-small ($GRADUATE_DATA_DIR/movielens-small or ../shared/datasets/movielens-
// small): each checkpoint (given, or trained here as `graduate train --preset P` trains it) compiled with
// --quantize none, fp16 and int8; per row the parent's float32 size against the graph's tables,
// the artifact and the catalogue data it carries, the gate's metric (mf RMSE on the 80/20 split,
// two-tower HR@10 on leave-last-out) before/after, and the top-10 latency at batch 1 and 32
// (median of a run; best of 3 runs, the host is shared).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInteractionData } from '../src/data/interactions.js';
import { loadRecsysModel } from '../src/recsys/checkpoint.js';
import { compileRecsys, type RecsysQuantize, topKLatency } from '../src/recsys/graduate.js';
import { fitRecsys, prepareRecsysData, RECSYS_DEFAULTS } from '../src/recsys/train.js';
import { engine, init } from '../src/tensor/context.js';
import { manualSeed } from '../src/tensor/random.js';

const dir = [
  process.env.GRADUATE_DATA_DIR && join(process.env.GRADUATE_DATA_DIR, 'movielens-small'),
  join(import.meta.dirname, '../../shared/datasets/movielens-small'),
].find((d): d is string => !!d && existsSync(join(d, 'ratings.csv')));
if (!dir) throw new Error('no movielens-small: run `graduate data fetch movielens-small`');

init({ threads: 1 });
const data = loadInteractionData(dir);
const tmp = mkdtempSync(join(tmpdir(), 'bench-recommend-'));
const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;

function checkpoint(preset: 'mf' | 'two-tower', given?: string): string {
  if (given) return given;
  const out = join(tmp, preset);
  manualSeed(0);
  const c = { ...RECSYS_DEFAULTS[preset], preset, seed: 0 }; // graduate train's default seed
  const d = prepareRecsysData(data, c.split, c.seed);
  console.log(`training ${preset} (preset defaults, ${c.epochs} epochs)…`);
  fitRecsys(d, c, { outDir: out, dataSpec: dir as string, progress: false, log: () => {} }).model.dispose();
  return out;
}

try {
  for (const [preset, given] of [
    ['mf', process.argv[2]],
    ['two-tower', process.argv[3]],
  ] as const) {
    const loaded = loadRecsysModel(checkpoint(preset, given));
    console.log(`\n${preset} (${loaded.dir}): ${loaded.config.model.numItems} items, d ${loaded.config.model.dim}`);
    console.log(
      'quantize  parent      model       smaller  artifact   (ids / titles / seen)        metric parent → graduated   p50 b1    p50 b32',
    );
    for (const quantize of ['none', 'fp16', 'int8'] as RecsysQuantize[]) {
      const { graph, report: r } = compileRecsys(loaded, data, { quantize, maxMetricDrop: 100, engine: engine() });
      let lat = r.latency;
      for (let k = 0; k < 2; k++) {
        const l = topKLatency(graph, engine());
        lat = { batch1: Math.min(lat.batch1, l.batch1), batch32: Math.min(lat.batch32, l.batch32) };
      }
      const m = r.metric;
      console.log(
        `${quantize.padEnd(9)} ${kib(r.parentBytes).padEnd(11)} ${kib(r.modelBytes).padEnd(11)} ${`${(r.parentBytes / r.modelBytes).toFixed(2)}×`.padEnd(8)} ` +
          `${kib(r.artifactBytes).padEnd(10)} (${kib(r.data.ids)} / ${kib(r.data.titles)} / ${kib(r.data.history)})`.padEnd(
            48,
          ) +
          ` ${m.name} ${m.parent.toFixed(4)} → ${m.graduated.toFixed(4)} (${m.dropPercent >= 0 ? '−' : '+'}${Math.abs(m.dropPercent).toFixed(2)}%)  ` +
          `${lat.batch1.toFixed(3)} ms  ${lat.batch32.toFixed(2)} ms`,
      );
      if (quantize === 'int8') {
        const p = r.pruned;
        console.log(
          `pruned: items ${p.items.of - p.items.kept} of ${p.items.of}, users ${p.users.of - p.users.kept} of ${p.users.of}` +
            (p.bagRows ? `, history-bag rows ${p.bagRows.of - p.bagRows.kept} of ${p.bagRows.of}` : ''),
        );
      }
    }
    loaded.model.dispose();
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
