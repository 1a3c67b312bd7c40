// Checking numeric input values: float32's range (the scan itself is io/fields.ts's
// firstNonFinite), and JSON tensors (nested arrays of numbers) → typed arrays with bounded
// nesting, a checked count and errors naming the index. Values are checked after conversion to the model's dtype:
// `1e39` is finite as a double but Infinity as a float32.
// Not for: size limits (src/limits.ts) or file formats (each loader). No Node imports.
import { FormatError } from '../errors.js';
import { FLOAT32_MAX, firstNonFinite } from './fields.js';

/** Why a finite double was refused as a float32. */
export const BEYOND_FLOAT32 = `is beyond float32's range (±${FLOAT32_MAX.toPrecision(8)})`;

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

/** What a JSON tensor must be: its dtype, how deep it may nest, how many values it may hold. */
export interface JsonTensorSpec {
  dtype: 'float32' | 'int32';
  /** Deepest nesting accepted: the shape's rank (one more where a batch of samples is allowed). */
  maxDepth: number;
  /** What bounds the nesting, for the message ("its shape [1, 8, 8, 1]"). */
  depthOf: string;
  /** Why `count` values do not fit the tensor, or undefined when they do. */
  checkCount: (count: number) => string | undefined;
}

/**
 * A JSON tensor's data (nested arrays of numbers) as a typed array of the spec's dtype. Throws
 * `fail(message)` (a FormatError by default) with a message that starts with `name`: arrays
 * nested too deep, the wrong count, or the first value that is not a number, not an int32, or
 * not finite after conversion to float32, as `data[i] = v`.
 */
export function jsonTensor(
  name: string,
  data: unknown,
  spec: JsonTensorSpec,
  fail: (message: string) => Error = (m) => new FormatError(m),
): Float32Array | Int32Array {
  if (!Array.isArray(data)) throw fail(`${name}: "data" must be an array of numbers`);
  const flat = flattenNested(data, spec.maxDepth);
  if (!flat) throw fail(`${name}: data nests deeper than ${spec.depthOf} (${spec.maxDepth} levels)`);
  const wrongCount = spec.checkCount(flat.length);
  if (wrongCount) throw fail(`${name}: ${wrongCount}`);
  const refuse = (i: number, why: string) =>
    fail(
      `${name}: data[${i}] = ${typeof flat[i] === 'number' ? flat[i] : (JSON.stringify(flat[i]) ?? String(flat[i]))} ${why}`,
    );
  const out = spec.dtype === 'int32' ? new Int32Array(flat.length) : new Float32Array(flat.length);
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i];
    if (typeof v !== 'number') throw refuse(i, 'is not a number');
    if (spec.dtype === 'int32' && !(Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31))
      throw refuse(i, 'is not an int32 integer');
    out[i] = v;
  }
  const bad = firstNonFinite(out);
  if (bad >= 0) throw refuse(bad, Number.isFinite(flat[bad]) ? BEYOND_FLOAT32 : 'is not a finite number');
  return out;
}
