// Negative sampling for implicit feedback: for a user, items the user has not interacted with,
// drawn uniformly or in proportion to popularity^alpha (an alias table: one random number and two
// array reads a draw), rejecting the user's seen items by binary search in their sorted list. A
// user who has seen most of the catalogue would make rejection slow: after a few rejections that
// user's unseen items are listed once (with their cumulative weights) and drawn from directly,
// which gives the same distribution.
// Not for: seen lists and popularity counts (interaction-splits.ts).
import { ValueError } from '../errors.js';
import { Rng } from '../tensor/random.js';
import { hasItem, type UserItems } from './interaction-splits.js';

/** Walker/Vose alias table: draws index i with probability weights[i] / Σ weights in O(1). */
export class AliasTable {
  readonly size: number;
  /** [n] probability of keeping the drawn column */
  private readonly prob: Float64Array;
  /** [n] the other index of each column */
  private readonly alias: Int32Array;

  constructor(weights: ArrayLike<number>) {
    const n = weights.length;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const w = weights[i];
      if (!(w >= 0 && Number.isFinite(w))) throw new ValueError(`AliasTable: weight ${i} is ${w}, expected ≥ 0`);
      total += w;
    }
    if (!(total > 0)) throw new ValueError(`AliasTable: the ${n} weights sum to ${total}, expected > 0`);
    this.size = n;
    this.prob = new Float64Array(n);
    this.alias = new Int32Array(n);
    const scaled = Float64Array.from(weights, (w) => (w * n) / total);
    const small: number[] = [];
    const large: number[] = [];
    for (let i = n - 1; i >= 0; i--) (scaled[i] < 1 ? small : large).push(i);
    while (small.length > 0 && large.length > 0) {
      const s = small.pop() as number;
      const l = large.pop() as number;
      this.prob[s] = scaled[s];
      this.alias[s] = l;
      scaled[l] = scaled[l] + scaled[s] - 1;
      (scaled[l] < 1 ? small : large).push(l);
    }
    // what is left is 1 up to rounding
    for (const i of large) this.prob[i] = 1;
    for (const i of small) this.prob[i] = 1;
  }

  /** One index drawn with rng. */
  sample(rng: Rng): number {
    const x = rng.next() * this.size;
    const i = Math.floor(x);
    return x - i < this.prob[i] ? i : this.alias[i];
  }
}

export interface NegativeSamplerOptions {
  /** Seed of the sampler's own Rng (default 0). */
  seed?: number;
  /**
   * Item popularity (e.g. itemCounts of the training rows): items are drawn in proportion to
   * popularity[i]^alpha; an item of popularity 0 is then never drawn. Default: uniform.
   */
  popularity?: ArrayLike<number>;
  /** The exponent on popularity (default 1; 0.75 as word2vec; 0 is uniform). */
  alpha?: number;
}

/** Rejections in a row after which a user's unseen items are listed and drawn from directly. */
const MAX_REJECTIONS = 32;

/**
 * Draws, for a user, items not in their seen list (seenItems of the training rows, so a training
 * positive is never a negative). Draws are independent (with replacement) and reproducible from
 * the seed.
 */
export class NegativeSampler {
  readonly numItems: number;
  private readonly seen: UserItems;
  private readonly rng: Rng;
  private readonly alias?: AliasTable;
  private readonly weights?: Float64Array;
  /** Users whose rejections ran out: their unseen items and cumulative weights. */
  private readonly direct = new Map<number, { items: Int32Array; cumulative: Float64Array }>();

  constructor(seen: UserItems, numItems: number, opts: NegativeSamplerOptions = {}) {
    const { seed = 0, popularity, alpha = 1 } = opts;
    if (!Number.isInteger(numItems) || numItems < 1)
      throw new ValueError(`NegativeSampler: numItems must be a positive integer, got ${numItems}`);
    for (const i of seen.items)
      if (!(i >= 0 && i < numItems)) throw new ValueError(`NegativeSampler: seen item ${i} outside [0, ${numItems})`);
    this.numItems = numItems;
    this.seen = seen;
    this.rng = new Rng(seed);
    if (popularity !== undefined && alpha !== 0) {
      if (popularity.length !== numItems)
        throw new ValueError(`NegativeSampler: popularity has ${popularity.length} items, expected ${numItems}`);
      this.weights = Float64Array.from(popularity, (p) => p ** alpha);
      this.alias = new AliasTable(this.weights);
    }
  }

  /** The number of users the seen lists cover. */
  get numUsers(): number {
    return this.seen.offsets.length - 1;
  }

  /** k negatives for user u into out (default a new Int32Array(k)). */
  sample(u: number, k: number, out: Int32Array = new Int32Array(k)): Int32Array {
    if (!(Number.isInteger(u) && u >= 0 && u < this.numUsers))
      throw new ValueError(`NegativeSampler: user ${u} outside [0, ${this.numUsers})`);
    if (!(Number.isInteger(k) && k >= 0 && out.length >= k))
      throw new ValueError(`NegativeSampler: k = ${k} negatives into an array of ${out.length}`);
    for (let j = 0; j < k; j++) out[j] = this.draw(u);
    return out;
  }

  /** k negatives for each of users[b]: out[b·k + j]. [B, k] */
  sampleBatch(users: Int32Array, k: number, out: Int32Array = new Int32Array(users.length * k)): Int32Array {
    if (out.length < users.length * k)
      throw new ValueError(`NegativeSampler: ${users.length}×${k} negatives into an array of ${out.length}`);
    for (let b = 0; b < users.length; b++) this.sample(users[b], k, out.subarray(b * k, (b + 1) * k));
    return out;
  }

  private draw(u: number): number {
    const cached = this.direct.get(u);
    if (cached) return this.drawDirect(cached);
    for (let t = 0; t < MAX_REJECTIONS; t++) {
      const i = this.alias ? this.alias.sample(this.rng) : this.rng.int(this.numItems);
      // (an alias column of weight 0 is kept with probability 0, but rounding is not trusted)
      if (!hasItem(this.seen, u, i) && (!this.weights || this.weights[i] > 0)) return i;
    }
    const list = this.unseen(u);
    this.direct.set(u, list);
    return this.drawDirect(list);
  }

  private drawDirect(list: { items: Int32Array; cumulative: Float64Array }): number {
    const { items, cumulative } = list;
    const x = this.rng.next() * cumulative[cumulative.length - 1];
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid] > x) hi = mid;
      else lo = mid + 1;
    }
    return items[lo];
  }

  /** User u's unseen items of positive weight, with cumulative weights. */
  private unseen(u: number): { items: Int32Array; cumulative: Float64Array } {
    const items: number[] = [];
    const cumulative: number[] = [];
    let total = 0;
    for (let i = 0; i < this.numItems; i++) {
      const w = this.weights ? this.weights[i] : 1;
      if (w > 0 && !hasItem(this.seen, u, i)) {
        total += w;
        items.push(i);
        cumulative.push(total);
      }
    }
    if (items.length === 0)
      throw new ValueError(
        `NegativeSampler: user ${u} has interacted with every item that can be drawn (${this.numItems} items${this.weights ? ', those of popularity > 0' : ''}): no negative exists`,
      );
    return { items: Int32Array.from(items), cumulative: Float64Array.from(cumulative) };
  }
}
