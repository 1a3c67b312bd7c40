// IDX files (the MNIST family's format), plain or gzip'd: magic (0, 0, type, rank), big-endian
// dimensions, then the data. Errors name the file and what was expected. The size the header
// declares is checked against limits.idxBytes before the data is read or inflated, and inflation
// stops at that declared size, so a gzip bomb costs no more memory than its header admits to.
import { constants, gunzipSync } from 'node:zlib';
import { FormatError } from '../errors.js';
import { readFileChecked, readFileHead } from '../io/read.js';
import { checkLimit, type InputLimits, inputLimits } from '../limits.js';

export interface IdxArray {
  readonly shape: readonly number[];
  readonly data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const TYPES: Record<number, { name: string; bytes: number }> = {
  8: { name: 'uint8', bytes: 1 },
  9: { name: 'int8', bytes: 1 },
  11: { name: 'int16', bytes: 2 },
  12: { name: 'int32', bytes: 4 },
  13: { name: 'float32', bytes: 4 },
  14: { name: 'float64', bytes: 8 },
};

/** What an IDX header declares. */
interface IdxHeader {
  type: { name: string; bytes: number };
  shape: number[];
  count: number;
  /** Bytes of the header, then of the whole file it declares. */
  header: number;
  need: number;
  /** e.g. "IDX uint8[60000, 28, 28]", for messages. */
  declared: string;
}

const isGzip = (bytes: Uint8Array) => bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;

/** The header at the start of `head` (the file's first bytes, inflated if it is gzip'd). */
function idxHeader(head: Uint8Array, file: string): IdxHeader {
  if (head.length < 4 || head[0] !== 0 || head[1] !== 0) {
    throw new FormatError(`${file}: not an IDX file (expected magic 00 00 <type> <rank>)`);
  }
  const type = TYPES[head[2]];
  if (!type) throw new FormatError(`${file}: unknown IDX element type 0x${head[2].toString(16)}`);
  const rank = head[3];
  const header = 4 + 4 * rank;
  if (rank === 0 || head.length < header) throw new FormatError(`${file}: truncated IDX header (rank ${rank})`);
  const headView = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const shape: number[] = [];
  for (let i = 0; i < rank; i++) shape.push(headView.getUint32(4 + 4 * i, false));
  const count = shape.reduce((a, b) => a * b, 1);
  return {
    type,
    shape,
    count,
    header,
    need: header + count * type.bytes,
    declared: `IDX ${type.name}[${shape.join(', ')}]`,
  };
}

/** Parses IDX bytes (gunzipping when they start with the gzip magic). */
export function parseIdx(bytes: Uint8Array, file = '<buffer>', limits: InputLimits = inputLimits()): IdxArray {
  return parse(bytes, file, limits, false);
}

/** parseIdx; `owned`: nobody else holds `bytes`, so uint8 data may be a view of them rather than a copy. */
function parse(bytes: Uint8Array, file: string, limits: InputLimits, owned: boolean): IdxArray {
  const gzip = isGzip(bytes);
  // the header, from the first bytes only (inflated with a sync flush, as a truncated stream)
  const { type, shape, count, header, need, declared } = idxHeader(gzip ? inflateHead(bytes, file) : bytes, file);
  checkLimit(file, `${declared} declares`, need, 'idxBytes', limits);
  let buf = bytes;
  if (gzip) {
    try {
      // one byte more than declared tells a stream that inflates beyond its header from one that fits
      buf = gunzipSync(bytes, { maxOutputLength: need + 1 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
        throw new FormatError(`${file}: ${declared} needs ${need} bytes, the gzip stream inflates to more`);
      throw new FormatError(`${file}: corrupt gzip stream (${(e as Error).message})`);
    }
  }
  if (buf.length !== need) {
    throw new FormatError(`${file}: ${declared} needs ${need} bytes, file has ${buf.length}`);
  }
  const body = buf.subarray(header);
  let data: IdxArray['data'];
  switch (type.name) {
    case 'uint8':
      // gunzip's buffer, or one readIdx read, is ours: no copy
      data = gzip || owned ? new Uint8Array(body.buffer, body.byteOffset, count) : new Uint8Array(body);
      break;
    case 'int8':
      data = new Int8Array(body.buffer.slice(body.byteOffset, body.byteOffset + count));
      break;
    default: {
      // multi-byte IDX data is big-endian
      const out =
        type.name === 'int16'
          ? new Int16Array(count)
          : type.name === 'int32'
            ? new Int32Array(count)
            : type.name === 'float32'
              ? new Float32Array(count)
              : new Float64Array(count);
      const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
      for (let i = 0; i < count; i++) {
        const o = i * type.bytes;
        out[i] =
          type.name === 'int16'
            ? dv.getInt16(o)
            : type.name === 'int32'
              ? dv.getInt32(o)
              : type.name === 'float32'
                ? dv.getFloat32(o)
                : dv.getFloat64(o);
      }
      data = out;
    }
  }
  return { shape, data };
}

/**
 * The first bytes of a gzip stream, inflated from growing prefixes until they hold the IDX header
 * (a prefix inflates to at most ~1000× its size: 64 MiB for the largest). A stream that yields no
 * header from them is inflated whole, up to 64 KiB, for zlib's own message on what is wrong.
 */
function inflateHead(bytes: Uint8Array, file: string, whole = true): Uint8Array {
  for (const n of [256, 4096, 65536]) {
    let out: Uint8Array;
    try {
      out = gunzipSync(bytes.subarray(0, n), { finishFlush: constants.Z_SYNC_FLUSH });
    } catch {
      break;
    }
    if (out.length >= 4 && out.length >= 4 + 4 * out[3]) return out;
    if (n >= bytes.length) break;
  }
  try {
    return gunzipSync(bytes, { maxOutputLength: 1 << 16 });
  } catch (e) {
    // `bytes` may be the file's first 64 KiB only (readIdx): then its end is not the stream's
    const message =
      (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || !whole
        ? `no IDX header in the first ${bytes.length} bytes`
        : (e as Error).message;
    throw new FormatError(`${file}: corrupt gzip stream (${message})`);
  }
}

/** Bytes readIdx reads before it knows the file's declared size (inflateHead's largest prefix). */
const HEAD_BYTES = 65536;

/**
 * Compressed bytes that no honest gzip stream of `need` bytes exceeds: deflate's worst case is
 * fixed-Huffman literals (9 bits for a byte: +12.5%; stored blocks add only 5 bytes per 64 KiB),
 * plus 64 KiB for gzip's optional name, comment and extra fields.
 */
const gzipBound = (need: number) => need + Math.ceil(need / 8) + 65536;

/**
 * Reads an IDX file (.gz or plain). Its size is checked against limits.idxBytes, then its header
 * (the first 64 KiB at most) against it and against the file: a plain file must be exactly the
 * size its header declares, a gzip'd one no bigger than a compression of it. Only then is the
 * file read whole, so a file that lies about its size costs no more than its first 64 KiB.
 */
export function readIdx(file: string, limits: InputLimits = inputLimits()): IdxArray {
  const limit = { key: 'idxBytes', limits } as const;
  const { head, size } = readFileHead(file, 'IDX file', HEAD_BYTES, limit);
  const gzip = isGzip(head);
  const { need, declared } = idxHeader(gzip ? inflateHead(head, file, head.length === size) : head, file);
  checkLimit(file, `${declared} declares`, need, 'idxBytes', limits);
  if (!gzip && size !== need) throw new FormatError(`${file}: ${declared} needs ${need} bytes, file has ${size}`);
  if (gzip && size > gzipBound(need))
    throw new FormatError(
      `${file}: a gzip stream of ${size} bytes, more than any compression of the ${need} bytes its ${declared} header declares`,
    );
  return parse(readFileChecked(file, 'IDX file', limit), file, limits, true);
}
