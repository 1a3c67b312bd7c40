// Optimizer kernels vs float64 references of the PyTorch formulas: every SGD flag combination and
// Adam with L2 / decoupled decay over several steps, sum of squares; odd sizes, both builds, one
// and two threads, a split-sized case, bit-identical results across configurations, memory flat.
import { describe, expect, it } from 'vitest';
import { adamStep, sgdStep, sumSquares } from '../../src/kernels/optim.js';
import { download, engineConfigs, engineFor, expectClose, ODD, rand, upload } from '../helpers.js';
import { adamRef, sgdRef } from '../optim/reference.js';

const SIZES = [...ODD, 70001];
const STEPS = 6;
const LR = 0.05;

const SGD_CASES = [
  { momentum: 0, weightDecay: 0, nesterov: false, dampening: 0 },
  { momentum: 0, weightDecay: 0.1, nesterov: false, dampening: 0 },
  { momentum: 0.9, weightDecay: 0, nesterov: false, dampening: 0 },
  { momentum: 0.9, weightDecay: 0.05, nesterov: false, dampening: 0.3 },
  { momentum: 0.8, weightDecay: 0, nesterov: true, dampening: 0 },
  { momentum: 0.8, weightDecay: 0.05, nesterov: true, dampening: 0 },
];
const ADAM_CASES = [
  { weightDecay: 0, decoupled: false },
  { weightDecay: 0.1, decoupled: false },
  { weightDecay: 0.1, decoupled: true },
];

/** Final parameters of every (case, size) for one configuration, to compare configurations bitwise. */
const finals = new Map<string, Float32Array>();
function sameAcrossConfigs(key: string, got: Float32Array): void {
  const prev = finals.get(key);
  if (prev) expect(new Uint32Array(got.buffer)).toEqual(new Uint32Array(prev.buffer));
  else finals.set(key, got);
}

for (const cfg of engineConfigs()) {
  describe(`optimizer kernels (${cfg.isa}, ${cfg.threads} thread${cfg.threads > 1 ? 's' : ''})`, () => {
    const e = engineFor(cfg);

    it('sgd_step matches torch.optim.SGD for every flag combination', () => {
      for (const [c, o] of SGD_CASES.entries()) {
        for (const n of SIZES) {
          const p0 = rand(n, 3);
          const ref = Float64Array.from(p0);
          const step = sgdRef(o);
          const pp = upload(e, p0);
          const pb = e.alloc(n * 4);
          for (let t = 0; t < STEPS; t++) {
            const g = rand(n, 100 + t);
            const pg = upload(e, g);
            sgdStep(e, pp, pg, pb, n, { lr: LR, ...o, firstStep: t === 0 });
            step(ref, g, LR);
            e.free(pg);
          }
          const got = download(e, pp, n);
          expectClose(got, ref, 1e-5, 1e-5);
          sameAcrossConfigs(`sgd ${c} ${n}`, got);
          e.free(pp);
          e.free(pb);
        }
      }
    });

    it('adam_step matches torch.optim.Adam / AdamW with bias correction', () => {
      for (const [c, o] of ADAM_CASES.entries()) {
        for (const n of SIZES) {
          const p0 = rand(n, 5);
          const ref = Float64Array.from(p0);
          const step = adamRef(o);
          const pp = upload(e, p0);
          const pm = upload(e, new Float32Array(n));
          const pv = upload(e, new Float32Array(n));
          for (let t = 1; t <= STEPS; t++) {
            const g = rand(n, 200 + t);
            const pg = upload(e, g);
            adamStep(e, pp, pg, pm, pv, n, { lr: LR, beta1: 0.9, beta2: 0.999, eps: 1e-8, ...o, step: t });
            step(ref, g, LR);
            e.free(pg);
          }
          const got = download(e, pp, n);
          expectClose(got, ref, 1e-5, 1e-5);
          sameAcrossConfigs(`adam ${c} ${n}`, got);
          for (const p of [pp, pm, pv]) e.free(p);
        }
      }
    });

    it('sum_squares accumulates in f64, independent of the thread count', () => {
      for (const n of [0, ...SIZES, 300007]) {
        const x = rand(n, 9);
        let want = 0;
        for (const v of x) want += v * v;
        const px = upload(e, x);
        const got = sumSquares(e, px, n);
        expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-12 * Math.max(1, want));
        const bits = new Float32Array(new Float64Array([got]).buffer);
        sameAcrossConfigs(`sumsq ${n}`, bits);
        e.free(px);
      }
    });

    it('leaves memory flat across repeated calls', () => {
      const n = 70001;
      const [pp, pg, pm, pv] = [rand(n, 1), rand(n, 2), new Float32Array(n), new Float32Array(n)].map((a) =>
        upload(e, a),
      );
      const live = e.memoryStats().liveBytes;
      for (let t = 1; t <= 20; t++) {
        adamStep(e, pp, pg, pm, pv, n, {
          lr: LR,
          beta1: 0.9,
          beta2: 0.999,
          eps: 1e-8,
          weightDecay: 0,
          decoupled: false,
          step: t,
        });
        sgdStep(e, pp, pg, pm, n, {
          lr: LR,
          momentum: 0.9,
          dampening: 0,
          nesterov: true,
          weightDecay: 0,
          firstStep: false,
        });
        sumSquares(e, pg, n);
      }
      expect(e.memoryStats().liveBytes).toBe(live);
      for (const p of [pp, pg, pm, pv]) e.free(p);
    });
  });
}
