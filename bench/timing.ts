// Timing helpers for benchmarks: warm up (V8 tiers wasm up after a few calls), then the median
// of several trials, each long enough to swamp timer resolution.

/** Median milliseconds per call of fn. */
export function timeMs(fn: () => void, opts: { minTrialMs?: number; trials?: number; warmup?: number } = {}): number {
  const { minTrialMs = 60, trials = 7, warmup = 5 } = opts;
  for (let i = 0; i < warmup; i++) fn();
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    const dt = performance.now() - t0;
    if (dt >= minTrialMs / 4 || reps > 1 << 20) {
      reps = Math.max(1, Math.ceil((reps * minTrialMs) / Math.max(dt, 1e-3)));
      break;
    }
    reps *= 4;
  }
  const per: number[] = [];
  for (let t = 0; t < trials; t++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    per.push((performance.now() - t0) / reps);
  }
  per.sort((a, b) => a - b);
  return per[Math.floor(per.length / 2)];
}

/** timeMs for an asynchronous fn (each call awaited before the next). */
export async function timeMsAsync(
  fn: () => Promise<unknown>,
  opts: { minTrialMs?: number; trials?: number; warmup?: number } = {},
): Promise<number> {
  const { minTrialMs = 60, trials = 7, warmup = 5 } = opts;
  for (let i = 0; i < warmup; i++) await fn();
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) await fn();
    const dt = performance.now() - t0;
    if (dt >= minTrialMs / 4 || reps > 1 << 20) {
      reps = Math.max(1, Math.ceil((reps * minTrialMs) / Math.max(dt, 1e-3)));
      break;
    }
    reps *= 4;
  }
  const per: number[] = [];
  for (let t = 0; t < trials; t++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) await fn();
    per.push((performance.now() - t0) / reps);
  }
  per.sort((a, b) => a - b);
  return per[Math.floor(per.length / 2)];
}
