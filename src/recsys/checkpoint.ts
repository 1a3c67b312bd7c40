// A recommendation model's checkpoint: train/checkpoint.ts's files (atomic, checksummed, one
// folder per epoch, a pointer), with a config.json of kind 'recsys' that holds everything needed
// to rebuild and use the model without the training data: the model spec, the id maps both ways,
// item titles and genre bags, each user's training history (time order: the two-tower's history
// bag, and the items to exclude from recommendations) and the split it was trained on.
// Not for: the training loop (train.ts), the models themselves (models.ts).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ColdStart } from '../data/interaction-splits.js';
import { FormatError } from '../errors.js';
import { fieldsOf } from '../io/fields.js';
import { readTextChecked } from '../io/read.js';
import {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  checkpointDir,
  loadWeights,
  readCheckpointAs,
} from '../train/checkpoint.js';
import { bagMatrix, type History, historyMatrix, seenOf } from './features.js';
import { buildRecsysModel, type MatrixFactorization, type RecsysModelSpec, TwoTower } from './models.js';

/** The split a model was trained on, recorded so that eval recomputes and checks it. */
export interface SplitRecord {
  kind: 'random' | 'leave-last-out';
  /** random: the shuffle's seed and the test share. */
  seed?: number;
  testFraction?: number;
  /** Rows in each part, and a checksum of the test rows (eval refuses data that differ). */
  trainRows: number;
  testRows: number;
  testChecksum: string;
  coldStart: ColdStart;
}

export interface RecsysConfig {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  kind: 'recsys';
  model: RecsysModelSpec;
  /** Index → external id. [U], [I] */
  userIds: string[];
  itemIds: string[];
  /** [I] item titles ('' where unknown); absent without an item features file. */
  titles?: string[];
  /** [I] rows of genre indices into vocab (CSR); absent without an item features file. */
  genres?: { offsets: number[]; indices: number[]; vocab: string[] };
  /** Each user's training items, oldest first (CSR over users). */
  history: { offsets: number[]; items: number[] };
  split: SplitRecord;
  /** The training options used. */
  train: Record<string, unknown>;
  data: string;
  producer: string;
}

/** Whether `path` (a train --out folder or an epoch folder) holds a recommendation checkpoint. */
export function isRecsysCheckpoint(path: string): boolean {
  let dir: string;
  try {
    dir = checkpointDir(path);
  } catch {
    return false;
  }
  const file = join(dir, 'config.json');
  if (!existsSync(file)) return false;
  try {
    return (JSON.parse(readTextChecked(file, 'checkpoint config')) as { kind?: unknown })?.kind === 'recsys';
  } catch {
    return false;
  }
}

/** Validates a recsys config.json: every field the readers use; errors name the file and field. */
export function validateRecsysConfig(raw: unknown, file: string): RecsysConfig {
  const f = fieldsOf(file);
  const c = f.obj('the config', raw);
  if (c.format !== CHECKPOINT_FORMAT) f.fail('format', `'${CHECKPOINT_FORMAT}'`, c.format);
  if (c.kind !== 'recsys') f.fail('kind', "'recsys'", c.kind);
  const version = f.int('version', c.version, 1);
  if (version > CHECKPOINT_VERSION)
    throw new FormatError(`${file}: checkpoint version ${version} is newer than this Graduate supports`);
  const m = f.obj('model', c.model);
  const U = f.int('model.numUsers', m.numUsers, 1);
  const I = f.int('model.numItems', m.numItems, 1);
  f.int('model.dim', m.dim, 1, 1 << 16);
  if (m.sparse !== undefined) f.bool('model.sparse', m.sparse);
  if (m.preset === 'mf') {
    f.num('model.globalMean', m.globalMean);
    const range = f.arr('model.ratingRange', m.ratingRange);
    if (range.length !== 2 || !(f.num('model.ratingRange[0]', range[0]) <= f.num('model.ratingRange[1]', range[1])))
      f.fail('model.ratingRange', '[min, max]', range);
  } else if (m.preset === 'two-tower') {
    f.int('model.numGenres', m.numGenres, 0);
    f.int('model.historyLength', m.historyLength, 1, 1 << 16);
    f.int('model.genreLength', m.genreLength, 0, 1 << 16);
    f.bool('model.normalize', m.normalize);
    for (const k of ['shareItemTable', 'itemBias'] as const) if (m[k] !== undefined) f.bool(`model.${k}`, m[k]);
    if (!(f.num('model.temperature', m.temperature) > 0)) f.fail('model.temperature', 'a number > 0', m.temperature);
  } else f.fail('model.preset', "'mf' or 'two-tower'", m.preset);
  for (const [k, n] of [
    ['userIds', U],
    ['itemIds', I],
  ] as const) {
    const ids = f.arr(k, c[k]);
    if (ids.length !== n) f.fail(k, `${n} ids (model.${k === 'userIds' ? 'numUsers' : 'numItems'})`, ids.length);
    ids.forEach((id, j) => void f.str(`${k}[${j}]`, id));
  }
  if (c.titles !== undefined) {
    const t = f.arr('titles', c.titles);
    if (t.length !== I) f.fail('titles', `${I} titles`, t.length);
  }
  if (c.genres !== undefined) {
    const g = f.obj('genres', c.genres);
    const vocab = f.arr('genres.vocab', g.vocab);
    csr(f, 'genres', g.offsets, g.indices, I, vocab.length);
    if (m.preset === 'two-tower' && vocab.length !== m.numGenres)
      f.fail('genres.vocab', `${m.numGenres} genres`, vocab.length);
  } else if (m.preset === 'two-tower' && m.numGenres !== 0)
    f.fail('genres', `the ${m.numGenres} genres' bags`, undefined);
  const h = f.obj('history', c.history);
  csr(f, 'history', h.offsets, h.items, U, I);
  const s = f.obj('split', c.split);
  if (s.kind !== 'random' && s.kind !== 'leave-last-out') f.fail('split.kind', "'random' or 'leave-last-out'", s.kind);
  f.int('split.trainRows', s.trainRows, 0);
  f.int('split.testRows', s.testRows, 0);
  f.str('split.testChecksum', s.testChecksum);
  f.obj('train', c.train);
  f.str('data', c.data);
  return c as unknown as RecsysConfig;
}

/** Checks a CSR: offsets [rows + 1] ascending from 0 to indices.length, every index in [0, n). */
function csr(f: ReturnType<typeof fieldsOf>, at: string, offsets: unknown, indices: unknown, rows: number, n: number) {
  const o = f.arr(`${at}.offsets`, offsets);
  const x = f.arr(`${at}.${at === 'history' ? 'items' : 'indices'}`, indices);
  if (o.length !== rows + 1) f.fail(`${at}.offsets`, `${rows + 1} offsets`, o.length);
  for (let j = 0; j < o.length; j++)
    if (!(Number.isInteger(o[j]) && (j === 0 ? o[j] === 0 : (o[j] as number) >= (o[j - 1] as number))))
      f.fail(`${at}.offsets[${j}]`, 'ascending integers from 0', o[j]);
  if (o[rows] !== x.length) f.fail(`${at}.offsets[${rows}]`, `${x.length} (the ids' count)`, o[rows]);
  for (let j = 0; j < x.length; j++)
    if (!(Number.isInteger(x[j]) && (x[j] as number) >= 0 && (x[j] as number) < n))
      f.fail(`${at}[${j}]`, `an id in [0, ${n})`, x[j]);
}

/** The history CSR of a config as typed arrays. */
export function configHistory(config: RecsysConfig): History {
  return { offsets: Int32Array.from(config.history.offsets), items: Int32Array.from(config.history.items) };
}

/** A loaded recommendation model, with what scoring and excluding need. */
export interface LoadedRecsys {
  dir: string;
  config: RecsysConfig;
  model: MatrixFactorization | TwoTower;
  /** Each user's training items, oldest first. */
  history: History;
  /** Each user's training items, sorted (to exclude from recommendations and rankings). */
  seen: { offsets: Int32Array; items: Int32Array };
}

/**
 * Rebuilds a trained recommendation model from a checkpoint (train --out or an epoch folder):
 * spec → fresh model → verified weights; a two-tower gets its users' histories and items' genre
 * bags from the config. The model is in eval mode; dispose() it when done.
 */
export function loadRecsysModel(path: string): LoadedRecsys {
  const ck = readCheckpointAs(path, validateRecsysConfig);
  const { config } = ck;
  const model = buildRecsysModel(config.model) as MatrixFactorization | TwoTower;
  try {
    loadWeights(model, ck.weights, join(ck.dir, 'model.safetensors'));
  } catch (e) {
    model.dispose();
    throw e;
  }
  const history = configHistory(config);
  if (model instanceof TwoTower)
    try {
      model.setInputs(towerInputs(config, history));
    } catch (e) {
      model.dispose();
      // the config's genre bags or histories do not fit its model spec: name the file
      const spec = config.model as { genreLength?: number; historyLength?: number };
      throw new FormatError(
        `${join(ck.dir, 'config.json')}: ${(e as Error).message} (model.genreLength ${spec.genreLength}, model.historyLength ${spec.historyLength})`,
      );
    }
  model.eval();
  return { dir: ck.dir, config, model, history, seen: seenOf(history) };
}

/** The two-tower's padded history and genre matrices from a config. */
export function towerInputs(config: RecsysConfig, history: History): { history: Int32Array; genres: Int32Array } {
  const spec = config.model;
  if (spec.preset !== 'two-tower') throw new FormatError('towerInputs: not a two-tower config');
  const g = config.genres;
  const genres = g
    ? bagMatrix({ offsets: Int32Array.from(g.offsets), indices: Int32Array.from(g.indices) }, spec.genreLength)
    : new Int32Array(0);
  return { history: historyMatrix(history, spec.historyLength), genres };
}

export const RECSYS_CONFIG_HEAD = { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, kind: 'recsys' } as const;
