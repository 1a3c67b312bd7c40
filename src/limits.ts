// Limits on the size of inputs, in one place. Each is checked against what a file or request
// declares (an image's header, an IDX header, a file's size) before anything is decoded, inflated or
// parsed, so that a small hostile file cannot make Graduate allocate gigabytes. Defaults are
// generous for real data; an environment variable raises or lowers each (serve also takes flags).
// Not for: the server's request limits (body size, batch, queue: serve's own options).
import { FormatError } from './errors.js';

export interface InputLimits {
  /** Pixels (width × height) of one PNG/JPEG image: 50 MP covers 48 MP phone photos (200 MB as RGBA). */
  imagePixels: number;
  /** Bytes of an IDX file's contents after gunzip: 1 GiB holds EMNIST's largest split (550 MB). */
  idxBytes: number;
  /** Bytes of a file read whole as text (CSV, JSONL, TXT, JSON tensors): parsed, it takes several times this. */
  textBytes: number;
  /** Characters of one CSV record or JSONL/TXT line. */
  recordChars: number;
}

export const DEFAULT_LIMITS: Readonly<InputLimits> = {
  imagePixels: 50_000_000,
  idxBytes: 1024 ** 3,
  textBytes: 256 * 1024 ** 2,
  recordChars: 16 * 1024 ** 2,
};

/** The environment variable that overrides each limit. */
export const LIMIT_ENV: Readonly<Record<keyof InputLimits, string>> = {
  imagePixels: 'GRADUATE_MAX_IMAGE_PIXELS',
  idxBytes: 'GRADUATE_MAX_IDX_BYTES',
  textBytes: 'GRADUATE_MAX_TEXT_BYTES',
  recordChars: 'GRADUATE_MAX_RECORD_CHARS',
};

const UNIT: Record<keyof InputLimits, string> = {
  imagePixels: 'pixels',
  idxBytes: 'bytes',
  textBytes: 'bytes',
  recordChars: 'characters',
};

/** The limits in force: the defaults, each overridden by its environment variable (read on every call). */
export function inputLimits(overrides: Partial<InputLimits> = {}): InputLimits {
  const env = typeof process === 'undefined' ? {} : process.env;
  const out = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(LIMIT_ENV) as (keyof InputLimits)[]) {
    const raw = env[LIMIT_ENV[key]];
    if (raw !== undefined && raw !== '') {
      const n = Number(raw);
      if (!Number.isSafeInteger(n) || n < 1)
        throw new FormatError(`${LIMIT_ENV[key]}: expected a positive integer (${UNIT[key]}), got '${raw}'`);
      out[key] = n;
    }
    if (overrides[key] !== undefined) out[key] = overrides[key];
  }
  return out;
}

/**
 * Throws when `declared` is over the limit `key`: the error names the input, what it declares
 * (`what` then the number, e.g. "image of 30000×30000 =" 900000000 pixels), the limit and the
 * variable that raises it.
 */
export function checkLimit(
  name: string,
  what: string,
  declared: number,
  key: keyof InputLimits,
  limits: InputLimits = inputLimits(),
): void {
  if (declared <= limits[key]) return;
  throw new FormatError(`${name}: ${what} ${declared} ${UNIT[key]}, ${overThe(key, limits)}`);
}

/** "over the limit of N units (raise it with VAR=<units>)" */
export function overThe(key: keyof InputLimits, limits: InputLimits = inputLimits()): string {
  return `over the limit of ${limits[key]} ${UNIT[key]} (raise it with ${LIMIT_ENV[key]}=<${UNIT[key]}>)`;
}

/**
 * Nested arrays flattened depth-first, or undefined when they nest deeper than `maxDepth` levels
 * (the caller knows the depth from the model's rank): bounded recursion, never a stack overflow.
 */
export function flattenNested(value: readonly unknown[], maxDepth: number): unknown[] | undefined {
  const out: unknown[] = [];
  const walk = (v: readonly unknown[], depth: number): boolean => {
    for (const x of v) {
      if (!Array.isArray(x)) out.push(x);
      else if (depth >= maxDepth || !walk(x, depth + 1)) return false;
    }
    return true;
  };
  return walk(value, 1) ? out : undefined;
}

/** Largest finite float32. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** Why `v` cannot be a float32 input value (not a number, non-finite, or beyond float32), or undefined. */
export function notFloat32(v: unknown): string | undefined {
  if (typeof v !== 'number' || !Number.isFinite(v)) return 'is not a finite number';
  if (!Number.isFinite(Math.fround(v))) return `is beyond float32's range (±${FLOAT32_MAX.toPrecision(8)})`;
  return undefined;
}
