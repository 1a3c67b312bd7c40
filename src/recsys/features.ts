// What the recommendation models read besides ids, derived from the training rows: each user's
// training history in time order (CSR; the two-tower's history bag and, as a set, the items a
// user has already seen), the history and genre bags as -1-padded matrices, and the item
// popularity. Plain arrays, so a checkpoint can record them as JSON.
// Not for: splits (data/interaction-splits.ts), the models (models.ts).
import type { Bags, Interactions } from '../data/interactions.js';
import { ValueError } from '../errors.js';

/** Each user's items in time order (oldest first): user u's are items[offsets[u] .. offsets[u+1]). */
export interface History {
  /** [U + 1] */
  offsets: Int32Array;
  /** [nnz] */
  items: Int32Array;
}

/**
 * The training rows of each user ordered by timestamp (file order among equal timestamps, and
 * without timestamps), repeats kept once (their latest position).
 */
export function userHistories(data: Interactions, rows: Int32Array): History {
  const U = data.numUsers;
  const ts = data.timestamps;
  const order = Int32Array.from(rows).sort((a, b) => (ts ? ts[a] - ts[b] : 0) || a - b);
  const offsets = new Int32Array(U + 1);
  for (const r of order) offsets[data.users[r] + 1]++;
  for (let u = 0; u < U; u++) offsets[u + 1] += offsets[u];
  const items = new Int32Array(order.length);
  const fill = offsets.slice(0, U);
  for (const r of order) items[fill[data.users[r]]++] = data.items[r];
  // drop earlier repeats of an item, compacting in place
  let out = 0;
  for (let u = 0; u < U; u++) {
    const start = offsets[u];
    const list = items.slice(start, offsets[u + 1]);
    offsets[u] = out;
    const last = new Map<number, number>();
    for (let k = 0; k < list.length; k++) last.set(list[k], k);
    for (let k = 0; k < list.length; k++) if (last.get(list[k]) === k) items[out++] = list[k];
  }
  offsets[U] = out;
  return { offsets, items: items.slice(0, out) };
}

/** The most recent H items of each user's history, -1 padded on the right. [U, H] */
export function historyMatrix(history: History, H: number): Int32Array {
  const U = history.offsets.length - 1;
  const out = new Int32Array(U * H).fill(-1);
  for (let u = 0; u < U; u++) {
    const end = history.offsets[u + 1];
    const start = Math.max(history.offsets[u], end - H);
    out.set(history.items.subarray(start, end), u * H);
  }
  return out;
}

/** The longest bag of a CSR. */
export function longestBag(bags: Pick<Bags, 'offsets'>): number {
  let L = 0;
  for (let i = 0; i + 1 < bags.offsets.length; i++) L = Math.max(L, bags.offsets[i + 1] - bags.offsets[i]);
  return L;
}

/** Bags as a -1-padded matrix of width L (the longest bag). [rows, L] */
export function bagMatrix(bags: Pick<Bags, 'offsets' | 'indices'>, L: number): Int32Array {
  const rows = bags.offsets.length - 1;
  const out = new Int32Array(rows * L).fill(-1);
  for (let i = 0; i < rows; i++) {
    const n = bags.offsets[i + 1] - bags.offsets[i];
    if (n > L) throw new ValueError(`bag ${i} has ${n} labels, more than the ${L} columns`);
    out.set(bags.indices.subarray(bags.offsets[i], bags.offsets[i + 1]), i * L);
  }
  return out;
}

/** The sorted, distinct items of each user's history (the "seen" lists of data/interaction-splits). */
export function seenOf(history: History): { offsets: Int32Array; items: Int32Array } {
  const items = history.items.slice();
  for (let u = 0; u + 1 < history.offsets.length; u++)
    items.subarray(history.offsets[u], history.offsets[u + 1]).sort();
  return { offsets: history.offsets, items };
}

/**
 * For each of `rows` (training rows), the H items its user met just before it (time order as
 * userHistories, file order among equal timestamps), -1 padded on the right: the history a
 * next-item model sees when it learns to predict that row's item. [rows.length, H]
 */
export function precedingItems(data: Interactions, rows: Int32Array, H: number): Int32Array {
  const ts = data.timestamps;
  const order = Int32Array.from(rows.keys()).sort(
    (a, b) => data.users[rows[a]] - data.users[rows[b]] || (ts ? ts[rows[a]] - ts[rows[b]] : 0) || rows[a] - rows[b],
  );
  const out = new Int32Array(rows.length * H).fill(-1);
  let start = 0; // where the current user's rows begin in `order`
  for (let k = 0; k < order.length; k++) {
    const j = order[k];
    if (k > 0 && data.users[rows[j]] !== data.users[rows[order[k - 1]]]) start = k;
    const from = Math.max(start, k - H);
    for (let p = from; p < k; p++) out[j * H + (p - from)] = data.items[rows[order[p]]];
  }
  return out;
}
