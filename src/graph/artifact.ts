// The artifact: one self-describing, versioned, checksummed file holding a graph and its weights.
//   "GRADUATE" (8 bytes) | u32 format version | u32 header length H | H bytes of JSON header
//   | zero padding to 64 | tensor data, each tensor 64-byte aligned | u32 CRC-32 of all bytes before
// The JSON header holds the graph (without constant data) and, per tensor, dtype, shape, offset,
// byte length and quantization parameters. Readers validate everything before trusting it. Shared
// by the compiler (writer) and the lean runtime (reader); no Node-only imports here.
import { FormatError } from '../errors.js';
import { isRecord } from '../io/fields.js';
import { type Constant, type Graph, upgradeNodes } from './ir.js';
import { validateGraph } from './validate.js';

export const MAGIC = 'GRADUATE';
export const FORMAT_VERSION = 1;
const ALIGN = 64;
const BYTES = { float32: 4, float16: 2, int8: 1, int32: 4 } as const;
const ARRAYS = { float32: Float32Array, float16: Uint16Array, int8: Int8Array, int32: Int32Array } as const;

interface TensorEntry {
  dtype: Constant['dtype'];
  shape: number[];
  offset: number;
  length: number;
  quant?: Constant['quant'];
}

interface Header {
  format: 'graduate-artifact';
  version: number;
  producer: string;
  graph: Omit<Graph, 'constants'>;
  tensors: Record<string, TensorEntry>;
}

let crcTable: Uint32Array | undefined;
/** CRC-32 (IEEE), the checksum of zip/gzip/PNG. */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;
/** A JSON value's kind for messages (never the value itself: it may be huge). */
const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);

/** Serializes a graph and its constants. */
export function writeArtifact(g: Graph, producer = 'graduate'): Uint8Array {
  const tensors: Record<string, TensorEntry> = {};
  let offset = 0;
  for (const [name, c] of Object.entries(g.constants)) {
    tensors[name] = { dtype: c.dtype, shape: c.shape, offset, length: c.data.byteLength, quant: c.quant };
    offset = align(offset + c.data.byteLength);
  }
  const { constants: _omit, ...rest } = g;
  const header: Header = { format: 'graduate-artifact', version: FORMAT_VERSION, producer, graph: rest, tensors };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const dataStart = align(16 + json.length);
  const total = dataStart + offset + 4;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(MAGIC), 0);
  view.setUint32(8, FORMAT_VERSION, true);
  view.setUint32(12, json.length, true);
  out.set(json, 16);
  for (const [name, c] of Object.entries(g.constants)) {
    out.set(new Uint8Array(c.data.buffer, c.data.byteOffset, c.data.byteLength), dataStart + tensors[name].offset);
  }
  view.setUint32(total - 4, crc32(out.subarray(0, total - 4)), true);
  return out;
}

/** Parses and validates an artifact; every problem is a FormatError naming `source`. */
export function readArtifact(input: Uint8Array, source = '<artifact>'): Graph {
  // a plain Uint8Array view: Node Buffers' slice() shares memory instead of copying
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const bad = (msg: string): never => {
    throw new FormatError(`${source}: ${msg}`);
  };
  if (bytes.length < 20) bad(`too short for a Graduate artifact (${bytes.length} bytes)`);
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC)
    bad(`not a Graduate artifact (bad magic; expected "${MAGIC}")`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== FORMAT_VERSION)
    bad(`format version ${version} is not supported (this runtime reads version ${FORMAT_VERSION})`);
  const stored = view.getUint32(bytes.length - 4, true);
  const actual = crc32(bytes.subarray(0, bytes.length - 4));
  if (stored !== actual)
    bad(
      `checksum mismatch (stored ${stored.toString(16)}, computed ${actual.toString(16)}): the file is corrupt or truncated`,
    );
  const hlen = view.getUint32(12, true);
  if (16 + hlen > bytes.length - 4) bad(`header length ${hlen} exceeds the file`);
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(16, 16 + hlen)));
  } catch (e) {
    return bad(`header is not valid JSON (${(e as Error).message})`);
  }
  if (!isRecord(header) || header.format !== 'graduate-artifact') bad('header is not a graduate-artifact header');
  if (!isRecord(header.graph)) bad(`header.graph must be an object, got ${kind(header.graph)}`);
  if (!isRecord(header.tensors)) bad(`header.tensors must be an object, got ${kind(header.tensors)}`);
  const dataStart = align(16 + hlen);
  const dataEnd = bytes.length - 4;
  const constants: Graph['constants'] = {};
  for (const [name, t] of Object.entries(header.tensors)) {
    if (!isRecord(t)) bad(`tensor '${name}': expected an entry object, got ${kind(t)}`);
    if (!Object.hasOwn(BYTES, t.dtype)) bad(`tensor '${name}': unknown dtype ${JSON.stringify(t.dtype)}`);
    const per = BYTES[t.dtype];
    if (!Array.isArray(t.shape) || t.shape.some((d) => !Number.isInteger(d) || d < 0))
      bad(`tensor '${name}': invalid shape ${JSON.stringify(t.shape)}`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (t.length !== count * per) bad(`tensor '${name}': ${t.length} bytes for ${t.dtype}[${t.shape.join(', ')}]`);
    if (
      !Number.isInteger(t.offset) ||
      t.offset < 0 ||
      t.offset % ALIGN !== 0 ||
      dataStart + t.offset + t.length > dataEnd
    ) {
      bad(`tensor '${name}': data at offset ${t.offset} (+${t.length}) lies outside the file`);
    }
    const copy = bytes.slice(dataStart + t.offset, dataStart + t.offset + t.length);
    const data = new ARRAYS[t.dtype](copy.buffer);
    constants[name] = { dtype: t.dtype, shape: t.shape, data, quant: t.quant };
  }
  const g: Graph = { ...header.graph, constants };
  if (Array.isArray(g.nodes)) upgradeNodes(g.nodes);
  validateGraph(g, source);
  return g;
}
