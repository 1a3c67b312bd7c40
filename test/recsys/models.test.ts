// The recommendation models' forward passes against plain TypeScript references computed from the
// same weights: mf's mean + biases + dot product (clipped), the two-tower's towers (id embedding ;
// mean of history / genre rows → linear, optionally L2-normalised) and its scores; spec checks;
// and a rebuilt model (spec + weights) scoring exactly as the original.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValueError } from '../../src/errors.js';
import {
  buildRecsysModel,
  fromArray,
  MatrixFactorization,
  TwoTower,
  type TwoTowerSpec,
} from '../../src/recsys/models.js';
import { init, shutdown } from '../../src/tensor/context.js';
import { manualSeed } from '../../src/tensor/random.js';
import { write } from '../../src/tensor/tensor.js';

beforeAll(() => {
  init({ threads: 1 });
  manualSeed(3);
});
afterAll(() => shutdown());

const f32 = (t: { data(): unknown }) => t.data() as Float32Array;

/** Row r of a [*, D] array. */
const row = (a: Float32Array, r: number, D: number) => Array.from(a.subarray(r * D, (r + 1) * D));
const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);

describe('mf', () => {
  it('predicts mean + user bias + item bias + <user, item>, clipped to the rating range', () => {
    const m = new MatrixFactorization({
      preset: 'mf',
      numUsers: 3,
      numItems: 4,
      dim: 5,
      globalMean: 3.5,
      ratingRange: [1, 5],
    });
    // biases made non-zero so that each term shows
    write(m.userBias.weight, [0.3, -0.2, 0.1]);
    write(m.itemBias.weight, [0.5, -1, 0, 0.25]);
    const P = f32(m.user.weight);
    const Q = f32(m.item.weight);
    // a large vector on user 2 / item 3 pushes that pair past the clip
    const big = Q.slice();
    big.set([3, 3, 3, 3, 3], 15);
    write(m.item.weight, big);
    P.set([1, 1, 1, 1, 1], 10);
    write(m.user.weight, P);
    const users = Int32Array.of(0, 1, 2, 2, 0);
    const items = Int32Array.of(0, 3, 1, 3, 2);
    const got = f32(m.predict(fromArray(users, [5]), fromArray(items, [5])));
    const ub = [0.3, -0.2, 0.1];
    const ib = [0.5, -1, 0, 0.25];
    users.forEach((u, k) => {
      const raw = 3.5 + ub[u] + ib[items[k]] + dot(row(P, u, 5), row(big, items[k], 5));
      expect(got[k]).toBeCloseTo(Math.min(5, Math.max(1, raw)), 5);
    });
    expect(got[3]).toBe(5); // 3.5 + 0.1 + 0.25 + 15, clipped
    // forward takes (user, item) pairs [B, 2]
    const pairs = new Int32Array(10);
    users.forEach((u, k) => {
      pairs.set([u, items[k]], 2 * k);
    });
    expect(Array.from(f32(m.forward(fromArray(pairs, [5, 2]))))).toEqual(Array.from(got));
    m.dispose();
  });

  it('refuses bad sizes and inputs with the field and value', () => {
    const spec = {
      preset: 'mf' as const,
      numUsers: 0,
      numItems: 2,
      dim: 4,
      globalMean: 3,
      ratingRange: [1, 5] as [number, number],
    };
    expect(() => new MatrixFactorization(spec)).toThrow(/mf: numUsers must be an integer ≥ 1, got 0/);
    const m = new MatrixFactorization({ ...spec, numUsers: 2 });
    expect(() => m.forward(fromArray(new Int32Array(3), [3]))).toThrow(/expected int32 \(user, item\) pairs \[B, 2\]/);
    expect(() => m.spec()).toThrow(ValueError);
    m.dispose();
  });
});

describe('two-tower', () => {
  const spec: TwoTowerSpec = {
    preset: 'two-tower',
    numUsers: 3,
    numItems: 5,
    numGenres: 3,
    dim: 4,
    historyLength: 3,
    genreLength: 2,
    normalize: false,
    temperature: 0.5,
  };
  const inputs = {
    history: Int32Array.of(0, 2, -1, /**/ 4, -1, -1, /**/ -1, -1, -1),
    genres: Int32Array.of(0, 1, /**/ 2, -1, /**/ -1, -1, /**/ 1, -1, /**/ 0, 2),
  };

  /** Plain-TS tower: W [in, d] · x + b, then L2-normalised if asked. */
  function tower(x: number[], W: Float32Array, b: Float32Array, d: number, normalize: boolean): number[] {
    const y = Array.from({ length: d }, (_, j) => x.reduce((s, xi, i) => s + xi * W[i * d + j], b[j]));
    if (!normalize) return y;
    const n = Math.sqrt(dot(y, y) + 1e-12);
    return y.map((v) => v / n);
  }
  /** Mean of the rows `ids` (-1 skipped) of a [*, d] table; zeros for an empty bag. */
  function bagMean(table: Float32Array, ids: Int32Array, d: number): number[] {
    const kept = Array.from(ids).filter((i) => i >= 0);
    const out = new Array(d).fill(0);
    for (const i of kept) for (let j = 0; j < d; j++) out[j] += table[i * d + j] / kept.length;
    return out;
  }

  for (const normalize of [false, true])
    it(`towers and scores equal the plain reference (normalize ${normalize}; an empty history and an empty genre bag included)`, () => {
      const m = new TwoTower({ ...spec, normalize }).setInputs(inputs);
      const d = spec.dim;
      const U = f32(m.user.weight);
      const Hb = f32((m.historyBag as NonNullable<typeof m.historyBag>).weight);
      const I = f32(m.item.weight);
      const G = f32((m.genreBag as NonNullable<typeof m.genreBag>).weight);
      const users = Int32Array.of(2, 0, 1);
      const refUser = Array.from(users, (u) =>
        tower(
          [...row(U, u, d), ...bagMean(Hb, inputs.history.subarray(u * 3, u * 3 + 3), d)],
          f32(m.userProj.weight),
          f32(m.userProj.bias as NonNullable<typeof m.userProj.bias>),
          d,
          normalize,
        ),
      );
      const refItem = Array.from({ length: 5 }, (_, i) =>
        tower(
          [...row(I, i, d), ...bagMean(G, inputs.genres.subarray(i * 2, i * 2 + 2), d)],
          f32(m.itemProj.weight),
          f32(m.itemProj.bias as NonNullable<typeof m.itemProj.bias>),
          d,
          normalize,
        ),
      );
      const uv = f32(m.userVectors(users));
      for (const [b, r] of refUser.entries()) for (const [j, v] of r.entries()) expect(uv[b * d + j]).toBeCloseTo(v, 5);
      const iv = f32(m.itemVectors(Int32Array.of(0, 1, 2, 3, 4)));
      for (const [i, r] of refItem.entries()) for (const [j, v] of r.entries()) expect(iv[i * d + j]).toBeCloseTo(v, 5);
      const scores = f32(m.forward(fromArray(users, [3])));
      expect(scores.length).toBe(15);
      for (let b = 0; b < 3; b++)
        for (let i = 0; i < 5; i++) expect(scores[b * 5 + i]).toBeCloseTo(dot(refUser[b], refItem[i]) / 0.5, 4);
      m.dispose();
    });

  it('with shareItemTable the history bag reads the item table', () => {
    const m = new TwoTower({ ...spec, shareItemTable: true }).setInputs(inputs);
    expect(m.historyBag).toBeUndefined();
    const d = spec.dim;
    const x = [...row(f32(m.user.weight), 0, d), ...bagMean(f32(m.item.weight), inputs.history.subarray(0, 3), d)];
    const ref = tower(x, f32(m.userProj.weight), f32(m.userProj.bias as NonNullable<typeof m.userProj.bias>), d, false);
    const got = f32(m.userVectors(Int32Array.of(0)));
    for (const [j, v] of ref.entries()) expect(got[j]).toBeCloseTo(v, 5);
    m.dispose();
  });

  it('a model rebuilt from its spec with the same weights scores the same; bad inputs are refused', () => {
    const a = new TwoTower(spec).setInputs(inputs);
    const b = buildRecsysModel(spec) as TwoTower;
    const named = new Map(a.namedParameters());
    for (const [n, t] of b.namedParameters()) write(t, f32(named.get(n) as NonNullable<ReturnType<typeof named.get>>));
    b.setInputs(inputs);
    const ids = fromArray(Int32Array.of(0, 1, 2), [3]);
    expect(Array.from(f32(b.forward(ids)))).toEqual(Array.from(f32(a.forward(ids))));
    expect(() => b.setInputs({ ...inputs, history: new Int32Array(8) })).toThrow(/history has 8 ids, expected 3×3/);
    expect(() => b.setInputs({ ...inputs, genres: new Int32Array(10).fill(3) })).toThrow(
      /genres id 3 outside \[-1, 3\)/,
    );
    expect(() => new TwoTower(spec).forward(ids)).toThrow(/setInputs\(\)/);
    expect(() => new TwoTower({ ...spec, temperature: 0 })).toThrow(/temperature must be > 0/);
    a.dispose();
    b.dispose();
  });
});
