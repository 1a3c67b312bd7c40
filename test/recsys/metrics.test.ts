// Recommendation metrics on hand-computed cases: RMSE/MAE; the rank of a held-out item among the
// items a user has not seen (seen items skipped, the target ranked even if listed); HR@K and
// NDCG@K with ties counted in expectation; rankingMetrics over several users and chunks; and the
// popularity baseline through the same code.
import { describe, expect, it } from 'vitest';
import type { UserItems } from '../../src/data/interaction-splits.js';
import { hitAndGain, mae, popularityScores, rankingMetrics, rankOf, rmse } from '../../src/recsys/metrics.js';

/** Seen lists from plain arrays (sorted per user). */
function seen(lists: number[][]): UserItems {
  const offsets = new Int32Array(lists.length + 1);
  lists.forEach((l, u) => {
    offsets[u + 1] = offsets[u] + l.length;
  });
  return { offsets, items: Int32Array.from(lists.flatMap((l) => [...l].sort((a, b) => a - b))) };
}

describe('rating errors', () => {
  it('rmse and mae of a hand case', () => {
    // errors 1, -2, 0, 1: squares 1 4 0 1 → mean 1.5
    expect(rmse([4, 1, 3, 5], [3, 3, 3, 4])).toBeCloseTo(Math.sqrt(1.5), 12);
    expect(mae([4, 1, 3, 5], [3, 3, 3, 4])).toBeCloseTo(1, 12);
    expect(() => rmse([1], [1, 2])).toThrow(/rmse: 1 predictions for 2 targets/);
    expect(() => mae([], [])).toThrow(/mae: no predictions/);
  });
});

describe('ranking', () => {
  it('rankOf counts unseen items above and tied with the target; seen items do not count', () => {
    const s = seen([[1, 4]]);
    // items:        0    1    2    3    4    5
    const scores = [0.9, 5.0, 0.5, 0.9, 3.0, 0.1];
    // target 2 (0.5): above it 0 and 3 (1 and 4 are seen) → 2 greater, no ties
    expect(rankOf(scores, 2, 0, s)).toEqual({ greater: 2, ties: 0 });
    // target 0 (0.9): item 3 ties
    expect(rankOf(scores, 0, 0, s)).toEqual({ greater: 0, ties: 1 });
    // a target in the seen list is still ranked (as itself)
    expect(rankOf(scores, 4, 0, s)).toEqual({ greater: 0, ties: 0 });
    expect(() => rankOf([0, Number.NaN, 1], 2, 0, seen([[]]))).toThrow(/user 0's score of item 1 is NaN/);
  });

  it('hitAndGain: position p gains 1/log2(p+2) below K; ties give the expectation over the tied places', () => {
    expect(hitAndGain({ greater: 0, ties: 0 }, 10)).toEqual({ hit: 1, ndcg: 1 });
    const third = hitAndGain({ greater: 2, ties: 0 }, 10);
    expect(third.hit).toBe(1);
    expect(third.ndcg).toBeCloseTo(1 / Math.log2(4), 12); // 0.5
    expect(hitAndGain({ greater: 10, ties: 0 }, 10)).toEqual({ hit: 0, ndcg: 0 });
    // places 8..11 equally likely, 8 and 9 inside the top 10
    const tied = hitAndGain({ greater: 8, ties: 3 }, 10);
    expect(tied.hit).toBeCloseTo(2 / 4, 12);
    expect(tied.ndcg).toBeCloseTo((1 / Math.log2(10) + 1 / Math.log2(11)) / 4, 12);
  });

  it('rankingMetrics averages over held-out rows, scored in chunks', () => {
    // 3 items; user 0 saw item 0, user 1 nothing, user 2 saw item 2
    const s = seen([[0], [], [2]]);
    const table = [
      [9, 1, 2], // user 0, target 1: only item 2 counts, above → place 1
      [1, 2, 3], // user 1, target 2: first → place 0
      [5, 7, 9], // user 2, target 0: item 1 above (item 2 seen) → place 1
    ];
    const scoresOf = (users: Int32Array) => Float32Array.from(Array.from(users).flatMap((u) => table[u]));
    const r = rankingMetrics(scoresOf, { users: Int32Array.of(0, 1, 2), items: Int32Array.of(1, 2, 0) }, s, 3, {
      k: 1,
      chunk: 2,
    });
    expect(r.hr).toBeCloseTo(1 / 3, 12); // only user 1 in the top 1
    expect(r.ndcg).toBeCloseTo(1 / 3, 12);
    expect(r.candidates).toBeCloseTo((2 + 3 + 2) / 3, 12);
    const r2 = rankingMetrics(scoresOf, { users: Int32Array.of(0, 1, 2), items: Int32Array.of(1, 2, 0) }, s, 3, {
      k: 2,
    });
    expect(r2.hr).toBe(1);
    expect(r2.ndcg).toBeCloseTo((1 / Math.log2(3) + 1 + 1 / Math.log2(3)) / 3, 12);
    expect(() => rankingMetrics(scoresOf, { users: new Int32Array(0), items: new Int32Array(0) }, s, 3)).toThrow(
      /no held-out rows/,
    );
    expect(() =>
      rankingMetrics(() => new Float32Array(2), { users: Int32Array.of(0), items: Int32Array.of(1) }, s, 3),
    ).toThrow(/2 scores for 1 users × 3 items/);
  });

  it('the popularity baseline ranks by training counts, ties in expectation', () => {
    const counts = Int32Array.of(5, 3, 3, 0);
    const s = seen([[0], []]);
    // user 0 (saw the most popular item), target 2: ties with 1 → places 0 or 1; k = 1: hit ½
    // user 1, target 3: below 0, 1, 2 → place 3, no hit
    const r = rankingMetrics(
      popularityScores(counts),
      { users: Int32Array.of(0, 1), items: Int32Array.of(2, 3) },
      s,
      4,
      {
        k: 1,
      },
    );
    expect(r.hr).toBeCloseTo(0.25, 12);
    expect(r.ndcg).toBeCloseTo(0.25, 12);
  });
});
