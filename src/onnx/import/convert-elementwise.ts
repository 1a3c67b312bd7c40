// Converters of elementwise ONNX ops and activations. Chains of them with scalar constants stay one
// function of one value (an Expr, named when used: layout.ts materialize); per-channel constants
// become affine nodes, a constant added right after Conv/MatMul joins it as its bias, and Add of
// two values is a residual add. Softmax over channels / the last axis is Graduate's softmax.
// Not for: fused com.microsoft activations of Conv/Gemm (convert-layers.ts).
import { erf, geluErf, geluTanh } from '../../graph/scalar.js';
import type { Context, Converter } from './context.js';
import { broadcastConst, type Const } from './fold.js';
import { type Entry, type Expr, sigmoid, type Val } from './layout.js';

export const relu = (x: number) => Math.max(x, 0);

export const ELEMENTWISE = {
  Add: (cx) => binary(cx, 'Add'),
  Sub: (cx) => binary(cx, 'Sub'),
  Mul: (cx) => binary(cx, 'Mul'),
  Div: (cx) => binary(cx, 'Div'),
  Pow: (cx) => binary(cx, 'Pow'),
  Relu: (cx) => cx.unary(relu),
  LeakyRelu: (cx, _n, A) => {
    const alpha = A.float('alpha', 0.01);
    return cx.unary((x) => (x > 0 ? x : alpha * x));
  },
  Sigmoid: (cx) => cx.unary(sigmoid),
  Tanh: (cx) => cx.unary(Math.tanh),
  Erf: (cx) => cx.unary(erf),
  Neg: (cx) => cx.unary((x) => -x),
  Sqrt: (cx) => cx.unary(Math.sqrt),
  Gelu: (cx, _n, A) => cx.unary(A.str('approximate', 'none') === 'tanh' ? geluTanh : geluErf),
  Clip: (cx, _n, A) => {
    const lo = cx.opset < 11 ? A.float('min', -Infinity) : cx.optScalar(1, -Infinity);
    const hi = cx.opset < 11 ? A.float('max', Infinity) : cx.optScalar(2, Infinity);
    if (lo !== 0 || hi !== Infinity)
      cx.fail(`Clip(${lo}, ${hi}) is not supported: only Clip(0, ∞) (= ReLU) maps onto Graduate's activations`);
    return cx.unary(relu);
  },
  Softmax: (cx, n, A) => softmax(cx, n, A, false),
  LogSoftmax: (cx, n, A) => softmax(cx, n, A, true),
  // ONNX Runtime's fused GELU (erf form)
  'com.microsoft:Gelu': (cx) => cx.unary(geluErf),
} satisfies Record<string, Converter>;

/** Softmax / LogSoftmax over the channels (NCHW) or the last axis. */
function softmax(cx: Parameters<Converter>[0], n: Parameters<Converter>[1], A: Parameters<Converter>[2], log: boolean) {
  const e = cx.materialize(cx.get(n.input?.[0] ?? ''), 'input');
  const r = e.dims.length;
  let axis = A.int('axis', cx.opset < 13 ? 1 : -1);
  if (axis < 0) axis += r;
  const ok = e.layout === 'nchw' ? axis === 1 : !e.order && axis === r - 1 && (cx.opset >= 13 || axis === r - 1);
  if (!ok || (e.layout === 'flat' && cx.phys(e).at(-1) !== e.dims[r - 1]))
    cx.fail(`softmax over axis ${axis} of a rank-${r} tensor is not supported (only over channels / the last axis)`);
  return {
    ...e,
    v: cx.emit({ op: 'softmax', inputs: [e.v], attrs: { axis: -1, log } }, cx.phys(e)),
  };
}

type BinaryOp = 'Add' | 'Sub' | 'Mul' | 'Div' | 'Pow';
const BINARY: Record<BinaryOp, (a: number, b: number) => number> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b) => a / b,
  Pow: (a, b) => a ** b,
};

function binary(cx: Context, op: BinaryOp): Entry {
  const fn = BINARY[op];
  const a = cx.input(0) as Entry;
  const b = cx.input(1) as Entry;
  if (!a || !b) cx.fail('needs two inputs');
  if (a.kind === 'quant' || b.kind === 'quant')
    cx.fail('an int8 tensor (QuantizeLinear output) is not an input Graduate can import');
  if (a.kind === 'const' && b.kind === 'const') return broadcastConst(a, b, fn, cx.fail.bind(cx));
  const fnOf = (e: Val | Expr) => (e.kind === 'expr' ? e.f : (x: number) => x);
  const baseOf = (e: Val | Expr) => (e.kind === 'expr' ? e.base : e);
  const nodesOf = (e: Val | Expr) => (e.kind === 'expr' ? e.nodes : []);
  if (a.kind === 'const' || b.kind === 'const') {
    const c = (a.kind === 'const' ? a : b) as Const;
    const e = (a.kind === 'const' ? b : a) as Val | Expr;
    const left = a.kind !== 'const';
    if (c.data.length === 1) {
      const k = c.data[0];
      const f = fnOf(e);
      return {
        kind: 'expr',
        base: baseOf(e),
        f: left ? (x) => fn(f(x), k) : (x) => fn(k, f(x)),
        nodes: [...nodesOf(e), cx.nodeName],
      };
    }
    if (op === 'Pow' || (op === 'Div' && !left)) cx.fail(`${op} by a per-channel tensor is not supported`);
    // MatMul/Conv + bias: the bias joins the linear node
    const v = cx.materialize(e, 'input');
    const prod0 = cx.g.nodes.at(-1);
    if (
      op === 'Add' &&
      prod0?.output === v.v &&
      (prod0.op === 'linear' || prod0.op === 'conv2d') &&
      !prod0.inputs[2] &&
      cx.used(cx.node.input?.[left ? 0 : 1]) === 1
    ) {
      const bias = cx.perChannel(v, c, 'bias');
      if (bias) {
        prod0.inputs.push(cx.constant(`${prod0.name}.bias`, bias, [bias.length]));
        return v;
      }
    }
    const pc = cx.perChannel(v, c, op);
    if (!pc)
      cx.fail(`constant of shape [${c.dims.join(', ')}] does not broadcast per channel over [${v.dims.join(', ')}]`);
    const k = pc as Float32Array;
    const C = k.length;
    const scale =
      op === 'Mul' ? k : op === 'Div' ? k.map((s) => 1 / s) : new Float32Array(C).fill(op === 'Sub' && !left ? -1 : 1);
    const shift = op === 'Add' ? k : op === 'Sub' ? (left ? k.map((s) => -s) : k) : new Float32Array(C);
    const s = cx.constant(`${cx.nodeName}.scale`, scale, [C]);
    const t = cx.constant(`${cx.nodeName}.shift`, shift, [C]);
    return { ...v, v: cx.emit({ op: 'affine', inputs: [v.v, s, t], attrs: {} }, cx.phys(v)) };
  }
  const ea = a as Val | Expr;
  const eb = b as Val | Expr;
  if (baseOf(ea).v === baseOf(eb).v && baseOf(ea).layout === baseOf(eb).layout) {
    const fa = fnOf(ea);
    const fb = fnOf(eb);
    return {
      kind: 'expr',
      base: baseOf(ea),
      f: (x) => fn(fa(x), fb(x)),
      nodes: [...nodesOf(ea), ...nodesOf(eb), cx.nodeName],
    };
  }
  if (op !== 'Add') cx.fail(`${op} of two computed tensors is not supported (only Add: residual connections)`);
  const va = cx.materialize(ea, 'input 0');
  const vb = cx.materialize(eb, 'input 1');
  if (
    va.layout !== vb.layout ||
    va.dims.join() !== vb.dims.join() ||
    cx.phys(va).join() !== cx.phys(vb).join() ||
    va.order !== vb.order
  )
    cx.fail(
      `Add of [${va.dims.join(', ')}] and [${vb.dims.join(', ')}] (broadcasting or mixed layouts) is not supported`,
    );
  return { ...va, v: cx.emit({ op: 'add', inputs: [va.v, vb.v], attrs: {} }, cx.phys(va)) };
}
