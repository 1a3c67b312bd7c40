// The Open Inference Protocol (KServe v2) for 'tensor' models — graphs imported by the general ONNX
// path: any number of named inputs and outputs of the datatypes the model declares (FP32, INT64,
// BOOL, …), batched ([-1, …]) or of fixed shape. Validates an infer request (JSON or binary tensor
// data, several inputs), converts each tensor into what Graduate computes in (float32, int32), and
// shapes the response: every output, or those asked for, in its declared datatype, as JSON or as
// binary data. Errors are 400s naming the input.
// Not for: one-tensor models (protocol.ts: image, tabular and text models), routing (server.ts).
import { fmtShape } from '../errors.js';
import { numel } from '../graph/ir.js';
import { firstNonFinite } from '../io/fields.js';
import { flattenNested, jsonTensor } from '../io/values.js';
import { isBatched, type Signature, type TensorDtype, type TensorInfo } from '../runtime/signature.js';
import { fromHalf, toHalf } from '../shape/half.js';
import { HttpError } from './protocol.js';
import type { ModelEntry } from './repository.js';

const bad = (message: string) => new HttpError(400, message);

/** KServe v2 datatypes of the types a model declares. */
export const DATATYPES: Readonly<Record<TensorDtype, string>> = {
  float32: 'FP32',
  float16: 'FP16',
  bfloat16: 'BF16',
  float64: 'FP64',
  int8: 'INT8',
  uint8: 'UINT8',
  int16: 'INT16',
  uint16: 'UINT16',
  int32: 'INT32',
  uint32: 'UINT32',
  int64: 'INT64',
  uint64: 'UINT64',
  bool: 'BOOL',
};

type Element = number | bigint;
/** Bytes per element and the little-endian reader/writer of each datatype in binary tensor data. */
const CODECS: Record<
  string,
  { bytes: number; get: (d: DataView, o: number) => Element; set: (d: DataView, o: number, v: number) => void }
> = {
  FP32: { bytes: 4, get: (d, o) => d.getFloat32(o, true), set: (d, o, v) => d.setFloat32(o, v, true) },
  FP64: { bytes: 8, get: (d, o) => d.getFloat64(o, true), set: (d, o, v) => d.setFloat64(o, v, true) },
  FP16: { bytes: 2, get: (d, o) => fromHalf(d.getUint16(o, true)), set: (d, o, v) => d.setUint16(o, toHalf(v), true) },
  BF16: {
    bytes: 2,
    get: (d, o) => new Float32Array(Uint32Array.of(d.getUint16(o, true) << 16).buffer)[0],
    set: (d, o, v) => d.setUint16(o, new Uint32Array(Float32Array.of(v).buffer)[0] >>> 16, true),
  },
  INT8: { bytes: 1, get: (d, o) => d.getInt8(o), set: (d, o, v) => d.setInt8(o, v) },
  UINT8: { bytes: 1, get: (d, o) => d.getUint8(o), set: (d, o, v) => d.setUint8(o, v) },
  BOOL: { bytes: 1, get: (d, o) => (d.getUint8(o) ? 1 : 0), set: (d, o, v) => d.setUint8(o, v ? 1 : 0) },
  INT16: { bytes: 2, get: (d, o) => d.getInt16(o, true), set: (d, o, v) => d.setInt16(o, v, true) },
  UINT16: { bytes: 2, get: (d, o) => d.getUint16(o, true), set: (d, o, v) => d.setUint16(o, v, true) },
  INT32: { bytes: 4, get: (d, o) => d.getInt32(o, true), set: (d, o, v) => d.setInt32(o, v, true) },
  UINT32: { bytes: 4, get: (d, o) => d.getUint32(o, true), set: (d, o, v) => d.setUint32(o, v, true) },
  INT64: { bytes: 8, get: (d, o) => d.getBigInt64(o, true), set: (d, o, v) => d.setBigInt64(o, BigInt(v), true) },
  UINT64: { bytes: 8, get: (d, o) => d.getBigUint64(o, true), set: (d, o, v) => d.setBigUint64(o, BigInt(v), true) },
};

/** The datatypes an input takes: its declared one, and the one Graduate computes it in (INT64 too for integers). */
export function acceptedDatatypes(t: TensorInfo): string[] {
  const extra = t.compute === 'int32' ? ['INT32', 'INT64'] : ['FP32'];
  return [...new Set([DATATYPES[t.dtype], ...(t.dtype === 'bool' ? [] : extra)])];
}

/** The protocol's view of a tensor: name, datatype, shape (-1: the batch axis). */
const describe = (t: TensorInfo) => ({ name: t.name, datatype: DATATYPES[t.dtype], shape: [...t.shape] });
const signatureLine = (t: TensorInfo) => `'${t.name}' ${DATATYPES[t.dtype]} ${fmtShape(t.shape)}`;

/** Model metadata (GET /v2/models/{name}) of a 'tensor' model. */
export function namedMetadata(m: ModelEntry, sig: Signature, versions: string[]) {
  return {
    name: m.name,
    versions,
    platform: 'graduate',
    inputs: sig.inputs.map(describe),
    outputs: sig.outputs.map(describe),
    parameters: {
      input_kind: 'tensor',
      input_preprocessing: 'none: named tensors are taken as they are',
      // requests are stacked along the batch axis only when every input and output has one
      dynamic_batching: sig.stackable,
      ...(sig.frozen.length > 0 && { frozen_inputs: sig.frozen }),
    },
  };
}

/** A validated infer request of a 'tensor' model: its inputs in the graph's order, in their compute types. */
export interface NamedInferInput {
  id?: string;
  tensors: (Float32Array | Int32Array)[];
  /** Samples of the batched inputs (1 when none is batched). */
  batch: number;
  /** The outputs to answer with (graph index; binary data or JSON). */
  outputs: { index: number; binary: boolean }[];
}

/** Checks a KServe v2 infer request against a 'tensor' model; throws HttpError 400 naming what is wrong. */
export function parseNamedRequest(
  m: ModelEntry,
  sig: Signature,
  body: unknown,
  maxSamples: number,
  binary?: Uint8Array,
): NamedInferInput {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { inputs?: unknown }).inputs))
    throw bad(`request body: expected a JSON object with an "inputs" array`);
  const req = body as { id?: unknown; inputs: unknown[]; parameters?: unknown; outputs?: unknown };
  const takes = `model '${m.name}' takes ${sig.inputs.map(signatureLine).join(', ') || 'no inputs'}`;
  const given = new Map<number, Record<string, unknown>>();
  for (const [i, t] of req.inputs.entries()) {
    const name = (t as { name?: unknown } | null)?.name;
    if (typeof name !== 'string') throw bad(`inputs[${i}]: expected an object with a "name"`);
    const k = sig.inputs.findIndex((x) => x.name === name);
    if (k < 0) throw bad(`unknown input '${name}': ${takes}`);
    if (given.has(k)) throw bad(`input '${name}' appears twice`);
    given.set(k, t as Record<string, unknown>);
  }
  const missing = sig.inputs.filter((_, k) => !given.has(k));
  if (missing.length)
    throw bad(`missing input${missing.length > 1 ? 's' : ''} ${missing.map(signatureLine).join(', ')}: ${takes}`);

  // shapes and datatypes first (the batch follows from them), then the data
  let batch: number | undefined;
  let batchFrom = '';
  const shapes = sig.inputs.map((t, k) => {
    const tensor = given.get(k) as Record<string, unknown>;
    const what = `input '${t.name}'`;
    const ok = acceptedDatatypes(t);
    if (typeof tensor.datatype !== 'string' || !ok.includes(tensor.datatype))
      throw bad(
        `${what}: datatype ${JSON.stringify(tensor.datatype)} is not accepted; the model takes ${ok.join(' or ')} ${fmtShape(t.shape)}`,
      );
    const shape = tensor.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
      throw bad(`${what}: "shape" must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    const fits =
      shape.length === t.shape.length && shape.every((d, i) => (i === 0 && isBatched(t) ? d >= 1 : d === t.shape[i]));
    if (!fits) throw bad(`${what}: shape ${fmtShape(shape)} does not match the model's ${fmtShape(t.shape)}`);
    if (isBatched(t)) {
      if (batch === undefined) {
        batch = shape[0] as number;
        batchFrom = t.name;
      } else if (shape[0] !== batch)
        throw bad(`${what}: batch ${shape[0]} differs from input '${batchFrom}''s batch ${batch}`);
      if (batch > maxSamples)
        throw bad(`${what}: batch ${batch} is over this server's limit of ${maxSamples} per request`);
    }
    return shape as number[];
  });

  let offset = 0;
  const tensors = sig.inputs.map((t, k) => {
    const tensor = given.get(k) as Record<string, unknown>;
    const what = `input '${t.name}'`;
    const datatype = tensor.datatype as string;
    const shape = shapes[k];
    const n = numel(shape);
    const size = (tensor.parameters as { binary_data_size?: unknown } | undefined)?.binary_data_size;
    if (size === undefined) return jsonData(t, tensor.data, datatype, shape, what);
    if (!binary)
      throw bad(`${what}: parameters.binary_data_size needs a binary body (header Inference-Header-Content-Length)`);
    const need = n * CODECS[datatype].bytes;
    if (size !== need)
      throw bad(
        `${what}: binary_data_size ${JSON.stringify(size)}; shape ${fmtShape(shape)} of ${datatype} needs ${need} bytes`,
      );
    if (offset + need > binary.length)
      throw bad(
        `${what}: the body holds ${binary.length - offset} bytes of tensor data for it after the header and the inputs before it, expected ${need}`,
      );
    const data = binaryData(t, binary.subarray(offset, offset + need), datatype, n, what);
    offset += need;
    return data;
  });
  if (binary && offset !== binary.length)
    throw bad(
      `the body holds ${binary.length} bytes of tensor data after the header; the inputs' binary_data_size add up to ${offset}`,
    );

  const out: NamedInferInput = { tensors, batch: batch ?? 1, outputs: [] };
  if (typeof req.id === 'string') out.id = req.id;
  const allBinary = (req.parameters as { binary_data_output?: unknown } | undefined)?.binary_data_output === true;
  if (req.outputs === undefined) out.outputs = sig.outputs.map((_, index) => ({ index, binary: allBinary }));
  else {
    if (!Array.isArray(req.outputs)) throw bad(`"outputs": expected an array of {"name": ...}`);
    for (const o of req.outputs as ({ name?: unknown; parameters?: { binary_data?: unknown } } | null)[]) {
      const index = sig.outputs.findIndex((t) => t.name === o?.name);
      if (index < 0)
        throw bad(
          `unknown output ${JSON.stringify(o?.name)}: model '${m.name}' has ${sig.outputs.map(signatureLine).join(', ')}`,
        );
      const flag = o?.parameters?.binary_data;
      out.outputs.push({ index, binary: typeof flag === 'boolean' ? flag : allBinary });
    }
  }
  return out;
}

/** A JSON tensor's "data" (flat, or nested as its shape) in the input's compute type; BOOL takes true/false. */
function jsonData(
  t: TensorInfo,
  raw: unknown,
  datatype: string,
  shape: readonly number[],
  what: string,
): Float32Array | Int32Array {
  const n = numel(shape);
  let data = raw;
  if (datatype === 'BOOL' && Array.isArray(raw)) {
    const flat = flattenNested(raw, shape.length);
    if (!flat) throw bad(`${what}: data nests deeper than its shape ${fmtShape(shape)} (${shape.length} levels)`);
    const i = flat.findIndex((v) => typeof v !== 'boolean' && v !== 0 && v !== 1);
    if (i >= 0) throw bad(`${what}: data[${i}] = ${JSON.stringify(flat[i])} is not a BOOL (true or false)`);
    data = flat.map(Number);
  }
  return jsonTensor(
    what,
    data,
    {
      dtype: t.compute,
      maxDepth: Math.max(shape.length, 1),
      depthOf: `its shape ${fmtShape(shape)}`,
      checkCount: (count) =>
        count === n ? undefined : `"data" has ${count} values; shape ${fmtShape(shape)} needs ${n}`,
    },
    bad,
  );
}

/** Binary tensor data of `datatype` (little-endian) in the input's compute type: integers must fit int32, floats be finite. */
function binaryData(
  t: TensorInfo,
  bytes: Uint8Array,
  datatype: string,
  n: number,
  what: string,
): Float32Array | Int32Array {
  const { bytes: size, get } = CODECS[datatype];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (t.compute === 'float32') {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = get(view, i * size) as number;
    const i = firstNonFinite(out);
    if (i >= 0) throw bad(`${what}: data[${i}] = ${out[i]} is not a finite number`);
    return out;
  }
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = get(view, i * size);
    if (!(v >= -(2 ** 31) && v < 2 ** 31))
      throw bad(`${what}: data[${i}] = ${v} does not fit int32 (Graduate computes integers in int32)`);
    out[i] = Number(v);
  }
  return out;
}

/**
 * The infer response of a 'tensor' model: each output asked for, [batch, …] or its fixed shape, in
 * its declared datatype; as JSON "data", or as binary data after the JSON header (`binary` parts,
 * in the outputs' order). A non-finite float asked for as JSON is a 422 naming the output (JSON
 * has no NaN; binary data carries it).
 */
export function namedResponse(
  m: ModelEntry,
  sig: Signature,
  req: NamedInferInput,
  results: readonly (Float32Array | Int32Array)[],
): { body: Record<string, unknown>; binary: Uint8Array[] } {
  const binary: Uint8Array[] = [];
  const outputs = req.outputs.map(({ index, binary: asBinary }) => {
    const t = sig.outputs[index];
    const data = results[index];
    const datatype = DATATYPES[t.dtype];
    const shape = isBatched(t) ? [req.batch, ...t.shape.slice(1)] : [...t.shape];
    if (asBinary) {
      const { bytes, set } = CODECS[datatype];
      const buf = new Uint8Array(data.length * bytes);
      const view = new DataView(buf.buffer);
      for (let i = 0; i < data.length; i++) set(view, i * bytes, data[i]);
      binary.push(buf);
      return { name: t.name, datatype, shape, parameters: { binary_data_size: buf.length } };
    }
    const bad = data instanceof Float32Array ? firstNonFinite(data) : -1;
    if (bad >= 0)
      throw new HttpError(
        422,
        `model '${m.name}' version ${m.version}: output '${t.name}'[${bad}] = ${data[bad]} is not finite; JSON has no NaN or Infinity: ask for it as binary data (outputs[].parameters.binary_data)`,
      );
    const values = datatype === 'BOOL' ? Array.from(data, (v) => v !== 0) : Array.from(data);
    return { name: t.name, datatype, shape, data: values };
  });
  const body = {
    model_name: m.name,
    model_version: m.version,
    ...(req.id !== undefined ? { id: req.id } : {}),
    outputs,
  };
  return { body, binary };
}
