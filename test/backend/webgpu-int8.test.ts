// The WebGPU int8 kernels against the reference backend, bit for bit: inputs and outputs at every
// byte offset inside larger buffers (the bytes around an int8 output must not change: each
// invocation owns whole words), K past 2^24 / (255·127) so accumulators are not exact in f32 (the
// kernel must round them to nearest even as the reference does), fused pooling of odd outputs,
// quantize ties, saturation and NaN. Skipped where no WebGPU adapter exists (test/backend/gpu.ts).
import { describe, expect, it } from 'vitest';
import type { Backend, Buf, Int8Epilogue } from '../../src/backend/backend.js';
import { ReferenceBackend } from '../../src/backend/reference.js';
import { conv2dGeometry, pool2dGeometry } from '../../src/shape/window.js';
import { rand } from '../helpers.js';
import { gpuBackend } from './gpu.js';

const gpu = gpuBackend('the WebGPU int8 tests');
const ref = new ReferenceBackend();

function randInt8(n: number, seed: number, lo = -128, hi = 127): Int8Array {
  return Int8Array.from(rand(n, seed), (v) => Math.min(hi, lo + Math.floor(((v + 1) / 2) * (hi - lo + 1))));
}

const GUARD = 5;

/** Buffers placed `shift` bytes into an allocation with GUARD junk bytes after them. */
class Bufs {
  private readonly owned: Buf[] = [];
  constructor(
    readonly be: Backend,
    readonly shift: number,
  ) {}
  i8(data: ArrayLike<number>): Buf {
    const b = this.be.alloc(this.shift + data.length + GUARD);
    this.owned.push(b);
    this.be.write(b, 'int8', randInt8(this.shift + data.length + GUARD, 7 + data.length));
    this.be.write(b, 'int8', data, this.shift);
    return b + this.shift;
  }
  f32(data: ArrayLike<number>): Buf {
    const b = this.be.alloc((data.length + 2) * 4);
    this.owned.push(b);
    this.be.write(b, 'float32', data, 1);
    return b + 4;
  }
  /** The output's bytes together with the shift bytes before it and the guard after. */
  bytes(b: Buf, n: number): number[] {
    return Array.from(this.be.read(b - this.shift, 'int8', this.shift + n + GUARD));
  }
  free(): void {
    for (const b of this.owned) this.be.free(b);
  }
}

function both(shift: number, run: (s: Bufs) => number[]): void {
  if (!gpu) return;
  const results = [ref, gpu].map((be) => {
    const s = new Bufs(be, shift);
    try {
      return run(s);
    } finally {
      s.free();
    }
  });
  expect(results[1]).toEqual(results[0]);
}

const scales = (n: number) => Array.from(rand(n, 3), (v) => 0.0125 + 0.0075 * v);

describe('webgpu int8', () => {
  // K = 1000 with x − zx and w mostly large and positive: |sums| reach 2^24 and beyond; 130 × 67
  // outputs span several 64 × 64 tiles
  it.skipIf(!gpu).each([
    { M: 5, K: 1000, N: 7, shift: 0 },
    { M: 5, K: 1000, N: 7, shift: 1 },
    { M: 5, K: 1000, N: 7, shift: 2 },
    { M: 130, K: 37, N: 67, shift: 3 },
  ])('gemm $M x $K x $N at byte offset $shift: int8 and float32 out', ({ M, K, N, shift }) => {
    const [x, w] = [randInt8(M * K, 11, 90, 127), randInt8(K * N, 12, 40, 127)];
    for (const relu of [false, true])
      both(shift, (s) => {
        const p = s.be.int8?.prepareGemm(w, K, N, scales(N));
        if (!p) throw new Error('no int8 family');
        const bias = s.f32(rand(N, 4).map((v) => v * 3));
        const xb = s.i8(x);
        const [yq, yf] = [s.i8(new Int8Array(M * N)), s.f32(new Float32Array(M * N))];
        const int8: Int8Epilogue = { relu, bias, out: { kind: 'int8', scale: K / 25, zeroPoint: -3 } };
        s.be.int8?.gemm(xb, M, 0.02, -128, p, yq, int8);
        s.be.int8?.gemm(xb, M, 0.02, -128, p, yf, { relu, out: { kind: 'float32' } });
        s.be.release(p);
        return [...s.bytes(yq, M * N), ...Array.from(s.be.read(yf, 'float32', M * N))];
      });
  });

  it.skipIf(!gpu).each([
    { x: [2, 9, 7, 5], w: [3, 3, 5, 6], stride: 1, padding: 1, pool: true, shift: 1 },
    {
      x: [2, 8, 9, 8],
      w: [3, 3, 8, 70],
      stride: 1,
      padding: [1, 2, 0, 1] as [number, number, number, number],
      pool: false,
      shift: 2,
    },
    {
      x: [1, 11, 10, 3],
      w: [2, 3, 3, 9],
      stride: 2,
      padding: [2, 0, 1, 3] as [number, number, number, number],
      pool: true,
      shift: 3,
    },
    { x: [3, 6, 5, 2], w: [1, 1, 2, 5], stride: 1, padding: 0, pool: false, shift: 2 },
  ])('conv2d x $x w $w stride $stride padding $padding pool $pool at byte offset $shift', (c) => {
    const g = conv2dGeometry(c.x, c.w, c.stride, c.padding);
    const x = randInt8(
      c.x.reduce((a, b) => a * b, 1),
      21,
    );
    const w = randInt8(
      c.w.reduce((a, b) => a * b, 1),
      22,
      -127,
      127,
    );
    const count = c.pool ? g.N * Math.floor(g.OH / 2) * Math.floor(g.OW / 2) * g.OC : g.N * g.OH * g.OW * g.OC;
    both(c.shift, (s) => {
      const p = s.be.int8?.prepareConv(w, c.w, scales(g.OC), g, { winograd: true, pool: c.pool });
      if (!p) throw new Error('no int8 family');
      const y = s.i8(new Int8Array(count));
      const bias = s.f32(rand(g.OC, 5));
      s.be.int8?.conv2d(s.i8(x), 0.03, -4, p, g, y, {
        bias,
        relu: true,
        out: { kind: 'int8', scale: 0.05, zeroPoint: 2 },
      });
      s.be.release(p);
      return s.bytes(y, count);
    });
  });

  it.skipIf(!gpu).each([0, 1, 3])('quantize, dequantize, maxPool2d, globalAvgPool at byte offset %i', (shift) => {
    const n = 1031;
    const x = rand(n, 31).map((v) => v * 40);
    x.set([0.5, 1.5, 2.5, -0.5, -1.5, 1e30, -1e30, Number.NaN, 1e-30, -1e-30]);
    const g = pool2dGeometry([2, 7, 6, 5], [3, 2], [2, 1], [1, 0, 1, 1]);
    const [HW, C] = [19, 7];
    const q = randInt8(2 * 7 * 6 * 5, 32);
    const a = randInt8(3 * HW * C, 33);
    both(shift, (s) => {
      const [qy, xy] = [s.i8(new Int8Array(n)), s.f32(new Float32Array(n))];
      s.be.int8?.quantize(s.f32(x), n, 0.5, -2, qy);
      s.be.int8?.dequantize(s.i8(q), q.length, 0.37, 5, xy);
      const py = s.i8(new Int8Array(g.N * g.OH * g.OW * g.C));
      s.be.int8?.maxPool2d(s.i8(q), g, py);
      const ay = s.i8(new Int8Array(3 * C));
      s.be.int8?.globalAvgPool(s.i8(a), 3, HW, C, ay);
      return [
        ...s.bytes(qy, n),
        ...Array.from(s.be.read(xy, 'float32', q.length)),
        ...s.bytes(py, g.N * g.OH * g.OW * g.C),
        ...s.bytes(ay, 3 * C),
      ];
    });
  });

  it.skipIf(!gpu)('bad arguments are ValueErrors naming the op', () => {
    const int8 = gpu?.int8;
    expect(() => int8?.quantize(0, 1, 0, 0, 0)).toThrow(/quantize: scale must be a positive finite number, got 0/);
    expect(() => int8?.prepareGemm(new Int8Array(5), 2, 3, [1, 1, 1])).toThrow(/5 weights for K=2 N=3/);
    const p = int8?.prepareGemm(new Int8Array(6), 2, 3, [1, 1, 1]);
    if (!p) throw new Error('no int8 family');
    expect(() => int8?.gemm(0, 1, 1, 200, p, 0, { out: { kind: 'float32' } })).toThrow(/zero point must be an integer/);
    gpu?.release(p);
  });
});
