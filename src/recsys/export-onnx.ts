// ONNX export of a trained recommendation model's two towers, from the parent's float32 weights
// (not the graduated int8 tables): a user tower and an item tower whose outputs' dot product is
// the model's score, for serving stacks that keep the item vectors in their own index (a vector
// database) and run the user tower per request. Shapes: N = batch, H = history length, G = genre
// bag length, d = the model's dim.
//   two-tower: user_tower(user int64 [N], history int64 [N, H]) → user_vector [N, d (+1)]
//              item_tower(item int64 [N], genres int64 [N, G]) → item_vector [N, d (+1)]
//     the model's towers (id embedding ⊕ bag mean → linear → L2 normalise), the temperature
//     folded into the item vectors, the item bias as one more dimension (1 in the user vector);
//   mf: user_tower(user) → [p_u, b_u + mean, 1], item_tower(item) → [q_i, 1, b_i], so the dot is
//     the predicted rating before the model clips it to its rating range.
// Ids are row indices (towersIndex maps external ids to them); -1 is "none": a history or genre
// pad, and a user or item id the model does not know (a zero embedding, as the model computes it).
// The graphs are built from registry ops with graduate.ts's GraphBuilder and written by
// onnx/export.ts (named inputs and outputs).
// Not for: the top-K graph (graduate.ts), the CLI (cli/onnx.ts).
import type { Graph } from '../graph/ir.js';
import { exportOnnx } from '../onnx/export.js';
import type { LoadedRecsys, RecsysConfig } from './checkpoint.js';
import { towerInputs } from './checkpoint.js';
import { GraphBuilder } from './graduate.js';
import { MatrixFactorization, type TwoTower } from './models.js';

/** The towers as Graduate graphs (what exportTowers writes as ONNX). */
export interface TowerGraphs {
  user: Graph;
  item: Graph;
}

/** What metadata_props 'recsys' of each tower holds. */
export interface TowerMeta {
  preset: 'mf' | 'two-tower';
  tower: 'user' | 'item';
  /** Width of user_vector and item_vector. */
  width: number;
  /** How the vectors make the model's score. */
  score: string;
  /** mf: the model clips the dot to this range. */
  ratingRange?: [number, number];
}

const f32 = (t: { data(): unknown }) => t.data() as Float32Array;

function builder(loaded: LoadedRecsys, tower: 'user' | 'item', width: number): GraphBuilder {
  const spec = loaded.config.model;
  const meta: TowerMeta = {
    preset: spec.preset,
    tower,
    width,
    score:
      spec.preset === 'mf'
        ? 'user_vector · item_vector = mean + b_u + b_i + ⟨p_u, q_i⟩, the rating before clipping to ratingRange'
        : `user_vector · item_vector = the model's score ${spec.itemBias ? '(⟨u, v⟩ + b_i)' : '⟨u, v⟩'} / temperature ${spec.temperature}, the temperature folded into item_vector`,
    ...(spec.preset === 'mf' && { ratingRange: spec.ratingRange }),
  };
  return new GraphBuilder({
    classNames: [],
    input: { kind: 'tensor', shape: [] },
    producer: 'graduate',
    kind: 'recsys-tower',
    recsys: meta,
  });
}

/** A [-1, 1] column of ones beside `x` [-1, C] (x · 0 + 1 over its first column's sum: no constant has the batch). */
function ones(b: GraphBuilder, x: string, at: string): string {
  const s = b.node('sum', `${at}.sum`, [x], { axes: [1], keepDims: true });
  return b.node('scale', at, [s], { mul: 0, add: 1 });
}

/** v / sqrt(Σ v² + 1e-12) over axis 1: the towers' own normalisation (models.ts finish). */
function normalize(b: GraphBuilder, v: string, at: string): string {
  const sq = b.node('unary', `${at}.sq`, [v], { fn: 'square' });
  const norm2 = b.node('sum', `${at}.norm2`, [sq], { axes: [1], keepDims: true });
  const eps = b.node('scale', `${at}.norm2.eps`, [norm2], { mul: 1, add: 1e-12 });
  return b.node('div', `${at}.normalized`, [v, b.node('unary', `${at}.norm`, [eps], { fn: 'sqrt' })], {});
}

/** ids [-1] → rows of `table` [V, D] (zeros for -1). [-1, D] */
function lookup(b: GraphBuilder, ids: string, name: string, table: Float32Array, D: number): string {
  return b.node('embedding', `${name}.rows`, [ids, b.constant(name, [table.length / D, D], table)], {});
}

function linear(b: GraphBuilder, x: string, proj: TwoTower['userProj'], at: string): string {
  const [K, N] = proj.weight.shape;
  const W = b.constant(`${at}.weight`, [K, N], f32(proj.weight).slice());
  const bias = proj.bias ? [b.constant(`${at}.bias`, [N], f32(proj.bias).slice())] : [];
  return b.node('linear', at, [x, W, ...bias], { activation: 'none' });
}

function twoTowerGraphs(loaded: LoadedRecsys, m: TwoTower): TowerGraphs {
  const s = m.recsysSpec;
  const d = s.dim;
  const width = s.itemBias ? d + 1 : d;

  const ub = builder(loaded, 'user', width);
  const user = ub.input('user', [-1], 'int32');
  const history = ub.input('history', [-1, s.historyLength], 'int32');
  const own = lookup(ub, user, 'user.table', f32(m.user.weight), d);
  const bagTable = f32(m.historyBag ? m.historyBag.weight : m.item.weight);
  const mean = ub.node(
    'embeddingbag',
    'history.mean',
    [history, ub.constant('history.table', [s.numItems, d], bagTable)],
    {},
  );
  let u = linear(ub, ub.node('concat', 'user.features', [own, mean], { axis: 1 }), m.userProj, 'user.proj');
  if (s.normalize) u = normalize(ub, u, 'user');
  if (m.itemBias) ub.node('concat', 'user_vector', [u, ones(ub, u, 'user.one')], { axis: 1 });
  else ub.node('reshape', 'user_vector', [u], { shape: [-1, d] });
  ub.g.outputs.push('user_vector');

  const ib = builder(loaded, 'item', width);
  const item = ib.input('item', [-1], 'int32');
  let x = lookup(ib, item, 'item.table', f32(m.item.weight), d);
  if (m.genreBag) {
    const genres = ib.input('genres', [-1, s.genreLength], 'int32');
    const table = ib.constant('genre.table', [s.numGenres, d], f32(m.genreBag.weight));
    x = ib.node('concat', 'item.features', [x, ib.node('embeddingbag', 'genres.mean', [genres, table], {})], {
      axis: 1,
    });
  }
  let v = linear(ib, x, m.itemProj, 'item.proj');
  if (s.normalize) v = normalize(ib, v, 'item');
  const t = 1 / s.temperature;
  if (m.itemBias) {
    const bias = lookup(ib, item, 'item.bias', f32(m.itemBias.weight), 1);
    const vt = ib.node('scale', 'item.scaled', [v], { mul: t, add: 0 });
    ib.node('concat', 'item_vector', [vt, ib.node('scale', 'item.bias.scaled', [bias], { mul: t, add: 0 })], {
      axis: 1,
    });
  } else ib.node('scale', 'item_vector', [v], { mul: t, add: 0 });
  ib.g.outputs.push('item_vector');
  return { user: ub.g, item: ib.g };
}

function mfGraphs(loaded: LoadedRecsys, m: MatrixFactorization): TowerGraphs {
  const d = m.recsysSpec.dim;
  const ub = builder(loaded, 'user', d + 2);
  const user = ub.input('user', [-1], 'int32');
  const p = lookup(ub, user, 'user.table', f32(m.user.weight), d);
  const bu = lookup(ub, user, 'user.bias', f32(m.userBias.weight), 1);
  const biasMean = ub.node('scale', 'user.bias.mean', [bu], { mul: 1, add: m.recsysSpec.globalMean });
  ub.node('concat', 'user_vector', [p, biasMean, ones(ub, bu, 'user.one')], { axis: 1 });
  ub.g.outputs.push('user_vector');

  const ib = builder(loaded, 'item', d + 2);
  const item = ib.input('item', [-1], 'int32');
  const q = lookup(ib, item, 'item.table', f32(m.item.weight), d);
  const bi = lookup(ib, item, 'item.bias', f32(m.itemBias.weight), 1);
  ib.node('concat', 'item_vector', [q, ones(ib, bi, 'item.one'), bi], { axis: 1 });
  ib.g.outputs.push('item_vector');
  return { user: ub.g, item: ib.g };
}

/** The user and item towers of a loaded model as Graduate graphs over its float32 weights. */
export function towerGraphs(loaded: LoadedRecsys): TowerGraphs {
  const m = loaded.model;
  return m instanceof MatrixFactorization ? mfGraphs(loaded, m) : twoTowerGraphs(loaded, m);
}

/**
 * The towers as ONNX models (opset 17): int64 ids in (see the file header), float32 user_vector /
 * item_vector [N, width] out, whose dot product is the model's score; metadata_props 'recsys' says how.
 */
export function exportTowers(
  loaded: LoadedRecsys,
  g: TowerGraphs = towerGraphs(loaded),
): { user: Uint8Array; item: Uint8Array } {
  const write = (graph: Graph) =>
    exportOnnx(graph, { named: true, metadata: { recsys: JSON.stringify(graph.meta.recsys) } });
  return { user: write(g.user), item: write(g.item) };
}

/** What the towers' id inputs index: external ids by row, and each item's genre bag as the item tower takes it. */
export interface TowersIndex {
  preset: 'mf' | 'two-tower';
  /** Row → external id: `user` and `item` take these rows (-1: unknown). [U], [I] */
  userIds: string[];
  itemIds: string[];
  /** two-tower: the history the user tower takes, most recent last (older items dropped), -1 padded. */
  historyLength?: number;
  /** two-tower with genres: genre names by index, and each item's genre ids padded to genreLength with -1. [I][G] */
  genres?: { vocab: string[]; length: number; items: number[][] };
}

/** The id maps a client of the towers needs, from the checkpoint's config. */
export function towersIndex(loaded: LoadedRecsys): TowersIndex {
  const config: RecsysConfig = loaded.config;
  const spec = config.model;
  const index: TowersIndex = { preset: spec.preset, userIds: config.userIds, itemIds: config.itemIds };
  if (spec.preset !== 'two-tower') return index;
  index.historyLength = spec.historyLength;
  const G = spec.genreLength;
  if (G > 0 && spec.numGenres > 0 && config.genres) {
    const bags = towerInputs(config, loaded.history).genres;
    index.genres = {
      vocab: config.genres.vocab,
      length: G,
      items: Array.from({ length: spec.numItems }, (_, i) => Array.from(bags.subarray(i * G, (i + 1) * G))),
    };
  }
  return index;
}
