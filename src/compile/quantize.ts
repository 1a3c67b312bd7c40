// Post-training quantization. int8: weights symmetric per output channel, activations per tensor
// (asymmetric) calibrated with min-max, percentile or entropy (KL) ranges; conv2d/linear nodes
// compute in int8 through the int8 kernels (conv2d: activation none or ReLU, no residual; a
// linear's residual or GELU is applied to its float32 output after the kernel), rnnscan's
// recurrent weights become int8 per gate column (its state enters the GEMV as 16-bit fixed point,
// so nothing is calibrated for it; its input projections stay float32), embedding tables become
// int8 per row (gathered rows dequantized: a text model's table is most of its file), int8 values
// flow through max-pooling, flatten and global average pooling, and quantize/dequantize nodes
// are inserted at the borders. A sensitivity search returns the layers that cost the most
// accuracy to float32 until the drop fits the budget. fp16: weights stored as half floats.

import { SCAN_I8_MAX_HIDDEN } from '../backend/backend.js';
import type { ArrayDataset } from '../data/dataset.js';
import { ValueError } from '../errors.js';
import { type Constant, cloneGraph, consumers, type Graph, type Node, type QuantParams } from '../graph/ir.js';
import { FLOAT32_MIN_NORMAL } from '../io/fields.js';
import type { Engine } from '../kernels/engine.js';
import { type EpilogueAttrs, int8Tail, isTransposedLinear } from '../ops/matmul.js';
import { toHalf } from '../shape/half.js';
import { forEachActivation } from './calibrate.js';
import { freshName } from './passes/graph-edit.js';
import { evaluateGraph } from './verify.js';

export type CalibrationMethod = 'minmax' | 'percentile' | 'kl';

export interface QuantizeOptions {
  mode: 'int8' | 'fp16';
  method: CalibrationMethod;
  engine: Engine;
  /** Held-out data for the sensitivity search (and the budget it aims at). */
  test?: ArrayDataset;
  /** Percentage points of accuracy the quantized graph may lose against the float graph. */
  maxAccuracyDrop?: number;
  log?: (line: string) => void;
}

export interface QuantizeReport {
  mode: 'int8' | 'fp16';
  method?: CalibrationMethod;
  int8Layers: string[];
  float32Layers: { name: string; reason: string }[];
  accuracy?: { float: number; quantized: number };
}

const PASSTHROUGH = new Set<Node['op']>(['maxpool2d', 'flatten', 'globalavgpool', 'dropout']);
const BINS = 2048;

/**
 * Ops whose weights quantize: conv2d/linear compute in int8; rnnscan's recurrent GEMV takes int8
 * weights and its fixed-point state; embedding gathers int8 rows (one scale per row) as float32.
 */
const WEIGHTED = new Set<Node['op']>(['conv2d', 'linear', 'rnnscan', 'embedding']);
/** Weighted ops whose input stays as it is (only the weights are int8): nothing to calibrate. */
const WEIGHTS_ONLY = new Set<Node['op']>(['rnnscan', 'embedding']);

function quantizable(g: Graph, n: Node): string | undefined {
  if (n.op === 'embedding') {
    if (g.constants[n.inputs[1]]?.dtype !== 'float32') return 'table is not a float32 constant';
    if (g.nodes.some((m) => m !== n && m.inputs.includes(n.inputs[1]))) return 'table is shared with another node';
    return undefined;
  }
  if (n.op === 'rnnscan') {
    // the state enters the GEMV as 16-bit fixed point: no activation range to calibrate
    if (g.constants[n.inputs[1]]?.dtype !== 'float32') return 'recurrent weights are not float32 constants';
    if (n.inputs[2] !== undefined && !g.constants[n.inputs[2]]) return 'recurrent bias is not a constant';
    if (n.attrs.hidden > SCAN_I8_MAX_HIDDEN)
      return `hidden ${n.attrs.hidden} > ${SCAN_I8_MAX_HIDDEN} (int32 accumulator)`;
    return undefined;
  }
  if (n.op !== 'conv2d' && n.op !== 'linear') return 'not a conv2d/linear';
  // a linear finishes a residual or another activation on its float32 output (ops/matmul.ts int8Tail)
  if (n.op === 'conv2d' && n.attrs.residual) return 'residual epilogue (int8 kernels add no residual)';
  if (n.op === 'conv2d' && n.attrs.activation !== 'none' && n.attrs.activation !== 'relu')
    return `activation ${n.attrs.activation} has no int8 epilogue`;
  if (g.constants[n.inputs[1]]?.dtype !== 'float32') return 'weights are not float32';
  // a transB linear's weight is [out, in], scaled per row: a layer reading it [in, out] would need other scales
  const layout = (m: Node) => (m.op === 'linear' || m.op === 'conv2d') && m.inputs[1] === n.inputs[1];
  if (g.nodes.some((m) => m !== n && layout(m) && isTransposedLinear(m) !== isTransposedLinear(n)))
    return 'weights shared with a layer that reads them in the other layout (transB)';
  return undefined;
}

interface Range {
  min: number;
  max: number;
  hist: Float64Array; // over [min, max]
}

/** Ranges (and histograms) of `values` over the calibration samples. */
function calibrate(g: Graph, calib: Float32Array, n: number, values: string[], engine: Engine): Map<string, Range> {
  const r = new Map<string, Range>();
  for (const v of values) r.set(v, { min: 0, max: 0, hist: new Float64Array(BINS) });
  // pass 1: ranges (always include 0, so that zero — padding, ReLU — is exact)
  forEachActivation(
    g,
    calib,
    n,
    values,
    (v, x) => {
      const s = r.get(v) as Range;
      for (let i = 0; i < x.length; i++) {
        if (x[i] < s.min) s.min = x[i];
        if (x[i] > s.max) s.max = x[i];
      }
    },
    { engine },
  );
  // pass 2: histograms over each range
  forEachActivation(
    g,
    calib,
    n,
    values,
    (v, x) => {
      const s = r.get(v) as Range;
      const w = (s.max - s.min) / BINS || 1;
      for (let i = 0; i < x.length; i++) s.hist[Math.min(BINS - 1, Math.max(0, Math.floor((x[i] - s.min) / w)))]++;
    },
    { engine },
  );
  return r;
}

/** The clipping range a method chooses from a range and its histogram. */
export function chooseRange(r: Range, method: CalibrationMethod): [number, number] {
  if (method === 'minmax' || r.max === r.min) return [r.min, r.max];
  const w = (r.max - r.min) / BINS;
  const total = r.hist.reduce((a, b) => a + b, 0);
  if (method === 'percentile') {
    const cut = total * 1e-4; // keep 99.99% of the values
    let lo = 0;
    for (let acc = 0; lo < BINS && acc + r.hist[lo] <= cut / 2; lo++) acc += r.hist[lo];
    let hi = BINS - 1;
    for (let acc = 0; hi > lo && acc + r.hist[hi] <= cut / 2; hi--) acc += r.hist[hi];
    return [Math.min(0, r.min + lo * w), Math.max(0, r.min + (hi + 1) * w)];
  }
  // KL (TensorRT's entropy calibration) on the side with the larger magnitude; the other side keeps its range
  const zeroBin = Math.round(-r.min / w);
  const positive = r.max >= -r.min;
  const side = positive ? Array.from(r.hist.subarray(zeroBin)) : Array.from(r.hist.subarray(0, zeroBin)).reverse();
  const levels = 128;
  let best = side.length;
  let bestKl = Number.POSITIVE_INFINITY;
  for (let i = Math.min(levels, side.length); i <= side.length; i += Math.max(1, Math.floor(side.length / 256))) {
    const clipped = side.slice(0, i);
    const p = clipped.slice();
    p[i - 1] += side.slice(i).reduce((a, b) => a + b, 0); // outliers clipped into the last bin
    // q: the unclipped slice merged into `levels` bins and spread back (so clipping costs KL)
    const q = new Array<number>(i).fill(0);
    const per = i / levels;
    for (let l = 0; l < levels; l++) {
      const a = Math.floor(l * per);
      const b = Math.max(a + 1, Math.floor((l + 1) * per));
      let sum = 0;
      let nz = 0;
      for (let j = a; j < b && j < i; j++) {
        sum += clipped[j];
        if (clipped[j] > 0) nz++;
      }
      for (let j = a; j < b && j < i; j++) if (clipped[j] > 0) q[j] = sum / nz;
    }
    const ps = p.reduce((a, b) => a + b, 0);
    const qs = q.reduce((a, b) => a + b, 0);
    let kl = 0;
    for (let j = 0; j < i; j++) if (p[j] > 0) kl += (p[j] / ps) * Math.log(p[j] / ps / Math.max(q[j] / qs, 1e-12));
    if (kl < bestKl) {
      bestKl = kl;
      best = i;
    }
  }
  const t = best * w;
  return positive ? [r.min, Math.min(r.max, t)] : [Math.max(r.min, -t), r.max];
}

/**
 * A quantization scale the kernels can use: 1 for an all-zero range, else at least float32's
 * smallest normal number (the validator refuses less: it would lose its precision or become 0;
 * values that small quantize to 0 either way).
 */
const usableScale = (s: number) => (s === 0 ? 1 : Math.max(s, FLOAT32_MIN_NORMAL));

/** Asymmetric int8 parameters for a real range containing 0. */
export function int8Params([lo, hi]: [number, number]): QuantParams {
  const a = Math.min(0, lo);
  const b = Math.max(0, hi);
  const scale = usableScale((b - a) / 255);
  const zeroPoint = Math.max(-128, Math.min(127, Math.round(-128 - a / scale)));
  return { scale: [scale], zeroPoint: [zeroPoint] };
}

/** Weights [..., N] float32 → int8 symmetric per output channel (last axis). */
export function quantizeWeights(c: Constant): Constant {
  const w = c.data as Float32Array;
  const N = c.shape[c.shape.length - 1];
  const scale = new Array<number>(N).fill(0);
  for (let i = 0; i < w.length; i++) scale[i % N] = Math.max(scale[i % N], Math.abs(w[i]));
  for (let j = 0; j < N; j++) scale[j] = usableScale(scale[j] / 127);
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) q[i] = Math.max(-127, Math.min(127, Math.round(w[i] / scale[i % N])));
  return {
    shape: [...c.shape],
    dtype: 'int8',
    data: q,
    quant: { scale, zeroPoint: new Array(N).fill(0), axis: c.shape.length - 1 },
  };
}

/**
 * A table [V, D] float32 → int8 symmetric per row (quant axis 0): an embedding's rows are tokens,
 * whose norms differ by orders of magnitude (rare words stay near their initialisation).
 */
export function quantizeRows(c: Constant): Constant {
  const w = c.data as Float32Array;
  const [V, D] = c.shape;
  const scale = new Array<number>(V).fill(0);
  const q = new Int8Array(w.length);
  for (let v = 0; v < V; v++) {
    let m = 0;
    for (let d = 0; d < D; d++) m = Math.max(m, Math.abs(w[v * D + d]));
    // 4 significant digits, rounded up (no row clips): V scales are stored as JSON in the artifact's header
    const s = usableScale(roundUp4(m / 127));
    scale[v] = s;
    for (let d = 0; d < D; d++) q[v * D + d] = Math.max(-127, Math.min(127, Math.round(w[v * D + d] / s)));
  }
  return { shape: [V, D], dtype: 'int8', data: q, quant: { scale, zeroPoint: new Array(V).fill(0), axis: 0 } };
}

/** x > 0 rounded up to 4 significant decimal digits (as short in JSON as it is exact in float64). */
function roundUp4(x: number): number {
  if (!(x > 0)) return x;
  const e = 10 ** (Math.floor(Math.log10(x)) - 3);
  return Number((Math.ceil(x / e) * e).toPrecision(4));
}

/**
 * A weight shared by two int8 layers is quantized once (the second layer finds it int8 already);
 * a transB linear's weight [out, in] per row, as an embedding table (quantizeRows).
 */
const quantizedOnce = (c: Constant, n: Node): Constant =>
  c.dtype === 'int8' ? c : isTransposedLinear(n) ? quantizeRows(c) : quantizeWeights(c);

/** The graph with the nodes in `layers` computing in int8 (ranges from `ranges`). */
function rewriteInt8(g0: Graph, layers: Set<string>, params: Map<string, QuantParams>): Graph {
  const g = cloneGraph(g0);
  const users = consumers(g0);
  const nodes: Node[] = [];
  const quantized = new Map<string, string>(); // float value → its int8 twin
  const dequantized = new Map<string, string>(); // int8 value → its float twin
  // nodes that read int8 values (an int8 rnnscan reads float projections: only its weights are int8)
  const int8Ok = (n: Node) => (layers.has(n.name) && !WEIGHTS_ONLY.has(n.op)) || PASSTHROUGH.has(n.op);
  const asInt8 = (v: string): string => {
    if (g.values[v].dtype === 'int8') return v;
    let q = quantized.get(v);
    if (!q) {
      q = freshName(g, `${v}.q`);
      g.values[q] = { shape: [...g.values[v].shape], dtype: 'int8', quant: params.get(v) };
      nodes.push({ name: q, op: 'quantize', inputs: [v], output: q, attrs: {} });
      quantized.set(v, q);
    }
    return q;
  };
  const asFloat = (v: string): string => {
    if (g.values[v].dtype !== 'int8') return v;
    let d = dequantized.get(v);
    if (!d) {
      d = freshName(g, `${v}.dq`);
      g.values[d] = { shape: [...g.values[v].shape], dtype: 'float32' };
      nodes.push({ name: d, op: 'dequantize', inputs: [v], output: d, attrs: {} });
      dequantized.set(v, d);
    }
    return d;
  };
  for (const n0 of g.nodes) {
    const n = { ...n0, inputs: [...n0.inputs] } as Node;
    const outUsers = users.get(n.output) ?? [];
    // every reader takes it as its input 0 (a residual is read as float32)
    const readsInt8 = (u: Node) =>
      int8Ok(u) && u.inputs[0] === n.output && (u.attrs as { residual?: string }).residual !== n.output;
    const feedsInt8 = outUsers.length > 0 && outUsers.every(readsInt8) && !g.outputs.includes(n.output);
    if (layers.has(n.name) && n.op === 'embedding') {
      g.constants[n.inputs[1]] = quantizeRows(g.constants[n.inputs[1]]);
    } else if (layers.has(n.name) && n.op === 'rnnscan') {
      n.inputs = n.inputs.map((v) => (g.values[v] ? asFloat(v) : v));
      g.constants[n.inputs[1]] = quantizedOnce(g.constants[n.inputs[1]], n);
    } else if (layers.has(n.name)) {
      n.inputs[0] = asInt8(n.inputs[0]);
      g.constants[n.inputs[1]] = quantizedOnce(g.constants[n.inputs[1]], n);
      if (feedsInt8 && !int8Tail(n.attrs as EpilogueAttrs))
        g.values[n.output] = { ...g.values[n.output], dtype: 'int8', quant: params.get(n.output) };
      const res = (n.attrs as { residual?: string }).residual;
      if (res) (n.attrs as { residual?: string }).residual = asFloat(res);
    } else if (PASSTHROUGH.has(n.op) && g.values[n.inputs[0]].dtype === 'int8') {
      const src = g.values[n.inputs[0]];
      g.values[n.output] = { ...g.values[n.output], dtype: 'int8', quant: src.quant };
    } else {
      n.inputs = n.inputs.map((v) => (g.values[v] ? asFloat(v) : v));
      const res = (n.attrs as { residual?: string }).residual;
      if (res) (n.attrs as { residual?: string }).residual = asFloat(res);
    }
    nodes.push(n);
  }
  g.nodes = nodes;
  g.outputs = g.outputs.map((o) => {
    if (g.values[o].dtype !== 'int8') return o;
    const d = asFloat(o);
    g.nodes.push(
      g.nodes.splice(
        g.nodes.findIndex((x) => x.output === d),
        1,
      )[0],
    );
    return d;
  });
  return g;
}

/** Quantizes a graph; the report says which layers are int8 and why others are not. */
export { toHalf };

export function quantizeGraph(
  g: Graph,
  calib: Float32Array,
  n: number,
  opts: QuantizeOptions,
): { graph: Graph; report: QuantizeReport } {
  const log = opts.log ?? (() => {});
  if (opts.mode === 'fp16') {
    const out = cloneGraph(g);
    for (const [k, c] of Object.entries(out.constants)) {
      if (c.dtype !== 'float32') continue;
      const h = new Uint16Array(c.data.length);
      for (let i = 0; i < h.length; i++) h[i] = toHalf(c.data[i]);
      out.constants[k] = { ...c, dtype: 'float16', data: h };
    }
    return { graph: out, report: { mode: 'fp16', int8Layers: [], float32Layers: [] } };
  }
  if (opts.mode !== 'int8')
    throw new ValueError(`--quantize: unknown mode '${opts.mode as string}' (int8, fp16, none)`);
  const float32Layers: QuantizeReport['float32Layers'] = [];
  const candidates: Node[] = [];
  for (const node of g.nodes) {
    const why = quantizable(g, node);
    if (!why) candidates.push(node);
    else if (WEIGHTED.has(node.op)) float32Layers.push({ name: node.name, reason: why });
  }
  const values = [
    ...new Set(candidates.filter((c) => !WEIGHTS_ONLY.has(c.op)).flatMap((c) => [c.inputs[0], c.output])),
  ];
  const ranges = calibrate(g, calib, n, values, opts.engine);
  // the graph input is the data itself (its range is known, nothing to clip): always min-max
  const params = new Map(
    [...ranges].map(([v, r]) => [v, int8Params(chooseRange(r, g.inputs.includes(v) ? 'minmax' : opts.method))]),
  );
  const layers = new Set(candidates.map((c) => c.name));
  let graph = rewriteInt8(g, layers, params);
  let accuracy: QuantizeReport['accuracy'];
  if (opts.test) {
    const budget = opts.maxAccuracyDrop ?? 0.5;
    const base = evaluateGraph(g, opts.test, opts.engine).accuracy;
    let acc = evaluateGraph(graph, opts.test, opts.engine).accuracy;
    log(`int8 (${opts.method}): accuracy ${base.toFixed(4)} → ${acc.toFixed(4)}`);
    // sensitivity: return to float32 the layer whose exclusion recovers the most, until within budget
    while ((base - acc) * 100 > budget && layers.size > 0) {
      let bestName = '';
      let bestAcc = -1;
      for (const name of layers) {
        const trial = new Set(layers);
        trial.delete(name);
        const a = evaluateGraph(rewriteInt8(g, trial, params), opts.test, opts.engine).accuracy;
        if (a > bestAcc) {
          bestAcc = a;
          bestName = name;
        }
      }
      layers.delete(bestName);
      float32Layers.push({
        name: bestName,
        reason: `most sensitive layer (accuracy ${acc.toFixed(4)} → ${bestAcc.toFixed(4)} in float32)`,
      });
      log(`sensitivity: '${bestName}' stays float32 (accuracy → ${bestAcc.toFixed(4)})`);
      graph = rewriteInt8(g, layers, params);
      acc = bestAcc;
    }
    accuracy = { float: base, quantized: acc };
  }
  return { graph, report: { mode: 'int8', method: opts.method, int8Layers: [...layers], float32Layers, accuracy } };
}
