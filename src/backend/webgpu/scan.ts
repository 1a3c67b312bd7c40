// WebGPU kernels: the GRU/LSTM time loop of one direction (inference). Semantics:
// src/backend/backend.ts (scan, prepareScan) and the reference backend.

import type { Prepared, ScanCell } from '../backend.js';
import { notBuilt } from './stub.js';
import type { Kernels } from './wgsl.js';

export function prepareScan(
  k: Kernels,
  cell: ScanCell,
  H: number,
  wh: Float32Array | Int8Array,
  scales?: ArrayLike<number>,
  bh?: Float32Array,
): Prepared {
  return notBuilt(k, 'prepareScan', cell, H, wh, scales, bh);
}
export function scan(k: Kernels, xw: number, N: number, T: number, w: Prepared, reverse: boolean, y: number): void {
  notBuilt(k, 'scan', xw, N, T, w, reverse, y);
}
