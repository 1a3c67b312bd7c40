// Export: a Graduate graph as an ONNX model (opset 17, IR version 8) that ONNX Runtime and
// TensorRT run. The ONNX graph takes the tensor every Graduate path takes (docs/inputs.md): the
// model's prepared input, (raw · scale − mean[c]) / std[c], NHWC [N, H, W, C] for images (NCHW
// where meta.input.layout says so); the preparation is declared in metadata_props 'input'
// (`preprocessing`), not computed. With `rawInput` the graph takes raw values instead (pixels 0..255,
// NHWC) and its first nodes prepare them (× scale, − mean, ÷ std): the form exports had before
// the one contract, for pipelines that feed pixels. Inside, 4-D activations are NCHW (ONNX's
// Conv and pools): a Transpose follows the input, weights are transposed to [Cout, Cin, KH, KW],
// and a Transpose back to NHWC precedes each Flatten so features keep Graduate's order. int8
// graphs become QDQ: int8 weights per output channel behind DequantizeLinear (axis = Cout; stored
// as uint8 with zero point 128, the same values: see exportNode), int8 activations per tensor
// with int8 zero points, int32 biases at scale sx·sw. The output is 'logits'; metadata_props hold
// 'classNames' and 'input' (JSON; audio models add their feature spec). Sequence values [N, T, C]
// keep Graduate's order; `rnnscan` becomes an ONNX GRU/LSTM that takes in the x-projection feeding
// it (ops/recurrent-onnx.ts), and ONNX nodes nothing reads (a folded projection) are dropped.
// Text models take token ids [N, L] as int64 (ONNX's and BERT exports' convention; `ids: 'int32'`
// keeps Graduate's int32), Cast to int32 first; metadata 'input' says so and 'tokenizer' holds
// the model's tokenizer when it has one.
// `named` exports a graph of any number of inputs and outputs (a recommendation tower: user ids
// and a history) under the graph's own value names, int32 inputs as int64 ids, nothing declared
// about preparation; tensors keep Graduate's axis order at the borders.
// Not for: reading ONNX (import.ts).
import { ValueError } from '../errors.js';
import { floatData, type Graph, tokenIdLimit, type Value } from '../graph/ir.js';
import { GELU_CUBIC, GELU_K } from '../graph/scalar.js';
import type { OnnxCtx, OnnxOrder, OpDef } from '../ops/op.js';
import { OPS } from '../ops/registry.js';
import { DT, EXPORT_OPSET, type NodeProto, onnx, type TensorProto } from './proto.js';

/** Name prefix of the normalization nodes (for readers; the importer goes by ops and metadata). */
export const NORMALIZE_PREFIX = 'graduate/normalize/';
export const INPUT_NAME = 'input';
export const OUTPUT_NAME = 'logits';

/** What metadata_props 'input' holds: the ONNX input and its preparation. */
export interface OnnxInputMeta {
  kind: Graph['meta']['input']['kind'];
  layout: 'NHWC' | 'NCHW' | 'NC';
  /** Per-sample shape of the ONNX input. */
  shape: number[];
  /** Applied by the graph's first nodes (rawInput exports; `{}` otherwise): x = (raw · scale − mean[c]) / std[c]. */
  normalization: { scale?: number; mean?: number[]; std?: number[] };
  /** Declared, for the client to apply (the default export, whose input is the prepared tensor). */
  preprocessing?: { scale?: number; mean?: number[]; std?: number[] };
  /** Audio models: the feature front end (audio/features.ts AudioFeatureSpec) that makes the input from a clip. */
  audio?: unknown;
  /**
   * Token ids: the ONNX element type, the [PAD] id (text models treat every id ≤ 0 as padding: −1,
   * the word vocabulary's padding, too) and the vocabulary size (ids must be below it).
   */
  ids?: { dtype: 'int64' | 'int32'; pad: 0; vocab?: number };
}

export interface ExportOptions {
  /** The graph takes raw pixels (0..255, NHWC) and prepares them itself (see the file header). */
  rawInput?: boolean;
  /** Element type of an integer input (token ids): int64 (default, ONNX's convention) or int32. */
  ids?: 'int64' | 'int32';
  /**
   * Every graph input and output under its own name (any number of each; int32 inputs as `ids`,
   * Graduate's axis order, no 'input' metadata) instead of one 'input' and one 'logits'.
   */
  named?: boolean;
  /** named: metadata_props to write (key → value). */
  metadata?: Record<string, string>;
}

type Attr = { name: string } & ({ i: number } | { f: number } | { ints: number[] } | { s: string });

class OnnxBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private used = new Set<string>();
  private usedNodes = new Set<string>();

  fresh(base: string, used = this.used): string {
    let name = base;
    for (let i = 1; used.has(name); i++) name = `${base}:${i}`;
    used.add(name);
    return name;
  }
  reserve(name: string): void {
    this.used.add(name);
  }
  node(op: string, inputs: string[], name: string, attrs: Attr[] = [], output?: string): string {
    const out = output ?? this.fresh(`${name}/${op}`);
    const attribute = attrs.map((a) => {
      if ('i' in a) return { name: a.name, type: onnx.AttributeProto.AttributeType.INT, i: a.i };
      if ('f' in a) return { name: a.name, type: onnx.AttributeProto.AttributeType.FLOAT, f: a.f };
      if ('ints' in a) return { name: a.name, type: onnx.AttributeProto.AttributeType.INTS, ints: a.ints };
      return { name: a.name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(a.s) };
    });
    this.nodes.push({
      opType: op,
      name: this.fresh(`${name}/${op}`, this.usedNodes),
      input: inputs,
      output: [out],
      attribute,
    });
    return out;
  }
  tensor(
    base: string,
    dims: number[],
    data: Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array | number[],
    dt?: number,
  ): string {
    const name = this.fresh(base);
    const arr = Array.isArray(data) ? Float32Array.from(data) : data;
    const dataType = dt ?? (arr instanceof Int8Array ? DT.INT8 : arr instanceof Int32Array ? DT.INT32 : DT.FLOAT);
    const raw = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength).slice();
    this.initializers.push({ name, dims, dataType, rawData: raw });
    return name;
  }
  /** Drops nodes no output depends on, and initializers no kept node reads. */
  prune(outputs: string[]): void {
    const needed = new Set(outputs);
    const kept = new Set<NodeProto>();
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const n = this.nodes[i];
      if (!n.output?.some((o) => needed.has(o))) continue;
      kept.add(n);
      for (const v of n.input ?? []) needed.add(v);
    }
    const nodes = this.nodes.filter((n) => kept.has(n));
    const inits = this.initializers.filter((t) => needed.has(t.name ?? ''));
    this.nodes.splice(0, this.nodes.length, ...nodes);
    this.initializers.splice(0, this.initializers.length, ...inits);
  }
}

/** A graph input or output; its first axis is the batch 'N' (1 in a graph specialized to one sample). */
const valueInfo = (name: string, dims: number[], perSample: boolean, elemType: number = DT.FLOAT) => ({
  name,
  type: {
    tensorType: {
      elemType,
      shape: { dim: dims.map((d, i) => (i === 0 && !perSample ? { dimParam: 'N' } : { dimValue: i === 0 ? 1 : d })) },
    },
  },
});

/** Serializes `g` as an ONNX model (see the file header for the input, layouts and QDQ). */
export function exportOnnx(g: Graph, opts: ExportOptions = {}): Uint8Array {
  if (opts.named && opts.rawInput) throw new ValueError('exportOnnx: a named export takes no raw input');
  if (!opts.named && (g.inputs.length !== 1 || g.outputs.length !== 1))
    throw new ValueError(
      `exportOnnx: graphs with one input and one output are supported (${g.inputs.length}, ${g.outputs.length}); named: true exports more`,
    );
  const b = new OnnxBuilder();
  b.reserve(INPUT_NAME);
  b.reserve(OUTPUT_NAME);
  /** ONNX tensor of each Graduate value, and its axis order (4-D values: NCHW unless 'graduate'). */
  const names = new Map<string, { t: string; order: OnnxOrder }>();
  const transposed = new Map<string, string>();
  const rank = (v: string) => g.values[v].shape.length;
  const producers = new Map(g.nodes.map((n) => [n.output, n]));
  const quantOf = (v: Value, what: string) => {
    if (!v.quant) throw new ValueError(`exportOnnx: int8 value ${what} has no quantization parameters`);
    return v.quant;
  };
  const qParams = (v: string) => {
    const q = quantOf(g.values[v], `'${v}'`);
    return [b.tensor(`${v}/scale`, [], [q.scale[0]]), b.tensor(`${v}/zero_point`, [], Int8Array.of(q.zeroPoint[0]))];
  };
  /** The ONNX tensor of v in `order` (a Transpose when a 4-D value is held in the other). */
  const raw = (v: string, order: OnnxOrder = 'onnx'): string => {
    const held = names.get(v);
    if (!held) throw new ValueError(`exportOnnx: value '${v}' is used before it is defined`);
    if (rank(v) !== 4 || held.order === order) return held.t;
    const key = `${order}/${v}`; // later readers in this order reuse the transpose
    let t = transposed.get(key);
    if (!t) {
      const perm = order === 'graduate' ? [0, 2, 3, 1] : [0, 3, 1, 2];
      t = b.node('Transpose', [held.t], v, [{ name: 'perm', ints: perm }]);
      transposed.set(key, t);
    }
    return t;
  };
  /** The float ONNX tensor of value v (DequantizeLinear when v is int8). */
  const floatOf = (v: string, at: string, order: OnnxOrder = 'onnx'): string => {
    const t = raw(v, order);
    if (g.values[v].dtype !== 'int8') return t;
    return b.node('DequantizeLinear', [t, ...qParams(v)], at);
  };
  /** Binds the float result `t` to value v, quantizing when v is int8. */
  const bind = (v: string, t: string, at: string, order: OnnxOrder = 'onnx') => {
    names.set(v, { t: g.values[v].dtype === 'int8' ? b.node('QuantizeLinear', [t, ...qParams(v)], at) : t, order });
  };
  const act = (fn: string, x: string, at: string, alpha?: number): string => {
    switch (fn) {
      case 'none':
        return x;
      case 'relu':
        return b.node('Relu', [x], at);
      case 'leakyrelu':
        return b.node('LeakyRelu', [x], at, [{ name: 'alpha', f: alpha ?? 0.01 }]);
      case 'sigmoid':
        return b.node('Sigmoid', [x], at);
      case 'tanh':
        return b.node('Tanh', [x], at);
      case 'gelu': {
        // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): the runtime's GELU (graph/scalar.ts); ONNX's Gelu is opset 20
        const c = (name: string, v: number) => b.tensor(`${at}/${name}`, [], [v]);
        const x3 = b.node('Mul', [b.node('Mul', [x, x], at), x], at);
        const inner = b.node('Add', [x, b.node('Mul', [x3, c('c', GELU_CUBIC)], at)], at);
        const t = b.node('Tanh', [b.node('Mul', [inner, c('k', GELU_K)], at)], at);
        return b.node('Mul', [b.node('Mul', [x, c('half', 0.5)], at), b.node('Add', [t, c('one', 1)], at)], at);
      }
      default:
        throw new ValueError(`exportOnnx: activation '${fn}' at '${at}' has no ONNX mapping`);
    }
  };
  const ctx: OnnxCtx = {
    node: (op, inputs, name, attrs, output) => b.node(op, inputs, name, attrs, output),
    tensor: (base, dims, data, dt) => b.tensor(base, dims, data, dt),
    float: floatOf,
    raw,
    order: (v) => names.get(v)?.order ?? 'onnx',
    bind,
    set: (v, t, order = 'onnx') => names.set(v, { t, order }),
    ints: (base, values) =>
      b.tensor(
        base,
        [values.length],
        BigInt64Array.from(values, (v) => BigInt(v)),
        DT.INT64,
      ),
    activation: act,
    value: (v) => g.values[v],
    isConstant: (v) => Object.hasOwn(g.constants, v),
    constant: (v) => g.constants[v],
    floatData: (v) => floatData(g.constants[v]),
    producer: (v) => producers.get(v),
    DT,
  };

  if (opts.named) return exportNamed(g, b, ctx, opts);

  // input: the prepared tensor (or, rawInput, raw values → normalization) → NCHW; ids → int32
  const inVal = g.values[g.inputs[0]];
  const ids = inVal.dtype === 'int32' ? (opts.ids ?? 'int64') : undefined;
  if (inVal.dtype !== 'float32' && !ids)
    throw new ValueError(`exportOnnx: input '${g.inputs[0]}' is ${inVal.dtype}; float32 and int32 inputs export`);
  if (ids && opts.rawInput) throw new ValueError('exportOnnx: a raw-input export takes pixels; this model takes ids');
  const spec = g.meta.input;
  const nchwIn = inVal.shape.length === 4 && spec.layout === 'NCHW';
  if (nchwIn && opts.rawInput)
    throw new ValueError('exportOnnx: a raw-input export takes NHWC pixels; this model declares NCHW input tensors');
  let x = INPUT_NAME;
  const C = inVal.shape[inVal.shape.length - 1];
  const perC = (a: number[] | undefined, what: string) => {
    if (a && a.length !== C)
      // the validator holds graphs to one value per channel
      throw new ValueError(`exportOnnx: input ${what} has ${a.length} values for ${C} channels`);
    return a;
  };
  const mean = perC(spec.mean, 'mean');
  const std = perC(spec.std, 'std');
  const preparation = { scale: spec.scale, mean, std };
  if (opts.rawInput) {
    if (spec.scale !== undefined && spec.scale !== 1)
      x = b.node('Mul', [x, b.tensor(`${NORMALIZE_PREFIX}scale`, [], [spec.scale])], `${NORMALIZE_PREFIX}scale`);
    if (mean)
      x = b.node('Sub', [x, b.tensor(`${NORMALIZE_PREFIX}mean`, [mean.length], mean)], `${NORMALIZE_PREFIX}mean`);
    if (std) x = b.node('Div', [x, b.tensor(`${NORMALIZE_PREFIX}std`, [std.length], std)], `${NORMALIZE_PREFIX}std`);
  }
  if (inVal.shape.length === 4 && !nchwIn)
    x = b.node('Transpose', [x], 'input', [{ name: 'perm', ints: [0, 3, 1, 2] }]);
  if (ids === 'int64') x = b.node('Cast', [x], 'input', [{ name: 'to', i: DT.INT32 }]);
  names.set(g.inputs[0], { t: x, order: 'onnx' });

  exportNodes(g, ctx);

  // output 'logits' in Graduate's layout
  const outV = g.outputs[0];
  b.node('Identity', [floatOf(outV, 'output', 'graduate')], 'output', [], OUTPUT_NAME);
  b.prune([OUTPUT_NAME]);

  const [, H, W] = inVal.shape;
  const inShape = nchwIn ? [-1, C, H, W] : inVal.shape;
  const inputMeta: OnnxInputMeta = {
    kind: spec.kind,
    layout: inVal.shape.length === 4 ? (nchwIn ? 'NCHW' : 'NHWC') : 'NC',
    shape: inShape.slice(1),
    normalization: opts.rawInput ? preparation : {},
    ...(!opts.rawInput && { preprocessing: preparation }),
    ...(spec.audio !== undefined && { audio: spec.audio }),
    ...(ids && { ids: { dtype: ids, pad: 0 as const, vocab: tokenIdLimit(g) } }),
  };
  const perSample = g.meta.perSample === true;
  const outElem = g.values[outV].dtype === 'int32' ? DT.INT32 : DT.FLOAT;
  const inElem = ids === 'int64' ? DT.INT64 : ids === 'int32' ? DT.INT32 : DT.FLOAT;
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: EXPORT_OPSET }],
    producerName: 'graduate',
    producerVersion: String(g.meta.producer ?? ''),
    graph: {
      name: 'graduate',
      node: b.nodes,
      initializer: b.initializers,
      input: [valueInfo(INPUT_NAME, inShape, perSample, inElem)],
      output: [valueInfo(OUTPUT_NAME, g.values[outV].shape, perSample, outElem)],
    },
    metadataProps: [
      { key: 'classNames', value: JSON.stringify(g.meta.classNames) },
      { key: 'input', value: JSON.stringify(inputMeta) },
      ...(spec.tokenizer !== undefined ? [{ key: 'tokenizer', value: JSON.stringify(spec.tokenizer) }] : []),
    ],
  });
  return onnx.ModelProto.encode(model).finish();
}

function exportNodes(g: Graph, ctx: OnnxCtx): void {
  for (const n of g.nodes) {
    const def = OPS[n.op] as OpDef<unknown>;
    if (!def.onnx) throw new ValueError(`exportOnnx: node '${n.name}' (${n.op}) has no ONNX export`);
    def.onnx(ctx, n);
  }
}

/** The `named` export: each graph input and output under its own name (see ExportOptions.named). */
function exportNamed(g: Graph, b: OnnxBuilder, ctx: OnnxCtx, opts: ExportOptions): Uint8Array {
  const ids = opts.ids ?? 'int64';
  const elem = (v: string, what: string) => {
    const dtype = g.values[v].dtype;
    if (dtype === 'float32') return DT.FLOAT;
    if (dtype === 'int32') return ids === 'int64' ? DT.INT64 : DT.INT32;
    throw new ValueError(`exportOnnx: ${what} '${v}' is ${dtype}; float32 and int32 ${what}s export`);
  };
  for (const v of [...g.inputs, ...g.outputs]) b.reserve(v);
  const inputs = g.inputs.map((v) => {
    const elemType = elem(v, 'input');
    const t = elemType === DT.INT64 ? b.node('Cast', [v], v, [{ name: 'to', i: DT.INT32 }]) : v;
    ctx.set(v, t, 'graduate');
    return valueInfo(v, g.values[v].shape, false, elemType);
  });
  exportNodes(g, ctx);
  const outputs = g.outputs.map((v) => {
    const elemType = elem(v, 'output');
    const t = elemType === DT.FLOAT ? ctx.float(v, v, 'graduate') : ctx.raw(v, 'graduate');
    b.node(
      elemType === DT.INT64 ? 'Cast' : 'Identity',
      [t],
      v,
      elemType === DT.INT64 ? [{ name: 'to', i: DT.INT64 }] : [],
      v,
    );
    return valueInfo(v, g.values[v].shape, false, elemType);
  });
  b.prune(g.outputs);
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: EXPORT_OPSET }],
    producerName: 'graduate',
    producerVersion: String(g.meta.producer ?? ''),
    graph: { name: 'graduate', node: b.nodes, initializer: b.initializers, input: inputs, output: outputs },
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(model).finish();
}
