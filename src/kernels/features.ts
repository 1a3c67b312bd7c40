// What this host's WebAssembly can do: SIMD128, relaxed SIMD, shared memory for threads.
// Detected once with WebAssembly.validate on tiny hand-assembled modules; nothing is compiled.

// (module (func (result v128) v128.const i32x4 0 0 0 0))
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 11,
]);
// (module (func (result v128) v128.const 0 ×3  f32x4.relaxed_madd))
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 61, 1, 59, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 253, 133, 2, 11,
]);

export interface WasmFeatures {
  /** Fixed-width SIMD128 (required). */
  readonly simd: boolean;
  /** Relaxed SIMD (FMA); Node 20 needs --experimental-wasm-relaxed-simd. */
  readonly relaxedSimd: boolean;
  /** Shared WebAssembly.Memory and Atomics (browsers: only on cross-origin-isolated pages). */
  readonly threads: boolean;
}

let cached: WasmFeatures | undefined;

/** Detects the host's wasm features (cached). */
export function detectFeatures(): WasmFeatures {
  if (cached) return cached;
  let threads = typeof SharedArrayBuffer !== 'undefined' && typeof Atomics !== 'undefined';
  const g = globalThis as { crossOriginIsolated?: boolean };
  if (threads && g.crossOriginIsolated === false) threads = false;
  if (threads) {
    try {
      new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    } catch {
      threads = false;
    }
  }
  cached = {
    simd: WebAssembly.validate(SIMD_PROBE),
    relaxedSimd: WebAssembly.validate(RELAXED_PROBE),
    threads,
  };
  return cached;
}
