// A model's named tensors as its users see them: each input and output with its name (the ONNX
// name for an imported graph, else the graph's value name), the element type the model declares
// (int64, bool, …: ONNX's, kept in meta.onnx by the general import path) beside the one Graduate
// computes in (float32 or int32), and its shape with -1 for a batch axis. Also the conversions
// between what callers pass or expect (the declared type's typed array, as onnxruntime-node takes
// and returns it) and what the Session runs on. Used by InferenceModel.runNamed and by serve's
// 'tensor' models. No Node imports (the runtime bundles for browsers).
// Not for: running (session.ts) or the wire format of serve (serve/protocol.ts).
import { FormatError, fmtShape, ShapeError, ValueError } from '../errors.js';
import type { Graph } from '../graph/ir.js';
import { isBatchIo, numel } from '../graph/ir.js';
import { fromHalf } from '../shape/half.js';
import { tensorShape } from './image-input.js';

/** Element types a model may declare for its tensors (ONNX's, by onnxruntime-node's names). */
export type TensorDtype =
  | 'float32'
  | 'float16'
  | 'bfloat16'
  | 'float64'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'bool';

/** ONNX TensorProto element type numbers → names (the ones the import reads; strings and complex are refused there). */
export const ONNX_DTYPES: Readonly<Record<number, TensorDtype>> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  16: 'bfloat16',
};

/** One named input or output. */
export interface TensorInfo {
  /** The name callers use: the ONNX model's for an imported graph, else the graph value's. */
  name: string;
  /** The graph value that holds it. */
  value: string;
  /** The element type the model declares. */
  dtype: TensorDtype;
  /** What Graduate computes it in: floats as float32, every integer type and bool as int32. */
  compute: 'float32' | 'int32';
  /** Its shape: a first axis of -1 is the batch (any number of samples); otherwise fixed. */
  shape: readonly number[];
}

export interface Signature {
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** Inputs of the ONNX model fixed to a value at import (graduate import --fix-input): not inputs any more. */
  frozen: string[];
  /** Every input and output has a batch axis: requests can be stacked along it (serve's dynamic batching). */
  stackable: boolean;
}

/** The tensor is batched: its first axis is the batch. */
export const isBatched = (t: Pick<TensorInfo, 'shape'>): boolean => t.shape[0] === -1;

/** "int64 [-1, 3]" */
export const describeTensor = (t: TensorInfo): string => `${t.dtype} ${fmtShape(t.shape)}`;

interface OnnxIoRecord {
  name: string;
  value: string;
  elemType: number;
}

/** meta.onnx.inputs/outputs when they describe exactly the graph's inputs/outputs (else undefined: named by value). */
function onnxRecords(meta: unknown, key: 'inputs' | 'outputs', values: readonly string[]): OnnxIoRecord[] | undefined {
  const list = (meta as Record<string, unknown> | undefined)?.[key];
  if (!Array.isArray(list) || list.length !== values.length) return undefined;
  const ok = list.every(
    (r: unknown, i) =>
      typeof r === 'object' &&
      r !== null &&
      typeof (r as OnnxIoRecord).name === 'string' &&
      (r as OnnxIoRecord).value === values[i] &&
      Object.hasOwn(ONNX_DTYPES, (r as OnnxIoRecord).elemType),
  );
  return ok ? (list as OnnxIoRecord[]) : undefined;
}

/**
 * The named inputs and outputs of a graph. An image model's input shape is the tensor clients pass
 * (NCHW where the artifact declares it, docs/inputs.md); names are unique (a FormatError otherwise).
 */
export function graphSignature(g: Graph, source = '<graph>'): Signature {
  const meta = g.meta.onnx as Record<string, unknown> | undefined;
  const side = (values: readonly string[], key: 'inputs' | 'outputs'): TensorInfo[] => {
    const onnx = onnxRecords(meta, key, values);
    return values.map((v, i) => {
      const val = g.values[v];
      const compute = val.dtype === 'int32' ? 'int32' : 'float32';
      const dtype = onnx ? ONNX_DTYPES[onnx[i].elemType] : compute;
      let shape = [...val.shape];
      // a graph specialized to one sample takes a batch of them: its first axis is the batch
      if (isBatchIo(g, v) && shape[0] === 1) shape[0] = -1;
      if (key === 'inputs' && i === 0 && g.meta.input.kind === 'image' && val.dtype === 'float32')
        shape = [-1, ...tensorShape(g.meta.input)];
      return { name: onnx ? onnx[i].name : v, value: v, dtype, compute, shape };
    });
  };
  const inputs = side(g.inputs, 'inputs');
  const outputs = side(g.outputs, 'outputs');
  for (const list of [inputs, outputs]) {
    const seen = new Set<string>();
    for (const t of list) {
      if (seen.has(t.name)) throw new FormatError(`${source}: two tensors are named '${t.name}'`);
      seen.add(t.name);
    }
  }
  const frozen = Array.isArray(meta?.frozen) ? meta.frozen.filter((f): f is string => typeof f === 'string') : [];
  return { inputs, outputs, frozen, stackable: [...inputs, ...outputs].every(isBatched) };
}

/** Values per sample of a batched tensor, or in all of a fixed one. */
export const perSample = (t: TensorInfo): number => numel(isBatched(t) ? t.shape.slice(1) : t.shape);

/** What callers may pass for a tensor: the compute type's array, or the declared type's (as onnxruntime-node takes it). */
export type NamedInput =
  | Float32Array
  | Float64Array
  | Int32Array
  | BigInt64Array
  | BigUint64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Uint32Array;

/** What runNamed returns per output: the declared type's array (see declaredArray); the same array types. */
export type NamedOutput = NamedInput;

/** The typed array onnxruntime-node uses for each declared type (bool as Uint8Array 0/1; float16/bfloat16: see declaredArray). */
const ARRAYS: Record<TensorDtype, { name: string; make: (n: number) => NamedOutput }> = {
  float32: { name: 'Float32Array', make: (n) => new Float32Array(n) },
  float16: { name: 'Float32Array', make: (n) => new Float32Array(n) },
  bfloat16: { name: 'Float32Array', make: (n) => new Float32Array(n) },
  float64: { name: 'Float64Array', make: (n) => new Float64Array(n) },
  int8: { name: 'Int8Array', make: (n) => new Int8Array(n) },
  uint8: { name: 'Uint8Array', make: (n) => new Uint8Array(n) },
  int16: { name: 'Int16Array', make: (n) => new Int16Array(n) },
  uint16: { name: 'Uint16Array', make: (n) => new Uint16Array(n) },
  int32: { name: 'Int32Array', make: (n) => new Int32Array(n) },
  uint32: { name: 'Uint32Array', make: (n) => new Uint32Array(n) },
  int64: { name: 'BigInt64Array', make: (n) => new BigInt64Array(n) },
  uint64: { name: 'BigUint64Array', make: (n) => new BigUint64Array(n) },
  bool: { name: 'Uint8Array', make: (n) => new Uint8Array(n) },
};

/** The typed arrays an input accepts, for messages: "BigInt64Array or Int32Array". */
export function acceptedArrays(t: TensorInfo): string {
  const names = new Set([ARRAYS[t.dtype].name, t.compute === 'int32' ? 'Int32Array' : 'Float32Array']);
  if (t.dtype === 'float16') names.add('Uint16Array (half bits)');
  return [...names].join(' or ');
}

/**
 * A caller's array for input `t` in its compute type. Accepts the compute type's array and the
 * declared type's (BigInt64Array for int64, Uint8Array for bool and uint8, Uint16Array half bits
 * for float16, …); integers must fit int32 (Graduate computes integers in int32): a ValueError
 * names the input and the first value that does not.
 */
export function toCompute(t: TensorInfo, data: unknown, what = `input '${t.name}'`): Float32Array | Int32Array {
  const got = (data as object | null)?.constructor?.name ?? typeof data;
  const refuse = () =>
    new ValueError(
      `${what} (${describeTensor(t)}): expected a ${acceptedArrays(t)}, got ${data === null ? 'null' : got}`,
    );
  if (t.compute === 'float32') {
    if (data instanceof Float32Array) return data;
    if (t.dtype === 'float64' && data instanceof Float64Array) return Float32Array.from(data);
    if (t.dtype === 'float16' && data instanceof Uint16Array) return Float32Array.from(data, fromHalf);
    throw refuse();
  }
  if (data instanceof Int32Array) return data;
  const declared = ARRAYS[t.dtype].name;
  if (!ArrayBuffer.isView(data) || data.constructor.name !== declared) throw refuse();
  const src = data as unknown as ArrayLike<number | bigint>;
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = Number(src[i]);
    if (!(v >= -(2 ** 31) && v < 2 ** 31))
      throw new ValueError(`${what}: [${i}] = ${src[i]} does not fit int32 (Graduate computes integers in int32)`);
    out[i] = v;
  }
  return out;
}

/**
 * A computed output in its declared type's array, as onnxruntime-node returns it: int64 as
 * BigInt64Array, bool as Uint8Array (0/1), other integers as their own arrays, float64 as
 * Float64Array. float16 and bfloat16 come back as Float32Array (the values, which the graph
 * rounded to half precision; onnxruntime-node gives Uint16Array bits there).
 */
export function declaredArray(t: TensorInfo, data: Float32Array | Int32Array): NamedOutput {
  if (t.dtype === 'float32' || t.dtype === 'float16' || t.dtype === 'bfloat16' || t.dtype === 'int32') return data;
  const out = ARRAYS[t.dtype].make(data.length);
  if (out instanceof BigInt64Array || out instanceof BigUint64Array)
    for (let i = 0; i < data.length; i++) out[i] = BigInt(data[i]);
  else if (t.dtype === 'bool') for (let i = 0; i < data.length; i++) out[i] = data[i] ? 1 : 0;
  else out.set(data);
  return out;
}

/**
 * The batch of a set of inputs: `batch` if given, else what the batched inputs' lengths say (1
 * when none is batched); each input's length checked against it. Errors name the input, its
 * length and the shape expected.
 */
export function feedBatch(inputs: readonly TensorInfo[], lengths: readonly number[], batch?: number): number {
  let n = batch;
  if (n !== undefined && (!Number.isInteger(n) || n < 1))
    throw new ShapeError(`batch ${n}: expected a positive integer`);
  inputs.forEach((t, i) => {
    const per = perSample(t);
    const len = lengths[i];
    if (!isBatched(t)) {
      if (len !== per)
        throw new ShapeError(
          `input '${t.name}' has ${len} values, expected ${fmtShape(t.shape)} = ${per} (a fixed shape)`,
        );
      return;
    }
    const inner = fmtShape(t.shape.slice(1));
    if (n === undefined) {
      if (per === 0 || len % per !== 0 || len === 0)
        throw new ShapeError(
          `input '${t.name}' has ${len} values, expected a batch of samples ${inner} (a multiple of ${per})`,
        );
      n = len / per;
    } else if (len !== n * per)
      throw new ShapeError(
        `input '${t.name}' has ${len} values, expected ${n} × ${inner} = ${n * per} (shape ${fmtShape(t.shape)}, batch ${n})`,
      );
  });
  return n ?? 1;
}
