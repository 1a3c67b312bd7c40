// The engine: one wasm kernel module instance over one WebAssembly.Memory, the heap allocator
// for that memory, and (when shared memory is available) a worker pool running the same module.
// Everything that computes goes through an Engine; tensors hold pointers into its memory.
// Not for: kernel-specific policy (gemm.ts, ...) or tensor lifetimes (src/tensor/).

import { KernelError } from '../errors.js';
import { MEMORY_LIMIT_BYTES } from '../limits.js';
import { KERNEL_NAMES, type KernelExports } from './exports.js';
import { detectFeatures, type WasmFeatures } from './features.js';
import { Heap, type MemoryStats } from './heap.js';
import { cpuCount, env, isNode, nodeBuiltin } from './host.js';
import { WorkerPool } from './threads.js';

export type Isa = 'simd' | 'relaxed';
/** Which kernel module: 'train' every kernel; 'infer' only what the runtime's Session runs. */
export type EngineProfile = 'train' | 'infer';

export interface EngineOptions {
  /** Instruction set: 'relaxed' (FMA) needs relaxed-SIMD support; 'auto' picks the best. */
  isa?: Isa | 'auto';
  /** Threads including the caller; default GRADUATE_THREADS or the number of cores. 1 = no pool. */
  threads?: number;
  /**
   * URL of the folder holding the kernels-<isa>-<mem>.wasm files (profile 'infer':
   * kernels-infer-<isa>-<mem>.wasm; browsers: may be relative to the page; Node: a file: URL);
   * default: build/wasm of this package. For bundles that move the runtime away from the package
   * (browser pages; see scripts/build-browser.mjs).
   */
  wasmBaseUrl?: string | URL;
  /**
   * 'train' (default): the module with every kernel. 'infer': the inference module (about 30%
   * smaller: no backward, loss, optimizer or tensor-library kernels); calling a kernel it lacks
   * throws a KernelError. The runtime (graduate/runtime) creates its engines with 'infer'.
   */
  profile?: EngineProfile;
}

/** First heap byte: the kernels' static data (exp tables) lives below 64 KiB. */
const HEAP_BASE = 65536;
const SCRATCH_BYTES = 4096;
/** Chunks per thread of a dynamic split (Engine.split): enough to even out a slow thread, few enough to keep each call long. */
const DYNAMIC_CHUNKS = 4;
const INITIAL_PAGES = 256;
const MAX_PAGES = MEMORY_LIMIT_BYTES / 65536; // shared memories must declare a maximum

/** File name of the kernel module of a profile, isa and memory kind. */
function wasmFile(profile: EngineProfile, isa: Isa, shared: boolean): string {
  return `kernels-${profile === 'infer' ? 'infer-' : ''}${isa}-${shared ? 'shared' : 'plain'}.wasm`;
}

/** The kernel module's URL: in `base`, else in build/wasm relative to this file (same depth in src/ and dist/). */
function wasmUrl(file: string, base?: string | URL): URL {
  if (base === undefined) return new URL(`../../build/wasm/${file}`, import.meta.url);
  const dir = String(base);
  const g = globalThis as { location?: { href: string } };
  return new URL(`${dir}${dir.endsWith('/') ? '' : '/'}${file}`, g.location?.href ?? import.meta.url);
}

interface Resolved {
  profile: EngineProfile;
  isa: Isa;
  threads: number;
}

function resolveOptions(opts: EngineOptions, features: WasmFeatures): Resolved {
  if (!features.simd) throw new Error('graduate needs WebAssembly SIMD128, which this host lacks');
  const profile = opts.profile ?? 'train';
  if (profile !== 'train' && profile !== 'infer') {
    throw new Error(`unknown engine profile '${profile}': expected train or infer`);
  }
  const wantIsa = opts.isa ?? (env('GRADUATE_ISA') as Isa | 'auto' | undefined) ?? 'auto';
  if (wantIsa !== 'auto' && wantIsa !== 'simd' && wantIsa !== 'relaxed') {
    throw new Error(`unknown isa '${wantIsa}': expected auto, simd or relaxed`);
  }
  if (wantIsa === 'relaxed' && !features.relaxedSimd) {
    throw new Error(
      "isa 'relaxed' requested but this host lacks relaxed SIMD (Node 20: start node with --experimental-wasm-relaxed-simd)",
    );
  }
  const isa: Isa = wantIsa === 'auto' ? (features.relaxedSimd ? 'relaxed' : 'simd') : wantIsa;
  const envThreads = env('GRADUATE_THREADS');
  let threads = opts.threads ?? (envThreads !== undefined ? Number(envThreads) : cpuCount());
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(`threads must be a positive integer, got ${opts.threads ?? `GRADUATE_THREADS=${envThreads}`}`);
  }
  if (!features.threads) threads = 1;
  return { profile, isa, threads };
}

export class Engine {
  readonly heap: Heap;
  readonly k: KernelExports;
  private readonly pool?: WorkerPool;
  private readonly fnIndex: Map<string, number>;
  private readonly scratch: number[] = [];
  private viewBuffer?: ArrayBufferLike;
  private f32View = new Float32Array(0);
  private i32View = new Int32Array(0);
  private u8View = new Uint8Array(0);

  private constructor(
    readonly profile: EngineProfile,
    readonly isa: Isa,
    readonly threads: number,
    readonly memory: WebAssembly.Memory,
    module: WebAssembly.Module,
  ) {
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    const exported = instance.exports as Record<string, unknown>;
    // Kernels the module lacks (the inference module's training kernels) throw a KernelError
    // that names them, not "k.adam_step is not a function".
    const missing = KERNEL_NAMES.filter((n) => typeof exported[n] !== 'function');
    const stubs = missing.map((n) => [n, () => this.fail(n)]);
    this.k = (missing.length ? { ...exported, ...Object.fromEntries(stubs) } : exported) as unknown as KernelExports;
    const names = WebAssembly.Module.exports(module)
      .filter((e) => e.kind === 'function')
      .map((e) => e.name);
    this.fnIndex = new Map(names.map((n, i) => [n, i]));
    this.heap = new Heap(memory, HEAP_BASE);
    for (let t = 0; t < threads; t++) this.scratch.push(this.heap.alloc(SCRATCH_BYTES));
    if (threads > 1) this.pool = WorkerPool.start(module, memory, threads - 1, names);
  }

  /** Creates an engine synchronously (Node: reads build/wasm from disk). */
  static create(opts: EngineOptions = {}): Engine {
    const features = detectFeatures();
    const r = resolveOptions(opts, features);
    const fs = nodeBuiltin<typeof import('node:fs')>('node:fs');
    if (!fs) throw new Error('Engine.create is synchronous and Node-only; use Engine.createAsync in browsers');
    const url = wasmUrl(wasmFile(r.profile, r.isa, r.threads > 1), opts.wasmBaseUrl);
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = new Uint8Array(fs.readFileSync(url));
    } catch (e) {
      throw new Error(
        `cannot read kernel module ${url.pathname} (did \`npm run build\` run?): ${(e as Error).message}`,
      );
    }
    return Engine.fromModule(new WebAssembly.Module(bytes), r);
  }

  /** Creates an engine in any host (browsers fetch the module next to the package). */
  static async createAsync(opts: EngineOptions = {}): Promise<Engine> {
    if (isNode) return Engine.create(opts);
    const r = resolveOptions(opts, detectFeatures());
    const url = wasmUrl(wasmFile(r.profile, r.isa, r.threads > 1), opts.wasmBaseUrl);
    const res = await fetch(url);
    if (!res.ok) throw new Error(`cannot fetch kernel module ${url.href}: HTTP ${res.status} ${res.statusText}`);
    // compileStreaming needs the application/wasm type; static servers do not all send it.
    const module = /^application\/wasm\b/.test(res.headers.get('content-type') ?? '')
      ? await WebAssembly.compileStreaming(res)
      : await WebAssembly.compile(await res.arrayBuffer());
    const engine = Engine.fromModule(module, r);
    // Browsers start workers only while this thread runs its event loop; wait for them here, not
    // in the first kernel call (a page's main thread cannot block, and would spin forever).
    await engine.pool?.ready;
    return engine;
  }

  private static fromModule(module: WebAssembly.Module, { profile, isa, threads }: Resolved): Engine {
    const shared = threads > 1;
    const memory = new WebAssembly.Memory({
      initial: INITIAL_PAGES,
      maximum: MAX_PAGES,
      shared,
    } as WebAssembly.MemoryDescriptor);
    return new Engine(profile, isa, threads, memory, module);
  }

  /** The error for a kernel this engine's module lacks. */
  private fail(name: string): never {
    const file = wasmFile(this.profile, this.isa, this.threads > 1);
    if (this.profile === 'infer' && KERNEL_NAMES.includes(name as keyof KernelExports)) {
      throw new KernelError(
        `kernel '${name}' is not in the inference module ${file} (engine profile 'infer', used by graduate/runtime): training needs an Engine created with profile 'train'`,
      );
    }
    throw new KernelError(`kernel '${name}' is not in ${file} (a stale build? run \`npm run build:wasm\`)`);
  }

  private refreshViews(): void {
    const buf = this.memory.buffer;
    if (buf === this.viewBuffer && this.f32View.byteLength === buf.byteLength) return;
    this.viewBuffer = buf;
    this.f32View = new Float32Array(buf);
    this.i32View = new Int32Array(buf);
    this.u8View = new Uint8Array(buf);
  }

  /** Float32 view of the whole memory (re-fetch after any allocation: memory may grow). */
  get f32(): Float32Array {
    this.refreshViews();
    return this.f32View;
  }
  get i32(): Int32Array {
    this.refreshViews();
    return this.i32View;
  }
  get u8(): Uint8Array {
    this.refreshViews();
    return this.u8View;
  }

  alloc(bytes: number): number {
    return this.heap.alloc(bytes);
  }
  free(ptr: number): void {
    this.heap.release(ptr);
  }
  memoryStats(): MemoryStats {
    return this.heap.stats();
  }

  /**
   * Runs kernel `name` over [0, total), split across threads in chunks aligned to `align`, when
   * there are at least `minPerThread` items per thread; `args` precede (start, end, scratch).
   * dynamic: about DYNAMIC_CHUNKS chunks per thread, taken from a shared counter, so a thread that
   * runs slower (a shared or busy core) takes fewer; only for kernels whose calls need nothing
   * from each other beyond their own [start, end) (static: exactly one range per thread).
   */
  split(
    name: keyof KernelExports,
    args: readonly number[],
    total: number,
    align = 1,
    minPerThread = 1,
    dynamic = false,
  ): void {
    const index = this.fnIndex.get(name);
    if (index === undefined) this.fail(name); // before posting: a worker would run export undefined
    const fn = this.k[name] as unknown as (...a: number[]) => void;
    const units = Math.ceil(total / align);
    const t = this.pool ? Math.max(1, Math.min(this.threads, Math.floor(total / Math.max(minPerThread, 1)), units)) : 1;
    if (t === 1) {
      fn(...args, 0, total, this.scratch[0]);
      return;
    }
    const pool = this.pool as WorkerPool;
    if (dynamic) {
      const chunk = align * Math.ceil(units / Math.min(units, t * DYNAMIC_CHUNKS));
      pool.resetChunks();
      for (let w = 1; w < t; w++) pool.postDynamic(w - 1, index, args, total, chunk, this.scratch[w]);
      try {
        for (let start = pool.takeChunk() * chunk; start < total; start = pool.takeChunk() * chunk) {
          fn(...args, start, Math.min(total, start + chunk), this.scratch[0]);
        }
      } finally {
        for (let w = 1; w < t; w++) pool.wait(w - 1);
      }
      return;
    }
    const bounds: number[] = [];
    for (let i = 0; i <= t; i++) bounds.push(Math.min(total, Math.round((units * i) / t) * align));
    for (let w = 1; w < t; w++) pool.post(w - 1, index, [...args, bounds[w], bounds[w + 1], this.scratch[w]]);
    try {
      fn(...args, bounds[0], bounds[1], this.scratch[0]);
    } finally {
      for (let w = 1; w < t; w++) pool.wait(w - 1);
    }
  }

  /** Stops the worker pool; the engine must not be used afterwards. */
  dispose(): void {
    this.pool?.terminate();
  }
}
