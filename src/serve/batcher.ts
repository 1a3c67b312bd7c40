// Dynamic batching: requests queue per model; a model's queue is due when it holds maxBatch samples
// or its oldest request has waited maxDelayMs, and a due queue goes to the next idle worker as one
// batch (oldest queue first). While every worker is busy, queues keep filling: under load, batches
// grow by themselves. A full batch (maxBatch samples) may also go to a busy worker as its next one,
// so that the worker starts it without waiting for the round trip through this thread (the gap is
// idle compute under load; with maxBatch 1 it was a fifth of the worker's time). A batch that is
// due only by its delay waits for an idle worker, since it can still grow, and while such a queue
// is the oldest due one nothing is posted ahead, so that it is not starved by a busier model. The
// queue is bounded (maxQueue samples per model): beyond it, submit refuses. A request submitted
// `solo` (a graph with fixed-shape inputs or outputs: its samples cannot be stacked) runs in a batch
// of its own, as soon as a worker is free. A batch that fails on bad input (an index past a table)
// is split: its requests run again one by one, so that one request's bad data fails only itself.
// Not for: HTTP, validation (server.ts, protocol.ts) or threads (workers.ts).
import { GraduateError } from '../errors.js';

export interface BatcherOptions {
  /** Samples per batch (1 disables batching). */
  maxBatch: number;
  /** Longest wait of a queue's oldest request before its batch goes, in milliseconds. */
  maxDelayMs: number;
  /** Queued samples per model beyond which submit() throws an OverloadedError. */
  maxQueue: number;
}

/** A request's tensors: one, or a graph's inputs in order (each [batch, …], or a fixed shape). */
export type Tensors = Float32Array | Int32Array | readonly (Float32Array | Int32Array)[];
/** A batch's results: the one output, or a graph's outputs in order. */
export type Outputs = Float32Array | (Float32Array | Int32Array)[];

/** Where batches run (the worker pool). */
export interface Executor {
  /** A worker runs nothing: it can start a batch now. */
  hasIdle(): boolean;
  /** A busy worker can take a batch to run next (optional; without it, batches wait for an idle worker). */
  canQueueNext?(): boolean;
  run(key: string, data: Tensors, batch: number): Promise<{ output: Outputs; computeMs: number }>;
}

/** One request's share of a batch's result. */
export interface BatchResult {
  /** This request's outputs [batch, ...out]. */
  output: Outputs;
  /** Time not computing: in the queue, waiting in the worker behind another batch, and the hops to it and back. */
  queueMs: number;
  computeMs: number;
  /** Samples in the batch this request ran in. */
  batchSize: number;
}

/** The model's queue is full. */
export class OverloadedError extends GraduateError {
  override name = 'OverloadedError';
}

interface Pending {
  data: Tensors;
  batch: number;
  /** Runs in a batch of its own. */
  solo: boolean;
  enqueued: number;
  resolve: (r: BatchResult) => void;
  reject: (e: Error) => void;
}

interface Queue {
  pending: Pending[];
  samples: number;
}

export class Batcher {
  private readonly queues = new Map<string, Queue>();
  private running = 0;
  private timer?: NodeJS.Timeout;
  private timerAt = Number.POSITIVE_INFINITY;
  private flushing = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    readonly opts: BatcherOptions,
    private readonly exec: Executor,
    /** Told about each dispatched batch (for metrics). */
    private readonly onBatch: (key: string, samples: number, computeMs: number) => void = () => {},
  ) {}

  /** Samples waiting in `key`'s queue. */
  queued(key: string): number {
    return this.queues.get(key)?.samples ?? 0;
  }

  /**
   * Queues `batch` samples for model `key` (`solo`: never stacked with other requests); resolves
   * with their outputs. Throws OverloadedError when full.
   */
  submit(key: string, data: Tensors, batch: number, solo = false): Promise<BatchResult> {
    let q = this.queues.get(key);
    if (!q) {
      q = { pending: [], samples: 0 };
      this.queues.set(key, q);
    }
    if (q.samples + batch > this.opts.maxQueue)
      throw new OverloadedError(
        `model ${key}: queue full (${q.samples} samples queued, limit ${this.opts.maxQueue}); retry later`,
      );
    const p = new Promise<BatchResult>((resolve, reject) => {
      q.pending.push({ data, batch, solo, enqueued: performance.now(), resolve, reject });
    });
    q.samples += batch;
    this.pump();
    return p;
  }

  /**
   * Dispatches the oldest due queue while a worker is idle; while none is, a full one goes to a busy
   * worker that can take a next batch, unless an older queue is due by its delay (it goes first, to
   * the next idle worker: posting ahead must not starve it). Arms a timer for the next queue that
   * will be due.
   */
  pump(): void {
    for (;;) {
      const idle = this.exec.hasIdle();
      if (!idle && !this.exec.canQueueNext?.()) return;
      const now = performance.now();
      let best: Queue | undefined;
      let bestKey = '';
      let nextDue = Number.POSITIVE_INFINITY;
      for (const [key, q] of this.queues) {
        if (q.pending.length === 0) continue;
        const since = q.pending[0].enqueued;
        const due = this.full(q) || now - since >= this.opts.maxDelayMs;
        if (!due) nextDue = Math.min(nextDue, since + this.opts.maxDelayMs);
        else if (!best || since < best.pending[0].enqueued) {
          best = q;
          bestKey = key;
        }
      }
      if (!best || (!idle && !this.full(best))) {
        if (idle) this.arm(nextDue); // a busy worker calls pump() when it frees up
        return;
      }
      this.dispatch(bestKey, best);
    }
  }

  /** Holds a whole batch (or a solo request, or the batcher is flushing: every queue goes as it is). */
  private full(q: Queue): boolean {
    return this.flushing || q.samples >= this.opts.maxBatch || q.pending[0]?.solo === true;
  }

  /** Resolves when every queue is empty and no batch runs; queued requests go without waiting for the delay. */
  drain(): Promise<void> {
    this.flushing = true;
    this.pump();
    if (this.idle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private idle(): boolean {
    return this.running === 0 && [...this.queues.values()].every((q) => q.pending.length === 0);
  }

  private arm(at: number): void {
    if (at === Number.POSITIVE_INFINITY || (this.timer && at >= this.timerAt)) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.pump();
      },
      Math.max(0, at - performance.now()),
    );
  }

  /** Takes whole requests, oldest first, up to maxBatch samples (at least one request), and runs them. */
  private dispatch(key: string, q: Queue): void {
    const taken: Pending[] = [];
    let samples = 0;
    while (
      q.pending.length > 0 &&
      (taken.length === 0 ||
        (!taken[0].solo && !q.pending[0].solo && samples + q.pending[0].batch <= this.opts.maxBatch))
    ) {
      const p = q.pending.shift() as Pending;
      taken.push(p);
      samples += p.batch;
    }
    q.samples -= samples;
    const input = taken.length === 1 ? taken[0].data : concat(taken, samples);
    const start = performance.now();
    this.running++;
    this.exec
      .run(key, input, samples)
      .then(({ output, computeMs }) => {
        this.onBatch(key, samples, computeMs);
        // A batch posted behind a running one waits in the worker: that counts as queueing, as does
        // the hop to the worker and back (the worker times only its compute).
        const waited = Math.max(0, performance.now() - start - computeMs);
        let row = 0;
        for (const p of taken) {
          p.resolve({
            output: rows(output, samples, row, p.batch),
            queueMs: start - p.enqueued + waited,
            computeMs,
            batchSize: samples,
          });
          row += p.batch;
        }
      })
      .catch((e: Error & { badInput?: boolean }) => {
        if (e.badInput && taken.length > 1) {
          // one request's data failed the batch: each runs again alone, first in the queue
          q.pending.unshift(...taken.map((p) => ({ ...p, solo: true })));
          q.samples += samples;
        } else for (const p of taken) p.reject(e);
      })
      .finally(() => {
        this.running--;
        this.pump();
        if (this.idleWaiters.length > 0 && this.idle()) for (const w of this.idleWaiters.splice(0)) w();
      });
  }
}

/** The requests' tensors stacked along the batch axis (each input in turn, for a graph's inputs). */
function concat(parts: Pending[], samples: number): Tensors {
  const stack = (arrays: (Float32Array | Int32Array)[]) => {
    const length = (arrays[0].length / parts[0].batch) * samples;
    const out = arrays[0] instanceof Int32Array ? new Int32Array(length) : new Float32Array(length);
    let off = 0;
    for (const a of arrays) {
      out.set(a, off);
      off += a.length;
    }
    return out;
  };
  const first = parts[0].data;
  if (!Array.isArray(first)) return stack(parts.map((p) => p.data as Float32Array | Int32Array));
  return first.map((_, i) => stack(parts.map((p) => (p.data as readonly (Float32Array | Int32Array)[])[i])));
}

/** Samples [from, from + n) of a batch's outputs. */
function rows(output: Outputs, samples: number, from: number, n: number): Outputs {
  const cut = <A extends Float32Array | Int32Array>(a: A): A => {
    const per = a.length / samples;
    return a.subarray(from * per, (from + n) * per) as A;
  };
  return Array.isArray(output) ? output.map(cut) : cut(output as Float32Array);
}
