// The default backend (device) that tensors are created on when no backend is given: the wasm
// backend, created on first use with the defaults (GRADUATE_THREADS / GRADUATE_ISA or all cores,
// best instruction set), or configured beforehand with init(). Ops run on their inputs' backend,
// so tensors of two backends can live in one process (tensor(data, shape, dtype, backend)).
import type { Backend } from '../backend/backend.js';
import { WasmBackend } from '../backend/wasm.js';
import { ValueError } from '../errors.js';
import type { Engine, EngineOptions } from '../kernels/engine.js';

let current: WasmBackend | undefined;
/** A backend set with useBackend() (a WebGPU device), taking the wasm backend's place as the default. */
let chosen: Backend | undefined;

/** Configures the default backend's engine; call before creating the first tensor (or after shutdown()). */
export function init(opts: EngineOptions = {}): Engine {
  if (current) throw new ValueError('init(): the engine already exists; call it before the first tensor is created');
  current = WasmBackend.create(opts);
  return current.engine;
}

function wasm(): WasmBackend {
  if (!current) current = WasmBackend.create();
  return current;
}

/** The backend tensors are created on by default. */
export function defaultBackend(): Backend {
  return chosen ?? wasm();
}

/**
 * Makes `b` the default backend (tensors created afterwards live there; undefined: back to wasm).
 * Tensors already created stay where they are: call it before building the model.
 */
export function useBackend(b: Backend | undefined): void {
  chosen = b;
}

/** The default backend's wasm engine (sessions that should share the training process's memory and threads). */
export function engine(): Engine {
  return wasm().engine;
}

/** Stops the default backend's worker threads; every tensor on it becomes invalid. */
export function shutdown(): void {
  chosen = undefined;
  current?.dispose();
  current = undefined;
}
