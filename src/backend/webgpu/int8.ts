// WebGPU kernels: the int8 family of graduated models (int8 GEMM and convolution with i32
// accumulation and the requantizing epilogue, quantize/dequantize, int8 pooling). Semantics:
// src/backend/backend.ts (Int8Family) and the reference backend.

import type { Int8Family } from '../backend.js';
import type { Kernels } from './wgsl.js';

/** The int8 kernels, or undefined while none are built (the runtime then keeps int8 graphs on the CPU). */
export function int8Family(_k: Kernels): Int8Family | undefined {
  return undefined;
}
