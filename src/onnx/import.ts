// Import: an ONNX model (opset 9–22) as a Graduate graph, so compile, inspect, predict and serve
// take it. Graduate's graph is NHWC and has no transpose or reshape ops, so the importer tracks,
// for every ONNX tensor, how its logical ONNX layout maps onto the NHWC value that holds it:
//   - 'nchw': logical [N, C, H, W] held as NHWC (what Conv, pools and BatchNormalization produce);
//   - 'flat': logical tensor held in the same row-major order, possibly through a permutation of
//     the per-sample elements (`order`, from flattening an NCHW tensor in NHWC order), which the
//     next Gemm/MatMul absorbs by permuting its weight rows.
// Transpose, Reshape, Flatten, Squeeze and Unsqueeze thus become relabellings (or Graduate's
// flatten view). An NCHW graph input becomes an NHWC input (meta.onnx.inputLayout says so).
// Chains of elementwise ops with scalar constants are kept as a function of one value and named
// when used: affine, ReLU, LeakyReLU, sigmoid, tanh, GELU (erf or tanh form — both map onto the
// runtime's tanh GELU, within 5e-4). Per-channel constants become affine nodes. QDQ models import
// as float: DequantizeLinear of int8 weights is folded, QuantizeLinear→DequantizeLinear pairs on
// activations are dropped. Constant subgraphs (shapes, Constant, Identity, casts of constants) are
// folded. Everything else is a FormatError naming the node, its op and what is supported.
// Graduate's own export starts with its input normalization: recognised by its ops, constants and
// metadata_props 'input' (never by node names), it becomes meta.input again. The result passes
// validateGraph, as an artifact read from disk would.
// Not for: writing ONNX (export.ts).
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { FileError, FormatError, GraduateError } from '../errors.js';
import type { ActivationFn, Graph, InputSpec, Node } from '../graph/ir.js';
import { erf, geluErf, geluTanh } from '../graph/scalar.js';
import { MEMORY_LIMIT_BYTES, validateGraph } from '../graph/validate.js';
import { firstNonFinite } from '../io/fields.js';
import { readFileChecked } from '../io/read.js';
import { INPUT_NAME, type OnnxInputMeta } from './export.js';
import {
  type AttributeProto,
  DT,
  IMPORT_OPSETS,
  type ModelProto,
  type NodeProto,
  num,
  onnx,
  type TensorProto,
} from './proto.js';

/** ONNX ops the importer maps (default domain), and those of com.microsoft (ONNX Runtime's fusions). */
export const SUPPORTED_OPS = [
  'Add',
  'AveragePool',
  'BatchNormalization',
  'Cast',
  'Clip',
  'Concat',
  'Constant',
  'Conv',
  'DequantizeLinear',
  'Div',
  'Dropout',
  'Erf',
  'Flatten',
  'Gelu',
  'Gemm',
  'GlobalAveragePool',
  'Identity',
  'LeakyRelu',
  'MatMul',
  'MaxPool',
  'Mul',
  'Neg',
  'Pow',
  'QuantizeLinear',
  'Relu',
  'Reshape',
  'Sigmoid',
  'Softmax',
  'Sqrt',
  'Squeeze',
  'Sub',
  'Tanh',
  'Transpose',
  'Unsqueeze',
] as const;
export const SUPPORTED_MS_OPS = ['FusedConv', 'FusedGemm', 'Gelu'] as const;

export interface ImportOptions {
  /** Folder that external tensor data paths are relative to (default: the model file's folder). */
  baseDir?: string;
}

/** A folded constant: float data as float32, integer data exactly (as float64). */
interface Const {
  kind: 'const';
  dims: number[];
  data: Float32Array | Float64Array;
  int: boolean;
}
/** A tensor held by a Graduate value (see the file header for the layouts). */
interface Val {
  kind: 'value';
  v: string;
  dims: number[];
  layout: 'nchw' | 'flat';
  /** flat only: physical index of each logical per-sample element (absent: identity). */
  order?: Int32Array;
}
/** f applied elementwise to a value, not yet materialized. */
interface Expr {
  kind: 'expr';
  base: Val;
  f: (x: number) => number;
  nodes: string[];
  done?: Val;
}
/** QuantizeLinear of a float tensor: dropped again by its DequantizeLinear. */
interface Quant {
  kind: 'quant';
  base: Val | Expr;
}
type Entry = Const | Val | Expr | Quant;

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

const prod = (a: readonly number[]) => a.reduce((p, d) => p * d, 1);
const perSample = (dims: readonly number[]) => prod(dims.slice(1));

/** Reads an ONNX model into a Graduate graph; every problem is a FormatError naming `source`. */
export function importOnnx(bytes: Uint8Array, source: string, opts: ImportOptions = {}): Graph {
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new FormatError(`${source}: not a valid ONNX protobuf (${(e as Error).message})`);
  }
  try {
    const g = new Importer(model, source, opts.baseDir ?? dirname(resolve(source))).run();
    validateGraph(g, source);
    return g;
  } catch (e) {
    if (e instanceof GraduateError) throw e;
    // a malformed model that slipped past the checks: still a clean error naming the file
    throw new FormatError(`${source}: malformed ONNX model (${(e as Error).message})`);
  }
}

class Importer {
  private readonly g: Graph;
  private readonly env = new Map<string, Entry>();
  private readonly uses = new Map<string, number>();
  private readonly nodeNames = new Set<string>();
  private readonly bad: (msg: string) => never;
  private readonly externalFiles = new Map<string, Uint8Array>();
  private opset = 0;
  private node!: NodeProto;
  private nodeName = '';

  constructor(
    private readonly model: ModelProto,
    private readonly source: string,
    private readonly baseDir: string,
  ) {
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

  run(): Graph {
    const { model, bad, g } = this;
    const graph = model.graph ?? bad('the model has no graph (is this an ONNX file?)');
    for (const o of model.opsetImport ?? []) {
      if (!o.domain || o.domain === 'ai.onnx') this.opset = num(o.version);
    }
    const [lo, hi] = IMPORT_OPSETS;
    if (this.opset < lo || this.opset > hi)
      bad(`opset ${this.opset || '(none)'} of the default domain is not supported (supported: ${lo}–${hi})`);
    const props = new Map((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
    const json = <T>(key: string): T | undefined => {
      const s = props.get(key);
      if (s === undefined) return undefined;
      try {
        return JSON.parse(s) as T;
      } catch {
        return bad(`metadata_props '${key}' is not valid JSON`);
      }
    };
    for (const t of graph.initializer ?? []) this.env.set(t.name ?? '', this.tensor(t));
    for (const n of graph.node ?? []) for (const i of n.input ?? []) this.uses.set(i, (this.uses.get(i) ?? 0) + 1);

    // the one graph input (initializers listed as inputs by old exporters are not inputs)
    const inputs = (graph.input ?? []).filter((i) => !this.env.has(i.name ?? ''));
    if (inputs.length !== 1) bad(`expected one graph input, found ${inputs.length}`);
    const outputs = graph.output ?? [];
    if (outputs.length !== 1) bad(`expected one graph output, found ${outputs.length}`);
    const input = inputs[0];
    const tt = input.type?.tensorType;
    if (!tt || tt.elemType !== DT.FLOAT)
      bad(`input '${input.name}' must be a float32 tensor (elem_type ${tt?.elemType ?? 'none'})`);
    const dims = (tt?.shape?.dim ?? []).map((d, i) => {
      if (i === 0) return -1;
      const v = num(d.dimValue);
      if (!(v > 0)) bad(`input '${input.name}' dimension ${i} is not a fixed size (${d.dimParam || v})`);
      return v;
    });
    if (dims.length < 2) bad(`input '${input.name}' must have a batch and a feature dimension`);
    if (perSample(dims) * 4 > MEMORY_LIMIT_BYTES)
      bad(
        `input '${input.name}' [${dims.join(', ')}] needs ${perSample(dims) * 4} bytes per sample, more than the engine's memory (${MEMORY_LIMIT_BYTES} bytes)`,
      );
    const meta = json<OnnxInputMeta>('input');
    const nhwc = dims.length === 4 && (meta?.layout === 'NHWC' || this.inputIsNhwc(input.name ?? ''));
    const shape = dims.length === 4 && !nhwc ? [-1, dims[2], dims[3], dims[1]] : dims;
    g.inputs = ['input'];
    g.values.input = { shape, dtype: 'float32' };
    const inEntry: Val = { kind: 'value', v: 'input', dims, layout: dims.length === 4 && !nhwc ? 'nchw' : 'flat' };
    this.env.set(input.name ?? '', inEntry);

    // Graduate's own export: its normalization nodes become meta.input again
    let nodes = [...(graph.node ?? [])];
    let spec: InputSpec = { kind: dims.length === 4 ? 'image' : 'tabular', shape: shape.slice(1), scale: 1 };
    const norm = meta && input.name === INPUT_NAME ? this.normalization(meta, nodes, outputs[0].name ?? '') : undefined;
    if (norm && meta) {
      nodes = nodes.slice(norm.count);
      this.env.set(norm.output, inEntry);
      const { scale, mean, std } = meta.normalization;
      // one value for every channel broadcasts (ONNX's Sub/Div did); the runtime reads one per channel
      const C = shape[shape.length - 1];
      const perChannel = (a?: number[]) => (a?.length === 1 ? new Array<number>(C).fill(a[0]) : a);
      spec = { kind: meta.kind, shape: shape.slice(1), scale, mean: perChannel(mean), std: perChannel(std) };
    }
    const classNames = json<unknown>('classNames');
    g.meta = {
      classNames: Array.isArray(classNames) ? classNames.map(String) : [],
      input: spec,
      producer: `onnx:${model.producerName || 'unknown'}${model.producerVersion ? ` ${model.producerVersion}` : ''}`,
      onnx: {
        inputName: input.name,
        inputLayout: dims.length === 4 ? (nhwc ? 'NHWC' : 'NCHW') : 'NC',
        opset: this.opset,
      },
    };

    for (const [i, n] of nodes.entries()) {
      this.node = n;
      this.nodeName = n.name || `${n.opType}_${i}`;
      this.set(this.convert(n));
    }

    const outName = outputs[0].name ?? '';
    const out = this.env.get(outName);
    if (!out) bad(`output '${outName}' is not produced by any node`);
    let o = this.materialize(out as Entry, 'graph output');
    if (o.order) bad(`output '${outName}' is a flattened NCHW tensor in NCHW order: Graduate keeps NHWC order`);
    if (o.layout === 'nchw' && perSample(o.dims) !== o.dims[1])
      bad(`output '${outName}' is a 4-D NCHW tensor: Graduate's output would be NHWC`);
    if (this.g.values[o.v].shape.length > 2 && o.dims.length === 2) o = this.flatten2d(o);
    if (g.inputs.includes(o.v)) bad(`output '${outName}' is the input itself`);
    g.outputs = [o.v];
    const C = perSample(o.dims);
    if (g.meta.classNames.length !== C) g.meta.classNames = Array.from({ length: C }, (_, i) => String(i));
    return g;
  }

  /**
   * The normalization exportOnnx writes, recognised by what it computes, not by node names: the
   * first nodes are exactly Mul by meta's scale, Sub of its mean, Div by its std (each present iff
   * meta has it), chained from the input through default-domain ops, with initializers equal to
   * meta's values and each intermediate read by the next node only. Anything else is left to the
   * ordinary import (which maps Mul/Sub/Div to affine nodes, so the model stays correct).
   */
  private normalization(
    meta: OnnxInputMeta,
    nodes: NodeProto[],
    graphOutput: string,
  ): { count: number; output: string } | undefined {
    const n = meta.normalization;
    if (typeof n !== 'object' || n === null) return undefined;
    const steps: [string, number[]][] = [];
    if (n.scale !== undefined && n.scale !== 1) steps.push(['Mul', [n.scale]]);
    if (n.mean) steps.push(['Sub', n.mean]);
    if (n.std) steps.push(['Div', n.std]);
    if (steps.length === 0) return undefined;
    let last = INPUT_NAME;
    for (const [i, [op, want]] of steps.entries()) {
      const node = nodes[i];
      if (!node || node.opType !== op || (node.domain && node.domain !== 'ai.onnx')) return undefined;
      if (node.input?.length !== 2 || node.input[0] !== last || node.output?.length !== 1) return undefined;
      if ((node.attribute ?? []).length) return undefined;
      const c = this.env.get(node.input[1]);
      const values = Array.isArray(want) ? want : [];
      if (c?.kind !== 'const' || c.data.length !== values.length) return undefined;
      if (c.dims.length > 1 || values.some((v, j) => typeof v !== 'number' || Math.fround(v) !== c.data[j]))
        return undefined;
      // the input itself and every intermediate feed only the next step
      if ((this.uses.get(last) ?? 0) !== 1 || last === graphOutput) return undefined;
      last = node.output[0];
    }
    return { count: steps.length, output: last };
  }

  /** NHWC when the first layout-relevant op after the input (through elementwise ops) is Transpose to NCHW. */
  private inputIsNhwc(name: string): boolean {
    const nodes = this.model.graph?.node ?? [];
    let frontier = [name];
    for (let depth = 0; depth < 8 && frontier.length; depth++) {
      const next: string[] = [];
      for (const n of nodes) {
        if (!n.input?.some((i) => frontier.includes(i))) continue;
        const op = n.opType ?? '';
        if (op === 'Transpose') return this.attrs(n).ints('perm')?.join() === '0,3,1,2';
        if (!['Mul', 'Sub', 'Div', 'Add', 'Identity', 'Cast'].includes(op)) return false;
        next.push(...(n.output ?? []));
      }
      frontier = next;
    }
    return false;
  }

  // ---------------------------------------------------------------- tensors and attributes

  private tensor(t: TensorProto, what = `initializer '${t.name}'`): Const {
    const { bad } = this;
    const dims = (t.dims ?? []).map(num);
    if (dims.some((d) => !Number.isInteger(d) || d < 0 || d > 2 ** 31))
      bad(`${what}: invalid dims [${dims.join(', ')}]`);
    const n = prod(dims);
    if (n > 2 ** 28) bad(`${what}: ${n} elements is too large`);
    const dt = t.dataType ?? 0;
    let raw = t.rawData?.length ? t.rawData : undefined;
    if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) raw = this.external(t, what);
    const size: Record<number, number> = {
      [DT.FLOAT]: 4,
      [DT.UINT8]: 1,
      [DT.INT8]: 1,
      [DT.INT16]: 2,
      [DT.INT32]: 4,
      [DT.INT64]: 8,
      [DT.FLOAT16]: 2,
      [DT.DOUBLE]: 8,
    };
    const per = size[dt];
    if (!per)
      bad(`${what}: data type ${dt} is not supported (float, float16, double, int8, uint8, int16, int32, int64)`);
    const isInt = dt !== DT.FLOAT && dt !== DT.FLOAT16 && dt !== DT.DOUBLE;
    const typed: ArrayLike<number | { toNumber(): number }> =
      dt === DT.FLOAT
        ? (t.floatData ?? [])
        : dt === DT.DOUBLE
          ? (t.doubleData ?? [])
          : dt === DT.INT64
            ? (t.int64Data ?? [])
            : (t.int32Data ?? []);
    if (raw ? raw.length !== n * per : typed.length !== n)
      bad(`${what}: ${raw ? `${raw.length} bytes` : `${typed.length} typed values`} of data for ${n} elements`);
    const out = isInt ? new Float64Array(n) : new Float32Array(n);
    if (raw) {
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      for (let i = 0; i < n; i++) {
        const o = i * per;
        out[i] =
          dt === DT.FLOAT
            ? view.getFloat32(o, true)
            : dt === DT.DOUBLE
              ? view.getFloat64(o, true)
              : dt === DT.FLOAT16
                ? half(view.getUint16(o, true))
                : dt === DT.INT8
                  ? view.getInt8(o)
                  : dt === DT.UINT8
                    ? view.getUint8(o)
                    : dt === DT.INT16
                      ? view.getInt16(o, true)
                      : dt === DT.INT32
                        ? view.getInt32(o, true)
                        : Number(view.getBigInt64(o, true));
      }
      return { kind: 'const', dims, data: out, int: isInt };
    }
    for (let i = 0; i < n; i++) {
      const v = num(typed[i] as number);
      out[i] = dt === DT.FLOAT16 ? half(v) : v;
    }
    return { kind: 'const', dims, data: out, int: isInt };
  }

  /** Bytes of an external tensor (location relative to the model's folder, offset, length). */
  private external(t: TensorProto, what: string): Uint8Array {
    const kv = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
    const loc = kv.get('location');
    if (!loc) this.bad(`${what}: external data without a location`);
    const file = resolve(this.baseDir, loc as string);
    const rel = relative(this.baseDir, file);
    if (isAbsolute(loc as string) || rel.startsWith('..'))
      this.bad(`${what}: external data location '${loc}' must lie inside the model's folder`);
    const buf = this.externalFile(file, what);
    const offset = Number(kv.get('offset') ?? 0);
    const length = kv.has('length') ? Number(kv.get('length')) : buf.length - offset;
    if (
      !Number.isInteger(offset) ||
      !Number.isInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > buf.length
    )
      this.bad(`${what}: external data range ${offset}+${length} lies outside ${file} (${buf.length} bytes)`);
    return buf.subarray(offset, offset + length);
  }

  /** An external data file, read once however many tensors it holds; errors name the model too. */
  private externalFile(file: string, what: string): Uint8Array {
    let buf = this.externalFiles.get(file);
    if (!buf) {
      try {
        buf = readFileChecked(file, 'external data');
      } catch (e) {
        if (e instanceof FileError) throw new FileError(`${this.source}: ${what}: ${e.message}`);
        throw e;
      }
      this.externalFiles.set(file, buf);
    }
    return buf;
  }

  private attrs(n: NodeProto) {
    const m = new Map<string, AttributeProto>((n.attribute ?? []).map((a) => [a.name ?? '', a]));
    return {
      has: (k: string) => m.has(k),
      int: (k: string, d: number) => (m.has(k) ? num(m.get(k)?.i) : d),
      float: (k: string, d: number) => (m.has(k) ? (m.get(k)?.f ?? d) : d),
      ints: (k: string) => (m.has(k) ? (m.get(k)?.ints ?? []).map(num) : undefined),
      floats: (k: string) => m.get(k)?.floats ?? undefined,
      str: (k: string, d: string) => (m.has(k) ? new TextDecoder().decode(m.get(k)?.s ?? new Uint8Array()) : d),
      tensor: (k: string) => m.get(k)?.t ?? undefined,
    };
  }

  // ---------------------------------------------------------------- helpers

  private fail(msg: string): never {
    return this.bad(`node '${this.nodeName}' (${this.node.opType}): ${msg}`);
  }

  private get(name: string): Entry {
    const e = this.env.get(name);
    if (!e) this.fail(`input '${name}' is not defined before use`);
    return e as Entry;
  }
  private input(i: number): Entry | undefined {
    const name = this.node.input?.[i];
    return name ? this.get(name) : undefined;
  }
  private constIn(i: number, what: string): Const {
    const e = this.input(i);
    if (e?.kind !== 'const') this.fail(`${what} (input ${i}) must be a constant`);
    return e as Const;
  }
  private set(e: Entry, i = 0): void {
    const name = this.node.output?.[i];
    if (name) this.env.set(name, e);
  }
  private fresh(base: string): string {
    let name = base || 'v';
    for (let i = 1; this.g.values[name] || this.g.constants[name]; i++) name = `${base}.${i}`;
    return name;
  }
  private constant(base: string, data: Float32Array, shape: number[]): string {
    // a NaN, or a double beyond float32 (Infinity here), is a corrupt or unusable weight: no
    // checksum guards an ONNX file, and the runtime would answer NaN for every input
    const bad = firstNonFinite(data);
    if (bad >= 0) this.fail(`weight '${base}' holds ${data[bad]} at index ${bad} (as float32): weights must be finite`);
    const name = this.fresh(base);
    this.g.constants[name] = { dtype: 'float32', shape, data };
    return name;
  }
  /** A Graduate node writing a fresh value named after the ONNX output. */
  private emit(n: Omit<Node, 'output' | 'name'>, shape: number[], base?: string, nodeName = this.nodeName): string {
    const out = this.fresh(base ?? this.node.output?.[0] ?? this.nodeName);
    this.g.values[out] = { shape, dtype: 'float32' };
    let name = nodeName;
    for (let i = 1; this.nodeNames.has(name); i++) name = `${nodeName}.${i}`;
    this.nodeNames.add(name);
    this.g.nodes.push({ ...n, name, output: out } as Node);
    return out;
  }
  private phys(v: Val): number[] {
    return this.g.values[v.v].shape;
  }

  /** A value as a Graduate value (elementwise expressions become nodes, once). */
  private materialize(e: Entry, what: string): Val {
    if (e.kind === 'value') return e;
    if (e.kind === 'const')
      return this.fail(`${what} is a constant: constant-only subgraphs feeding this op are not supported`);
    if (e.kind === 'quant')
      return this.fail(
        `${what} is an int8 tensor (QuantizeLinear output): only QuantizeLinear→DequantizeLinear pairs import (as float)`,
      );
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
          attrs: { fn: fn === 'leakyrelu' ? 'leakyRelu' : fn, ...(alpha === undefined ? {} : { alpha }) },
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
    if (v === undefined) {
      const samples = [-2, -1, 0, 1, 2].map((x) => `f(${x}) = ${f(x).toPrecision(4)}`).join(', ');
      return this.bad(
        `nodes ${e.nodes.map((n) => `'${n}'`).join(', ')}: this elementwise function (${samples}) is not one Graduate runs ` +
          '(affine, relu, leakyrelu, sigmoid, tanh, gelu)',
      );
    }
    e.done = { ...base, v };
    return e.done;
  }

  /** A flat value held physically as [N, F] (Graduate's flatten view if needed). */
  private flatten2d(e: Val): Val {
    const p = this.phys(e);
    if (p.length === 2) return e;
    const out = this.emit({ op: 'flatten', inputs: [e.v], attrs: {} }, [-1, perSample(p)], `${e.v}.flat`);
    return { ...e, v: out };
  }

  /** Logical per-channel constant c (along axis `axis` of e's logical dims) → the NHWC last axis. */
  private perChannel(e: Val, c: Const, what: string): Float32Array | undefined {
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

  // ---------------------------------------------------------------- ops

  private convert(n: NodeProto): Entry {
    const op = n.opType ?? '';
    const domain = n.domain ?? '';
    const A = this.attrs(n);
    if (domain === 'com.microsoft') return this.convertMs(op, A);
    if (domain && domain !== 'ai.onnx')
      this.fail(
        `domain '${domain}' is not supported (supported: the default domain; com.microsoft ${SUPPORTED_MS_OPS.join(', ')})`,
      );
    const x0 = this.input(0);
    // int8 data movement between QuantizeLinear and DequantizeLinear: apply to the float tensor
    if (
      x0?.kind === 'quant' &&
      ['Flatten', 'Reshape', 'Transpose', 'Identity', 'MaxPool', 'Squeeze', 'Unsqueeze', 'Dropout'].includes(op)
    ) {
      this.env.set(n.input?.[0] ?? '', x0.base);
      const out = this.convert(n);
      this.env.set(n.input?.[0] ?? '', x0);
      return out.kind === 'const' || out.kind === 'quant' ? out : { kind: 'quant', base: out };
    }
    switch (op) {
      case 'Identity':
      case 'Dropout':
        if (op === 'Dropout' && (this.uses.get(n.output?.[1] ?? '') ?? 0) > 0) this.fail('the mask output is used');
        return this.get(n.input?.[0] ?? '');
      case 'Constant': {
        const t = A.tensor('value');
        if (t) return this.tensor(t, `node '${this.nodeName}' value`);
        const f = A.floats('value_floats') ?? (A.has('value_float') ? [A.float('value_float', 0)] : undefined);
        if (f)
          return {
            kind: 'const',
            dims: A.has('value_float') ? [] : [f.length],
            data: Float32Array.from(f),
            int: false,
          };
        const i = A.ints('value_ints') ?? (A.has('value_int') ? [A.int('value_int', 0)] : undefined);
        if (i)
          return {
            kind: 'const',
            dims: A.has('value_int') ? [] : [i.length],
            data: Float64Array.from(i),
            int: true,
          };
        return this.fail('only tensor, float(s) and int(s) values are supported');
      }
      case 'Cast': {
        const e = this.input(0);
        const to = A.int('to', 0);
        if (e?.kind === 'const') {
          const isInt = to !== DT.FLOAT && to !== DT.DOUBLE && to !== DT.FLOAT16;
          const data = isInt ? Float64Array.from(e.data, Math.trunc) : Float32Array.from(e.data);
          return { kind: 'const', dims: e.dims, data, int: isInt };
        }
        if (to !== DT.FLOAT) this.fail(`a cast of a computed tensor to type ${to} is not supported`);
        return e as Entry;
      }
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
      case 'Pow':
        return this.binary(op);
      case 'Relu':
        return this.unary((x) => Math.max(x, 0));
      case 'LeakyRelu': {
        const alpha = A.float('alpha', 0.01);
        return this.unary((x) => (x > 0 ? x : alpha * x));
      }
      case 'Sigmoid':
        return this.unary(sigmoid);
      case 'Tanh':
        return this.unary(Math.tanh);
      case 'Erf':
        return this.unary(erf);
      case 'Neg':
        return this.unary((x) => -x);
      case 'Sqrt':
        return this.unary(Math.sqrt);
      case 'Gelu':
        return this.unary(A.str('approximate', 'none') === 'tanh' ? geluTanh : geluErf);
      case 'Clip': {
        const lo = this.opset < 11 ? A.float('min', -Infinity) : this.optScalar(1, -Infinity);
        const hi = this.opset < 11 ? A.float('max', Infinity) : this.optScalar(2, Infinity);
        if (lo !== 0 || hi !== Infinity)
          this.fail(`Clip(${lo}, ${hi}) is not supported: only Clip(0, ∞) (= ReLU) maps onto Graduate's activations`);
        return this.unary((x) => Math.max(x, 0));
      }
      case 'Softmax': {
        const e = this.materialize(this.get(n.input?.[0] ?? ''), 'input');
        const r = e.dims.length;
        let axis = A.int('axis', this.opset < 13 ? 1 : -1);
        if (axis < 0) axis += r;
        const ok =
          e.layout === 'nchw' ? axis === 1 : !e.order && axis === r - 1 && (this.opset >= 13 || axis === r - 1);
        if (!ok || (e.layout === 'flat' && this.phys(e).at(-1) !== e.dims[r - 1]))
          this.fail(
            `softmax over axis ${axis} of a rank-${r} tensor is not supported (only over channels / the last axis)`,
          );
        return {
          ...e,
          v: this.emit({ op: 'softmax', inputs: [e.v], attrs: { axis: -1, log: false } }, this.phys(e)),
        };
      }
      case 'LogSoftmax':
        return this.fail(
          'LogSoftmax is not supported: the Graduate runtime has no log-softmax kernel (export Softmax or raw logits)',
        );
      case 'Conv':
        return this.conv(A);
      case 'Gemm':
        return this.gemm(A);
      case 'MatMul':
        return this.linear(
          this.get(n.input?.[0] ?? ''),
          this.constIn(1, 'B').data,
          this.constIn(1, 'B').dims,
          undefined,
          'MatMul',
        );
      case 'BatchNormalization': {
        if ((n.output ?? []).slice(1).some((o) => (this.uses.get(o) ?? 0) > 0))
          this.fail('training-mode outputs are used');
        const e = this.materialize(this.get(n.input?.[0] ?? ''), 'input');
        const ps = [1, 2, 3, 4].map((i) => {
          const c = this.constIn(i, ['scale', 'B', 'mean', 'var'][i - 1]);
          const pc = this.perChannel(
            e,
            { ...c, dims: [c.data.length, ...new Array(Math.max(0, e.dims.length - 2)).fill(1)] },
            'BatchNormalization',
          );
          if (!pc) this.fail(`parameters of ${c.data.length} channels do not fit input [${e.dims.join(', ')}]`);
          return pc as Float32Array;
        });
        const names = ['weight', 'bias', 'running_mean', 'running_var'].map((k, i) =>
          this.constant(`${this.nodeName}.${k}`, ps[i], [ps[i].length]),
        );
        const eps = A.float('epsilon', 1e-5);
        return {
          ...e,
          v: this.emit({ op: 'batchnorm', inputs: [e.v, ...names], attrs: { eps } }, this.phys(e)),
        };
      }
      case 'LayerNormalization': {
        // opset 17: over the last axis, with Scale and optional B (Mean/InvStdDev outputs unused)
        if ((n.output ?? []).slice(1).some((o) => (this.uses.get(o) ?? 0) > 0))
          this.fail('its Mean / InvStdDev outputs are used');
        const e = this.materialize(this.get(n.input?.[0] ?? ''), 'input');
        const r = e.dims.length;
        let axis = A.int('axis', -1);
        if (axis < 0) axis += r;
        const last = e.layout !== 'nchw' && !e.order && axis === r - 1;
        if (!last || (e.layout === 'flat' && this.phys(e).at(-1) !== e.dims[r - 1]))
          this.fail(`normalizing from axis ${axis} of a rank-${r} tensor is not supported (only the last axis)`);
        const C = e.dims[r - 1];
        const scale = this.constIn(1, 'Scale').data;
        const bias = n.input?.[2] ? this.constIn(2, 'B').data : new Float32Array(C);
        if (scale.length !== C || bias.length !== C)
          this.fail(`Scale/B of ${scale.length}/${bias.length} values do not fit ${C} features`);
        const names = [scale, bias].map((d, i) =>
          this.constant(`${this.nodeName}.${['weight', 'bias'][i]}`, Float32Array.from(d), [C]),
        );
        const eps = A.float('epsilon', 1e-5);
        return { ...e, v: this.emit({ op: 'layernorm', inputs: [e.v, ...names], attrs: { eps } }, this.phys(e)) };
      }
      case 'MaxPool':
      case 'AveragePool':
        return this.pool(op, A);
      case 'GlobalAveragePool': {
        const e = this.nchw(this.get(n.input?.[0] ?? ''));
        const [, C] = e.dims;
        const out = this.emit({ op: 'globalavgpool', inputs: [e.v], attrs: {} }, [-1, C]);
        return { kind: 'value', v: out, dims: [-1, C, 1, 1], layout: 'flat' };
      }
      case 'Flatten': {
        const e = this.get(n.input?.[0] ?? '');
        let axis = A.int('axis', 1);
        const dims = this.dimsOf(e);
        if (axis < 0) axis += dims.length;
        if (e.kind === 'const') return { ...e, dims: [prod(dims.slice(0, axis)), prod(dims.slice(axis))] };
        if (axis !== 1) this.fail(`Flatten axis ${axis} is not supported (only 1: [N, …] → [N, features])`);
        return this.reshape(e, [-1, perSample(dims)]);
      }
      case 'Reshape': {
        const e = this.get(n.input?.[0] ?? '');
        const s = Array.from(this.constIn(1, 'shape').data);
        const dims = this.dimsOf(e);
        if (e.kind === 'const')
          return { ...e, dims: resolveShape(s, dims, A.int('allowzero', 0), this.fail.bind(this)) };
        const rest = s.slice(1).map((d, i) => (d === 0 && !A.int('allowzero', 0) ? dims[i + 1] : d));
        const P = perSample(dims);
        const known = prod(rest.filter((d) => d !== -1));
        const neg = rest.filter((d) => d === -1).length;
        const target =
          neg === 0
            ? rest
            : neg === 1 && known > 0 && P % known === 0
              ? rest.map((d) => (d === -1 ? P / known : d))
              : undefined;
        if (!target || prod(target) !== P || rest.some((d) => d < -1))
          this.fail(
            `Reshape to [${s.join(', ')}] of [${dims.join(', ')}]: only reshapes that keep the batch dimension are supported`,
          );
        return this.reshape(e, [-1, ...(target as number[])]);
      }
      case 'Squeeze':
      case 'Unsqueeze': {
        const e = this.get(n.input?.[0] ?? '');
        const dims = this.dimsOf(e);
        const axes =
          this.opset < 13 ? (A.ints('axes') ?? []) : n.input?.[1] ? Array.from(this.constIn(1, 'axes').data) : [];
        let out: number[];
        if (op === 'Squeeze') {
          const ax = axes.length
            ? axes.map((a) => (a < 0 ? a + dims.length : a))
            : dims.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
          if (ax.some((a) => dims[a] !== 1 && !(a === 0 && e.kind === 'const')))
            this.fail(`cannot squeeze axes [${ax.join(', ')}] of [${dims.join(', ')}]`);
          out = dims.filter((_, i) => !ax.includes(i));
        } else {
          const r = dims.length + axes.length;
          const ax = axes.map((a) => (a < 0 ? a + r : a));
          out = [];
          for (let i = 0, j = 0; i < r; i++) out.push(ax.includes(i) ? 1 : dims[j++]);
        }
        if (e.kind === 'const') return { ...e, dims: out };
        if (out[0] !== -1) this.fail('squeezing or unsqueezing the batch dimension is not supported');
        return this.reshape(e, out);
      }
      case 'Transpose': {
        const e = this.get(n.input?.[0] ?? '');
        const dims = this.dimsOf(e);
        const perm = A.ints('perm') ?? dims.map((_, i) => dims.length - 1 - i);
        if (e.kind === 'const') return transposeConst(e, perm);
        const v = this.materialize(e, 'input');
        const key = perm.join();
        const pdims = perm.map((p) => dims[p]);
        if (key === dims.map((_, i) => i).join()) return v;
        if (dims.length === 4 && !v.order) {
          if (v.layout === 'nchw' && key === '0,2,3,1') return { ...v, dims: pdims, layout: 'flat' };
          if (v.layout === 'flat' && key === '0,3,1,2' && this.phys(v).slice(1).join() === dims.slice(1).join())
            return { ...v, dims: pdims, layout: 'nchw' };
        }
        return this.fail(
          `Transpose perm [${perm.join(', ')}] of a [${dims.join(', ')}] tensor is not supported (NCHW↔NHWC only)`,
        );
      }
      case 'Concat': {
        const ins = (n.input ?? []).map((i) => this.get(i));
        if (ins.every((e) => e.kind === 'const'))
          return concatConst(ins as Const[], A.int('axis', 0), this.fail.bind(this));
        return this.fail('Concat of computed tensors is not supported: the Graduate runtime has no concat op');
      }
      case 'Shape': {
        const e = this.get(n.input?.[0] ?? '');
        if (e.kind !== 'const') this.fail('Shape of a computed tensor is not supported (the batch size is not known)');
        return {
          kind: 'const',
          dims: [(e as Const).dims.length],
          data: Float64Array.from((e as Const).dims),
          int: true,
        };
      }
      case 'QuantizeLinear': {
        const e = this.get(n.input?.[0] ?? '');
        if (e.kind === 'const') return this.quantizeConst(e, A);
        if (e.kind === 'quant') this.fail('input is already quantized');
        return { kind: 'quant', base: e as Val | Expr };
      }
      case 'DequantizeLinear': {
        const e = this.get(n.input?.[0] ?? '');
        if (e.kind === 'const') return this.dequantizeConst(e, A);
        if (e.kind === 'quant') return e.base;
        return this.fail(
          'DequantizeLinear of a computed tensor that no QuantizeLinear produced (an int8 graph input?)',
        );
      }
      default:
        return this.fail(
          `op is not supported by Graduate's ONNX import (supported: ${SUPPORTED_OPS.join(', ')}; com.microsoft: ${SUPPORTED_MS_OPS.join(', ')})`,
        );
    }
  }

  private convertMs(op: string, A: ReturnType<Importer['attrs']>): Entry {
    switch (op) {
      case 'FusedConv':
      case 'FusedGemm': {
        const y = op === 'FusedConv' ? this.conv(A) : this.gemm(A);
        const act = A.str('activation', '');
        const params = A.floats('activation_params') ?? [];
        const f: Record<string, (x: number) => number> = {
          Relu: (x) => Math.max(x, 0),
          LeakyRelu: (x) => (x > 0 ? x : (params[0] ?? A.float('activation_alpha', 0.01)) * x),
          Sigmoid: sigmoid,
          Tanh: Math.tanh,
        };
        if (!f[act]) this.fail(`fused activation '${act}' is not supported (Relu, LeakyRelu, Sigmoid, Tanh)`);
        if (op === 'FusedConv' && this.node.input?.[3]) this.fail('the fused sum input is not supported');
        return this.unary(f[act], y);
      }
      case 'Gelu':
        return this.unary(geluErf);
      default:
        return this.fail(`com.microsoft op is not supported (supported: ${SUPPORTED_MS_OPS.join(', ')})`);
    }
  }

  private dimsOf(e: Entry): number[] {
    if (e.kind === 'const' || e.kind === 'value') return e.dims;
    if (e.kind === 'expr') return e.base.dims;
    return this.dimsOf(e.base);
  }

  private optScalar(i: number, d: number): number {
    const name = this.node.input?.[i];
    if (!name) return d;
    const c = this.get(name);
    if (c.kind !== 'const' || c.data.length !== 1) this.fail(`input ${i} must be a constant scalar`);
    return (c as Const).data[0];
  }

  /** An elementwise function of the input, applied to the entry in `from` (default: input 0). */
  private unary(f: (x: number) => number, e: Entry = this.get(this.node.input?.[0] ?? '')): Entry {
    if (e.kind === 'const') return { ...e, data: Float32Array.from(e.data, f), int: false };
    if (e.kind === 'quant') this.fail('an int8 tensor (QuantizeLinear output) is not an input Graduate can import');
    const ex = e as Val | Expr;
    const base = ex.kind === 'expr' ? ex.base : ex;
    const g = ex.kind === 'expr' ? ex.f : (x: number) => x;
    const nodes = ex.kind === 'expr' ? ex.nodes : [];
    return { kind: 'expr', base, f: (x) => f(g(x)), nodes: [...nodes, this.nodeName] };
  }

  private binary(op: 'Add' | 'Sub' | 'Mul' | 'Div' | 'Pow'): Entry {
    const fn = {
      Add: (a: number, b: number) => a + b,
      Sub: (a: number, b: number) => a - b,
      Mul: (a: number, b: number) => a * b,
      Div: (a: number, b: number) => a / b,
      Pow: (a: number, b: number) => a ** b,
    }[op];
    const a = this.input(0) as Entry;
    const b = this.input(1) as Entry;
    if (!a || !b) this.fail('needs two inputs');
    if (a.kind === 'quant' || b.kind === 'quant')
      this.fail('an int8 tensor (QuantizeLinear output) is not an input Graduate can import');
    if (a.kind === 'const' && b.kind === 'const') return broadcastConst(a, b, fn, this.fail.bind(this));
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
          nodes: [...nodesOf(e), this.nodeName],
        };
      }
      if (op === 'Pow' || (op === 'Div' && !left)) this.fail(`${op} by a per-channel tensor is not supported`);
      // MatMul/Conv + bias: the bias joins the linear node
      const v = this.materialize(e, 'input');
      const prod0 = this.g.nodes.at(-1);
      if (
        op === 'Add' &&
        prod0?.output === v.v &&
        (prod0.op === 'linear' || prod0.op === 'conv2d') &&
        !prod0.inputs[2] &&
        (this.uses.get(this.node.input?.[left ? 0 : 1] ?? '') ?? 0) === 1
      ) {
        const bias = this.perChannel(v, c, 'bias');
        if (bias) {
          prod0.inputs.push(this.constant(`${prod0.name}.bias`, bias, [bias.length]));
          return v;
        }
      }
      const pc = this.perChannel(v, c, op);
      if (!pc)
        this.fail(
          `constant of shape [${c.dims.join(', ')}] does not broadcast per channel over [${v.dims.join(', ')}]`,
        );
      const k = pc as Float32Array;
      const C = k.length;
      const scale =
        op === 'Mul'
          ? k
          : op === 'Div'
            ? k.map((s) => 1 / s)
            : new Float32Array(C).fill(op === 'Sub' && !left ? -1 : 1);
      const shift = op === 'Add' ? k : op === 'Sub' ? (left ? k.map((s) => -s) : k) : new Float32Array(C);
      const s = this.constant(`${this.nodeName}.scale`, scale, [C]);
      const t = this.constant(`${this.nodeName}.shift`, shift, [C]);
      return { ...v, v: this.emit({ op: 'affine', inputs: [v.v, s, t], attrs: {} }, this.phys(v)) };
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
        nodes: [...nodesOf(ea), ...nodesOf(eb), this.nodeName],
      };
    }
    if (op !== 'Add') this.fail(`${op} of two computed tensors is not supported (only Add: residual connections)`);
    const va = this.materialize(ea, 'input 0');
    const vb = this.materialize(eb, 'input 1');
    if (
      va.layout !== vb.layout ||
      va.dims.join() !== vb.dims.join() ||
      this.phys(va).join() !== this.phys(vb).join() ||
      va.order !== vb.order
    )
      this.fail(
        `Add of [${va.dims.join(', ')}] and [${vb.dims.join(', ')}] (broadcasting or mixed layouts) is not supported`,
      );
    return { ...va, v: this.emit({ op: 'add', inputs: [va.v, vb.v], attrs: {} }, this.phys(va)) };
  }

  /** An NCHW-logical value (Conv, pools): its NHWC holder. */
  private nchw(e: Entry): Val {
    const v = this.materialize(e, 'input');
    if (v.dims.length !== 4) this.fail(`input must be 4-D NCHW, got [${v.dims.join(', ')}]`);
    if (v.layout !== 'nchw') this.fail('input is not in NCHW layout (a Transpose that Graduate cannot follow?)');
    return v;
  }

  /** Output size and pads [top, left, bottom, right] of a window op (auto_pad, ceil_mode). */
  private window(
    A: ReturnType<Importer['attrs']>,
    H: number,
    W: number,
    K: [number, number],
    s: [number, number],
    ceil = false,
  ) {
    const auto = A.str('auto_pad', 'NOTSET');
    let pads = (A.ints('pads') ?? [0, 0, 0, 0]) as [number, number, number, number];
    if (pads.length !== 4 || pads.some((p) => p < 0))
      this.fail(`pads [${pads.join(', ')}] must be 4 non-negative values`);
    const sizes = [H, W];
    if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
      const tot = sizes.map((d, i) => Math.max(0, (Math.ceil(d / s[i]) - 1) * s[i] + K[i] - d));
      const small = tot.map((t) => Math.floor(t / 2));
      const [a, b] =
        auto === 'SAME_UPPER' ? [small, tot.map((t, i) => t - small[i])] : [tot.map((t, i) => t - small[i]), small];
      pads = [a[0], a[1], b[0], b[1]];
    } else if (auto === 'VALID') pads = [0, 0, 0, 0];
    else if (auto !== 'NOTSET') this.fail(`auto_pad '${auto}' is not supported`);
    const out = sizes.map((d, i) => {
      const span = d + pads[i] + pads[i + 2] - K[i];
      let o = (ceil ? Math.ceil(span / s[i]) : Math.floor(span / s[i])) + 1;
      if (ceil && (o - 1) * s[i] >= d + pads[i]) o--;
      return o;
    });
    if (out.some((o) => !(o > 0))) this.fail(`window ${K.join('x')} does not fit input ${H}x${W}`);
    // ceil mode: pad the far side so the floor formula gives the same windows
    for (let i = 0; i < 2; i++) pads[i + 2] = Math.max(pads[i + 2], (out[i] - 1) * s[i] + K[i] - sizes[i] - pads[i]);
    return { OH: out[0], OW: out[1], pads };
  }

  private pair(A: ReturnType<Importer['attrs']>, k: string, d: [number, number]): [number, number] {
    const v = A.ints(k);
    if (!v) return d;
    if (v.length !== 2 || v.some((x) => !(x >= 1)))
      this.fail(`${k} [${v.join(', ')}] must be two positive integers (2-D only)`);
    return [v[0], v[1]];
  }

  private conv(A: ReturnType<Importer['attrs']>): Entry {
    const x = this.nchw(this.get(this.node.input?.[0] ?? ''));
    const w = this.constIn(1, 'weight W');
    if (w.dims.length !== 4) this.fail(`weight of shape [${w.dims.join(', ')}] (only 2-D convolutions)`);
    const [Cout, Cin, KH, KW] = w.dims;
    if (A.int('group', 1) !== 1)
      this.fail(`group ${A.int('group', 1)} (grouped/depthwise convolution) is not supported`);
    if (this.pair(A, 'dilations', [1, 1]).join() !== '1,1') this.fail('dilated convolution is not supported');
    const [, C, H, W] = x.dims;
    if (Cin !== C) this.fail(`weight expects ${Cin} input channels, the input has ${C}`);
    const stride = this.pair(A, 'strides', [1, 1]);
    const { OH, OW, pads } = this.window(A, H, W, [KH, KW], stride);
    const ours = new Float32Array(w.data.length);
    for (let co = 0; co < Cout; co++)
      for (let ci = 0; ci < Cin; ci++)
        for (let kh = 0; kh < KH; kh++)
          for (let kw = 0; kw < KW; kw++)
            ours[((kh * KW + kw) * Cin + ci) * Cout + co] = w.data[((co * Cin + ci) * KH + kh) * KW + kw];
    const inputs = [x.v, this.constant(`${this.nodeName}.weight`, ours, [KH, KW, Cin, Cout])];
    if (this.node.input?.[2]) {
      const b = this.constIn(2, 'bias B');
      if (b.data.length !== Cout) this.fail(`bias has ${b.data.length} values for ${Cout} channels`);
      inputs.push(this.constant(`${this.nodeName}.bias`, Float32Array.from(b.data), [Cout]));
    }
    const out = this.emit({ op: 'conv2d', inputs, attrs: { activation: 'none', stride, pads } }, [-1, OH, OW, Cout]);
    return { kind: 'value', v: out, dims: [-1, Cout, OH, OW], layout: 'nchw' };
  }

  private gemm(A: ReturnType<Importer['attrs']>): Entry {
    if (A.int('transA', 0)) this.fail('transA = 1 is not supported');
    const b = this.constIn(1, 'B');
    if (b.dims.length !== 2) this.fail(`B must be 2-D, got [${b.dims.join(', ')}]`);
    let w = Float32Array.from(b.data);
    let dims = b.dims;
    if (A.int('transB', 0)) {
      const [O, I] = b.dims;
      w = new Float32Array(I * O);
      for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) w[i * O + o] = b.data[o * I + i];
      dims = [I, O];
    }
    const alpha = A.float('alpha', 1);
    if (alpha !== 1) w = w.map((v) => v * alpha);
    let bias: Float32Array | undefined;
    if (this.node.input?.[2]) {
      const c = this.constIn(2, 'C');
      const beta = A.float('beta', 1);
      if (c.data.length !== 1 && c.data.length !== dims[1])
        this.fail(`C has ${c.data.length} values for ${dims[1]} outputs`);
      bias = Float32Array.from({ length: dims[1] }, (_, j) => beta * c.data[c.data.length === 1 ? 0 : j]);
    }
    return this.linear(this.get(this.node.input?.[0] ?? ''), w, dims, bias, 'Gemm');
  }

  /** y = x · W (+ bias) over x's last axis; W [in, out] in ONNX's logical feature order. */
  private linear(
    e0: Entry,
    wData: Float32Array | Float64Array,
    wDims: number[],
    bias: Float32Array | undefined,
    what: string,
  ): Entry {
    if (wDims.length !== 2) this.fail(`${what} weight must be 2-D, got [${wDims.join(', ')}]`);
    let x = this.materialize(e0, 'input');
    const [I, O] = wDims;
    if (x.layout === 'nchw' && perSample(x.dims) === x.dims[1]) x = { ...x, layout: 'flat' };
    if (x.layout !== 'flat') this.fail('input is a 4-D NCHW tensor: flatten it first');
    if (x.dims.at(-1) !== I) this.fail(`input [${x.dims.join(', ')}] does not match weight [${wDims.join(', ')}]`);
    let w = Float32Array.from(wData);
    if (x.dims.length === 2 || x.order) {
      if (x.dims.length !== 2) this.fail('a permuted (flattened NCHW) input must be 2-D');
      x = this.flatten2d(x);
      if (x.order) {
        const o = x.order;
        const pw = new Float32Array(w.length);
        for (let j = 0; j < I; j++) pw.set(w.subarray(j * O, (j + 1) * O), o[j] * O);
        w = pw;
      }
    } else if (this.phys(x).at(-1) !== I) this.fail(`input [${x.dims.join(', ')}] is not held with its features last`);
    const inputs = [x.v, this.constant(`${this.nodeName}.weight`, w, [I, O])];
    if (bias) inputs.push(this.constant(`${this.nodeName}.bias`, bias, [O]));
    const shape = [...this.phys(x).slice(0, -1), O];
    const out = this.emit({ op: 'linear', inputs, attrs: { activation: 'none' } }, shape);
    return { kind: 'value', v: out, dims: [...x.dims.slice(0, -1), O], layout: 'flat' };
  }

  private pool(op: 'MaxPool' | 'AveragePool', A: ReturnType<Importer['attrs']>): Entry {
    const x = this.nchw(this.get(this.node.input?.[0] ?? ''));
    if ((this.uses.get(this.node.output?.[1] ?? '') ?? 0) > 0) this.fail('the Indices output is not supported');
    const K = this.pair(A, 'kernel_shape', [0, 0]);
    if (!A.has('kernel_shape')) this.fail('kernel_shape is required');
    if (this.pair(A, 'dilations', [1, 1]).join() !== '1,1') this.fail('dilated pooling is not supported');
    const stride = this.pair(A, 'strides', [1, 1]);
    const [, C, H, W] = x.dims;
    const { OH, OW, pads } = this.window(A, H, W, K, stride, A.int('ceil_mode', 0) === 1);
    if (op === 'AveragePool' && A.int('count_include_pad', 0) && pads.some((p) => p > 0))
      this.fail('count_include_pad = 1 with padding is not supported (Graduate averages real cells only)');
    const out = this.emit(
      { op: op === 'MaxPool' ? 'maxpool2d' : 'avgpool2d', inputs: [x.v], attrs: { kernel: K, stride, pads } },
      [-1, OH, OW, C],
    );
    return { kind: 'value', v: out, dims: [-1, C, OH, OW], layout: 'nchw' };
  }

  /** A value relabelled to logical dims `to` (same per-sample count): flatten of NCHW keeps Graduate's NHWC order. */
  private reshape(e0: Entry, to: number[]): Val {
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

  private qParams(A: ReturnType<Importer['attrs']>, x: Const) {
    const scale = this.constIn(1, 'scale');
    const zp = this.node.input?.[2] ? this.constIn(2, 'zero point') : undefined;
    let axis = A.int('axis', 1);
    if (axis < 0) axis += x.dims.length;
    const per = scale.data.length;
    if (per !== 1 && x.dims[axis] !== per) this.fail(`${per} scales for axis ${axis} of [${x.dims.join(', ')}]`);
    const inner = prod(x.dims.slice(axis + 1));
    const ch = (i: number) => (per === 1 ? 0 : Math.floor(i / inner) % per);
    return { scale: scale.data, zp: zp?.data, ch, zpType: zp ? 'int' : 'uint8' };
  }

  private dequantizeConst(x: Const, A: ReturnType<Importer['attrs']>): Const {
    const { scale, zp, ch } = this.qParams(A, x);
    const data = Float32Array.from(x.data, (q, i) => (q - (zp ? zp[ch(i)] : 0)) * scale[ch(i)]);
    return { kind: 'const', dims: x.dims, data, int: false };
  }

  private quantizeConst(x: Const, A: ReturnType<Importer['attrs']>): Const {
    const { scale, zp, ch } = this.qParams(A, x);
    const zc = this.node.input?.[2] ? (this.get(this.node.input[2]) as Const) : undefined;
    const signed = zc ? [...zc.data].some((v) => v < 0) : false;
    const [lo, hi] = signed || !zc ? (zc ? [-128, 127] : [0, 255]) : [0, 255];
    const data = Float64Array.from(x.data, (v, i) =>
      Math.min(hi, Math.max(lo, roundEven(v / scale[ch(i)]) + (zp ? zp[ch(i)] : 0))),
    );
    return { kind: 'const', dims: x.dims, data, int: true };
  }
}

function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function resolveShape(s: number[], dims: number[], allowZero: number, fail: (m: string) => never): number[] {
  const n = prod(dims);
  const t = s.map((d, i) => (d === 0 && !allowZero ? dims[i] : d));
  const known = prod(t.filter((d) => d !== -1));
  const out = t.map((d) => (d === -1 ? n / known : d));
  if (prod(out) !== n || out.some((d) => !Number.isInteger(d) || d < 0))
    fail(`cannot reshape [${dims.join(', ')}] to [${s.join(', ')}]`);
  return out;
}

function transposeConst(c: Const, perm: number[]): Const {
  const r = c.dims.length;
  const dims = perm.map((p) => c.dims[p]);
  const stride = c.dims.map((_, i) => prod(c.dims.slice(i + 1)));
  const out = new (c.data.constructor as { new (n: number): Float32Array | Float64Array })(c.data.length);
  const idx = new Array(r).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let k = 0; k < r; k++) src += idx[k] * stride[perm[k]];
    out[o] = c.data[src];
    for (let k = r - 1; k >= 0; k--) {
      if (++idx[k] < dims[k]) break;
      idx[k] = 0;
    }
  }
  return { ...c, dims, data: out };
}

function broadcastConst(a: Const, b: Const, fn: (x: number, y: number) => number, fail: (m: string) => never): Const {
  const r = Math.max(a.dims.length, b.dims.length);
  const pa = [...new Array(r - a.dims.length).fill(1), ...a.dims];
  const pb = [...new Array(r - b.dims.length).fill(1), ...b.dims];
  const dims = pa.map((d, i) => {
    if (d !== pb[i] && d !== 1 && pb[i] !== 1)
      fail(`shapes [${a.dims.join(', ')}] and [${b.dims.join(', ')}] do not broadcast`);
    return Math.max(d, pb[i]);
  });
  const n = prod(dims);
  const int = a.int && b.int;
  const out = int ? new Float64Array(n) : new Float32Array(n);
  const sa = pa.map((d, i) => (d === 1 ? 0 : prod(pa.slice(i + 1))));
  const sb = pb.map((d, i) => (d === 1 ? 0 : prod(pb.slice(i + 1))));
  const idx = new Array(r).fill(0);
  for (let o = 0; o < n; o++) {
    let ia = 0;
    let ib = 0;
    for (let k = 0; k < r; k++) {
      ia += idx[k] * sa[k];
      ib += idx[k] * sb[k];
    }
    const v = fn(a.data[ia], b.data[ib]);
    out[o] = int ? Math.trunc(v) : v;
    for (let k = r - 1; k >= 0; k--) {
      if (++idx[k] < dims[k]) break;
      idx[k] = 0;
    }
  }
  return { kind: 'const', dims, data: out, int };
}

function concatConst(cs: Const[], axis0: number, fail: (m: string) => never): Const {
  const r = cs[0].dims.length;
  const axis = axis0 < 0 ? axis0 + r : axis0;
  if (cs.some((c) => c.dims.length !== r || c.dims.some((d, i) => i !== axis && d !== cs[0].dims[i])))
    fail('Concat inputs of mismatched shapes');
  const outer = prod(cs[0].dims.slice(0, axis));
  const dims = [...cs[0].dims];
  dims[axis] = cs.reduce((s, c) => s + c.dims[axis], 0);
  const int = cs.every((c) => c.int);
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const c of cs) {
      const inner = prod(c.dims.slice(axis));
      for (let i = 0; i < inner; i++) out.push(c.data[o * inner + i]);
    }
  }
  return { kind: 'const', dims, data: int ? Float64Array.from(out) : Float32Array.from(out), int };
}
