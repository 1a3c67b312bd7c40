// The feature front end against plain references: the FFT against a direct DFT, the mel scale and
// filterbank against librosa's definitions (values derived by hand), a sine's energy in its bin,
// MFCC as an orthonormal DCT-II, fixed length by padding and cropping.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AudioFeaturizer,
  checkAudioSpec,
  dctMatrix,
  defaultAudioSpec,
  hannWindow,
  hzToMel,
  melFilterbank,
  melToHz,
  RealFft,
} from '../../src/audio/features.js';
import { decodeWav } from '../../src/audio/wav.js';
import { ValueError } from '../../src/errors.js';
import { Rng } from '../../src/tensor/random.js';

/** X[k] = Σ x[t] e^(−2πikt/n), k = 0..n/2, by the definition (float64). */
function dft(x: Float64Array): { re: number[]; im: number[] } {
  const n = x.length;
  const re: number[] = [];
  const im: number[] = [];
  for (let k = 0; k <= n / 2; k++) {
    let r = 0;
    let i = 0;
    for (let t = 0; t < n; t++) {
      r += x[t] * Math.cos((2 * Math.PI * k * t) / n);
      i -= x[t] * Math.sin((2 * Math.PI * k * t) / n);
    }
    re.push(r);
    im.push(i);
  }
  return { re, im };
}

describe('RealFft', () => {
  it.each([2, 4, 8, 16, 64, 256, 1024])('matches a direct DFT on random input of size %i', (n) => {
    const rng = new Rng(n);
    const x = Float64Array.from({ length: n }, () => rng.next() * 2 - 1);
    const re = new Float64Array(n / 2 + 1);
    const im = new Float64Array(n / 2 + 1);
    const power = new Float32Array(n / 2 + 1);
    new RealFft(n).forward(x, re, im, power);
    const ref = dft(x);
    for (let k = 0; k <= n / 2; k++) {
      expect(re[k]).toBeCloseTo(ref.re[k], 9);
      expect(im[k]).toBeCloseTo(ref.im[k], 9);
      expect(power[k]).toBeCloseTo(ref.re[k] ** 2 + ref.im[k] ** 2, 3);
    }
  });

  it('windowed frames of odd window lengths match the DFT too', () => {
    for (const win of [7, 25, 201]) {
      const n = 256;
      const w = hannWindow(win, n);
      const rng = new Rng(win);
      const x = Float64Array.from(w, (v) => v * (rng.next() - 0.5));
      const re = new Float64Array(n / 2 + 1);
      const im = new Float64Array(n / 2 + 1);
      new RealFft(n).forward(x, re, im);
      const ref = dft(x);
      for (let k = 0; k <= n / 2; k += 7) expect(re[k]).toBeCloseTo(ref.re[k], 9);
    }
  });

  it('refuses sizes that are not powers of 2', () => {
    expect(() => new RealFft(100)).toThrow('RealFft: size must be a power of 2 ≥ 2, got 100');
  });
});

describe('window', () => {
  it('is the periodic Hann (scipy get_window) centred in the FFT frame', () => {
    const w = hannWindow(4, 8);
    expect([...w].map((v) => +v.toFixed(12))).toEqual([0, 0, 0, 0.5, 1, 0.5, 0, 0]);
  });
});

describe('mel scale and filterbank', () => {
  it('matches librosa.hz_to_mel / mel_to_hz (Slaney and HTK)', () => {
    expect(hzToMel(1000, 'slaney')).toBeCloseTo(15, 12);
    expect(hzToMel(500, 'slaney')).toBeCloseTo(7.5, 12);
    expect(hzToMel(6400, 'slaney')).toBeCloseTo(42, 12); // 15 + 27 steps of log(6.4)/27
    expect(hzToMel(1000, 'htk')).toBeCloseTo(999.985, 2);
    for (const f of [0, 123, 999, 1000, 4000, 7999])
      for (const s of ['slaney', 'htk'] as const) expect(melToHz(hzToMel(f, s), s)).toBeCloseTo(f, 8);
  });

  it('unnormalised triangles sum to 1 between the first and last centres (a partition of unity)', () => {
    for (const melScale of ['slaney', 'htk'] as const) {
      const s = defaultAudioSpec({ nFft: 512, nMels: 20, melScale, melNorm: 'none', fMin: 100, fMax: 3800 });
      const fb = melFilterbank(s);
      const bins = 257;
      const lo = melToHz(hzToMel(100, melScale) + (hzToMel(3800, melScale) - hzToMel(100, melScale)) / 21, melScale);
      const hi = melToHz(
        hzToMel(100, melScale) + ((hzToMel(3800, melScale) - hzToMel(100, melScale)) * 20) / 21,
        melScale,
      );
      for (let k = 0; k < bins; k++) {
        const f = (k * 8000) / 512;
        let sum = 0;
        for (let m = 0; m < 20; m++) sum += fb[m * bins + k];
        if (f >= lo && f <= hi) expect(sum).toBeCloseTo(1, 9);
        if (f < 100 || f > 3800) expect(sum).toBe(0);
      }
    }
  });

  it('Slaney normalisation gives each filter unit area in Hz (2 / width, librosa norm="slaney")', () => {
    const s = defaultAudioSpec({ nFft: 4096, nMels: 10 });
    const fb = melFilterbank(s);
    const bins = 2049;
    for (let m = 0; m < 10; m++) {
      let area = 0;
      for (let k = 0; k < bins; k++) area += fb[m * bins + k] * (8000 / 4096);
      expect(area).toBeCloseTo(1, 2);
    }
  });
});

describe('AudioFeaturizer', () => {
  const spec = defaultAudioSpec({ melNorm: 'none', frames: 20, fit: 'start' });

  it('puts a bin-centred sine in its bin with power (A·winLength/4)² (Hann coherent gain ½)', () => {
    const s = { ...spec, winLength: 256, nMels: 128, fMin: 0, fMax: 4000 };
    const fz = new AudioFeaturizer(s);
    const k = 32; // 1000 Hz at 8 kHz / 256
    const A = 0.5;
    const x = Float32Array.from({ length: 8000 }, (_, i) => A * Math.sin((2 * Math.PI * k * i) / 256));
    const feats = fz.compute(x);
    const fb = melFilterbank(s);
    // the mel band with the largest weight on bin k holds weight·(A·256/4)² and is the frame's maximum
    let best = 0;
    for (let m = 1; m < 128; m++) if (fb[m * 129 + k] > fb[best * 129 + k]) best = m;
    const row = feats.subarray(5 * 128, 6 * 128);
    const expected = 10 * Math.log10(fb[best * 129 + k] * ((A * 256) / 4) ** 2);
    expect(row[best]).toBeCloseTo(expected, 3);
    expect(Math.max(...row)).toBeCloseTo(row[best], 6);
  });

  it('log-mel is 10·log10 of the filterbank applied to |FFT(window · frame)|², frame by frame', () => {
    const fz = new AudioFeaturizer(spec);
    const rng = new Rng(3);
    const x = Float32Array.from({ length: 1000 }, () => rng.next() - 0.5);
    const feats = fz.compute(x);
    expect(fz.shape).toEqual([20, 40]);
    const w = hannWindow(spec.winLength, spec.nFft);
    const fb = melFilterbank(spec);
    for (const t of [0, 3, 9]) {
      const frame = Float64Array.from(w, (v, i) => v * (x[t * spec.hopLength + i] ?? 0));
      const { re, im } = dft(frame);
      for (const m of [0, 17, 39]) {
        let e = 0;
        for (let k = 0; k <= 128; k++) e += fb[m * 129 + k] * (re[k] ** 2 + im[k] ** 2);
        expect(feats[t * 40 + m]).toBeCloseTo(10 * Math.log10(Math.max(e, 1e-10)), 3);
      }
    }
    // frames past the clip are silence: the floor, 10·log10(1e-10) = −100 dB
    expect(feats[19 * 40 + 5]).toBeCloseTo(-100, 6);
  });

  it('MFCC is the orthonormal DCT-II of the log-mel frame', () => {
    const rng = new Rng(4);
    const x = Float32Array.from({ length: 2000 }, () => rng.next() - 0.5);
    const mel = new AudioFeaturizer(spec).compute(x);
    const mfcc = new AudioFeaturizer({ ...spec, kind: 'mfcc', nMfcc: 13 }).compute(x);
    const d = dctMatrix(40, 40);
    // orthonormal: D·Dᵀ = I
    for (const [a, b] of [
      [0, 0],
      [3, 3],
      [2, 7],
    ]) {
      let dot = 0;
      for (let i = 0; i < 40; i++) dot += d[a * 40 + i] * d[b * 40 + i];
      expect(dot).toBeCloseTo(a === b ? 1 : 0, 12);
    }
    let c0 = 0;
    for (let m = 0; m < 40; m++) c0 += mel[2 * 40 + m];
    expect(mfcc[2 * 13]).toBeCloseTo(c0 / Math.sqrt(40), 3);
    let c1 = 0;
    for (let m = 0; m < 40; m++) c1 += mel[2 * 40 + m] * Math.sqrt(2 / 40) * Math.cos((Math.PI * (2 * m + 1)) / 80);
    expect(mfcc[2 * 13 + 1]).toBeCloseTo(c1, 3);
  });

  it('fits every clip to `frames`: pads short ones and crops long ones, at the start or centred', () => {
    const s = { ...spec, frames: 4, hopLength: 100, nFft: 256, winLength: 200 };
    const fz = new AudioFeaturizer(s);
    expect(fz.clipSamples).toBe(556);
    const impulseAt = (n: number, at: number) => {
      const x = new Float32Array(n);
      x[at] = 1;
      return x;
    };
    const loudFrames = (f: Float32Array) => [0, 1, 2, 3].filter((t) => f[t * 40 + 10] > -50);
    // an impulse at sample 150 of a 300-sample clip: frames 0 and 1 (start), shifted by 128 (centre)
    expect(loudFrames(fz.compute(impulseAt(300, 150)))).toEqual([0, 1]);
    expect(loudFrames(new AudioFeaturizer({ ...s, fit: 'center' }).compute(impulseAt(300, 150)))).toEqual([1, 2]);
    // a 1556-sample clip keeps [0, 556) (start) or [500, 1056) (centre)
    expect(loudFrames(fz.compute(impulseAt(1556, 600)))).toEqual([]);
    expect(loudFrames(new AudioFeaturizer({ ...s, fit: 'center' }).compute(impulseAt(1556, 600)))).toEqual([0]);
    // the same spec gives the same numbers from a fresh featurizer (no state carried between clips)
    const x = impulseAt(900, 321);
    expect(new AudioFeaturizer(s).compute(x)).toEqual(fz.compute(x));
  });

  it('the spec is plain JSON, and a bad field is a ValueError naming it', () => {
    const s = defaultAudioSpec();
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    expect(() => checkAudioSpec({ ...s, nFft: 200 })).toThrow(ValueError);
    expect(() => checkAudioSpec({ ...s, nFft: 200 })).toThrow('audio features: nFft must be a power of 2, got 200');
    expect(() => checkAudioSpec({ ...s, fMax: 5000 })).toThrow(
      'fMax must be a frequency in (fMin, sampleRate / 2 = 4000]',
    );
    expect(() => checkAudioSpec({ ...s, winLength: 300 })).toThrow('winLength must be an integer in 1..256, got 300');
    expect(() => checkAudioSpec({ ...s, kind: 'mfcc', nMfcc: 50 })).toThrow('nMfcc must be an integer in 1..40');
  });
});

describe('against an independent numpy/scipy reference (test/fixtures/audio/make_reference.py)', () => {
  it('log-mel and MFCC of an FSDD clip match to 1e-3 dB', () => {
    const dir = join(import.meta.dirname, '../fixtures/audio');
    const ref = JSON.parse(readFileSync(join(dir, 'logmel-3_theo_7.json'), 'utf8')) as {
      frames: number[];
      logmel: number[][];
      mfcc: number[][];
    };
    const wav = decodeWav(readFileSync(join(dir, '3_theo_7.wav')), '3_theo_7.wav');
    const spec = defaultAudioSpec();
    const mel = new AudioFeaturizer(spec).compute(wav.samples);
    const mfcc = new AudioFeaturizer({ ...spec, kind: 'mfcc' }).compute(wav.samples);
    let worst = 0;
    ref.frames.forEach((t, r) => {
      for (let m = 0; m < 40; m++) worst = Math.max(worst, Math.abs(mel[t * 40 + m] - ref.logmel[r][m]));
      for (let c = 0; c < 13; c++) worst = Math.max(worst, Math.abs(mfcc[t * 13 + c] - ref.mfcc[r][c]));
    });
    expect(worst).toBeLessThan(1e-3);
    expect(ref.logmel.flat().some((v) => v > -60)).toBe(true); // the reference holds speech, not only silence
  });
});

describe('per-utterance normalisation (spec.normalize, topDb, ref)', () => {
  const base = defaultAudioSpec({ frames: 40, nMels: 16 });
  /** 0.25 s of two tones with a slow envelope, centred in 40 frames (0.42 s): padding both sides. */
  const clip = (gain: number) =>
    Float32Array.from(
      { length: 2000 },
      (_, i) =>
        gain *
        (0.2 + 0.1 * Math.sin(i / 300)) *
        (Math.sin((2 * Math.PI * 440 * i) / 8000) + 0.3 * Math.sin((2 * Math.PI * 1900 * i) / 8000)),
    );
  /** Frames whose window touches the clip's samples: the centred clip starts at sample 390 of 3376. */
  const fitted = new AudioFeaturizer(base).clipSamples;
  const from = Math.floor((fitted - 2000) / 2);
  const isSignal = (t: number) => t * base.hopLength + base.nFft > from && t * base.hopLength < from + 2000;

  it("'mean' and 'meanvar' standardise each channel over the frames that hold signal; padding takes the clip's floor", () => {
    const raw = new AudioFeaturizer(base).compute(clip(1));
    for (const mode of ['mean', 'meanvar'] as const) {
      const x = new AudioFeaturizer({ ...base, normalize: mode }).compute(clip(1));
      for (const c of [0, 5, 15]) {
        const sig = [...Array(40).keys()].filter(isSignal).map((t) => raw[t * 16 + c]);
        const mean = sig.reduce((a, b) => a + b, 0) / sig.length;
        const sd = Math.sqrt(sig.reduce((a, b) => a + (b - mean) ** 2, 0) / sig.length + 1e-5);
        const scale = mode === 'meanvar' ? 1 / sd : 1;
        const floor = (Math.min(...sig) - mean) * scale;
        for (let t = 0; t < 40; t++) {
          const want = isSignal(t) ? (raw[t * 16 + c] - mean) * scale : floor;
          expect(x[t * 16 + c]).toBeCloseTo(want, 3);
        }
      }
    }
    expect(isSignal(0) || isSignal(39)).toBe(false); // both ends are padding
  });

  it("'mean' makes the features independent of the recording's level (a gain adds the same dB to every bin)", () => {
    // a floor far below any band's power, so that no value is clipped at it (a clipped one would not move)
    const plain = new AudioFeaturizer({ ...base, logFloor: 1e-30 });
    const cmn = new AudioFeaturizer({ ...base, logFloor: 1e-30, normalize: 'mean' });
    const [a, b] = [plain.compute(clip(1)), plain.compute(clip(0.1))];
    expect(a[20 * 16 + 3] - b[20 * 16 + 3]).toBeCloseTo(20, 2); // −20 dB quieter without it
    const [na, nb] = [cmn.compute(clip(1)), cmn.compute(clip(0.1))];
    for (let i = 0; i < na.length; i++) expect(na[i]).toBeCloseTo(nb[i], 2);
  });

  it("topDb floors each clip at its peak − topDb (before MFCC's DCT); ref 'max' measures from the peak", () => {
    const raw = new AudioFeaturizer(base).compute(clip(1));
    const peak = Math.max(...raw);
    const top = new AudioFeaturizer({ ...base, topDb: 30 }).compute(clip(1));
    for (let i = 0; i < raw.length; i++) expect(top[i]).toBeCloseTo(Math.max(raw[i], peak - 30), 4);
    expect(raw.some((v) => v < peak - 30)).toBe(true); // the floor did something (padding at −100 dB)
    const rel = new AudioFeaturizer({ ...base, topDb: 30, ref: 'max' }).compute(clip(1));
    for (let i = 0; i < raw.length; i++) expect(rel[i]).toBeCloseTo(top[i] - peak, 4);
    // relative to the peak: the same at any level
    const quiet = new AudioFeaturizer({ ...base, topDb: 30, ref: 'max', logFloor: 1e-30 }).compute(clip(0.1));
    for (let i = 0; i < raw.length; i++) expect(quiet[i]).toBeCloseTo(rel[i], 2);
    // MFCC: the DCT of the floored log-mel
    const mfcc = new AudioFeaturizer({ ...base, kind: 'mfcc', topDb: 30 }).compute(clip(1));
    const dct = dctMatrix(13, 16);
    for (const t of [0, 20])
      for (const c of [0, 4]) {
        let v = 0;
        for (let m = 0; m < 16; m++) v += dct[c * 16 + m] * top[t * 16 + m];
        expect(mfcc[t * 13 + c]).toBeCloseTo(v, 3);
      }
    expect(() => checkAudioSpec({ ...base, topDb: 0 })).toThrow(
      'audio features: topDb must be a positive number of dB',
    );
    expect(() => checkAudioSpec({ ...base, ref: 'peak' as 'max' })).toThrow(`ref must be 'one' or 'max', got "peak"`);
  });

  it("'none' (or absent) changes nothing; an all-silent clip normalises to zeros; a bad mode is named", () => {
    const plain = new AudioFeaturizer(base).compute(clip(1));
    expect(new AudioFeaturizer({ ...base, normalize: 'none' }).compute(clip(1))).toEqual(plain);
    expect(new AudioFeaturizer({ ...base, normalize: 'meanvar' }).compute(new Float32Array(500))).toEqual(
      new Float32Array(40 * 16),
    );
    expect(() => checkAudioSpec({ ...base, normalize: 'peak' as 'mean' })).toThrow(
      `audio features: normalize must be 'none', 'mean' or 'meanvar', got "peak"`,
    );
  });
});
