// SGD, Adam, AdamW and Adagrad on tensors vs float64 references of the PyTorch formulas over 20 steps (odd
// sizes, one that splits across threads, weight decay / momentum / Nesterov, a changing lr,
// parameters without gradients), createOptimizer, option errors, state dicts that resume
// bit-exactly and reject bad input by name, and live memory staying flat over 2,000 steps.
import { afterEach, describe, expect, it } from 'vitest';
import { ValueError } from '../../src/errors.js';
import * as G from '../../src/index.js';
import { Adagrad, Adam, AdamW, createOptimizer, type Optimizer, SGD } from '../../src/optim/index.js';
import { write } from '../../src/tensor/tensor.js';
import { expectClose, rand } from '../helpers.js';
import { adagradRef, adamRef, sgdRef } from './reference.js';

const SIZES = [1, 7, 33, 70001];
const STEPS = 20;

const made: (G.Tensor | Optimizer)[] = [];
afterEach(() => {
  for (const x of made.splice(0)) {
    if (x instanceof G.Tensor) x.grad?.dispose();
    x.dispose();
  }
});

/** Named parameters (outside scopes) with the given sizes and deterministic values. */
function params(sizes: readonly number[], seed = 1): G.Tensor[] {
  return sizes.map((n, i) => {
    const p = G.keep(G.tensor(rand(n, seed + i), n === 7 ? [7, 1] : [n]));
    p.requiresGrad = true;
    p.name = `p${i}`;
    made.push(p);
    return p;
  });
}

/** Gradient of parameter i at step t (fixed, so two runs see the same ones). */
const gradOf = (n: number, i: number, t: number) => rand(n, 1000 + 37 * t + i);

/** Sets every grad for step t (reusing the grad tensors after the first). */
function setGrads(ps: readonly G.Tensor[], t: number): void {
  ps.forEach((p, i) => {
    const g = gradOf(p.size, i, t);
    if (p.grad) write(p.grad, g);
    else p.grad = G.keep(G.tensor(g, p.shape));
  });
}

const own = <T extends Optimizer>(o: T): T => {
  made.push(o);
  return o;
};
type RefStep = (p: Float64Array, g: ArrayLike<number>, lr: number) => void;

/** Runs opt and per-parameter references for STEPS steps (lr changing halfway) and compares. */
function checkAgainstRef(make: (ps: G.Tensor[]) => Optimizer, ref: () => RefStep): void {
  const ps = params(SIZES);
  const opt = own(make(ps));
  const refs = ps.map(() => ref());
  const want = ps.map((p) => Float64Array.from(p.data()));
  for (let t = 0; t < STEPS; t++) {
    if (t === STEPS / 2) opt.lr = opt.baseLr * 0.5;
    setGrads(ps, t);
    opt.step();
    ps.forEach((p, i) => {
      refs[i](want[i], gradOf(p.size, i, t), opt.lr);
    });
  }
  expect(opt.steps).toBe(STEPS);
  for (const [i, p] of ps.entries()) expectClose(p.data(), want[i], 1e-5, 1e-5);
}

describe('SGD', () => {
  const cases = [
    {},
    { weightDecay: 0.1 },
    { momentum: 0.9 },
    { momentum: 0.9, weightDecay: 0.01, dampening: 0.2 },
    { momentum: 0.9, nesterov: true },
    { momentum: 0.9, nesterov: true, weightDecay: 0.05 },
  ];
  for (const o of cases) {
    it(`matches torch.optim.SGD ${JSON.stringify(o)}`, () => {
      checkAgainstRef(
        (ps) => new SGD(ps, { lr: 0.05, ...o }),
        () => sgdRef(o),
      );
    });
  }

  it('skips parameters without gradients and starts their momentum when they get one', () => {
    const [a, b] = params([5, 6]);
    const opt = own(new SGD([a, b], { lr: 0.1, momentum: 0.9 }));
    const b0 = b.data();
    a.grad = G.keep(G.ones([5]));
    opt.step();
    expect(b.data()).toEqual(b0);
    expect(Object.keys(opt.stateDict().tensors)).toEqual(['p0.momentum']);
    opt.zeroGrad();
    expect(a.grad).toBeNull();
  });

  it('rejects bad options and parameters with clear errors', () => {
    const ps = params([3]);
    expect(() => new SGD(ps, { lr: -1 })).toThrow(/SGD lr must be a number in \[0, ∞\), got -1/);
    expect(() => new SGD(ps, { lr: 0.1, nesterov: true })).toThrow(/nesterov needs momentum > 0/);
    expect(() => new SGD([], { lr: 0.1 })).toThrow(ValueError);
    const anon = G.keep(G.zeros([2]));
    made.push(anon);
    expect(() => new SGD([anon], { lr: 0.1 })).toThrow(/parameter 0 \(float32\[2\]\) has no name/);
    expect(() => new SGD([ps[0], ps[0]], { lr: 0.1 })).toThrow(/two parameters are named 'p0'/);
  });
});

describe('Adam and AdamW', () => {
  for (const o of [{}, { weightDecay: 0.1 }, { betas: [0.8, 0.99] as [number, number], eps: 1e-6 }]) {
    it(`Adam matches torch.optim.Adam ${JSON.stringify(o)}`, () => {
      checkAgainstRef(
        (ps) => new Adam(ps, { lr: 0.01, ...o }),
        () => adamRef({ weightDecay: o.weightDecay, beta1: o.betas?.[0], beta2: o.betas?.[1], eps: o.eps }),
      );
    });
  }

  for (const wd of [undefined, 0.1]) {
    it(`AdamW matches torch.optim.AdamW (weightDecay ${wd ?? 'default 0.01'})`, () => {
      checkAgainstRef(
        (ps) => new AdamW(ps, { lr: 0.01, weightDecay: wd }),
        () => adamRef({ weightDecay: wd ?? 0.01, decoupled: true }),
      );
    });
  }

  it('counts bias-correction steps per parameter, like torch', () => {
    const [a, b] = params([4, 4]);
    const opt = own(new Adam([a, b], { lr: 0.01 }));
    const refA = adamRef({});
    const refB = adamRef({});
    const wantA = Float64Array.from(a.data());
    const wantB = Float64Array.from(b.data());
    for (let t = 0; t < 6; t++) {
      setGrads([a, b], t);
      if (t < 3) {
        b.grad?.dispose();
        b.grad = null;
      } else refB(wantB, gradOf(4, 1, t), 0.01);
      refA(wantA, gradOf(4, 0, t), 0.01);
      opt.step();
    }
    expectClose(a.data(), wantA, 1e-6, 1e-5);
    expectClose(b.data(), wantB, 1e-6, 1e-5);
    expect(opt.stateDict().scalars).toMatchObject({ steps: 6, 'p0.step': 6, 'p1.step': 3 });
  });

  it('rejects bad betas', () => {
    const ps = params([3]);
    expect(() => new Adam(ps, { lr: 0.1, betas: [1, 0.999] })).toThrow(/Adam beta1 must be a number in \[0, 1\)/);
    expect(() => new AdamW(ps, { lr: 0.1, eps: Number.NaN })).toThrow(/AdamW eps/);
  });
});

describe('Adagrad', () => {
  const cases = [
    {},
    { weightDecay: 0.1 },
    { lrDecay: 0.05, initialAccumulatorValue: 0.1 },
    { lrDecay: 0.01, initialAccumulatorValue: 0.5, eps: 1e-6, weightDecay: 0.01 },
  ];
  for (const o of cases) {
    it(`matches torch.optim.Adagrad ${JSON.stringify(o)}`, () => {
      checkAgainstRef(
        (ps) => new Adagrad(ps, { lr: 0.05, ...o }),
        () => adagradRef(o),
      );
    });
  }

  it('rejects bad options', () => {
    const ps = params([3]);
    expect(() => new Adagrad(ps, { lr: 0.1, lrDecay: -1 })).toThrow(/Adagrad lrDecay must be a number in \[0, ∞\)/);
    expect(() => new Adagrad(ps, { lr: 0.1, initialAccumulatorValue: Number.NaN })).toThrow(
      /Adagrad initialAccumulatorValue/,
    );
  });
});

describe('createOptimizer', () => {
  it('builds optimizers by name with their options', () => {
    const ps = params([3]);
    const sgd = own(createOptimizer('sgd', ps, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 }));
    expect(sgd).toBeInstanceOf(SGD);
    expect(sgd.stateDict().scalars).toMatchObject({ lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
    expect(own(createOptimizer('adam', ps, { lr: 0.1 }))).toBeInstanceOf(Adam);
    const adamw = own(createOptimizer('adamw', ps, { lr: 0.1 }));
    expect(adamw).toBeInstanceOf(AdamW);
    expect(adamw.stateDict().scalars.weightDecay).toBe(0.01);
    const adagrad = own(createOptimizer('adagrad', ps, { lr: 0.1, weightDecay: 1e-4 }));
    expect(adagrad).toBeInstanceOf(Adagrad);
    expect(adagrad.stateDict().scalars).toMatchObject({ lr: 0.1, weightDecay: 1e-4, lrDecay: 0, eps: 1e-10 });
    expect(() => createOptimizer('rmsprop' as 'sgd', ps, { lr: 0.1 })).toThrow(
      /unknown optimizer 'rmsprop': expected one of sgd, adam, adamw, adagrad/,
    );
  });
});

describe('state dicts', () => {
  const makers: [string, (ps: G.Tensor[]) => Optimizer][] = [
    ['SGD + Nesterov', (ps) => new SGD(ps, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 })],
    ['Adam', (ps) => new Adam(ps, { lr: 0.01, weightDecay: 0.01 })],
    ['AdamW', (ps) => new AdamW(ps, { lr: 0.01 })],
    ['Adagrad', (ps) => new Adagrad(ps, { lr: 0.05, lrDecay: 0.01, initialAccumulatorValue: 0.1, weightDecay: 0.01 })],
  ];
  const bits = (p: G.Tensor) => new Uint32Array((p.data() as Float32Array).buffer);

  for (const [label, make] of makers) {
    it(`${label}: save after 5 steps, load into a fresh optimizer, continue bit-identically`, () => {
      const ps = params([7, 70001], 11);
      const opt = own(make(ps));
      for (let t = 0; t < 5; t++) {
        opt.lr = opt.baseLr * (1 - t / 10);
        setGrads(ps, t);
        opt.step();
      }
      const saved = opt.stateDict();
      const savedParams = ps.map((p) => p.data() as Float32Array);
      const run5 = (o: Optimizer, qs: G.Tensor[]) => {
        for (let t = 5; t < 10; t++) {
          o.lr = o.baseLr * (1 - t / 10);
          setGrads(qs, t);
          o.step();
        }
      };
      run5(opt, ps);

      const qs = params([7, 70001], 11);
      for (const [i, q] of qs.entries()) write(q, savedParams[i]);
      const fresh = own(make(qs));
      fresh.loadStateDict(saved);
      expect(fresh.steps).toBe(5);
      run5(fresh, qs);
      expect(fresh.steps).toBe(10);
      for (const [i, q] of qs.entries()) expect(bits(q)).toEqual(bits(ps[i]));
      // Saving copies: the dict did not follow the optimizer's later steps.
      expect(saved.scalars.steps).toBe(5);
    });
  }

  it('loading restores hyper-parameters and lr', () => {
    const ps = params([3]);
    const a = own(new SGD(ps, { lr: 0.2, momentum: 0.5 }));
    a.lr = 0.07;
    const b = own(new SGD(ps, { lr: 1 }));
    b.loadStateDict(a.stateDict());
    expect([b.lr, b.baseLr, b.momentum]).toEqual([0.07, 0.2, 0.5]);
  });

  it('rejects bad state with errors naming the entry, changing nothing', () => {
    const ps = params([7, 3]);
    const opt = own(new Adam(ps, { lr: 0.01 }));
    setGrads(ps, 0);
    opt.step();
    const good = opt.stateDict();
    const other = own(new Adam(ps, { lr: 0.5 }));
    const bad = (edit: (s: typeof good) => void) => {
      const s = { tensors: { ...good.tensors }, scalars: { ...good.scalars } };
      edit(s);
      return () => other.loadStateDict(s);
    };
    expect(
      bad((s) => {
        s.tensors['p0.m'] = new Float32Array(6);
      }),
    ).toThrow(/tensor 'p0.m' has 6 values, parameter float32\[7, 1\] 'p0' has 7/);
    expect(
      bad((s) => {
        s.tensors['fc.weight.m'] = new Float32Array(7);
      }),
    ).toThrow(/unknown tensor 'fc.weight.m'/);
    expect(
      bad((s) => {
        delete s.tensors['p1.v'];
      }),
    ).toThrow(/tensor 'p1.v' is missing/);
    expect(
      bad((s) => {
        delete s.scalars.beta2;
      }),
    ).toThrow(ValueError);
    expect(
      bad((s) => {
        s.scalars.lr = Number.NaN;
      }),
    ).toThrow(/scalar 'lr' is not a finite number/);
    expect(
      bad((s) => {
        s.scalars['p9.step'] = 1;
      }),
    ).toThrow(/unknown scalar 'p9.step'/);
    expect(() => other.loadStateDict(new SGD(ps, { lr: 0.1 }).stateDict())).toThrow(
      /Adam.loadStateDict: missing scalar/,
    );
    expect(other.lr).toBe(0.5);
    expect(other.steps).toBe(0);
  });

  it('state survives tidy scopes and dispose frees it', () => {
    const ps = params([33]);
    setGrads(ps, 0);
    const before = G.memoryStats().liveBytes;
    const opt = new Adam(ps, { lr: 0.01 });
    G.tidy(() => opt.step());
    G.tidy(() => opt.step());
    expect(opt.stateDict().tensors['p0.m'].length).toBe(33);
    opt.dispose();
    expect(G.memoryStats().liveBytes).toBe(before);
    expect(() => opt.step()).toThrow(/Adam was used after dispose/);
  });
});

describe('memory', () => {
  it('2,000 steps leave live bytes flat', () => {
    const ps = params([7, 33, 70001]);
    for (const make of [
      (q: G.Tensor[]) => new SGD(q, { lr: 1e-3, momentum: 0.9 }),
      (q: G.Tensor[]) => new AdamW(q, { lr: 1e-3 }),
    ]) {
      const opt = own(make(ps));
      setGrads(ps, 0);
      G.tidy(() => opt.step());
      const live = G.memoryStats().liveBytes;
      for (let t = 0; t < 2000; t++) G.tidy(() => opt.step());
      expect(G.memoryStats().liveBytes).toBe(live);
    }
  });
});
