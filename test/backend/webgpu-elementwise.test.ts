// The WebGPU elementwise family against the reference beyond the conformance suite: NaN, ±Infinity,
// ±1e30 and 1e-30 through every unary function, its backward and every binary function (max/min
// propagate NaN as numpy does; a compiler may fold `a != a`, so the kernels test NaN by bits),
// broadcasts over views at odd offsets, more than 65,535 workgroups (the grid folds into y), and a
// copy between overlapping ranges of one buffer (memmove).
import { describe, it } from 'vitest';
import { type BinaryFn, UNARY_FNS } from '../../src/backend/backend.js';
import { ReferenceBackend } from '../../src/backend/reference.js';
import { rand } from '../helpers.js';
import { gpuBackend } from './gpu.js';
import { agreeOn } from './gpu-compare.js';

const gpu = gpuBackend('the WebGPU elementwise tests');
const ref = new ReferenceBackend();
const SPECIAL = [Number.NaN, Infinity, -Infinity, 1e30, -1e30, 1e-30, -1e-30, 0, -0, 1, -1, 0.5, 88, -88, 20, -20];

describe.skipIf(!gpu)('WebGPU elementwise vs the reference', () => {
  const be = gpu as NonNullable<typeof gpu>;

  it.each(UNARY_FNS)('unary %s and its backward on special values', (fn) => {
    const x = [...SPECIAL, ...rand(41, 3).map((v) => v * 10)];
    const n = x.length;
    agreeOn(be, ref, (io) => {
      const xb = io.put(x);
      const y = io.out('y', n);
      io.be.unary(fn, xb, y, n, 0.1);
      io.be.unaryBackward(fn, xb, y, io.put(rand(n, 4)), io.out('dx', n), n, 0.1);
    });
  });

  const BINARY: BinaryFn[] = ['add', 'sub', 'mul', 'div', 'max', 'min', 'eq', 'gt'];
  it.each(BINARY)('binary %s: NaN, infinities, broadcast [N,1,C] with [C] and [1,K,1]', (fn) => {
    const a = [...SPECIAL, ...SPECIAL.slice().reverse()];
    const b = SPECIAL.flatMap((v, i) => [v, SPECIAL[(i + 5) % SPECIAL.length]]);
    agreeOn(be, ref, (io) => {
      io.be.binary(fn, io.put(a), [a.length], io.put(b), [b.length], io.out('same', a.length));
      io.be.binary(fn, io.put(a), [4, 1, 8], io.put(SPECIAL.slice(0, 8)), [8], io.out('row', 32));
      io.be.binary(fn, io.put(a), [4, 1, 8], io.put([1, -2, Number.NaN]), [1, 3, 1], io.out('mid', 96));
    });
  });

  it('where broadcasts condition, a and b of three shapes', () => {
    agreeOn(be, ref, (io) => {
      const cond = io.put([1, 0, 0, 1, Number.NaN]);
      io.be.where(cond, [5, 1], io.put(rand(7, 1)), [1, 7], io.put([-1, Infinity]), [2, 1, 1], io.out('y', 70));
    });
  });

  it('a 1-D kernel over 2^24 + 3 elements folds its grid into y', () => {
    const n = (1 << 24) + 3;
    const x = be.alloc(n * 4);
    be.fill(x, n, 0.5);
    be.scale(x, x, n, 2, 1);
    const tail = be.read(x + (n - 4) * 4, 'float32', 4);
    be.free(x);
    if (![...tail].every((v) => v === 2)) throw new Error(`tail ${[...tail]}`);
  });

  it('copy between overlapping ranges of one buffer moves as memmove', () => {
    const data = rand(100, 9);
    agreeOn(be, ref, (io) => {
      const b = io.out('buf', 100);
      io.be.write(b, 'float32', data);
      io.be.copy(b, b + 8, 60);
      io.be.copy(b + 40, b + 36, 50);
    });
  });

  it('scale, fill and axpy on views at odd offsets', () => {
    agreeOn(be, ref, (io) => {
      const y = io.out('y', 33);
      io.be.fill(y, 33, -0.25);
      io.be.axpy(1.5, io.put(rand(33, 2)), y, 33);
      io.be.scale(io.put(SPECIAL), io.out('s', SPECIAL.length), SPECIAL.length, -3, 0.5);
    });
  });
});
