// The general import path: an ONNX graph as it is — any number of named inputs and outputs, any
// rank, fixed shapes or a batch (-1) first axis, float and integer dtypes (floats compute as
// float32; every integer type and bool as int32) — with ONNX's own axis order kept (an NCHW
// convolution is wrapped in transposes to Graduate's NHWC kernel). Each ONNX op maps onto ops of
// the registry through the table in general-ops.ts; a node whose inputs are all constants is
// computed here, by its op's forward on the reference backend, so shape arithmetic (Shape →
// Gather → Concat → Reshape chains) folds into constants. The image path (importer.ts) is tried
// first by importOnnx: it maps single-input classifiers onto NHWC without transposes; this path
// takes everything else.
// Not for: what an ONNX op means (general-ops.ts).
import { ReferenceBackend } from '../../backend/reference.js';
import { FormatError } from '../../errors.js';
import type { Graph } from '../../graph/ir.js';
import { MEMORY_LIMIT_BYTES } from '../../limits.js';
import type { Arg, DType, Info, OpDef } from '../../ops/op.js';
import { OPS, type OpAttrs, type OpName } from '../../ops/registry.js';
import { numel } from '../../ops/rules.js';
import { ONNX_DTYPES } from '../../runtime/signature.js';
import { IMPORT_GENERAL_OPSETS, type ModelProto, type NodeProto, num } from '../proto.js';
import { type Attrs, attrs } from './attrs.js';
import { TensorReader } from './tensors.js';

/** A tensor during import: a graph value, or a constant (ints as exact doubles, floats as float32). */
export type T =
  | { kind: 'value'; v: string; shape: number[]; dtype: 'float32' | 'int32'; elem?: number }
  | { kind: 'const'; shape: number[]; int: boolean; data: Float32Array | Float64Array; elem?: number };

/** A sequence op's conversion: inputs and outputs are tensors or sequences (lists of tensors). */
export type SequenceConverter = (
  cx: GeneralImporter,
  n: NodeProto,
  A: Attrs,
  ins: (T | T[] | undefined)[],
) => (T | T[] | undefined)[];

/** One ONNX op's conversion: its outputs (undefined: an optional output it does not produce). */
export type GeneralConverter = (cx: GeneralImporter, n: NodeProto, A: Attrs, ins: (T | undefined)[]) => T[];

/** ONNX element types: floats compute as float32, integers and bool as int32. */
const FLOAT_TYPES = new Set([1, 10, 11, 16]);
const INT_TYPES = new Set([2, 3, 4, 5, 6, 7, 9, 12, 13]);
/** ONNX element type names, the refused ones included (for messages). */
export const ELEM_NAMES: Readonly<Record<number, string>> = {
  ...ONNX_DTYPES,
  8: 'string',
  14: 'complex64',
  15: 'complex128',
};

/** Graph input/output as the ONNX model declares it (meta.onnx.inputs/outputs). */
export interface OnnxIo {
  name: string;
  /** The graph's value. */
  value: string;
  /** ONNX element type (1 float, 7 int64, 9 bool, …). */
  elemType: number;
  shape: number[];
}

export interface GeneralOptions {
  /** Shapes of inputs whose dimensions the model leaves symbolic (or to fix a batched one). */
  shapes?: Record<string, readonly number[]>;
  /**
   * Inputs fixed to a value at import (shape, axes or size inputs that Graduate's static graphs
   * need as constants, as TensorRT needs shape tensors at build time): they are constants, not inputs.
   */
  constants?: Record<string, { shape: readonly number[]; data: ArrayLike<number> }>;
  /**
   * A symbolic first axis becomes 1 instead of the batch: for graphs whose shape arithmetic or
   * layout changes cannot carry the batch symbolically (meta.perSample: run sample by sample).
   */
  batchOne?: boolean;
}

let reference: ReferenceBackend | undefined;

const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Ops whose constant operands may hold ±∞ as a mask: PyTorch's attention selects −∞ at padded
 * keys (masked_fill: Where) and adds it to the scores (Add); causal masks are added initializers.
 * Graphs hold finite constants only, so these become ±FLOAT32_MAX: a score plus −FLOAT32_MAX is
 * −FLOAT32_MAX (or −∞ at run time), whose softmax weight is exactly 0, as −∞'s is (a row with every
 * key masked then averages instead of giving NaN). An infinity anywhere else (a weight) is refused.
 */
const MASK_OPS: ReadonlySet<OpName> = new Set(['where', 'add', 'sub']);

/** Float constant data with ±Infinity as ±FLOAT32_MAX (see MASK_OPS). */
function finiteMasks(d: Float32Array): Float32Array {
  let out: Float32Array | undefined;
  for (let i = 0; i < d.length; i++)
    if (d[i] === Infinity || d[i] === -Infinity) {
      out ??= Float32Array.from(d);
      out[i] = d[i] > 0 ? FLOAT32_MAX : -FLOAT32_MAX;
    }
  return out ?? d;
}

export class GeneralImporter {
  readonly g: Graph = {
    inputs: [],
    outputs: [],
    values: {},
    constants: {},
    nodes: [],
    meta: { classNames: [], input: { kind: 'tensor', shape: [] }, producer: '' },
  };
  readonly env = new Map<string, T>();
  /** Sequences (SequenceConstruct, SplitToSequence, …): lists of tensors, resolved at import. */
  readonly seqs = new Map<string, T[]>();
  opset = 0;
  /** The node being converted and its name (errors name it). */
  node: NodeProto = {};
  nodeName = '';
  private readonly tensors: TensorReader;
  private readonly constNames = new WeakMap<object, string>();
  /** Constants with infinities clamped (MASK_OPS' operands), by constant. */
  private readonly maskNames = new WeakMap<object, string>();
  private count = 0;
  /** Whether a symbolic batch axis was specialized to 1 (batchOne). */
  private specialized = false;

  constructor(
    private readonly model: ModelProto,
    readonly source: string,
    baseDir: string,
    private readonly table: Readonly<Record<string, GeneralConverter>>,
    private readonly opts: GeneralOptions = {},
    private readonly sequenceTable: Readonly<Record<string, SequenceConverter>> = {},
  ) {
    this.tensors = new TensorReader(source, baseDir, this.bad);
  }

  readonly bad = (msg: string): never => {
    throw new FormatError(`${this.source}: ${msg}`);
  };

  /** A FormatError naming the current node and its op. */
  readonly fail = (msg: string): never => this.bad(`node '${this.nodeName}' (${this.node.opType}): ${msg}`);

  run(): Graph {
    const { model, bad, g } = this;
    const graph = model.graph ?? bad('the model has no graph (is this an ONNX file?)');
    for (const o of model.opsetImport ?? []) if (!o.domain || o.domain === 'ai.onnx') this.opset = num(o.version);
    const [lo, hi] = IMPORT_GENERAL_OPSETS;
    if (this.opset < lo || this.opset > hi)
      bad(`opset ${this.opset || '(none)'} of the default domain is not supported (supported: ${lo}–${hi})`);
    for (const t of graph.initializer ?? []) {
      const c = this.tensors.read(t);
      this.env.set(t.name ?? '', { kind: 'const', shape: c.dims, int: c.int, data: c.data, elem: c.elem });
    }
    // inputs: initializers listed as inputs are constants with that default (as ONNX Runtime runs them)
    const io: { inputs: OnnxIo[]; outputs: OnnxIo[]; frozen: string[] } = { inputs: [], outputs: [], frozen: [] };
    for (const input of graph.input ?? []) {
      const name = input.name ?? '';
      if (this.env.has(name)) continue;
      const tt =
        input.type?.tensorType ??
        bad(`input '${name}' is not a tensor (sequences, maps and optionals are not supported)`);
      const elem = tt.elemType ?? 0;
      const dtype = FLOAT_TYPES.has(elem) ? 'float32' : INT_TYPES.has(elem) ? 'int32' : undefined;
      if (!dtype)
        bad(`input '${name}' has element type ${ELEM_NAMES[elem] ?? elem}, not supported (floats, integers, bool)`);
      const frozen = this.opts.constants?.[name];
      if (frozen) {
        const n = numel([...frozen.shape]);
        if (frozen.data.length !== n)
          bad(
            `input '${name}': the fixed value has ${frozen.data.length} values for shape [${frozen.shape.join(', ')}]`,
          );
        this.env.set(name, this.constant([...frozen.shape], frozen.data, dtype === 'int32'));
        io.frozen.push(name);
        continue;
      }
      const shape = this.inputShape(name, tt.shape?.dim);
      const v = this.valueName(name);
      g.values[v] = { shape, dtype: dtype as 'float32' | 'int32' };
      this.deps.set(v, new Set([name]));
      g.inputs.push(v);
      io.inputs.push({ name, value: v, elemType: elem, shape });
      this.env.set(name, { kind: 'value', v, shape, dtype: dtype as 'float32' | 'int32', elem });
    }
    const nodes = graph.node ?? [];
    for (const [i, n] of nodes.entries()) {
      this.node = n;
      this.nodeName = n.name || `${n.opType}_${i}`;
      const domain = n.domain ?? '';
      if (domain && domain !== 'ai.onnx') this.fail(`domain '${domain}' is not supported by the general import path`);
      const op = n.opType ?? '';
      const seqOp = Object.hasOwn(this.sequenceTable, op) ? this.sequenceTable[op] : undefined;
      if (seqOp) {
        // sequences are lists of tensors known at import: their ops run here
        const ins = (n.input ?? []).map((x) => (x ? (this.seqs.get(x) ?? this.get(x)) : undefined));
        const outs = seqOp(this, n, attrs(n), ins);
        (n.output ?? []).forEach((name, k) => {
          const t = outs[k];
          if (!name) return;
          if (!t) this.fail(`output ${k} ('${name}') is not supported`);
          if (Array.isArray(t)) this.seqs.set(name, t);
          else this.env.set(name, t as T);
        });
        continue;
      }
      const convert = Object.hasOwn(this.table, op) ? this.table[op] : undefined;
      if (!convert)
        this.fail(
          `op is not supported (supported: ${[...new Set([...Object.keys(this.table), ...Object.keys(this.sequenceTable)])].sort().join(', ')})`,
        );
      const ins = (n.input ?? []).map((x) => {
        if (!x) return undefined;
        if (this.seqs.has(x)) this.fail(`input '${x}' is a sequence; ${op} takes a tensor`);
        return this.get(x);
      });
      const outs = (convert as GeneralConverter)(this, n, attrs(n), ins);
      (n.output ?? []).forEach((name, k) => {
        if (!name) return;
        const t = outs[k];
        if (!t) this.fail(`output ${k} ('${name}') is not supported`);
        this.env.set(name, t as T);
      });
    }
    for (const out of graph.output ?? []) {
      const name = out.name ?? '';
      if (this.seqs.has(name)) bad(`output '${name}' is a sequence: graph outputs must be tensors`);
      const t = this.env.get(name) ?? bad(`output '${name}' is not produced by any node`);
      // an output that is a constant, an input or another output: computed by a copy node
      let v = t.kind === 'value' && !g.inputs.includes(t.v) && !g.outputs.includes(t.v) ? t : undefined;
      if (!v) {
        this.nodeName = `output ${name}`;
        v = this.emitNode('map', [t], { fn: 'identity' });
      }
      g.outputs.push(v.v);
      const elem = out.type?.tensorType?.elemType ?? (v.dtype === 'float32' ? 1 : 7);
      io.outputs.push({ name, value: v.v, elemType: elem, shape: v.shape });
    }
    g.meta = {
      classNames: this.declaredClasses(),
      input: { kind: 'tensor', shape: [] },
      producer: `onnx:${model.producerName || 'unknown'}${model.producerVersion ? ` ${model.producerVersion}` : ''}`,
      onnx: { opset: this.opset, path: 'general', inputs: io.inputs, outputs: io.outputs, frozen: io.frozen },
      ...(this.specialized ? { perSample: true } : {}),
    };
    return g;
  }

  /**
   * Class names from metadata_props 'classNames' (Graduate's exports write them) when the graph has
   * one output with one value per name; none otherwise.
   */
  private declaredClasses(): string[] {
    const raw = this.model.metadataProps?.find((p) => p.key === 'classNames')?.value;
    if (!raw || this.g.outputs.length !== 1) return [];
    let names: unknown;
    try {
      names = JSON.parse(raw);
    } catch {
      return [];
    }
    const per = this.g.values[this.g.outputs[0]].shape.slice(1).reduce((a, d) => a * d, 1);
    return Array.isArray(names) && names.length === per ? names.map(String) : [];
  }

  /** An input's shape: fixed dims as declared, a symbolic first dim as the batch (-1), others from opts.shapes. */
  private inputShape(
    name: string,
    dims: { dimValue?: unknown; dimParam?: string | null }[] | null | undefined,
  ): number[] {
    const given = this.opts.shapes?.[name];
    const declared = (dims ?? []).map((d) => {
      const v = num(d.dimValue as number);
      return d.dimValue !== undefined && d.dimValue !== null && v >= 0 && !d.dimParam ? v : undefined;
    });
    if (given) {
      if (dims && given.length !== declared.length)
        this.bad(
          `input '${name}': the given shape [${given.join(', ')}] has rank ${given.length}, the model's ${declared.length}`,
        );
      given.forEach((d, i) => {
        if (!Number.isInteger(d) || d < 0)
          this.bad(`input '${name}': the given shape [${given.join(', ')}] is not a shape`);
        if (declared[i] !== undefined && declared[i] !== d)
          this.bad(`input '${name}': dimension ${i} is ${declared[i]} in the model, ${d} in the given shape`);
      });
      return [...given];
    }
    if (!dims) this.bad(`input '${name}' has no shape in the model: give it (shapes option, --input-shape)`);
    const shape = declared.map((d, i) => {
      if (d !== undefined) return d;
      if (i === 0) {
        if (!this.opts.batchOne) return -1;
        this.specialized = true;
        return 1;
      }
      return this.bad(
        `input '${name}' dimension ${i} is symbolic ('${(dims as { dimParam?: string | null }[])[i].dimParam || '?'}'): give the input's shape (shapes option, --input-shape)`,
      );
    });
    const bytes = numel(shape) * 4;
    if (bytes > MEMORY_LIMIT_BYTES)
      this.bad(`input '${name}' [${shape.join(', ')}] needs ${bytes} bytes per sample, more than the engine's memory`);
    return shape;
  }

  get(name: string): T {
    const t = this.env.get(name);
    if (!t) this.fail(`input '${name}' is not defined before use`);
    return t as T;
  }

  /** A fresh value name derived from `base`. */
  private valueName(base: string): string {
    let v = base.replace(/[^\w./:-]/g, '_') || 'v';
    while (Object.hasOwn(this.g.values, v) || Object.hasOwn(this.g.constants, v)) v = `${base}_${++this.count}`;
    return v;
  }

  /** Shape and dtype of a tensor as the op rules see it. */
  info(t: T): Info {
    return t.kind === 'value'
      ? { shape: t.shape, dtype: t.dtype }
      : { shape: t.shape, dtype: t.int ? 'int32' : 'float32' };
  }

  dtype(t: T): 'float32' | 'int32' {
    return t.kind === 'value' ? t.dtype : t.int ? 'int32' : 'float32';
  }

  /** A constant's IR name (added once per constant; `mask`: ±∞ clamped, see MASK_OPS). */
  constName(c: Extract<T, { kind: 'const' }>, mask = false): string {
    const names = mask && !c.int ? this.maskNames : this.constNames;
    const known = names.get(c);
    if (known) return known;
    const name = this.valueName(`${this.nodeName}/const`);
    const data = c.data instanceof Float32Array ? c.data : Float32Array.from(c.data);
    this.g.constants[name] = c.int
      ? { shape: c.shape, dtype: 'int32', data: this.int32(c.data) }
      : { shape: c.shape, dtype: 'float32', data: mask ? finiteMasks(data) : data };
    names.set(c, name);
    return name;
  }

  /** Integer data as int32 (an integer beyond int32 is refused: Graduate computes integers in int32). */
  private int32(d: Float32Array | Float64Array): Int32Array {
    const out = new Int32Array(d.length);
    for (let i = 0; i < d.length; i++) {
      if (d[i] < -(2 ** 31) || d[i] >= 2 ** 31)
        this.fail(`the integer ${d[i]} does not fit int32 (Graduate computes integers in int32)`);
      out[i] = d[i];
    }
    return out;
  }

  /**
   * The result of registry op `op` over `ins`: computed now when every input is a constant (the
   * op's forward on the reference backend), else a new node of the graph.
   */
  emit<K extends OpName>(op: K, ins: readonly T[], a: OpAttrs[K]): T {
    if (ins.every((t) => t.kind === 'const')) return this.fold(op, ins as Extract<T, { kind: 'const' }>[], a);
    return this.emitNode(op, ins, a);
  }

  /** A node of op `op` (never folded). */
  emitNode<K extends OpName>(op: K, ins: readonly T[], a: OpAttrs[K]): Extract<T, { kind: 'value' }> {
    const def = OPS[op] as OpDef<unknown>;
    const out = this.infer(def, ins, a);
    if (out.dtype === 'int8') this.fail(`${op} gives int8, which the general path does not carry`);
    const v = this.valueName(`${this.nodeName}/${op}`);
    const inputs = ins.map((t) => (t.kind === 'value' ? t.v : this.constName(t, MASK_OPS.has(op))));
    this.g.nodes.push({ name: v, op, inputs, output: v, attrs: a } as Graph['nodes'][number]);
    this.g.values[v] = { shape: [...out.shape], dtype: out.dtype };
    // the graph inputs it is computed from (named when a constant is needed instead)
    this.deps.set(v, new Set(ins.flatMap((t) => (t.kind === 'value' ? [...this.inputsOf(t.v)] : []))));
    return { kind: 'value', v, shape: [...out.shape], dtype: out.dtype as 'float32' | 'int32' };
  }

  /** The op's shape rule over `ins`; its error names the node. */
  private infer(def: OpDef<unknown>, ins: readonly T[], a: unknown): Info {
    try {
      return def.infer(
        ins.map((t) => this.info(t)),
        a,
      );
    } catch (e) {
      return this.fail((e as Error).message);
    }
  }

  private fold<K extends OpName>(op: K, ins: Extract<T, { kind: 'const' }>[], a: OpAttrs[K]): T {
    const def = OPS[op] as OpDef<unknown>;
    const out = this.infer(def, ins, a);
    const int = out.dtype === 'int32';
    if (def.traits.view) return { kind: 'const', shape: [...out.shape], int, data: ins[0].data };
    reference ??= new ReferenceBackend();
    const b = reference;
    const owned: number[] = [];
    const arg = (shape: readonly number[], dtype: DType, data?: ArrayLike<number>): Arg => {
      const buf = b.alloc(Math.max(4, numel(shape) * 4));
      owned.push(buf);
      if (data) b.write(buf, dtype, data);
      return { buf, shape, dtype };
    };
    try {
      const args = ins.map((t) => arg(t.shape, t.int ? 'int32' : 'float32', t.int ? this.int32(t.data) : t.data));
      const y = arg(out.shape, out.dtype);
      def.forward({ backend: b, temp: (s, dt) => arg(s, dt ?? 'float32') }, args, y, a);
      const r = b.read(y.buf, out.dtype, numel(out.shape));
      return { kind: 'const', shape: [...out.shape], int, data: int ? Float64Array.from(r) : (r as Float32Array) };
    } catch (e) {
      if (e instanceof FormatError) throw e;
      return this.fail((e as Error).message);
    } finally {
      for (const p of owned) b.free(p);
    }
  }

  /** Graph inputs (ONNX names) each computed value depends on; a graph input's value maps to itself. */
  private readonly deps = new Map<string, Set<string>>();

  /** The graph inputs (ONNX names) value v is computed from. */
  private inputsOf(v: string): ReadonlySet<string> {
    return this.deps.get(v) ?? new Set();
  }

  /** A TensorProto (a Constant's value) as a constant. */
  readTensor(t: Parameters<TensorReader['read']>[0]) {
    return this.tensors.read(t, `node '${this.nodeName}' tensor`);
  }

  /** A constant's values (ints exact), or a failure naming what must be constant. */
  constValues(t: T | undefined, what: string): number[] {
    if (t?.kind !== 'const') {
      // computed from graph inputs: the user can fix them at import (ImportOptions.constants, --fix-input)
      const inputs = t?.kind === 'value' ? [...this.inputsOf(t.v)] : [];
      return this.fail(
        `${what} must be a constant (computed from the model's weights or shapes)${
          inputs.length === 0
            ? ''
            : `; it is computed from graph input ${inputs.map((i) => `'${i}'`).join(', ')}: fix ${inputs.length > 1 ? 'their values' : 'its value'} at import (--fix-input)`
        }`,
      );
    }
    return Array.from(t.data);
  }

  /** A new constant. */
  constant(shape: number[], values: ArrayLike<number>, int: boolean): T {
    return { kind: 'const', shape, int, data: int ? Float64Array.from(values) : Float32Array.from(values) };
  }
}
