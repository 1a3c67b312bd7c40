// Splits, cold-start counts and seen lists, checked against plain references on random interactions
// (fast-check): every row lands in exactly one part, the fractions hold, a seed fixes the split,
// leave-last-out holds out each user's latest row (ties: the later row), seen lists are each user's
// sorted distinct items.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  coldStart,
  hasItem,
  itemCounts,
  leaveLastOut,
  randomSplit,
  seenItems,
} from '../../src/data/interaction-splits.js';
import { type Interactions, parseInteractions } from '../../src/data/interactions.js';
import { ValueError } from '../../src/errors.js';

/** Interactions from (user, item, timestamp) triples, through the loader. */
function data(rows: readonly (readonly [number, number, number])[]): Interactions {
  return parseInteractions(`user,item,timestamp\n${rows.map((r) => r.join(',')).join('\n')}\n`, 'gen');
}
const arbRows = fc.array(fc.tuple(fc.nat(12), fc.nat(30), fc.nat(5)), { minLength: 1, maxLength: 200 });

/** Each row's part: 0 train, 1 validation, 2 test; throws when a row is in none or two. */
function parts(n: number, s: { train: Int32Array; validation: Int32Array; test: Int32Array }): number[] {
  const part = new Array<number>(n).fill(-1);
  [s.train, s.validation, s.test].forEach((rows, p) => {
    for (const r of rows) {
      if (part[r] !== -1) throw new Error(`row ${r} in two parts`);
      part[r] = p;
    }
    expect([...rows]).toEqual([...rows].sort((a, b) => a - b));
  });
  if (part.includes(-1)) throw new Error('a row in no part');
  return part;
}

describe('randomSplit', () => {
  it('puts every row in exactly one part, in the asked proportions, the same for the same seed', () => {
    fc.assert(
      fc.property(arbRows, fc.nat(1000), fc.double({ min: 0.05, max: 0.6, noNaN: true }), (rows, seed, tf) => {
        const d = data(rows);
        const s = randomSplit(d, { seed, testFraction: tf, validationFraction: 0.1 });
        parts(d.size, s);
        expect(s.test.length).toBe(Math.round(d.size * tf));
        expect(s.validation.length).toBe(Math.round(d.size * 0.1));
        expect(randomSplit(d, { seed, testFraction: tf, validationFraction: 0.1 })).toEqual(s);
      }),
      { numRuns: 60 },
    );
  });

  it('different seeds give different splits; bad fractions are refused', () => {
    const d = data(Array.from({ length: 100 }, (_, i) => [i % 7, i, 0] as const));
    expect([...randomSplit(d, { seed: 1 }).test]).not.toEqual([...randomSplit(d, { seed: 2 }).test]);
    expect(() => randomSplit(d, { testFraction: 1 })).toThrow(ValueError);
    expect(() => randomSplit(d, { testFraction: 0.5, validationFraction: 0.5 })).toThrow(/leave rows to train/);
    expect(() => randomSplit(d, { seed: 0.5 })).toThrow(/seed must be an integer/);
  });
});

describe('leaveLastOut', () => {
  it('holds out each user’s latest row (ties: the later row) and, with validation, the latest of the rest', () => {
    fc.assert(
      fc.property(arbRows, (rows) => {
        const d = data(rows);
        const s = leaveLastOut(d, { validation: true });
        const part = parts(d.size, s);
        // reference: each user's rows by (timestamp, row) descending
        const byUser = new Map<number, number[]>();
        for (const [r, [u]] of rows.entries()) byUser.set(u, [...(byUser.get(u) ?? []), r]);
        const want = new Array<number>(d.size).fill(0);
        for (const rs of byUser.values()) {
          rs.sort((a, b) => rows[b][2] - rows[a][2] || b - a);
          if (rs.length >= 2) want[rs[0]] = 2;
          if (rs.length >= 3) want[rs[1]] = 1;
        }
        expect(part).toEqual(want);
        const noVal = leaveLastOut(d);
        expect(noVal.validation).toHaveLength(0);
        expect(parts(d.size, noVal)).toEqual(want.map((p) => (p === 2 ? 2 : 0)));
      }),
      { numRuns: 100 },
    );
  });

  it('a user with one interaction stays in train; no timestamp column is an error', () => {
    const d = data([
      [1, 5, 10],
      [2, 6, 10],
      [2, 7, 11],
    ]);
    const s = leaveLastOut(d);
    expect([...s.test]).toEqual([2]);
    expect([...s.train]).toEqual([0, 1]);
    expect(() => leaveLastOut(parseInteractions('user,item\n1,2\n', 'implicit'))).toThrow(
      'leaveLastOut: implicit has no timestamp column',
    );
  });
});

describe('coldStart', () => {
  it('counts held-out users, items and rows training never saw', () => {
    fc.assert(
      fc.property(arbRows, fc.nat(100), (rows, seed) => {
        const d = data(rows);
        const s = randomSplit(d, { seed });
        const trainUsers = new Set([...s.train].map((r) => d.users[r]));
        const trainItems = new Set([...s.train].map((r) => d.items[r]));
        const test = [...s.test];
        const users = new Set(test.map((r) => d.users[r]).filter((u) => !trainUsers.has(u)));
        const items = new Set(test.map((r) => d.items[r]).filter((i) => !trainItems.has(i)));
        const nRows = test.filter((r) => !trainUsers.has(d.users[r]) || !trainItems.has(d.items[r])).length;
        expect(s.coldStart.test).toEqual({ users: users.size, items: items.size, rows: nRows });
        expect(coldStart(d, s.train, s.test)).toEqual(s.coldStart.test);
      }),
      { numRuns: 60 },
    );
  });
});

describe('seenItems', () => {
  it("holds each user's distinct items among the rows, sorted; hasItem finds exactly those", () => {
    fc.assert(
      fc.property(arbRows, fc.nat(100), (rows, seed) => {
        const d = data(rows);
        const part = randomSplit(d, { seed }).train;
        const seen = seenItems(d, part);
        expect(seen.offsets).toHaveLength(d.numUsers + 1);
        for (let u = 0; u < d.numUsers; u++) {
          const want = [...new Set([...part].filter((r) => d.users[r] === u).map((r) => d.items[r]))].sort(
            (a, b) => a - b,
          );
          expect([...seen.items.subarray(seen.offsets[u], seen.offsets[u + 1])]).toEqual(want);
          for (let i = 0; i < d.numItems; i++) expect(hasItem(seen, u, i)).toBe(want.includes(i));
        }
        expect(seenItems(d).items.length).toBe(new Set(rows.map(([u, i]) => `${u},${i}`)).size);
      }),
      { numRuns: 40 },
    );
  });

  it('itemCounts counts the rows of each item', () => {
    const d = data([
      [1, 5, 0],
      [2, 5, 0],
      [2, 9, 0],
    ]);
    expect([...itemCounts(d)]).toEqual([2, 1]);
    expect([...itemCounts(d, Int32Array.of(2))]).toEqual([0, 1]);
  });
});
