// How bench:infer times a set of runners side by side (the parent-checkpoint sections of
// bench/infer.ts and the imported-model sections of bench/infer-imported.ts): batch throughput and
// single-sample latency, interleaved over the runners so that load from other processes on this
// shared host falls on all alike, and argmax agreement between two runners.
// Not for: the timing arithmetic itself (timing.ts).
import { argmaxRows } from '../src/train/metrics.js';
import { timeMs, timeMsAsync } from './timing.js';

/** Logits of `n` samples starting at sample `i` (ONNX Runtime's come back as promises). */
export type Runner = (i: number, n: number) => Float32Array | Promise<Float32Array>;

export interface Result {
  /** Batch throughput, samples/s (median of the rounds). */
  perSecond: number;
  /** Single-sample latency, ms. */
  p50: number;
  p99: number;
}

export interface MeasureSettings {
  batch: number;
  rounds: number;
  trial: { minTrialMs: number; trials: number; warmup: number };
  latRuns: number;
  latWarmup: number;
  /** Samples the runners hold: single-sample runs cycle through them. */
  samples: number;
  log?: (line: string) => void;
}

/** Batch throughput from per-round ms per batch, and p50/p99 of single-sample latencies. */
export function summarize(batch: number, ms: number[], lat: number[]): Result {
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const q = (a: number[], p: number) =>
    [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.ceil(p * a.length) - 1)];
  return { perSecond: (batch * 1000) / median(ms), p50: q(lat, 0.5), p99: q(lat, 0.99) };
}

/**
 * Batch throughput and batch-1 latency of every runner, interleaved: `rounds` rounds of timeMs per
 * runner in turn (the median of the rounds' medians), then single-sample runs round-robin over the
 * runners (sample r for run r). Asynchronous runners (ONNX Runtime) are awaited call by call.
 */
export async function measureAll(runners: [string, Runner][], o: MeasureSettings): Promise<Record<string, Result>> {
  const asyncs = await Promise.all(
    runners.map(([, run]) => {
      const out = run(0, 1);
      return out instanceof Promise ? out.then(() => true) : false;
    }),
  );
  const ms = runners.map(() => [] as number[]);
  for (let round = 0; round < o.rounds; round++)
    for (const [k, [, run]] of runners.entries())
      ms[k].push(
        asyncs[k] ? await timeMsAsync(async () => run(0, o.batch), o.trial) : timeMs(() => run(0, o.batch), o.trial),
      );
  o.log?.(`measured batch ${o.batch}`);
  for (const [, run] of runners)
    for (let i = 0; i < o.latWarmup; i++) {
      const out = run(i % o.samples, 1);
      if (out instanceof Promise) await out;
    }
  const lat = runners.map(() => [] as number[]);
  for (let r = 0; r < o.latRuns; r++)
    for (const [k, [, run]] of runners.entries()) {
      const t0 = performance.now();
      const out = run(r % o.samples, 1);
      if (out instanceof Promise) await out;
      lat[k].push(performance.now() - t0);
    }
  o.log?.('measured batch 1');
  return Object.fromEntries(runners.map(([name], k) => [name, summarize(o.batch, ms[k], lat[k])]));
}

/** Fraction of the first n samples on which two runners' argmax over `classes` logits agree. */
export async function agreement(a: Runner, b: Runner, n: number, classes = 10, batch = 256): Promise<number> {
  let same = 0;
  for (let i = 0; i < n; i += batch) {
    const m = Math.min(batch, n - i);
    const pa = argmaxRows(await a(i, m), m, classes);
    const pb = argmaxRows(await b(i, m), m, classes);
    for (let r = 0; r < m; r++) if (pa[r] === pb[r]) same++;
  }
  return same / n;
}
