// `graduate train --preset mf|two-tower` and `graduate eval` of their checkpoints: the
// recommendation presets' flags (defaults per preset, --split random|leave-last-out, --dim, L2 as
// --weight-decay), the data (movielens-small, a MovieLens folder or a ratings file), training with
// a checkpoint every epoch, metrics.json and charts, and evaluation that recomputes the recorded
// split and refuses data that would give another test set. train.ts dispatches here.
import { join } from 'node:path';
import type { Command } from 'commander';
import { type Interactions, loadInteractionData } from '../data/interactions.js';
import { FormatError, ValueError } from '../errors.js';
import type { OptimizerName } from '../optim/factory.js';
import { loadRecsysModel, type RecsysConfig } from '../recsys/checkpoint.js';
import { isRecsysPreset, type RecsysPreset } from '../recsys/models.js';
import { writeRecsysReport } from '../recsys/report.js';
import {
  evaluateRecsys,
  fitRecsys,
  formatMetrics,
  popularityBaseline,
  prepareRecsysData,
  RECSYS_DEFAULTS,
  type RecsysData,
  type RecsysSplit,
  type RecsysTrainConfig,
} from '../recsys/train.js';
import { init } from '../tensor/context.js';
import { manualSeed } from '../tensor/random.js';

/** The train flags the recommendation presets read (train.ts's TrainFlags has them all). */
export interface RecsysTrainFlags {
  preset?: string;
  data: string;
  epochs: number;
  batch: number;
  lr: number;
  optimizer: string;
  weightDecay?: number;
  seed: number;
  split?: string;
  dim?: number;
  threads?: number;
  resume?: boolean;
  overwrite?: boolean;
  out: string;
  progress: boolean;
}

/** Flags (commander attribute names) the recommendation presets use; any other given explicitly is refused. */
const USED = new Set([
  'preset',
  'data',
  'epochs',
  'batch',
  'lr',
  'optimizer',
  'weightDecay',
  'seed',
  'split',
  'dim',
  'threads',
  'overwrite',
  'out',
  'progress',
]);

const SPLITS: readonly RecsysSplit[] = ['random', 'leave-last-out'];

/** Whether `graduate train` with these flags is a recommendation run (train.ts's hook). */
export const isRecsysTrain = (flags: { preset?: string }): boolean => isRecsysPreset(flags.preset);

/** The run's training config: explicit flags over the preset's defaults. */
function recsysTrainConfig(flags: RecsysTrainFlags, cmd: Command): RecsysTrainConfig {
  const preset = flags.preset as RecsysPreset;
  const given = (attr: string) => (cmd.getOptionValueSource(attr) ?? 'default') !== 'default';
  if (flags.resume)
    throw new ValueError(`train --preset ${preset}: --resume is not supported for recommendation models yet`);
  for (const o of cmd.options) {
    const attr = o.attributeName();
    if (!USED.has(attr) && given(attr))
      throw new ValueError(`train --preset ${preset}: ${o.long} does not apply to a recommendation model`);
  }
  const d = RECSYS_DEFAULTS[preset];
  if (flags.split !== undefined && !(SPLITS as readonly string[]).includes(flags.split))
    throw new ValueError(
      `--split ${flags.split}: a recommendation model takes 'random' (80/20, seeded) or 'leave-last-out'`,
    );
  const c: RecsysTrainConfig = {
    ...d,
    preset,
    seed: flags.seed,
    epochs: given('epochs') ? flags.epochs : d.epochs,
    batchSize: given('batch') ? flags.batch : d.batchSize,
    lr: given('lr') ? flags.lr : d.lr,
    optimizer: (given('optimizer') ? flags.optimizer : d.optimizer) as OptimizerName,
    l2: flags.weightDecay ?? d.l2,
    dim: flags.dim ?? d.dim,
    split: (flags.split as RecsysSplit | undefined) ?? d.split,
  };
  if (!Number.isInteger(c.seed)) throw new ValueError(`--seed must be an integer, got ${c.seed}`);
  return c;
}

/** `graduate train --preset mf|two-tower`. */
export async function runRecsysTrain(flags: RecsysTrainFlags, cmd: Command): Promise<void> {
  const c = recsysTrainConfig(flags, cmd);
  init({ threads: flags.threads });
  manualSeed(c.seed);
  const t0 = performance.now();
  const data = loadInteractionData(flags.data);
  const d = prepareRecsysData(data, c.split, c.seed);
  console.log(
    `training ${c.preset} on ${data.name}: ${data.size.toLocaleString()} interactions, ${data.numUsers} users, ${data.numItems} items; ` +
      `${c.split} split: ${d.train.length} train, ${d.test.length} test rows (cold start: ${d.split.coldStart.users} users, ${d.split.coldStart.items} items, ${d.split.coldStart.rows} rows); ` +
      `${c.optimizer} lr ${c.lr}, batch ${c.batchSize}, dim ${c.dim}, l2 ${c.l2}, ${c.epochs} epochs`,
  );
  const r = fitRecsys(d, c, {
    outDir: flags.out,
    overwrite: flags.overwrite,
    dataSpec: flags.data,
    progress: flags.progress,
  });
  try {
    const final = r.epochs[r.epochs.length - 1].metrics;
    const paths = writeRecsysReport(flags.out, {
      title: `${c.preset} on ${flags.data}`,
      epochs: r.epochs,
      metrics: final,
      baseline: r.baseline,
      config: { ...c, data: flags.data, parameters: r.model.parameterCount(), split: d.split },
    });
    printMetrics(c.preset, final, r.baseline, d);
    console.log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    console.log(`wrote ${join(flags.out, 'checkpoint.json')}, ${paths.metricsJson}, ${paths.charts.join(', ')}`);
  } finally {
    r.model.dispose();
  }
}

function printMetrics(
  preset: RecsysPreset,
  m: Record<string, number>,
  baseline: Record<string, number> | undefined,
  d: RecsysData,
): void {
  if (preset === 'mf') {
    console.log(`test (${d.split.kind} split, ${d.test.length} ratings): ${formatMetrics(m)}`);
    return;
  }
  const what = `${d.test.length} users' last items, each ranked against all ${d.data.numItems} items less the user's training items (full ranking, ~${Math.round(m.candidates)} candidates)`;
  console.log(`test (${d.split.kind}: ${what}):`);
  console.log(`  two-tower   hr@10 ${m['hr@10'].toFixed(4)}  ndcg@10 ${m['ndcg@10'].toFixed(4)}`);
  if (baseline) {
    console.log(`  popularity  hr@10 ${baseline['hr@10'].toFixed(4)}  ndcg@10 ${baseline['ndcg@10'].toFixed(4)}`);
    console.log(
      `  ratio       hr@10 ${(m['hr@10'] / baseline['hr@10']).toFixed(2)}×  ndcg@10 ${(m['ndcg@10'] / baseline['ndcg@10']).toFixed(2)}×`,
    );
  }
}

/** Throws unless the data map ids as the checkpoint does (same users and items, same order). */
function checkSameIds(config: RecsysConfig, data: Interactions, file: string): void {
  for (const [what, mine, theirs] of [
    ['users', config.userIds, data.userIds],
    ['items', config.itemIds, data.itemIds],
  ] as const) {
    const differs = mine.length !== theirs.length || mine.some((id, k) => id !== theirs[k]);
    if (differs)
      throw new ValueError(
        `--data ${data.name}: its ${what} (${theirs.length}) are not the ${mine.length} the model was trained on (${file}); evaluate on the data it was trained with`,
      );
  }
}

/** `graduate eval RUN --data …` for a recommendation checkpoint: the recorded split's test metrics. */
export async function runRecsysEval(path: string, flags: { data: string; threads?: number }): Promise<void> {
  init({ threads: flags.threads });
  const loaded = loadRecsysModel(path);
  const { config, model } = loaded;
  const file = join(loaded.dir, 'config.json');
  try {
    const data = loadInteractionData(flags.data);
    checkSameIds(config, data, file);
    const s = config.split;
    const d = prepareRecsysData(data, s.kind, s.seed ?? 0, s.testFraction);
    if (d.split.testChecksum !== s.testChecksum || d.train.length !== s.trainRows)
      throw new FormatError(
        `--data ${data.name}: the ${s.kind} split gives another test set (${d.test.length} rows, checksum ${d.split.testChecksum}) than the model's (${s.testRows} rows, ${s.testChecksum}; ${file})`,
      );
    const m = evaluateRecsys(model, d);
    const preset = config.model.preset;
    console.log(`${preset} (${loaded.dir}) on ${data.name}`);
    printMetrics(preset, m, preset === 'two-tower' ? popularityBaseline(d) : undefined, d);
  } finally {
    model.dispose();
  }
}
