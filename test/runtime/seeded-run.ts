// One batch of seeded inputs through a Session, for the fuzz tests of the readers (artifact, ONNX):
// whatever a reader accepts must run without any error, and give finite outputs on inputs in
// [-1, 1) — unless the graph holds a number that makes overflow the right answer:
// - a parameter (quantization scale, attribute, input normalization) outside float32's normal
//   range: 1e308 is finite as a double and Infinity in the kernels. The validator accepts these
//   today (a gap: it should refuse them, as predict and serve refuse such inputs);
// - a weight beyond 2^32 in magnitude: no trained model holds one, but an ONNX file has no
//   checksum, so one flipped exponent bit makes 0.05 into 3e38. The model's answer then overflows,
//   as it may on any model for some input; predict and serve refuse non-finite outputs.
import { GraduateError } from '../../src/errors.js';
import { floatData, type Graph, numel } from '../../src/graph/ir.js';
import * as G from '../../src/index.js';
import { Session } from '../../src/runtime/session.js';
import { rand } from '../helpers.js';

const F32_MAX = 3.4028234663852886e38;
const F32_MIN_NORMAL = 2 ** -126;
const HUGE_WEIGHT = 2 ** 32;

/** Where `g` holds a nonzero parameter outside float32's normal range ("values.v4.quant.scale[0] = 1e308"), if anywhere. */
export function float32Unsafe(g: Graph): string | undefined {
  const walk = (v: unknown, at: string): string | undefined => {
    if (typeof v === 'number')
      return v !== 0 && !(Math.abs(v) <= F32_MAX && Math.abs(v) >= F32_MIN_NORMAL) ? `${at} = ${v}` : undefined;
    if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v)) return undefined;
    for (const [k, x] of Object.entries(v)) {
      const found = walk(x, Array.isArray(v) ? `${at}[${k}]` : `${at}.${k}`);
      if (found) return found;
    }
    return undefined;
  };
  const parts: [string, unknown][] = [
    ...Object.entries(g.values).map(([k, v]): [string, unknown] => [`values.${k}.quant`, v.quant]),
    ...Object.entries(g.constants).map(([k, c]): [string, unknown] => [`constants.${k}.quant`, c.quant]),
    ...g.nodes.map((n): [string, unknown] => [`nodes.${n.name}.attrs`, n.attrs]),
    ['meta.input', g.meta.input],
  ];
  for (const [at, v] of parts) {
    const found = walk(v, at);
    if (found) return found;
  }
  return undefined;
}

/** Why overflow is a legitimate answer of `g` (see the header), if it is. */
export function mayOverflow(g: Graph): string | undefined {
  const unsafe = float32Unsafe(g);
  if (unsafe) return `parameter ${unsafe} is not a normal float32`;
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
