// Seeded random numbers (xoshiro128**): reproducible initialization, shuffling and dropout.
// The state is four 32-bit words that checkpoints can save and restore.
import { type Shape, Tensor, write } from './tensor.js';

export class Rng {
  private s: Uint32Array;

  constructor(seed = 0) {
    // splitmix32 expands the seed into a well-mixed non-zero state
    this.s = new Uint32Array(4);
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (this.s.every((v) => v === 0)) this.s[0] = 1;
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  getState(): number[] {
    return Array.from(this.s);
  }
  setState(state: readonly number[]): void {
    if (state.length !== 4) throw new Error(`Rng.setState: expected 4 words, got ${state.length}`);
    this.s = Uint32Array.from(state);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** The default generator used when none is passed; reseed with manualSeed(). */
export let defaultRng = new Rng(0);
export function manualSeed(seed: number): void {
  defaultRng = new Rng(seed);
}

/** Normal(mean, std) samples. */
export function randn(shape: Shape, opts: { mean?: number; std?: number; rng?: Rng } = {}): Tensor {
  const { mean = 0, std = 1, rng = defaultRng } = opts;
  const t = new Tensor(shape);
  const v = new Float32Array(t.size);
  for (let i = 0; i < v.length; i++) v[i] = mean + std * rng.normal();
  write(t, v);
  return t;
}

/** Uniform [low, high) samples. */
export function randu(shape: Shape, opts: { low?: number; high?: number; rng?: Rng } = {}): Tensor {
  const { low = 0, high = 1, rng = defaultRng } = opts;
  const t = new Tensor(shape);
  const v = new Float32Array(t.size);
  for (let i = 0; i < v.length; i++) v[i] = low + (high - low) * rng.next();
  write(t, v);
  return t;
}
