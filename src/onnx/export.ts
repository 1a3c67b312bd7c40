// Export: a Graduate graph as an ONNX model (opset 13, IR version 7) that ONNX Runtime and
// TensorRT run. The ONNX graph takes the raw input the artifact takes (image pixels 0..255 as
// float32, NHWC [N, H, W, C]; tabular features as they are): the input preparation (× scale,
// − mean, ÷ std) is the graph's first nodes. Inside, 4-D activations are NCHW (ONNX's Conv and
// pools): a Transpose follows the normalization, weights are transposed to [Cout, Cin, KH, KW], and
// a Transpose back to NHWC precedes each Flatten so features keep Graduate's order. int8 graphs
// become QDQ: int8 weights per output channel behind DequantizeLinear (axis = Cout; stored as
// uint8 with zero point 128, the same values: see exportNode), int8 activations per tensor with
// int8 zero points, int32 biases at scale sx·sw. The output is
// 'logits'; metadata_props hold 'classNames' and 'input' (JSON).
// Not for: reading ONNX (import.ts).
import { ValueError } from '../errors.js';
import { floatData, type Graph, type Node, type Value } from '../graph/ir.js';
import { GELU_CUBIC, GELU_K } from '../graph/scalar.js';
import { DT, EXPORT_OPSET, type NodeProto, onnx, type TensorProto } from './proto.js';

/** Name prefix of the normalization nodes (for readers; the importer goes by ops and metadata). */
export const NORMALIZE_PREFIX = 'graduate/normalize/';
export const INPUT_NAME = 'input';
export const OUTPUT_NAME = 'logits';

/** What metadata_props 'input' holds: the ONNX input and the preparation inside the graph. */
export interface OnnxInputMeta {
  kind: Graph['meta']['input']['kind'];
  layout: 'NHWC' | 'NC';
  /** Per-sample shape of the ONNX input. */
  shape: number[];
  /** Applied by the graph's first nodes: x = (raw · scale − mean[c]) / std[c]. */
  normalization: { scale?: number; mean?: number[]; std?: number[] };
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
    data: Float32Array | Int8Array | Uint8Array | Int32Array | number[],
    dt?: number,
  ): string {
    const name = this.fresh(base);
    const arr = Array.isArray(data) ? Float32Array.from(data) : data;
    const dataType = dt ?? (arr instanceof Int8Array ? DT.INT8 : arr instanceof Int32Array ? DT.INT32 : DT.FLOAT);
    const raw = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength).slice();
    this.initializers.push({ name, dims, dataType, rawData: raw });
    return name;
  }
}

/** [KH, KW, Cin, Cout] → [Cout, Cin, KH, KW] (any typed array). */
function convWeightToOnnx<T extends Float32Array | Int8Array>(w: T, [KH, KW, Cin, Cout]: number[]): T {
  const out = new (w.constructor as { new (n: number): T })(w.length);
  for (let kh = 0; kh < KH; kh++)
    for (let kw = 0; kw < KW; kw++)
      for (let ci = 0; ci < Cin; ci++)
        for (let co = 0; co < Cout; co++)
          out[((co * Cin + ci) * KH + kh) * KW + kw] = w[((kh * KW + kw) * Cin + ci) * Cout + co];
  return out;
}

const valueInfo = (name: string, dims: number[]) => ({
  name,
  type: {
    tensorType: {
      elemType: DT.FLOAT,
      shape: { dim: dims.map((d, i) => (i === 0 ? { dimParam: 'N' } : { dimValue: d })) },
    },
  },
});

/** Serializes `g` as an ONNX model (see the file header for the input, layouts and QDQ). */
export function exportOnnx(g: Graph): Uint8Array {
  if (g.inputs.length !== 1 || g.outputs.length !== 1)
    throw new ValueError(
      `exportOnnx: graphs with one input and one output are supported (${g.inputs.length}, ${g.outputs.length})`,
    );
  const b = new OnnxBuilder();
  b.reserve(INPUT_NAME);
  b.reserve(OUTPUT_NAME);
  /** ONNX tensor of each Graduate value (4-D values: NCHW). */
  const names = new Map<string, string>();
  const rank = (v: string) => g.values[v].shape.length;
  const quantOf = (v: Value, what: string) => {
    if (!v.quant) throw new ValueError(`exportOnnx: int8 value ${what} has no quantization parameters`);
    return v.quant;
  };
  const qParams = (v: string) => {
    const q = quantOf(g.values[v], `'${v}'`);
    return [b.tensor(`${v}/scale`, [], [q.scale[0]]), b.tensor(`${v}/zero_point`, [], Int8Array.of(q.zeroPoint[0]))];
  };
  /** The float ONNX tensor of value v (DequantizeLinear when v is int8). */
  const floatOf = (v: string, at: string): string => {
    const t = names.get(v) as string;
    if (g.values[v].dtype !== 'int8') return t;
    return b.node('DequantizeLinear', [t, ...qParams(v)], at);
  };
  /** Binds the float result `t` to value v, quantizing when v is int8. */
  const bind = (v: string, t: string, at: string) => {
    names.set(v, g.values[v].dtype === 'int8' ? b.node('QuantizeLinear', [t, ...qParams(v)], at) : t);
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
      case 'softmax':
        return b.node('Softmax', [x], at, [{ name: 'axis', i: -1 }]);
      case 'gelu': {
        // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): the runtime's GELU (graph/scalar.ts), in opset-13 ops
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

  // input: raw values → normalization → NCHW
  const inVal = g.values[g.inputs[0]];
  if (inVal.dtype !== 'float32')
    throw new ValueError(
      `exportOnnx: input '${g.inputs[0]}' is ${inVal.dtype}; only float inputs export (text models do not)`,
    );
  const spec = g.meta.input;
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
  if (spec.scale !== undefined && spec.scale !== 1)
    x = b.node('Mul', [x, b.tensor(`${NORMALIZE_PREFIX}scale`, [], [spec.scale])], `${NORMALIZE_PREFIX}scale`);
  if (mean) x = b.node('Sub', [x, b.tensor(`${NORMALIZE_PREFIX}mean`, [mean.length], mean)], `${NORMALIZE_PREFIX}mean`);
  if (std) x = b.node('Div', [x, b.tensor(`${NORMALIZE_PREFIX}std`, [std.length], std)], `${NORMALIZE_PREFIX}std`);
  if (inVal.shape.length === 4) x = b.node('Transpose', [x], 'input', [{ name: 'perm', ints: [0, 3, 1, 2] }]);
  names.set(g.inputs[0], x);

  for (const n of g.nodes) exportNode(n);

  // output 'logits' in Graduate's layout
  const outV = g.outputs[0];
  let y = floatOf(outV, 'output');
  if (rank(outV) === 4) y = b.node('Transpose', [y], 'output', [{ name: 'perm', ints: [0, 2, 3, 1] }]);
  b.node('Identity', [y], 'output', [], OUTPUT_NAME);

  const inputMeta: OnnxInputMeta = {
    kind: spec.kind,
    layout: inVal.shape.length === 4 ? 'NHWC' : 'NC',
    shape: inVal.shape.slice(1),
    normalization: { scale: spec.scale, mean, std },
  };
  const model = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: EXPORT_OPSET }],
    producerName: 'graduate',
    producerVersion: String(g.meta.producer ?? ''),
    graph: {
      name: 'graduate',
      node: b.nodes,
      initializer: b.initializers,
      input: [valueInfo(INPUT_NAME, inVal.shape)],
      output: [valueInfo(OUTPUT_NAME, g.values[outV].shape)],
    },
    metadataProps: [
      { key: 'classNames', value: JSON.stringify(g.meta.classNames) },
      { key: 'input', value: JSON.stringify(inputMeta) },
    ],
  });
  return onnx.ModelProto.encode(model).finish();

  function exportNode(n: Node): void {
    const at = n.name;
    switch (n.op) {
      case 'conv2d':
      case 'linear': {
        const w = g.constants[n.inputs[1]];
        const int8 = w.dtype === 'int8';
        const xin = floatOf(n.inputs[0], at);
        const Cout = w.shape[w.shape.length - 1];
        let wName: string;
        let bias: string | undefined;
        const wf = int8 ? (w.data as Int8Array) : floatData(w);
        const wData = n.op === 'conv2d' ? convWeightToOnnx(wf, w.shape) : wf;
        const wDims = n.op === 'conv2d' ? [Cout, w.shape[2], w.shape[0], w.shape[1]] : w.shape;
        const axis = n.op === 'conv2d' ? 0 : 1;
        if (int8) {
          const sw = w.quant?.scale;
          const sx = g.values[n.inputs[0]].quant?.scale[0];
          if (!sw || sw.length !== Cout || sx === undefined)
            throw new ValueError(`exportOnnx: int8 node '${at}' lacks per-channel weight or input scales`);
          // stored as uint8 around zero point 128 (the same values exactly): ONNX Runtime's u8s8
          // kernels on x86 without VNNI add pairs of products in saturating int16, and wrong
          // answers follow (80% argmax agreement on an AMD EPYC with AVX2); u8u8 widens first
          const wq = Uint8Array.from(wData as Int8Array, (v) => v + 128);
          const q = b.tensor(`${n.inputs[1]}/uint8`, wDims, wq, DT.UINT8);
          wName = b.node(
            'DequantizeLinear',
            [
              q,
              b.tensor(`${n.inputs[1]}/scale`, [Cout], sw),
              b.tensor(`${n.inputs[1]}/zero_point`, [Cout], new Uint8Array(Cout).fill(128), DT.UINT8),
            ],
            at,
            [{ name: 'axis', i: axis }],
          );
          if (n.inputs[2]) {
            // int32 bias at scale sx·sw[c] (what QDQ consumers fuse into their int8 kernels)
            const bf = floatData(g.constants[n.inputs[2]]);
            const bs = sw.map((s) => s * sx);
            const bq = Int32Array.from(bf, (v, i) => Math.round(v / bs[i]));
            bias = b.node(
              'DequantizeLinear',
              [
                b.tensor(`${n.inputs[2]}/int32`, [Cout], bq),
                b.tensor(`${n.inputs[2]}/scale`, [Cout], bs),
                b.tensor(`${n.inputs[2]}/zero_point`, [Cout], new Int32Array(Cout)),
              ],
              at,
              [{ name: 'axis', i: 0 }],
            );
          }
        } else {
          wName = b.tensor(n.inputs[1], wDims, wData as Float32Array);
          if (n.inputs[2]) bias = b.tensor(n.inputs[2], [Cout], floatData(g.constants[n.inputs[2]]));
        }
        let y: string;
        if (n.op === 'conv2d') {
          const [KH, KW] = w.shape;
          y = b.node('Conv', bias ? [xin, wName, bias] : [xin, wName], at, [
            { name: 'kernel_shape', ints: [KH, KW] },
            { name: 'strides', ints: n.attrs.stride },
            { name: 'pads', ints: n.attrs.pads },
          ]);
        } else if (rank(n.inputs[0]) === 2) {
          y = b.node('Gemm', bias ? [xin, wName, bias] : [xin, wName], at);
        } else {
          if (rank(n.inputs[0]) === 4)
            throw new ValueError(`exportOnnx: linear '${at}' on a 4-D value is not exported`);
          y = b.node('MatMul', [xin, wName], at);
          if (bias) y = b.node('Add', [y, bias], at);
        }
        if (n.attrs.residual) y = b.node('Add', [y, floatOf(n.attrs.residual, at)], at);
        bind(n.output, act(n.attrs.activation, y, at, n.attrs.alpha), at);
        return;
      }
      case 'batchnorm': {
        if (rank(n.inputs[0]) !== 4 && rank(n.inputs[0]) !== 2)
          throw new ValueError(`exportOnnx: batchnorm '${at}' on a rank-${rank(n.inputs[0])} value is not exported`);
        const ps = n.inputs.slice(1).map((c) => b.tensor(c, [g.constants[c].data.length], floatData(g.constants[c])));
        bind(
          n.output,
          b.node('BatchNormalization', [floatOf(n.inputs[0], at), ...ps], at, [{ name: 'epsilon', f: n.attrs.eps }]),
          at,
        );
        return;
      }
      case 'affine': {
        const [s, t] = n.inputs.slice(1).map((c) => {
          const k = g.constants[c].data.length;
          return b.tensor(c, rank(n.inputs[0]) === 4 ? [k, 1, 1] : [k], floatData(g.constants[c]));
        });
        bind(n.output, b.node('Add', [b.node('Mul', [floatOf(n.inputs[0], at), s], at), t], at), at);
        return;
      }
      case 'activation': {
        const xin = floatOf(n.inputs[0], at);
        const softmaxNchw = n.attrs.fn === 'softmax' && rank(n.inputs[0]) === 4;
        const y = softmaxNchw
          ? b.node('Softmax', [xin], at, [{ name: 'axis', i: 1 }])
          : act(n.attrs.fn, xin, at, n.attrs.alpha);
        bind(n.output, y, at);
        return;
      }
      case 'add':
        bind(n.output, b.node('Add', [floatOf(n.inputs[0], at), floatOf(n.inputs[1], at)], at), at);
        return;
      case 'maxpool2d':
      case 'avgpool2d': {
        const attrs: Attr[] = [
          { name: 'kernel_shape', ints: n.attrs.kernel },
          { name: 'strides', ints: n.attrs.stride },
          { name: 'pads', ints: n.attrs.pads },
        ];
        const op = n.op === 'maxpool2d' ? 'MaxPool' : 'AveragePool';
        bind(n.output, b.node(op, [floatOf(n.inputs[0], at)], at, attrs), at);
        return;
      }
      case 'globalavgpool': {
        const p = b.node('GlobalAveragePool', [floatOf(n.inputs[0], at)], at);
        bind(n.output, b.node('Flatten', [p], at, [{ name: 'axis', i: 1 }]), at);
        return;
      }
      case 'flatten': {
        // data movement: int8 tensors pass as they are; NCHW goes back to NHWC for Graduate's order
        let t = names.get(n.inputs[0]) as string;
        if (rank(n.inputs[0]) === 4) t = b.node('Transpose', [t], at, [{ name: 'perm', ints: [0, 2, 3, 1] }]);
        names.set(n.output, b.node('Flatten', [t], at, [{ name: 'axis', i: 1 }]));
        return;
      }
      case 'dropout':
        names.set(n.output, names.get(n.inputs[0]) as string);
        return;
      case 'quantize':
        bind(n.output, names.get(n.inputs[0]) as string, at);
        return;
      case 'dequantize':
        names.set(n.output, floatOf(n.inputs[0], at));
        return;
      case 'embeddingbag':
        throw new ValueError(`exportOnnx: node '${at}' (embeddingbag) has no ONNX export yet (text models)`);
    }
  }
}
