// WebGPU kernels: transpose, slice (and its backward), concat. Semantics: src/backend/backend.ts
// and the reference backend.

import { notBuilt } from './stub.js';
import type { Kernels } from './wgsl.js';

export function transpose(k: Kernels, x: number, shape: readonly number[], perm: readonly number[], out: number): void {
  notBuilt(k, 'transpose', x, shape, perm, out);
}
export function slice(
  k: Kernels,
  x: number,
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  out: number,
): void {
  notBuilt(k, 'slice', x, shape, begin, size, out);
}
export function sliceBackward(
  k: Kernels,
  dy: number,
  size: readonly number[],
  begin: readonly number[],
  dx: number,
  shape: readonly number[],
): void {
  notBuilt(k, 'sliceBackward', dy, size, begin, dx, shape);
}
export function concat(
  k: Kernels,
  inputs: readonly { buf: number; shape: readonly number[] }[],
  axis: number,
  out: number,
): void {
  notBuilt(k, 'concat', inputs, axis, out);
}
