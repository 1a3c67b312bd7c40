// WebGPU kernels: tiled f32 GEMM with the fused epilogue (bias, residual, activation, accumulate),
// transposed operands, and weights prepared once (f32, or f16 storage where the adapter has
// shader-f16). Semantics: src/backend/backend.ts and the reference backend.

import type { Epilogue, GemmOptions, Prepared } from '../backend.js';
import { notBuilt } from './stub.js';
import type { Kernels } from './wgsl.js';

export function gemm(
  k: Kernels,
  a: number,
  b: number,
  c: number,
  M: number,
  K: number,
  N: number,
  opts: GemmOptions,
): void {
  notBuilt(k, 'gemm', a, b, c, M, K, N, opts);
}
export function prepareWeights(k: Kernels, w: Float32Array, K: number, N: number): Prepared {
  return notBuilt(k, 'prepareWeights', w, K, N);
}
export function gemmPrepared(k: Kernels, a: number, M: number, w: Prepared, c: number, ep: Epilogue): void {
  notBuilt(k, 'gemmPrepared', a, M, w, c, ep);
}
