// The pool of runtime workers (worker_threads): each holds its own engine and runtimes, so the main
// thread does HTTP only. A worker runs one batch at a time and holds at most one more, posted ahead
// so that it starts as soon as the running one ends; the batcher hands a batch to an idle worker (or
// a full one to a worker that can queue it) and is told (onIdle) when one frees up. A worker that
// dies is replaced; its jobs fail.
// Not for: forming batches (batcher.ts) or the protocol (server.ts).
import { Worker } from 'node:worker_threads';
import { GraduateError } from '../errors.js';
import type { ClipLimits } from '../runtime/audio-input.js';
import type { TextLimits } from '../runtime/text-input.js';
import type { Outputs, Tensors } from './batcher.js';

/** What a worker is started with. */
export interface WorkerInit {
  models: { key: string; path: string }[];
  /** Largest batch a runtime accepts. */
  maxBatch: number;
  /** Threads of each worker's engine (intra-op parallelism within one batch). */
  threads: number;
  /** The --device choice each worker resolves (cpu, webgpu or auto). */
  device: string;
  /** Largest uploaded image (width × height), checked before decoding. */
  maxImagePixels: number;
  /** What raises that limit, as the 400 names it ('--max-image-pixels' or the environment variable). */
  raiseImagePixels: string;
  /** Bounds on one audio clip (WAV upload or waveform), checked before resampling. */
  clipLimits: ClipLimits;
  /** Bounds on one text (a BYTES input), checked again before tokenising. */
  textLimits: TextLimits;
}

/** An audio clip to featurise: a WAV file's bytes, or `batch` clips of mono samples at `rate` Hz side by side. */
export type AudioClip = { wav: Uint8Array } | { samples: Float32Array; rate: number; batch: number };

export type WorkerRequest =
  | { type: 'run'; id: number; key: string; data: Tensors; batch: number }
  | { type: 'image'; id: number; key: string; bytes: Uint8Array }
  | { type: 'audio'; id: number; key: string; clip: AudioClip }
  | { type: 'text'; id: number; key: string; texts: string[] };

/** A worker's answer: a batch's outputs, or a prepared input (decoded image, features, token ids). */
export type Prepared = Outputs | Int32Array;

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'done'; id: number; output: Prepared; computeMs: number }
  | { type: 'failed'; id: number; message: string; badInput: boolean };

/** A job failed in a worker: bad input (e.g. an undecodable image) or a runtime failure. */
export class WorkerJobError extends GraduateError {
  override name = 'WorkerJobError';
  constructor(
    message: string,
    readonly badInput: boolean,
  ) {
    super(message);
  }
}

const ENTRY = new URL('./worker-entry.js', import.meta.url);

interface Job {
  resolve: (r: { output: Prepared; computeMs: number }) => void;
  reject: (e: Error) => void;
}

class RuntimeWorker {
  readonly jobs = new Map<number, Job>();
  /** Batches posted and not answered: 0, 1 running, or 2 with one queued behind it; image jobs do not count. */
  batches = 0;
  /** When its running batch started (posted to an idle worker, or the previous one ended). */
  runningSince = 0;
  ready = false;
  constructor(readonly thread: Worker) {}
}

export class WorkerPool {
  private readonly workers: RuntimeWorker[] = [];
  private nextId = 0;
  private closing = false;
  /** Called whenever a worker becomes free for a batch. */
  onIdle: () => void = () => {};

  private constructor(private readonly init: WorkerInit) {}

  /** Starts `size` workers and waits until each has loaded every model. */
  static async start(init: WorkerInit, size: number): Promise<WorkerPool> {
    const pool = new WorkerPool(init);
    try {
      await Promise.all(Array.from({ length: size }, () => pool.spawn()));
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  get size(): number {
    return this.workers.length;
  }

  hasIdle(): boolean {
    return this.workers.some((w) => w.ready && w.batches === 0);
  }

  /** A worker runs one batch and can queue the next behind it. */
  canQueueNext(): boolean {
    return this.workers.some((w) => w.ready && w.batches === 1);
  }

  /**
   * Runs a batch on an idle worker, else queues it on a worker running one batch (the caller checks
   * hasIdle() or canQueueNext()); output: [batch, ...out].
   */
  run(key: string, data: Tensors, batch: number): Promise<{ output: Outputs; computeMs: number }> {
    // an idle worker; else the one whose running batch started first (it should end first)
    const w =
      this.workers.find((x) => x.ready && x.batches === 0) ??
      this.workers
        .filter((x) => x.ready && x.batches === 1)
        .reduce<RuntimeWorker | undefined>((a, x) => (a && a.runningSince <= x.runningSince ? a : x), undefined);
    if (!w) throw new GraduateError('WorkerPool.run: every worker is busy with a batch and the next one');
    if (w.batches++ === 0) w.runningSince = performance.now();
    // a run's reply is the batch's outputs (a worker answers 'run' with model.run / runAll)
    const done = this.post(w, { type: 'run', id: this.nextId++, key, data, batch }, buffersOf(data));
    return (done as Promise<{ output: Outputs; computeMs: number }>).finally(() => {
      if (--w.batches > 0) w.runningSince = performance.now(); // the batch posted behind it starts
      if (!this.closing) this.onIdle();
    });
  }

  /** Decodes an image into the model's input on the least busy worker. */
  async prepareImage(key: string, bytes: Uint8Array): Promise<Float32Array> {
    return (await this.prepare({ type: 'image', id: this.nextId++, key, bytes }, [])) as Float32Array;
  }

  /** Featurises an audio clip (or clips) into the model's input [batch, frames, channels] on the least busy worker. */
  async prepareAudio(key: string, clip: AudioClip): Promise<Float32Array> {
    const transfer = 'samples' in clip ? [clip.samples.buffer as ArrayBuffer] : [];
    return (await this.prepare({ type: 'audio', id: this.nextId++, key, clip }, transfer)) as Float32Array;
  }

  /** Tokenises texts into the model's token ids [texts, maxTokens] on the least busy worker. */
  async prepareText(key: string, texts: string[]): Promise<Int32Array> {
    return (await this.prepare({ type: 'text', id: this.nextId++, key, texts }, [])) as Int32Array;
  }

  private async prepare(job: WorkerRequest, transfer: ArrayBuffer[]): Promise<Float32Array | Int32Array> {
    const ready = this.workers.filter((x) => x.ready);
    if (ready.length === 0) throw new GraduateError('WorkerPool: no worker is running');
    const w = ready.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
    return (await this.post(w, job, transfer)).output as Float32Array | Int32Array;
  }

  /** Stops every worker (running jobs fail). */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.thread.terminate()));
    this.workers.length = 0;
  }

  private post(
    w: RuntimeWorker,
    job: WorkerRequest,
    transfer: ArrayBuffer[] = [],
  ): Promise<{ output: Prepared; computeMs: number }> {
    return new Promise((resolve, reject) => {
      w.jobs.set(job.id, { resolve, reject });
      w.thread.postMessage(job, transfer);
    });
  }

  /** Starts a worker; resolves when its models are loaded, rejects when it fails to start. */
  private spawn(): Promise<void> {
    const w = new RuntimeWorker(new Worker(ENTRY, { workerData: this.init }));
    this.workers.push(w);
    return new Promise((resolve, reject) => {
      const fail = (message: string) => {
        const i = this.workers.indexOf(w);
        if (i >= 0) this.workers.splice(i, 1);
        for (const job of w.jobs.values()) job.reject(new WorkerJobError(message, false));
        w.jobs.clear();
        if (!w.ready) reject(new GraduateError(`serving worker failed to start: ${message}`));
        else if (!this.closing) {
          // replace it; the pool keeps serving with the others meanwhile
          this.spawn().then(
            () => this.onIdle(),
            () => {},
          );
        }
      };
      w.thread.on('message', (m: WorkerReply) => {
        if (m.type === 'ready') {
          w.ready = true;
          resolve();
        } else if (m.type === 'failed' && m.id < 0) {
          void w.thread.terminate();
          fail(m.message);
        } else {
          const job = w.jobs.get(m.id);
          w.jobs.delete(m.id);
          if (m.type === 'done') job?.resolve(m);
          else job?.reject(new WorkerJobError(m.message, m.badInput));
        }
      });
      w.thread.on('error', (e) => fail(e.message));
      w.thread.on('exit', (code) => {
        if (this.workers.includes(w)) fail(`worker exited with code ${code}`);
      });
    });
  }
}

/** The distinct buffers of some tensors, to transfer (a buffer listed twice cannot be). */
export function buffersOf(data: Tensors | Outputs): ArrayBuffer[] {
  const list: readonly (Float32Array | Int32Array)[] = ArrayBuffer.isView(data) ? [data] : data;
  return [...new Set(list.map((a) => a.buffer as ArrayBuffer))];
}
