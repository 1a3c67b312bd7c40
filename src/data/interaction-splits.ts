// Train/validation/test splits of interactions (seeded random, and leave-last-out per user by
// timestamp), the cold-start counts of a held-out part, and per-user item lists in CSR form (what a
// user has already seen: excluded by top-K inference, by ranking metrics and by negative sampling).
// Splits are row indices into the Interactions (subsetInteractions materialises one).
// Not for: loading (interactions.ts), sampling negatives (negative-sampling.ts).
import { ValueError } from '../errors.js';
import { Rng } from '../tensor/random.js';
import type { Interactions } from './interactions.js';

/** Users, items and rows of a held-out part that training never saw. */
export interface ColdStart {
  /** Distinct users of the held-out rows with no training row. */
  users: number;
  /** Distinct items of the held-out rows with no training row. */
  items: number;
  /** Held-out rows whose user or item has no training row. */
  rows: number;
}

/** A split as ascending row indices into the Interactions; every row is in exactly one part. */
export interface InteractionSplit {
  train: Int32Array;
  /** Empty unless a validation part was asked for. */
  validation: Int32Array;
  test: Int32Array;
  coldStart: { validation: ColdStart; test: ColdStart };
}

/** Per-user sorted, distinct item lists: user u's are items[offsets[u] .. offsets[u+1]). */
export interface UserItems {
  /** [U + 1] */
  offsets: Int32Array;
  /** [nnz] ascending within each user */
  items: Int32Array;
}

export interface RandomSplitOptions {
  /** Share of the rows held out as test (default 0.2). */
  testFraction?: number;
  /** Share of the rows held out as validation (default 0). */
  validationFraction?: number;
  /** Seed of the shuffle (default 0). */
  seed?: number;
}

/**
 * Seeded random split over rows: the rows shuffled by Rng(seed), the first round(N·testFraction)
 * are test, the next round(N·validationFraction) validation, the rest train.
 */
export function randomSplit(data: Interactions, opts: RandomSplitOptions = {}): InteractionSplit {
  const { testFraction = 0.2, validationFraction = 0, seed = 0 } = opts;
  if (!(testFraction > 0 && testFraction < 1))
    throw new ValueError(`randomSplit: testFraction must be in (0, 1), got ${testFraction}`);
  if (!(validationFraction >= 0 && testFraction + validationFraction < 1))
    throw new ValueError(
      `randomSplit: validationFraction must be ≥ 0 and leave rows to train (test ${testFraction} + validation ${validationFraction} < 1)`,
    );
  if (!Number.isInteger(seed)) throw new ValueError(`randomSplit: seed must be an integer, got ${seed}`);
  const order = new Rng(seed).shuffle(Int32Array.from({ length: data.size }, (_, r) => r));
  const nTest = Math.round(data.size * testFraction);
  const nVal = Math.round(data.size * validationFraction);
  const test = order.slice(0, nTest).sort();
  const validation = order.slice(nTest, nTest + nVal).sort();
  const train = order.slice(nTest + nVal).sort();
  return withColdStart(data, train, validation, test);
}

/**
 * Leave-last-out per user by timestamp: each user's latest interaction is test (and, with
 * opts.validation, the latest of the rest is validation). Equal timestamps: the row later in the
 * file counts as later. A user keeps at least one training row: with one interaction it stays in
 * train (no test row), with two and opts.validation it gets a test row but no validation row.
 */
export function leaveLastOut(data: Interactions, opts: { validation?: boolean } = {}): InteractionSplit {
  const ts = data.timestamps;
  if (!ts) throw new ValueError(`leaveLastOut: ${data.name} has no timestamp column`);
  const byUser = rowsByUser(data);
  const part = new Uint8Array(data.size); // 0 train, 1 validation, 2 test
  const held = opts.validation ? 2 : 1;
  for (let u = 0; u < data.numUsers; u++) {
    const rows = byUser.items.subarray(byUser.offsets[u], byUser.offsets[u + 1]); // ascending rows
    for (let h = 0; h < held && rows.length - h >= 2; h++) {
      let best = -1;
      for (const r of rows) if (part[r] === 0 && (best < 0 || ts[r] >= ts[best])) best = r;
      part[best] = h === 0 ? 2 : 1;
    }
  }
  const pick = (p: number) => {
    let n = 0;
    for (let r = 0; r < data.size; r++) if (part[r] === p) n++;
    const out = new Int32Array(n);
    for (let r = 0, j = 0; r < data.size; r++) if (part[r] === p) out[j++] = r;
    return out;
  };
  return withColdStart(data, pick(0), pick(1), pick(2));
}

/** What `heldOut` has that `train` lacks (see ColdStart). */
export function coldStart(data: Interactions, train: Int32Array, heldOut: Int32Array): ColdStart {
  const seenUser = new Uint8Array(data.numUsers);
  const seenItem = new Uint8Array(data.numItems);
  for (const r of train) {
    seenUser[data.users[r]] = 1;
    seenItem[data.items[r]] = 1;
  }
  const coldUser = new Uint8Array(data.numUsers);
  const coldItem = new Uint8Array(data.numItems);
  let rows = 0;
  for (const r of heldOut) {
    const u = data.users[r];
    const i = data.items[r];
    if (!seenUser[u]) coldUser[u] = 1;
    if (!seenItem[i]) coldItem[i] = 1;
    if (!seenUser[u] || !seenItem[i]) rows++;
  }
  return { users: count(coldUser), items: count(coldItem), rows };
}

/**
 * Each user's distinct items among `rows` (default: every row), sorted: the "seen" lists that
 * inference and ranking metrics exclude and negative sampling avoids.
 */
export function seenItems(data: Interactions, rows?: Int32Array): UserItems {
  const U = data.numUsers;
  const n = rows ? rows.length : data.size;
  const offsets = new Int32Array(U + 1);
  for (let j = 0; j < n; j++) offsets[data.users[rows ? rows[j] : j] + 1]++;
  for (let u = 0; u < U; u++) offsets[u + 1] += offsets[u];
  const items = new Int32Array(n);
  const fill = offsets.slice(0, U);
  for (let j = 0; j < n; j++) {
    const r = rows ? rows[j] : j;
    items[fill[data.users[r]]++] = data.items[r];
  }
  // sort each user's list and drop repeats, compacting in place
  let out = 0;
  for (let u = 0; u < U; u++) {
    const list = items.subarray(offsets[u], offsets[u + 1]).sort();
    offsets[u] = out;
    for (let k = 0; k < list.length; k++) if (k === 0 || list[k] !== list[k - 1]) items[out++] = list[k];
  }
  offsets[U] = out;
  return { offsets, items: items.slice(0, out) };
}

/** Whether user u's sorted list holds item i (binary search). */
export function hasItem(lists: UserItems, u: number, i: number): boolean {
  const { items } = lists;
  let lo = lists.offsets[u];
  let hi = lists.offsets[u + 1];
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = items[mid];
    if (v === i) return true;
    if (v < i) lo = mid + 1;
    else hi = mid;
  }
  return false;
}

/** How many of `rows` (default: all) each item has: popularity, for baselines and sampling. [I] */
export function itemCounts(data: Interactions, rows?: Int32Array): Int32Array {
  const counts = new Int32Array(data.numItems);
  if (rows) for (const r of rows) counts[data.items[r]]++;
  else for (const i of data.items) counts[i]++;
  return counts;
}

/** The rows of each user in file order, as UserItems whose "items" are row indices. */
function rowsByUser(data: Interactions): UserItems {
  const offsets = new Int32Array(data.numUsers + 1);
  for (const u of data.users) offsets[u + 1]++;
  for (let u = 0; u < data.numUsers; u++) offsets[u + 1] += offsets[u];
  const rows = new Int32Array(data.size);
  const fill = offsets.slice(0, data.numUsers);
  for (let r = 0; r < data.size; r++) rows[fill[data.users[r]]++] = r;
  return { offsets, items: rows };
}

function withColdStart(
  data: Interactions,
  train: Int32Array,
  validation: Int32Array,
  test: Int32Array,
): InteractionSplit {
  return {
    train,
    validation,
    test,
    coldStart: { validation: coldStart(data, train, validation), test: coldStart(data, train, test) },
  };
}

function count(flags: Uint8Array): number {
  let n = 0;
  for (const f of flags) n += f;
  return n;
}
