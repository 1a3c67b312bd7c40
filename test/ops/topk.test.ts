// topk (the k best along an axis, values or positions): against a full sort on odd shapes with
// ties, NaN and ±∞, largest and smallest, a middle axis; and with excluded ids per row (-1 padded,
// repeated), as a recommender leaves out the items a user has already rated; bad ids and a k that
// cannot be met are clear errors.
import { describe, expect, it } from 'vitest';
import { apply } from '../../src/autograd/apply.js';
import type { Graph } from '../../src/graph/ir.js';
import { Session } from '../../src/runtime/session.js';
import { Rng } from '../../src/tensor/random.js';
import { tensor } from '../../src/tensor/tensor.js';

/** Reference: positions of row values sorted best first (ties: lower position; NaN worst), minus skip. */
function reference(
  row: readonly number[],
  k: number,
  largest: boolean,
  skip: ReadonlySet<number> = new Set(),
): number[] {
  const key = (v: number) => (Number.isNaN(v) ? Number.NEGATIVE_INFINITY : largest ? v : -v);
  return row
    .map((_, t) => t)
    .filter((t) => !skip.has(t))
    .sort((p, q) => key(row[q]) - key(row[p]) || p - q)
    .slice(0, k);
}

function topk(x: Float32Array, shape: number[], k: number, axis: number, largest: boolean, skip?: Int32Array, S = 0) {
  const ins = [tensor(x, shape)];
  if (skip) ins.push(tensor(skip, [...shape.slice(0, -1), S], 'int32'));
  const idx = apply('topk', ins, { k, axis, largest, indices: true }).data();
  const val = apply('topk', ins, { k, axis, largest, indices: false }).data();
  return { idx: Array.from(idx), val: Array.from(val) };
}

describe('topk', () => {
  const rng = new Rng(7);
  it('equals a full sort on rows with ties, NaN and infinities, largest and smallest', () => {
    for (const [rows, n, k] of [
      [3, 37, 5],
      [2, 1000, 10],
      [1, 9, 9],
      [4, 17, 0],
    ]) {
      const x = Float32Array.from({ length: rows * n }, () => Math.round(rng.next() * 20) / 4); // many ties
      x[3] = Number.NaN;
      x[n - 1] = Number.POSITIVE_INFINITY;
      x[n + 1 < x.length ? n + 1 : 0] = Number.NEGATIVE_INFINITY;
      for (const largest of [true, false]) {
        const { idx, val } = topk(x, [rows, n], k, 1, largest);
        for (let r = 0; r < rows; r++) {
          const row = Array.from(x.subarray(r * n, (r + 1) * n));
          const want = reference(row, k, largest);
          expect(idx.slice(r * k, (r + 1) * k), `row ${r} largest ${largest}`).toEqual(want);
          expect(val.slice(r * k, (r + 1) * k)).toEqual(want.map((t) => row[t]));
        }
      }
    }
  });

  it('along a middle axis', () => {
    const [a, n, c, k] = [2, 11, 3, 4];
    const x = Float32Array.from({ length: a * n * c }, () => rng.next());
    const { idx } = topk(x, [a, n, c], k, 1, true);
    for (let i = 0; i < a; i++)
      for (let j = 0; j < c; j++) {
        const col = Array.from({ length: n }, (_, t) => x[(i * n + t) * c + j]);
        expect(Array.from({ length: k }, (_, t) => idx[(i * k + t) * c + j])).toEqual(reference(col, k, true));
      }
  });

  it('leaves out each row’s excluded ids (-1 padding, repeats)', () => {
    const [rows, n, k, S] = [3, 50, 6, 5];
    const x = Float32Array.from({ length: rows * n }, () => rng.next());
    const skip = Int32Array.from([0, 7, 7, -1, 49, -1, -1, -1, -1, -1, 12, 3, 44, 20, 1]);
    const { idx, val } = topk(x, [rows, n], k, 1, true, skip, S);
    for (let r = 0; r < rows; r++) {
      const row = Array.from(x.subarray(r * n, (r + 1) * n));
      const ids = new Set(Array.from(skip.subarray(r * S, (r + 1) * S)).filter((t) => t >= 0));
      const want = reference(row, k, true, ids);
      expect(idx.slice(r * k, (r + 1) * k)).toEqual(want);
      expect(val.slice(r * k, (r + 1) * k)).toEqual(want.map((t) => row[t]));
      for (const t of ids) expect(idx.slice(r * k, (r + 1) * k)).not.toContain(t);
    }
  });

  it('in a graph: scores [-1, 50] and excluded ids [-1, 5] as two inputs, run by a Session', () => {
    const [B, n, k, S] = [3, 50, 4, 5];
    const graph: Graph = {
      inputs: ['scores', 'seen'],
      outputs: ['top'],
      values: {
        scores: { shape: [-1, n], dtype: 'float32' },
        seen: { shape: [-1, S], dtype: 'int32' },
        top: { shape: [-1, k], dtype: 'int32' },
      },
      constants: {},
      nodes: [
        {
          name: 'topk',
          op: 'topk',
          inputs: ['scores', 'seen'],
          output: 'top',
          attrs: { k, axis: 1, largest: true, indices: true },
        },
      ],
      meta: { classNames: [], input: { kind: 'tensor', shape: [n] }, producer: 'test' },
    };
    const x = Float32Array.from({ length: B * n }, () => rng.next());
    const skip = Int32Array.from({ length: B * S }, (_, i) => (i % 3 === 0 ? -1 : (i * 7) % n));
    const s = new Session(graph, { maxBatch: B });
    const [got] = s.runAll([x, skip], B);
    s.dispose();
    expect(Array.from(got)).toEqual(topk(x, [B, n], k, 1, true, skip, S).idx);
  });

  it('refuses an excluded id outside the axis, and a k the exclusions could leave unmet', () => {
    const x = Float32Array.from({ length: 10 }, (_, i) => i);
    expect(() => topk(x, [1, 10], 2, 1, true, Int32Array.from([10]), 1)).toThrow(
      /topk: excluded id 10 is outside \[0, 10\) \(-1 pads\)/,
    );
    expect(() => topk(x, [1, 10], 8, 1, true, Int32Array.from([1, 2, 3]), 3)).toThrow(
      /topk: k 8 with up to 3 excluded of 10 may leave fewer than k/,
    );
    expect(() =>
      apply('topk', [tensor(x, [1, 10]), tensor(new Int32Array(2), [2, 1], 'int32')], {
        k: 1,
        axis: 1,
        largest: true,
        indices: true,
      }),
    ).toThrow(/topk: excluded ids int32 \[2, 1\] must be int32 \[1, S\]/);
  });
});
