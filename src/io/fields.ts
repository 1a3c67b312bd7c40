// Checks of fields parsed from JSON files (checkpoint.json, config.json, safetensors and artifact
// headers): type guards, a short rendering of a value for messages, and field checkers whose
// errors name the file and the field; and the numbers float32 can hold (a JSON number is a double:
// 1e39 is finite there and Infinity in the kernels), with the one non-finite scan of typed arrays. Imports nothing but errors.ts, so that graph/ may use it
// (the validator runs in the browser bundle too). Not for the shapes of tensors or graphs.
import { FormatError } from '../errors.js';

/** A plain JSON object (not null, not an array). */
export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
/** An integer ≥ 1. */
export const isPosInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 1;
/** An integer ≥ 0. */
export const isNatural = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
/** A number that is neither NaN nor ±Infinity. */
export const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Largest finite float32. */
export const FLOAT32_MAX = 3.4028234663852886e38;
/** Smallest positive normal float32: a quantization scale below it loses its precision (or becomes 0). */
export const FLOAT32_MIN_NORMAL = 2 ** -126;
/** A finite number that stays finite as a float32. */
export const isFloat32 = (v: unknown): v is number => isFiniteNumber(v) && Math.abs(v) <= FLOAT32_MAX;

/** Index of the first NaN or ±Infinity in `data`, or -1. */
export function firstNonFinite(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
  return -1;
}

/**
 * A JSON value for messages, never serialized whole (it may be huge or nested deep): short
 * numeric arrays as JSON (the first 8), other arrays and objects by kind, strings cut at 40.
 */
export function show(v: unknown): string {
  if (Array.isArray(v) && v.length <= 8 && v.every((x) => typeof x === 'number')) return JSON.stringify(v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return String(v);
}

/** Throws `FILE: FIELD must be WANT, got VALUE`. */
export type FieldFail = (field: string, want: string, got: unknown) => never;

/** Field checks whose errors name the file and the field: `FILE: FIELD must be WANT, got VALUE`. */
export function fieldsOf(file: string) {
  const fail: FieldFail = (field, want, got) => {
    throw new FormatError(`${file}: ${field} must be ${want}, got ${show(got)}`);
  };
  return {
    fail,
    obj: (field: string, v: unknown): Record<string, unknown> => (isRecord(v) ? v : fail(field, 'an object', v)),
    arr: (field: string, v: unknown): unknown[] => (Array.isArray(v) ? v : fail(field, 'an array', v)),
    str: (field: string, v: unknown): string => (typeof v === 'string' ? v : fail(field, 'a string', v)),
    bool: (field: string, v: unknown): boolean => (typeof v === 'boolean' ? v : fail(field, 'true or false', v)),
    num: (field: string, v: unknown): number => (isFiniteNumber(v) ? v : fail(field, 'a finite number', v)),
    int: (field: string, v: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): number =>
      Number.isInteger(v) && (v as number) >= min && (v as number) <= max
        ? (v as number)
        : fail(field, `an integer in [${min}, ${max}]`, v),
  };
}
