// The audio feature front end: mono samples → fixed number of frames → periodic Hann window →
// real FFT → power spectrum → mel filterbank → dB (log-mel), optionally → DCT-II (MFCC). Every
// parameter lives in one plain, JSON-serialisable AudioFeatureSpec that a model records in its
// preprocessing, so that training, predict, serve and the browser compute the same features from
// the same code. Conventions follow librosa with center=False: frames start at sample 0 (no
// reflection padding), the window (scipy's periodic Hann of winLength) is centred in an nFft frame,
// power = |X|², mel filters are librosa.filters.mel's (Slaney or HTK scale, Slaney area
// normalisation or none), log-mel = power_to_db(S, ref=1, amin=logFloor, top_db=None) and MFCC the
// orthonormal DCT-II of the log-mel (librosa.feature.mfcc).
// Fixed length: the clip is padded with zeros or cropped to exactly `frames` frames, keeping its
// start ('start') or its centre ('center'); the output is [frames, channels], time first.
// Not for: reading files (wav.ts) or datasets (data/audio.ts).
import { ValueError } from '../errors.js';

/** Everything that determines the features; recorded in a model's preprocessing. */
export interface AudioFeatureSpec {
  /** 'logmel': [frames, nMels] in dB; 'mfcc': [frames, nMfcc] */
  kind: 'logmel' | 'mfcc';
  /** Hz; input at another rate is resampled to this */
  sampleRate: number;
  /** FFT size, a power of 2 */
  nFft: number;
  /** Window length in samples, ≤ nFft (centred in the FFT frame) */
  winLength: number;
  /** Samples between frame starts */
  hopLength: number;
  nMels: number;
  /** Hz, the mel filterbank's range */
  fMin: number;
  fMax: number;
  melScale: 'slaney' | 'htk';
  /** 'slaney': each filter has unit area (librosa's default); 'none': unit peak */
  melNorm: 'slaney' | 'none';
  /** Power floor before 10·log10 (librosa's amin) */
  logFloor: number;
  /** MFCC coefficients kept (kind 'mfcc') */
  nMfcc: number;
  /** Frames per clip: shorter clips are zero-padded, longer ones cropped */
  frames: number;
  /** Which part of the clip a fixed length keeps: its start, or its centre */
  fit: 'start' | 'center';
  /**
   * Per-utterance normalisation of each channel over the clip's frames (absent: 'none'): 'mean'
   * subtracts the channel's mean (cepstral mean normalisation, CMN), 'meanvar' also divides by its
   * standard deviation (CMVN). The statistics come from the frames that hold signal; frames that are
   * only padding then take the channel's lowest value in the clip (the clip's own floor).
   */
  normalize?: 'none' | 'mean' | 'meanvar';
  /**
   * dB reference (absent: 'one'): 'one' is 10·log10(S / 1); 'max' subtracts the clip's loudest
   * log-mel value, so features are relative to the clip's peak (librosa's ref=np.max): level-free.
   */
  ref?: 'one' | 'max';
  /**
   * A floor relative to the clip's loudest log-mel value (librosa's top_db; absent: none): values
   * more than topDb below it are raised to it, so recording noise floors and zero padding, which
   * differ from one recording setup to another, all read as the same floor. Before MFCC's DCT.
   */
  topDb?: number;
}

/**
 * Defaults for 8 kHz speech (FSDD): 25 ms Hann windows every 10 ms in 256-point FFTs, 40 Slaney
 * mel bands over 0–4 kHz, 1.0 s per clip centred (FSDD clips are 0.14–2.3 s, median 0.44 s, 95% under 0.69 s).
 */
export function defaultAudioSpec(overrides: Partial<AudioFeatureSpec> = {}): AudioFeatureSpec {
  const sampleRate = overrides.sampleRate ?? 8000;
  return checkAudioSpec({
    kind: 'logmel',
    sampleRate,
    nFft: 256,
    winLength: Math.round(sampleRate * 0.025),
    hopLength: Math.round(sampleRate * 0.01),
    nMels: 40,
    fMin: 0,
    fMax: sampleRate / 2,
    melScale: 'slaney',
    melNorm: 'slaney',
    logFloor: 1e-10,
    nMfcc: 13,
    frames: 98,
    fit: 'center',
    ...overrides,
  });
}

/** Throws a ValueError naming the field unless `s` is a usable spec; returns it. */
export function checkAudioSpec(s: AudioFeatureSpec): AudioFeatureSpec {
  const bad = (field: string, want: string, got: unknown) =>
    new ValueError(`audio features: ${field} must be ${want}, got ${JSON.stringify(got)}`);
  const int = (field: keyof AudioFeatureSpec, lo: number, hi: number) => {
    const v = s[field];
    if (!(typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi))
      throw bad(field, `an integer in ${lo}..${hi}`, v);
  };
  if (s.kind !== 'logmel' && s.kind !== 'mfcc') throw bad('kind', "'logmel' or 'mfcc'", s.kind);
  int('sampleRate', 1, 1_000_000);
  int('nFft', 2, 1 << 16);
  if ((s.nFft & (s.nFft - 1)) !== 0) throw bad('nFft', 'a power of 2', s.nFft);
  int('winLength', 1, s.nFft);
  int('hopLength', 1, 1 << 20);
  int('nMels', 1, 1024);
  int('frames', 1, 1 << 20);
  if (s.kind === 'mfcc') int('nMfcc', 1, s.nMels);
  if (!(Number.isFinite(s.fMin) && s.fMin >= 0)) throw bad('fMin', 'a frequency ≥ 0', s.fMin);
  if (!(Number.isFinite(s.fMax) && s.fMax > s.fMin && s.fMax <= s.sampleRate / 2))
    throw bad('fMax', `a frequency in (fMin, sampleRate / 2 = ${s.sampleRate / 2}]`, s.fMax);
  if (s.melScale !== 'slaney' && s.melScale !== 'htk') throw bad('melScale', "'slaney' or 'htk'", s.melScale);
  if (s.melNorm !== 'slaney' && s.melNorm !== 'none') throw bad('melNorm', "'slaney' or 'none'", s.melNorm);
  if (!(typeof s.logFloor === 'number' && s.logFloor > 0)) throw bad('logFloor', 'a positive number', s.logFloor);
  if (s.fit !== 'start' && s.fit !== 'center') throw bad('fit', "'start' or 'center'", s.fit);
  if (s.normalize !== undefined && !['none', 'mean', 'meanvar'].includes(s.normalize))
    throw bad('normalize', "'none', 'mean' or 'meanvar'", s.normalize);
  if (s.ref !== undefined && s.ref !== 'one' && s.ref !== 'max') throw bad('ref', "'one' or 'max'", s.ref);
  if (s.topDb !== undefined && !(typeof s.topDb === 'number' && s.topDb > 0 && Number.isFinite(s.topDb)))
    throw bad('topDb', 'a positive number of dB', s.topDb);
  return s;
}

/** Channels per frame: nMels for log-mel, nMfcc for MFCC. */
export function featureChannels(s: AudioFeatureSpec): number {
  return s.kind === 'mfcc' ? s.nMfcc : s.nMels;
}

// ---- mel scale (librosa.hz_to_mel / mel_to_hz) ----

const F_SP = 200 / 3; // Slaney: 66.67 Hz per mel below 1 kHz
const MIN_LOG_HZ = 1000;
const MIN_LOG_MEL = MIN_LOG_HZ / F_SP; // 15
const LOG_STEP = Math.log(6.4) / 27;

/** Hz → mel (HTK: 2595·log10(1 + f/700); Slaney: linear below 1 kHz, logarithmic above). */
export function hzToMel(f: number, scale: 'slaney' | 'htk'): number {
  if (scale === 'htk') return 2595 * Math.log10(1 + f / 700);
  return f < MIN_LOG_HZ ? f / F_SP : MIN_LOG_MEL + Math.log(f / MIN_LOG_HZ) / LOG_STEP;
}

/** mel → Hz, the inverse of hzToMel. */
export function melToHz(m: number, scale: 'slaney' | 'htk'): number {
  if (scale === 'htk') return 700 * (10 ** (m / 2595) - 1);
  return m < MIN_LOG_MEL ? m * F_SP : MIN_LOG_HZ * Math.exp(LOG_STEP * (m - MIN_LOG_MEL));
}

/** librosa.filters.mel: [nMels, nFft/2 + 1] triangular filters over the FFT bins. */
export function melFilterbank(s: AudioFeatureSpec): Float64Array {
  const bins = s.nFft / 2 + 1;
  const lo = hzToMel(s.fMin, s.melScale);
  const hi = hzToMel(s.fMax, s.melScale);
  const edges = Array.from({ length: s.nMels + 2 }, (_, i) =>
    melToHz(lo + ((hi - lo) * i) / (s.nMels + 1), s.melScale),
  );
  const w = new Float64Array(s.nMels * bins);
  for (let m = 0; m < s.nMels; m++) {
    const [f0, f1, f2] = [edges[m], edges[m + 1], edges[m + 2]];
    const norm = s.melNorm === 'slaney' ? 2 / (f2 - f0) : 1;
    for (let k = 0; k < bins; k++) {
      const f = (k * s.sampleRate) / s.nFft;
      const v = Math.min((f - f0) / (f1 - f0), (f2 - f) / (f2 - f1));
      if (v > 0) w[m * bins + k] = v * norm;
    }
  }
  return w;
}

// ---- FFT ----

/** A radix-2 real FFT of size n (a power of 2): a complex FFT of n/2 points on the even/odd pairs. */
export class RealFft {
  readonly n: number;
  private readonly h: number;
  private readonly rev: Uint32Array;
  /** cos/sin of 2πk/h for the half-size complex FFT, and of 2πk/n for the split */
  private readonly cosH: Float64Array;
  private readonly sinH: Float64Array;
  private readonly cosN: Float64Array;
  private readonly sinN: Float64Array;
  private readonly re: Float64Array;
  private readonly im: Float64Array;

  constructor(n: number) {
    if (!(Number.isInteger(n) && n >= 2 && (n & (n - 1)) === 0))
      throw new ValueError(`RealFft: size must be a power of 2 ≥ 2, got ${n}`);
    this.n = n;
    const h = n / 2;
    this.h = h;
    const bits = Math.log2(h);
    this.rev = new Uint32Array(h);
    for (let i = 0; i < h; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.rev[i] = r;
    }
    this.cosH = Float64Array.from({ length: h / 2 + 1 }, (_, k) => Math.cos((2 * Math.PI * k) / h));
    this.sinH = Float64Array.from({ length: h / 2 + 1 }, (_, k) => Math.sin((2 * Math.PI * k) / h));
    this.cosN = Float64Array.from({ length: h + 1 }, (_, k) => Math.cos((2 * Math.PI * k) / n));
    this.sinN = Float64Array.from({ length: h + 1 }, (_, k) => Math.sin((2 * Math.PI * k) / n));
    this.re = new Float64Array(h);
    this.im = new Float64Array(h);
  }

  /**
   * X[k] = Σ_t x[t]·e^(−2πi·kt/n) for k = 0..n/2 of real x [n], into outRe/outIm [n/2 + 1]
   * (or, with only `power`, |X[k]|² into power [n/2 + 1]).
   */
  forward(x: ArrayLike<number>, outRe: Float64Array | null, outIm: Float64Array | null, power?: Float32Array): void {
    const { h, re, im, rev } = this;
    for (let i = 0; i < h; i++) {
      const r = rev[i];
      re[r] = x[2 * i];
      im[r] = x[2 * i + 1];
    }
    // iterative decimation-in-time butterflies
    for (let size = 2; size <= h; size *= 2) {
      const half = size / 2;
      const step = h / size;
      for (let start = 0; start < h; start += size) {
        for (let j = 0; j < half; j++) {
          const wr = this.cosH[j * step];
          const wi = -this.sinH[j * step];
          const a = start + j;
          const b = a + half;
          const tr = re[b] * wr - im[b] * wi;
          const ti = re[b] * wi + im[b] * wr;
          re[b] = re[a] - tr;
          im[b] = im[a] - ti;
          re[a] += tr;
          im[a] += ti;
        }
      }
    }
    // split Z (complex FFT of the even/odd pairs) into the real signal's spectrum
    for (let k = 0; k <= h; k++) {
      const a = re[k % h];
      const b = im[k % h];
      const c = re[(h - k) % h];
      const d = im[(h - k) % h];
      const er = (a + c) / 2;
      const ei = (b - d) / 2;
      const or = (b + d) / 2;
      const oi = -(a - c) / 2;
      const wr = this.cosN[k];
      const wi = -this.sinN[k];
      const xr = er + or * wr - oi * wi;
      const xi = ei + or * wi + oi * wr;
      if (outRe && outIm) {
        outRe[k] = xr;
        outIm[k] = xi;
      }
      if (power) power[k] = xr * xr + xi * xi;
    }
  }
}

/** scipy.signal.get_window('hann', winLength) (periodic), zero-padded to nFft with the window centred. */
export function hannWindow(winLength: number, nFft: number): Float64Array {
  const w = new Float64Array(nFft);
  const off = Math.floor((nFft - winLength) / 2);
  for (let i = 0; i < winLength; i++) w[off + i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / winLength);
  return w;
}

/** Computes the features of one spec: build once, call many times (it keeps its work buffers). */
export class AudioFeaturizer {
  readonly spec: AudioFeatureSpec;
  /** [frames, channels] of one clip */
  readonly shape: readonly [number, number];
  /** Samples one clip is fitted to: (frames − 1)·hopLength + nFft */
  readonly clipSamples: number;
  private readonly fft: RealFft;
  private readonly window: Float64Array;
  /** each mel filter's nonzero bins [first, end) and their weights */
  private readonly filters: { first: number; weights: Float64Array }[];
  private readonly dct: Float64Array | null;
  private readonly frame: Float64Array;
  private readonly power: Float32Array;
  /** log-mel of every frame [frames, nMels] (ref and topDb apply to the whole clip) */
  private readonly logMel: Float64Array;
  private readonly clip: Float32Array;
  /** per frame: 1 when its window holds any nonzero sample (not only padding) */
  private readonly signal: Uint8Array;

  constructor(spec: AudioFeatureSpec) {
    this.spec = checkAudioSpec({ ...spec });
    const s = this.spec;
    this.shape = [s.frames, featureChannels(s)];
    this.clipSamples = (s.frames - 1) * s.hopLength + s.nFft;
    this.fft = new RealFft(s.nFft);
    this.window = hannWindow(s.winLength, s.nFft);
    const bins = s.nFft / 2 + 1;
    const fb = melFilterbank(s);
    this.filters = [];
    for (let m = 0; m < s.nMels; m++) {
      const row = fb.subarray(m * bins, (m + 1) * bins);
      let first = row.findIndex((v) => v > 0);
      if (first < 0) first = 0;
      let end = bins;
      while (end > first && row[end - 1] === 0) end--;
      this.filters.push({ first, weights: row.slice(first, end) });
    }
    this.dct = s.kind === 'mfcc' ? dctMatrix(s.nMfcc, s.nMels) : null;
    this.frame = new Float64Array(s.nFft);
    this.power = new Float32Array(bins);
    this.logMel = new Float64Array(s.frames * s.nMels);
    this.clip = new Float32Array(this.clipSamples);
    this.signal = new Uint8Array(s.frames);
  }

  /** Features [frames, channels] of mono samples at spec.sampleRate, into out at offset (or a new array). */
  compute(samples: Float32Array, out?: Float32Array, offset = 0): Float32Array {
    const s = this.spec;
    const [T, C] = this.shape;
    const dst = out ?? new Float32Array(T * C);
    if (offset < 0 || offset + T * C > dst.length)
      throw new ValueError(`AudioFeaturizer: output of ${dst.length} values has no room for [${T}, ${C}] at ${offset}`);
    const clip = this.fit(samples);
    const floorDb = 10 * Math.log10(s.logFloor);
    const M = s.nMels;
    const mel = this.logMel; // [T, nMels]
    let peak = Number.NEGATIVE_INFINITY;
    for (let t = 0; t < T; t++) {
      const start = t * s.hopLength;
      let any = false;
      for (let i = 0; i < s.nFft; i++) {
        const v = clip[start + i] * this.window[i];
        this.frame[i] = v;
        if (v !== 0) any = true;
      }
      this.signal[t] = any ? 1 : 0;
      if (any) this.fft.forward(this.frame, null, null, this.power);
      for (let m = 0; m < M; m++) {
        let e = 0;
        if (any) {
          const { first, weights } = this.filters[m];
          for (let j = 0; j < weights.length; j++) e += weights[j] * this.power[first + j];
        }
        const db = e > s.logFloor ? 10 * Math.log10(e) : floorDb;
        mel[t * M + m] = db;
        if (db > peak) peak = db;
      }
    }
    if (s.topDb !== undefined) {
      const lo = peak - s.topDb;
      for (let i = 0; i < T * M; i++) if (mel[i] < lo) mel[i] = lo;
    }
    if (s.ref === 'max') for (let i = 0; i < T * M; i++) mel[i] -= peak;
    for (let t = 0; t < T; t++) {
      const row = offset + t * C;
      const frame = t * M;
      if (this.dct) {
        for (let c = 0; c < C; c++) {
          let v = 0;
          for (let m = 0; m < M; m++) v += this.dct[c * M + m] * mel[frame + m];
          dst[row + c] = v;
        }
      } else for (let m = 0; m < C; m++) dst[row + m] = mel[frame + m];
    }
    if (s.normalize === 'mean' || s.normalize === 'meanvar')
      normalizeUtterance(dst.subarray(offset, offset + T * C), C, this.signal, s.normalize === 'meanvar');
    return dst;
  }

  /** The clip zero-padded or cropped to clipSamples, keeping its start or centre (spec.fit). */
  private fit(samples: Float32Array): Float32Array {
    const n = this.clipSamples;
    const clip = this.clip;
    clip.fill(0);
    if (samples.length >= n) {
      const from = this.spec.fit === 'center' ? Math.floor((samples.length - n) / 2) : 0;
      clip.set(samples.subarray(from, from + n));
    } else clip.set(samples, this.spec.fit === 'center' ? Math.floor((n - samples.length) / 2) : 0);
    return clip;
  }
}

/**
 * In place on one clip's features x [T, C]: each channel minus its mean (and, with `variance`,
 * divided by its standard deviation) over the frames t with signal[t] = 1; every frame is then
 * raised to at least the channel's lowest value among those frames, so padding sits at the clip's
 * own floor whatever its level. No signal frame at all: every value becomes 0.
 */
export function normalizeUtterance(x: Float32Array, C: number, signal: Uint8Array, variance: boolean): void {
  const T = x.length / C;
  let n = 0;
  for (let t = 0; t < T; t++) n += signal[t];
  if (n === 0) {
    x.fill(0);
    return;
  }
  for (let c = 0; c < C; c++) {
    let sum = 0;
    let lo = Number.POSITIVE_INFINITY;
    for (let t = 0; t < T; t++)
      if (signal[t]) {
        const v = x[t * C + c];
        sum += v;
        if (v < lo) lo = v;
      }
    const mean = sum / n;
    let scale = 1;
    if (variance) {
      let ss = 0;
      for (let t = 0; t < T; t++) if (signal[t]) ss += (x[t * C + c] - mean) ** 2;
      scale = 1 / Math.sqrt(ss / n + 1e-5); // 1e-5: a flat channel stays finite
    }
    const floor = (lo - mean) * scale;
    for (let t = 0; t < T; t++) x[t * C + c] = Math.max((x[t * C + c] - mean) * scale, floor);
  }
}

/** Orthonormal DCT-II [k, n] (scipy.fft.dct(type=2, norm='ortho')): rows k < count. */
export function dctMatrix(count: number, n: number): Float64Array {
  const d = new Float64Array(count * n);
  for (let k = 0; k < count; k++) {
    const scale = Math.sqrt((k === 0 ? 1 : 2) / n);
    for (let i = 0; i < n; i++) d[k * n + i] = scale * Math.cos((Math.PI * k * (2 * i + 1)) / (2 * n));
  }
  return d;
}
