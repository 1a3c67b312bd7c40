// One batch of seeded inputs through a Session, for the fuzz tests of the readers (artifact, ONNX):
// whatever a reader accepts must run without any error, and give finite outputs on inputs in
// [-1, 1) — unless a weight is beyond 2^32 in magnitude: no trained model holds one, but an ONNX
// file has no checksum, so one flipped exponent bit makes 0.05 into 3e38. The model's answer then
// overflows, as it may on any model for some input; predict and serve refuse non-finite outputs.
// (Parameters outside float32's range — a quantization scale of 1e308, an input std of 1e-50 —
// are refused by the validator, so they are no excuse here.)
import { GraduateError } from '../../src/errors.js';
import { floatData, type Graph, numel } from '../../src/graph/ir.js';
import * as G from '../../src/index.js';
import { Session } from '../../src/runtime/session.js';
import { rand } from '../helpers.js';

const HUGE_WEIGHT = 2 ** 32;

/** Why overflow is a legitimate answer of `g` (see the header), if it is. */
export function mayOverflow(g: Graph): string | undefined {
  for (const [name, c] of Object.entries(g.constants)) {
    if (c.dtype !== 'float32' && c.dtype !== 'float16') continue;
    const i = floatData(c).findIndex((v) => Math.abs(v) > HUGE_WEIGHT);
    if (i >= 0) return `weight '${name}'[${i}] = ${floatData(c)[i]}`;
  }
  return undefined;
}

/**
 * Runs 2 samples of seeded uniform [-1, 1) inputs (token ids 0 for int32 inputs) through a Session
 * of `g`. Throws unless run() returns the right number of outputs, all finite or overflowing
 * legitimately (see the header); returns which.
 */
export function runSeeded(g: Graph, seed: number): 'finite' | 'overflow' {
  const s = new Session(g, { engine: G.engine(), maxBatch: 2 });
  try {
    const per = numel(s.inputShape);
    const x = g.values[g.inputs[0]].dtype === 'int32' ? new Int32Array(2 * per) : rand(2 * per, seed);
    let y: Float32Array;
    try {
      y = s.run(x, 2);
    } catch (e) {
      // whatever a reader accepts, predict runs: any error here, even a GraduateError, is a bug
      const what = e instanceof GraduateError ? 'a GraduateError' : 'an exception';
      throw new Error(`an accepted graph fails to run with ${what}: ${(e as Error).stack}`);
    }
    if (y.length !== 2 * numel(s.outputShape)) throw new Error(`run() gave ${y.length} values for 2 samples`);
    const bad = y.findIndex((v) => !Number.isFinite(v));
    if (bad < 0) return 'finite';
    if (mayOverflow(g)) return 'overflow';
    throw new Error(`an accepted graph gives the non-finite output ${y[bad]} at ${bad} on inputs in [-1, 1)`);
  } finally {
    s.dispose();
  }
}
