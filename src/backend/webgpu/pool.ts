// WebGPU kernels: max / average / global average pooling and their backward passes (NHWC).
// Semantics: src/backend/backend.ts and the reference backend.

import type { Pool2dGeometry } from '../../shape/window.js';
import { notBuilt } from './stub.js';
import type { Kernels } from './wgsl.js';

export function maxPool2d(k: Kernels, x: number, g: Pool2dGeometry, out: number, argmax: number): void {
  notBuilt(k, 'maxPool2d', x, g, out, argmax);
}
export function avgPool2d(k: Kernels, x: number, g: Pool2dGeometry, out: number): void {
  notBuilt(k, 'avgPool2d', x, g, out);
}
export function globalAvgPool(k: Kernels, x: number, N: number, HW: number, C: number, out: number): void {
  notBuilt(k, 'globalAvgPool', x, N, HW, C, out);
}
export function maxPool2dBackward(k: Kernels, dy: number, argmax: number, g: Pool2dGeometry, dx: number): void {
  notBuilt(k, 'maxPool2dBackward', dy, argmax, g, dx);
}
export function avgPool2dBackward(k: Kernels, dy: number, g: Pool2dGeometry, dx: number): void {
  notBuilt(k, 'avgPool2dBackward', dy, g, dx);
}
export function globalAvgPoolBackward(k: Kernels, dy: number, N: number, HW: number, C: number, dx: number): void {
  notBuilt(k, 'globalAvgPoolBackward', dy, N, HW, C, dx);
}
