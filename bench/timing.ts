// Timing helpers for benchmarks: warm up (V8 tiers wasm up after a few calls), then the median
// of several trials, each long enough to swamp timer resolution. The sync and async versions
// share the arithmetic (settleReps, median); only their calls differ (awaited or not).

type TimingOptions = { minTrialMs?: number; trials?: number; warmup?: number };

/** Calls per trial once `reps` calls took `dt` ms, or 0 to probe again with 4× as many. */
function settleReps(reps: number, dt: number, minTrialMs: number): number {
  if (dt < minTrialMs / 4 && reps <= 1 << 20) return 0;
  return Math.max(1, Math.ceil((reps * minTrialMs) / Math.max(dt, 1e-3)));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median milliseconds per call of fn. */
export function timeMs(fn: () => void, opts: TimingOptions = {}): number {
  const { minTrialMs = 60, trials = 7, warmup = 5 } = opts;
  const calls = (n: number) => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    return performance.now() - t0;
  };
  calls(warmup);
  let reps = 1;
  for (let s = 0; s === 0; reps = s || reps * 4) s = settleReps(reps, calls(reps), minTrialMs);
  return median(Array.from({ length: trials }, () => calls(reps) / reps));
}

/** timeMs for an asynchronous fn (each call awaited before the next). */
export async function timeMsAsync(fn: () => Promise<unknown>, opts: TimingOptions = {}): Promise<number> {
  const { minTrialMs = 60, trials = 7, warmup = 5 } = opts;
  const calls = async (n: number) => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await fn();
    return performance.now() - t0;
  };
  await calls(warmup);
  let reps = 1;
  for (let s = 0; s === 0; reps = s || reps * 4) s = settleReps(reps, await calls(reps), minTrialMs);
  const per: number[] = [];
  for (let t = 0; t < trials; t++) per.push((await calls(reps)) / reps);
  return median(per);
}
