// A binary heap ordered by a `before` function: the queue of candidate merges in BPE training
// (most frequent pair first) and in encoding a piece (lowest merge rank first, leftmost first).
// Not for: anything needing decrease-key; callers push a fresh entry and skip stale ones on pop.

export class Heap<T> {
  private readonly items: T[];

  /** `before(a, b)`: a comes out first. `items` are taken over and heapified in O(n). */
  constructor(
    private readonly before: (a: T, b: T) => boolean,
    items: T[] = [],
  ) {
    this.items = items;
    for (let i = (items.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(item, items[p])) break;
      items[i] = items[p];
      i = p;
    }
    items[i] = item;
  }

  /** The first item, removed; undefined when empty. */
  pop(): T | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      this.down(0);
    }
    return top;
  }

  private down(i: number): void {
    const items = this.items;
    const n = items.length;
    const item = items[i];
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.before(items[c + 1], items[c])) c++;
      if (!this.before(items[c], item)) break;
      items[i] = items[c];
      i = c;
    }
    items[i] = item;
  }
}
