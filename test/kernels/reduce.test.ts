// Reductions vs a naive reference: sum/mean/max/min over every axis subset of ranks 1-4 with odd
// sizes, negative axes, a split-sized case, argmax with ties and NaN; both builds, 1 and 2 threads.
import { describe, expect, it } from 'vitest';
import { ValueError } from '../../src/errors.js';
import { argmax, REDUCE_OPS, type ReduceOp, reduce } from '../../src/kernels/reduce.js';
import { download, downloadI32, engineConfigs, engineFor, expectClose, rand, upload } from '../helpers.js';

function refReduce(op: ReduceOp, x: Float32Array, shape: number[], axes: number[]): Float32Array {
  const rank = shape.length;
  const ax = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
  const outShape = shape.filter((_, k) => !ax.has(k));
  const n = outShape.reduce((p, d) => p * d, 1);
  const acc = new Float64Array(n).fill(op === 'max' ? -Infinity : op === 'min' ? Infinity : 0);
  const count = shape.reduce((p, d, k) => (ax.has(k) ? p * d : p), 1);
  for (let i = 0; i < x.length; i++) {
    let r = i;
    let o = 0;
    let mul = 1;
    for (let k = rank - 1; k >= 0; k--) {
      const ik = r % shape[k];
      r = Math.floor(r / shape[k]);
      if (!ax.has(k)) {
        o += ik * mul;
        mul *= shape[k];
      }
    }
    const v = x[i];
    acc[o] = op === 'max' ? Math.max(acc[o], v) : op === 'min' ? Math.min(acc[o], v) : acc[o] + v;
  }
  return Float32Array.from(acc, (v) => (op === 'mean' ? v / count : v));
}

/** Every non-empty subset of axes of `rank` (as lists). */
function subsets(rank: number): number[][] {
  const out: number[][] = [];
  for (let m = 1; m < 1 << rank; m++) out.push([...Array(rank).keys()].filter((k) => m & (1 << k)));
  return out;
}

const SHAPES: number[][] = [
  [1],
  [7],
  [129],
  [3, 17],
  [65, 7],
  [33, 1],
  [3, 7, 5],
  [1, 17, 3],
  [3, 5, 7, 9],
  [2, 1, 33, 4],
];

describe.each(engineConfigs())('reduce isa=$isa threads=$threads', (cfg) => {
  const e = engineFor(cfg);

  describe.each(REDUCE_OPS)('%s', (op) => {
    const exact = op === 'max' || op === 'min';
    it.each(SHAPES)('over every axis subset of [%i, %i, %i, %i]', (...shape) => {
      const n = shape.reduce((p, d) => p * d, 1);
      const x = rand(n, n);
      const px = upload(e, x);
      const po = e.alloc(n * 4);
      for (const axes of subsets(shape.length)) {
        reduce(e, op, px, shape, axes, po);
        const ref = refReduce(op, x, shape, axes);
        const got = download(e, po, ref.length);
        if (exact) expect(got).toEqual(ref);
        else expectClose(got, ref, 1e-5, 1e-5);
      }
      e.free(px);
      e.free(po);
    });

    it('negative axes, empty axes (copy), and split-sized inputs', () => {
      const cases: [number[], number[]][] = [
        [[3, 5, 7], [-1]],
        [
          [3, 5, 7],
          [-3, -1],
        ],
        [[3, 5, 7], []],
        [[1025, 129], [0]], // bias-gradient shape: split over columns
        [[129, 1025], [1]], // row sums: split over rows
        [[17, 4097, 3], [1]],
        [[70001], [0]],
      ];
      for (const [shape, axes] of cases) {
        const n = shape.reduce((p, d) => p * d, 1);
        const x = rand(n, 3);
        const px = upload(e, x);
        const po = e.alloc(n * 4);
        const ref = refReduce(op, x, shape, axes);
        reduce(e, op, px, shape, axes, po);
        const got = download(e, po, ref.length);
        if (exact || axes.length === 0) expect(got).toEqual(ref);
        else expectClose(got, ref, 1e-4, 1e-4);
        e.free(px);
        e.free(po);
      }
    });
  });

  it('max/min propagate NaN', () => {
    const px = upload(e, [1, Number.NaN, 3, 4, 5, 6, 7, 8, 9]);
    const po = e.alloc(4);
    reduce(e, 'max', px, [9], [0], po);
    expect(download(e, po, 1)[0]).toBeNaN();
    e.free(px);
    e.free(po);
  });

  it('rejects invalid axes with ValueError', () => {
    expect(() => reduce(e, 'sum', 0, [2, 3], [2], 0)).toThrow(ValueError);
    expect(() => reduce(e, 'sum', 0, [2, 3], [1, -1], 0)).toThrow(ValueError);
  });

  it.each([1, 3, 7, 17, 33, 65, 129, 4099])('argmax of rows with %i columns (first of ties)', (cols) => {
    const rows = cols === 4099 ? 33 : 17;
    const x = rand(rows * cols, cols).map((v) => Math.round(v * 4)); // many ties
    const px = upload(e, x);
    const po = e.alloc(rows * 4);
    argmax(e, px, rows, cols, po);
    const ref = Array.from({ length: rows }, (_, r) => {
      let best = 0;
      for (let c = 1; c < cols; c++) if (x[r * cols + c] > x[r * cols + best]) best = c;
      return best;
    });
    expect(Array.from(downloadI32(e, po, rows))).toEqual(ref);
    e.free(px);
    e.free(po);
  });

  it('argmax skips NaN', () => {
    const px = upload(e, [Number.NaN, 1, 5, Number.NaN, 2, 5]);
    const po = e.alloc(4);
    argmax(e, px, 1, 6, po);
    expect(downloadI32(e, po, 1)[0]).toBe(2);
    e.free(px);
    e.free(po);
  });

  it('leaves memory flat across repeated calls (multi-block reductions use temporaries)', () => {
    const px = upload(e, rand(3 * 5 * 7 * 9));
    const po = e.alloc(3 * 5 * 7 * 9 * 4);
    reduce(e, 'mean', px, [3, 5, 7, 9], [0, 2], po);
    const live = e.memoryStats().liveBytes;
    for (let i = 0; i < 20; i++) reduce(e, 'sum', px, [3, 5, 7, 9], [0, 2], po);
    expect(e.memoryStats().liveBytes).toBe(live);
    e.free(px);
    e.free(po);
  });
});
