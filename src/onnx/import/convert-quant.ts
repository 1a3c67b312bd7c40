// Converters of quantized ONNX models onto Graduate's int8 IR (the one `compile --quantize int8`
// writes, run by the backend's int8 kernels). QDQ graphs (PyTorch's exporter, onnxruntime's
// quantize_static): QuantizeLinear of a float tensor is a `quantize` node into an int8 value
// ('quant' entry); DequantizeLinear of it is a 'dq' entry that Conv / Gemm / MatMul with
// DequantizeLinear'd integer weights read as int8 (conv2d / linear with int8 weights, per output
// channel scales) and float ops read through a dequantize node; data movement and MaxPool run on the
// int8 value (INT8_MOVES). QOperator graphs (QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger)
// become the same nodes. int8-epilogue.ts then fuses each layer's requantization (a following
// quantize, and a ReLU between) into its epilogue. uint8 tensors are held as int8 minus 128 (their
// zero point too), which is the same arithmetic. What the kernels cannot express is either refused
// here by name or computed in float32 with a note in meta.onnx.int8 (weights whose integers minus
// their zero point exceed int8, per-channel weight scales on an input axis, a layer whose input is
// not an int8 tensor). Not for: Graduate's own post-training quantization (compile/quantize.ts).
import { FLOAT32_MIN_NORMAL } from '../../io/fields.js';
import { DT, type NodeProto } from '../proto.js';
import { type Attrs, attrs } from './attrs.js';
import type { Context, Converter, QWeights } from './context.js';
import { LAYERS } from './convert-layers.js';
import { type Const, dequantizeConst, prod, type QParams, quantizeConst } from './fold.js';
import type { Dq, Entry, QParam, Quant, Val } from './layout.js';

const ELEM_NAME: Record<number, string> = {
  [DT.FLOAT]: 'float',
  [DT.UINT8]: 'uint8',
  [DT.INT8]: 'int8',
  4: 'uint16',
  5: 'int16',
  [DT.INT32]: 'int32',
};

export const QUANT = {
  QuantizeLinear: (cx, n, A) => {
    const e = cx.input(0) ?? cx.fail('needs an input');
    if (e.kind === 'const') {
      const zp = n.input?.[2] ? cx.constIn(2, 'zero point') : undefined;
      return quantizeConst(e, qParams(cx, A, e), qType(cx, A, zp) === 'int8');
    }
    if (e.kind === 'quant') cx.fail('its input is already an int8 tensor');
    const q = tensorParams(cx, A);
    if (e.kind === 'dq' && e.gain === 1 && sameQ(e.of.q, q)) return e.of; // Q(DQ(t)) with t's parameters is t
    const x = cx.materialize(e, 'input');
    const v = cx.emit({ op: 'quantize', inputs: [x.v], attrs: {} }, cx.phys(x));
    cx.setInt8(v, q);
    return { kind: 'quant', v: { ...x, v }, q };
  },
  DequantizeLinear: (cx, n, A) => {
    const e = cx.input(0) ?? cx.fail('needs an input');
    if (e.kind === 'const') {
      const p = qParams(cx, A, e);
      const out = dequantizeConst(e, p);
      if (e.int) cx.qweights.set(out, weightInfo(p, e, normAxis(A.int('axis', 1), e.dims.length)));
      return out;
    }
    if (e.kind !== 'quant')
      return cx.fail(
        'DequantizeLinear of a computed tensor that no QuantizeLinear or QLinear* op produced (an integer graph input or accumulator?)',
      );
    const q = tensorParams(cx, A, n.input?.[2] ? undefined : e.q.type);
    if (q.type !== e.q.type) cx.fail(`its zero point is ${q.type}, the tensor is ${e.q.type}`);
    if (q.zp === e.q.zp) return { kind: 'dq', of: e, gain: q.scale / e.q.scale };
    // other zero point: (q − zp') · s' = ((real / s) + zp − zp') · s', in float
    const f = cx.materialize({ kind: 'dq', of: e, gain: 1 }, 'input');
    const [s, z, s2, z2] = [e.q.scale, e.q.zp, q.scale, q.zp];
    return cx.unary((x) => (x / s + z - z2) * s2, f);
  },
  QLinearConv: (cx, n) => qlinear(cx, n, 'Conv'),
  QLinearMatMul: (cx, n) => qlinear(cx, n, 'MatMul'),
  ConvInteger: (cx, n) => integer(cx, n, 'Conv'),
  MatMulInteger: (cx, n) => integer(cx, n, 'MatMul'),
  // PyTorch's exporter writes each bias zero point as Cast(ConstantOfShape(…)): folded
  ConstantOfShape: (cx, _n, A) => {
    const shape = Array.from(cx.constIn(0, 'shape').data);
    const t = A.tensor('value');
    const v = t ? cx.tensor(t, `node '${cx.nodeName}' value`) : undefined;
    if (v && v.data.length !== 1) cx.fail('value must hold one element');
    if (shape.some((d) => !Number.isInteger(d) || d < 0) || prod(shape) > 2 ** 24)
      cx.fail(`shape [${shape.join(', ')}] is not a small fixed shape`);
    const n = prod(shape);
    const data = v?.int ? new Float64Array(n).fill(v.data[0]) : new Float32Array(n).fill(v?.data[0] ?? 0);
    return { kind: 'const', dims: shape, data, int: v?.int ?? false, elem: v?.elem ?? DT.FLOAT };
  },
  DynamicQuantizeLinear: (cx) =>
    cx.fail(
      "computes its scale from each input at run time (onnxruntime's quantize_dynamic); Graduate's int8 tensors have " +
        'fixed scales: quantize the model statically (quantize_static, or graduate compile --quantize int8 on the float model)',
    ),
} satisfies Record<string, Converter>;

/** Ops that, given an int8 tensor (or its DequantizeLinear), run on the int8 value and stay int8. */
export const INT8_MOVES: ReadonlySet<string> = new Set([
  'Flatten',
  'Reshape',
  'Transpose',
  'Identity',
  'MaxPool',
  'Squeeze',
  'Unsqueeze',
  'Dropout',
]);

/**
 * Converters used instead of the float ones when input 0 is an int8 tensor or its DequantizeLinear:
 * the layers (int8 when their weights are DequantizeLinear'd integers) and Cast.
 */
export const INT8_INPUT: Record<string, Converter> = {
  Conv: (cx, n, A) => layer(cx, n, A, 'Conv'),
  Gemm: (cx, n, A) => layer(cx, n, A, 'Gemm'),
  MatMul: (cx, n, A) => layer(cx, n, A, 'MatMul'),
  Cast: (cx, _n, A) => {
    const e = cx.input(0) as Quant | Dq;
    const to = A.int('to', 0);
    // PyTorch casts each QuantizeLinear output to its own type; a cast of a dequantized tensor to float is none
    if (e.kind === 'quant' && ELEM_NAME[to] === e.q.type) return e;
    if (e.kind === 'dq' && to === DT.FLOAT) return e;
    return cx.fail(
      `a cast of ${e.kind === 'quant' ? `a ${e.q.type}` : 'a dequantized'} tensor to type ${ELEM_NAME[to] ?? to} is not supported`,
    );
  },
};

/** The same op run on an int8 tensor's value: the new values are int8 with its parameters. */
export function int8Move(cx: Context, n: NodeProto, convert: () => Entry): Entry {
  const x0 = cx.input(0) as Quant | Dq;
  const t = x0.kind === 'dq' ? x0.of : x0;
  const name = n.input?.[0] ?? '';
  const start = cx.g.nodes.length;
  cx.env.set(name, t.v);
  let out: Entry;
  try {
    out = convert();
  } finally {
    cx.env.set(name, x0);
  }
  if (out.kind !== 'value') return cx.fail('an int8 tensor did not stay a tensor'); // the moves return values
  for (const m of cx.g.nodes.slice(start)) cx.setInt8(m.output, t.q);
  const q: Quant = { kind: 'quant', v: out, q: t.q };
  return x0.kind === 'dq' ? { kind: 'dq', of: q, gain: x0.gain } : q;
}

/** Conv / Gemm / MatMul whose input is an int8 tensor's DequantizeLinear (QDQ). */
function layer(cx: Context, n: NodeProto, A: Attrs, op: LayerOp): Entry {
  const x = cx.input(0) as Quant | Dq;
  if (x.kind === 'quant') return cx.fail(`input is an int8 tensor: a float ${op} needs its DequantizeLinear`);
  const y = int8Layer(cx, n, op, x.of, x.gain);
  if (typeof y !== 'string') return y;
  return floatLayer(cx, n, A, op, y);
}

type LayerOp = 'Conv' | 'Gemm' | 'MatMul';

/** The float layer (every int8 input dequantized), with the reason recorded. */
function floatLayer(cx: Context, n: NodeProto, A: Attrs, op: LayerOp, reason: string): Entry {
  cx.floatLayers.push({ node: cx.nodeName, reason });
  const name = n.input?.[0] ?? '';
  const x0 = cx.get(name);
  cx.env.set(name, cx.materialize(x0, 'input'));
  const node = cx.node;
  cx.node = n;
  try {
    return LAYERS[op](cx, n, A);
  } finally {
    cx.node = node;
    cx.env.set(name, x0);
  }
}

/**
 * The layer in int8: input x (its real values times `gain`), weights input 1 a DequantizeLinear'd
 * integer constant. Returns the layer's float output, or why it cannot run in int8.
 */
function int8Layer(cx: Context, n: NodeProto, op: LayerOp, x: Quant, gain: number): Val | string {
  const w = cx.get(n.input?.[1] ?? '');
  const A = attrs(n);
  if (w.kind !== 'const') return 'its weights are computed tensors';
  const info = cx.qweights.get(w);
  if (!info) return 'its weights are float32 (no DequantizeLinear of integer weights)';
  const outAxis = op === 'Conv' ? 0 : op === 'Gemm' && A.int('transB', 0) ? 0 : w.dims.length - 1;
  if (info.axis >= 0 && info.axis !== outAxis)
    return `its weights are quantized per channel along axis ${info.axis}, not along the output axis ${outAxis}`;
  // the float weights are scale · (q − zp) (Gemm: times alpha); the kernels' weight scale also carries the gain
  const alpha = op === 'Gemm' ? A.float('alpha', 1) : 1;
  const Cout = w.dims[outAxis];
  const ws = Array.from({ length: Cout }, (_, o) => info.scale[info.axis < 0 ? 0 : o] * alpha);
  const sc = ws.map((s) => Math.fround(s * gain));
  if (!sc.every((s) => s >= FLOAT32_MIN_NORMAL && Number.isFinite(s)))
    return 'a weight scale is not a positive float32 number the int8 kernels take';
  const span = intSpan(info);
  if (span[0] < -128 || span[1] > 127)
    return `its weights minus their zero point span [${span.join(', ')}], beyond int8: requantizing them would change the model`;
  const start = cx.g.nodes.length;
  const name = n.input?.[0] ?? '';
  const saved = cx.env.get(name) as Entry;
  const node = cx.node;
  cx.env.set(name, x.v);
  cx.node = n;
  let out: Entry;
  try {
    out = LAYERS[op](cx, n, A);
  } finally {
    cx.env.set(name, saved);
    cx.node = node;
  }
  for (const m of cx.g.nodes.slice(start)) {
    if (m.op !== 'conv2d' && m.op !== 'linear') {
      cx.setInt8(m.output, x.q); // a flatten of the int8 input
      continue;
    }
    const c = cx.g.constants[m.inputs[1]];
    const data = c.data as Float32Array;
    const q = new Int8Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const r = data[i] / ws[i % Cout];
      q[i] = Math.round(r);
      if (Math.abs(r - q[i]) > 1e-2) cx.fail(`weight ${i} is not an integer multiple of its scale (${r})`);
    }
    const axis = c.shape.length - 1;
    cx.g.constants[m.inputs[1]] = {
      shape: c.shape,
      dtype: 'int8',
      data: q,
      quant: { scale: sc, zeroPoint: new Array(Cout).fill(0), axis },
    };
  }
  return out as Val;
}

/** The least and greatest weight integer minus its zero point. */
function intSpan(info: QWeights): [number, number] {
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < info.q.length; i++) {
    const d = info.q[i] - info.zp[info.axis < 0 ? 0 : info.ch(i)];
    if (d < lo) lo = d;
    if (d > hi) hi = d;
  }
  return [lo, hi];
}

/**
 * QLinearConv (x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B) and QLinearMatMul (a, a_scale,
 * a_zp, b, b_scale, b_zp, y_scale, y_zp): the layer on the int8 input with the weights
 * dequantized (int8 where they fit), its output quantized with y's parameters.
 */
function qlinear(cx: Context, n: NodeProto, op: 'Conv' | 'MatMul'): Entry {
  const ins = n.input ?? [];
  const x = int8Input(cx, 0);
  const xq = paramsAt(cx, 1, 2);
  if (xq.zp !== x.q.zp || xq.type !== x.q.type)
    cx.fail('x_zero_point differs from the zero point its producer quantized with');
  const wq = weightsAt(cx, 3, op === 'Conv' ? 0 : 1);
  const yq = paramsAt(cx, 6, 7);
  const inputs = [ins[0], bind(cx, 'w', wq)];
  if (op === 'Conv' && ins[8]) {
    const b = cx.constIn(8, 'B');
    const s = cx.constIn(4, 'w_scale').data;
    const bias = Float32Array.from(b.data, (v, i) => v * xq.scale * s[s.length === 1 ? 0 : i]);
    inputs.push(bind(cx, 'b', { kind: 'const', dims: b.dims, data: bias, int: false }));
  }
  const node: NodeProto = { ...n, opType: op, input: inputs, attribute: op === 'Conv' ? n.attribute : [] };
  const A = attrs(node);
  let y = int8Layer(cx, node, op, x, xq.scale / x.q.scale);
  if (typeof y === 'string') {
    const f = floatLayer(cx, node, A, op, y);
    y = cx.materialize(f, 'output');
    const v = cx.emit({ op: 'quantize', inputs: [y.v], attrs: {} }, cx.phys(y));
    cx.setInt8(v, yq);
    return { kind: 'quant', v: { ...y, v }, q: yq };
  }
  cx.setInt8(y.v, yq); // the layer requantizes in its epilogue
  return { kind: 'quant', v: y, q: yq };
}

/**
 * ConvInteger (x, w, x_zp, w_zp) and MatMulInteger (a, b, a_zp, b_zp): the int32 accumulator
 * Σ (x − x_zp)(w − w_zp), held as float (exact below 2^24) by an int8 layer whose scales multiply
 * to one; the Cast to float and the Mul by the scales that usually follow are float ops on it.
 */
function integer(cx: Context, n: NodeProto, op: 'Conv' | 'MatMul'): Entry {
  const ins = n.input ?? [];
  const x = int8Input(cx, 0);
  const xz = ins[2] ? cx.constIn(2, 'x zero point') : undefined;
  if (xz && xz.data.length !== 1) cx.fail('a per-row input zero point is not supported (one per tensor)');
  const z = (xz?.data[0] ?? 0) - (x.q.type === 'uint8' ? 128 : 0);
  if (z !== x.q.zp) cx.fail('its input zero point differs from the one its producer quantized with');
  const w = cx.constIn(1, 'weights');
  const wz = ins[3] ? cx.constIn(3, 'weight zero point') : undefined;
  const nz = wz?.data.length ?? 1; // per-channel weight zero points: as many unit scales
  const one: Const = { kind: 'const', dims: [nz], data: new Float32Array(nz).fill(1), int: false };
  const p = qParamsOf(cx, w, one, wz, op === 'Conv' ? 0 : 1);
  const wf = dequantizeConst(w, p);
  cx.qweights.set(wf, weightInfo(p, w, op === 'Conv' ? 0 : 1));
  const node: NodeProto = { ...n, opType: op, input: [ins[0], bind(cx, 'w', wf)] };
  if (op === 'MatMul') node.attribute = [];
  const y = int8Layer(cx, node, op, x, 1 / x.q.scale);
  if (typeof y !== 'string') return y;
  // float: the input's integers (q − zp) times the weights' (1 · (w − w_zp))
  const name = ins[0];
  const f = cx.materialize({ kind: 'dq', of: x, gain: 1 / x.q.scale }, 'input');
  cx.env.set(name, f);
  try {
    return floatLayer(cx, node, attrs(node), op, y);
  } finally {
    cx.env.set(name, x);
  }
}

/** Input i as an int8 tensor (QLinear* and *Integer ops take the integers themselves). */
function int8Input(cx: Context, i: number): Quant {
  const e = cx.input(i);
  if (e?.kind !== 'quant')
    return cx.fail(
      `input ${i} must be an int8 or uint8 tensor that a QuantizeLinear or QLinear* op produced (Graduate takes float graph inputs)`,
    );
  return e;
}

/** A constant under a fresh tensor name (the synthetic Conv / MatMul node reads it like an initializer). */
function bind(cx: Context, what: string, c: Const): string {
  let name = `${cx.nodeName}#${what}`;
  for (let i = 1; cx.env.has(name); i++) name = `${cx.nodeName}#${what}${i}`;
  cx.env.set(name, c);
  return name;
}

/** Weights (input i), scales (i + 1), zero points (i + 2) of a QLinear op, dequantized; outAxis: per-channel axis. */
function weightsAt(cx: Context, i: number, outAxis: number): Const {
  const w = cx.constIn(i, 'weights');
  const s = cx.constIn(i + 1, 'weight scale');
  const z = cx.node.input?.[i + 2] ? cx.constIn(i + 2, 'weight zero point') : undefined;
  const p = qParamsOf(cx, w, s, z, outAxis);
  const wf = dequantizeConst(w, p);
  cx.qweights.set(wf, weightInfo(p, w, outAxis));
  return wf;
}

function weightInfo(p: QParams, w: Const, axis: number): QWeights {
  const per = p.scale.length;
  const zp = Array.from({ length: per }, (_, i) => (p.zp ? p.zp[p.zp.length === 1 ? 0 : i] : 0));
  return { q: w.data, scale: Array.from(p.scale), zp, axis: per === 1 ? -1 : axis, ch: p.ch };
}

/** Scale and zero point of one (per-tensor) tensor at inputs i, j of the current node. */
function paramsAt(cx: Context, i: number, j: number): QParam {
  const s = cx.constIn(i, 'scale');
  const z = cx.node.input?.[j] ? cx.constIn(j, 'zero point') : undefined;
  return toQParam(cx, s, z, qType(cx, undefined, z));
}

/** A QuantizeLinear / DequantizeLinear's parameters for a computed tensor (one scale). */
function tensorParams(cx: Context, A: Attrs, type?: QParam['type']): QParam {
  if (A.has('block_size') && A.int('block_size', 0) !== 0) cx.fail('blocked quantization is not supported');
  const s = cx.constIn(1, 'scale');
  const z = cx.node.input?.[2] ? cx.constIn(2, 'zero point') : undefined;
  return toQParam(cx, s, z, type ?? qType(cx, A, z));
}

function toQParam(cx: Context, s: Const, z: Const | undefined, type: QParam['type']): QParam {
  if (s.data.length !== 1 || (z && z.data.length !== 1))
    cx.fail(
      `per-channel quantization of a computed tensor (${s.data.length} scales) is not supported: Graduate's int8 tensors carry one scale`,
    );
  const scale = Math.fround(s.data[0]);
  if (!(scale >= FLOAT32_MIN_NORMAL && Number.isFinite(scale)))
    cx.fail(`scale ${s.data[0]} is not a positive float32 number the int8 kernels take`);
  const zp = (z?.data[0] ?? 0) - (type === 'uint8' ? 128 : 0);
  return { scale, zp, type };
}

/** int8 or uint8, from the zero point's element type (absent: output_dtype, else uint8). */
function qType(cx: Context, A: Attrs | undefined, z: Const | undefined): QParam['type'] {
  const elem = z?.elem ?? (A?.int('output_dtype', 0) || DT.UINT8);
  if (elem === DT.INT8) return 'int8';
  if (elem === DT.UINT8) return 'uint8';
  return cx.fail(
    `quantization to element type ${ELEM_NAME[elem] ?? elem} is not supported (Graduate's int8 kernels take int8 and uint8)`,
  );
}

const sameQ = (a: QParam, b: QParam) => a.scale === b.scale && a.zp === b.zp && a.type === b.type;

const normAxis = (a: number, r: number) => (a < 0 ? a + r : a);

/** Scale (input 1), optional zero point (input 2) and per-axis channel of x's elements. */
function qParams(cx: Context, A: Attrs, x: Const): QParams {
  const scale = cx.constIn(1, 'scale');
  const zp = cx.node.input?.[2] ? cx.constIn(2, 'zero point') : undefined;
  return qParamsOf(cx, x, scale, zp, normAxis(A.int('axis', 1), x.dims.length));
}

function qParamsOf(cx: Context, x: Const, scale: Const, zp: Const | undefined, axis: number): QParams {
  const per = scale.data.length;
  if (per !== 1 && x.dims[axis] !== per) cx.fail(`${per} scales for axis ${axis} of [${x.dims.join(', ')}]`);
  if (zp && zp.data.length !== per && zp.data.length !== 1) cx.fail(`${zp.data.length} zero points for ${per} scales`);
  const inner = prod(x.dims.slice(axis + 1));
  const ch = (i: number) => (per === 1 ? 0 : Math.floor(i / inner) % per);
  const zs = zp && zp.data.length === 1 && per > 1 ? new Float64Array(per).fill(zp.data[0]) : zp?.data;
  return { scale: scale.data, zp: zs, ch };
}
