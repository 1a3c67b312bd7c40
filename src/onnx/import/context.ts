// What a converter sees: the layout state (layout.ts) plus the ONNX side of the import — every
// tensor's entry by name, how often each is read, the opset — and readers of the current node's
// inputs. Converters (convert-*.ts) are functions of this context, looked up by op type
// (converters.ts). Not for: the model-level steps (importer.ts).
import type { NodeProto, TensorProto } from '../proto.js';
import type { Attrs } from './attrs.js';
import { type Const, mapConst } from './fold.js';
import { type Entry, type Expr, Layout, type Val } from './layout.js';
import { TensorReader } from './tensors.js';

/** A DequantizeLinear of integer weights: element i is scale[ch(i)] · (q[i] − zp[ch(i)]). */
export interface QWeights {
  q: Float32Array | Float64Array;
  scale: number[];
  zp: number[];
  /** The quantized axis (per-channel scales), or -1 for one scale. */
  axis: number;
  ch: (i: number) => number;
}

/** One ONNX op's conversion: the entry its first output becomes (n is cx.node). */
export type Converter = (cx: Context, n: NodeProto, A: Attrs) => Entry;

export class Context extends Layout {
  /** The entry of every ONNX tensor defined so far, by name. */
  readonly env = new Map<string, Entry>();
  /** How many nodes read each tensor. */
  readonly uses = new Map<string, number>();
  /** The default domain's opset. */
  opset = 0;
  /** Weights folded from a DequantizeLinear of integers: their integers, zero points and scales. */
  readonly qweights = new WeakMap<Const, QWeights>();
  /** Layers of a quantized model that compute in float32, and why (recorded in meta.onnx.int8). */
  readonly floatLayers: { node: string; reason: string }[] = [];
  private readonly tensors: TensorReader;

  constructor(source: string, baseDir: string) {
    super(source);
    this.tensors = new TensorReader(source, baseDir, this.bad);
  }

  /** A tensor of the model (initializer, Constant value) as a constant. */
  tensor(t: TensorProto, what?: string): Const {
    return this.tensors.read(t, what);
  }

  /** How many nodes read tensor `name`. */
  used(name = ''): number {
    return this.uses.get(name) ?? 0;
  }

  get(name: string): Entry {
    const e = this.env.get(name);
    if (!e) this.fail(`input '${name}' is not defined before use`);
    return e as Entry;
  }

  /** The current node's input i (undefined: absent or empty). */
  input(i: number): Entry | undefined {
    const name = this.node.input?.[i];
    return name ? this.get(name) : undefined;
  }

  constIn(i: number, what: string): Const {
    const e = this.input(i);
    if (e?.kind !== 'const') this.fail(`${what} (input ${i}) must be a constant`);
    return e as Const;
  }

  /** Optional scalar input i (Clip's min/max), `d` when absent. */
  optScalar(i: number, d: number): number {
    const name = this.node.input?.[i];
    if (!name) return d;
    const c = this.get(name);
    if (c.kind !== 'const' || c.data.length !== 1) this.fail(`input ${i} must be a constant scalar`);
    return (c as Const).data[0];
  }

  /** An elementwise function of the input, applied to the entry `e` (default: input 0). */
  unary(f: (x: number) => number, e0: Entry = this.get(this.node.input?.[0] ?? '')): Entry {
    if (e0.kind === 'const') return mapConst(e0, f);
    const e = e0.kind === 'dq' || e0.kind === 'quant' ? this.materialize(e0, 'input') : e0;
    const ex = e as Val | Expr;
    const base = ex.kind === 'expr' ? ex.base : ex;
    const g = ex.kind === 'expr' ? ex.f : (x: number) => x;
    const nodes = ex.kind === 'expr' ? ex.nodes : [];
    return { kind: 'expr', base, f: (x) => f(g(x)), nodes: [...nodes, this.nodeName] };
  }
}
