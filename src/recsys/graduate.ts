// Graduation of a recommendation model: a trained mf or two-tower (checkpoint.ts LoadedRecsys) →
// an inference graph that answers "the K best items for this user" by an exact scan over every
// item, with the metric gate and the numbers of the compile report. What it does to the model:
//   - prunes rows that never trained (items without a training interaction, users without one,
//     and for the two-tower's own history table the rows no user's history bag ever read);
//   - precomputes what inference need not recompute (the two-tower's whole item tower becomes one
//     item matrix V [I, d], temperature folded in);
//   - drops what does not change a ranking (mf's user bias and global mean);
//   - stores the tables as int8 per row, fp16, or float32; the scan's linear reads its item matrix
//     [I, d] by rows (transB), so mf's item table is one constant for the scan and the cold-start bag.
// Graph: inputs user int32 [-1, 1] (kept-user index, -1 = unknown), history int32 [-1, H] (kept-item
// indices, -1 padded: the bag a cold user is described by, and a two-tower user's recent items),
// exclude int32 [-1, S] (kept-item indices never to return, -1 padded); outputs items int32
// [-1, K] (a topk over the scan, `exclude` left out) and scores float32 [-1, K] (theirs).
// The meta (meta.recommend) maps external ids to those indices and holds titles and each user's
// training items in time order; runtime/recommend.ts reads it.
// Not for: training (train.ts), the runtime side (runtime/recommend.ts), the CLI (cli/compile-recsys.ts).

import { noGrad } from '../autograd/grad-mode.js';
import { int8Params, quantizeRows } from '../compile/quantize.js';
import type { Interactions } from '../data/interactions.js';
import { FormatError, ValueError } from '../errors.js';
import { writeArtifact } from '../graph/artifact.js';
import type { Constant, Graph, Node, QuantParams, Value } from '../graph/ir.js';
import { inferNode } from '../graph/validate.js';
import type { Engine } from '../kernels/engine.js';
import { type RecommendMeta, recommendInputs, trainingItems } from '../runtime/recommend.js';
import { Session } from '../runtime/session.js';
import { toHalf } from '../shape/half.js';
import { tidy } from '../tensor/scope.js';
import type { LoadedRecsys } from './checkpoint.js';
import { rankingMetrics, rmse } from './metrics.js';
import { MatrixFactorization, type TwoTower } from './models.js';
import { evaluateRecsys, prepareRecsysData, type RecsysData } from './train.js';

export type RecsysQuantize = 'int8' | 'fp16' | 'none';

export type { RecommendMeta };

export interface GraduateRecsysOptions {
  quantize: RecsysQuantize;
  /** Items per request (default 10). */
  k?: number;
  /** mf: the most recent items of a cold user's history that form its vector (default 50; the two-tower's is its spec's). */
  historyLength?: number;
  /** Items a request may exclude (default: the longest training history + 256, at most I' − k). */
  excludeLength?: number;
  producer?: string;
  /**
   * Rotate the vector space by a seeded random orthogonal matrix (folded into the tables and the
   * user projection: scores unchanged) so that no coordinate dominates the int8 ranges (default:
   * with --quantize int8).
   */
  rotate?: boolean;
}

/** Rows pruned: what the graph no longer holds. */
export interface PruneReport {
  users: { kept: number; of: number };
  items: { kept: number; of: number };
  /** two-tower with its own history table: rows any user's history bag read in training. */
  bagRows?: { kept: number; of: number };
}

export interface RecommendGraph {
  graph: Graph;
  pruned: PruneReport;
  /** Kept index of each parent user / item (-1: pruned). */
  userMap: Int32Array;
  itemMap: Int32Array;
}

/** A graph under construction: values inferred from each node's op rule as nodes are added. */
export class GraphBuilder {
  readonly g: Graph;
  constructor(meta: Graph['meta']) {
    this.g = { inputs: [], outputs: [], values: {}, constants: {}, nodes: [], meta };
  }
  input(name: string, shape: number[], dtype: Value['dtype']): string {
    this.g.inputs.push(name);
    this.g.values[name] = { shape, dtype };
    return name;
  }
  constant(name: string, shape: number[], data: Float32Array | Int32Array): string {
    this.g.constants[name] = { shape, dtype: data instanceof Int32Array ? 'int32' : 'float32', data };
    return name;
  }
  node<K extends Node['op']>(op: K, name: string, inputs: string[], attrs: Extract<Node, { op: K }>['attrs']): string {
    const n = { name, op, inputs, output: name, attrs } as Node;
    const info = inferNode(this.g, n);
    this.g.values[name] = { shape: [...info.shape], dtype: info.dtype as Value['dtype'] };
    this.g.nodes.push(n);
    return name;
  }
}

/** Rows `rows` of a row-major [*, D] matrix. [rows.length, D] */
function takeRows(m: Float32Array, D: number, rows: ArrayLike<number>): Float32Array {
  const out = new Float32Array(rows.length * D);
  for (let r = 0; r < rows.length; r++) out.set(m.subarray(rows[r] * D, (rows[r] + 1) * D), r * D);
  return out;
}

const f32 = (t: { data(): unknown }) => t.data() as Float32Array;

/** m [N, d] · R [d, d]. */
function times(m: Float32Array, R: Float32Array, d: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let r = 0; r < m.length / d; r++)
    for (let k = 0; k < d; k++) {
      const x = m[r * d + k];
      if (x !== 0) for (let c = 0; c < d; c++) out[r * d + c] += x * R[k * d + c];
    }
  return out;
}

/**
 * A random orthogonal [d, d] (Gram-Schmidt of seeded Gaussian rows, in float64). A learnt
 * embedding space is anisotropic (a popularity direction shared by every vector): rotated, every
 * coordinate carries a share of it, and per-row / per-tensor int8 scales lose less.
 */
export function randomRotation(d: number, seed = 0x5eed): Float32Array {
  let state = seed >>> 0;
  const uniform = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 2 ** 32;
  };
  const gauss = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  const rows: Float64Array[] = [];
  while (rows.length < d) {
    const v = Float64Array.from({ length: d }, gauss);
    for (const r of rows) {
      let dot = 0;
      for (let c = 0; c < d; c++) dot += v[c] * r[c];
      for (let c = 0; c < d; c++) v[c] -= dot * r[c];
    }
    const n = Math.hypot(...v);
    if (n < 1e-6) continue;
    rows.push(v.map((x) => x / n));
  }
  const R = new Float32Array(d * d);
  for (let k = 0; k < d; k++) R.set(rows[k], k * d);
  return R;
}

/** Dense map: old index → kept index (-1 pruned), and the kept old indices in order. */
function keepWhere(n: number, keep: (i: number) => boolean): { map: Int32Array; kept: Int32Array } {
  const map = new Int32Array(n).fill(-1);
  const kept: number[] = [];
  for (let i = 0; i < n; i++) if (keep(i)) map[i] = kept.push(i) - 1;
  return { map, kept: Int32Array.from(kept) };
}

/**
 * The recommendation graph of a trained model (float32 tables; see quantizeRecommendGraph). Items
 * and users keep their parent order, so ties in the scan break as the parent's (lower index first).
 */
export function recommendGraph(
  loaded: LoadedRecsys,
  opts: Omit<GraduateRecsysOptions, 'quantize'> = {},
): RecommendGraph {
  const { config, model, history } = loaded;
  const spec = config.model;
  const U = spec.numUsers;
  const I = spec.numItems;
  const d = spec.dim;
  const trained = new Uint8Array(I);
  for (const i of history.items) trained[i] = 1;
  const items = keepWhere(I, (i) => trained[i] === 1);
  const users = keepWhere(U, (u) => history.offsets[u + 1] > history.offsets[u]);
  const Ik = items.kept.length;
  if (Ik === 0) throw new ValueError(`${loaded.dir}: no item has a training interaction`);
  const k = opts.k ?? 10;
  const H = spec.preset === 'two-tower' ? spec.historyLength : (opts.historyLength ?? 50);
  let longest = 0;
  for (let u = 0; u < U; u++) longest = Math.max(longest, history.offsets[u + 1] - history.offsets[u]);
  const S = opts.excludeLength ?? Math.min(Ik - k, longest + 256);
  if (!(Number.isInteger(k) && k >= 1 && k <= Ik))
    throw new ValueError(`recommend graph: k must be an integer in [1, ${Ik}] (the trained items), got ${k}`);
  if (!(Number.isInteger(S) && S >= 0 && S <= Ik - k))
    throw new ValueError(
      `recommend graph: ${S} excluded items with k ${k} need more than the ${Ik} trained items (exclude length ≤ ${Ik - k})`,
    );
  if (S < longest)
    throw new ValueError(
      `recommend graph: exclude length ${S} is shorter than the longest training history (${longest} items)`,
    );
  // each kept user's training items as kept-item indices, oldest first
  const offsets = [0];
  const hist: number[] = [];
  for (const u of users.kept) {
    for (let j = history.offsets[u]; j < history.offsets[u + 1]; j++) hist.push(items.map[history.items[j]]);
    offsets.push(hist.length);
  }
  const meta: RecommendMeta = {
    preset: spec.preset,
    k,
    historyLength: H,
    excludeLength: S,
    userIds: Array.from(users.kept, (u) => config.userIds[u]),
    itemIds: Array.from(items.kept, (i) => config.itemIds[i]),
    prunedItemIds: config.itemIds.filter((_, i) => trained[i] === 0),
    ...(config.titles && { titles: Array.from(items.kept, (i) => config.titles?.[i] ?? '') }),
    history: { offsets, items: hist },
    fallback:
      spec.preset === 'mf'
        ? 'no known user and no history: items ranked by their learnt item bias (rating above the user and global mean)'
        : "no known user and no history: items ranked against the user tower's bias alone (a generic, popularity-like direction)",
  };
  const b = new GraphBuilder({
    classNames: [],
    input: { kind: 'tensor', shape: [] },
    producer: opts.producer ?? 'graduate',
    kind: 'recommend',
    recommend: meta,
  });
  const user = b.input('user', [-1, 1], 'int32');
  const bag = b.input('history', [-1, H], 'int32');
  const exclude = b.input('exclude', [-1, S], 'int32');
  const pruned: PruneReport = { users: { kept: users.kept.length, of: U }, items: { kept: Ik, of: I } };
  const R = opts.rotate ? randomRotation(d) : undefined;
  const rot = (m: Float32Array) => (R ? times(m, R, d) : m);
  let u: string;
  let scan: { weight: Float32Array; bias?: Float32Array };
  const Uk = users.kept.length;
  if (model instanceof MatrixFactorization) {
    // p = P[user] for a known user; the mean of the history items' q for an unknown one (cold start)
    const Q = rot(takeRows(f32(model.item.weight), d, items.kept));
    const P = b.constant('user.table', [Uk, d], rot(takeRows(f32(model.user.weight), d, users.kept)));
    const own = b.node('reshape', 'user.vector', [b.node('embedding', 'user.rows', [user, P], {})], { shape: [-1, d] });
    const known = b.node('cast', 'user.known', [b.node('binop', 'user.id.valid', [user, intZero(b.g)], { fn: 'ge' })], {
      to: 'float32',
    });
    const cold = b.node('scale', 'user.cold', [known], { mul: -1, add: 1 });
    // one item table [I', d]: the cold start's bag gathers its rows, the scan reads it as a transB weight
    const mean = bagMean(b, bag, b.constant('items.weight', [Ik, d], Q), 'history');
    u = b.node('add', 'user.vec', [own, b.node('mul', 'user.from.history', [mean, cold], {})], {});
    scan = { weight: Q, bias: takeRows(f32(model.itemBias.weight), 1, items.kept) };
  } else {
    const tower = model as TwoTower;
    const ts = tower.recsysSpec;
    // the history bag's rows: those a bag may have read in training — any user's training item
    // (sequential training reads the items before each row, not only the last H), the rest kept
    // their initialisation
    const table = tower.historyBag ? f32(tower.historyBag.weight) : f32(tower.item.weight);
    let bagIds = bag;
    let bagTable: Float32Array;
    if (tower.historyBag) {
      const read = new Uint8Array(I);
      for (const i of history.items) read[i] = 1;
      const rows = keepWhere(Ik, (j) => read[items.kept[j]] === 1);
      pruned.bagRows = { kept: rows.kept.length, of: I };
      bagTable = takeRows(
        table,
        d,
        Array.from(rows.kept, (j) => items.kept[j]),
      );
      // kept-item index → bag row (-1: none); the extra last entry maps a -1 pad (gather reads -1 as the last)
      const map = new Int32Array(Ik + 1).fill(-1);
      map.set(rows.map);
      bagIds = b.node('gather', 'history.rows', [b.constant('history.map', [Ik + 1], map), bag], { axis: 0 });
    } else bagTable = takeRows(table, d, items.kept);
    const own = b.node(
      'reshape',
      'user.vector',
      [
        b.node(
          'embedding',
          'user.rows',
          [user, b.constant('user.table', [Uk, d], takeRows(f32(tower.user.weight), d, users.kept))],
          {},
        ),
      ],
      { shape: [-1, d] },
    );
    const mean = bagMean(b, bagIds, b.constant('history.table', [bagTable.length / d, d], bagTable), 'history');
    const x = b.node('concat', 'user.features', [own, mean], { axis: 1 });
    const W = b.constant('user.proj.weight', [2 * d, d], rot(f32(tower.userProj.weight).slice()));
    const bias = tower.userProj.bias ? [b.constant('user.proj.bias', [d], rot(f32(tower.userProj.bias).slice()))] : [];
    u = b.node('linear', 'user.proj', [x, W, ...bias], { activation: 'none' });
    if (ts.normalize) {
      // as the tower: u / sqrt(Σ u² + 1e-12)
      const sq = b.node('unary', 'user.sq', [u], { fn: 'square' });
      const norm2 = b.node('sum', 'user.norm2', [sq], { axes: [1], keepDims: true });
      const eps = b.node('scale', 'user.norm2.eps', [norm2], { mul: 1, add: 1e-12 });
      u = b.node('div', 'user.normalized', [u, b.node('unary', 'user.norm', [eps], { fn: 'sqrt' })], {});
    }
    // the item tower, once for every kept item, temperature folded in
    const V = noGrad(() => tidy(() => f32(tower.itemVectors(items.kept)).slice()));
    const t = ts.temperature;
    const cols = V.length / Ik; // d, or d + 1 with an item bias last (the user vector ends in 1)
    const Vd = new Float32Array(Ik * d);
    for (let j = 0; j < Ik; j++) for (let c = 0; c < d; c++) Vd[j * d + c] = V[j * cols + c] / t;
    scan = {
      weight: rot(Vd),
      ...(cols > d && { bias: Float32Array.from({ length: Ik }, (_, j) => V[j * cols + d] / t) }),
    };
  }
  // the item matrix [I', d] (mf: already there, the bag's table), read by rows: score_i = ⟨u, row i⟩ + b_i
  const W = b.g.constants['items.weight'] ? 'items.weight' : b.constant('items.weight', [Ik, d], scan.weight);
  const bias = scan.bias ? [b.constant('items.bias', [Ik], scan.bias)] : [];
  const scores = b.node('linear', 'scores.all', [u, W, ...bias], { activation: 'none', transB: true });
  b.node('topk', 'items', [scores, exclude], { k, axis: -1, largest: true, indices: true });
  // the scores of those items read back (a second topk would scan the items again)
  b.node('gatherelements', 'scores', [scores, 'items'], { axis: 1 });
  b.g.outputs.push('items', 'scores');
  return { graph: b.g, pruned, userMap: users.map, itemMap: items.map };
}

/**
 * The mean of the rows of `table` that ids [-1, H] name (-1 pads; an empty bag gives zeros): the
 * parent's own embeddingbag; quantizeRecommendGraph rewrites it for an int8 table (int8Bag).
 */
function bagMean(b: GraphBuilder, ids: string, table: string, at: string): string {
  return b.node('embeddingbag', `${at}.mean`, [ids, table], {});
}

/** The int32 constant 0 [1] (ids ≥ 0 are rows, -1 pads), added once. */
function intZero(g: Graph): string {
  g.constants['id.zero'] ??= { shape: [1], dtype: 'int32', data: Int32Array.of(0) };
  return 'id.zero';
}

/**
 * A float32 [V, D] bag's embeddingbag node rewritten over an int8 table: gathered rows summed,
 * divided by the count of ids ≥ 0 (computed from the ids: no table of ones beside the table).
 */
function int8Bag(g: Graph, n: Node): Node[] {
  const [ids, table] = n.inputs;
  const t = g.constants[table];
  const D = t.shape[1];
  const H = g.values[ids].shape[1];
  g.constants[table] = rowsOnce(t);
  g.constants[`${n.output}.one`] = { shape: [1], dtype: 'float32', data: Float32Array.of(1) };
  const v = (name: string, shape: number[], dtype: Value['dtype'] = 'float32') => {
    g.values[name] = { shape, dtype };
    return name;
  };
  const rows = v(`${n.output}.rows`, [-1, H, D]);
  const sum = v(`${n.output}.sum`, [-1, D]);
  const valid = v(`${n.output}.valid`, [-1, H], 'int32');
  const hits = v(`${n.output}.hits`, [-1, H]);
  const count = v(`${n.output}.count`, [-1, 1]);
  const atLeast1 = v(`${n.output}.count1`, [-1, 1]);
  return [
    { name: rows, op: 'embedding', inputs: [ids, table], output: rows, attrs: {} },
    { name: sum, op: 'sum', inputs: [rows], output: sum, attrs: { axes: [1], keepDims: false } },
    { name: valid, op: 'binop', inputs: [ids, intZero(g)], output: valid, attrs: { fn: 'ge' } },
    { name: hits, op: 'cast', inputs: [valid], output: hits, attrs: { to: 'float32' } },
    { name: count, op: 'sum', inputs: [hits], output: count, attrs: { axes: [1], keepDims: true } },
    { name: atLeast1, op: 'maximum', inputs: [count, `${n.output}.one`], output: atLeast1, attrs: {} },
    { name: n.output, op: 'div', inputs: [sum, atLeast1], output: n.output, attrs: {} },
  ];
}

/** A table [V, D] int8 per row, once: a table the bag and the scan share is quantized by the first. */
const rowsOnce = (c: Constant): Constant => (c.dtype === 'int8' ? c : quantizeRows(c));

/**
 * The graph with its tables in int8 or fp16. int8: embedding tables per row (bags rewritten as
 * gather + sum / count), the scan's item matrix [I', d] per row = per item (its output channels,
 * one record shared with mf's bag) with its input — the user vectors — quantized per tensor over
 * `userRange`; the rest (item bias, the user-tower projection's 2d × d weights) fp16. fp16: every
 * float table stored as half floats.
 */
export function quantizeRecommendGraph(g0: Graph, mode: RecsysQuantize, userRange: [number, number]): Graph {
  if (mode === 'none') return g0;
  const g: Graph = { ...g0, constants: { ...g0.constants }, values: { ...g0.values }, nodes: [] };
  // float tables as half floats (widened at load); single numbers stay as they are
  const halve = () => {
    for (const [name, c] of Object.entries(g.constants))
      if (c.dtype === 'float32' && c.data.length > 1)
        g.constants[name] = { ...c, dtype: 'float16', data: Uint16Array.from(c.data as Float32Array, toHalf) };
  };
  if (mode === 'fp16') {
    halve();
    g.nodes = g0.nodes;
    return g;
  }
  if (mode !== 'int8') throw new ValueError(`--quantize: unknown mode '${mode as string}' (int8, fp16, none)`);
  for (const n of g0.nodes) {
    if (n.op === 'embeddingbag') g.nodes.push(...int8Bag(g, n));
    else if (n.op === 'embedding' && g.constants[n.inputs[1]].shape[1] > 1) {
      g.constants[n.inputs[1]] = rowsOnce(g.constants[n.inputs[1]]);
      g.nodes.push(n);
    } else if (n.op === 'linear' && n.name === 'scores.all') {
      const q = `${n.inputs[0]}.q`;
      const params: QuantParams = int8Params(userRange);
      g.values[q] = { shape: [...g.values[n.inputs[0]].shape], dtype: 'int8', quant: params };
      g.nodes.push({ name: q, op: 'quantize', inputs: [n.inputs[0]], output: q, attrs: {} });
      g.constants[n.inputs[1]] = rowsOnce(g.constants[n.inputs[1]]);
      g.nodes.push({ ...n, inputs: [q, ...n.inputs.slice(1)] });
    } else g.nodes.push(n);
  }
  // what stays float (the item bias, the two-tower's user projection): half floats, whose rounding
  // (2⁻¹¹ of each value) is far below the int8 tables' (2⁻⁷ of a row's largest)
  halve();
  return g;
}

/** The scan's scores for every kept item instead of the top K: the graph the metric gate evaluates. [-1, I'] */
export function scoringGraph(g: Graph): Graph {
  const nodes = g.nodes.filter((n) => n.output !== 'items' && n.output !== 'scores');
  const values = { ...g.values };
  delete values.items;
  delete values.scores;
  return { ...g, inputs: ['user', 'history'], outputs: ['scores.all'], nodes, values: omit(values, 'exclude') };
}

function omit<T>(r: Record<string, T>, k: string): Record<string, T> {
  const { [k]: _, ...rest } = r;
  return rest;
}

/** A constant's bytes as stored (int8 per-row scales count 4 bytes each, as a float table's would). */
export function constantBytes(c: Constant): number {
  return c.data.byteLength + (c.quant ? c.quant.scale.length * 4 : 0);
}

/** The graph's inputs for kept users (-1: unknown) with their training items. */
export function requestInputs(meta: RecommendMeta, users: Int32Array) {
  return recommendInputs(
    meta,
    Array.from(users, (user) => ({ user, items: trainingItems(meta, user) })),
  );
}

/** The recorded split of a checkpoint recomputed on `data`, refused when it is not the one trained on. */
export function recordedSplit(loaded: LoadedRecsys, data: Interactions): RecsysData {
  const { config } = loaded;
  for (const [what, mine, theirs] of [
    ['users', config.userIds, data.userIds],
    ['items', config.itemIds, data.itemIds],
  ] as const)
    if (mine.length !== theirs.length || mine.some((id, k) => id !== theirs[k]))
      throw new ValueError(
        `--data ${data.name}: its ${what} (${theirs.length}) are not the ${mine.length} the model in ${loaded.dir} was trained on`,
      );
  const s = config.split;
  const d = prepareRecsysData(data, s.kind, s.seed ?? 0, s.testFraction);
  if (d.split.testChecksum !== s.testChecksum || d.train.length !== s.trainRows)
    throw new FormatError(
      `--data ${data.name}: the ${s.kind} split gives another test set (${d.test.length} rows, checksum ${d.split.testChecksum}) than the model's (${s.testRows} rows, ${s.testChecksum}; ${loaded.dir})`,
    );
  return d;
}

export interface GraduateMetrics {
  /** 'rmse' (mf, lower is better) or 'hr@10' (two-tower, higher is better). */
  name: 'rmse' | 'hr@10';
  parent: number;
  graduated: number;
  /** How much worse the graduated model is, in % of the parent's value (negative: better). */
  dropPercent: number;
}

/**
 * The gate's metric of the parent (recsys/train.ts evaluateRecsys) and of a graduated graph run
 * through the Session, by the same metric code: mf RMSE on the test ratings (the scan's ⟨p, q⟩ + b_i
 * plus the parent's user bias and global mean, which the artifact leaves out, clipped as the
 * parent clips; a pruned item's score is 0: the rating falls back to mean + user bias), two-tower
 * HR@10 over all items less the user's training items (pruned items rank last).
 */
export function gateMetrics(
  loaded: LoadedRecsys,
  rg: RecommendGraph,
  graduated: Graph,
  d: RecsysData,
  engine?: Engine,
): GraduateMetrics {
  const model = loaded.model;
  const parent = evaluateRecsys(model, d);
  const meta = graduated.meta.recommend as RecommendMeta;
  const session = new Session(scoringGraph(graduated), { engine, maxBatch: 256 });
  const Ik = meta.itemIds.length;
  const I = loaded.config.model.numItems;
  // scores of parent users over kept items → over all parent items
  const scoresOf = (users: Int32Array): Float32Array => {
    const kept = Int32Array.from(users, (u) => rg.userMap[u]);
    const x = requestInputs(meta, kept);
    const out = new Float32Array(users.length * I);
    for (let s = 0; s < users.length; s += 256) {
      const n = Math.min(256, users.length - s);
      const [y] = session.runAll(
        [x.user.subarray(s, s + n), x.history.subarray(s * meta.historyLength, (s + n) * meta.historyLength)],
        n,
      );
      for (let b = 0; b < n; b++) {
        const row = out.subarray((s + b) * I, (s + b + 1) * I);
        for (let i = 0; i < I; i++) {
          const j = rg.itemMap[i];
          row[i] = j < 0 ? Number.NaN : (y as Float32Array)[b * Ik + j];
        }
      }
    }
    return out;
  };
  try {
    if (model instanceof MatrixFactorization) {
      const ratings = d.data.ratings as Float32Array;
      const [lo, hi] = model.recsysSpec.ratingRange;
      const bu = f32(model.userBias.weight);
      const mean = model.recsysSpec.globalMean;
      const users = Int32Array.from(d.test, (r) => d.data.users[r]);
      const pred = new Float32Array(d.test.length);
      // one scan per distinct test user
      const distinct = Int32Array.from(new Set(users));
      const at = new Map<number, number>();
      for (let j = 0; j < distinct.length; j++) at.set(distinct[j], j);
      const all = scoresOf(distinct);
      d.test.forEach((r, t) => {
        const s = all[(at.get(users[t]) as number) * I + d.data.items[r]];
        const raw = (Number.isNaN(s) ? 0 : s) + bu[users[t]] + mean;
        pred[t] = Math.min(hi, Math.max(lo, raw));
      });
      const graduatedRmse = rmse(
        pred,
        Float32Array.from(d.test, (r) => ratings[r]),
      );
      return metricPair('rmse', parent.rmse, graduatedRmse);
    }
    const heldOut = {
      users: Int32Array.from(d.test, (r) => d.data.users[r]),
      items: Int32Array.from(d.test, (r) => d.data.items[r]),
    };
    const ranked = rankingMetrics(
      (users) => scoresOf(users).map((v) => (Number.isNaN(v) ? -1e30 : v)),
      heldOut,
      d.seen,
      I,
    );
    return metricPair('hr@10', parent['hr@10'], ranked.hr);
  } finally {
    session.dispose();
  }
}

function metricPair(name: GraduateMetrics['name'], parent: number, graduated: number): GraduateMetrics {
  const worse = name === 'rmse' ? graduated - parent : parent - graduated;
  return { name, parent, graduated, dropPercent: (100 * worse) / parent };
}

/** The range of the scan's input (user vectors) over the kept users and their cold-start twins (history only). */
export function userVectorRange(g: Graph, engine?: Engine): [number, number] {
  const meta = g.meta.recommend as RecommendMeta;
  const scan = g.nodes.find((n) => n.name === 'scores.all') as Node;
  const probe: Graph = { ...scoringGraph(g), outputs: [scan.inputs[0]] };
  const session = new Session(probe, { engine, maxBatch: 256 });
  let lo = 0;
  let hi = 0;
  try {
    const U = meta.userIds.length;
    for (const cold of [false, true])
      for (let s = 0; s < U; s += 256) {
        const users = Int32Array.from({ length: Math.min(256, U - s) }, (_, j) => s + j);
        const x = requestInputs(meta, users);
        if (cold) x.user.fill(-1);
        const [y] = session.runAll([x.user, x.history], users.length);
        for (const v of y) {
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
      }
  } finally {
    session.dispose();
  }
  return [lo, hi];
}

export interface RecsysCompileReport {
  preset: 'mf' | 'two-tower';
  quantize: RecsysQuantize;
  /** The parent's float32 parameters (every table and projection), bytes. */
  parentBytes: number;
  /** The graph's tables and weights as stored (int8 scales at 4 bytes each), bytes. */
  modelBytes: number;
  /** The artifact file, and the catalogue data its meta carries (ids, titles, training items), bytes. */
  artifactBytes: number;
  data: { ids: number; titles: number; history: number };
  pruned: PruneReport;
  metric: GraduateMetrics;
  maxMetricDrop: number;
  k: number;
  items: number;
  /** Median ms per call of the top-K graph (known users, their training items excluded). */
  latency: { batch1: number; batch32: number };
}

export interface RecsysCompileOptions extends GraduateRecsysOptions {
  /** Refuse when the metric is worse than the parent's by more than this many % of it (default 2). */
  maxMetricDrop?: number;
  engine?: Engine;
  log?: (line: string) => void;
}

/**
 * The whole graduation of a loaded recommendation model: graph, quantization, metric gate (a
 * ValueError when it fails: nothing to write), artifact bytes and the report.
 */
export function compileRecsys(
  loaded: LoadedRecsys,
  data: Interactions,
  opts: RecsysCompileOptions,
): { bytes: Uint8Array; graph: Graph; report: RecsysCompileReport } {
  const log = opts.log ?? (() => {});
  const maxMetricDrop = opts.maxMetricDrop ?? 2;
  if (!(maxMetricDrop >= 0)) throw new ValueError(`--max-metric-drop must be a number ≥ 0 (%), got ${maxMetricDrop}`);
  const d = recordedSplit(loaded, data);
  const rg = recommendGraph(loaded, { rotate: opts.quantize === 'int8', ...opts });
  const graph = quantizeRecommendGraph(
    rg.graph,
    opts.quantize,
    opts.quantize === 'int8' ? userVectorRange(rg.graph, opts.engine) : [0, 0],
  );
  const metric = gateMetrics(loaded, rg, graph, d, opts.engine);
  const better = metric.name === 'rmse' ? 'lower' : 'higher';
  log(
    `${metric.name} (${better} is better): parent ${metric.parent.toFixed(4)} → graduated ${metric.graduated.toFixed(4)} (${metric.dropPercent >= 0 ? 'worse' : 'better'} by ${Math.abs(metric.dropPercent).toFixed(2)}%)`,
  );
  if (metric.dropPercent > maxMetricDrop)
    throw new ValueError(
      `the graduated model's ${metric.name} is ${metric.dropPercent.toFixed(2)}% worse than the parent's (${metric.parent.toFixed(4)} → ${metric.graduated.toFixed(4)}), more than --max-metric-drop ${maxMetricDrop}%; nothing written (try --quantize fp16 or none)`,
    );
  const bytes = writeArtifact(graph, opts.producer ?? 'graduate');
  const meta = graph.meta.recommend as RecommendMeta;
  const json = (v: unknown) => (v === undefined ? 0 : JSON.stringify(v).length);
  const report: RecsysCompileReport = {
    preset: meta.preset,
    quantize: opts.quantize,
    parentBytes: loaded.model.parameters().reduce((s, p) => s + p.size * 4, 0),
    modelBytes: Object.values(graph.constants).reduce((s, c) => s + constantBytes(c), 0),
    artifactBytes: bytes.length,
    data: {
      ids: json(meta.userIds) + json(meta.itemIds) + json(meta.prunedItemIds),
      titles: json(meta.titles),
      history: json(meta.history),
    },
    pruned: rg.pruned,
    metric,
    maxMetricDrop,
    k: meta.k,
    items: meta.itemIds.length,
    latency: topKLatency(graph, opts.engine),
  };
  return { bytes, graph, report };
}

/** Median ms of the top-K graph at batch 1 and 32 (kept users in a fixed shuffle, their training items excluded). */
export function topKLatency(g: Graph, engine?: Engine, rounds = 200): { batch1: number; batch32: number } {
  const meta = g.meta.recommend as RecommendMeta;
  const U = meta.userIds.length;
  const session = new Session(g, { engine, maxBatch: 32 });
  const time = (batch: number, n: number) => {
    const ms: number[] = [];
    for (let r = 0; r < n; r++) {
      const users = Int32Array.from({ length: batch }, (_, j) => ((r * batch + j) * 7919) % U);
      const x = requestInputs(meta, users);
      const t0 = performance.now();
      session.runAll([x.user, x.history, x.exclude], batch);
      ms.push(performance.now() - t0);
    }
    return ms.sort((a, b) => a - b)[ms.length >> 1];
  };
  try {
    time(1, 20); // warm-up
    return { batch1: time(1, rounds), batch32: time(32, Math.max(10, rounds >> 3)) };
  } finally {
    session.dispose();
  }
}

const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

/** The report as compile prints it. */
export function formatRecsysReport(r: RecsysCompileReport): string {
  const p = r.pruned;
  const lines = [
    `graduated ${r.preset} (--quantize ${r.quantize}): top-${r.k} by an exact scan over ${r.items} items`,
    `  size       parent ${kb(r.parentBytes)} (float32 tables and weights) → ${kb(r.modelBytes)} (${(r.parentBytes / r.modelBytes).toFixed(2)}× smaller)`,
    `  artifact   ${kb(r.artifactBytes)} in all, of which catalogue data in the meta: ids ${kb(r.data.ids)}, titles ${kb(r.data.titles)}, training items (excluded per user) ${kb(r.data.history)}`,
    `  pruned     items ${p.items.of - p.items.kept} of ${p.items.of} (no training interaction), users ${p.users.of - p.users.kept} of ${p.users.of}` +
      (p.bagRows
        ? `, history-bag rows ${p.bagRows.of - p.bagRows.kept} of ${p.bagRows.of} (never in a training bag)`
        : ''),
    `  ${r.metric.name.padEnd(10)} parent ${r.metric.parent.toFixed(4)} → ${r.metric.graduated.toFixed(4)} (${r.metric.dropPercent >= 0 ? 'worse' : 'better'} by ${Math.abs(r.metric.dropPercent).toFixed(2)}%; gate ${r.maxMetricDrop}%)`,
    `  latency    top-${r.k} p50 ${r.latency.batch1.toFixed(3)} ms at batch 1, ${r.latency.batch32.toFixed(2)} ms at batch 32`,
  ];
  return lines.join('\n');
}
