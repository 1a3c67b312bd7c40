// Row-sparse gradients of tables that ask for them (Tensor.sparseGrad): for random ids with repeats
// and -1 padding, embedding and embeddingbag give rowGrad = the dense vjp's nonzero rows (sorted,
// unique, zero elsewhere) and no dense grad; a table used twice in one loss, gradients accumulated
// over two backward calls, and a table also used by a dense op (tied) give what the dense path gives.
import { afterEach, describe, expect, it } from 'vitest';
import * as G from '../../src/index.js';
import { expectClose, rand } from '../helpers.js';

const V = 50;
const D = 6;

const made: G.Tensor[] = [];
afterEach(() => {
  for (const t of made.splice(0)) {
    t.grad?.dispose();
    t.rowGrad?.values.dispose();
    t.dispose();
  }
});

/** A [V, D] table leaf (the same values for every seed), sparse or not. */
function table(sparse: boolean, seed = 3): G.Tensor {
  const t = G.keep(G.tensor(rand(V * D, seed), [V, D]));
  t.requiresGrad = true;
  t.sparseGrad = sparse;
  t.name = 'table';
  made.push(t);
  return t;
}

/** n ids in [-1, V) with repeats (about one in eight is -1 padding). */
function ids(n: number, seed: number, shape: number[] = [n]): G.Tensor {
  const r = rand(n, seed);
  return G.tensor(
    Int32Array.from(r, (x) => Math.floor(((x + 1) / 2) * (V + 7)) - 7).map((k) => (k < 0 ? -1 : k % V)),
    shape,
  );
}

/** The rows of a dense [V, D] gradient that are not all zero, and those rows' values. */
function nonzeroRows(dense: Float32Array): { rows: number[]; values: number[] } {
  const rows: number[] = [];
  const values: number[] = [];
  for (let r = 0; r < V; r++) {
    const row = dense.subarray(r * D, (r + 1) * D);
    if (row.some((x) => x !== 0)) {
      rows.push(r);
      values.push(...row);
    }
  }
  return { rows, values };
}

/** Runs loss(table) backward on a sparse and a dense copy; returns both tables. */
function both(loss: (w: G.Tensor) => G.Tensor): { sparse: G.Tensor; dense: G.Tensor } {
  const sparse = table(true);
  const dense = table(false);
  G.tidy(() => G.backward(loss(sparse)));
  G.tidy(() => G.backward(loss(dense)));
  return { sparse, dense };
}

/** The sparse table's row gradient equals the dense table's gradient, row for row. */
function expectSameGradient(sparse: G.Tensor, dense: G.Tensor): void {
  expect(sparse.grad).toBeNull();
  const rg = sparse.rowGrad;
  if (!rg) throw new Error('no row gradient');
  const want = nonzeroRows(dense.grad?.data() as Float32Array);
  // every touched row is listed once, in order; a row whose gradient sums to exactly 0 is still listed
  expect(Array.from(rg.rows)).toEqual([...rg.rows].sort((a, b) => a - b));
  expect(new Set(rg.rows).size).toBe(rg.rows.length);
  for (const r of want.rows) expect(rg.rows).toContain(r);
  expect(rg.values.shape).toEqual([rg.rows.length, D]);
  const full = new Float32Array(V * D);
  const values = rg.values.data() as Float32Array;
  rg.rows.forEach((r, i) => {
    full.set(values.subarray(i * D, (i + 1) * D), r * D);
  });
  expectClose(full, dense.grad?.data() as Float32Array, 1e-6, 1e-6);
}

describe('row-sparse gradients', () => {
  it('embedding: ids with repeats and -1 padding, any shape', () => {
    const target = rand(4 * 9 * D, 11);
    const { sparse, dense } = both((w) => {
      const x = ids(36, 5, [4, 9]);
      return G.sum(G.mul(G.square(G.sub(G.embedding(w, x), G.tensor(target, [4, 9, D]))), 0.5));
    });
    const x = ids(36, 5).data() as Int32Array;
    const touched = [...new Set(x)].filter((k) => k >= 0).sort((a, b) => a - b);
    expect(x).toContain(-1);
    expect(touched.length).toBeLessThan(36); // repeats
    expect(Array.from(sparse.rowGrad?.rows ?? [])).toEqual(touched);
    expectSameGradient(sparse, dense);
  });

  it('embeddingbag: bags with padding, an all-padding bag', () => {
    const idsData = ids(40, 8).data() as Int32Array;
    idsData.fill(-1, 0, 8); // bag 0 is empty
    const weights = rand(5 * D, 12);
    const { sparse, dense } = both((w) =>
      G.sum(G.mul(G.embeddingBag(w, G.tensor(idsData, [5, 8])), G.tensor(weights, [5, D]))),
    );
    expectSameGradient(sparse, dense);
    expect(sparse.rowGrad?.rows).not.toContain(-1);
  });

  it('the same table twice in one loss (positives and negatives) merges into one row gradient', () => {
    const { sparse, dense } = both((w) => {
      const pos = G.embedding(w, ids(32, 21));
      const neg = G.embedding(w, ids(32, 22));
      const user = G.embeddingBag(w, ids(32, 23, [4, 8]));
      return G.add(G.sum(G.mul(pos, neg)), G.sum(G.square(user)));
    });
    expectSameGradient(sparse, dense);
  });

  it('accumulates over backward calls, as dense gradients do', () => {
    const sparse = table(true);
    const dense = table(false);
    for (const seed of [31, 32, 33]) {
      for (const w of [sparse, dense]) G.tidy(() => G.backward(G.sum(G.square(G.embedding(w, ids(20, seed))))));
    }
    expectSameGradient(sparse, dense);
  });

  it('a table also used by an op without a row vjp (tied output layer) gets one dense gradient', () => {
    const x = rand(3 * D, 41);
    for (const order of ['rows first', 'dense first']) {
      const { sparse, dense } = both((w) => {
        const rows = G.sum(G.square(G.embedding(w, ids(16, 42))));
        const logits = G.sum(G.matmul(G.tensor(x, [3, D]), G.transpose(w, [1, 0])));
        return order === 'rows first' ? G.add(rows, logits) : G.add(logits, rows);
      });
      expect(sparse.rowGrad).toBeNull();
      expectClose(sparse.grad?.data() as Float32Array, dense.grad?.data() as Float32Array, 1e-6, 1e-6);
    }
    // and when the dense gradient arrives in a later backward call
    const sparse = table(true);
    const dense = table(false);
    for (const w of [sparse, dense]) {
      G.tidy(() => G.backward(G.sum(G.square(G.embedding(w, ids(16, 43))))));
      G.tidy(() => G.backward(G.sum(G.mul(w, 0.25))));
    }
    expect(sparse.rowGrad).toBeNull();
    expectClose(sparse.grad?.data() as Float32Array, dense.grad?.data() as Float32Array, 1e-6, 1e-6);
  });

  it('never allocates a dense [V, D] gradient: the largest buffer backward asks for is the batch', () => {
    const big = G.keep(G.zeros([20000, 16]));
    big.requiresGrad = true;
    big.sparseGrad = true;
    made.push(big);
    const x = G.keep(ids(64, 51));
    const backend = big.backend;
    const alloc = backend.alloc;
    let largest = 0;
    backend.alloc = (bytes) => {
      largest = Math.max(largest, bytes);
      return alloc.call(backend, bytes);
    };
    try {
      G.tidy(() => {
        const loss = G.sum(G.embedding(big, x));
        largest = 0;
        G.backward(loss);
      });
    } finally {
      Reflect.deleteProperty(backend, 'alloc');
    }
    expect(backend.alloc).toBe(alloc);
    expect(largest).toBeGreaterThan(0);
    expect(largest).toBeLessThanOrEqual(64 * 16 * 4);
    expect(big.grad).toBeNull();
    expect(big.rowGrad?.values.shape[0]).toBeLessThanOrEqual(64);
    x.dispose();
  });
});
