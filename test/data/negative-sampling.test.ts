// The alias table draws in proportion to its weights; the negative sampler never returns an item
// the user has seen, draws the unseen items uniformly (or by popularity^alpha) — also for a user who
// has seen nearly everything — is reproducible from its seed, and says so when no negative exists.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasItem, seenItems, type UserItems } from '../../src/data/interaction-splits.js';
import { parseInteractions } from '../../src/data/interactions.js';
import { AliasTable, NegativeSampler } from '../../src/data/negative-sampling.js';
import { ValueError } from '../../src/errors.js';
import { Rng } from '../../src/tensor/random.js';

/** Seen lists from explicit per-user item lists. */
function lists(perUser: number[][]): UserItems {
  const offsets = Int32Array.from([0, ...perUser.map((l) => l.length)]);
  for (let u = 0; u < perUser.length; u++) offsets[u + 1] += offsets[u];
  return { offsets, items: Int32Array.from(perUser.flatMap((l) => [...new Set(l)].sort((a, b) => a - b))) };
}

/** Draw frequencies of `n` items. */
function frequencies(draws: Int32Array, n: number): number[] {
  const f = new Array<number>(n).fill(0);
  for (const i of draws) f[i]++;
  return f.map((c) => c / draws.length);
}

describe('AliasTable', () => {
  it('draws each index in proportion to its weight; weight 0 never', () => {
    const w = [5, 0, 1, 3, 0.5, 0.5];
    const table = new AliasTable(w);
    const rng = new Rng(7);
    const draws = Int32Array.from({ length: 200_000 }, () => table.sample(rng));
    const f = frequencies(draws, w.length);
    const total = w.reduce((a, b) => a + b);
    w.forEach((wi, i) => {
      expect(Math.abs(f[i] - wi / total)).toBeLessThan(0.005);
    });
    expect(f[1]).toBe(0);
    expect(() => new AliasTable([0, 0])).toThrow(ValueError);
    expect(() => new AliasTable([1, -1])).toThrow(/weight 1 is -1/);
  });
});

describe('NegativeSampler', () => {
  it('never returns a seen item, on random seen lists (uniform and by popularity)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.nat(39), { maxLength: 38 }), { minLength: 1, maxLength: 8 }),
        fc.nat(1000),
        fc.boolean(),
        (perUser, seed, popular) => {
          const seen = lists(perUser);
          const popularity = popular ? Array.from({ length: 40 }, (_, i) => 1 + (i % 5)) : undefined;
          const s = new NegativeSampler(seen, 40, { seed, popularity, alpha: 0.75 });
          const users = Int32Array.from({ length: 50 }, (_, b) => b % perUser.length);
          const neg = s.sampleBatch(users, 7);
          for (let b = 0; b < users.length; b++)
            for (let j = 0; j < 7; j++) {
              const i = neg[b * 7 + j];
              expect(i >= 0 && i < 40 && !hasItem(seen, users[b], i)).toBe(true);
            }
        },
      ),
      { numRuns: 80 },
    );
  });

  it('draws the unseen items uniformly, also for a user who has seen all but three (the direct path)', () => {
    const n = 1000;
    const all = Array.from({ length: n }, (_, i) => i);
    const seen = lists([[1, 2, 3], all.filter((i) => i !== 10 && i !== 500 && i !== 999)]);
    const s = new NegativeSampler(seen, n, { seed: 1 });
    const light = frequencies(s.sample(0, 200_000), n);
    for (const i of [1, 2, 3]) expect(light[i]).toBe(0);
    for (const i of [0, 4, 500, 999]) expect(Math.abs(light[i] - 1 / (n - 3))).toBeLessThan(0.0006);
    const heavy = frequencies(s.sample(1, 30_000), n);
    expect([heavy[10], heavy[500], heavy[999]].every((f) => Math.abs(f - 1 / 3) < 0.015)).toBe(true);
    expect(heavy[10] + heavy[500] + heavy[999]).toBe(1);
  });

  it('by popularity^alpha among the unseen; popularity 0 is never drawn', () => {
    const popularity = [8, 4, 0, 1, 1];
    const s = new NegativeSampler(lists([[0]]), 5, { seed: 2, popularity, alpha: 0.5 });
    const f = frequencies(s.sample(0, 200_000), 5);
    const w = [0, 2, 0, 1, 1]; // sqrt, item 0 seen
    w.forEach((wi, i) => {
      expect(Math.abs(f[i] - wi / 4)).toBeLessThan(0.005);
    });
  });

  it('is reproducible from its seed and differs across seeds', () => {
    const d = parseInteractions('user,item\n1,1\n1,2\n2,3\n2,4\n3,5\n3,6\n', 'x');
    const seen = seenItems(d);
    const users = Int32Array.of(0, 1, 2, 0);
    const a = new NegativeSampler(seen, d.numItems, { seed: 5 }).sampleBatch(users, 10);
    const b = new NegativeSampler(seen, d.numItems, { seed: 5 }).sampleBatch(users, 10);
    const c = new NegativeSampler(seen, d.numItems, { seed: 6 }).sampleBatch(users, 10);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('refuses a user with no possible negative, a user out of range, and bad sizes', () => {
    const s = new NegativeSampler(lists([[0, 1, 2], [0]]), 3);
    expect(() => s.sample(0, 1)).toThrow(/user 0 has interacted with every item that can be drawn \(3 items\)/);
    expect(() => s.sample(2, 1)).toThrow(/user 2 outside \[0, 2\)/);
    expect(() => s.sample(1, 3, new Int32Array(2))).toThrow(ValueError);
    expect(() => new NegativeSampler(lists([[5]]), 3)).toThrow(/seen item 5 outside \[0, 3\)/);
    expect(() => new NegativeSampler(lists([[0]]), 3, { popularity: [1, 2] })).toThrow(/popularity has 2 items/);
  });
});
