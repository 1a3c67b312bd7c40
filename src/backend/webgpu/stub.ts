// Placeholder for kernels not written yet: names the method so a caller knows what is missing.
import { WebGpuError } from './device.js';
import type { Kernels } from './wgsl.js';

export function notBuilt(_k: Kernels, method: string, ..._args: unknown[]): never {
  throw new WebGpuError(`webgpu backend: ${method} has no kernel yet`);
}
