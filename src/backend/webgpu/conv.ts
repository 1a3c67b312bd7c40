// WebGPU kernels: 2-D convolution as implicit GEMM (NHWC; forward with the fused epilogue, the
// backward pass to the input and to the weights). Semantics: src/backend/backend.ts and the
// reference backend.

import type { Conv2dGeometry } from '../../shape/window.js';

import type { Epilogue, Prepared } from '../backend.js';
import { notBuilt } from './stub.js';
import type { Kernels } from './wgsl.js';

export function conv2d(k: Kernels, x: number, w: number, g: Conv2dGeometry, out: number, ep: Epilogue): void {
  notBuilt(k, 'conv2d', x, w, g, out, ep);
}
export function conv2dPrepared(k: Kernels, x: number, w: Prepared, g: Conv2dGeometry, out: number, ep: Epilogue): void {
  notBuilt(k, 'conv2dPrepared', x, w, g, out, ep);
}
export function conv2dBackwardData(k: Kernels, dy: number, w: number, g: Conv2dGeometry, dx: number): void {
  notBuilt(k, 'conv2dBackwardData', dy, w, g, dx);
}
export function conv2dBackwardWeight(k: Kernels, x: number, dy: number, g: Conv2dGeometry, dw: number): void {
  notBuilt(k, 'conv2dBackwardWeight', x, dy, g, dw);
}
