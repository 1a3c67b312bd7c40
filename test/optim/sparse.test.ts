// Row-sparse optimizer updates (tables with sparseGrad, gradients in p.rowGrad): only the rows hit
// change, the others stay bit for bit. SGD and Adagrad equal their dense update on those rows bit
// for bit (over several steps where the dense update leaves untouched rows alone); lazy SGD
// momentum and lazy Adam (torch.optim.SparseAdam) vs float64 references over steps with different
// row sets; state dicts resume bit-exactly; clipping and zeroGrad see row gradients; 3,000 steps of
// a small two-table model keep live memory flat; an optimizer without row updates says so.
import { afterEach, describe, expect, it } from 'vitest';
import { ShapeError } from '../../src/errors.js';
import * as G from '../../src/index.js';
import { Adagrad, Adam, AdamW, clipGradNorm, Optimizer, SGD } from '../../src/optim/index.js';
import { write } from '../../src/tensor/tensor.js';
import { expectClose, rand } from '../helpers.js';
import { lazySgdRef, type SparseAdamRefState, sparseAdamRef } from './reference.js';

const V = 64;
const D = 6; // one SIMD group of 4 and a scalar tail of 2 per row
const N = 16; // ids per step

const made: (G.Tensor | Optimizer)[] = [];
afterEach(() => {
  for (const x of made.splice(0)) {
    if (x instanceof G.Tensor) {
      x.grad?.dispose();
      x.rowGrad?.values.dispose();
    }
    x.dispose();
  }
});
const own = <T extends G.Tensor | Optimizer>(x: T): T => {
  made.push(x);
  return x;
};

/** A [V, D] table named 'table' (the same values every call), with row-sparse gradients or not. */
function table(sparse: boolean): G.Tensor {
  const t = own(G.keep(G.tensor(rand(V * D, 3), [V, D])));
  t.requiresGrad = true;
  t.sparseGrad = sparse;
  t.name = 'table';
  return t;
}

/** The ids of step t: N in [-1, V), with repeats and padding, a different row set each step. */
function stepIds(t: number): Int32Array {
  return Int32Array.from(rand(N, 200 + t), (x) => Math.floor(((x + 1) / 2) * (V + 4)) - 4).map((k) => Math.max(k, -1));
}

/** The rows step t touches, sorted. */
const touched = (t: number) => [...new Set(stepIds(t))].filter((k) => k >= 0).sort((a, b) => a - b);

/** Backward of step t's loss: the looked-up rows pulled toward fixed targets (the gradient depends on w). */
function backwardStep(w: G.Tensor, t: number): void {
  G.tidy(() => {
    const rows = G.embedding(w, G.tensor(stepIds(t), [N]));
    G.backward(G.nn.mse(rows, G.tensor(rand(N * D, 300 + t), [N, D])));
  });
}

/** Runs steps [from, to) of opt on w (backward, step, zeroGrad). */
function train(opt: Optimizer, w: G.Tensor, from: number, to: number, lr?: (t: number) => number): void {
  for (let t = from; t < to; t++) {
    if (lr) opt.lr = lr(t);
    backwardStep(w, t);
    opt.step();
    opt.zeroGrad();
  }
}

const bits = (x: ArrayLike<number>) => new Uint32Array(Float32Array.from(x).buffer);
/** Row r of a [V, D] array, as bits. */
const row = (x: ArrayLike<number>, r: number) => bits(Array.from(x).slice(r * D, (r + 1) * D));

describe('row-sparse updates equal dense ones on the rows hit', () => {
  const exact: [string, (ps: G.Tensor[]) => Optimizer][] = [
    ['SGD', (ps) => new SGD(ps, { lr: 0.5 })],
    ['Adagrad', (ps) => new Adagrad(ps, { lr: 0.3 })],
    [
      'Adagrad (lrDecay, initial accumulator)',
      (ps) => new Adagrad(ps, { lr: 0.3, lrDecay: 0.1, initialAccumulatorValue: 0.2 }),
    ],
  ];
  for (const [label, make] of exact) {
    it(`${label}: 6 steps over different rows = the dense optimizer, bit for bit, state included`, () => {
      const sparse = table(true);
      const dense = table(false);
      const initial = sparse.data();
      const [os, od] = [own(make([sparse])), own(make([dense]))];
      for (let t = 0; t < 6; t++) {
        backwardStep(sparse, t);
        backwardStep(dense, t);
        expect(sparse.grad).toBeNull();
        expect(sparse.rowGrad?.rows).toEqual(Int32Array.from(touched(t)));
        os.step();
        od.step();
        os.zeroGrad();
        od.zeroGrad();
        expect(sparse.rowGrad).toBeNull();
      }
      expect(bits(sparse.data())).toEqual(bits(dense.data()));
      const [ss, sd] = [os.stateDict(), od.stateDict()];
      expect(ss.scalars).toEqual(sd.scalars);
      for (const k of Object.keys(sd.tensors)) expect(bits(ss.tensors[k])).toEqual(bits(sd.tensors[k]));
      // rows never hit are as they were (and there are some)
      const hit = new Set(Array.from({ length: 6 }, (_, t) => touched(t)).flat());
      const never = Array.from({ length: V }, (_, r) => r).filter((r) => !hit.has(r));
      expect(never.length).toBeGreaterThan(5);
      for (const r of never) expect(row(sparse.data(), r)).toEqual(row(initial, r));
    });
  }

  const firstStep: [string, (ps: G.Tensor[]) => Optimizer][] = [
    ['SGD momentum', (ps) => new SGD(ps, { lr: 0.5, momentum: 0.9 })],
    ['SGD Nesterov', (ps) => new SGD(ps, { lr: 0.5, momentum: 0.9, nesterov: true })],
    [
      'SGD momentum, dampening, weight decay',
      (ps) => new SGD(ps, { lr: 0.5, momentum: 0.9, dampening: 0.3, weightDecay: 0.1 }),
    ],
    ['Adagrad weight decay', (ps) => new Adagrad(ps, { lr: 0.3, weightDecay: 0.1 })],
  ];
  for (const [label, make] of firstStep) {
    it(`${label}: one step, rows hit = dense bit for bit; other rows (weight decay: untouched) as they were`, () => {
      const sparse = table(true);
      const dense = table(false);
      const initial = sparse.data();
      train(own(make([sparse])), sparse, 0, 1);
      train(own(make([dense])), dense, 0, 1);
      const hit = new Set(touched(0));
      for (let r = 0; r < V; r++) {
        expect(row(sparse.data(), r)).toEqual(row(hit.has(r) ? dense.data() : initial, r));
      }
    });
  }
});

describe('lazy momentum and lazy Adam vs references', () => {
  const sgd = [
    { momentum: 0.9 },
    { momentum: 0.9, nesterov: true, weightDecay: 0.05 },
    { momentum: 0.5, dampening: 0.5 },
  ];
  for (const o of sgd) {
    it(`SGD ${JSON.stringify(o)}: rows not hit keep their momentum and do not move`, () => {
      const w = table(true);
      const opt = own(new SGD([w], { lr: 0.2, ...o }));
      const ref = lazySgdRef(o, D);
      const want = Float64Array.from(w.data());
      for (let t = 0; t < 6; t++) {
        backwardStep(w, t);
        const rg = w.rowGrad as G.RowGrad;
        ref(want, rg.rows, rg.values.data(), opt.lr);
        opt.step();
        opt.zeroGrad();
      }
      expectClose(w.data(), want, 1e-6, 1e-5);
    });
  }

  const adam: [string, (ps: G.Tensor[], lr: number) => Optimizer, Parameters<typeof sparseAdamRef>[0]][] = [
    ['Adam', (ps, lr) => new Adam(ps, { lr }), {}],
    [
      'Adam betas, eps',
      (ps, lr) => new Adam(ps, { lr, betas: [0.8, 0.99], eps: 1e-3 }),
      { beta1: 0.8, beta2: 0.99, eps: 1e-3 },
    ],
    ['Adam L2 weight decay', (ps, lr) => new Adam(ps, { lr, weightDecay: 0.05 }), { weightDecay: 0.05 }],
    ['AdamW', (ps, lr) => new AdamW(ps, { lr, weightDecay: 0.05 }), { weightDecay: 0.05, decoupled: true }],
  ];
  for (const [label, make, o] of adam) {
    it(`${label} = torch.optim.SparseAdam's formula over 8 steps with different rows (lr halved midway)`, () => {
      const w = table(true);
      const initial = w.data();
      const opt = own(make([w], 0.05));
      const ref = sparseAdamRef(o, D);
      const want = Float64Array.from(w.data());
      let moments: SparseAdamRefState = { m: new Float64Array(0), v: new Float64Array(0) };
      for (let t = 0; t < 8; t++) {
        if (t === 4) opt.lr = 0.025;
        backwardStep(w, t);
        const rg = w.rowGrad as G.RowGrad;
        moments = ref(want, rg.rows, rg.values.data(), opt.lr);
        opt.step();
        opt.zeroGrad();
      }
      expectClose(w.data(), want, 1e-6, 1e-5);
      const s = opt.stateDict();
      expectClose(s.tensors['table.m'], moments.m, 1e-7, 1e-5);
      expectClose(s.tensors['table.v'], moments.v, 1e-9, 1e-5);
      expect(s.scalars['table.step']).toBe(8);
      const hit = new Set(Array.from({ length: 8 }, (_, t) => touched(t)).flat());
      for (let r = 0; r < V; r++) if (!hit.has(r)) expect(row(w.data(), r)).toEqual(row(initial, r));
    });
  }

  it('differs from dense Adam only where it should: the first step (eps aside) is the same', () => {
    // eps ≈ 0: SparseAdam's and Adam's first step coincide; later, dense Adam keeps moving rows not hit
    const sparse = table(true);
    const dense = table(false);
    const eps = 1e-30;
    const [os, od] = [own(new Adam([sparse], { lr: 0.05, eps })), own(new Adam([dense], { lr: 0.05, eps }))];
    train(os, sparse, 0, 1);
    train(od, dense, 0, 1);
    expectClose(sparse.data(), dense.data(), 1e-7, 1e-6);
    train(os, sparse, 1, 2);
    train(od, dense, 1, 2);
    const stale = touched(0).find((r) => !touched(1).includes(r)) as number;
    expect(stale).toBeDefined();
    expect(row(sparse.data(), stale)).not.toEqual(row(dense.data(), stale));
  });
});

describe('resuming and bookkeeping', () => {
  const makers: [string, (ps: G.Tensor[]) => Optimizer][] = [
    ['SGD momentum', (ps) => new SGD(ps, { lr: 0.2, momentum: 0.9, weightDecay: 0.01 })],
    ['Adam', (ps) => new Adam(ps, { lr: 0.05 })],
    ['AdamW', (ps) => new AdamW(ps, { lr: 0.05 })],
    ['Adagrad', (ps) => new Adagrad(ps, { lr: 0.3, lrDecay: 0.01, initialAccumulatorValue: 0.1 })],
  ];
  for (const [label, make] of makers) {
    it(`${label}: a state dict saved mid-run resumes bit-identically to an uninterrupted run`, () => {
      const lr = (t: number) => 0.05 * (1 - t / 20);
      const straight = table(true);
      const os = own(make([straight]));
      train(os, straight, 0, 8, lr);

      const first = table(true);
      const o1 = own(make([first]));
      train(o1, first, 0, 4, lr);
      const saved = o1.stateDict();
      const resumed = table(true);
      write(resumed, first.data());
      const o2 = own(make([resumed]));
      o2.loadStateDict(saved);
      train(o2, resumed, 4, 8, lr);

      expect(bits(resumed.data())).toEqual(bits(straight.data()));
      const [a, b] = [o2.stateDict(), os.stateDict()];
      expect(a.scalars).toEqual(b.scalars);
      for (const k of Object.keys(b.tensors)) expect(bits(a.tensors[k])).toEqual(bits(b.tensors[k]));
    });
  }

  it('clipGradNorm includes row gradients: the same norm and clipped rows as the dense gradient', () => {
    const sparse = table(true);
    const dense = table(false);
    const bias = own(G.keep(G.tensor(rand(5, 9), [5])));
    bias.name = 'bias';
    bias.grad = G.keep(G.tensor(rand(5, 10), [5]));
    backwardStep(sparse, 0);
    backwardStep(dense, 0);
    const nd = clipGradNorm([dense, bias], Number.POSITIVE_INFINITY);
    const ns = clipGradNorm([sparse, bias], 0.01);
    expect(ns).toBeCloseTo(nd, 6);
    const rg = sparse.rowGrad as G.RowGrad;
    const want = dense.grad?.data() as Float32Array;
    const coef = 0.01 / (nd + 1e-6);
    const expected = Array.from(rg.rows).flatMap((r) => Array.from(want.subarray(r * D, (r + 1) * D), (x) => x * coef));
    expectClose(rg.values.data(), expected, 1e-9, 1e-5);
  });

  it('zeroGrad drops row gradients and frees them', () => {
    const w = table(true);
    const opt = own(new Adagrad([w], { lr: 0.1 }));
    const before = G.memoryStats().liveBytes;
    backwardStep(w, 0);
    expect(G.memoryStats().liveBytes).toBeGreaterThan(before);
    opt.zeroGrad();
    expect(w.rowGrad).toBeNull();
    expect(G.memoryStats().liveBytes).toBe(before);
  });

  it('an optimizer without row updates names the parameter; a row gradient that does not fit is refused', () => {
    // an optimizer written for dense gradients only: no updateRows
    class Plain extends Optimizer {
      protected readonly slots = [] as const;
      protected needsSlots = () => false;
      protected hyperParams = () => ({});
      protected setHyperParams(): void {}
      protected update(p: G.Tensor, g: G.Tensor): void {
        p.backend.axpy(-1, g.buf, p.buf, p.size);
      }
    }
    const w = table(true);
    backwardStep(w, 0);
    expect(() => own(new Plain([w], { lr: 0.1 })).step()).toThrow(
      /Plain: parameter float32\[64, 6\] 'table' has a row-sparse gradient \(sparseGrad\), which Plain cannot apply/,
    );
    const opt = own(new SGD([w], { lr: 0.1 }));
    opt.zeroGrad();
    w.rowGrad = { rows: Int32Array.of(3, V), values: G.keep(G.zeros([2, D])) };
    expect(() => opt.step()).toThrow(ShapeError);
    expect(() => opt.step()).toThrow(/SGD.step: gradient float32\[2, 6\] does not fit float32\[64, 6\] 'table'/);
  });
});

describe('memory', () => {
  it('3,000 steps of a two-table model (dot product + MSE) keep live bytes flat', () => {
    const B = 32;
    const ids = (n: number, seed: number, vocab: number) =>
      own(
        G.keep(
          G.tensor(
            Int32Array.from(rand(n, seed), (x) => Math.floor(((x + 1) / 2) * vocab)),
            [n],
          ),
        ),
      );
    const batches = Array.from({ length: 7 }, (_, b) => ({
      u: ids(B, 400 + b, 300),
      i: ids(B, 500 + b, 200),
      y: own(G.keep(G.tensor(rand(B, 600 + b), [B]))),
    }));
    const makers = [(ps: G.Tensor[]) => new Adam(ps, { lr: 0.01 }), (ps: G.Tensor[]) => new Adagrad(ps, { lr: 0.1 })];
    for (const make of makers) {
      const [users, items] = (['users', 'items'] as const).map((name, k) => {
        const t = own(G.keep(G.tensor(rand((k === 0 ? 300 : 200) * 8, 700 + k), [k === 0 ? 300 : 200, 8])));
        t.requiresGrad = true;
        t.sparseGrad = true;
        t.name = name;
        return t;
      });
      const opt = own(make([users, items]));
      const step = (k: number) =>
        G.tidy(() => {
          const { u, i, y } = batches[k % batches.length];
          const pred = G.sum(G.mul(G.embedding(users, u), G.embedding(items, i)), [1]);
          const loss = G.nn.mse(pred, y);
          G.backward(loss);
          opt.step();
          opt.zeroGrad();
          return loss.item();
        });
      const first = step(0);
      const live = G.memoryStats().liveBytes;
      let last = first;
      for (let k = 1; k <= 3000; k++) last = step(k);
      expect(G.memoryStats().liveBytes).toBe(live);
      expect(last).toBeLessThan(first / 10); // and it learned
    }
  });
});
