// safetensors (Hugging Face's weight format): u64 little-endian header length, a JSON header
// { name: { dtype, shape, data_offsets: [begin, end] }, __metadata__: { string: string } }, then
// the raw little-endian data. Used for checkpoints (weights and optimizer state).
import { FormatError } from '../errors.js';
import { isRecord, show } from './fields.js';

export interface NamedArray {
  dtype: 'F32' | 'I32' | 'I8';
  shape: number[];
  data: Float32Array | Int32Array | Int8Array;
}

const DTYPES = {
  F32: { bytes: 4, ctor: Float32Array },
  I32: { bytes: 4, ctor: Int32Array },
  I8: { bytes: 1, ctor: Int8Array },
} as const;

/** Serializes named arrays (sorted by name, 8-byte aligned data) with string metadata. */
export function encodeSafetensors(
  tensors: Record<string, NamedArray>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const names = Object.keys(tensors).sort();
  // no prototype: a tensor named '__proto__' must become a key, not the header's prototype
  const header: Record<string, unknown> = Object.create(null);
  header.__metadata__ = metadata;
  let offset = 0;
  for (const n of names) {
    const t = tensors[n];
    const expected = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== expected)
      throw new FormatError(`safetensors: '${n}' has ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    const bytes = t.data.byteLength;
    header[n] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8); // data starts 8-byte aligned
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let p = 8 + head.length;
  for (const n of names) {
    const d = tensors[n].data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), p);
    p += d.byteLength;
  }
  return out;
}

/**
 * Parses a safetensors file, validating header, dtypes, shapes and bounds (the tensors must tile
 * the data section exactly, as the format requires); errors name `file`. Nothing is allocated
 * beyond the file's own size, whatever the header declares.
 */
export function decodeSafetensors(
  buf: Uint8Array,
  file = '<buffer>',
): { tensors: Record<string, NamedArray>; metadata: Record<string, string> } {
  if (buf.length < 8) throw new FormatError(`${file}: too short for a safetensors file (${buf.length} bytes)`);
  const n = Number(new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true));
  if (n <= 0 || 8 + n > buf.length)
    throw new FormatError(`${file}: header length ${n} exceeds the file (${buf.length} bytes)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n)));
  } catch (e) {
    throw new FormatError(`${file}: header is not valid JSON (${(e as Error).message})`);
  }
  if (!isRecord(header)) throw new FormatError(`${file}: header must be a JSON object of tensors`);
  const base = 8 + n;
  const dataLen = buf.length - base;
  // no prototype: a tensor may be named '__proto__' or 'constructor'
  const tensors: Record<string, NamedArray> = Object.create(null);
  let metadata: Record<string, string> = {};
  const spans: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isRecord(entry) || Object.values(entry).some((v) => typeof v !== 'string'))
        throw new FormatError(`${file}: __metadata__ must be an object of strings`);
      metadata = entry as Record<string, string>;
      continue;
    }
    if (!isRecord(entry))
      throw new FormatError(`${file}: tensor '${name}' must be an object { dtype, shape, data_offsets }`);
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dt =
      typeof e.dtype === 'string' && Object.hasOwn(DTYPES, e.dtype)
        ? DTYPES[e.dtype as keyof typeof DTYPES]
        : undefined;
    if (!dt)
      throw new FormatError(
        `${file}: tensor '${name}' has unsupported dtype ${show(e.dtype)} (supported: F32, I32, I8)`,
      );
    const shape = e.shape;
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw new FormatError(`${file}: tensor '${name}' has an invalid shape ${show(shape)}`);
    }
    const [b, end] = Array.isArray(e.data_offsets) && e.data_offsets.length === 2 ? e.data_offsets : [];
    const count = (shape as number[]).reduce((x, y) => x * y, 1);
    if (
      !Number.isSafeInteger(b) ||
      !Number.isSafeInteger(end) ||
      b < 0 ||
      end > dataLen ||
      end - b !== count * dt.bytes
    ) {
      throw new FormatError(
        `${file}: tensor '${name}' data_offsets ${show(e.data_offsets)} do not fit shape ${show(shape)} ${e.dtype} in ${dataLen} data bytes`,
      );
    }
    spans.push([b, end, name]);
    const copy = new Uint8Array(buf.subarray(base + b, base + end)); // own, aligned buffer (Buffer views share a pool)
    tensors[name] = {
      dtype: e.dtype as NamedArray['dtype'],
      shape: shape as number[],
      data: new dt.ctor(copy.buffer, 0, count),
    };
  }
  spans.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let at = 0;
  for (const [b, end, name] of spans) {
    if (b !== at)
      throw new FormatError(`${file}: tensor '${name}' starts at data byte ${b}, expected ${at} (overlap or gap)`);
    at = end;
  }
  if (at !== dataLen)
    throw new FormatError(`${file}: the tensors cover ${at} of ${dataLen} data bytes (truncated or padded)`);
  return { tensors, metadata };
}
