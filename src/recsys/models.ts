// The recommendation models, as Modules built from nn's layers: matrix factorisation for explicit
// ratings (`mf`) and a two-tower retrieval model for implicit feedback (`two-tower`), each
// described by a RecsysModelSpec that rebuilds it (sizes only; the id maps, histories and genre
// bags a checkpoint needs live in checkpoint.ts's config). Shapes: B = batch, U = users, I = items,
// G = genres, H = history length, d = embedding size.
// Not for: training loops (train.ts), metrics (metrics.ts), files (checkpoint.ts).
import { ValueError } from '../errors.js';
import * as F from '../nn/functional.js';
import { Embedding, EmbeddingBag, Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import type { LayerSpec } from '../nn/spec.js';
import { randn } from '../tensor/random.js';
import { full, Tensor, tensor, write } from '../tensor/tensor.js';

export const RECSYS_PRESETS = ['mf', 'two-tower'] as const;
export type RecsysPreset = (typeof RECSYS_PRESETS)[number];

/** Whether a --preset names a recommendation model. */
export const isRecsysPreset = (name: string | undefined): name is RecsysPreset =>
  (RECSYS_PRESETS as readonly (string | undefined)[]).includes(name);

/** rating ≈ mean + userBias[u] + itemBias[i] + ⟨user[u], item[i]⟩, clipped to [min, max]. */
export interface MfSpec {
  preset: 'mf';
  numUsers: number;
  numItems: number;
  dim: number;
  /** The training ratings' mean (a buffer too: the spec says what it was). */
  globalMean: number;
  /** Predictions are clipped to the training ratings' range. */
  ratingRange: [number, number];
  /** Row-sparse embedding gradients (nn's `sparse` option): updates touch only the rows a batch reads. */
  sparse?: boolean;
}

/**
 * user = W_u [userEmb[u] ; meanBag(history(u))] + b_u, item = W_i [itemEmb[i] ; meanBag(genres(i))] + b_i,
 * score = ⟨user, item⟩ / temperature (both L2-normalised first when `normalize`).
 */
export interface TwoTowerSpec {
  preset: 'two-tower';
  numUsers: number;
  numItems: number;
  numGenres: number;
  dim: number;
  /** The most recent H training items of a user form its history bag. */
  historyLength: number;
  /** The longest genre bag (columns of the padded genre matrix). */
  genreLength: number;
  normalize: boolean;
  temperature: number;
  /** The history bag reads the item tower's id table (no table of its own). */
  shareItemTable?: boolean;
  /**
   * A learnt per-item bias (popularity) as one more dimension: user vectors end in 1, item vectors
   * in b_i, so score = (⟨u, v⟩ + b_i) / temperature is still one dot product.
   */
  itemBias?: boolean;
  sparse?: boolean;
}

export type RecsysModelSpec = MfSpec | TwoTowerSpec;

/** Embedding rows drawn from N(0, std²) (nn's default of std 1 makes dot products of 64 terms huge). */
function table<T extends Embedding | EmbeddingBag>(t: T, std: number): T {
  write(t.weight, randn([t.vocab, t.dim], { std }).data());
  return t;
}

/**
 * A tensor holding `data` as is (tensor() checks every element, which costs more than the step's
 * math for a [B, B] bias or a [B, H] history).
 */
export function fromArray(data: Int32Array | Float32Array, shape: readonly number[]): Tensor {
  const t = new Tensor([...shape], data instanceof Int32Array ? 'int32' : 'float32');
  write(t, data);
  return t;
}

/** Base of both models: a Module whose description is a RecsysModelSpec, not a layer stack. */
export abstract class RecsysModel extends Module {
  abstract readonly recsysSpec: RecsysModelSpec;
  /** Embedding tables (sparse training candidates), by parameter name. */
  abstract tables(): Tensor[];
  spec(): LayerSpec {
    throw new ValueError(
      `a ${this.recsysSpec.preset} model is described by its RecsysModelSpec (recsysSpec), not by layers`,
    );
  }
}

function checkSizes(spec: RecsysModelSpec): void {
  const ints: [string, number, number][] = [
    ['numUsers', spec.numUsers, 1],
    ['numItems', spec.numItems, 1],
    ['dim', spec.dim, 1],
  ];
  if (spec.preset === 'two-tower')
    ints.push(
      ['numGenres', spec.numGenres, 0],
      ['historyLength', spec.historyLength, 1],
      ['genreLength', spec.genreLength, 0],
    );
  for (const [k, v, min] of ints)
    if (!(Number.isInteger(v) && v >= min))
      throw new ValueError(`${spec.preset}: ${k} must be an integer ≥ ${min}, got ${v}`);
}

export class MatrixFactorization extends RecsysModel {
  readonly user: Embedding; // [U, d]
  readonly item: Embedding; // [I, d]
  readonly userBias: Embedding; // [U, 1]
  readonly itemBias: Embedding; // [I, 1]
  readonly mean: Tensor; // [1]

  constructor(readonly recsysSpec: MfSpec) {
    super();
    checkSizes(recsysSpec);
    const { numUsers: U, numItems: I, dim } = recsysSpec;
    const sparse = { sparse: recsysSpec.sparse === true };
    this.user = this.child('user', table(new Embedding(U, dim, sparse), 0.1));
    this.item = this.child('item', table(new Embedding(I, dim, sparse), 0.1));
    this.userBias = this.child('userBias', table(new Embedding(U, 1, sparse), 0));
    this.itemBias = this.child('itemBias', table(new Embedding(I, 1, sparse), 0));
    this.mean = this.buffer('mean', tensor([recsysSpec.globalMean], [1]));
  }

  tables(): Tensor[] {
    return [this.user.weight, this.item.weight, this.userBias.weight, this.itemBias.weight];
  }

  /** Unclipped predictions and the rows they read, for the loss and its L2 term. [B] each */
  parts(users: Tensor, items: Tensor): { pred: Tensor; rows: Tensor[] } {
    const p = this.user.forward(users); // [B, d]
    const q = this.item.forward(items); // [B, d]
    const bu = F.reshape(this.userBias.forward(users), [users.size]); // [B]
    const bi = F.reshape(this.itemBias.forward(items), [items.size]);
    const dot = F.sum(F.mul(p, q), 1); // [B]
    return { pred: F.add(F.add(F.add(dot, bu), bi), this.mean), rows: [p, q, bu, bi] };
  }

  /** Ratings for the pairs (users[b], items[b]), clipped to the rating range. int32 [B], [B] → [B] */
  predict(users: Tensor, items: Tensor): Tensor {
    const [lo, hi] = this.recsysSpec.ratingRange;
    const pred = this.parts(users, items).pred;
    return F.minimum(F.maximum(pred, tensor([lo], [1])), tensor([hi], [1]));
  }

  /** x: int32 [B, 2] (user, item) pairs → ratings [B]. */
  forward(x: Tensor): Tensor {
    const [users, items] = splitPairs(x);
    return this.predict(users, items);
  }
}

/** Columns of an int32 [B, 2] tensor as two [B] tensors. */
function splitPairs(x: Tensor): [Tensor, Tensor] {
  if (x.rank !== 2 || x.shape[1] !== 2 || x.dtype !== 'int32')
    throw new ValueError(`mf: expected int32 (user, item) pairs [B, 2], got ${x.describe()}`);
  const d = x.data() as Int32Array;
  const B = x.shape[0];
  const u = new Int32Array(B);
  const i = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    u[b] = d[2 * b];
    i[b] = d[2 * b + 1];
  }
  return [fromArray(u, [B]), fromArray(i, [B])];
}

/**
 * What the two-tower's towers read besides ids: each user's history (training items, most recent
 * last) and each item's genre bag, as -1-padded rows.
 */
export interface TowerInputs {
  /** [U, H] the most recent H training items of each user, -1 padded. */
  history: Int32Array;
  /** [I, G] genre ids of each item, -1 padded (G may be 0). */
  genres: Int32Array;
}

export class TwoTower extends RecsysModel {
  readonly user: Embedding; // [U, d]
  readonly historyBag?: EmbeddingBag; // [I, d], absent with shareItemTable
  readonly userProj: Linear; // [2d, d]
  readonly item: Embedding; // [I, d]
  readonly genreBag?: EmbeddingBag; // [G, d]
  readonly itemProj: Linear; // [2d or d, d]
  readonly itemBias?: Embedding; // [I, 1]
  private inputs?: TowerInputs;

  constructor(readonly recsysSpec: TwoTowerSpec) {
    super();
    checkSizes(recsysSpec);
    const { numUsers: U, numItems: I, numGenres: G, dim: d } = recsysSpec;
    const sparse = { sparse: recsysSpec.sparse === true };
    if (!(recsysSpec.temperature > 0))
      throw new ValueError(`two-tower: temperature must be > 0, got ${recsysSpec.temperature}`);
    const std = 1 / Math.sqrt(d);
    this.user = this.child('user', table(new Embedding(U, d, sparse), std));
    if (!recsysSpec.shareItemTable)
      this.historyBag = this.child('historyBag', table(new EmbeddingBag(I, d, sparse), std));
    this.userProj = this.child('userProj', new Linear(2 * d, d, { init: 'glorot' }));
    this.item = this.child('item', table(new Embedding(I, d, sparse), std));
    if (G > 0 && recsysSpec.genreLength > 0)
      this.genreBag = this.child('genreBag', table(new EmbeddingBag(G, d, sparse), std));
    this.itemProj = this.child('itemProj', new Linear(this.genreBag ? 2 * d : d, d, { init: 'glorot' }));
    if (recsysSpec.itemBias) this.itemBias = this.child('itemBias', table(new Embedding(I, 1, sparse), 0));
  }

  tables(): Tensor[] {
    return [this.user, this.historyBag, this.item, this.genreBag, this.itemBias]
      .filter((t) => t !== undefined)
      .map((t) => t.weight);
  }

  /** Sets the histories and genre bags the towers read (checked against the spec's sizes). */
  setInputs(inputs: TowerInputs): this {
    const { numUsers: U, numItems: I, numGenres: G, historyLength: H, genreLength: L } = this.recsysSpec;
    if (inputs.history.length !== U * H)
      throw new ValueError(`two-tower: history has ${inputs.history.length} ids, expected ${U}×${H}`);
    if (inputs.genres.length !== I * L)
      throw new ValueError(`two-tower: genres have ${inputs.genres.length} ids, expected ${I}×${L}`);
    for (const [what, ids, n] of [
      ['history', inputs.history, I],
      ['genres', inputs.genres, G],
    ] as const)
      for (const id of ids)
        if (!(id >= -1 && id < n)) throw new ValueError(`two-tower: ${what} id ${id} outside [-1, ${n})`);
    this.inputs = inputs;
    return this;
  }

  private get given(): TowerInputs {
    if (!this.inputs) throw new ValueError('two-tower: setInputs() (histories and genre bags) before use');
    return this.inputs;
  }

  /**
   * User vectors. users: int32 [B]; history: int32 [B, H] (default: the users' own histories;
   * training passes them with the target item masked out). → [B, d] ([B, d + 1] with itemBias: 1 last)
   */
  userVectors(users: Int32Array, history?: Int32Array): Tensor {
    const H = this.recsysSpec.historyLength;
    const B = users.length;
    const h = history ?? gatherRows(this.given.history, H, users);
    const ids = fromArray(users, [B]);
    const bag = fromArray(h, [B, H]);
    const mean = this.historyBag ? this.historyBag.forward(bag) : F.embeddingBag(this.item.weight, bag);
    const x = F.concat([this.user.forward(ids), mean], 1);
    const u = this.finish(this.userProj.forward(x));
    return this.itemBias ? F.concat([u, full([B, 1], 1)], 1) : u;
  }

  /** Item vectors for items: int32 [N] → [N, d] ([N, d + 1] with itemBias: the bias last). */
  itemVectors(items: Int32Array): Tensor {
    const L = this.recsysSpec.genreLength;
    const N = items.length;
    const ids = fromArray(items, [N]);
    const e = this.item.forward(ids);
    const x = this.genreBag
      ? F.concat([e, this.genreBag.forward(fromArray(gatherRows(this.given.genres, L, items), [N, L]))], 1)
      : e;
    const v = this.finish(this.itemProj.forward(x));
    return this.itemBias ? F.concat([v, this.itemBias.forward(ids)], 1) : v;
  }

  /** Scores of user vectors [B, d] against item vectors [N, d] → [B, N] (temperature applied). */
  score(u: Tensor, v: Tensor): Tensor {
    return F.scale(F.matmul(u, F.transpose(v)), 1 / this.recsysSpec.temperature);
  }

  /** x: int32 user ids [B] → scores over every item [B, I]. */
  forward(x: Tensor): Tensor {
    if (x.rank !== 1 || x.dtype !== 'int32')
      throw new ValueError(`two-tower: expected int32 user ids [B], got ${x.describe()}`);
    const all = Int32Array.from({ length: this.recsysSpec.numItems }, (_, i) => i);
    return this.score(this.userVectors(x.data() as Int32Array), this.itemVectors(all));
  }

  /** L2-normalised rows when the spec asks for it. [N, d] */
  private finish(v: Tensor): Tensor {
    if (!this.recsysSpec.normalize) return v;
    return F.div(v, F.sqrt(F.add(F.sum(F.square(v), 1, true), 1e-12)));
  }
}

/** Rows `rows` of a [*, width] int32 matrix. [rows.length, width] */
export function gatherRows(matrix: Int32Array, width: number, rows: Int32Array): Int32Array {
  const out = new Int32Array(rows.length * width);
  for (let b = 0; b < rows.length; b++) out.set(matrix.subarray(rows[b] * width, (rows[b] + 1) * width), b * width);
  return out;
}

/** Builds the model a spec describes (fresh weights: load a checkpoint's with loadWeights). */
export function buildRecsysModel(spec: RecsysModelSpec): RecsysModel {
  switch (spec.preset) {
    case 'mf':
      return new MatrixFactorization(spec);
    case 'two-tower':
      return new TwoTower(spec);
    default:
      throw new ValueError(
        `unknown recommendation model '${(spec as { preset: string }).preset}' (expected mf or two-tower)`,
      );
  }
}
