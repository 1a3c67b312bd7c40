// The calling thread's side of a WebGPU device: starts worker.js (which owns the GPUDevice), queues
// commands and posts them in batches, and blocks (Atomics.wait) only where the Backend interface
// must return a value: opening the device, reads, and sync(). Buffers are numbered: a Buf is
// id · 2^32 + byte offset, so `buf + k` views work as on the wasm heap. Kernels are WGSL compute
// shaders registered by name (wgsl.ts builds their source); a dispatch binds byte ranges of buffers
// and 64 parameter words. Errors a batch raises on the device (validation, out of memory, a lost
// device) surface as a WebGpuError at the next read or sync, naming what failed.
// Replies come back through shared memory, not messages (a blocked thread takes no messages in a
// browser): `ctl` counts replies and says their kind and length, `area` holds them, grown by the
// caller before a read that needs more. So the same transport runs in Node (worker_threads, open()
// blocks) and in a browser Worker (a module Worker, openAsync(): a nested Worker starts only once
// its parent returns to its event loop; the page's main thread may not block at all).
// Not for: kernels (the family files), the Backend methods (backend.ts).

import { GraduateError } from '../../errors.js';
import { isNode, nodeBuiltin } from '../../kernels/host.js';

export class WebGpuError extends GraduateError {
  override readonly name = 'WebGpuError';
}

const ID_SCALE = 2 ** 32;
const OPEN_TIMEOUT_MS = 30_000;
const READ_TIMEOUT_MS = 600_000;
/** Commands queued before a batch is posted without waiting for a read. */
const BATCH = 256;

export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  features: string[];
  limits: Record<string, number>;
  /** The other adapters the system offers (low-power, software fallback), by name; not opened. */
  others: string[];
}

/** A binding of a dispatch: a byte range of a buffer. */
export interface Binding {
  buf: number;
  bytes: number;
}

type Command = unknown[];

export function bufId(buf: number): number {
  return Math.floor(buf / ID_SCALE);
}
export function bufOffset(buf: number): number {
  return buf - bufId(buf) * ID_SCALE;
}

/** Where worker.js lives: next to this file in src/ and in dist/ (a browser bundle names its copy). */
const WORKER_URL = new URL('./worker.js', import.meta.url);
/** Reply area to start with; reads past KEEP_AREA get an area of their own, dropped after. */
const AREA_BYTES = 1 << 16;
const KEEP_AREA = 16 << 20;

export interface OpenResult {
  device?: GpuDevice;
  /** Why there is no device (no adapter, no webgpu package, …). */
  reason?: string;
}

export interface OpenOptions {
  /** Node: flags for Dawn's create() (the `webgpu` package). */
  flags?: string[];
  /** Browser: the executor script (worker.js as the page serves it; default next to this module). */
  workerUrl?: URL | string;
}

/** The executor thread, Node's or the browser's, as far as the caller uses it. */
interface Executor {
  post(batch: Command[], transfer: Transferable[]): void;
  close(): void;
}

/** What the executor answers to opening the device. */
type OpenReply =
  | {
      ok: true;
      adapter: Omit<AdapterReport, 'features' | 'limits' | 'others'>;
      features: string[];
      limits: Record<string, number>;
      others?: string[];
    }
  | { ok: false; reason: string };

/**
 * The reply channel. ctl[0] counts replies (the caller waits for it to move), ctl[1] says the last
 * one's kind (REPLY_JSON: UTF-8 JSON text, REPLY_BYTES: a read's data) and ctl[2] its byte length;
 * the reply itself lies at the start of `area`. worker.js writes it.
 */
const REPLY_JSON = 0;
const REPLY_BYTES = 1;

export class GpuDevice {
  readonly adapter: AdapterReport;
  private readonly queue: Command[] = [];
  private readonly shaders = new Set<string>();
  private readonly sizes = new Map<number, number>();
  private readonly freeIds: number[] = [];
  private nextId = 1;
  private live = 0;
  private peak = 0;
  private shut = false;

  /** close() was called (the backend was disposed). */
  get closed(): boolean {
    return this.shut;
  }
  private postScheduled = false;

  private constructor(
    private readonly executor: Executor,
    private readonly ctl: Int32Array,
    private area: Uint8Array,
    report: AdapterReport,
  ) {
    this.adapter = report;
  }

  /**
   * Node: starts the executor thread and opens the adapter's device, or says why it cannot. Blocks
   * until then. In a browser use openAsync (a Worker cannot start while its parent blocks).
   */
  static open(flags: string[] = []): OpenResult {
    const wt = nodeBuiltin<typeof import('node:worker_threads')>('node:worker_threads');
    if (!wt) return { reason: 'GpuDevice.open blocks and is Node-only: use GpuDevice.openAsync in a browser Worker' };
    const { ctl, area } = channel();
    const worker = new wt.Worker(WORKER_URL, {
      workerData: { ctl: ctl.buffer, area: area.buffer, flags },
      stderr: false,
      // worker.js is plain JS: none of the parent's loaders or module flags (tsx, --input-type)
      execArgv: [],
    });
    worker.unref();
    const executor: Executor = {
      post: (batch, transfer) =>
        worker.postMessage(batch, transfer as import('node:worker_threads').TransferListItem[]),
      close: () => worker.unref(),
    };
    const reply = waitReply(ctl, 0, area, OPEN_TIMEOUT_MS) as OpenReply | undefined;
    if (!reply?.ok) {
      void worker.terminate();
      const reason = reply
        ? reply.reason
        : `the WebGPU worker did not answer in ${OPEN_TIMEOUT_MS / 1000} s (is the 'webgpu' package installed?)`;
      return {
        reason: reason.includes("Cannot find package 'webgpu'")
          ? "the optional 'webgpu' package is not installed"
          : reason,
      };
    }
    return { device: GpuDevice.opened(executor, ctl, area, reply) };
  }

  /**
   * Opens the device without blocking while the executor starts: in a browser's module Worker
   * (navigator.gpu, shared memory: the page must be cross-origin isolated), or in Node (as open).
   */
  static async openAsync(opts: OpenOptions = {}): Promise<OpenResult> {
    if (isNode) return GpuDevice.open(opts.flags);
    const g = globalThis as { navigator?: { gpu?: unknown }; crossOriginIsolated?: boolean; document?: unknown };
    if (!g.navigator?.gpu) return { reason: 'this browser has no WebGPU (navigator.gpu)' };
    if (typeof SharedArrayBuffer === 'undefined' || g.crossOriginIsolated === false)
      return {
        reason:
          'WebGPU here needs shared memory: serve the page cross-origin isolated (COOP same-origin, COEP require-corp)',
      };
    if (g.document !== undefined)
      return { reason: 'the WebGPU backend blocks on reads: run it in a Worker, not on the page itself' };
    const { ctl, area } = channel();
    let failure: string | undefined;
    const worker = new Worker(opts.workerUrl ?? WORKER_URL, { type: 'module', name: 'graduate-webgpu' });
    worker.onerror = (e) => {
      failure = `the WebGPU worker failed to start (${e.message || String(opts.workerUrl ?? WORKER_URL)})`;
    };
    worker.postMessage({ init: { ctl: ctl.buffer, area: area.buffer } });
    const answered = await waitAsync(ctl, 0, OPEN_TIMEOUT_MS, () => failure);
    const reply = answered ? (takeReply(ctl, area) as OpenReply) : undefined;
    if (!reply?.ok) {
      worker.terminate();
      return {
        reason: reply ? reply.reason : (failure ?? `the WebGPU worker did not answer in ${OPEN_TIMEOUT_MS / 1000} s`),
      };
    }
    const executor: Executor = {
      post: (batch, transfer) => worker.postMessage(batch, transfer),
      close: () => setTimeout(() => worker.terminate(), 1000), // after 'exit' destroyed the device
    };
    return { device: GpuDevice.opened(executor, ctl, area, reply) };
  }

  private static opened(
    executor: Executor,
    ctl: Int32Array,
    area: Uint8Array,
    reply: OpenReply & { ok: true },
  ): GpuDevice {
    return new GpuDevice(executor, ctl, area, {
      ...reply.adapter,
      features: reply.features,
      limits: reply.limits,
      others: reply.others ?? [],
    });
  }

  get features(): readonly string[] {
    return this.adapter.features;
  }

  limit(name: string): number {
    return this.adapter.limits[name] ?? 0;
  }

  // ---- buffers ---------------------------------------------------------------------------------

  alloc(bytes: number): number {
    if (!Number.isFinite(bytes) || bytes < 0) throw new RangeError(`webgpu: invalid buffer size ${bytes}`);
    const max = Math.min(
      this.limit('maxBufferSize') || Infinity,
      this.limit('maxStorageBufferBindingSize') || Infinity,
    );
    if (bytes > max)
      throw new WebGpuError(
        `webgpu: a ${mib(bytes)} buffer is beyond the adapter's largest storage buffer (${mib(max)}, maxStorageBufferBindingSize)`,
      );
    const id = this.freeIds.pop() ?? this.nextId++;
    const size = Math.max(4, bytes);
    this.sizes.set(id, size);
    this.live += size;
    this.peak = Math.max(this.peak, this.live);
    this.push(['alloc', id, size]);
    return id * ID_SCALE;
  }

  free(buf: number): void {
    const id = bufId(buf);
    const size = this.sizes.get(id);
    if (size === undefined) return;
    this.sizes.delete(id);
    this.live -= size;
    this.freeIds.push(id);
    this.push(['free', id]);
  }

  /** Bytes of the allocation holding buf after buf's offset (for range checks). */
  sizeAfter(buf: number): number {
    const size = this.sizes.get(bufId(buf));
    if (size === undefined) throw new WebGpuError(`webgpu: buffer ${bufId(buf)} is not allocated (freed?)`);
    return size - bufOffset(buf);
  }

  memory(): { liveBytes: number; liveBlocks: number; peakLiveBytes: number } {
    return { liveBytes: this.live, liveBlocks: this.sizes.size, peakLiveBytes: this.peak };
  }

  /** bytes → buf (4-byte aligned offset and length). */
  write(buf: number, bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return;
    const copy = bytes.slice().buffer;
    this.push(['write', bufId(buf), bufOffset(buf), copy]);
  }

  /** A copy of `bytes` bytes at buf (waits for every queued command). */
  read(buf: number, bytes: number): ArrayBuffer {
    if (bytes === 0) return new ArrayBuffer(0);
    this.reserve(bytes);
    const r = this.call(['read', bufId(buf), bufOffset(buf), bytes]) as { data: ArrayBuffer };
    // a one-off area for a large read is not kept
    if (this.area.byteLength > KEEP_AREA) this.setArea(new Uint8Array(new SharedArrayBuffer(AREA_BYTES)));
    return r.data;
  }

  /** Waits for all queued work; throws what failed on the device. */
  sync(): void {
    this.call(['sync']);
  }

  // ---- kernels ---------------------------------------------------------------------------------

  /** Registers a kernel once (source built by wgsl.ts). */
  register(name: string, code: string, writable: readonly boolean[]): void {
    if (this.shaders.has(name)) return;
    this.shaders.add(name);
    this.push(['shader', name, code, writable]);
  }

  hasKernel(name: string): boolean {
    return this.shaders.has(name);
  }

  /** Dispatches a registered kernel over a grid of workgroups; params fill words bindings.length…. */
  run(
    name: string,
    binds: readonly Binding[],
    params: ArrayLike<number>,
    grid: readonly [number, number, number],
  ): void {
    if (grid[0] * grid[1] * grid[2] === 0) return;
    const b = new Array<number>(binds.length * 3);
    for (let i = 0; i < binds.length; i++) {
      const { buf, bytes } = binds[i];
      b[3 * i] = bufId(buf);
      b[3 * i + 1] = bufOffset(buf);
      b[3 * i + 2] = bytes;
    }
    const words = new Uint32Array(64);
    words.set(params as ArrayLike<number>, binds.length);
    this.push(['run', name, b, words, grid[0], grid[1], grid[2]]);
  }

  close(): void {
    if (this.shut) return;
    this.shut = true;
    this.queue.push(['exit']);
    this.post();
    this.executor.close();
  }

  // ---- transport -------------------------------------------------------------------------------

  private push(c: Command): void {
    if (this.shut) throw new WebGpuError('webgpu: the device is closed');
    this.queue.push(c);
    if (this.queue.length >= BATCH) this.post();
    else if (!this.postScheduled) {
      this.postScheduled = true;
      queueMicrotask(() => {
        this.postScheduled = false;
        this.post();
      });
    }
  }

  private post(): void {
    if (this.queue.length === 0) return;
    const batch = this.queue.splice(0);
    const transfer = batch.filter((c) => c[0] === 'write').map((c) => c[3] as ArrayBuffer);
    this.executor.post(batch, transfer);
  }

  /** Makes the reply area hold `bytes` (doubling, or exactly `bytes` past KEEP_AREA). */
  private reserve(bytes: number): void {
    const have = this.area.byteLength;
    if (bytes <= have) return;
    const size = bytes > KEEP_AREA ? bytes : Math.min(KEEP_AREA, Math.max(bytes, 2 * have));
    let sab: SharedArrayBuffer;
    try {
      sab = new SharedArrayBuffer(size);
    } catch {
      throw new WebGpuError(`webgpu: cannot allocate ${mib(size)} of shared memory to read ${mib(bytes)} back`);
    }
    this.setArea(new Uint8Array(sab));
  }

  /** Replies go to `area` from the next command on (a transport command, queued in order). */
  private setArea(area: Uint8Array): void {
    this.area = area;
    this.queue.push(['area', area.buffer]);
  }

  private call(c: Command): unknown {
    if (this.shut) throw new WebGpuError('webgpu: the device is closed');
    const before = Atomics.load(this.ctl, 0);
    this.queue.push(c);
    this.post();
    const r = waitReply(this.ctl, before, this.area, READ_TIMEOUT_MS) as
      | { error?: string; data?: ArrayBuffer }
      | undefined;
    if (!r) {
      // its late reply would be taken for the next call's: nothing more can be trusted
      this.shut = true;
      throw new WebGpuError(`webgpu: the device did not answer in ${READ_TIMEOUT_MS / 1000} s; it is closed`);
    }
    if (r.error) throw new WebGpuError(`webgpu: ${r.error}`);
    return r;
  }
}

function channel(): { ctl: Int32Array; area: Uint8Array } {
  return { ctl: new Int32Array(new SharedArrayBuffer(16)), area: new Uint8Array(new SharedArrayBuffer(AREA_BYTES)) };
}

/** Blocks until the reply counter moves past `before` (or the timeout), then takes the reply. */
function waitReply(ctl: Int32Array, before: number, area: Uint8Array, timeoutMs: number): unknown {
  const deadline = Date.now() + timeoutMs;
  while (Atomics.load(ctl, 0) === before) {
    const left = deadline - Date.now();
    if (left <= 0) return undefined;
    Atomics.wait(ctl, 0, before, Math.min(left, 1000));
  }
  return takeReply(ctl, area);
}

type WaitAsync = (a: Int32Array, i: number, v: number, ms: number) => { async: boolean; value: unknown };

/** Waits without blocking for the reply counter to move past `before`; false on timeout or failure. */
async function waitAsync(
  ctl: Int32Array,
  before: number,
  timeoutMs: number,
  failed: () => string | undefined,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const wait = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;
  while (Atomics.load(ctl, 0) === before) {
    const left = deadline - Date.now();
    if (failed() || left <= 0) return false;
    const w = wait?.(ctl, 0, before, Math.min(left, 100));
    if (w?.async) await w.value;
    else if (!w) await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/** The reply in `area`: a read's bytes as { data }, or the JSON object the executor sent. */
function takeReply(ctl: Int32Array, area: Uint8Array): unknown {
  const kind = Atomics.load(ctl, 1);
  const len = Atomics.load(ctl, 2);
  const bytes = area.slice(0, len); // out of shared memory (TextDecoder takes no shared views)
  if (kind === REPLY_BYTES) return { data: bytes.buffer };
  if (kind !== REPLY_JSON) throw new WebGpuError(`webgpu: a reply of unknown kind ${kind}`);
  return JSON.parse(new TextDecoder().decode(bytes));
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
