// A harness for the WebGPU family tests: one case runs on a backend over buffers that are views at
// an odd element offset inside larger allocations with guard values on both sides, and every output
// comes back whole, guards included — so a kernel that writes outside its range, or leaves part of
// its output unwritten, differs from the reference backend.
import { expect } from 'vitest';
import type { Backend, Buf, BufDType } from '../../src/backend/backend.js';
import { rand } from '../helpers.js';

const PAD = 3;

/** What a case allocates through. */
export interface Io {
  readonly be: Backend;
  /** An input buffer holding data. */
  put(data: ArrayLike<number>, dtype?: BufDType): Buf;
  /** An output buffer of n elements pre-filled with junk; returned by the case under `name`. */
  out(name: string, n: number, dtype?: BufDType): Buf;
}

/** Runs `run` on `be`; returns each output (with its guards) by name. */
export function outputs(be: Backend, run: (io: Io) => void): Record<string, number[]> {
  const owned: Buf[] = [];
  const outs: { name: string; buf: Buf; n: number; dtype: BufDType }[] = [];
  const alloc = (data: ArrayLike<number>, dtype: BufDType): Buf => {
    const b = be.alloc((data.length + 2 * PAD) * 4);
    owned.push(b);
    const guard = Array.from({ length: PAD }, (_, i) => 1000 + i);
    be.write(b, dtype, [...guard, ...Array.from(data), ...guard]);
    return b + PAD * 4;
  };
  try {
    run({
      be,
      put: (data, dtype = 'float32') => alloc(data, dtype),
      out: (name, n, dtype = 'float32') => {
        const junk = rand(n, 999 + outs.length).map((v) => Math.round(v * 100));
        const buf = alloc(junk, dtype);
        outs.push({ name, buf, n, dtype });
        return buf;
      },
    });
    const result: Record<string, number[]> = {};
    for (const o of outs) result[o.name] = Array.from(be.read(o.buf - PAD * 4, o.dtype, o.n + 2 * PAD));
    return result;
  } finally {
    for (const b of owned) be.free(b);
  }
}

/**
 * Each output within |a − e| ≤ tol · (max |e| + |e|) ('exact': equal); NaN equals NaN and
 * infinities must match.
 */
export function expectAgree(
  actual: Record<string, number[]>,
  expected: Record<string, number[]>,
  tol: number | 'exact' = 1e-5,
): void {
  for (const key of Object.keys(expected)) {
    const [a, e] = [actual[key], expected[key]];
    expect(a.length, key).toBe(e.length);
    const scale = e.reduce((m, v) => (Number.isFinite(v) ? Math.max(m, Math.abs(v)) : m), 0);
    for (let i = 0; i < e.length; i++) {
      if (a[i] === e[i] || (Number.isNaN(a[i]) && Number.isNaN(e[i]))) continue;
      if (tol !== 'exact' && Math.abs(a[i] - e[i]) <= tol * (scale + Math.abs(e[i]))) continue;
      expect.fail(
        `${key}[${i - PAD}]: webgpu ${a[i]}, reference ${e[i]} (${tol === 'exact' ? 'exact' : `tol ${tol}`})`,
      );
    }
  }
}

/** Runs `run` on the reference and on the GPU and compares every output. */
export function agreeOn(gpu: Backend, ref: Backend, run: (io: Io) => void, tol: number | 'exact' = 1e-5): void {
  expectAgree(outputs(gpu, run), outputs(ref, run), tol);
}
