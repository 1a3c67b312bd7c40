// Data movement vs naive index arithmetic (exact): transpose with every permutation of ranks 1-4
// and odd sizes, rank 6, slice and its backward, concat along every axis; a split-sized case,
// both builds, one and two threads, memory left flat.
import { describe, expect, it } from 'vitest';
import { ShapeError, ValueError } from '../../src/errors.js';
import { concat, slice, sliceBackward, transpose } from '../../src/kernels/layout.js';
import { download, engineConfigs, engineFor, rand, upload } from '../helpers.js';

const numel = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);

/** Row-major flat index <-> multi-index. */
function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    idx[k] = i % shape[k];
    i = Math.floor(i / shape[k]);
  }
  return idx;
}
function ravel(idx: readonly number[], shape: readonly number[]): number {
  return idx.reduce((acc, v, k) => acc * shape[k] + v, 0);
}

function refTranspose(x: Float32Array, shape: number[], perm: number[]): Float32Array {
  const outShape = perm.map((p) => shape[p]);
  const out = new Float32Array(x.length);
  for (let i = 0; i < out.length; i++) {
    const oi = unravel(i, outShape);
    const xi = new Array<number>(shape.length);
    perm.forEach((p, k) => {
      xi[p] = oi[k];
    });
    out[i] = x[ravel(xi, shape)];
  }
  return out;
}

function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  return permutations(n - 1).flatMap((p) =>
    Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]),
  );
}

const SHAPES: number[][] = [[129], [7, 17], [33, 65], [1, 129], [3, 7, 17], [1, 3, 1], [3, 5, 7, 9], [2, 1, 17, 3]];

describe.each(engineConfigs())('layout isa=$isa threads=$threads', (cfg) => {
  const e = engineFor(cfg);

  it.each(SHAPES)('transpose with every permutation of [%i, %i, %i, %i]', (...shape) => {
    const x = rand(numel(shape), 1);
    const px = upload(e, x);
    const po = e.alloc(x.length * 4);
    for (const perm of permutations(shape.length)) {
      transpose(e, px, shape, perm, po);
      expect(download(e, po, x.length)).toEqual(refTranspose(x, shape, perm));
    }
    e.free(px);
    e.free(po);
  });

  it('transpose of rank 6 and split-sized inputs', () => {
    const cases: [number[], number[]][] = [
      [
        [2, 3, 1, 5, 2, 3],
        [5, 3, 1, 0, 4, 2],
      ],
      [
        [257, 301],
        [1, 0],
      ],
      [
        [3, 129, 65],
        [0, 2, 1],
      ],
      [
        [65, 33, 37],
        [2, 0, 1],
      ],
      [
        [17, 3, 33, 65],
        [0, 2, 1, 3],
      ],
    ];
    for (const [shape, perm] of cases) {
      const x = rand(numel(shape), 2);
      const px = upload(e, x);
      const po = e.alloc(x.length * 4);
      transpose(e, px, shape, perm, po);
      expect(download(e, po, x.length)).toEqual(refTranspose(x, shape, perm));
      e.free(px);
      e.free(po);
    }
  });

  it('transpose rejects a non-permutation', () => {
    expect(() => transpose(e, 0, [2, 3], [0, 0], 0)).toThrow(ValueError);
  });

  const WINDOWS: [number[], number[], number[]][] = [
    [[129], [3], [65]],
    [
      [7, 17],
      [1, 3],
      [5, 7],
    ],
    [
      [33, 65],
      [0, 0],
      [33, 65],
    ],
    [
      [3, 7, 17],
      [1, 0, 16],
      [2, 7, 1],
    ],
    [
      [3, 5, 7, 9],
      [0, 1, 2, 3],
      [3, 3, 5, 5],
    ],
    [
      [65, 33, 65],
      [1, 2, 0],
      [63, 29, 65],
    ],
  ];

  it.each(WINDOWS)('slice and sliceBackward of %j at %j size %j', (shape, begin, size) => {
    const x = rand(numel(shape), 3);
    const px = upload(e, x);
    const po = e.alloc(numel(size) * 4);
    slice(e, px, shape, begin, size, po);
    const ref = new Float32Array(numel(size));
    for (let i = 0; i < ref.length; i++) {
      ref[i] =
        x[
          ravel(
            unravel(i, size).map((v, k) => v + begin[k]),
            shape,
          )
        ];
    }
    expect(download(e, po, ref.length)).toEqual(ref);
    // backward: dx is zero outside the window and dy inside
    const dy = rand(ref.length, 4);
    const pdy = upload(e, dy);
    const pdx = upload(e, rand(x.length, 5)); // garbage that must be overwritten
    sliceBackward(e, pdy, size, begin, pdx, shape);
    const dx = new Float32Array(x.length);
    for (let i = 0; i < dy.length; i++) {
      dx[
        ravel(
          unravel(i, size).map((v, k) => v + begin[k]),
          shape,
        )
      ] = dy[i];
    }
    expect(download(e, pdx, x.length)).toEqual(dx);
    for (const p of [px, po, pdy, pdx]) e.free(p);
  });

  it('slice rejects a window outside the shape', () => {
    expect(() => slice(e, 0, [3, 4], [2, 0], [2, 4], 0)).toThrow(ShapeError);
  });

  it.each([
    [[[3], [1], [7]], 0],
    [
      [
        [2, 3],
        [5, 3],
      ],
      0,
    ],
    [
      [
        [2, 3],
        [2, 1],
        [2, 17],
      ],
      1,
    ],
    [
      [
        [3, 1, 5],
        [3, 7, 5],
      ],
      -2,
    ],
    [
      [
        [3, 5, 7, 1],
        [3, 5, 7, 2],
        [3, 5, 7, 3],
      ],
      3,
    ],
    [
      [
        [129, 300],
        [129, 301],
      ],
      1,
    ],
  ] as [number[][], number][])('concat of %j along axis %i', (shapes, axis) => {
    const datas = shapes.map((s, i) => rand(numel(s), 10 + i));
    const inputs = shapes.map((shape, i) => ({ ptr: upload(e, datas[i]), shape }));
    const rank = shapes[0].length;
    const ax = axis < 0 ? axis + rank : axis;
    const outShape = [...shapes[0]];
    outShape[ax] = shapes.reduce((p, s) => p + s[ax], 0);
    const po = e.alloc(numel(outShape) * 4);
    concat(e, inputs, axis, po);
    const ref = new Float32Array(numel(outShape));
    let off = 0;
    shapes.forEach((s, j) => {
      for (let i = 0; i < datas[j].length; i++) {
        const idx = unravel(i, s);
        idx[ax] += off;
        ref[ravel(idx, outShape)] = datas[j][i];
      }
      off += s[ax];
    });
    expect(download(e, po, ref.length)).toEqual(ref);
    for (const { ptr } of inputs) e.free(ptr);
    e.free(po);
  });

  it('concat rejects mismatched shapes', () => {
    expect(() =>
      concat(
        e,
        [
          { ptr: 0, shape: [2, 3] },
          { ptr: 0, shape: [3, 3] },
        ],
        1,
        0,
      ),
    ).toThrow(ShapeError);
  });

  it('leaves memory flat across repeated calls', () => {
    const px = upload(e, rand(3 * 5 * 7));
    const po = e.alloc(2 * 3 * 5 * 7 * 4); // room for the concat
    transpose(e, px, [3, 5, 7], [2, 0, 1], po);
    const live = e.memoryStats().liveBytes;
    for (let i = 0; i < 20; i++) {
      transpose(e, px, [3, 5, 7], [2, 0, 1], po);
      slice(e, px, [3, 5, 7], [1, 1, 1], [2, 3, 4], po);
      concat(
        e,
        [
          { ptr: px, shape: [3, 5, 7] },
          { ptr: px, shape: [3, 5, 7] },
        ],
        1,
        po,
      );
    }
    expect(e.memoryStats().liveBytes).toBe(live);
    e.free(px);
    e.free(po);
  });
});
