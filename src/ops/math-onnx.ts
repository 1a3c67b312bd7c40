// ONNX export of the host-loop math ops (math.ts): `map`, `binop` and `cast`, with their ONNX
// semantics kept — Graduate's bool is int32 0/1, so comparisons and logic Cast ONNX's bool back to
// int32, and a narrowing cast goes through the narrow type and back (it wraps in both). These are
// what a text model's padding mask (ids > 0, to float32) and imported graphs (Erf-based GELU) need.
// Not for: the ops' arithmetic (math.ts).
import { ValueError } from '../errors.js';
import type { BinFn, MapFn, MathAttrs } from './math.js';
import type { NodeView, OnnxAttr, OnnxCtx, OnnxOrder } from './op.js';
import { orderOf } from './rules.js';

/** TensorProto.DataType codes beyond OnnxCtx.DT. */
const BOOL = 9;
const FLOAT16 = 10;
const BFLOAT16 = 16;
const INT16 = 5;
const UINT16 = 4;

const cast = (o: OnnxCtx, x: string, to: number, at: string) => o.node('Cast', [x], at, [{ name: 'to', i: to }]);

/** A value in `order` (default Graduate's), or a constant (float or int32) as an initializer. */
export function valueOrConstant(o: OnnxCtx, name: string, at: string, order: OnnxOrder = 'graduate'): string {
  if (!o.isConstant(name)) return o.float(name, at, order);
  const k = o.constant(name);
  if (k.dtype === 'int32') return o.tensor(name, [...k.shape], k.data as Int32Array);
  return o.tensor(name, [...k.shape], o.floatData(name));
}

/** map functions that are one ONNX op of the same name and no attributes. */
const PLAIN_MAP: Partial<Record<MapFn, string>> = {
  identity: 'Identity',
  abs: 'Abs',
  neg: 'Neg',
  sign: 'Sign',
  exp: 'Exp',
  log: 'Log',
  sqrt: 'Sqrt',
  reciprocal: 'Reciprocal',
  floor: 'Floor',
  ceil: 'Ceil',
  round: 'Round',
  sin: 'Sin',
  cos: 'Cos',
  tan: 'Tan',
  asin: 'Asin',
  acos: 'Acos',
  atan: 'Atan',
  sinh: 'Sinh',
  cosh: 'Cosh',
  asinh: 'Asinh',
  acosh: 'Acosh',
  atanh: 'Atanh',
  erf: 'Erf',
  sigmoid: 'Sigmoid',
  tanh: 'Tanh',
  relu: 'Relu',
  softplus: 'Softplus',
  softsign: 'Softsign',
  hardSwish: 'HardSwish',
};

/** The ONNX of y = fn(x) (math.ts mapFn: alpha/beta/gamma as ONNX's activations name them). */
function mapOnnx(o: OnnxCtx, x: string, a: MathAttrs['map'], at: string): string {
  const plain = PLAIN_MAP[a.fn];
  if (plain) return o.node(plain, [x], at);
  const f = (name: string, v: number): OnnxAttr => ({ name, f: v });
  const c = (name: string, v: number) => o.tensor(`${at}/${name}`, [], [v]);
  switch (a.fn) {
    case 'leakyRelu':
      return o.node('LeakyRelu', [x], at, [f('alpha', a.alpha ?? 0.01)]);
    case 'elu':
      return o.node('Elu', [x], at, [f('alpha', a.alpha ?? 1)]);
    case 'selu': {
      const attrs = [...(a.alpha === undefined ? [] : [f('alpha', a.alpha)])];
      if (a.gamma !== undefined) attrs.push(f('gamma', a.gamma));
      return o.node('Selu', [x], at, attrs);
    }
    case 'celu':
      return o.node('Celu', [x], at, [f('alpha', a.alpha ?? 1)]);
    case 'hardSigmoid':
      return o.node('HardSigmoid', [x], at, [f('alpha', a.alpha ?? 0.2), f('beta', a.beta ?? 0.5)]);
    case 'thresholdedRelu':
      return o.node('ThresholdedRelu', [x], at, [f('alpha', a.alpha ?? 1)]);
    case 'shrink':
      return o.node('Shrink', [x], at, [f('lambd', a.alpha ?? 0.5), f('bias', a.beta ?? 0)]);
    case 'mish':
      // Mish is opset 18: x · tanh(softplus(x))
      return o.node('Mul', [x, o.node('Tanh', [o.node('Softplus', [x], at)], at)], at);
    case 'gelu': {
      // Gelu is opset 20: 0.5 · x · (1 + erf(x / √2)), the form PyTorch exports
      const e = o.node('Erf', [o.node('Div', [x, c('sqrt2', Math.SQRT2)], at)], at);
      return o.node('Mul', [o.node('Mul', [x, o.node('Add', [e, c('one', 1)], at)], at), c('half', 0.5)], at);
    }
    case 'geluTanh':
      return o.activation('gelu', x, at);
    default:
      throw new ValueError(`exportOnnx: map '${a.fn}' at '${at}' has no ONNX mapping here`);
  }
}

/** `map` (int32 inputs where the function takes them; bool results as int32 0/1). */
export function mapExport(o: OnnxCtx, n: NodeView<MathAttrs['map']>): void {
  const at = n.name;
  const { fn, alpha, beta } = n.attrs;
  const order = o.order(n.inputs[0]);
  const x = o.float(n.inputs[0], at, order);
  const int = o.value(n.inputs[0]).dtype === 'int32';
  let y: string;
  if (fn === 'not') y = cast(o, o.node('Not', [cast(o, x, BOOL, at)], at), o.DT.INT32, at);
  else if (fn === 'isNaN') y = cast(o, o.node('IsNaN', [x], at), o.DT.INT32, at);
  else if (fn === 'isInf')
    y = cast(
      o,
      o.node('IsInf', [x], at, [
        { name: 'detect_positive', i: (alpha ?? 1) !== 0 ? 1 : 0 },
        { name: 'detect_negative', i: (beta ?? 1) !== 0 ? 1 : 0 },
      ]),
      o.DT.INT32,
      at,
    );
  else if (fn === 'clip') {
    // bounds as inputs (opset 11+), of the input's type; an infinite one is left out
    const bound = (v: number | undefined, name: string) =>
      v === undefined || !Number.isFinite(v)
        ? ''
        : int
          ? o.tensor(`${at}/${name}`, [], Int32Array.of(v))
          : o.tensor(`${at}/${name}`, [], [v]);
    y = o.node('Clip', [x, bound(alpha, 'min'), bound(beta, 'max')], at);
  } else y = mapOnnx(o, x, n.attrs, at);
  o.bind(n.output, y, at, order);
}

const ARITHMETIC: Partial<Record<BinFn, string>> = {
  add: 'Add',
  sub: 'Sub',
  mul: 'Mul',
  div: 'Div',
  pow: 'Pow',
  max: 'Max',
  min: 'Min',
  prelu: 'PRelu',
};
const COMPARISON: Partial<Record<BinFn, string>> = {
  eq: 'Equal',
  lt: 'Less',
  le: 'LessOrEqual',
  gt: 'Greater',
  ge: 'GreaterOrEqual',
};
const LOGIC: Partial<Record<BinFn, string>> = { and: 'And', or: 'Or', xor: 'Xor' };

/** `binop`: arithmetic as is, comparisons and logic with their bool results as int32 0/1. */
export function binopExport(o: OnnxCtx, n: NodeView<MathAttrs['binop']>): void {
  const at = n.name;
  const { fn } = n.attrs;
  const order = orderOf(o, n.inputs);
  const [a, b] = n.inputs.map((v) => valueOrConstant(o, v, at, order));
  let y: string;
  if (ARITHMETIC[fn]) y = o.node(ARITHMETIC[fn], [a, b], at);
  else if (fn === 'mod' || fn === 'fmod')
    // mod: the sign of the divisor (Python's %); fmod: of the dividend (C's). Floats need fmod = 1.
    y = o.node('Mod', [a, b], at, [{ name: 'fmod', i: fn === 'fmod' ? 1 : 0 }]);
  else if (COMPARISON[fn]) y = cast(o, o.node(COMPARISON[fn], [a, b], at), o.DT.INT32, at);
  else if (LOGIC[fn]) {
    const [p, q] = [a, b].map((t) => cast(o, t, BOOL, at));
    y = cast(o, o.node(LOGIC[fn], [p, q], at), o.DT.INT32, at);
  } else
    throw new ValueError(
      `exportOnnx: binop '${fn}' at '${at}' has no ONNX mapping in opset 17 (bit ops on int32 need opset 18)`,
    );
  o.bind(n.output, y, at, order);
}

/** The ONNX type a cast goes through, and the type Graduate holds the result in. */
const CAST_VIA: Record<MathAttrs['cast']['to'], [number, 'float' | 'int']> = {
  float32: [1, 'float'],
  float16: [FLOAT16, 'float'],
  bfloat16: [BFLOAT16, 'float'],
  int32: [6, 'int'],
  int16: [INT16, 'int'],
  uint16: [UINT16, 'int'],
  int8: [3, 'int'],
  uint8: [2, 'int'],
  bool: [BOOL, 'int'],
};

/** `cast`: to the target type, then (float16, narrow ints, bool) back to what Graduate holds. */
export function castExport(o: OnnxCtx, n: NodeView<MathAttrs['cast']>): void {
  const at = n.name;
  const [via, held] = CAST_VIA[n.attrs.to];
  const order = o.order(n.inputs[0]);
  let y = cast(o, o.float(n.inputs[0], at, order), via, at);
  const back = held === 'float' ? o.DT.FLOAT : o.DT.INT32;
  if (via !== back) y = cast(o, y, back, at);
  o.bind(n.output, y, at, order);
}
