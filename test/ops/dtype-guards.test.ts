// Ops that weigh their input (linear, matmul, conv2d) refuse int32 input with a clear error: the
// kernels read float32, so token ids fed to them count as their bit patterns (≈ k·1.4e-45) — the
// cause of issue 18's text model that learnt nothing (its `mlp` preset fed ids to a linear layer).
import { describe, expect, it } from 'vitest';
import * as F from '../../src/nn/functional.js';
import { tensor, zeros } from '../../src/tensor/tensor.js';

describe('dtype guards of weighted ops', () => {
  const ids = tensor(Int32Array.from([3, 7, -1, 2, 9, 1]), [2, 3], 'int32');
  it('linear on token ids names the op, the shape and the fix', () => {
    expect(() => F.linear(ids, zeros([3, 4]))).toThrow(
      /linear: input \[2, 3\] is int32 \(token ids\?\), but linear weighs float values; look ids up in an embedding first/,
    );
  });
  it('matmul (either side) and conv2d likewise', () => {
    expect(() => F.matmul(ids, zeros([3, 2]))).toThrow(/matmul: input \[2, 3\] is int32/);
    expect(() => F.matmul(zeros([4, 2]), ids)).toThrow(/matmul: input \[2, 3\] is int32/);
    const img = tensor(new Int32Array(2 * 4 * 4), [2, 4, 4, 1], 'int32');
    expect(() => F.conv2d(img, zeros([3, 3, 1, 2]))).toThrow(/conv2d: input \[2, 4, 4, 1\] is int32/);
  });
  it('float input still works', () => {
    const y = F.linear(
      tensor(Float32Array.from([1, 2, 3]), [1, 3]),
      tensor(Float32Array.from([1, 0, 0, 1, 1, 1]), [3, 2]),
    );
    expect(Array.from(y.data())).toEqual([4, 5]);
  });
});
