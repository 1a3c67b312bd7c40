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
  /** Bytes of one WAV file: 256 MiB is 25 minutes of 48 kHz 24-bit stereo (as float32 mono, 1.4× that). */
  audioBytes: number;
  /**
   * How to raise a limit that did not come from its environment variable, as messages name it
   * (serve's image limit: '--max-image-pixels'); by default the variable.
   */
  raiseWith?: Partial<Record<LimitName, string>>;
}

/** The name of one limit. */
export type LimitName = Exclude<keyof InputLimits, 'raiseWith'>;

export const DEFAULT_LIMITS: Readonly<Record<LimitName, number>> = {
  imagePixels: 50_000_000,
  idxBytes: 1024 ** 3,
  textBytes: 256 * 1024 ** 2,
  recordChars: 16 * 1024 ** 2,
  audioBytes: 256 * 1024 ** 2,
};

/** The environment variable that overrides each limit. */
export const LIMIT_ENV: Readonly<Record<LimitName, string>> = {
  imagePixels: 'GRADUATE_MAX_IMAGE_PIXELS',
  idxBytes: 'GRADUATE_MAX_IDX_BYTES',
  textBytes: 'GRADUATE_MAX_TEXT_BYTES',
  recordChars: 'GRADUATE_MAX_RECORD_CHARS',
  audioBytes: 'GRADUATE_MAX_AUDIO_BYTES',
};

const UNIT: Record<LimitName, string> = {
  imagePixels: 'pixels',
  idxBytes: 'bytes',
  textBytes: 'bytes',
  recordChars: 'characters',
  audioBytes: 'bytes',
};

/** The limits in force: the defaults, each overridden by its environment variable (read on every call). */
export function inputLimits(overrides: Partial<InputLimits> = {}): InputLimits {
  const env = typeof process === 'undefined' ? {} : process.env;
  const out: InputLimits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(LIMIT_ENV) as LimitName[]) {
    const raw = env[LIMIT_ENV[key]];
    if (raw !== undefined && raw !== '') {
      const n = Number(raw);
      if (!Number.isSafeInteger(n) || n < 1)
        throw new FormatError(`${LIMIT_ENV[key]}: expected a positive integer (${UNIT[key]}), got '${raw}'`);
      out[key] = n;
    }
    if (overrides[key] !== undefined) out[key] = overrides[key];
  }
  return overrides.raiseWith ? { ...out, raiseWith: overrides.raiseWith } : out;
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
  key: LimitName,
  limits: InputLimits = inputLimits(),
): void {
  if (declared <= limits[key]) return;
  throw new FormatError(`${name}: ${what} ${declared} ${UNIT[key]}, ${overThe(key, limits)}`);
}

/** "over the limit of N units (raise it with VAR=<units>)", or with limits.raiseWith's flag. */
export function overThe(key: LimitName, limits: InputLimits = inputLimits()): string {
  const how = limits.raiseWith?.[key] ?? LIMIT_ENV[key];
  return `over the limit of ${limits[key]} ${UNIT[key]} (raise it with ${how}=<${UNIT[key]}>)`;
}

/**
 * The most bytes the engine's wasm memory holds (kernels/engine.ts declares its maximum from this;
 * shared memories must declare one), below wasm32's 4 GiB address space. An artifact whose one
 * sample cannot fit is refused on read.
 */
export const MEMORY_LIMIT_BYTES = 2 ** 30;
