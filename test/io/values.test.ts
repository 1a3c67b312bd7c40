// Input values, checked in one place: firstNonFinite (every non-finite check), and jsonTensor, the
// one JSON tensor → typed array conversion predict and serve share (bounded nesting, count, dtype).
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src/errors.js';
import { firstNonFinite } from '../../src/io/fields.js';
import { BEYOND_FLOAT32, flattenNested, jsonTensor } from '../../src/io/values.js';

const spec = (dtype: 'float32' | 'int32', n = 4) => ({
  dtype,
  maxDepth: 2,
  depthOf: 'its shape [2, 2]',
  checkCount: (count: number) => (count === n ? undefined : `has ${count} values, needs ${n}`),
});

describe('firstNonFinite', () => {
  it('is the index of the first NaN or ±Infinity, or -1', () => {
    expect(firstNonFinite(new Float32Array([0, 1, -2]))).toBe(-1);
    expect(firstNonFinite([])).toBe(-1);
    expect(firstNonFinite(new Float32Array([0, Number.NaN, Number.POSITIVE_INFINITY]))).toBe(1);
    expect(firstNonFinite(Float32Array.of(1, 1e39))).toBe(1); // 1e39 is Infinity as a float32
    expect(firstNonFinite([1, 2, Number.NEGATIVE_INFINITY])).toBe(2);
    expect(firstNonFinite(new Float64Array([1e308, 1e39]))).toBe(-1);
  });
});

describe('jsonTensor', () => {
  it('flattens nested or flat data to the dtype', () => {
    expect(
      jsonTensor(
        't',
        [
          [1, 2],
          [3, 4.5],
        ],
        spec('float32'),
      ),
    ).toEqual(Float32Array.of(1, 2, 3, 4.5));
    expect(jsonTensor('t', [1, 2, 3, -(2 ** 31)], spec('int32'))).toEqual(Int32Array.of(1, 2, 3, -(2 ** 31)));
    expect(flattenNested([[1], [[2]]], 2)).toBeUndefined();
  });

  it('names the index of the first value that is not a number, not an int32, or not finite as a float32', () => {
    expect(() => jsonTensor('t', [1, 2, 1e39, 'x'], spec('float32'))).toThrow(`t: data[3] = "x" is not a number`);
    expect(() => jsonTensor('t', [1, 2, 1e39, 4], spec('float32'))).toThrow(`t: data[2] = 1e+39 ${BEYOND_FLOAT32}`);
    expect(() => jsonTensor('t', [1, 2, 3, Number.POSITIVE_INFINITY], spec('float32'))).toThrow(
      't: data[3] = Infinity is not a finite number',
    );
    expect(() => jsonTensor('t', [1, 2.5, 3, 4], spec('int32'))).toThrow('t: data[1] = 2.5 is not an int32 integer');
    expect(() => jsonTensor('t', [1, 2, 3, 2 ** 31], spec('int32'))).toThrow('t: data[3] = 2147483648 is not an int32');
  });

  it('refuses nesting deeper than allowed (200k deep: no stack overflow), a wrong count, and non-arrays', () => {
    const deep = JSON.parse(`${'['.repeat(200_000)}1${']'.repeat(200_000)}`);
    expect(() => jsonTensor('t', deep, spec('float32'))).toThrow(
      't: data nests deeper than its shape [2, 2] (2 levels)',
    );
    expect(() => jsonTensor('t', [1, 2, 3], spec('float32'))).toThrow('t: has 3 values, needs 4');
    expect(() => jsonTensor('t', { a: 1 }, spec('float32'))).toThrow(FormatError);
    const custom = () => jsonTensor('t', 5, spec('float32'), (m) => new RangeError(m));
    expect(custom).toThrow(RangeError);
  });
});
