// WebGPU kernels: the optimizer updates (SGD with momentum/Nesterov, Adam/AdamW, Adagrad), each one
// kernel in place, dense or over the rows of a row-sparse gradient. Semantics: src/kernels/optim.ts,
// src/backend/backend.ts and the reference backend.

import type { AdagradStepArgs, AdamStepArgs, RowSet, SgdStepArgs } from '../backend.js';
import { notBuilt } from './stub.js';
import type { Kernels } from './wgsl.js';

export function sgdStep(
  k: Kernels,
  param: number,
  grad: number,
  buf: number,
  n: number,
  a: SgdStepArgs,
  rows?: RowSet,
): void {
  notBuilt(k, 'sgdStep', param, grad, buf, n, a, rows);
}
export function adamStep(
  k: Kernels,
  param: number,
  grad: number,
  m: number,
  v: number,
  n: number,
  a: AdamStepArgs,
  rows?: RowSet,
): void {
  notBuilt(k, 'adamStep', param, grad, m, v, n, a, rows);
}
export function adagradStep(
  k: Kernels,
  param: number,
  grad: number,
  sum: number,
  n: number,
  a: AdagradStepArgs,
  rows?: RowSet,
): void {
  notBuilt(k, 'adagradStep', param, grad, sum, n, a, rows);
}
