// The WebGPU GEMM kernels against the reference backend: the 64×64 tile kernel on tails (M, N, K
// not multiples of the tile), exact tiles and several workgroups, the GEMV kernel for M ≤ 4
// (batch 1) and its passes over the rows of small batches (M ≤ 16), split-K (few output tiles,
// long K), K = 0, every transA/transB combination, every epilogue (accumulate, bias, residual
// with a row stride, each activation; relu of NaN is 0), huge and tiny values, and prepared
// weights in f32 and f16 (checked against the reference of the f16-rounded weights). Buffers are
// views at odd offsets with guards (gpu-compare.ts). Skipped where no WebGPU adapter exists
// (test/backend/gpu.ts).
import { describe, expect, it } from 'vitest';
import type { Backend, Epilogue, EpilogueActivation } from '../../src/backend/backend.js';
import { ReferenceBackend } from '../../src/backend/reference.js';
import { prepareWeightsF16 } from '../../src/backend/webgpu/gemm.js';
import { ShapeError, ValueError } from '../../src/errors.js';
import { fromHalf, toHalf } from '../../src/shape/half.js';
import { rand } from '../helpers.js';
import { gpuBackend } from './gpu.js';
import { agreeOn, type Io } from './gpu-compare.js';

const gpu = gpuBackend('the WebGPU gemm tests');
const ref = new ReferenceBackend();

interface EpCase {
  name: string;
  accumulate?: boolean;
  bias?: boolean;
  residual?: boolean;
  activation?: EpilogueActivation;
  alpha?: number;
}
const EPILOGUES: EpCase[] = [
  { name: 'plain' },
  { name: 'accumulate', accumulate: true },
  { name: 'bias', bias: true },
  { name: 'residual (ldr = N + 3)', residual: true },
  { name: 'bias + residual + relu', bias: true, residual: true, activation: 'relu' },
  { name: 'leakyRelu 0.2', activation: 'leakyRelu', alpha: 0.2 },
  { name: 'leakyRelu default + bias', bias: true, activation: 'leakyRelu' },
  { name: 'sigmoid + bias', bias: true, activation: 'sigmoid' },
  { name: 'tanh + residual', residual: true, activation: 'tanh' },
  { name: 'gelu + accumulate + bias', accumulate: true, bias: true, activation: 'gelu' },
];

/** The case's epilogue buffers on io's backend (residual rows of ldr = N + 3). */
function epilogueOf(io: Io, e: EpCase, M: number, N: number, seed = 21): Epilogue {
  const ep: Epilogue = { accumulate: e.accumulate, activation: e.activation, alpha: e.alpha };
  if (e.bias) ep.bias = io.put(rand(N, seed));
  if (e.residual) {
    ep.residual = io.put(rand(M * (N + 3), seed + 1));
    ep.ldr = N + 3;
  }
  return ep;
}

function gemmCase(M: number, K: number, N: number, transA: boolean, transB: boolean, e: EpCase, a?: Float32Array) {
  const [av, bv] = [a ?? rand(M * K, 23), rand(K * N, 24)];
  return (io: Io) => {
    const c = io.out('c', M * N);
    io.be.gemm(io.put(av), io.put(bv), c, M, K, N, { transA, transB, ...epilogueOf(io, e, M, N) });
  };
}

const TRANS = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
] as const;

describe.skipIf(!gpu)('webgpu gemm', () => {
  const g = gpu as Backend;

  const SHAPES: [number, number, number, string][] = [
    [1, 1, 1, 'one element (GEMV)'],
    [1, 37, 70, 'batch 1 (GEMV)'],
    [4, 50, 130, 'M = 4 (GEMV, several column groups)'],
    [3, 1100, 9, 'GEMV, long K'],
    [9, 40, 77, 'small batch (GEMV passes; transA: tiled)'],
    [16, 30, 130, 'four GEMV passes'],
    [17, 3, 17, 'smallest tiled'],
    [65, 33, 17, 'tails in M, N and K'],
    [64, 16, 64, 'one exact tile'],
    [130, 70, 129, 'several workgroups, tails'],
    [70, 1100, 9, 'split-K (few tiles, long K)'],
  ];
  const cases = SHAPES.flatMap(([M, K, N, what], i) =>
    TRANS.map(([transA, transB], j) => ({
      M,
      K,
      N,
      what,
      transA,
      transB,
      ep: EPILOGUES[(i * 4 + j) % EPILOGUES.length],
    })),
  );

  it.each(cases)('$M x $K x $N ($what) transA $transA transB $transB, $ep.name', ({ M, K, N, transA, transB, ep }) => {
    agreeOn(g, ref, gemmCase(M, K, N, transA, transB, ep), K > 1000 ? 2e-5 : 1e-5);
  });

  it.each(EPILOGUES)(
    'every epilogue, tiled (65 x 33 x 17), GEMV (2 x 33 x 17) and GEMV passes (11 x 33 x 17): $name',
    (ep) => {
      agreeOn(g, ref, gemmCase(65, 33, 17, false, false, ep));
      agreeOn(g, ref, gemmCase(2, 33, 17, false, true, ep));
      agreeOn(g, ref, gemmCase(11, 33, 17, false, false, ep));
    },
  );

  it.each([
    [5, 7],
    [2, 3],
  ])('K = 0 stores the epilogue of 0 (M = %i)', (M, N) => {
    agreeOn(g, ref, gemmCase(M, 0, N, false, false, EPILOGUES[9]));
    agreeOn(g, ref, gemmCase(M, 0, N, true, true, EPILOGUES[4]));
  });

  it('huge and tiny values: 1e18 and 1e-30 operands, ±1e30 bias through sigmoid, tanh and gelu', () => {
    for (const [M, K, N] of [
      [67, 20, 33],
      [1, 20, 33],
    ]) {
      const huge = rand(M * K, 5).map((v) => v * 1e18);
      const tiny = rand(M * K, 6).map((v) => v * 1e-30);
      agreeOn(g, ref, gemmCase(M, K, N, false, false, EPILOGUES[0], huge));
      agreeOn(g, ref, gemmCase(M, K, N, true, false, EPILOGUES[0], tiny));
      const bias = rand(N, 7).map((v) => (v > 0 ? 1e30 : -1e30));
      for (const activation of ['sigmoid', 'tanh', 'gelu'] as const)
        agreeOn(g, ref, (io) => {
          const c = io.out('c', M * N);
          io.be.gemm(io.put(rand(M * K, 8)), io.put(rand(K * N, 9)), c, M, K, N, { bias: io.put(bias), activation });
        });
    }
  });

  it('relu maps NaN to 0; without an activation NaN stays NaN', () => {
    for (const M of [1, 9]) {
      const [K, N] = [5, 6];
      const bias = Float32Array.from(rand(N, 3));
      bias[2] = Number.NaN;
      for (const activation of ['relu', 'none'] as const) {
        const run = (io: Io) => {
          const c = io.out('c', M * N);
          io.be.gemm(io.put(rand(M * K, 1)), io.put(rand(K * N, 2)), c, M, K, N, { bias: io.put(bias), activation });
        };
        agreeOn(g, ref, run);
      }
    }
  });

  it.each([1, 3, 13, 130])('prepareWeights + gemmPrepared (M = %i), plain and fused; release', (M) => {
    const [K, N] = [37, 71];
    const w = rand(K * N, 25);
    agreeOn(g, ref, (io) => {
      const p = io.be.prepareWeights(w, K, N);
      const [c, plain] = [io.out('c', M * N), io.out('plain', M * N)];
      io.be.gemmPrepared(io.put(rand(M * K, 26)), M, p, c, epilogueOf(io, EPILOGUES[4], M, N));
      io.be.gemmPrepared(io.put(rand(M * K, 27)), M, p, plain);
      io.be.release(p);
    });
  });

  it.each([1, 4, 70])('f16 prepared weights (M = %i) match the reference of the f16-rounded weights', (M) => {
    if (!gpu) return;
    const [K, N] = [45, 67]; // K·N odd: the f16 buffer is padded by one half
    const w = rand(K * N, 28).map((v) => v * 3);
    const rounded = w.map((v) => fromHalf(toHalf(v)));
    expect(rounded.some((v, i) => v !== w[i])).toBe(true);
    const x = rand(M * K, 29);
    const f16 = prepareWeightsF16(gpu.kernels, w, K, N);
    expect(f16.kind).toBe(gpu.kernels.f16 ? 'webgpu-f16' : 'webgpu-f32');
    gpu.release(f16);
    agreeOn(g, ref, (io) => {
      const p = io.be === g ? prepareWeightsF16(gpu.kernels, w, K, N) : io.be.prepareWeights(rounded, K, N);
      const c = io.out('c', M * N);
      io.be.gemmPrepared(io.put(x), M, p, c, epilogueOf(io, EPILOGUES[9], M, N));
      io.be.release(p);
    });
  });

  it('bad weights: a length that is not K·N is a ShapeError, weights of another backend a ValueError', () => {
    expect(() => g.prepareWeights(new Float32Array(5), 2, 3)).toThrow(ShapeError);
    const foreign = ref.prepareWeights(new Float32Array(6), 2, 3);
    const [a, c] = [g.alloc(8), g.alloc(12)];
    expect(() => g.gemmPrepared(a, 1, foreign, c)).toThrow(ValueError);
    expect(() => g.gemmPrepared(a, 1, foreign, c)).toThrow(/reference-f32/);
    g.free(a);
    g.free(c);
  });
});
