// The calling thread's side of a WebGPU device: starts worker.js (which owns the GPUDevice), queues
// commands and posts them in batches, and blocks (Atomics.wait) only where the Backend interface
// must return a value: opening the device, reads, and sync(). Buffers are numbered: a Buf is
// id · 2^32 + byte offset, so `buf + k` views work as on the wasm heap. Kernels are WGSL compute
// shaders registered by name (wgsl.ts builds their source); a dispatch binds byte ranges of buffers
// and 64 parameter words. Errors a batch raises on the device (validation, out of memory, a lost
// device) surface as a WebGpuError at the next read or sync, naming what failed.
// Node only (worker_threads, receiveMessageOnPort); in a browser the same worker protocol needs a
// Worker-side caller (docs/webgpu.md). Not for: kernels (the family files), the Backend methods
// (backend.ts).

import { createRequire } from 'node:module';
import type { MessagePort as NodeMessagePort } from 'node:worker_threads';
import { GraduateError } from '../../errors.js';

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

type WorkerThreads = typeof import('node:worker_threads');

function workerThreads(): WorkerThreads {
  return createRequire(import.meta.url)('node:worker_threads') as WorkerThreads;
}

/** Where worker.js lives: next to this file in src/ and in dist/. */
const WORKER_URL = new URL('./worker.js', import.meta.url);

export interface OpenResult {
  device?: GpuDevice;
  /** Why there is no device (no adapter, no webgpu package, …). */
  reason?: string;
}

export class GpuDevice {
  readonly adapter: AdapterReport;
  private readonly queue: Command[] = [];
  private readonly shaders = new Set<string>();
  private readonly sizes = new Map<number, number>();
  private readonly freeIds: number[] = [];
  private nextId = 1;
  private live = 0;
  private peak = 0;
  private closed = false;
  private postScheduled = false;

  private constructor(
    private readonly worker: import('node:worker_threads').Worker,
    private readonly port: NodeMessagePort,
    private readonly ctl: Int32Array,
    report: AdapterReport,
  ) {
    this.adapter = report;
  }

  /** Starts the executor and opens the adapter's device, or says why it cannot. Blocks until then. */
  static open(flags: string[] = []): OpenResult {
    let wt: WorkerThreads;
    try {
      wt = workerThreads();
    } catch {
      return { reason: 'WebGPU needs Node worker_threads here' };
    }
    const ctl = new Int32Array(new SharedArrayBuffer(16));
    const { port1, port2 } = new wt.MessageChannel();
    const worker = new wt.Worker(WORKER_URL, {
      workerData: { ctl: ctl.buffer, port: port2, flags },
      transferList: [port2 as unknown as import('node:worker_threads').TransferListItem],
      stderr: false,
      // worker.js is plain JS: none of the parent's loaders or module flags (tsx, --input-type)
      execArgv: [],
    });
    worker.unref();
    const reply = waitReply(wt, ctl, 0, port1, OPEN_TIMEOUT_MS) as
      | {
          ok: true;
          adapter: Omit<AdapterReport, 'features' | 'limits'>;
          features: string[];
          limits: Record<string, number>;
        }
      | { ok: false; reason: string }
      | undefined;
    if (!reply?.ok) {
      void worker.terminate();
      port1.close();
      const reason = reply
        ? reply.reason
        : `the WebGPU worker did not answer in ${OPEN_TIMEOUT_MS / 1000} s (is the 'webgpu' package installed?)`;
      return {
        reason: reason.includes("Cannot find package 'webgpu'")
          ? "the optional 'webgpu' package is not installed"
          : reason,
      };
    }
    port1.unref();
    return {
      device: new GpuDevice(worker, port1, ctl, { ...reply.adapter, features: reply.features, limits: reply.limits }),
    };
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
    const r = this.call(['read', bufId(buf), bufOffset(buf), bytes]) as { data: ArrayBuffer };
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

  /** Drops cached GPU buffers (memory pressure). */
  trim(): void {
    this.push(['trim']);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.push(['exit']);
    this.post();
    this.port.close();
    this.worker.unref();
  }

  // ---- transport -------------------------------------------------------------------------------

  private push(c: Command): void {
    if (this.closed) throw new WebGpuError('webgpu: the device is closed');
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
    this.port.postMessage(batch, transfer);
  }

  private call(c: Command): unknown {
    if (this.closed) throw new WebGpuError('webgpu: the device is closed');
    const before = Atomics.load(this.ctl, 0);
    this.queue.push(c);
    this.post();
    const r = waitReply(workerThreads(), this.ctl, before, this.port, READ_TIMEOUT_MS) as
      | { error?: string; data?: ArrayBuffer }
      | undefined;
    if (!r) throw new WebGpuError(`webgpu: the device did not answer in ${READ_TIMEOUT_MS / 1000} s`);
    if (r.error) throw new WebGpuError(`webgpu: ${r.error}`);
    return r;
  }
}

function waitReply(
  wt: WorkerThreads,
  ctl: Int32Array,
  before: number,
  port: NodeMessagePort,
  timeoutMs: number,
): unknown {
  const deadline = Date.now() + timeoutMs;
  while (Atomics.load(ctl, 0) === before) {
    const left = deadline - Date.now();
    if (left <= 0) return undefined;
    Atomics.wait(ctl, 0, before, Math.min(left, 1000));
  }
  const m = wt.receiveMessageOnPort(port);
  return m?.message;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
