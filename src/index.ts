// Public API of `graduate` (the training side). Everything not exported here is internal.
export { GraduateError, ShapeError, ValueError, FormatError, DisposedError } from './errors.js';
export { Tensor, tensor, zeros, ones, full, type DType, type Shape } from './tensor/tensor.js';
export { tidy, keep } from './tensor/scope.js';
export { init, engine, shutdown } from './tensor/context.js';
export { Rng, manualSeed, randn, randu } from './tensor/random.js';
export { backward } from './autograd/backward.js';
export { noGrad, isGradEnabled } from './autograd/grad-mode.js';
export * from './ops/functional.js';
export { Engine, type EngineOptions } from './kernels/engine.js';
export { detectFeatures, type WasmFeatures } from './kernels/features.js';
export type { MemoryStats } from './kernels/heap.js';
import { engine as currentEngine } from './tensor/context.js';
import type { MemoryStats } from './kernels/heap.js';

/** Live and cached bytes of the tensor engine's wasm memory. */
export function memoryStats(): MemoryStats {
  return currentEngine().memoryStats();
}
