// Sample-rate conversion by band-limited interpolation with a Kaiser-windowed sinc, as described by
// J. O. Smith, "Digital Audio Resampling Home Page" (CCRMA, Stanford; the method of libsamplerate's
// sinc converters and resampy). For a rate ratio L/M (in lowest terms) output sample n sits at input
// time t = n·M/L, and y[n] = Σ_k x[k]·h(t − k) with h(x) = fc·sinc(fc·x)·kaiser(x / halfWidth); the
// cutoff fc (in units of the input's Nyquist) is ROLLOFF·min(1, L/M), so downsampling low-passes
// below the new Nyquist. The filter is tabulated per phase (polyphase); when the ratio needs more
// than MAX_PHASES phases the phase is rounded to the nearest of MAX_PHASES (an error of at most
// 1/(2·MAX_PHASES) of a sample in time, below the filter's stop-band for speech and music).
// Samples outside the signal are zero.
import { ValueError } from '../errors.js';

/** Zero crossings of the sinc on each side of the centre. */
const ZEROS = 32;
/** Kaiser β: about 86 dB of side-lobe attenuation. */
const BETA = 8.6;
/** Pass-band edge as a fraction of the lower Nyquist frequency. */
const ROLLOFF = 0.94;
const MAX_PHASES = 4096;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** The modified Bessel function of the first kind, order 0 (power series; converges fast for x ≤ 20). */
export function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 100; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** Resamples mono `x` from `fromRate` to `toRate` Hz: ceil(x.length · toRate / fromRate) samples. */
export function resample(x: Float32Array, fromRate: number, toRate: number): Float32Array {
  for (const [name, r] of [
    ['fromRate', fromRate],
    ['toRate', toRate],
  ] as const)
    if (!(Number.isSafeInteger(r) && r > 0))
      throw new ValueError(`resample: ${name} must be a positive integer, got ${r}`);
  if (fromRate === toRate) return x.slice();
  const g = gcd(fromRate, toRate);
  const L = toRate / g; // up
  const M = fromRate / g; // down
  const fc = ROLLOFF * Math.min(1, L / M);
  const halfWidth = ZEROS / fc; // in input samples
  const K = Math.ceil(halfWidth);
  const taps = 2 * K;
  const P = Math.min(L, MAX_PHASES);
  // table[p·taps + j]: the weight of x[base − K + 1 + j] at fractional position p/P past x[base]
  const table = new Float32Array(P * taps);
  const i0b = besselI0(BETA);
  for (let p = 0; p < P; p++) {
    const frac = p / P;
    for (let j = 0; j < taps; j++) {
      const d = K - 1 - j + frac; // t − k
      const r = d / halfWidth;
      if (Math.abs(r) >= 1) continue;
      const u = fc * d;
      const sinc = u === 0 ? 1 : Math.sin(Math.PI * u) / (Math.PI * u);
      table[p * taps + j] = fc * sinc * (besselI0(BETA * Math.sqrt(1 - r * r)) / i0b);
    }
  }
  const n = Math.ceil((x.length * L) / M);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const pos = i * M;
    let base = Math.floor(pos / L);
    let p = pos - base * L;
    if (P !== L) {
      p = Math.round((p / L) * P);
      if (p === P) {
        p = 0;
        base++;
      }
    }
    const k0 = base - K + 1;
    const row = p * taps;
    const jLo = Math.max(0, -k0);
    const jHi = Math.min(taps, x.length - k0);
    let s = 0;
    for (let j = jLo; j < jHi; j++) s += x[k0 + j] * table[row + j];
    y[i] = s;
  }
  return y;
}
