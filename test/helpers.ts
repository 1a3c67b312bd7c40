// Shared test fixtures: the engine configurations every kernel test runs under, moving data in and
// out of wasm memory, a seeded RNG and closeness checks against naive references.
import { afterAll, expect } from 'vitest';
import { Engine, type EngineOptions } from '../src/kernels/engine.js';
import { detectFeatures } from '../src/kernels/features.js';

/** Both builds x {1, 2} threads. Relaxed SIMD must be present in CI (vitest passes the flag). */
export function engineConfigs(): Required<Pick<EngineOptions, 'isa' | 'threads'>>[] {
  const relaxed = detectFeatures().relaxedSimd;
  if (!relaxed && process.env.CI) throw new Error('relaxed SIMD unavailable in CI: run tests through vitest.config.ts');
  const isas = relaxed ? (['simd', 'relaxed'] as const) : (['simd'] as const);
  return isas.flatMap((isa) => [1, 2].map((threads) => ({ isa, threads })));
}

const engines = new Map<string, Engine>();
/** One engine per configuration per test file, disposed after the file. */
export function engineFor(cfg: EngineOptions): Engine {
  const key = `${cfg.isa}/${cfg.threads}`;
  let e = engines.get(key);
  if (!e) {
    e = Engine.create(cfg);
    engines.set(key, e);
  }
  return e;
}
afterAll(() => {
  for (const e of engines.values()) e.dispose();
  engines.clear();
});

/** Copies `data` into a fresh heap block. */
export function upload(e: Engine, data: ArrayLike<number>): number {
  const p = e.alloc(data.length * 4);
  e.f32.set(data, p / 4);
  return p;
}
export function uploadI32(e: Engine, data: ArrayLike<number>): number {
  const p = e.alloc(data.length * 4);
  e.i32.set(data, p / 4);
  return p;
}
export function download(e: Engine, ptr: number, n: number): Float32Array {
  return e.f32.slice(ptr / 4, ptr / 4 + n);
}
export function downloadI32(e: Engine, ptr: number, n: number): Int32Array {
  return e.i32.slice(ptr / 4, ptr / 4 + n);
}

/** Deterministic uniform [-1, 1) numbers (mulberry32). */
export function rand(n: number, seed = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/** Asserts |a - b| <= atol + rtol |b| elementwise, reporting the first offending index. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol = 1e-5, rtol = 1e-4): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const b = expected[i];
    if (!(Math.abs(a - b) <= atol + rtol * Math.abs(b))) {
      expect.fail(`index ${i}: got ${a}, expected ${b} (atol ${atol}, rtol ${rtol})`);
    }
  }
}

/** Odd sizes that hit every remainder path of 4x8 tiles and 4-lane loops. */
export const ODD = [1, 3, 7, 17, 33, 65, 129];
