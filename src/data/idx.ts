// IDX files (the MNIST family's format), plain or gzip'd: magic (0, 0, type, rank), big-endian
// dimensions, then the data. Errors name the file and what was expected.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { FormatError } from '../errors.js';

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

/** Parses IDX bytes (gunzipping when they start with the gzip magic). */
export function parseIdx(bytes: Uint8Array, file = '<buffer>'): IdxArray {
  let buf = bytes;
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf);
    } catch (e) {
      throw new FormatError(`${file}: corrupt gzip stream (${(e as Error).message})`);
    }
  }
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0) {
    throw new FormatError(`${file}: not an IDX file (expected magic 00 00 <type> <rank>)`);
  }
  const type = TYPES[buf[2]];
  if (!type) throw new FormatError(`${file}: unknown IDX element type 0x${buf[2].toString(16)}`);
  const rank = buf[3];
  const header = 4 + 4 * rank;
  if (rank === 0 || buf.length < header) throw new FormatError(`${file}: truncated IDX header (rank ${rank})`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const shape: number[] = [];
  for (let i = 0; i < rank; i++) shape.push(view.getUint32(4 + 4 * i, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const need = header + count * type.bytes;
  if (buf.length !== need) {
    throw new FormatError(`${file}: IDX ${type.name}[${shape.join(', ')}] needs ${need} bytes, file has ${buf.length}`);
  }
  const body = buf.subarray(header);
  let data: IdxArray['data'];
  switch (type.name) {
    case 'uint8':
      data = new Uint8Array(body);
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

/** Reads an IDX file (.gz or plain). */
export function readIdx(file: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FormatError(`${file}: cannot read IDX file (${code ?? (e as Error).message})`);
  }
  return parseIdx(bytes, file);
}
