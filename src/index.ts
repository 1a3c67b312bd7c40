// Public API of `graduate` (the training side). Everything not exported here is internal.

export { backward } from './autograd/backward.js';
export { isGradEnabled, noGrad } from './autograd/grad-mode.js';
export { DisposedError, FormatError, GraduateError, ShapeError, ValueError } from './errors.js';
export { Engine, type EngineOptions } from './kernels/engine.js';
export { detectFeatures, type WasmFeatures } from './kernels/features.js';
export type { MemoryStats } from './kernels/heap.js';
export * from './nn/functional.js';
export { defaultBackend, engine, init, shutdown, useBackend } from './tensor/context.js';
export { manualSeed, Rng, randn, randu } from './tensor/random.js';
export { keep, tidy } from './tensor/scope.js';
export { type DType, full, ones, type RowGrad, type Shape, Tensor, tensor, zeros } from './tensor/tensor.js';

import type { MemoryStats } from './kernels/heap.js';
import { defaultBackend } from './tensor/context.js';

/** Live and cached bytes of the default backend (the wasm engine, or a device set with useBackend). */
export function memoryStats(): MemoryStats {
  return defaultBackend().memoryStats();
}

export * as data from './data/index.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * from './train/index.js';
