// The text side of serve's protocol: a text model's infer request may carry strings, a KServe v2
// BYTES tensor [N] (JSON "data": ["text one", …], or binary data: each element a 4-byte
// little-endian length then its UTF-8 bytes) under the name TEXT_INPUT or the model's input name;
// a worker tokenises them (runtime/text-input.ts, the encoder of the training data) before the
// batcher, so texts and token-id tensors batch together. Also what a text model's metadata says it
// accepts. Not for: the token-id tensor itself (protocol.ts) or routing.
import { fmtShape } from '../errors.js';
import { checkText, type TextLimits } from '../runtime/text-input.js';
import {
  bad,
  type InferInput,
  parseInferRequest,
  protocolShape,
  requestOptions,
  requestTensor,
  TEXT_INPUT,
} from './protocol.js';
import type { ModelEntry } from './repository.js';

/**
 * Most UTF-8 bytes serve tokenises in one text by default: the model reads only its first
 * maxTokens tokens, but a tokenizer reads the whole text first (a long e-mail is tens of KiB).
 */
export const SERVE_MAX_TEXT_BYTES = 256 * 1024;

/**
 * A text model's infer request: token ids under the model's input name (protocol.ts), or strings
 * as a BYTES tensor [texts] (or [texts, 1]) under TEXT_INPUT or the input's name. The returned
 * input's `texts` are then set (data is empty): a worker tokenises them.
 */
export function parseTextRequest(
  m: ModelEntry,
  body: unknown,
  maxSamples: number,
  limits: TextLimits,
  binary?: Uint8Array,
): InferInput {
  const { req, tensor } = requestTensor(m, body, [m.input.name, TEXT_INPUT]);
  if (tensor.name === m.input.name && tensor.datatype !== 'BYTES')
    return parseInferRequest(m, body, maxSamples, binary);
  const what = `input '${tensor.name}'`;
  if (tensor.datatype !== 'BYTES')
    throw bad(`${what}: datatype ${JSON.stringify(tensor.datatype)} is not accepted; texts are BYTES (strings)`);
  const shape = tensor.shape;
  if (
    !Array.isArray(shape) ||
    !(shape.length === 1 || (shape.length === 2 && shape[1] === 1)) ||
    !(Number.isInteger(shape[0]) && shape[0] >= 1)
  )
    throw bad(
      `${what}: shape ${Array.isArray(shape) ? fmtShape(shape) : JSON.stringify(shape)} is not [texts] or [texts, 1] (texts ≥ 1)`,
    );
  const batch = shape[0] as number;
  if (batch > maxSamples)
    throw bad(`${what}: ${batch} texts are over this server's limit of ${maxSamples} per request`);
  const size = (tensor.parameters as { binary_data_size?: unknown } | undefined)?.binary_data_size;
  const texts = size === undefined ? jsonTexts(tensor.data, batch, what) : binaryTexts(binary, size, batch, what);
  texts.forEach((t, i) => {
    try {
      checkText(`${what}: data[${i}]`, t, limits);
    } catch (e) {
      throw bad((e as Error).message);
    }
  });
  return requestOptions(m, req, { data: new Int32Array(0), batch, texts });
}

/** JSON "data" of a BYTES tensor: exactly `n` strings, flat or one per row. */
function jsonTexts(raw: unknown, n: number, what: string): string[] {
  if (!Array.isArray(raw)) throw bad(`${what}: "data" must be an array of ${n} strings`);
  const flat = raw.map((v) => (Array.isArray(v) && v.length === 1 ? v[0] : v));
  if (flat.length !== n) throw bad(`${what}: "data" has ${flat.length} values; shape [${n}] needs ${n} strings`);
  const i = flat.findIndex((v) => typeof v !== 'string');
  if (i >= 0) throw bad(`${what}: data[${i}] is ${JSON.stringify(flat[i])}, not a string`);
  return flat as string[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** Binary BYTES data (KServe v2): n elements, each a uint32 little-endian length then its UTF-8 bytes. */
function binaryTexts(binary: Uint8Array | undefined, size: unknown, n: number, what: string): string[] {
  if (!binary)
    throw bad(`${what}: parameters.binary_data_size needs a binary body (header Inference-Header-Content-Length)`);
  if (size !== binary.length)
    throw bad(
      `${what}: binary_data_size ${JSON.stringify(size)}, but the body holds ${binary.length} bytes after the header`,
    );
  const view = new DataView(binary.buffer, binary.byteOffset, binary.length);
  const out: string[] = [];
  let at = 0;
  for (let i = 0; i < n; i++) {
    if (at + 4 > binary.length) throw bad(`${what}: binary data ends at element ${i} of ${n} (no length prefix)`);
    const len = view.getUint32(at, true);
    at += 4;
    if (at + len > binary.length)
      throw bad(`${what}: element ${i} says ${len} bytes, but only ${binary.length - at} remain`);
    try {
      out.push(utf8.decode(binary.subarray(at, at + len)));
    } catch {
      throw bad(`${what}: element ${i} is not valid UTF-8`);
    }
    at += len;
  }
  if (at !== binary.length) throw bad(`${what}: ${binary.length - at} bytes after the ${n} elements`);
  return out;
}

/** What a text model accepts, for its metadata's parameters (GET /v2/models/{name}). */
export function textParameters(m: ModelEntry, limits: TextLimits) {
  const tokenizer = m.spec.tokenizer as { kind: string; mail?: string };
  const maxTokens = m.spec.shape[0];
  return {
    text_inputs: [
      `input '${TEXT_INPUT}' (or '${m.input.name}') BYTES [texts]: UTF-8 strings, up to ${limits.maxBytes} bytes each, tokenised by the server with the model's ${tokenizer.kind} tokenizer${tokenizer.mail ? ` (an e-mail cut to ${tokenizer.mail} first)` : ''} into at most ${maxTokens} token ids (truncated, or padded with -1; a batch runs padded to its longest text, and padding is masked, so a text's answer does not depend on the texts batched with it)`,
      `input '${m.input.name}' ${m.input.datatype} ${fmtShape(protocolShape(m.input))}: token ids, -1 padding`,
    ],
    text_tokenizer: tokenizer.kind,
    ...(tokenizer.mail && { text_mail: tokenizer.mail }),
    text_max_tokens: maxTokens,
    text_max_bytes: limits.maxBytes,
  };
}

/** The BYTES input a text model's metadata lists beside its token ids. */
export const textInputMetadata = () => ({ name: TEXT_INPUT, datatype: 'BYTES', shape: [-1] });
