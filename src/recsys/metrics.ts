// Recommendation metrics: RMSE and MAE of predicted ratings, and HR@K / NDCG@K of a held-out item
// ranked by full ranking — against every item the user has not interacted with in training, not a
// sample of them — with ties broken at random in expectation (so a score that ties thousands of
// items, as popularity does, is neither favoured nor penalised). The popularity baseline goes
// through the same ranking code.
// Not for: producing scores (the models), splits (data/interaction-splits.ts).
import { hasItem, type UserItems } from '../data/interaction-splits.js';
import { ValueError } from '../errors.js';

/** Root mean squared error of pred against target (same length, > 0). */
export function rmse(pred: ArrayLike<number>, target: ArrayLike<number>): number {
  checkPairs('rmse', pred, target);
  let s = 0;
  for (let i = 0; i < pred.length; i++) s += (pred[i] - target[i]) ** 2;
  return Math.sqrt(s / pred.length);
}

/** Mean absolute error of pred against target. */
export function mae(pred: ArrayLike<number>, target: ArrayLike<number>): number {
  checkPairs('mae', pred, target);
  let s = 0;
  for (let i = 0; i < pred.length; i++) s += Math.abs(pred[i] - target[i]);
  return s / pred.length;
}

function checkPairs(what: string, pred: ArrayLike<number>, target: ArrayLike<number>): void {
  if (pred.length !== target.length)
    throw new ValueError(`${what}: ${pred.length} predictions for ${target.length} targets`);
  if (pred.length === 0) throw new ValueError(`${what}: no predictions`);
}

/** Where a held-out item ranks: g items strictly above it, e others tied with it. */
export interface Rank {
  greater: number;
  ties: number;
}

/**
 * The rank of `target` among the items of `scores` [I] that `seen` does not list for user u
 * (the target itself is ranked even if listed). A non-finite score is an error.
 */
export function rankOf(scores: ArrayLike<number>, target: number, u: number, seen: UserItems): Rank {
  const s = scores[target];
  if (!Number.isFinite(s)) throw new ValueError(`ranking: user ${u}'s score of item ${target} is ${s}`);
  let greater = 0;
  let ties = 0;
  for (let i = 0; i < scores.length; i++) {
    const v = scores[i];
    if (v < s) continue;
    if (i === target || hasItem(seen, u, i)) continue;
    if (v > s) greater++;
    else if (v === s) ties++;
    else throw new ValueError(`ranking: user ${u}'s score of item ${i} is ${v}`);
  }
  return { greater, ties };
}

/**
 * HR@K and NDCG@K (one relevant item: 1/log2(position + 2)) of one rank, their expected values
 * when the target's place among its ties is uniformly random.
 */
export function hitAndGain(rank: Rank, k: number): { hit: number; ndcg: number } {
  const { greater: g, ties: e } = rank;
  let hit = 0;
  let ndcg = 0;
  for (let p = g; p <= g + e && p < k; p++) {
    hit += 1;
    ndcg += 1 / Math.log2(p + 2);
  }
  return { hit: hit / (e + 1), ndcg: ndcg / (e + 1) };
}

export interface RankingResult {
  k: number;
  /** Mean HR@K over the held-out rows. */
  hr: number;
  /** Mean NDCG@K over the held-out rows. */
  ndcg: number;
  /** Held-out rows ranked. */
  rows: number;
  /** Items each row was ranked against, on average (all items less the user's training items). */
  candidates: number;
}

/**
 * HR@K and NDCG@K of held-out (users[r], items[r]) pairs, each ranked against every item the user
 * has not seen in training. scoresOf(users) gives the scores of each of those users over all
 * items, row-major [B, I]; users are scored `chunk` at a time.
 */
export function rankingMetrics(
  scoresOf: (users: Int32Array) => ArrayLike<number>,
  heldOut: { users: Int32Array; items: Int32Array },
  seen: UserItems,
  numItems: number,
  opts: { k?: number; chunk?: number } = {},
): RankingResult {
  const { k = 10, chunk = 256 } = opts;
  if (!(Number.isInteger(k) && k >= 1)) throw new ValueError(`ranking: k must be a positive integer, got ${k}`);
  const n = heldOut.users.length;
  if (n === 0) throw new ValueError('ranking: no held-out rows');
  let hr = 0;
  let ndcg = 0;
  let candidates = 0;
  for (let start = 0; start < n; start += chunk) {
    const users = heldOut.users.subarray(start, Math.min(n, start + chunk));
    const scores = scoresOf(users);
    if (scores.length !== users.length * numItems)
      throw new ValueError(`ranking: ${scores.length} scores for ${users.length} users × ${numItems} items`);
    for (let b = 0; b < users.length; b++) {
      const u = users[b];
      const row = subarray(scores, b * numItems, numItems);
      const r = hitAndGain(rankOf(row, heldOut.items[start + b], u, seen), k);
      hr += r.hit;
      ndcg += r.ndcg;
      candidates += numItems - (seen.offsets[u + 1] - seen.offsets[u]);
    }
  }
  return { k, hr: hr / n, ndcg: ndcg / n, rows: n, candidates: candidates / n };
}

function subarray(a: ArrayLike<number>, start: number, n: number): ArrayLike<number> {
  if (a instanceof Float32Array || a instanceof Float64Array) return a.subarray(start, start + n);
  return Array.prototype.slice.call(a, start, start + n) as number[];
}

/** The item-popularity baseline's scores: every user scores item i by its training count. */
export function popularityScores(counts: ArrayLike<number>): (users: Int32Array) => Float32Array {
  const I = counts.length;
  return (users) => {
    const out = new Float32Array(users.length * I);
    for (let b = 0; b < users.length; b++) for (let i = 0; i < I; i++) out[b * I + i] = counts[i];
    return out;
  };
}
