// Training-time audio augmentation as a hook on batches: the fit loop (fit.ts, FitOptions.
// batchAugment) calls it on each batch's data [B, T, ...] before the forward pass, with an Rng that
// is a pure function of (seed, epoch, batch), so a resumed run sees the same batches. Works on
// waveforms (linear amplitude: gain multiplies, noise adds) or on log-power features such as a
// log-mel spectrogram (natural log of power: gain adds, noise mixes as log(eˣ + k·eⁿ)). Axis 1 of the
// batch is time. Image augmentation (crop, flip) lives in the data loader (data/augment.ts).
import { ValueError } from '../errors.js';
import type { Rng } from '../tensor/random.js';

/** A batch hook: rewrites x [B, T, ...] in place. */
export type BatchAugment = (x: Float32Array, shape: readonly number[], rng: Rng) => void;

export interface AudioAugment {
  /** 'wave': amplitudes; 'logpower': ln(power) features (log-mel). Default 'wave'. */
  domain?: 'wave' | 'logpower';
  /** Shift each sample in time by a whole number of steps in [−shift, shift]; vacated steps are filled (wave: 0, logpower: the sample's minimum). */
  shift?: number;
  /** Gain in dB drawn uniformly from [−gainDb, gainDb] per sample. */
  gainDb?: number;
  /**
   * Background noise mixed into a sample with probability p (default 1): one of `count` clips of the
   * per-sample shape (clips [count, T, ...] flattened, in the same domain), at a signal-to-noise
   * ratio drawn uniformly from snrDb [low, high], read from a random circular offset in time.
   */
  noise?: { clips: Float32Array; count: number; snrDb: readonly [number, number]; p?: number };
  /**
   * Frequency warp (vocal-tract-length perturbation on mel features): channel c of the output reads
   * channel c·α of the input, linearly interpolated (the last channel beyond the edge), α drawn
   * uniformly from [1 − warp, 1 + warp] per sample. Features [T, C] only.
   */
  warp?: number;
  /** Time stretch: step t reads step (t − T/2)·α + T/2 (linear, edges held), α in [1 − stretch, 1 + stretch]. */
  stretch?: number;
  /** SpecAugment time masks: `count` spans of up to `width` steps set to 0 (standardised features: the mean). */
  timeMask?: { count: number; width: number };
  /** SpecAugment frequency masks: `count` spans of up to `width` channels set to 0. Features [T, C] only. */
  freqMask?: { count: number; width: number };
}

/**
 * The sequence augmentations `graduate train --augment` names (figures for FSDD's log-mel, 10 ms
 * frames): shift ±4 frames; stretch the time axis ±20% (speaking rate); warp the mel axis ±10%
 * (vocal tract length); mask 2 spans of ≤ 8 frames and 2 of ≤ 5 channels (SpecAugment).
 */
export const NAMED_AUDIO_AUGMENTS = {
  shift: { shift: 4 },
  stretch: { stretch: 0.2 },
  warp: { warp: 0.1 },
  mask: { timeMask: { count: 2, width: 8 }, freqMask: { count: 2, width: 5 } },
} as const satisfies Record<string, AudioAugment>;

/** The names' augmentations together (others are ignored: image names); undefined when none is a sequence one. */
export function namedAudioAugment(names: readonly string[]): AudioAugment | undefined {
  const parts = names.flatMap((n) =>
    Object.hasOwn(NAMED_AUDIO_AUGMENTS, n) ? [NAMED_AUDIO_AUGMENTS[n as keyof typeof NAMED_AUDIO_AUGMENTS]] : [],
  );
  return parts.length > 0 ? Object.assign({}, ...parts) : undefined;
}

/** The hook for `a` (throws ValueError on a bad option). */
export function audioAugment(a: AudioAugment): BatchAugment {
  const log = a.domain === 'logpower';
  if (a.domain !== undefined && a.domain !== 'wave' && !log)
    throw new ValueError(`audio augment: domain must be 'wave' or 'logpower', got ${JSON.stringify(a.domain)}`);
  const shift = a.shift ?? 0;
  if (!Number.isInteger(shift) || shift < 0)
    throw new ValueError(`audio augment: shift must be a non-negative integer, got ${shift}`);
  const gainDb = a.gainDb ?? 0;
  if (!(gainDb >= 0)) throw new ValueError(`audio augment: gainDb must be ≥ 0, got ${gainDb}`);
  const nz = a.noise;
  if (nz) {
    const [lo, hi] = nz.snrDb;
    if (!(Number.isInteger(nz.count) && nz.count > 0 && nz.clips.length % nz.count === 0 && lo <= hi))
      throw new ValueError('audio augment: noise needs count > 0 clips of equal size and snrDb [low, high]');
  }
  const warp = a.warp ?? 0;
  const stretch = a.stretch ?? 0;
  for (const [k, v] of [
    ['warp', warp],
    ['stretch', stretch],
  ] as const)
    if (!(v >= 0 && v < 1)) throw new ValueError(`audio augment: ${k} must be in [0, 1), got ${v}`);
  for (const [k, m] of [
    ['timeMask', a.timeMask],
    ['freqMask', a.freqMask],
  ] as const)
    if (m && !(Number.isInteger(m.count) && m.count >= 0 && Number.isInteger(m.width) && m.width >= 0))
      throw new ValueError(`audio augment: ${k} needs whole numbers count ≥ 0 and width ≥ 0, got ${JSON.stringify(m)}`);
  return (x, shape, rng) => {
    const [B, T] = shape;
    const row = x.length / B; // T · per-step size
    const step = row / T;
    if ((warp > 0 || a.freqMask) && shape.length !== 3)
      throw new ValueError(`audio augment: warp and freqMask need features [B, T, C], got [${shape.join(', ')}]`);
    if (nz && nz.clips.length / nz.count !== row)
      throw new ValueError(
        `audio augment: noise clips hold ${nz.clips.length / nz.count} values, a sample [${shape.slice(1)}] ${row}`,
      );
    const tmp = new Float32Array(row);
    for (let b = 0; b < B; b++) {
      const s = x.subarray(b * row, (b + 1) * row);
      if (stretch > 0) resampleAxis(s, tmp, T, step, 1 + (2 * rng.next() - 1) * stretch, 'time');
      if (warp > 0) resampleAxis(s, tmp, T, step, 1 + (2 * rng.next() - 1) * warp, 'channel');
      if (shift > 0) {
        const d = rng.int(2 * shift + 1) - shift; // out[t] = in[t − d]
        if (d !== 0) {
          let fill = 0;
          if (log) fill = s.reduce((m, v) => Math.min(m, v), Number.POSITIVE_INFINITY);
          tmp.fill(fill);
          for (let t = Math.max(0, d); t < Math.min(T, T + d); t++)
            tmp.set(s.subarray((t - d) * step, (t - d + 1) * step), t * step);
          s.set(tmp);
        }
      }
      if (gainDb > 0) {
        const db = (2 * rng.next() - 1) * gainDb;
        if (log) {
          const add = (db / 10) * Math.LN10; // power gain 10^(db/10), in ln
          for (let i = 0; i < row; i++) s[i] += add;
        } else {
          const g = 10 ** (db / 20);
          for (let i = 0; i < row; i++) s[i] *= g;
        }
      }
      if (nz && rng.next() < (nz.p ?? 1)) {
        const clip = rng.int(nz.count);
        const off = rng.int(T) * step; // circular offset in time
        const at = (i: number) => nz.clips[clip * row + ((i + off) % row)];
        const snr = nz.snrDb[0] + rng.next() * (nz.snrDb[1] - nz.snrDb[0]);
        // k scales noise power so that P_signal / (k · P_noise) = 10^(snr / 10)
        let ps = 0;
        let pn = 0;
        for (let i = 0; i < row; i++) {
          ps += log ? Math.exp(s[i]) : s[i] * s[i];
          pn += log ? Math.exp(at(i)) : at(i) * at(i);
        }
        const k = pn > 0 ? ps / (pn * 10 ** (snr / 10)) : 0;
        if (log) for (let i = 0; i < row; i++) s[i] = Math.log(Math.exp(s[i]) + k * Math.exp(at(i)));
        else {
          const amp = Math.sqrt(k);
          for (let i = 0; i < row; i++) s[i] += amp * at(i);
        }
      }
      if (a.timeMask)
        for (let m = 0; m < a.timeMask.count; m++) {
          const w = rng.int(Math.min(a.timeMask.width, T) + 1);
          const t0 = rng.int(T - w + 1);
          s.fill(0, t0 * step, (t0 + w) * step);
        }
      if (a.freqMask)
        for (let m = 0; m < a.freqMask.count; m++) {
          const w = rng.int(Math.min(a.freqMask.width, step) + 1);
          const c0 = rng.int(step - w + 1);
          for (let t = 0; t < T; t++) s.fill(0, t * step + c0, t * step + c0 + w);
        }
    }
  };
}

/**
 * In place on one sample s [T, step]: resampled along time (each step a row) or along channels
 * (within each step) by factor α: out[i] = in[i·α] (time: about the centre), linear between
 * neighbours, indices past an edge held at the edge. tmp: scratch of s's size.
 */
function resampleAxis(
  s: Float32Array,
  tmp: Float32Array,
  T: number,
  step: number,
  alpha: number,
  axis: 'time' | 'channel',
): void {
  const n = axis === 'time' ? T : step;
  const mid = axis === 'time' ? T / 2 : 0;
  for (let i = 0; i < n; i++) {
    const p = Math.min(Math.max((i - mid) * alpha + mid, 0), n - 1);
    const i0 = Math.floor(p);
    const i1 = Math.min(i0 + 1, n - 1);
    const f = p - i0;
    if (axis === 'time')
      for (let c = 0; c < step; c++) tmp[i * step + c] = (1 - f) * s[i0 * step + c] + f * s[i1 * step + c];
    else for (let t = 0; t < T; t++) tmp[t * step + i] = (1 - f) * s[t * step + i0] + f * s[t * step + i1];
  }
  s.set(tmp.subarray(0, s.length));
}
