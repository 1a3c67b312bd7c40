// The WebGPU executor and backend at their edges (found in review): host-loop views that stay live
// until the next alloc as on the wasm heap (an output view taken before input views: int32 concat,
// scatterelements, the GRU/LSTM training scan), unaligned int8 writes and reads, two outputs of one
// allocation within one 256-byte block, more than 2,048 dispatches between reads, views re-taken
// every step (no pile-up), a view written after a kernel (an error, not a lost write), reads past
// the reply area, GRU/LSTM scan gradients. Skipped where no adapter exists.
import { describe, expect, it } from 'vitest';
import { apply } from '../../src/autograd/apply.js';
import { backward } from '../../src/autograd/backward.js';
import { ReferenceBackend } from '../../src/backend/reference.js';
import { type Tensor, tensor } from '../../src/tensor/tensor.js';
import { gpuBackend } from './gpu.js';

const gpu = gpuBackend('the WebGPU executor tests');
const reference = new ReferenceBackend();

describe.skipIf(!gpu)('WebGPU executor and host views', () => {
  it('host views: an output view taken before an input view keeps what the loop writes', () => {
    const be = gpu as NonNullable<typeof gpu>;
    const src = be.alloc(16);
    const dst = be.alloc(16);
    be.write(src, 'float32', [1, 2, 3, 4]);
    be.write(dst, 'float32', [0, 0, 0, 0]);
    const d = be.f32(dst, 4); // the pattern of concat (int32), scatterelements, scatternd
    const s = be.f32(src, 4);
    d.set(s);
    expect(Array.from(be.read(dst, 'float32', 4))).toEqual([1, 2, 3, 4]);
    be.free(src);
    be.free(dst);
  });

  it('concat of int32 tensors on WebGPU equals the reference', () => {
    const be = gpu as NonNullable<typeof gpu>;
    const a = Int32Array.of(1, 2, 3, 4, 5, 6);
    const b = Int32Array.of(7, 8);
    const want = apply('concat', [tensor(a, [2, 3], 'int32', reference), tensor(b, [2, 1], 'int32', reference)], {
      axis: 1,
    }).data();
    const got = apply('concat', [tensor(a, [2, 3], 'int32', be), tensor(b, [2, 1], 'int32', be)], { axis: 1 }).data();
    expect(Array.from(got)).toEqual(Array.from(want));
  });

  it('scatterelements on WebGPU equals the reference', () => {
    const be = gpu as NonNullable<typeof gpu>;
    const d = Float32Array.from({ length: 12 }, (_, i) => i);
    const idx = Int32Array.of(2, 0, 1, 1);
    const u = Float32Array.of(100, 200, 300, 400);
    const make = (b: typeof reference | typeof be) =>
      apply(
        'scatterelements',
        [tensor(d, [3, 4], 'float32', b), tensor(idx, [1, 4], 'int32', b), tensor(u, [1, 4], 'float32', b)],
        {
          axis: 0,
          reduction: 'none',
        },
      ).data();
    expect(Array.from(make(be))).toEqual(Array.from(make(reference)));
  });

  it('int8 write at an unaligned offset keeps the neighbouring bytes; unaligned int8 reads', () => {
    const be = gpu as NonNullable<typeof gpu>;
    const buf = be.alloc(16);
    be.write(
      buf,
      'int8',
      Array.from({ length: 16 }, (_, i) => i - 8),
    );
    be.write(buf + 5, 'int8', [100, 101, 102]);
    const want = Array.from({ length: 16 }, (_, i) => i - 8);
    want.splice(5, 3, 100, 101, 102);
    expect(Array.from(be.read(buf, 'int8', 16))).toEqual(want);
    expect(Array.from(be.read(buf + 3, 'int8', 6))).toEqual(want.slice(3, 9));
    be.free(buf);
  });

  it('two writable outputs in one allocation, apart but within one 256-byte block (softmaxCrossEntropy loss and probs)', () => {
    const be = gpu as NonNullable<typeof gpu>;
    const rows = 3;
    const cols = 5;
    const logits = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i));
    const labels = Int32Array.of(1, 4, 0);
    const run = (b: typeof reference | typeof be) => {
      const x = b.alloc(rows * cols * 4);
      const l = b.alloc(rows * 4);
      const out = b.alloc((rows + rows * cols) * 4); // loss [rows] then probs [rows, cols] in one allocation
      b.write(x, 'float32', logits);
      b.write(l, 'int32', labels);
      b.softmaxCrossEntropy(x, l, rows, cols, out, out + rows * 4, 0);
      const r = Array.from(b.read(out, 'float32', rows + rows * cols));
      for (const p of [x, l, out]) b.free(p);
      return r;
    };
    const got = run(be);
    const want = run(reference);
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 5);
  });

  it('params of more than 2048 dispatches between reads, with writes in between (submissions reuse the uniform)', () => {
    const be = gpu as NonNullable<typeof gpu>;
    const n = 300;
    const [a, b, c] = [be.alloc(n * 4), be.alloc(n * 4), be.alloc(n * 4)];
    be.fill(a, n, 0);
    for (let i = 0; i < 2500; i++) {
      be.scale(a, b, n, 1, 1);
      be.scale(b, a, n, 1, 2);
      if (i % 700 === 0) be.write(c, 'float32', new Float32Array(n).fill(i));
    }
    expect(Array.from(new Set(be.read(a, 'float32', n)))).toEqual([7500]);
    expect(Array.from(new Set(be.read(c, 'float32', n)))).toEqual([2100]);
    for (const p of [a, b, c]) be.free(p);
  });

  for (const cell of ['gru', 'lstm'] as const)
    it(`rnnscan (${cell}, the training op of GRU/LSTM layers) on WebGPU equals the reference`, () => {
      const be = gpu as NonNullable<typeof gpu>;
      const [N, T, H] = [2, 3, 4];
      const GH = (cell === 'gru' ? 3 : 4) * H;
      const xw = Float32Array.from({ length: N * T * GH }, (_, i) => Math.sin(i * 0.7));
      const wh = Float32Array.from({ length: H * GH }, (_, i) => Math.cos(i * 0.3) * 0.5);
      const bh = Float32Array.from({ length: GH }, (_, i) => 0.1 * Math.sin(i));
      const make = (b: typeof reference | typeof be) =>
        Array.from(
          apply(
            'rnnscan',
            [tensor(xw, [N, T, GH], 'float32', b), tensor(wh, [H, GH], 'float32', b), tensor(bh, [GH], 'float32', b)],
            { cell, hidden: H, reverse: false },
          ).data(),
        );
      const got = make(be);
      const want = make(reference);
      expect(got.length).toBe(want.length);
      for (let i = 0; i < want.length; i++) expect(got[i], `y[${i}]`).toBeCloseTo(want[i], 4);
    });

  it('host views that live until the next alloc do not make each later flush rescan all of them', () => {
    const be = gpu as NonNullable<typeof gpu>;
    const n = 1 << 18; // 1 MiB
    const a = be.alloc(n * 4);
    const b = be.alloc(n * 4);
    be.fill(a, n, 1);
    // a host loop over steps with a kernel between, no alloc (the GRU/LSTM training scan's shape)
    const step = () => {
      const v = be.f32(a, n);
      v[0] += 1;
      be.axpy(1, a, b, n);
    };
    const time = (k: number) => {
      const t0 = performance.now();
      for (let i = 0; i < k; i++) step();
      return performance.now() - t0;
    };
    time(5);
    const first = time(20);
    time(60);
    const later = time(20);
    be.free(a);
    be.free(b);
    // the same 20 steps: later ones compare every byte of the ~85 earlier views (and hold 170 MiB)
    expect(later / first).toBeLessThan(3);
  });

  it("a host view written after a kernel changed its buffer fails loudly, and never overwrites the kernel's values", () => {
    const be = gpu as NonNullable<typeof gpu>;
    const a = be.alloc(16);
    be.write(a, 'float32', [1, 2, 3, 4]);
    const v = be.f32(a, 4);
    be.fill(a, 4, 7); // a kernel writes the buffer: the view (a copy) expires
    v[1] = 5; // the wasm heap would show [7, 5, 7, 7]; a copy cannot
    expect(() => be.read(a, 'float32', 4)).toThrow(/wrote to a view of device memory after a kernel/);
    expect(Array.from(be.read(a, 'float32', 4))).toEqual([7, 7, 7, 7]);
    be.free(a);
  });

  it('reads past the kept area (a one-off area), a failed one, then small reads', () => {
    const be = gpu as NonNullable<typeof gpu>;
    const n = (20 << 20) / 4 + 3;
    const a = be.alloc(n * 4);
    be.fill(a, n, 2);
    const big = be.read(a, 'float32', n);
    expect(big.length).toBe(n);
    expect(big[n - 1]).toBe(2);
    const gone = be.alloc(n * 4);
    be.free(gone);
    expect(() => be.read(gone, 'float32', n)).toThrow(/freed or unknown/);
    be.fill(a, 4, 3);
    expect(Array.from(be.read(a + 4, 'float32', 2))).toEqual([3, 3]);
    be.free(a);
  });

  for (const cell of ['gru', 'lstm'] as const)
    it(`rnnscan ${cell} gradients on WebGPU equal the reference`, () => {
      const be = gpu as NonNullable<typeof gpu>;
      const [N, T, H] = [2, 5, 4];
      const GH = (cell === 'gru' ? 3 : 4) * H;
      const xw = Float32Array.from({ length: N * T * GH }, (_, i) => Math.sin(i * 0.7));
      const wh = Float32Array.from({ length: H * GH }, (_, i) => Math.cos(i * 0.3) * 0.5);
      const bh = Float32Array.from({ length: GH }, (_, i) => 0.1 * Math.sin(i));
      const dy = Float32Array.from({ length: N * T * H }, (_, i) => Math.cos(i * 1.3));
      const grads = (b: typeof reference | typeof be) => {
        const ts = [
          tensor(xw, [N, T, GH], 'float32', b),
          tensor(wh, [H, GH], 'float32', b),
          tensor(bh, [GH], 'float32', b),
        ];
        for (const t of ts) t.requiresGrad = true;
        const y = apply('rnnscan', ts, { cell, hidden: H, reverse: false });
        const l = apply('sum', [apply('mul', [y, tensor(dy, [N, T, H], 'float32', b)], {})], {
          axes: [0, 1, 2],
          keepDims: false,
        });
        backward(l);
        return ts.map((t) => Array.from((t.grad as Tensor).data()));
      };
      const got = grads(be);
      const want = grads(reference);
      for (let k = 0; k < 3; k++)
        for (let i = 0; i < want[k].length; i++) expect(got[k][i], `grad ${k}[${i}]`).toBeCloseTo(want[k][i], 4);
    });
});
