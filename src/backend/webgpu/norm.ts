// WebGPU kernels: batch normalization (inference form, batch statistics, backward).
// Semantics: src/backend/backend.ts and the reference backend.

import { notBuilt } from './stub.js';
import type { Kernels } from './wgsl.js';

export function batchNormForward(
  k: Kernels,
  x: number,
  rows: number,
  C: number,
  mean: number,
  variance: number,
  eps: number,
  gamma: number,
  beta: number,
  out: number,
): void {
  notBuilt(k, 'batchNormForward', x, rows, C, mean, variance, eps, gamma, beta, out);
}
export function batchNormStats(k: Kernels, x: number, rows: number, C: number, mean: number, variance: number): void {
  notBuilt(k, 'batchNormStats', x, rows, C, mean, variance);
}
export function batchNormBackward(
  k: Kernels,
  x: number,
  dy: number,
  rows: number,
  C: number,
  mean: number,
  variance: number,
  eps: number,
  gamma: number,
  dx: number,
  dgamma: number,
  dbeta: number,
): void {
  notBuilt(k, 'batchNormBackward', x, dy, rows, C, mean, variance, eps, gamma, dx, dgamma, dbeta);
}
