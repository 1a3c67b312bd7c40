// GEMM kernels vs a naive triple loop: odd shapes, transposed operands, every epilogue,
// both builds, one and two threads.
import { describe, expect, it } from 'vitest';
import type { Activation } from '../../src/kernels/exports.js';
import { freePacked, gemm, gemmPacked, gemmTA, packB } from '../../src/kernels/gemm.js';
import { download, engineConfigs, engineFor, expectClose, rand, upload } from '../helpers.js';

function refGemm(a: Float32Array, b: Float32Array, M: number, K: number, N: number, transA = false, transB = false) {
  const c = new Float32Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (transA ? a[k * M + i] : a[i * K + k]) * (transB ? b[j * K + k] : b[k * N + j]);
      c[i * N + j] = s;
    }
  return c;
}

const ACTS: Record<Activation, (x: number) => number> = {
  none: (x) => x,
  relu: (x) => Math.max(x, 0),
  leakyRelu: (x) => (x > 0 ? x : 0.1 * x),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: Math.tanh,
  gelu: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
};

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 784, 256],
  [3, 7, 17],
  [7, 33, 9],
  [17, 65, 33],
  [33, 17, 129],
  [65, 600, 7],
  [129, 3, 65],
  [130, 1030, 40],
];

describe.each(engineConfigs())('gemm isa=$isa threads=$threads', (cfg) => {
  const e = engineFor(cfg);

  it.each(SHAPES)('C = A·B for M=%i K=%i N=%i', (M, K, N) => {
    const a = rand(M * K, 1);
    const b = rand(K * N, 2);
    const pa = upload(e, a);
    const pb = upload(e, b);
    const pc = e.alloc(M * N * 4);
    gemm(e, pa, pb, pc, M, K, N);
    expectClose(download(e, pc, M * N), refGemm(a, b, M, K, N), 1e-4, 1e-4);
    for (const p of [pa, pb, pc]) e.free(p);
  });

  it.each(SHAPES)('transposed operands (Aᵀ·B, A·Bᵀ) for M=%i K=%i N=%i', (M, K, N) => {
    const a = rand(M * K, 3);
    const b = rand(K * N, 4);
    const pa = upload(e, a);
    const pb = upload(e, b);
    const pc = e.alloc(M * N * 4);
    gemm(e, pa, pb, pc, M, K, N, { transA: true });
    expectClose(download(e, pc, M * N), refGemm(a, b, M, K, N, true, false), 1e-4, 1e-4);
    gemm(e, pa, pb, pc, M, K, N, { transB: true });
    expectClose(download(e, pc, M * N), refGemm(a, b, M, K, N, false, true), 1e-4, 1e-4);
    for (const p of [pa, pb, pc]) e.free(p);
  });

  it.each(Object.keys(ACTS) as Activation[])('fused epilogue: bias + residual + %s, and accumulate', (act) => {
    for (const [M, K, N] of [
      [5, 9, 13],
      [64, 40, 24],
    ]) {
      const a = rand(M * K, 5);
      const b = rand(K * N, 6);
      const bias = rand(N, 7);
      const res = rand(M * N, 8);
      const [pa, pb, pbias, pres] = [a, b, bias, res].map((x) => upload(e, x));
      const pc = upload(e, rand(M * N, 9));
      const packed = packB(e, pb, K, N);
      gemmPacked(e, pa, M, packed, pc, { bias: pbias, residual: pres, activation: act, alpha: 0.1 });
      const ref = refGemm(a, b, M, K, N).map((v, i) => ACTS[act](v + bias[i % N] + res[i]));
      expectClose(download(e, pc, M * N), ref, 1e-4, 1e-4);
      // accumulate: C += A·B on top of what C holds
      const before = download(e, pc, M * N);
      gemmPacked(e, pa, M, packed, pc, { accumulate: true });
      const plain = refGemm(a, b, M, K, N);
      expectClose(
        download(e, pc, M * N),
        before.map((v, i) => v + plain[i]),
        1e-4,
        1e-4,
      );
      freePacked(e, packed);
      for (const p of [pa, pb, pbias, pres, pc]) e.free(p);
    }
  });

  it.each([
    [5, 7, 8],
    [13, 600, 24],
    [64, 33, 16],
  ])('Aᵀ·B with both operands read in place (row strides) for M=%i K=%i N=%i', (M, K, N) => {
    // At [K, M] inside rows of lda = M + 3, B [K, N] inside rows of ldb = N + 8; accumulate.
    const [lda, ldb] = [M + 3, N + 8];
    const at = rand(K * lda, 11);
    const b = rand(K * ldb, 12);
    const c0 = rand(M * N, 13);
    const a = new Float32Array(M * K);
    const bd = new Float32Array(K * N);
    for (let k = 0; k < K; k++) {
      for (let i = 0; i < M; i++) a[k * M + i] = at[k * lda + i];
      for (let j = 0; j < N; j++) bd[k * N + j] = b[k * ldb + j];
    }
    const [pa, pb, pc] = [upload(e, at), upload(e, b), upload(e, c0)];
    gemmTA(e, pa, pb, pc, M, K, N, { accumulate: true }, lda, ldb);
    const ref = refGemm(a, bd, M, K, N, true, false).map((v, i) => v + c0[i]);
    expectClose(download(e, pc, M * N), ref, 1e-4, 1e-4);
    expect(() => gemmTA(e, pa, pb, pc, M, K, 12)).toThrow(/multiple of 8/);
    for (const p of [pa, pb, pc]) e.free(p);
  });

  it('leaves memory flat across repeated calls', () => {
    const pa = upload(e, rand(64 * 100));
    const pb = upload(e, rand(100 * 50));
    const pc = e.alloc(64 * 50 * 4);
    gemm(e, pa, pb, pc, 64, 100, 50, { transA: true });
    const live = e.memoryStats().liveBytes;
    for (let i = 0; i < 50; i++) gemm(e, pa, pb, pc, 64, 100, 50, { transA: true, transB: true });
    expect(e.memoryStats().liveBytes).toBe(live);
    for (const p of [pa, pb, pc]) e.free(p);
  });
});
