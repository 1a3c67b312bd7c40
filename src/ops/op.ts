// What an op definition is made of. Every op of Graduate — eager autograd, graph IR, runtime,
// compiler passes, ONNX — is one `OpDef` in the registry (registry.ts), written once in its family
// file (elementwise.ts, matmul.ts, …). The consumers see an op only through these parts:
//   infer   shape + dtype rule over shapes (eager apply, IR validation and shape inference, capture)
//   check   what the IR validator adds for files (attribute types, constants, int8 rules)
//   forward the computation over backend buffers (eager, the reference oracle, the runtime default)
//   vjp     the input gradients (eager training); null where an op has none
//   rowVjp  a table input's gradient as the rows it touches (sparse embedding training)
//   run     the runtime's step when it must differ from forward (pre-packed weights, int8)
//   traits  what compiler passes ask (epilogue fusion, views, batch independence)
//   onnx    the ONNX export mapping; null where an op is not exportable
// This folder reaches only backend/ (the device interface), shape/ and the root files: the parts
// that consumers supply (tensors, graph values, planners, ONNX builders) are interfaces below.
import type { Backend, Buf, InferenceBackend, Prepared } from '../backend/backend.js';

export type DType = 'float32' | 'int32' | 'int8';
export type Shape = readonly number[];

/** A shape and dtype: what shape rules see (the IR's batch axis may be -1). */
export interface Info {
  readonly shape: Shape;
  readonly dtype: DType;
}

/** A buffer with its shape and dtype: what forward computes over (tensors and arena values alike). */
export interface Arg extends Info {
  readonly buf: Buf;
}

/** A tensor as a vjp sees it: an Arg that can be viewed, read and released. */
export interface Ref extends Arg {
  readonly size: number;
  readonly rank: number;
  reshapeView(shape: Shape): Ref;
  data(): Float32Array | Int32Array | Int8Array;
  item(): number;
  describe(): string;
  dispose(): void;
}

/**
 * Where forward runs: the backend and temporaries (eager: tensors saved for the vjp; runtime: freed
 * after the step). Forward kernels only (InferenceBackend): the runtime runs forward too.
 */
export interface Exec {
  readonly backend: InferenceBackend;
  temp(shape: Shape, dtype?: DType): Arg;
}

/** What a vjp may do: allocate result tensors on the op's backend. */
export interface Grad {
  readonly backend: Backend;
  alloc(shape: Shape, dtype?: DType): Ref;
}

export type Vjp<A> = (
  g: Grad,
  ins: readonly Ref[],
  out: Ref,
  saved: readonly Ref[],
  dOut: Ref,
  a: A,
  needs: readonly boolean[],
) => (Ref | null)[];

/**
 * The gradient of table input `input` ([V, D]) as the rows it touches: rows sorted and unique,
 * values[rows.length, D] (see RowGrad in tensor/tensor.ts); for parameters that ask for it.
 */
export interface RowVjp<A> {
  readonly input: number;
  vjp(g: Grad, ins: readonly Ref[], dOut: Ref, a: A): { rows: Int32Array; values: Ref };
}

/** A constant (weight) as the IR validator and the runtime see it. */
export interface ConstInfo {
  readonly shape: readonly number[];
  readonly dtype: 'float32' | 'float16' | 'int8' | 'int32';
  readonly data: Float32Array | Uint16Array | Int8Array | Int32Array;
  readonly quant?: { scale: number[]; zeroPoint: number[]; axis?: number };
}

/** A graph value (activation) as the IR validator and the runtime see it; shape[0] is the batch (-1). */
export interface ValueInfo extends Info {
  readonly quant?: { scale: number[]; zeroPoint: number[] };
}

/** A node as its op's parts see it. */
export interface NodeView<A> {
  readonly name: string;
  readonly inputs: readonly string[];
  readonly output: string;
  readonly attrs: A;
}

/** The IR validator's view of one node (see graph/validate.ts): errors name the node and field. */
export interface CheckCtx<A> {
  readonly n: NodeView<A>;
  /** Throws a FormatError naming the graph, the node and `msg`. */
  bad(msg: string): never;
  /** Input i as a value (bad() when it is a constant). */
  value(i: number): ValueInfo;
  /** Input i as a constant (bad() when it is a value). */
  constant(i: number): ConstInfo;
  /** Whether input i is a constant. */
  isConstant(i: number): boolean;
  /** A value of the graph by name (residual epilogues), or undefined. */
  valueNamed(name: string): ValueInfo | undefined;
  readonly out: ValueInfo;
}

/** A runtime step over the plan's buffers: N is the tile's batch. */
export type Step = (N: number) => void;

/** What the runtime (runtime/session.ts) offers an op's `run`. */
export interface PlanCtx {
  readonly backend: InferenceBackend;
  value(name: string): ValueInfo;
  constantInfo(name: string): ConstInfo | undefined;
  /** Arena address of a value (fixed for the session). */
  buf(value: string): Buf;
  /** A constant copied once into backend memory (float16 widened). */
  constant(name: string): Buf;
  /** Float weights [..., Cin, Cout] prepared once as GEMM B[prod(...Cin), Cout]. */
  weights(name: string): Prepared;
  /** Registers prepared weights for release with the session. */
  own(p: Prepared): Prepared;
  /** Session options the kernels choose by. */
  readonly options: { winograd: boolean };
}

/**
 * ONNX export context (onnx/export.ts implements it). Layout convention: 4-D values are NCHW in
 * the ONNX graph (its Conv and pools; order 'onnx'), everything else keeps Graduate's order. Ops
 * whose attributes name axes ask for, and bind, order 'graduate' (NHWC): the exporter transposes.
 */
export type OnnxOrder = 'onnx' | 'graduate';
export interface OnnxCtx {
  /** Adds a node; returns its output name (or `output`). */
  node(op: string, inputs: string[], name: string, attrs?: OnnxAttr[], output?: string): string;
  /** Adds an initializer (float32 unless `dt` or the array type says otherwise); returns its name. */
  tensor(
    base: string,
    dims: number[],
    data: Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array | number[],
    dt?: number,
  ): string;
  /** The float ONNX tensor of a value (DequantizeLinear inserted when it is int8). */
  float(value: string, at: string, order?: OnnxOrder): string;
  /** The ONNX tensor of a value as it is (int8 stays quantized). */
  raw(value: string, order?: OnnxOrder): string;
  /** The order a value is held in (elementwise ops keep it: no transposes around them). */
  order(value: string): OnnxOrder;
  /** Binds a float ONNX result to a value (QuantizeLinear inserted when the value is int8). */
  bind(value: string, onnxName: string, at: string, order?: OnnxOrder): void;
  /** Binds an ONNX tensor to a value as it is (views, quantize/dequantize). */
  set(value: string, onnxName: string, order?: OnnxOrder): void;
  /** An int64 initializer (shapes, axes). */
  ints(base: string, values: readonly number[]): string;
  /** An activation applied to an ONNX tensor (epilogues; 'none' returns x). */
  activation(fn: string, x: string, at: string, alpha?: number): string;
  value(name: string): ValueInfo;
  isConstant(name: string): boolean;
  constant(name: string): ConstInfo;
  /** Float data of a constant (float16 widened). */
  floatData(name: string): Float32Array;
  /**
   * The node computing a value (undefined for inputs and constants), for exports that fold their
   * producer into one ONNX node (rnnscan takes its x-projection into the GRU's W); the exporter
   * drops ONNX nodes nothing reads.
   */
  producer(value: string): (NodeView<unknown> & { readonly op: string }) | undefined;
  /** ONNX data type codes. */
  readonly DT: { FLOAT: number; UINT8: number; INT8: number; INT32: number; INT64: number };
}
export type OnnxAttr = { name: string } & ({ i: number } | { f: number } | { ints: number[] } | { s: string });

export interface OpTraits {
  /** Output shares input 0's memory (no kernel): reshape, flatten, dropout. */
  view?: boolean;
  /** conv2d / linear: a following activation (and residual add) may be fused into the epilogue. */
  epilogue?: boolean;
  /** Elementwise activation that an epilogue can absorb. */
  activation?: boolean;
  /** Only training needs it (inference: identity); the eliminate pass removes it. */
  trainingOnly?: boolean;
  /** Channel c of the output depends only on channel c (last axis) of input 0: channel pruning passes through. */
  perChannel?: boolean;
  /**
   * Output element i depends only on the inputs' elements at i (after broadcasting): a transpose of
   * every input commutes with the op (the transposes pass moves transposes through it).
   */
  elementwise?: boolean;
}

export interface OpDef<A> {
  /** Allowed numbers of inputs [min, max]. */
  readonly arity: readonly [number, number];
  /** Output shape and dtype; throws ShapeError naming the op and the shapes. */
  infer(ins: readonly Info[], a: A): Info;
  /** Eager value checks that need data (label ranges, token ids); throws ValueError. */
  checkValues?(ins: readonly Ref[], a: A): void;
  /** IR rules beyond infer for graphs from files (attribute ranges, constants, dtypes, int8). */
  check(c: CheckCtx<A>): void;
  /** Writes out; returns temporaries the vjp needs (eager keeps them with the output). Unused for views. */
  forward(x: Exec, ins: readonly Arg[], out: Arg, a: A): readonly Arg[] | undefined;
  vjp: Vjp<A> | null;
  /** Row-sparse gradient of a table input (embedding ops), used for leaves with sparseGrad. */
  rowVjp?: RowVjp<A>;
  /** The runtime's step; undefined: the default (forward over the arena with shapes [N, ...]; views: none). */
  run?(p: PlanCtx, n: NodeView<A>): Step | undefined;
  readonly traits: OpTraits;
  /** ONNX export of the node (null: not exportable; the exporter names the op). */
  onnx: ((o: OnnxCtx, n: NodeView<A>) => void) | null;
}
