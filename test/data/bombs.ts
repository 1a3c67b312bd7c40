// Small files that declare huge contents, made on the fly for the limit tests and the fuzzers
// (nothing big is committed): a PNG whose IHDR declares any size (valid CRCs, a few rows of
// data), a JPEG whose frame header does, an IDX whose gzip stream inflates beyond its header.
import { crc32, deflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { idxU8 } from './helpers.js';

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A PNG declaring width × height RGBA pixels whose IDAT holds only `rows` rows of zeros. */
export function pngDeclaring(width: number, height: number, rows = 4): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA, deflate, no filter, no interlace
  const raw = Buffer.alloc(Math.min(rows, height) * (width * 4 + 1));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** A real, complete w × h PNG (gray gradient). */
export function realPng(w: number, h: number): Buffer {
  const img = new PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) img.data.set([(i * 7) & 255, (i * 7) & 255, (i * 7) & 255, 255], i * 4);
  return PNG.sync.write(img);
}

/** A real, complete w × h baseline JPEG. */
export function realJpeg(w: number, h: number): Buffer {
  const data = Buffer.alloc(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set([(i * 5) & 255, (i * 3) & 255, (i * 11) & 255, 255], i * 4);
  return Buffer.from(jpeg.encode({ width: w, height: h, data }, 90).data);
}

/** Offset of the SOF0 frame header's marker in a JPEG made by realJpeg. */
export function sofOffset(jpg: Uint8Array): number {
  for (let i = 2; i + 1 < jpg.length; i++) if (jpg[i] === 0xff && jpg[i + 1] === 0xc0) return i;
  throw new Error('no SOF0');
}

/** A small real JPEG whose frame header (SOF0) declares width × height (at most 65535 each). */
export function jpegDeclaring(width: number, height: number): Buffer {
  const out = realJpeg(16, 16);
  const at = sofOffset(out);
  out.writeUInt16BE(height, at + 5);
  out.writeUInt16BE(width, at + 7);
  return out;
}

/** A gzip'd IDX uint8 file declaring `shape` followed by `bytes` zero bytes (any number: a bomb). */
export const idxGzip = (shape: readonly number[], bytes: number): Buffer => idxU8(shape, new Uint8Array(bytes));
