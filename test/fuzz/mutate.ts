// Seeded, bounded mutation of real files for the fuzz tests: truncation at every structural
// boundary (plus sampled offsets), bit flips, overwritten fields, and the property every parser
// must keep — a correct result or a GraduateError whose message names the file, never any other
// exception. fast-check drives the random parts so failures shrink and print their seed.
import fc from 'fast-check';
import { expect } from 'vitest';
import { GraduateError } from '../../src/errors.js';

/** Runs per property: GRADUATE_FUZZ_RUNS (documented in docs/reliability.md) or a CI-sized default. */
export const FUZZ_RUNS = Number(process.env.GRADUATE_FUZZ_RUNS ?? 200);
/** fast-check parameters: seeded (GRADUATE_FUZZ_SEED) so a CI failure reproduces locally. */
export const fuzzParams = (runs = FUZZ_RUNS): fc.Parameters<unknown> => ({
  numRuns: runs,
  seed: process.env.GRADUATE_FUZZ_SEED ? Number(process.env.GRADUATE_FUZZ_SEED) : 0x6a4d,
});

/** `bytes` cut at each of `boundaries` (and one byte either side), plus `extra` evenly spread offsets. */
export function truncations(bytes: Uint8Array, boundaries: readonly number[] = [], extra = 32): Uint8Array[] {
  const cuts = new Set<number>([0, 1, bytes.length - 1]);
  for (const b of boundaries) for (const d of [-1, 0, 1]) if (b + d >= 0 && b + d < bytes.length) cuts.add(b + d);
  for (let i = 1; i <= extra; i++) cuts.add(Math.floor((bytes.length * i) / (extra + 1)));
  return [...cuts].sort((a, b) => a - b).map((n) => bytes.slice(0, n));
}

/** A copy of `bytes` with the bit `bit` (0..7) of byte `at` flipped. */
export function flipBit(bytes: Uint8Array, at: number, bit: number): Uint8Array {
  const out = Uint8Array.from(bytes); // a copy: a Buffer's slice() is a view
  out[at % out.length] ^= 1 << (bit & 7);
  return out;
}

/** An arbitrary of single-bit flips anywhere in `bytes`. */
export const bitFlips = (bytes: Uint8Array) =>
  fc.tuple(fc.nat({ max: bytes.length - 1 }), fc.nat({ max: 7 })).map(([at, bit]) => flipBit(bytes, at, bit));

/** An arbitrary of `bytes` with a run of 1–8 bytes overwritten by random bytes (or by 0xff: huge sizes). */
export const overwrites = (bytes: Uint8Array) =>
  fc
    .tuple(
      fc.nat({ max: bytes.length - 1 }),
      fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.constant(new Uint8Array(8).fill(0xff))),
    )
    .map(([at, patch]) => {
      const out = Uint8Array.from(bytes); // a copy: a Buffer's slice() is a view
      out.set(patch.subarray(0, Math.max(0, out.length - at)), at);
      return out;
    });

/** Rethrows anything that is not a GraduateError naming `names`; returns the error otherwise. */
function cleanError(e: unknown, names: string | RegExp): GraduateError {
  if (!(e instanceof GraduateError)) throw new Error(`not a GraduateError: ${(e as Error)?.stack ?? String(e)}`);
  if (typeof names === 'string') expect(e.message).toContain(names);
  else expect(e.message).toMatch(names);
  return e;
}

/**
 * The fuzz property: `run()` either returns (a result the caller may check further) or throws a
 * GraduateError whose message contains `names` (the file, field or request it is about). Any other
 * exception (TypeError, RangeError, a raw stack) fails the test with the input that caused it.
 */
export function expectCleanOutcome<T>(run: () => T, names: string | RegExp): T | GraduateError {
  try {
    return run();
  } catch (e) {
    return cleanError(e, names);
  }
}

/** As expectCleanOutcome, for async parsers. */
export async function expectCleanOutcomeAsync<T>(
  run: () => Promise<T>,
  names: string | RegExp,
): Promise<T | GraduateError> {
  try {
    return await run();
  } catch (e) {
    return cleanError(e, names);
  }
}
