// Calibration: runs a graph in a Session over calibration samples and collects per-channel
// statistics (min, max, max |x| along the last axis) of chosen intermediate values. Used by
// pruning (dead units) and, later, by quantization (ranges). Not an evaluator: outputs are ignored.
import { ValueError } from '../errors.js';
import { type Graph, numel } from '../graph/ir.js';
import type { Engine } from '../kernels/engine.js';
import { Session } from '../runtime/session.js';
import { freshName } from './passes/graph-edit.js';

/** Per-channel statistics of one value over all samples and positions: each [C]. */
export interface ChannelStats {
  min: Float32Array;
  max: Float32Array;
  absMax: Float32Array;
}

export interface CalibrateOptions {
  engine?: Engine;
  /** Samples per Session run (default 64). */
  batch?: number;
}

/**
 * Runs `n` samples of `calib` (n × per-sample input) through `g` in batches and hands every probed
 * value's data for each batch to `observe` (valid only during the call).
 */
export function forEachActivation(
  g: Graph,
  calib: Float32Array,
  n: number,
  values: readonly string[],
  observe: (value: string, x: Float32Array) => void,
  opts: CalibrateOptions = {},
): void {
  const per = numel(g.values[g.inputs[0]].shape.slice(1));
  if (!Number.isInteger(n) || n < 1 || calib.length !== n * per)
    throw new ValueError(`calibration: ${calib.length} values are not ${n} samples × ${per}`);
  for (const v of values) if (!g.values[v]) throw new ValueError(`calibration: value '${v}' is not in the graph`);
  // The memory plan reuses a buffer once its value is dead; a view node (dropout) appended at the
  // end reads each probed value, so every probe stays intact until the run is over.
  const probe: Graph = { ...g, nodes: [...g.nodes], values: { ...g.values } };
  for (const v of values) {
    const keep = freshName(probe, `${v}.keepalive`);
    probe.values[keep] = g.values[v];
    probe.nodes.push({ name: keep, op: 'dropout', inputs: [v], output: keep, attrs: { p: 0 } });
  }
  const batch = Math.min(opts.batch ?? 64, n);
  // tile = batch: the probed buffers must hold the whole batch when run() returns, not its last tile
  const session = new Session(probe, { engine: opts.engine, maxBatch: batch, tile: batch });
  try {
    for (let i = 0; i < n; i += batch) {
      const b = Math.min(batch, n - i);
      session.run(calib.subarray(i * per, (i + b) * per), b);
      for (const v of values) {
        observe(v, session.backend.f32(session.ptr(v), b * numel(g.values[v].shape.slice(1))));
      }
    }
  } finally {
    session.dispose();
  }
}

/** Runs `n` samples of `calib` (n × per-sample input) through `g`; statistics of each value in `values`. */
export function collectChannelStats(
  g: Graph,
  calib: Float32Array,
  n: number,
  values: readonly string[],
  opts: CalibrateOptions = {},
): Map<string, ChannelStats> {
  const stats = new Map<string, ChannelStats>();
  for (const v of values) {
    const C = g.values[v]?.shape.at(-1) as number;
    stats.set(v, {
      min: new Float32Array(C).fill(Number.POSITIVE_INFINITY),
      max: new Float32Array(C).fill(Number.NEGATIVE_INFINITY),
      absMax: new Float32Array(C),
    });
  }
  forEachActivation(
    g,
    calib,
    n,
    values,
    (v, x) => {
      const s = stats.get(v) as ChannelStats;
      const C = s.min.length;
      for (let j = 0; j < x.length; j++) {
        const c = j % C;
        const y = x[j];
        if (y < s.min[c]) s.min[c] = y;
        if (y > s.max[c]) s.max[c] = y;
        if (!(Math.abs(y) <= s.absMax[c])) s.absMax[c] = Math.abs(y); // NaN sticks: never "dead"
      }
    },
    opts,
  );
  return stats;
}
