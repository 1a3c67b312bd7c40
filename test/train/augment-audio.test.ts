// The audio batch hook (src/train/augment-audio.ts): time shift, gain and background noise at a
// given SNR, on waveforms and on log-power features; reproducible from the Rng; and the fit loop
// calling it on every training batch before the forward pass.
import { describe, expect, it } from 'vitest';
import type { ArrayDataset } from '../../src/data/dataset.js';
import { buildModel } from '../../src/nn/build.js';
import { manualSeed, Rng } from '../../src/tensor/random.js';
import { audioAugment, NAMED_AUDIO_AUGMENTS, namedAudioAugment } from '../../src/train/augment-audio.js';
import { fit } from '../../src/train/fit.js';
import { rand } from '../helpers.js';

const power = (a: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return s / a.length;
};

describe('audio augmentation hook', () => {
  it('shift moves each sample by a whole number of steps, zero-filling the vacated ones', () => {
    const [B, T, C] = [4, 9, 2];
    const x0 = Float32Array.from({ length: B * T * C }, (_, i) => 1 + i);
    const x = x0.slice();
    audioAugment({ shift: 3 })(x, [B, T, C], new Rng(5));
    let moved = 0;
    for (let b = 0; b < B; b++) {
      const row = x.subarray(b * T * C, (b + 1) * T * C);
      const src = x0.subarray(b * T * C, (b + 1) * T * C);
      // the shift d: where src's first step landed (or where row's first real step came from)
      const d = [...Array(7).keys()]
        .map((k) => k - 3)
        .find((dd) => {
          for (let t = 0; t < T; t++)
            for (let c = 0; c < C; c++) {
              const from = t - dd;
              const want = from < 0 || from >= T ? 0 : src[from * C + c];
              if (row[t * C + c] !== want) return false;
            }
          return true;
        });
      expect(d, `sample ${b} is a shift of at most 3 steps`).toBeDefined();
      if (d !== 0) moved++;
    }
    expect(moved).toBeGreaterThan(0);
  });

  it('gain scales waveforms by 10^(dB/20) within the range; on log power it adds dB·ln10/10', () => {
    const x0 = rand(3 * 8, 2).map((v) => v + 2); // no zeros
    const x = x0.slice();
    audioAugment({ gainDb: 6 })(x, [3, 8], new Rng(1));
    for (let b = 0; b < 3; b++) {
      const g = x[b * 8] / x0[b * 8];
      for (let i = 0; i < 8; i++) expect(x[b * 8 + i] / x0[b * 8 + i]).toBeCloseTo(g, 5);
      expect(Math.abs(20 * Math.log10(g))).toBeLessThanOrEqual(6 + 1e-4);
    }
    const l = x0.slice();
    audioAugment({ gainDb: 6, domain: 'logpower' })(l, [3, 8], new Rng(1));
    for (let b = 0; b < 3; b++) {
      const add = l[b * 8] - x0[b * 8];
      expect(Math.abs((add * 10) / Math.LN10)).toBeLessThanOrEqual(6 + 1e-4);
      for (let i = 0; i < 8; i++) expect(l[b * 8 + i] - x0[b * 8 + i]).toBeCloseTo(add, 4);
    }
  });

  it('noise is mixed at the drawn signal-to-noise ratio (waveform and log power)', () => {
    const [B, T] = [3, 64];
    const clips = rand(2 * T, 9);
    const x0 = rand(B * T, 4);
    const x = x0.slice();
    audioAugment({ noise: { clips, count: 2, snrDb: [10, 10] } })(x, [B, T], new Rng(3));
    for (let b = 0; b < B; b++) {
      const s = x0.subarray(b * T, (b + 1) * T);
      const added = x.subarray(b * T, (b + 1) * T).map((v, i) => v - s[i]);
      expect(10 * Math.log10(power(s) / power(added))).toBeCloseTo(10, 3);
    }
    // log power: the mixed power is the signal's plus k times the noise's, k from the SNR
    const lx = x0.slice();
    const lclips = clips.slice();
    audioAugment({ domain: 'logpower', noise: { clips: lclips, count: 2, snrDb: [0, 0] } })(lx, [B, T], new Rng(3));
    for (let b = 0; b < B; b++) {
      let ps = 0;
      let pm = 0;
      for (let i = 0; i < T; i++) {
        ps += Math.exp(x0[b * T + i]);
        pm += Math.exp(lx[b * T + i]);
      }
      // SNR 0 dB: the noise adds as much power as the signal has
      expect(pm / ps).toBeCloseTo(2, 4);
    }
  });

  it('is a pure function of the Rng; p = 0 leaves samples without noise', () => {
    const hook = audioAugment({ shift: 2, gainDb: 3, noise: { clips: rand(16, 1), count: 2, snrDb: [5, 20] } });
    const a = rand(32, 7);
    const b = a.slice();
    hook(a, [4, 8], new Rng(11));
    hook(b, [4, 8], new Rng(11));
    expect(Array.from(a)).toEqual(Array.from(b));
    const c = rand(32, 7);
    audioAugment({ noise: { clips: rand(16, 1), count: 2, snrDb: [5, 20], p: 0 } })(c, [4, 8], new Rng(11));
    expect(Array.from(c)).toEqual(Array.from(rand(32, 7)));
    expect(() => audioAugment({ shift: -1 })).toThrow(/shift/);
    expect(() => hook(rand(30, 1), [3, 10], new Rng(1))).toThrow(/noise clips hold 8 values/);
  });

  it('warp reads channel c·α (linear, held at the last channel), one α per sample within ±warp', () => {
    const [B, T, C] = [6, 3, 10];
    const x = Float32Array.from({ length: B * T * C }, (_, i) => i % C); // x[b, t, c] = c
    audioAugment({ warp: 0.2 })(x, [B, T, C], new Rng(2));
    const alphas = new Set<number>();
    for (let b = 0; b < B; b++) {
      const alpha = x[b * T * C + 1]; // channel 1 reads 1·α
      expect(Math.abs(alpha - 1)).toBeLessThanOrEqual(0.2 + 1e-6);
      alphas.add(alpha);
      for (let t = 0; t < T; t++)
        for (let c = 0; c < C; c++) expect(x[(b * T + t) * C + c]).toBeCloseTo(Math.min(c * alpha, C - 1), 5);
    }
    expect(alphas.size).toBe(B);
  });

  it('stretch reads step (t − T/2)·α + T/2 (edges held), one α per sample within ±stretch', () => {
    const [B, T, C] = [5, 20, 2];
    const x = Float32Array.from({ length: B * T * C }, (_, i) => Math.floor(i / C) % T); // x[b, t, c] = t
    audioAugment({ stretch: 0.1 })(x, [B, T, C], new Rng(8));
    for (let b = 0; b < B; b++) {
      const alpha = x[(b * T + 11) * C] - 10; // step 11 reads 10 + α
      expect(Math.abs(alpha - 1)).toBeLessThanOrEqual(0.1 + 1e-6);
      for (let t = 0; t < T; t++) {
        const want = Math.min(Math.max((t - 10) * alpha + 10, 0), T - 1);
        for (let c = 0; c < C; c++) expect(x[(b * T + t) * C + c]).toBeCloseTo(want, 4);
      }
    }
  });

  it('time and frequency masks zero whole steps / channels: at most `count` spans of at most `width`', () => {
    const [B, T, C] = [8, 30, 12];
    const spans = (zero: boolean[]) => {
      const out: number[] = [];
      zero.forEach((z, i) => {
        if (z && (i === 0 || !zero[i - 1])) out.push(0);
        if (z) out[out.length - 1]++;
      });
      return out;
    };
    const t = new Float32Array(B * T * C).fill(1);
    audioAugment({ timeMask: { count: 2, width: 5 } })(t, [B, T, C], new Rng(4));
    let masked = 0;
    for (let b = 0; b < B; b++) {
      const row = (s: number) => Array.from(t.subarray((b * T + s) * C, (b * T + s + 1) * C));
      const zero = [...Array(T).keys()].map((s) => row(s).every((v) => v === 0));
      for (let s = 0; s < T; s++) expect(zero[s] || row(s).every((v) => v === 1)).toBe(true); // whole steps
      const sp = spans(zero);
      expect(sp.length).toBeLessThanOrEqual(2);
      expect(sp.every((w) => w <= 10)).toBe(true); // two masks may touch
      masked += zero.filter(Boolean).length;
    }
    expect(masked).toBeGreaterThan(0);
    const f = new Float32Array(B * T * C).fill(1);
    audioAugment({ freqMask: { count: 1, width: 4 } })(f, [B, T, C], new Rng(4));
    for (let b = 0; b < B; b++) {
      const col = (c: number) => [...Array(T).keys()].map((s) => f[(b * T + s) * C + c]);
      const zero = [...Array(C).keys()].map((c) => col(c).every((v) => v === 0));
      for (let c = 0; c < C; c++) expect(zero[c] || col(c).every((v) => v === 1)).toBe(true); // whole channels
      expect(zero.filter(Boolean).length).toBeLessThanOrEqual(4);
      expect(spans(zero).length).toBeLessThanOrEqual(1);
    }
    expect(() => audioAugment({ warp: 1 })).toThrow('audio augment: warp must be in [0, 1), got 1');
    expect(() => audioAugment({ timeMask: { count: 1.5, width: 2 } })).toThrow(/timeMask needs whole numbers/);
    expect(() => audioAugment({ freqMask: { count: 1, width: 2 } })(rand(8, 1), [2, 4], new Rng(1))).toThrow(
      'audio augment: warp and freqMask need features [B, T, C], got [2, 4]',
    );
  });

  it('the names --augment takes merge into one augmentation; image names are not sequence ones', () => {
    expect(namedAudioAugment(['shift', 'crop', 'warp'])).toEqual({ shift: 4, warp: 0.1 });
    expect(namedAudioAugment(['mask'])).toEqual(NAMED_AUDIO_AUGMENTS.mask);
    expect(namedAudioAugment(['crop', 'flip'])).toBeUndefined();
  });

  it('fit calls the hook on every training batch before the forward pass, reproducibly', () => {
    const n = 40;
    const ds: ArrayDataset = {
      x: rand(n * 6 * 2, 3),
      y: Int32Array.from({ length: n }, (_, i) => i % 2),
      sampleShape: [6, 2],
      classNames: ['a', 'b'],
      size: n,
      preprocessing: { kind: 'tabular', inputShape: [6, 2], mean: [0, 0], std: [1, 1] },
      name: 'seq',
    };
    const runOnce = () => {
      const spec = {
        inputShape: [6, 2],
        layers: [
          { type: 'gru' as const, hidden: 3 },
          { type: 'linear' as const, out: 2 },
        ],
      };
      manualSeed(1);
      const { model } = buildModel(spec);
      const seen: number[][] = [];
      const shift = audioAugment({ shift: 1, gainDb: 2 });
      fit({
        model,
        modelSpec: spec,
        train: ds,
        config: { epochs: 2, batchSize: 16, lr: 0.01, optimizer: 'adam', seed: 4 },
        batchAugment: (x, shape, rng) => {
          seen.push([...shape]);
          shift(x, shape, rng);
        },
        log: () => {},
        progress: false,
      });
      const w = Array.from(model.parameters()[0].data());
      model.dispose();
      return { seen, w };
    };
    const first = runOnce();
    expect(first.seen).toEqual(
      [...Array(2)].flatMap(() => [
        [16, 6, 2],
        [16, 6, 2],
        [8, 6, 2],
      ]),
    );
    expect(runOnce().w).toEqual(first.w);
  });
});
