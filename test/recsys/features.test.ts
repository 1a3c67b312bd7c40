// What the models read besides ids: training histories in time order (ties in file order, repeats
// once at their latest place), the most recent H as a -1-padded matrix, genre bags as a padded
// matrix, and seen lists equal to data/interaction-splits' seenItems.
import { describe, expect, it } from 'vitest';
import { seenItems } from '../../src/data/interaction-splits.js';
import { parseInteractions } from '../../src/data/interactions.js';
import {
  bagMatrix,
  historyMatrix,
  longestBag,
  precedingItems,
  seenOf,
  userHistories,
} from '../../src/recsys/features.js';

// users a, b; items x y z w; timestamps out of file order, one tie (b: y and z at 5), one repeat (a: x)
const data = parseInteractions(
  ['user,item,rating,timestamp', 'a,x,4,30', 'a,y,3,10', 'b,y,5,5', 'a,z,2,20', 'b,z,1,5', 'a,x,5,40', 'b,w,3,1'].join(
    '\n',
  ),
  'mem.csv',
);
const id = (s: string) => data.itemIndex.get(s) as number;

describe('histories', () => {
  it('orders each user’s training rows by time (file order among ties), a repeat at its latest place', () => {
    const all = Int32Array.from({ length: data.size }, (_, r) => r);
    const h = userHistories(data, all);
    const list = (u: number) => Array.from(h.items.subarray(h.offsets[u], h.offsets[u + 1]));
    expect(list(data.userIndex.get('a') as number)).toEqual([id('y'), id('z'), id('x')]);
    expect(list(data.userIndex.get('b') as number)).toEqual([id('w'), id('y'), id('z')]);
    // only some rows: a's 'x' at 40 (row 5) left out keeps x at 30
    const some = userHistories(data, Int32Array.of(0, 1, 3));
    expect(Array.from(some.items)).toEqual([id('y'), id('z'), id('x')]);
    expect(Array.from(some.offsets)).toEqual([0, 3, 3]);
    // seen lists: the same sets as interaction-splits' seenItems
    const s = seenOf(h);
    const ref = seenItems(data, all);
    expect(Array.from(s.offsets)).toEqual(Array.from(ref.offsets));
    expect(Array.from(s.items)).toEqual(Array.from(ref.items));
  });

  it('precedingItems: each row’s H latest earlier items of its user (file order among equal times)', () => {
    // rows: 0 a,x,30  1 a,y,10  2 b,y,5  3 a,z,20  4 b,z,5  5 a,x,40  6 b,w,1
    const rows = Int32Array.of(0, 1, 2, 3, 4, 6);
    const p = precedingItems(data, rows, 2);
    const at = (k: number) => Array.from(p.subarray(2 * k, 2 * k + 2));
    expect(at(1)).toEqual([-1, -1]); // a,y is a's first
    expect(at(3)).toEqual([id('y'), -1]); // a,z after y
    expect(at(0)).toEqual([id('y'), id('z')]); // a,x at 30 after y, z
    expect(at(5)).toEqual([-1, -1]); // b,w first
    expect(at(2)).toEqual([id('w'), -1]); // b,y (tie with b,z at 5: file order)
    expect(at(4)).toEqual([id('w'), id('y')]);
    // H = 1 keeps only the latest
    expect(Array.from(precedingItems(data, rows, 1).subarray(0, 1))).toEqual([id('z')]);
  });

  it('historyMatrix keeps the most recent H, -1 padded', () => {
    const h = { offsets: Int32Array.of(0, 3, 4, 4), items: Int32Array.of(7, 8, 9, 5) };
    expect(Array.from(historyMatrix(h, 2))).toEqual([8, 9, 5, -1, -1, -1]);
    expect(Array.from(historyMatrix(h, 4))).toEqual([7, 8, 9, -1, 5, -1, -1, -1, -1, -1, -1, -1]);
  });

  it('bagMatrix pads each bag to the longest', () => {
    const bags = { offsets: Int32Array.of(0, 2, 2, 3), indices: Int32Array.of(0, 3, 1) };
    expect(longestBag(bags)).toBe(2);
    expect(Array.from(bagMatrix(bags, 2))).toEqual([0, 3, -1, -1, 1, -1]);
    expect(() => bagMatrix(bags, 1)).toThrow(/bag 0 has 2 labels, more than the 1 columns/);
  });
});
