// The engine that tensors live in. One per process (or Worker): created on first use with the
// defaults (GRADUATE_THREADS / GRADUATE_ISA or all cores, best instruction set), or configured
// beforehand with init(). Kernel-level code that needs several engines uses Engine directly.

import { ValueError } from '../errors.js';
import { Engine, type EngineOptions } from '../kernels/engine.js';

let current: Engine | undefined;

/** Configures the tensor engine; call before creating the first tensor (or after dispose()). */
export function init(opts: EngineOptions = {}): Engine {
  if (current) throw new ValueError('init(): the engine already exists; call it before the first tensor is created');
  current = Engine.create(opts);
  return current;
}

/** The tensor engine, created with defaults on first use. */
export function engine(): Engine {
  if (!current) current = Engine.create();
  return current;
}

/** Stops the engine's worker threads; every tensor becomes invalid. */
export function shutdown(): void {
  current?.dispose();
  current = undefined;
}
