// DataLoader: batch shapes, epoch orders and augmentation are pure functions of (seed, epoch, batch);
// subset and trainValSplit select the right rows.
import { describe, expect, it } from 'vitest';
import { type ArrayDataset, DataLoader, subset, trainValSplit } from '../../src/data/index.js';
import { ValueError } from '../../src/errors.js';
import { memoryStats, tidy } from '../../src/index.js';

/** n images [H, W, 1] whose pixel (r, c) of sample i is i * 100 + r * W + c; label i mod 3. */
function ramp(n: number, H = 4, W = 5): ArrayDataset {
  const x = new Float32Array(n * H * W);
  for (let i = 0; i < x.length; i++) x[i] = Math.floor(i / (H * W)) * 100 + (i % (H * W));
  return {
    x,
    y: Int32Array.from({ length: n }, (_, i) => i % 3),
    sampleShape: [H, W, 1],
    classNames: ['a', 'b', 'c'],
    size: n,
    preprocessing: { kind: 'image', inputShape: [H, W, 1], scale: 1, mean: [1], std: [2] },
    name: 'ramp',
  };
}

describe('DataLoader batches', () => {
  it('has full batches, then a partial last batch unless dropLast', () => {
    const ds = ramp(10);
    const loader = new DataLoader(ds, { batchSize: 4 });
    expect(loader.numBatches).toBe(3);
    tidy(() => {
      const b0 = loader.batch(0, 0);
      expect(b0.x.shape).toEqual([4, 4, 5, 1]);
      expect(b0.x.dtype).toBe('float32');
      expect(b0.y.shape).toEqual([4]);
      expect(b0.y.dtype).toBe('int32');
      expect(b0.size).toBe(4);
      expect(Array.from(b0.x.data())).toEqual(Array.from(ds.x.subarray(0, 80))); // no shuffle: file order
      const last = loader.batch(0, 2);
      expect(last.size).toBe(2);
      expect(last.x.shape).toEqual([2, 4, 5, 1]);
      expect(Array.from(last.y.data())).toEqual([2, 0]); // samples 8, 9
      expect(Array.from(last.x.data())).toEqual(Array.from(ds.x.subarray(160, 200)));
    });
    const dropping = new DataLoader(ds, { batchSize: 4, dropLast: true });
    expect(dropping.numBatches).toBe(2);
    expect(() => dropping.batch(0, 2)).toThrow(ValueError);
    expect(() => new DataLoader(ds, { batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
  });

  it('batch tensors belong to the current tidy scope', () => {
    const loader = new DataLoader(ramp(10), { batchSize: 4 });
    tidy(() => loader.batch(0, 0)); // warm the heap's caches
    const before = memoryStats().liveBytes;
    tidy(() => {
      loader.batch(0, 1);
      expect(memoryStats().liveBytes).toBeGreaterThan(before);
    });
    expect(memoryStats().liveBytes).toBe(before);
  });

  it('int32 text datasets give int32 batches', () => {
    const ds: ArrayDataset = {
      x: Int32Array.from([1, 2, -1, 3, -1, -1, 4, 5, 6]),
      y: Int32Array.from([0, 1, 0]),
      sampleShape: [3],
      classNames: ['n', 'p'],
      size: 3,
      preprocessing: { kind: 'text', inputShape: [3], tokenizer: { kind: 'hash', buckets: 8, lowercase: true } },
      name: 'tokens',
    };
    tidy(() => {
      const { x } = new DataLoader(ds, { batchSize: 2 }).batch(0, 1);
      expect(x.dtype).toBe('int32');
      expect(Array.from(x.data())).toEqual([4, 5, 6]);
    });
  });
});

describe('DataLoader order', () => {
  it('is a permutation that depends only on (seed, epoch)', () => {
    const ds = ramp(50);
    const a = new DataLoader(ds, { batchSize: 8, shuffle: true, seed: 7 });
    const b = new DataLoader(ds, { batchSize: 8, shuffle: true, seed: 7 });
    const e0 = a.order(0);
    expect([...e0].sort((p, q) => p - q)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(e0).not.toEqual(Int32Array.from({ length: 50 }, (_, i) => i));
    a.order(3); // visiting other epochs first changes nothing (a resumed run)
    expect(b.order(0)).toEqual(e0);
    expect(a.order(0)).toEqual(e0);
    expect(a.order(1)).not.toEqual(e0);
    expect(new DataLoader(ds, { batchSize: 8, shuffle: true, seed: 8 }).order(0)).not.toEqual(e0);
    expect(new DataLoader(ds, { batchSize: 8 }).order(5)).toEqual(Int32Array.from({ length: 50 }, (_, i) => i));
  });

  it('batches follow the order', () => {
    const ds = ramp(20);
    const loader = new DataLoader(ds, { batchSize: 6, shuffle: true, seed: 1 });
    const order = loader.order(2);
    tidy(() => {
      const { y, x } = loader.batch(2, 1);
      expect(Array.from(y.data())).toEqual(Array.from(order.subarray(6, 12), (i) => ds.y[i]));
      expect(x.data()[0]).toBe(order[6] * 100); // pixel (0, 0) of the first sample
    });
  });
});

describe('DataLoader augmentation', () => {
  const H = 4;
  const W = 5;
  const pad = (0 - 1) / 2; // a black pixel after (x - mean) / std with mean 1, std 2

  /** Which input pixel (or the padding) each output pixel of one augmented sample came from. */
  function sources(out: Float32Array, i: number): { dy: number; dx: number; flip: boolean } {
    // find a (dy, dx, flip) consistent with every pixel of the sample
    for (const flip of [false, true])
      for (let dy = -2; dy <= 2; dy++)
        for (let dx = -2; dx <= 2; dx++) {
          let ok = true;
          for (let h = 0; h < H && ok; h++)
            for (let w = 0; w < W && ok; w++) {
              const sh = h + dy;
              const sw = (flip ? W - 1 - w : w) + dx;
              const want = sh < 0 || sh >= H || sw < 0 || sw >= W ? pad : i * 100 + sh * W + sw;
              ok = out[(h * W + w) * 1] === want;
            }
          if (ok) return { dy, dx, flip };
        }
    throw new Error(`sample ${i} is no shift/flip of its input`);
  }

  it('flips horizontally: pixel (r, c) comes from (r, W-1-c)', () => {
    const ds = ramp(16, H, W);
    const loader = new DataLoader(ds, { batchSize: 16, augment: { horizontalFlip: true }, seed: 3 });
    const x = tidy(() => loader.batch(0, 0).x.data()) as Float32Array;
    let flipped = 0;
    for (let i = 0; i < 16; i++) {
      const s = x.subarray(i * H * W, (i + 1) * H * W);
      const isFlipped = s[0] === i * 100 + (W - 1);
      if (isFlipped) {
        flipped++;
        for (let r = 0; r < H; r++)
          for (let c = 0; c < W; c++) expect(s[r * W + c]).toBe(i * 100 + r * W + (W - 1 - c));
      } else {
        expect(Array.from(s)).toEqual(Array.from(ds.x.subarray(i * H * W, (i + 1) * H * W)));
      }
    }
    expect(flipped).toBeGreaterThan(0);
    expect(flipped).toBeLessThan(16);
  });

  it('crops from a padded image: a shifted copy with black padding', () => {
    const ds = ramp(32, H, W);
    const loader = new DataLoader(ds, { batchSize: 32, augment: { cropPadding: 2, horizontalFlip: true }, seed: 5 });
    const x = tidy(() => loader.batch(0, 0).x.data()) as Float32Array;
    const seen = new Set<string>();
    for (let i = 0; i < 32; i++) {
      const { dy, dx, flip } = sources(x.subarray(i * H * W, (i + 1) * H * W), i);
      seen.add(`${dy},${dx},${flip}`);
    }
    expect(seen.size).toBeGreaterThan(8); // offsets and flips really vary
    expect(x).toContain(pad);
  });

  it('is the same for the same (seed, epoch, batch) and differs across epochs', () => {
    const ds = ramp(32, H, W);
    const opts = { batchSize: 8, shuffle: true, seed: 11, augment: { cropPadding: 1, horizontalFlip: true } };
    const a = new DataLoader(ds, opts);
    const b = new DataLoader(ds, opts);
    tidy(() => {
      a.batch(4, 2); // other batches in between change nothing
      expect(a.batch(1, 3).x.data()).toEqual(b.batch(1, 3).x.data());
      expect(a.batch(1, 3).x.data()).not.toEqual(a.batch(2, 3).x.data());
    });
  });

  it('is refused for non-image data', () => {
    const ds = { ...ramp(4), sampleShape: [20], preprocessing: { kind: 'tabular' as const, inputShape: [20] } };
    expect(() => new DataLoader(ds, { batchSize: 2, augment: { horizontalFlip: true } })).toThrow(
      /image datasets only/,
    );
  });
});

describe('subset and trainValSplit', () => {
  it('subset copies the chosen rows in order', () => {
    const ds = ramp(6);
    const s = subset(ds, [4, 1]);
    expect(s.size).toBe(2);
    expect(Array.from(s.y)).toEqual([1, 1]);
    expect(s.x[0]).toBe(400);
    expect(s.x[20]).toBe(100);
    expect(() => subset(ds, [6])).toThrow(/index 6 is outside \[0, 6\)/);
  });

  it('trainValSplit is a seeded partition', () => {
    const ds = ramp(100);
    const [train, val] = trainValSplit(ds, 0.2, 42);
    expect(train.size).toBe(80);
    expect(val.size).toBe(20);
    const ids = (d: ArrayDataset) => Array.from({ length: d.size }, (_, i) => d.x[i * 20] / 100);
    const all = [...ids(train), ...ids(val)].sort((p, q) => p - q);
    expect(all).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(ids(val)).not.toEqual(Array.from({ length: 20 }, (_, i) => i)); // not just the first rows
    const [, again] = trainValSplit(ds, 0.2, 42);
    expect(ids(again)).toEqual(ids(val));
    const [, other] = trainValSplit(ds, 0.2, 43);
    expect(ids(other)).not.toEqual(ids(val));
  });
});
