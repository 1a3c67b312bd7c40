// The graph IR: what `graduate compile` transforms and what the runtime executes. Values are
// named tensors flowing between nodes — batched ([-1, …]: the runtime feeds any number of
// samples) or of a fixed shape (any rank, a scalar is []) — constants are weights, nodes are ops
// of the registry (src/ops/) with their attributes — the union is derived from it, so the IR has
// no op vocabulary of its own. Layouts: NHWC activations, conv weights [KH, KW, Cin, Cout],
// linear weights [in, out]. Shared by the compiler and the lean runtime: it must not import
// training code (nn/, autograd/, optim/, train/, tensor/).

import type { EpilogueAttrs } from '../ops/matmul.js';
import type { OpAttrs, OpName } from '../ops/registry.js';
import { type ActivationFn, numel } from '../ops/rules.js';
import { fromHalf } from '../shape/half.js';
import { conv2dGeometry } from '../shape/window.js';

export type { ActivationFn, OpName };
export type ValueDType = 'float32' | 'int8' | 'int32';

/** Affine quantization: real = scale · (q − zeroPoint); per tensor (one entry) or per channel along `axis`. */
export interface QuantParams {
  scale: number[];
  zeroPoint: number[];
  axis?: number;
}

/** A tensor flowing through the graph: shape[0] = -1 marks a batched value; otherwise the shape is fixed. */
export interface Value {
  shape: number[];
  dtype: ValueDType;
  quant?: QuantParams;
}

/** A weight or other fixed tensor. `packed` marks data already in a kernel's layout. */
export interface Constant {
  shape: number[];
  /** float16: weights stored as IEEE half floats (Uint16Array), widened to float32 at load. */
  dtype: 'float32' | 'float16' | 'int8' | 'int32';
  data: Float32Array | Uint16Array | Int8Array | Int32Array;
  quant?: QuantParams;
}

/** Fused epilogue of conv2d/linear: bias is an input; `residual` a value added before `activation`. */
export type Epilogue = EpilogueAttrs;

interface NodeBase {
  /** Unique node name (for dumps, reports, --dump-after). */
  name: string;
  inputs: string[];
  output: string;
}

/** A node: an op of the registry (src/ops/registry.ts) with its attributes; a union checked by op. */
export type Node = { [K in OpName]: NodeBase & { op: K; attrs: OpAttrs[K] } }[OpName];
/** The node of one op. */
export type NodeOf<K extends OpName> = NodeBase & { op: K; attrs: OpAttrs[K] };

/** How raw inputs become the graph's input tensor (pixels → normalized NHWC floats, …). */
export interface InputSpec {
  /** tensor: the inputs are taken as they are, by name (general ONNX graphs): no preprocessing. */
  kind: 'image' | 'tabular' | 'text' | 'audio' | 'tensor';
  /** Per-sample shape of the graph input. */
  shape: number[];
  /** Input = (raw · scale − mean[c]) / std[c]; raw is a pixel 0..255 (scale absent: 1/255) or a feature (absent: 1). */
  scale?: number;
  mean?: number[];
  std?: number[];
  /** Image input: the layout of the tensor clients pass (run, serve, the ONNX export); the graph's is NHWC. Absent: NHWC. */
  layout?: 'NHWC' | 'NCHW';
  tokenizer?: unknown;
  /** Audio input: the feature front end's spec (audio/features.ts AudioFeatureSpec), checked on read. */
  audio?: unknown;
}

export interface Graph {
  inputs: string[];
  outputs: string[];
  values: Record<string, Value>;
  constants: Record<string, Constant>;
  nodes: Node[];
  /** Class labels of the output, preprocessing of the input, producer info. */
  meta: {
    classNames: string[];
    input: InputSpec;
    producer: string;
    /**
     * The graph was specialized to one sample (a model whose batch axis its shape arithmetic or
     * layout changes cannot carry symbolically): inputs and outputs whose first axis is 1 are one
     * sample each, and the runtime runs a batch sample by sample (isPerSampleIo).
     */
    perSample?: boolean;
    [k: string]: unknown;
  };
}

/** A shallow structural copy: new node/value/constant records, shared typed-array data. */
export function cloneGraph(g: Graph): Graph {
  return {
    inputs: [...g.inputs],
    outputs: [...g.outputs],
    values: Object.fromEntries(Object.entries(g.values).map(([k, v]) => [k, { ...v, shape: [...v.shape] }])),
    constants: Object.fromEntries(Object.entries(g.constants).map(([k, c]) => [k, { ...c, shape: [...c.shape] }])),
    nodes: g.nodes.map((n) => ({ ...n, inputs: [...n.inputs], attrs: { ...n.attrs } }) as Node),
    meta: { ...g.meta },
  };
}

// numel: the number of elements of a constant or of a value's per-sample part (a -1 batch counts as 1)
export { numel };

/**
 * Whether graph input or output `v` takes a batch: a batched value ([-1, …]), or in a graph
 * specialized to one sample, a value whose first axis is that sample (1).
 */
export function isBatchIo(g: Graph, v: string): boolean {
  const s = g.values[v].shape;
  return s[0] === -1 || (g.meta.perSample === true && s[0] === 1);
}

/** Producer of each value (inputs and constants have none). */
export function producers(g: Graph): Map<string, Node> {
  return new Map(g.nodes.map((n) => [n.output, n]));
}

/** Consumers of each value, in node order (a residual epilogue counts as a use). */
export function consumers(g: Graph): Map<string, Node[]> {
  const m = new Map<string, Node[]>();
  for (const n of g.nodes) {
    const uses = [...n.inputs];
    const res = (n.attrs as Partial<Epilogue>).residual;
    if (res) uses.push(res);
    for (const v of uses) {
      const list = m.get(v) ?? [];
      list.push(n);
      m.set(v, list);
    }
  }
  return m;
}

/** Multiply-accumulates per sample of conv2d/linear nodes. */
export function nodeMacs(g: Graph, n: Node): number {
  if (n.op === 'conv2d') {
    const w = g.constants[n.inputs[1]];
    // the convolution's own output size (a fused pool's output is a quarter of it)
    const x = g.values[n.inputs[0]].shape;
    const { OH, OW } = conv2dGeometry([1, ...x.slice(1)], w.shape, n.attrs.stride, n.attrs.pads);
    return OH * OW * w.shape[0] * w.shape[1] * w.shape[2] * w.shape[3];
  }
  if (n.op === 'matmul') {
    // a[-1, ..., M, K] · b[..., K, N]: per sample, the leading axes after the batch times M·K·N
    const a = g.values[n.inputs[0]]?.shape ?? g.constants[n.inputs[0]].shape;
    const b = g.values[n.inputs[1]]?.shape ?? g.constants[n.inputs[1]].shape;
    return numel(a.slice(1)) * b[b.length - 1];
  }
  if (n.op === 'linear') {
    const w = g.constants[n.inputs[1]];
    const x = g.values[n.inputs[0]].shape;
    return numel(x.slice(1, -1)) * w.shape[0] * w.shape[1];
  }
  if (n.op === 'convnd' || n.op === 'convtransposend') {
    // every output (convnd) or input (transposed) element meets C/groups · prod(kernel) weights
    const w = (g.constants[n.inputs[1]] ?? g.values[n.inputs[1]]).shape;
    const at = n.op === 'convnd' ? g.values[n.output].shape : g.values[n.inputs[0]].shape;
    return numel(at.slice(1)) * numel(w.slice(1));
  }
  if (n.op === 'rnnscan') {
    // the recurrent GEMM of every step: h[H] · wh[H, G·H] (the x-projection is the linear before it)
    const w = g.constants[n.inputs[1]] ?? g.values[n.inputs[1]];
    return (g.values[n.inputs[0]]?.shape[1] ?? 0) * w.shape[0] * w.shape[1];
  }
  return 0;
}

/** Total forward MACs per sample. */
export function graphMacs(g: Graph): number {
  return g.nodes.reduce((s, n) => s + nodeMacs(g, n), 0);
}

/**
 * Total number of weight values the graph reads (as the passes' dropUnused keeps them). A captured
 * graph can hold constants nothing reads (a conv1d's [K, C, out] weight beside the [1, K, C, out]
 * view its conv2d takes) until the passes drop them; counting those counts such weights twice.
 */
export function graphParams(g: Graph): number {
  const read = new Set([...consumers(g).keys(), ...g.outputs]);
  return Object.entries(g.constants).reduce((s, [name, c]) => s + (read.has(name) ? c.data.length : 0), 0);
}

export { fromHalf };

/** A float32 view of a float constant (float16 widened). */
export function floatData(c: Constant): Float32Array {
  if (c.dtype === 'float16') return Float32Array.from(c.data as Uint16Array, fromHalf);
  return c.data as Float32Array;
}

/**
 * A copy of constant `c` keeping indices `keep` of axis `axis`, in its own dtype (physical pruning
 * of channels, units and heads; a positions table cut to a shorter sequence). Quantization
 * parameters are not carried: callers cut float constants.
 */
export function sliceAxis(c: Constant, axis: number, keep: readonly number[]): Constant {
  const outer = numel(c.shape.slice(0, axis));
  const inner = numel(c.shape.slice(axis + 1));
  const dim = c.shape[axis];
  const src = c.data;
  const data = new (src.constructor as new (n: number) => typeof src)(outer * keep.length * inner);
  for (let o = 0; o < outer; o++)
    keep.forEach((k, j) => {
      data.set(src.subarray((o * dim + k) * inner, (o * dim + k + 1) * inner), (o * keep.length + j) * inner);
    });
  const shape = [...c.shape];
  shape[axis] = keep.length;
  return { shape, dtype: c.dtype, data } as Constant;
}

/**
 * The table lookups (embedding, embeddingbag) whose ids come from the graph input, directly or
 * through views of it (reshape, flatten, dropout): each with the rows of its table.
 */
export function tokenTables(g: Graph): { node: Node; rows: number }[] {
  const fromInput = new Set([g.inputs[0]]);
  const out: { node: Node; rows: number }[] = [];
  for (const n of g.nodes) {
    if ((n.op === 'reshape' || n.op === 'flatten' || n.op === 'dropout') && fromInput.has(n.inputs[0]))
      fromInput.add(n.output);
    if ((n.op === 'embedding' || n.op === 'embeddingbag') && fromInput.has(n.inputs[0])) {
      const rows = g.constants[n.inputs[1]]?.shape[0];
      if (rows !== undefined) out.push({ node: n, rows });
    }
  }
  return out;
}

/**
 * The token ids an int32 graph input accepts: [-1 (padding), rows) where rows is the smallest
 * table reading it (tokenTables); undefined when no table reads the input. An id past the table
 * would read whatever lies after it in memory (other weights, other requests' activations).
 */
export function tokenIdLimit(g: Graph): number | undefined {
  const rows = tokenTables(g).map((t) => t.rows);
  return rows.length ? Math.min(...rows) : undefined;
}

/** Index of the first id outside [-1, limit) in `ids`, or -1. */
export function firstBadTokenId(ids: ArrayLike<number>, limit: number): number {
  for (let i = 0; i < ids.length; i++) if (ids[i] < -1 || ids[i] >= limit) return i;
  return -1;
}

/**
 * Nodes of graphs written before the op registry, rewritten in place: `activation` became `unary`
 * (fn spelled as the kernels spell it) or `softmax` over the last axis. Run by readers of stored
 * graphs (artifact, ONNX import) before validation.
 */
export function upgradeNodes(nodes: unknown[]): void {
  for (const n of nodes) {
    const r = n as { op?: unknown; attrs?: { fn?: unknown; alpha?: unknown } };
    if (r?.op !== 'activation' || typeof r.attrs !== 'object' || r.attrs === null) continue;
    const { fn, alpha } = r.attrs;
    if (fn === 'softmax') Object.assign(r, { op: 'softmax', attrs: { axis: -1, log: false } });
    else
      Object.assign(r, {
        op: 'unary',
        attrs: { fn: fn === 'leakyrelu' ? 'leakyRelu' : fn, ...(alpha === undefined ? {} : { alpha }) },
      });
  }
}
