// Recommendations from a graduated recommendation artifact (recsys/graduate.ts writes it): external
// ids in, the K best items out — ids, titles and scores — with the user's training items and the
// given history left out. A known user is scored by its own row (two-tower: and its recent items);
// an unknown user by the history it gives (cold start); one with neither gets the model's
// fallback ranking, labelled as such. The artifact's meta.recommend is checked once per model.
// Not for: building the graph (recsys/graduate.ts), serving over HTTP (serve/).
import { FormatError, ValueError } from '../errors.js';
import type { Graph } from '../graph/ir.js';
import { fieldsOf, isRecord } from '../io/fields.js';
import type { Session } from './session.js';

/** What a recommendation artifact's meta.recommend holds. */
export interface RecommendMeta {
  preset: 'mf' | 'two-tower';
  /** Items the graph returns per request. */
  k: number;
  /** Widths of the graph's history input (H: the bag) and exclude input (S). */
  historyLength: number;
  excludeLength: number;
  /** External ids of the graph's user rows and item columns. [U'], [I'] */
  userIds: string[];
  itemIds: string[];
  /** Items the model was trained without (pruned): accepted in a history, never returned. */
  prunedItemIds: string[];
  /** [I'] item titles, when the training data had them. */
  titles?: string[];
  /** Each user's training items (item indices), oldest first (CSR over users). */
  history: { offsets: number[]; items: number[] };
  /** What an unknown user without a usable history gets. */
  fallback: string;
}

export interface RecommendRequest {
  /** An external user id; unknown ids are cold users (described by `history`), not errors. */
  user?: string;
  /** External item ids the user liked, oldest first: excluded from the answer, and a cold user's profile. */
  history?: readonly string[];
  /** Items to return, 1 to the model's K (default K). */
  k?: number;
}

export interface RecommendedItem {
  id: string;
  title?: string;
  score: number;
}

export interface RecommendResult {
  user?: string;
  /** What the ranking rests on: the known user's row, the given history (cold user), or the fallback. */
  basis: 'user' | 'history' | 'fallback';
  items: RecommendedItem[];
  /** History ids the model holds no row for (never trained): left out of the profile. */
  ignored: string[];
  /** basis 'fallback': what the ranking is. */
  note?: string;
}

/** A loaded recommendation model: its graph and a session to run it (an InferenceModel is one). */
export interface RecommendModel {
  readonly graph: Graph;
  readonly session: Session;
}

interface Catalogue {
  meta: RecommendMeta;
  users: Map<string, number>;
  items: Map<string, number>;
  pruned: Set<string>;
}

const catalogues = new WeakMap<Graph, Catalogue>();

/** The checked meta.recommend of a graph; a FormatError when it is not a recommendation model. */
export function recommendMeta(g: Graph, source = 'model'): RecommendMeta {
  return catalogue(g, source).meta;
}

function catalogue(g: Graph, source: string): Catalogue {
  const cached = catalogues.get(g);
  if (cached) return cached;
  const raw = g.meta.recommend;
  if (!isRecord(raw))
    throw new FormatError(
      `${source}: not a recommendation model (its meta has no 'recommend' entry; graduate compile of an mf or two-tower checkpoint writes one)`,
    );
  const f = fieldsOf(`${source}: meta.recommend`);
  const at = (v: string) => g.values[v]?.shape ?? [];
  const [I, S, H] = [at('scores.all')[1] ?? g.constants['items.weight']?.shape[0], at('exclude')[1], at('history')[1]];
  if (raw.preset !== 'mf' && raw.preset !== 'two-tower') f.fail('preset', "'mf' or 'two-tower'", raw.preset);
  f.int('k', raw.k, at('items')[1], at('items')[1]);
  f.int('historyLength', raw.historyLength, H, H);
  f.int('excludeLength', raw.excludeLength, S, S);
  const strings = (field: string, v: unknown, n?: number): string[] => {
    const a = f.arr(field, v);
    if (n !== undefined && a.length !== n) f.fail(field, `${n} ids`, a.length);
    for (let i = 0; i < a.length; i++) if (typeof a[i] !== 'string') f.fail(`${field}[${i}]`, 'a string', a[i]);
    return a as string[];
  };
  const itemIds = strings('itemIds', raw.itemIds, I);
  const userIds = strings('userIds', raw.userIds);
  strings('prunedItemIds', raw.prunedItemIds);
  if (raw.titles !== undefined) strings('titles', raw.titles, itemIds.length);
  const h = f.obj('history', raw.history);
  const offsets = f.arr('history.offsets', h.offsets);
  const items = f.arr('history.items', h.items);
  if (offsets.length !== userIds.length + 1) f.fail('history.offsets', `${userIds.length + 1} offsets`, offsets.length);
  for (let u = 0; u <= userIds.length; u++)
    f.int(`history.offsets[${u}]`, offsets[u], u === 0 ? 0 : (offsets[u - 1] as number), items.length);
  if (offsets[userIds.length] !== items.length)
    f.fail(`history.offsets[${userIds.length}]`, `${items.length}`, offsets.at(-1));
  for (let j = 0; j < items.length; j++) f.int(`history.items[${j}]`, items[j], 0, itemIds.length - 1);
  f.str('fallback', raw.fallback);
  const meta = raw as unknown as RecommendMeta;
  const c: Catalogue = {
    meta,
    users: new Map(userIds.map((id, i) => [id, i])),
    items: new Map(itemIds.map((id, i) => [id, i])),
    pruned: new Set(meta.prunedItemIds),
  };
  catalogues.set(g, c);
  return c;
}

/**
 * The graph's inputs for users (indices, -1 unknown) each with its items, oldest first (item
 * indices): user [B, 1], history [B, H] (the most recent H, -1 padded), exclude [B, S] (all of them).
 */
export function recommendInputs(
  meta: RecommendMeta,
  rows: readonly { user: number; items: ArrayLike<number> }[],
): { user: Int32Array; history: Int32Array; exclude: Int32Array } {
  const { historyLength: H, excludeLength: S } = meta;
  const B = rows.length;
  const user = new Int32Array(B);
  const history = new Int32Array(B * H).fill(-1);
  const exclude = new Int32Array(B * S).fill(-1);
  rows.forEach((r, b) => {
    user[b] = r.user;
    const n = r.items.length;
    if (n > S)
      throw new ValueError(
        `recommend: ${n} items to leave out (the user's training items and the given history), more than the ${S} this model takes`,
      );
    for (let j = Math.max(0, n - H); j < n; j++) history[b * H + j - Math.max(0, n - H)] = r.items[j];
    for (let j = 0; j < n; j++) exclude[b * S + j] = r.items[j];
  });
  return { user, history, exclude };
}

/** A user's training items (item indices, oldest first). */
export function trainingItems(meta: RecommendMeta, user: number): number[] {
  const { offsets, items } = meta.history;
  return user < 0 ? [] : items.slice(offsets[user], offsets[user + 1]);
}

/** Recommendations for one request (see RecommendRequest). */
export function recommend(model: RecommendModel, request: RecommendRequest = {}): RecommendResult {
  return recommendBatch(model, [request])[0];
}

/** Recommendations for a batch of requests, one run of the graph. */
export function recommendBatch(model: RecommendModel, requests: readonly RecommendRequest[]): RecommendResult[] {
  if (requests.length === 0) return [];
  const run = prepareRecommend(model.graph, requests);
  const [items, scores] = model.session.runAll(run.inputs, requests.length);
  return run.results(items as Int32Array, scores as Float32Array);
}

/**
 * Requests → the graph's inputs [user [B, 1], history [B, H], exclude [B, S]], and how to read its
 * outputs (items [B, K], scores [B, K]) back into results: what recommendBatch does around one run,
 * for callers that run the graph elsewhere (serve's batcher and workers). Bad requests throw a
 * ValueError naming the request and the id.
 */
export function prepareRecommend(
  graph: Graph,
  requests: readonly RecommendRequest[],
): {
  inputs: [Int32Array, Int32Array, Int32Array];
  results: (items: ArrayLike<number>, scores: ArrayLike<number>) => RecommendResult[];
} {
  const c = catalogue(graph, 'model');
  const { meta } = c;
  const plans = requests.map((r, i) => plan(c, r, requests.length > 1 ? `request ${i}: ` : ''));
  const x = recommendInputs(meta, plans);
  const K = meta.k;
  const results = (items: ArrayLike<number>, scores: ArrayLike<number>) =>
    plans.map((p, b) => ({
      ...(p.id !== undefined && { user: p.id }),
      basis: p.basis,
      items: Array.from({ length: p.k }, (_, j) => {
        const i = items[b * K + j];
        const title = meta.titles?.[i];
        return { id: meta.itemIds[i], ...(title && { title }), score: scores[b * K + j] };
      }),
      ignored: p.ignored,
      ...(p.basis === 'fallback' && { note: meta.fallback }),
    }));
  return { inputs: [x.user, x.history, x.exclude], results };
}

interface Plan {
  id?: string;
  user: number;
  items: number[];
  k: number;
  basis: RecommendResult['basis'];
  ignored: string[];
}

function plan(c: Catalogue, r: RecommendRequest, at: string): Plan {
  const K = c.meta.k;
  const k = r.k ?? K;
  if (!(Number.isInteger(k) && k >= 1 && k <= K))
    throw new ValueError(`${at}k must be an integer in [1, ${K}] (this model returns at most ${K} items), got ${k}`);
  if (r.user !== undefined && typeof r.user !== 'string')
    throw new ValueError(`${at}user must be a string id, got ${typeof r.user}`);
  const user = r.user === undefined ? -1 : (c.users.get(r.user) ?? -1);
  const given: number[] = [];
  const ignored: string[] = [];
  const unknown: string[] = [];
  for (const id of r.history ?? []) {
    const i = c.items.get(id);
    if (i !== undefined) given.push(i);
    else if (c.pruned.has(id)) ignored.push(id);
    else unknown.push(String(id));
  }
  if (unknown.length)
    throw new ValueError(
      `${at}history: unknown item id${unknown.length > 1 ? 's' : ''} ${unknown
        .slice(0, 5)
        .map((s) => `'${s}'`)
        .join(', ')}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''} (not in the model's catalogue)`,
    );
  // training items, then the given history (most recent last), each item once at its latest place
  const all = [...trainingItems(c.meta, user), ...given];
  const last = new Map<number, number>();
  for (let j = 0; j < all.length; j++) last.set(all[j], j);
  const items = all.filter((i, j) => last.get(i) === j);
  const basis = user >= 0 ? 'user' : given.length > 0 ? 'history' : 'fallback';
  return { ...(r.user !== undefined && { id: r.user }), user, items, k, basis, ignored };
}
