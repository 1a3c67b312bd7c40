// Training the recommendation models: the split, the model spec from the data, epochs of seeded
// shuffled mini-batches (mf: MSE on explicit ratings with L2 on the rows the batch reads;
// two-tower: every rating a positive, in-batch negatives softmax with a log-popularity
// correction, or BPR with sampled negatives), the held-out metrics after every epoch, a progress
// bar, and a checkpoint every epoch (train/checkpoint.ts's files, recsys config).
// Not for: the metrics' definitions (metrics.ts), the CLI's flags (cli/train-recsys.ts).
import { createHash } from 'node:crypto';
import { SingleBar } from 'cli-progress';
import { backward } from '../autograd/backward.js';
import { noGrad } from '../autograd/grad-mode.js';
import { itemCounts, leaveLastOut, randomSplit } from '../data/interaction-splits.js';
import type { Interactions } from '../data/interactions.js';
import { mixSeed } from '../data/loader.js';
import { NegativeSampler } from '../data/negative-sampling.js';
import { ValueError } from '../errors.js';
import * as F from '../nn/functional.js';
import { bceWithLogits, crossEntropy } from '../nn/losses.js';
import { createOptimizer, type OptimizerName } from '../optim/factory.js';
import type { Optimizer } from '../optim/optimizer.js';
import { engine } from '../tensor/context.js';
import { Rng } from '../tensor/random.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkFreshOutDir, saveCheckpoint } from '../train/checkpoint.js';
import { RECSYS_CONFIG_HEAD, type RecsysConfig, type SplitRecord } from './checkpoint.js';
import {
  bagMatrix,
  type History,
  historyMatrix,
  longestBag,
  precedingItems,
  seenOf,
  userHistories,
} from './features.js';
import { mae, popularityScores, type RankingResult, rankingMetrics, rmse } from './metrics.js';
import { fromArray, gatherRows, MatrixFactorization, type RecsysPreset, TwoTower } from './models.js';

export type RecsysSplit = 'random' | 'leave-last-out';

export interface RecsysTrainConfig {
  preset: RecsysPreset;
  epochs: number;
  batchSize: number;
  lr: number;
  optimizer: OptimizerName;
  /** mf: L2 on the rows (vectors and biases) each example reads, per example. */
  l2: number;
  dim: number;
  seed: number;
  split: RecsysSplit;
  /** random split: the test share (default 0.2). */
  testFraction?: number;
  /** two-tower: the loss. */
  loss?: 'softmax' | 'bpr';
  /** two-tower: the most recent items of a user's history bag (default 50). */
  historyLength?: number;
  temperature?: number;
  normalize?: boolean;
  /** two-tower softmax: subtract log(item frequency) from in-batch logits (sampled softmax's correction). */
  logQ?: boolean;
  /** two-tower: the history bag reads the item tower's id table. */
  shareItemTable?: boolean;
  /** two-tower: a learnt item bias as one more dimension of the dot product. */
  itemBias?: boolean;
  /**
   * two-tower: each training row's history is the H items its user met before it (next-item
   * prediction, as leave-last-out tests it), not the user's whole training history less the item.
   */
  sequential?: boolean;
  /** Row-sparse embedding gradients (when nn's layers have them). */
  sparse?: boolean;
}

/** Per-model defaults, tuned on movielens-small (docs/recommend.md). */
export const RECSYS_DEFAULTS: Record<RecsysPreset, Omit<RecsysTrainConfig, 'preset' | 'seed'>> = {
  mf: { epochs: 10, batchSize: 1024, lr: 0.05, optimizer: 'adagrad', l2: 0.1, dim: 64, split: 'random', sparse: true },
  'two-tower': {
    epochs: 8,
    batchSize: 256,
    lr: 3e-3,
    optimizer: 'adam',
    l2: 0,
    dim: 64,
    split: 'leave-last-out',
    loss: 'softmax',
    historyLength: 20,
    temperature: 0.1,
    normalize: true,
    logQ: true,
    sequential: true,
    itemBias: true,
    shareItemTable: true,
  },
};

/** One epoch's numbers: the training loss and the held-out metrics (mf: rmse, mae; two-tower: hr@10, ndcg@10). */
export interface RecsysEpoch {
  epoch: number;
  trainLoss: number;
  metrics: Record<string, number>;
  lr: number;
  seconds: number;
  /** Training seconds only (the epoch's pass over the rows, not the evaluation). */
  trainSeconds: number;
  samplesPerSecond: number;
  liveBytesStart: number;
  liveBytesEnd: number;
}

/** The data a run trains and evaluates on. */
export interface RecsysData {
  data: Interactions;
  train: Int32Array;
  test: Int32Array;
  split: SplitRecord;
  history: History;
  seen: { offsets: Int32Array; items: Int32Array };
}

/** Splits `data` as the config says and derives the training histories. */
export function prepareRecsysData(
  data: Interactions,
  split: RecsysSplit,
  seed: number,
  testFraction = 0.2,
): RecsysData {
  const s = split === 'random' ? randomSplit(data, { seed, testFraction }) : leaveLastOut(data);
  if (s.train.length === 0) throw new ValueError(`${data.name}: the ${split} split leaves no training rows`);
  if (s.test.length === 0)
    throw new ValueError(`${data.name}: the ${split} split leaves no test rows (every user has one interaction?)`);
  const history = userHistories(data, s.train);
  return {
    data,
    train: s.train,
    test: s.test,
    history,
    seen: seenOf(history),
    split: {
      kind: split,
      ...(split === 'random' && { seed, testFraction }),
      trainRows: s.train.length,
      testRows: s.test.length,
      testChecksum: rowsChecksum(data, s.test),
      coldStart: s.coldStart.test,
    },
  };
}

/** sha256 of the test rows' external (user, item) ids: eval refuses data that would give another test set. */
export function rowsChecksum(data: Interactions, rows: Int32Array): string {
  const h = createHash('sha256');
  for (const r of rows) h.update(`${data.userIds[data.users[r]]}\u0000${data.itemIds[data.items[r]]}\n`);
  return h.digest('hex').slice(0, 16);
}

export interface RecsysFitOptions {
  outDir?: string;
  overwrite?: boolean;
  dataSpec: string;
  log?: (line: string) => void;
  progress?: boolean;
}

export interface RecsysFitResult {
  model: MatrixFactorization | TwoTower;
  config: RecsysConfig;
  epochs: RecsysEpoch[];
  /** two-tower: the popularity baseline on the same held-out rows. */
  baseline?: Record<string, number>;
}

function validate(c: RecsysTrainConfig): void {
  const pos = (k: string, v: unknown, int: boolean) => {
    if (typeof v !== 'number' || !(v > 0) || (int && !Number.isInteger(v)))
      throw new ValueError(`${c.preset}: ${k} must be a positive ${int ? 'integer' : 'number'}, got ${String(v)}`);
  };
  pos('epochs', c.epochs, true);
  pos('batch', c.batchSize, true);
  pos('lr', c.lr, false);
  pos('dim', c.dim, true);
  if (!(c.l2 >= 0)) throw new ValueError(`${c.preset}: l2 must be ≥ 0, got ${c.l2}`);
  if (c.preset === 'two-tower') {
    pos('historyLength', c.historyLength, true);
    pos('temperature', c.temperature, false);
  }
}

/** The model for a config and the training data (fresh weights, drawn from the default Rng). */
export function createRecsysModel(c: RecsysTrainConfig, d: RecsysData): MatrixFactorization | TwoTower {
  const { data } = d;
  if (c.preset === 'mf') {
    const r = data.ratings;
    if (!r) throw new ValueError(`${data.name}: mf learns explicit ratings, and the data have no rating column`);
    let sum = 0;
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const row of d.train) {
      sum += r[row];
      lo = Math.min(lo, r[row]);
      hi = Math.max(hi, r[row]);
    }
    return new MatrixFactorization({
      preset: 'mf',
      numUsers: data.numUsers,
      numItems: data.numItems,
      dim: c.dim,
      globalMean: sum / d.train.length,
      ratingRange: [lo, hi],
      ...(c.sparse && { sparse: true }),
    });
  }
  const genres = data.itemFeatures?.genres;
  const genreLength = genres ? longestBag(genres) : 0;
  const historyLength = c.historyLength ?? 50;
  return new TwoTower({
    preset: 'two-tower',
    numUsers: data.numUsers,
    numItems: data.numItems,
    numGenres: genres?.vocab.length ?? 0,
    dim: c.dim,
    historyLength,
    genreLength,
    normalize: c.normalize ?? true,
    temperature: c.temperature ?? 0.1,
    ...(c.shareItemTable && { shareItemTable: true }),
    ...(c.itemBias && { itemBias: true }),
    ...(c.sparse && { sparse: true }),
  }).setInputs({
    history: historyMatrix(d.history, historyLength),
    genres: genres ? bagMatrix(genres, genreLength) : new Int32Array(0),
  });
}

/** The config.json a run's checkpoints carry. */
export function recsysConfig(
  model: MatrixFactorization | TwoTower,
  d: RecsysData,
  c: RecsysTrainConfig,
  dataSpec: string,
): RecsysConfig {
  const f = d.data.itemFeatures;
  return {
    ...RECSYS_CONFIG_HEAD,
    model: model.recsysSpec,
    userIds: [...d.data.userIds],
    itemIds: [...d.data.itemIds],
    ...(f && {
      titles: [...f.titles],
      genres: { offsets: [...f.genres.offsets], indices: [...f.genres.indices], vocab: [...f.genres.vocab] },
    }),
    history: { offsets: [...d.history.offsets], items: [...d.history.items] },
    split: d.split,
    train: { ...c },
    data: dataSpec,
    producer: 'graduate',
  };
}

/** The held-out metrics of a model: mf rmse and mae on the test ratings; two-tower HR@10 and NDCG@10. */
export function evaluateRecsys(model: MatrixFactorization | TwoTower, d: RecsysData): Record<string, number> {
  const { data, test } = d;
  if (model instanceof MatrixFactorization) {
    const r = data.ratings;
    if (!r) throw new ValueError(`${data.name}: no rating column to evaluate mf on`);
    const pred = predictRatings(model, pick(data.users, test), pick(data.items, test));
    const target = Float32Array.from(test, (row) => r[row]);
    return { rmse: rmse(pred, target), mae: mae(pred, target) };
  }
  const res = rankingMetrics(towerScores(model), heldOut(d), d.seen, data.numItems);
  return rankingRecord(res);
}

/** The popularity baseline on a run's held-out rows, by the same ranking code. */
export function popularityBaseline(d: RecsysData): Record<string, number> {
  const res = rankingMetrics(popularityScores(itemCounts(d.data, d.train)), heldOut(d), d.seen, d.data.numItems);
  return rankingRecord(res);
}

const rankingRecord = (r: RankingResult) => ({
  [`hr@${r.k}`]: r.hr,
  [`ndcg@${r.k}`]: r.ndcg,
  rows: r.rows,
  candidates: r.candidates,
});

const heldOut = (d: RecsysData) => ({ users: pick(d.data.users, d.test), items: pick(d.data.items, d.test) });

function pick(a: Int32Array, rows: Int32Array): Int32Array {
  return Int32Array.from(rows, (r) => a[r]);
}

/** mf ratings for pairs, clipped, in chunks without gradients. [N] */
export function predictRatings(model: MatrixFactorization, users: Int32Array, items: Int32Array): Float32Array {
  const out = new Float32Array(users.length);
  const chunk = 8192;
  noGrad(() => {
    for (let s = 0; s < users.length; s += chunk) {
      const e = Math.min(users.length, s + chunk);
      const p = tidy(
        () =>
          model
            .predict(fromArray(users.slice(s, e), [e - s]), fromArray(items.slice(s, e), [e - s]))
            .data() as Float32Array,
      );
      out.set(p, s);
    }
  });
  return out;
}

/** A two-tower's scores of users over every item, the item matrix computed once. [B, I] per call */
export function towerScores(model: TwoTower): (users: Int32Array) => Float32Array {
  const I = model.recsysSpec.numItems;
  const all = Int32Array.from({ length: I }, (_, i) => i);
  const items = noGrad(() => tidy(() => model.itemVectors(all).data() as Float32Array));
  const d = items.length / I; // dim, or dim + 1 with an item bias
  return (users) =>
    noGrad(() =>
      tidy(() => {
        const u = model.userVectors(users);
        return model.score(u, fromArray(items, [I, d])).data() as Float32Array;
      }),
    );
}

/** Trains a recommendation model; checkpoints every epoch when outDir is given. */
export function fitRecsys(d: RecsysData, c: RecsysTrainConfig, opts: RecsysFitOptions): RecsysFitResult {
  validate(c);
  const log = opts.log ?? ((l: string) => console.log(l));
  if (opts.outDir) checkFreshOutDir(opts.outDir, opts.overwrite);
  const model = createRecsysModel(c, d);
  try {
    return fitModel(model, d, c, opts, log);
  } catch (e) {
    model.dispose();
    throw e;
  }
}

function fitModel(
  model: MatrixFactorization | TwoTower,
  d: RecsysData,
  c: RecsysTrainConfig,
  opts: RecsysFitOptions,
  log: (line: string) => void,
): RecsysFitResult {
  const config = recsysConfig(model, d, c, opts.dataSpec);
  const optimizer = createOptimizer(c.optimizer, model.parameters(), { lr: c.lr });
  const step = model instanceof MatrixFactorization ? mfStep(model, d, c) : towerStep(model, d, c);
  const baseline = model instanceof TwoTower ? popularityBaseline(d) : undefined;
  if (baseline) log(`popularity baseline: ${formatMetrics(baseline)}`);
  const N = d.train.length;
  const steps = Math.ceil(N / c.batchSize);
  const epochs: RecsysEpoch[] = [];
  const showBar = opts.progress ?? Boolean(process.stderr.isTTY);
  model.train();
  for (let epoch = 0; epoch < c.epochs; epoch++) {
    const liveBytesStart = engine().memoryStats().liveBytes;
    const t0 = performance.now();
    const order = new Rng(mixSeed(c.seed, 0x72656373, epoch)).shuffle(d.train.slice());
    const bar = showBar
      ? new SingleBar({
          format: `epoch ${epoch + 1}/${c.epochs} [{bar}] {value}/{total} batches | loss {loss} | {rate} samples/s | ETA {eta_formatted}`,
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: true,
        })
      : undefined;
    bar?.start(steps, 0, { loss: '-', rate: '-' });
    let lossSum = 0;
    for (let b = 0; b < steps; b++) {
      const rows = order.subarray(b * c.batchSize, Math.min(N, (b + 1) * c.batchSize));
      const loss = tidy(() => {
        const l = step(rows, epoch, b);
        backward(l);
        optimizer.step();
        optimizer.zeroGrad();
        return l.item();
      });
      if (!Number.isFinite(loss))
        throw new ValueError(
          `training diverged: loss is ${loss} at epoch ${epoch + 1}, batch ${b + 1} (try a lower --lr)`,
        );
      lossSum += loss * rows.length;
      bar?.update(b + 1, {
        loss: (lossSum / Math.min(N, (b + 1) * c.batchSize)).toFixed(4),
        rate: Math.round(((b + 1) * c.batchSize) / ((performance.now() - t0) / 1000)),
      });
    }
    bar?.stop();
    const trainSeconds = (performance.now() - t0) / 1000;
    model.eval();
    const metrics = evaluateRecsys(model, d);
    model.train();
    const record: RecsysEpoch = {
      epoch: epoch + 1,
      trainLoss: lossSum / N,
      metrics,
      lr: optimizer.lr,
      seconds: (performance.now() - t0) / 1000,
      trainSeconds,
      samplesPerSecond: N / trainSeconds,
      liveBytesStart,
      liveBytesEnd: engine().memoryStats().liveBytes,
    };
    epochs.push(record);
    log(
      `epoch ${record.epoch}/${c.epochs}  loss ${record.trainLoss.toFixed(4)}  ${formatMetrics(metrics)}  ` +
        `${record.samplesPerSecond.toFixed(0)} samples/s  train ${trainSeconds.toFixed(2)} s, total ${record.seconds.toFixed(2)} s`,
    );
    if (opts.outDir) save(opts.outDir, model, config, optimizer, c, epochs, epoch === 0);
  }
  model.eval();
  return { model, config, epochs, baseline };
}

function save(
  outDir: string,
  model: MatrixFactorization | TwoTower,
  config: RecsysConfig,
  optimizer: Optimizer,
  c: RecsysTrainConfig,
  epochs: RecsysEpoch[],
  fresh: boolean,
): void {
  const sd = optimizer.stateDict();
  const state = { epoch: epochs.length, history: { epochs }, optimizer: { name: c.optimizer, scalars: sd.scalars } };
  saveCheckpoint(outDir, model, config, state, sd.tensors, { fresh });
}

/** Metrics as `name value` pairs (counts as integers). */
export function formatMetrics(m: Record<string, number>): string {
  return Object.entries(m)
    .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`)
    .join('  ');
}

type Step = (rows: Int32Array, epoch: number, batch: number) => Tensor;

/** mf: mean over the batch of (r − r̂)² + l2·(‖p_u‖² + ‖q_i‖² + b_u² + b_i²). */
function mfStep(model: MatrixFactorization, d: RecsysData, c: RecsysTrainConfig): Step {
  const { data } = d;
  const ratings = data.ratings as Float32Array;
  return (rows) => {
    const B = rows.length;
    const users = fromArray(pick(data.users, rows), [B]);
    const items = fromArray(pick(data.items, rows), [B]);
    const target = fromArray(
      Float32Array.from(rows, (r) => ratings[r]),
      [B],
    );
    const { pred, rows: read } = model.parts(users, items);
    const mse = F.mean(F.square(F.sub(pred, target)));
    if (c.l2 === 0) return mse;
    const [p, q, bu, bi] = read;
    const norms = F.add(F.add(F.sum(F.square(p), 1), F.sum(F.square(q), 1)), F.add(F.square(bu), F.square(bi)));
    return F.add(mse, F.scale(F.mean(norms), c.l2));
  };
}

/**
 * two-tower: users' history bags with the target item masked out (it is in the history: without the
 * mask the model would learn to find items in the bag), then the loss.
 */
function towerStep(model: TwoTower, d: RecsysData, c: RecsysTrainConfig): Step {
  const { data } = d;
  const H = model.recsysSpec.historyLength;
  const hist = historyMatrix(d.history, H);
  // row index into d.train of each training row, for its preceding items
  const preceding = c.sequential ? precedingItems(data, d.train, H) : undefined;
  const trainIndex = preceding ? new Map(Array.from(d.train, (r, k) => [r, k])) : undefined;
  const counts = itemCounts(data, d.train);
  const logFreq = Float32Array.from(counts, (n) => Math.log(Math.max(n, 1) / d.train.length));
  const sampler =
    c.loss === 'bpr' ? new NegativeSampler(d.seen, data.numItems, { seed: mixSeed(c.seed, 0x6e656773) }) : undefined;
  return (rows) => {
    const B = rows.length;
    const users = pick(data.users, rows);
    const items = pick(data.items, rows);
    let h: Int32Array;
    if (preceding && trainIndex) {
      h = new Int32Array(B * H);
      for (let b = 0; b < B; b++) {
        const k = trainIndex.get(rows[b]) as number;
        h.set(preceding.subarray(k * H, (k + 1) * H), b * H);
      }
    } else {
      h = gatherRows(hist, H, users);
      for (let b = 0; b < B; b++) for (let j = b * H; j < (b + 1) * H; j++) if (h[j] === items[b]) h[j] = -1;
    }
    const u = model.userVectors(users, h); // [B, d]
    if (sampler) {
      const neg = sampler.sampleBatch(users, 1);
      const pos = F.sum(F.mul(u, model.itemVectors(items)), 1);
      const negative = F.sum(F.mul(u, model.itemVectors(neg)), 1);
      const diff = F.scale(F.sub(pos, negative), 1 / model.recsysSpec.temperature);
      return bceWithLogits(diff, fromArray(new Float32Array(B).fill(1), [B]));
    }
    const logits = model.score(u, model.itemVectors(items)); // [B, B]
    // column j: −log frequency of item j (logQ), and a copy of row b's own positive is no negative
    const bias = new Float32Array(B * B);
    for (let b = 0; b < B; b++)
      for (let j = 0; j < B; j++)
        bias[b * B + j] = j !== b && items[j] === items[b] ? -1e9 : c.logQ ? -logFreq[items[j]] : 0;
    const labels = fromArray(
      Int32Array.from({ length: B }, (_, b) => b),
      [B],
    );
    return crossEntropy(F.add(logits, fromArray(bias, [B, B])), labels);
  };
}
