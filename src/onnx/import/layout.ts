// Layout tracking for the ONNX importer. Graduate's graph is NHWC and has no transpose or reshape
// ops, so every ONNX tensor is an entry saying how its logical ONNX layout maps onto the Graduate
// value that holds it:
//   - 'nchw': logical [N, C, H, W] held as NHWC (what Conv, pools and BatchNormalization produce);
//   - 'flat': logical tensor held in the same row-major order, possibly through a permutation of
//     the per-sample elements (`order`, from flattening an NCHW tensor in NHWC order), which the
//     next Gemm/MatMul absorbs by permuting its weight rows;
//   - an elementwise function of a value not yet materialized (named when used: affine or an
//     activation), or a constant (fold.ts);
//   - an int8 / uint8 tensor of the model ('quant': QuantizeLinear and QLinear* outputs), held by a
//     Graduate int8 value, and a DequantizeLinear of one ('dq'), which int8 layers read as it is
//     and float ops read through a dequantize node made when first needed (see convert-quant.ts).
// Layout also holds the graph under construction: fresh names, weights and nodes, named after the
// ONNX node being converted, which every error names too.
// Not for: what each ONNX op means (the converters, convert-*.ts) or constant folding (fold.ts).
import { FormatError } from '../../errors.js';
import type { ActivationFn, Graph, Node } from '../../graph/ir.js';
import { geluErf, geluTanh } from '../../graph/scalar.js';
import { firstNonFinite } from '../../io/fields.js';
import { KERNEL_ACTIVATION } from '../../ops/rules.js';
import type { NodeProto } from '../proto.js';
import { type Const, prod } from './fold.js';

/** A tensor held by a Graduate value (see the file header for the layouts). */
export interface Val {
  kind: 'value';
  v: string;
  dims: number[];
  layout: 'nchw' | 'flat';
  /** flat only: physical index of each logical per-sample element (absent: identity). */
  order?: Int32Array;
}
/** f applied elementwise to a value, not yet materialized. */
export interface Expr {
  kind: 'expr';
  base: Val;
  f: (x: number) => number;
  nodes: string[];
  done?: Val;
}
/**
 * Quantization of an int8 tensor as Graduate holds it: real = scale · (q − zp) with q int8. A uint8
 * tensor of the model is held shifted by −128 (its zero point too), so `zp` is always int8's.
 */
export interface QParam {
  scale: number;
  zp: number;
  /** The element type the model sees. */
  type: 'int8' | 'uint8';
}
/** An int8 / uint8 tensor of the model, held by the int8 value `v.v` (quantized with `q`). */
export interface Quant {
  kind: 'quant';
  v: Val;
  q: QParam;
}
/** DequantizeLinear of an int8 tensor: real = gain · scale · (q − zp); `done`: its float value once made. */
export interface Dq {
  kind: 'dq';
  of: Quant;
  gain: number;
  done?: Val;
}
export type Entry = Const | Val | Expr | Quant | Dq;

export const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export const perSample = (dims: readonly number[]) => prod(dims.slice(1));

/** An entry's logical ONNX dims. */
export function dimsOf(e: Entry): number[] {
  if (e.kind === 'const' || e.kind === 'value') return e.dims;
  if (e.kind === 'expr') return e.base.dims;
  if (e.kind === 'quant') return e.v.dims;
  return e.of.v.dims;
}

/** The graph under construction and how entries become (and are relabelled as) its values. */
export class Layout {
  readonly g: Graph;
  /** Throws a FormatError naming the model. */
  readonly bad: (msg: string) => never;
  /** The ONNX node being converted: names the nodes it emits, and every error. */
  node!: NodeProto;
  nodeName = '';
  private readonly nodeNames = new Set<string>();

  constructor(readonly source: string) {
    this.bad = (msg: string): never => {
      throw new FormatError(`${source}: ${msg}`);
    };
    this.g = {
      inputs: [],
      outputs: [],
      values: {},
      constants: {},
      nodes: [],
      meta: { classNames: [], input: { kind: 'tabular', shape: [] }, producer: '' },
    };
  }

  fail(msg: string): never {
    return this.bad(`node '${this.nodeName}' (${this.node.opType}): ${msg}`);
  }

  fresh(base: string): string {
    let name = base || 'v';
    for (let i = 1; this.g.values[name] || this.g.constants[name]; i++) name = `${base}.${i}`;
    return name;
  }

  /** A float32 weight named after `base`. */
  constant(base: string, data: Float32Array, shape: number[]): string {
    // a NaN, or a double beyond float32 (Infinity here), is a corrupt or unusable weight: no
    // checksum guards an ONNX file, and the runtime would answer NaN for every input
    const bad = firstNonFinite(data);
    if (bad >= 0) this.fail(`weight '${base}' holds ${data[bad]} at index ${bad} (as float32): weights must be finite`);
    const name = this.fresh(base);
    this.g.constants[name] = { dtype: 'float32', shape, data };
    return name;
  }

  /** A Graduate node writing a fresh value named after the ONNX output. */
  emit(n: Omit<Node, 'output' | 'name'>, shape: number[], base?: string, nodeName = this.nodeName): string {
    const out = this.fresh(base ?? this.node.output?.[0] ?? this.nodeName);
    this.g.values[out] = { shape, dtype: 'float32' };
    let name = nodeName;
    for (let i = 1; this.nodeNames.has(name); i++) name = `${nodeName}.${i}`;
    this.nodeNames.add(name);
    this.g.nodes.push({ ...n, name, output: out } as Node);
    return out;
  }

  /** The physical (NHWC) shape of the value holding v. */
  phys(v: Val): number[] {
    return this.g.values[v.v].shape;
  }

  /** A value as a Graduate value (elementwise expressions become nodes, once). */
  materialize(e: Entry, what: string): Val {
    if (e.kind === 'value') return e;
    if (e.kind === 'const')
      return this.fail(`${what} is a constant: constant-only subgraphs feeding this op are not supported`);
    if (e.kind === 'quant')
      return this.fail(
        `${what} is an int8 tensor (a QuantizeLinear or QLinear* output) and this op takes float: DequantizeLinear it first`,
      );
    if (e.kind === 'dq') return this.dequantized(e);
    if (e.done) return e.done;
    const f = e.f;
    const xs: number[] = [];
    for (let x = -8; x <= 8; x += 0.125) xs.push(x);
    const close = (h: (x: number) => number, tol: number) =>
      xs.every((x) => Math.abs(f(x) - h(x)) <= tol * (1 + Math.abs(h(x))));
    const a = (f(1) - f(-1)) / 2;
    const b0 = f(0);
    const base = e.base;
    const shape = this.phys(base);
    const at = e.nodes.at(-1) ?? this.nodeName;
    const activation = (fn: Exclude<ActivationFn, 'none'>, alpha?: number) =>
      this.emit(
        {
          op: 'unary',
          inputs: [base.v],
          attrs: { fn: KERNEL_ACTIVATION[fn], ...(alpha === undefined ? {} : { alpha }) },
        },
        shape,
        `${base.v}.${fn}`,
        at,
      );
    let v: string | undefined;
    if (close((x) => x, 1e-7)) v = base.v;
    else if (close((x) => a * x + b0, 1e-6)) {
      const C = shape[shape.length - 1];
      const s = this.constant(`${at}.scale`, new Float32Array(C).fill(a), [C]);
      const t = this.constant(`${at}.shift`, new Float32Array(C).fill(b0), [C]);
      v = this.emit({ op: 'affine', inputs: [base.v, s, t], attrs: {} }, shape, `${base.v}.affine`, at);
    } else if (close((x) => Math.max(x, 0), 1e-7)) v = activation('relu');
    else if (close((x) => (x > 0 ? x : -f(-1) * x), 1e-6)) v = activation('leakyrelu', -f(-1));
    else if (close(sigmoid, 1e-6)) v = activation('sigmoid');
    else if (close(Math.tanh, 1e-6)) v = activation('tanh');
    else if (close(geluTanh, 1e-6) || close(geluErf, 1e-5)) v = activation('gelu');
    else if (f(1) > 0 && xs.every((x) => Math.abs(f(x) / f(1) - Math.max(x, 0)) <= 1e-6 * (1 + Math.abs(x)))) {
      // k · ReLU(x), k > 0 (ConvInteger / MatMulInteger's accumulator times its scales, then Relu)
      const C = shape[shape.length - 1];
      const s = this.constant(`${at}.scale`, new Float32Array(C).fill(f(1)), [C]);
      const t = this.constant(`${at}.shift`, new Float32Array(C), [C]);
      const scaled = this.emit({ op: 'affine', inputs: [base.v, s, t], attrs: {} }, shape, `${base.v}.affine`, at);
      v = this.emit(
        { op: 'unary', inputs: [scaled], attrs: { fn: KERNEL_ACTIVATION.relu } },
        shape,
        `${scaled}.relu`,
        at,
      );
    }
    if (v === undefined) {
      const samples = [-2, -1, 0, 1, 2].map((x) => `f(${x}) = ${f(x).toPrecision(4)}`).join(', ');
      return this.bad(
        `nodes ${e.nodes.map((n) => `'${n}'`).join(', ')}: this elementwise function (${samples}) is not one Graduate runs ` +
          '(affine, relu, leakyrelu, sigmoid, tanh, gelu, k · relu)',
      );
    }
    e.done = { ...base, v };
    return e.done;
  }

  /** Marks value `v` int8, quantized with q. */
  setInt8(v: string, q: QParam): void {
    this.g.values[v] = { ...this.g.values[v], dtype: 'int8', quant: { scale: [q.scale], zeroPoint: [q.zp] } };
  }

  /** The float value of a DequantizeLinear: a dequantize node (and an affine for a gain ≠ 1), made once. */
  private dequantized(e: Dq): Val {
    if (e.done) return e.done;
    const x = e.of.v;
    const v = this.emit({ op: 'dequantize', inputs: [x.v], attrs: {} }, this.phys(x), `${x.v}.dq`);
    const f = { ...x, v };
    const g = e.gain;
    e.done =
      g === 1 ? f : this.materialize({ kind: 'expr', base: f, f: (y) => g * y, nodes: [this.nodeName] }, 'input');
    return e.done;
  }

  /** A flat value held physically as [N, F] (Graduate's flatten view if needed). */
  flatten2d(e: Val): Val {
    const p = this.phys(e);
    if (p.length === 2) return e;
    const out = this.emit({ op: 'flatten', inputs: [e.v], attrs: {} }, [-1, perSample(p)], `${e.v}.flat`);
    return { ...e, v: out };
  }

  /** Logical per-channel constant c (along axis `axis` of e's logical dims) → the NHWC last axis. */
  perChannel(e: Val, c: Const, what: string): Float32Array | undefined {
    const r = e.dims.length;
    const cd = c.dims.length > r ? undefined : [...new Array(r - c.dims.length).fill(1), ...c.dims];
    const p = this.phys(e);
    const C = p[p.length - 1];
    if (!cd) return undefined;
    const axes = cd.map((d, i) => (d !== 1 ? i : -1)).filter((i) => i >= 0);
    if (axes.length === 0) return new Float32Array(C).fill(c.data[0]);
    if (axes.length !== 1) return undefined;
    const [ax] = axes;
    if (e.layout === 'nchw') return ax === 1 ? Float32Array.from(c.data) : undefined;
    if (ax !== r - 1 || cd[ax] !== e.dims[ax]) return undefined;
    if (e.order) {
      if (r !== 2) return undefined;
      const out = new Float32Array(C);
      e.order.forEach((p2, j) => {
        out[p2] = c.data[j];
      });
      return out;
    }
    if (cd[ax] !== C) return this.fail(`${what}: per-feature constant over a non-trailing physical axis`);
    return Float32Array.from(c.data);
  }

  /** An NCHW-logical value (Conv, pools): its NHWC holder. */
  nchw(e: Entry): Val {
    const v = this.materialize(e, 'input');
    if (v.dims.length !== 4) this.fail(`input must be 4-D NCHW, got [${v.dims.join(', ')}]`);
    if (v.layout !== 'nchw') this.fail('input is not in NCHW layout (a Transpose that Graduate cannot follow?)');
    return v;
  }

  /** A value relabelled to logical dims `to` (same per-sample count): flatten of NCHW keeps Graduate's NHWC order. */
  reshape(e0: Entry, to: number[]): Val {
    const e = this.materialize(e0, 'input');
    if (perSample(to) !== perSample(e.dims)) this.fail(`cannot reshape [${e.dims.join(', ')}] to [${to.join(', ')}]`);
    if (e.layout === 'flat' || perSample(e.dims) === e.dims[1]) return { ...e, dims: to, layout: 'flat' };
    // NCHW → flat: Graduate flattens NHWC; remember where each NCHW-ordered feature lives
    const [, C, H, W] = e.dims;
    const order = new Int32Array(C * H * W);
    for (let c = 0; c < C; c++)
      for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) order[(c * H + h) * W + w] = (h * W + w) * C + c;
    const flat = this.flatten2d({ ...e, layout: 'flat' });
    return { kind: 'value', v: flat.v, dims: to, layout: 'flat', order };
  }
}
