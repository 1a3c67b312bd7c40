// The Open Inference Protocol (KServe v2) in JSON: validating an infer request against a model's
// signature (errors name the tensor, its shape or its datatype) and shaping the responses.
// Not for: routing or batching (server.ts, batcher.ts).
import { fmtShape, GraduateError } from '../errors.js';
import { firstBadTokenId, numel } from '../graph/ir.js';
import { firstNonFinite } from '../io/fields.js';
import { jsonTensor } from '../io/values.js';
import { describePreparation, inputPreparation } from '../runtime/image-input.js';
import { topClasses } from '../runtime/index.js';
import type { Outcome } from './metrics.js';
import type { ModelEntry, TensorSignature } from './repository.js';

/** An error answered with an HTTP status and {"error": message}. */
export class HttpError extends GraduateError {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly outcome: Outcome = status === 404 ? 'not_found' : status < 500 ? 'bad_request' : 'error',
  ) {
    super(message);
  }
}

/** A 400 with `message`. */
export const bad = (message: string): HttpError => new HttpError(400, message);

/** A validated infer request: the model's prepared samples. */
export interface InferInput {
  id?: string;
  data: Float32Array | Int32Array;
  batch: number;
  /** Add a 'labels' output with the top-k classes of each sample. */
  topK?: number;
  /** Outputs the client asked for (default: all). */
  outputs?: string[];
  /** data holds mono samples [batch, samples] at this rate (the 'waveform' input): a worker featurises them. */
  sampleRate?: number;
  /** A text model's strings (a BYTES input), `batch` of them: a worker tokenises them into data. */
  texts?: string[];
}

/** The protocol shape of a tensor: batch dimension -1. */
export const protocolShape = (t: TensorSignature): number[] => [-1, ...t.shape];

/** Model metadata (GET /v2/models/{name}[/versions/{v}]). */
export function modelMetadata(m: ModelEntry, versions: string[]) {
  const tensor = (t: TensorSignature) => ({ name: t.name, datatype: t.datatype, shape: protocolShape(t) });
  return {
    name: m.name,
    versions,
    platform: 'graduate',
    inputs: [tensor(m.input)],
    outputs: [tensor(m.output)],
    parameters: { input_kind: m.spec.kind, class_names: m.classNames, ...preprocessingParameters(m) },
  };
}

/**
 * The model's input contract as metadata parameters (docs/inputs.md): the tensor a client sends
 * is the prepared one, input_preprocessing says how it is made from raw pixels or features
 * (image uploads are prepared by the server so). Text models take token ids: nothing to state.
 */
export function preprocessingParameters(m: ModelEntry): Record<string, string | number | number[]> {
  if (m.spec.kind === 'text') return { input_preprocessing: describePreparation(m.spec) };
  const p = inputPreparation(m.spec);
  return {
    input_preprocessing: `tensors are prepared: ${describePreparation(m.spec)}`,
    input_scale: p.scale,
    ...(p.mean && { input_mean: p.mean }),
    ...(p.std && { input_std: p.std }),
    ...(p.layout && { input_layout: p.layout }),
  };
}

/**
 * An audio model's second input name: raw mono float PCM that the server featurises (serve/audio.ts),
 * beside the graph's input of prepared features.
 */
export const WAVEFORM_INPUT = 'waveform';

/** A text model's second input name: strings (BYTES) that the server tokenises (serve/text.ts). */
export const TEXT_INPUT = 'text';

/** Checks a JSON infer request body against the model; throws HttpError 400 naming what is wrong. */
export function parseInferRequest(m: ModelEntry, body: unknown, maxSamples: number, binary?: Uint8Array): InferInput {
  const want = m.input;
  const { req, tensor } = requestTensor(m, body, [want.name]);
  const what = `input '${want.name}'`;
  if (tensor.datatype !== want.datatype)
    throw bad(`${what}: datatype ${JSON.stringify(tensor.datatype)} is not accepted; the model takes ${want.datatype}`);
  const shape = tensor.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
    throw bad(`${what}: "shape" must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  if (shape.length !== want.shape.length + 1 || shape.some((d, k) => k > 0 && d !== want.shape[k - 1]) || shape[0] < 1)
    throw bad(`${what}: shape ${fmtShape(shape)} does not match the model's ${fmtShape(protocolShape(want))}`);
  const batch = shape[0] as number;
  if (batch > maxSamples) throw bad(`${what}: batch ${batch} is over this server's limit of ${maxSamples} per request`);
  const data = tensorData(tensor, binary, shape, want.datatype, what);
  // checked here, per request: in the worker a bad id would fail every request of its batch
  const badId = want.tokenIds === undefined ? -1 : firstBadTokenId(data, want.tokenIds);
  if (badId >= 0)
    throw bad(
      `${what}: data[${badId}] = ${data[badId]} is not a token id of this model (ids lie in [-1, ${want.tokenIds}))`,
    );
  return requestOptions(m, req, { data, batch });
}

/** An infer request's fields around its one input tensor. */
export interface RequestBody {
  id?: unknown;
  inputs: unknown[];
  parameters?: unknown;
  outputs?: unknown;
}

/**
 * The request's one input tensor, whose name must be one of `names` (the first is the model's
 * input; an audio model also takes WAVEFORM_INPUT); 400s name what is missing, unknown or doubled.
 */
export function requestTensor(
  m: ModelEntry,
  body: unknown,
  names: readonly string[],
): { req: RequestBody; tensor: Record<string, unknown> } {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { inputs?: unknown }).inputs))
    throw bad(`request body: expected a JSON object with an "inputs" array`);
  const req = body as RequestBody;
  const signature = `${m.input.datatype} ${fmtShape(protocolShape(m.input))}`;
  const waveform =
    m.spec.kind === 'audio'
      ? `, or '${WAVEFORM_INPUT}' FP32 [samples] or [clips, samples]: mono samples`
      : m.spec.kind === 'text'
        ? `, or '${TEXT_INPUT}' BYTES [texts]: strings`
        : '';
  let tensor: Record<string, unknown> | undefined;
  for (const [i, t] of req.inputs.entries()) {
    const name = (t as { name?: unknown } | null)?.name;
    if (typeof name !== 'string') throw bad(`inputs[${i}]: expected an object with a "name"`);
    if (!names.includes(name))
      throw bad(`unknown input '${name}': model '${m.name}' takes one input '${m.input.name}' ${signature}${waveform}`);
    if (tensor?.name === name) throw bad(`input '${name}' appears twice`);
    if (tensor) throw bad(`model '${m.name}' takes one input, got '${tensor.name}' and '${name}'`);
    tensor = t as Record<string, unknown>;
  }
  if (!tensor) throw bad(`missing input '${m.input.name}' (${signature}${waveform}) for model '${m.name}'`);
  return { req, tensor };
}

/** A tensor's data, JSON or binary (parameters.binary_data_size), exactly as many values as `shape` holds. */
export function tensorData(
  tensor: Record<string, unknown>,
  binary: Uint8Array | undefined,
  shape: readonly number[],
  datatype: 'FP32' | 'INT32',
  what: string,
): Float32Array | Int32Array {
  const size = (tensor.parameters as { binary_data_size?: unknown } | undefined)?.binary_data_size;
  return size === undefined
    ? flatData(tensor.data, numel(shape), datatype, what, shape)
    : binaryData(binary, size, numel(shape), datatype, what, shape);
}

/** The request's id, parameters.top_k and "outputs", checked, added to `out`. */
export function requestOptions(m: ModelEntry, req: RequestBody, out: InferInput): InferInput {
  if (typeof req.id === 'string') out.id = req.id;
  const topK = (req.parameters as { top_k?: unknown } | undefined)?.top_k;
  if (topK !== undefined) {
    const C = numel(m.output.shape);
    if (!Number.isInteger(topK) || (topK as number) < 1 || (topK as number) > C)
      throw bad(`parameters.top_k: expected an integer in [1, ${C}], got ${JSON.stringify(topK)}`);
    out.topK = topK as number;
  }
  if (req.outputs !== undefined) {
    if (!Array.isArray(req.outputs)) throw bad(`"outputs": expected an array of {"name": ...}`);
    out.outputs = req.outputs.map((o: { name?: unknown } | null) => {
      const name = o?.name;
      if (name !== 'logits' && name !== 'labels')
        throw bad(`unknown output ${JSON.stringify(name)}: model '${m.name}' has 'logits' (and 'labels' with top_k)`);
      if (name === 'labels' && out.topK === undefined) out.topK = 3;
      return name;
    });
  }
  return out;
}

/**
 * The binary tensor data extension (KServe v2 / Triton): a body of `headerLength` bytes of JSON
 * (the usual request, each input's "data" replaced by parameters.binary_data_size) followed by
 * the tensors' raw little-endian bytes. Returns the parsed header and the bytes after it.
 */
export function splitBinaryBody(body: Uint8Array, headerLength: string): { header: unknown; binary: Uint8Array } {
  const n = Number(headerLength);
  if (!Number.isInteger(n) || n < 0 || n > body.length)
    throw bad(
      `Inference-Header-Content-Length: expected an integer in [0, ${body.length}] (the body's size), got '${headerLength}'`,
    );
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(body.buffer, body.byteOffset, n).toString('utf8'));
  } catch (e) {
    throw bad(`request header (first ${n} bytes of the body): not JSON: ${(e as Error).message}`);
  }
  return { header, binary: body.subarray(n) };
}

/** A tensor sent as binary data: exactly n values of 4 bytes, finite for FP32. */
function binaryData(
  binary: Uint8Array | undefined,
  size: unknown,
  n: number,
  datatype: 'FP32' | 'INT32',
  what: string,
  shape: readonly number[],
): Float32Array | Int32Array {
  if (!binary)
    throw bad(`${what}: parameters.binary_data_size needs a binary body (header Inference-Header-Content-Length)`);
  if (size !== n * 4)
    throw bad(
      `${what}: binary_data_size ${JSON.stringify(size)}; shape ${fmtShape(shape)} of ${datatype} needs ${n * 4} bytes`,
    );
  if (binary.length !== n * 4)
    throw bad(`${what}: the body holds ${binary.length} bytes of tensor data after the header, expected ${n * 4}`);
  const out = datatype === 'INT32' ? new Int32Array(n) : new Float32Array(n);
  new Uint8Array(out.buffer).set(binary);
  const i = out instanceof Float32Array ? firstNonFinite(out) : -1;
  if (i >= 0) throw bad(`${what}: data[${i}] = ${out[i]} is not a finite number`);
  return out;
}

/** Tensor data (flat, or nested as the shape: never deeper) → a typed array of exactly `n` values. */
function flatData(
  raw: unknown,
  n: number,
  datatype: 'FP32' | 'INT32',
  what: string,
  shape: readonly number[],
): Float32Array | Int32Array {
  const spec = {
    dtype: datatype === 'INT32' ? 'int32' : 'float32',
    maxDepth: shape.length,
    depthOf: `its shape ${fmtShape(shape)}`,
    checkCount: (count: number) =>
      count === n ? undefined : `"data" has ${count} values; shape ${fmtShape(shape)} needs ${n}`,
  } as const;
  return jsonTensor(what, raw, spec, bad);
}

/**
 * Throws HttpError 422 naming the model when its output holds NaN or ±Infinity: a 200 with null
 * logits (JSON has no NaN) and "NaN:0:…" labels would be a wrong answer that looks like an answer.
 * The weights are known finite (the artifact validator refuses others) and so are the inputs, so
 * the cause is this input (e.g. values near float32's limit): a client error, not a server fault
 * that a 500 would page someone for.
 */
export function checkOutput(m: ModelEntry, output: Float32Array): void {
  const i = firstNonFinite(output);
  if (i >= 0)
    throw new HttpError(
      422,
      `model '${m.name}' version ${m.version}: output [${i}] = ${output[i]} is not finite: the model overflows on this input`,
    );
}

/** The infer response: 'logits' [batch, ...out] and, with top_k, 'labels' [batch, k] as "score:index:label". */
export function inferResponse(m: ModelEntry, req: InferInput, output: Float32Array) {
  const outputs: { name: string; datatype: string; shape: number[]; data: (number | string)[] }[] = [];
  const wants = (name: string) => !req.outputs || req.outputs.includes(name);
  if (wants('logits'))
    outputs.push({ name: 'logits', datatype: 'FP32', shape: [req.batch, ...m.output.shape], data: Array.from(output) });
  if (req.topK !== undefined && wants('labels')) {
    const C = output.length / req.batch;
    const data: string[] = [];
    for (let b = 0; b < req.batch; b++)
      for (const t of topClasses(output.subarray(b * C, (b + 1) * C), m.classNames, req.topK))
        data.push(`${t.score.toFixed(6)}:${t.index}:${t.label}`);
    outputs.push({ name: 'labels', datatype: 'BYTES', shape: [req.batch, req.topK], data });
  }
  return { model_name: m.name, model_version: m.version, ...(req.id !== undefined ? { id: req.id } : {}), outputs };
}
