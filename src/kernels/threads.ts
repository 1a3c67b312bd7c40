// The worker pool: N-1 workers plus the calling thread run one kernel over disjoint ranges of a
// shared WebAssembly.Memory. Dispatch and completion go through Atomics on a SharedArrayBuffer
// (no message round-trips). Workers are Node worker_threads or browser module Workers.
// Not for: deciding when splitting pays (callers pass a grain; see engine.ts).

import { nodeBuiltin } from './host.js';

const SLOT_INTS = 16;
const SLOT_ARGS = 32;
/** Polls of a worker's done word before blocking in wait() (about 30 µs; worker.js spins alike). */
const SPIN = 2000;

/** Where worker.js lives, next to this file in src/ and in dist/. */
const WORKER_URL = new URL('./worker.js', import.meta.url);

interface WorkerHandle {
  terminate(): unknown;
}

export class WorkerPool {
  private readonly ctl: Int32Array;
  private readonly argv: Float64Array;
  private readonly workers: WorkerHandle[] = [];
  private readonly canBlock: boolean;
  /** Resolves once every worker has instantiated the module (browsers; Node's start at once). */
  ready: Promise<void> = Promise.resolve();

  private constructor(
    readonly size: number,
    readonly names: readonly string[],
  ) {
    // one slot per worker, then the shared chunk counter of dynamic jobs
    this.ctl = new Int32Array(new SharedArrayBuffer(4 * (SLOT_INTS * size + SLOT_INTS)));
    this.argv = new Float64Array(new SharedArrayBuffer(8 * SLOT_ARGS * size));
    const g = globalThis as { document?: unknown };
    this.canBlock = g.document === undefined; // a browser's main thread may not Atomics.wait
  }

  /** Starts `size` workers (the caller is the extra thread) over `memory`. */
  static start(
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    size: number,
    names: readonly string[],
  ): WorkerPool {
    const pool = new WorkerPool(size, names);
    const node = nodeBuiltin<typeof import('node:worker_threads')>('node:worker_threads');
    const started: Promise<void>[] = [];
    for (let slot = 0; slot < size; slot++) {
      const data = {
        module,
        memory,
        control: pool.ctl.buffer,
        args: pool.argv.buffer,
        names,
        slot,
        counter: pool.counter,
      };
      if (node) {
        const w = new node.Worker(WORKER_URL, { workerData: data });
        w.unref();
        pool.workers.push(w);
      } else {
        const w = new Worker(WORKER_URL, { type: 'module' });
        started.push(
          new Promise<void>((resolve, reject) => {
            w.onmessage = () => resolve();
            w.onerror = (e) => {
              e.preventDefault();
              reject(
                new Error(`kernel worker ${slot} (${WORKER_URL.href}) failed to start: ${e.message || 'load error'}`),
              );
            };
          }),
        );
        w.postMessage(data);
        pool.workers.push(w);
      }
    }
    if (started.length) pool.ready = Promise.all(started).then(() => undefined);
    return pool;
  }

  /** Index in the control words of the chunk counter that dynamic jobs share. */
  get counter(): number {
    return SLOT_INTS * this.size;
  }

  /** Posts a job to worker `slot` (non-blocking): the kernel once with `args`. */
  post(slot: number, fn: number, args: readonly number[]): void {
    this.ctl[slot * SLOT_INTS + 5] = 0;
    this.dispatch(slot, fn, args);
  }

  /**
   * Posts a dynamic job to worker `slot`: it runs the kernel with (...args, start, end, scratch)
   * over chunks [i·chunk, min(total, (i+1)·chunk)) for the chunk numbers i it takes from the
   * shared counter (Atomics.add), until they run out. The caller resets the counter (resetChunks)
   * before posting and takes chunks alike (takeChunk), so a slow thread takes fewer.
   */
  postDynamic(slot: number, fn: number, args: readonly number[], total: number, chunk: number, scratch: number): void {
    const base = slot * SLOT_INTS;
    this.ctl[base + 5] = 1;
    this.ctl[base + 6] = total;
    this.ctl[base + 7] = chunk;
    this.ctl[base + 8] = scratch;
    this.dispatch(slot, fn, args);
  }

  resetChunks(): void {
    Atomics.store(this.ctl, this.counter, 0);
  }

  /** The next chunk number of the current dynamic job. */
  takeChunk(): number {
    return Atomics.add(this.ctl, this.counter, 1);
  }

  private dispatch(slot: number, fn: number, args: readonly number[]): void {
    const base = slot * SLOT_INTS;
    this.argv.set(args, slot * SLOT_ARGS);
    this.ctl[base + 2] = fn;
    this.ctl[base + 3] = args.length;
    Atomics.add(this.ctl, base, 1);
    Atomics.notify(this.ctl, base);
  }

  /** Waits for worker `slot`'s last job; throws if the kernel trapped there. */
  wait(slot: number): void {
    const base = slot * SLOT_INTS;
    const go = Atomics.load(this.ctl, base);
    // spin first (see worker.js): the worker's half usually ends within microseconds of ours
    for (let i = 0; i < SPIN && Atomics.load(this.ctl, base + 1) !== go; i++);
    for (;;) {
      const done = Atomics.load(this.ctl, base + 1);
      if (done === go) break;
      if (this.canBlock) Atomics.wait(this.ctl, base + 1, done, 1000);
    }
    if (this.ctl[base + 4]) {
      this.ctl[base + 4] = 0;
      throw new Error(`kernel ${this.names[this.ctl[base + 2]]} failed in worker ${slot}`);
    }
  }

  terminate(): void {
    for (let slot = 0; slot < this.size; slot++) {
      Atomics.store(this.ctl, slot * SLOT_INTS, -1);
      Atomics.notify(this.ctl, slot * SLOT_INTS);
    }
    for (const w of this.workers) w.terminate();
  }
}
