// WebGPU kernels: embedding gather, bag mean, and their scatter-add adjoints. Semantics:
// src/backend/backend.ts and the reference backend.

import { notBuilt } from './stub.js';
import type { Kernels } from './wgsl.js';

export function gather(k: Kernels, table: number, D: number, ids: number, n: number, out: number): void {
  notBuilt(k, 'gather', table, D, ids, n, out);
}
export function embeddingBag(
  k: Kernels,
  table: number,
  D: number,
  ids: number,
  B: number,
  L: number,
  out: number,
): void {
  notBuilt(k, 'embeddingBag', table, D, ids, B, L, out);
}
export function scatterAdd(k: Kernels, dy: number, D: number, ids: number, n: number, dTable: number): void {
  notBuilt(k, 'scatterAdd', dy, D, ids, n, dTable);
}
export function embeddingBagBackward(
  k: Kernels,
  dy: number,
  D: number,
  ids: number,
  B: number,
  L: number,
  dTable: number,
): void {
  notBuilt(k, 'embeddingBagBackward', dy, D, ids, B, L, dTable);
}
