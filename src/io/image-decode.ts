// Decoding PNG and JPEG bytes to 8-bit RGBA, with the checks that keep a hostile file from
// exhausting memory or yielding uninitialized pixels: the declared size against
// limits.imagePixels, PNG chunks and their inflated size. Used by training data (data/images.ts),
// `graduate predict` and serve. Not for: resizing or normalizing (runtime/image-input.ts).
// Node-only (pngjs, zlib, files).
import { inflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { FormatError } from '../errors.js';
import { checkLimit, type InputLimits, inputLimits } from '../limits.js';
import { readFileChecked } from './read.js';

/** Decoded 8-bit RGBA pixels. */
export interface Rgba {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray; // [height, width, 4]
}

/**
 * Decodes a PNG or JPEG file or its bytes (by content, not extension) to RGBA; `name` is for messages.
 * The size the header declares is checked against limits.imagePixels before anything is decoded.
 */
export function decodeImage(
  source: string | Uint8Array,
  name = typeof source === 'string' ? source : 'image',
  limits: InputLimits = inputLimits(),
): Rgba {
  const bytes = typeof source === 'string' ? readFileChecked(source, 'image') : source;
  const size = imageSize(bytes);
  if (size && (size.width === 0 || size.height === 0))
    // zero is invalid in both formats; pngjs would still walk every declared row
    throw new FormatError(`${name}: image of ${size.width}×${size.height} has no pixels`);
  if (size)
    checkLimit(name, `image of ${size.width}×${size.height} =`, size.width * size.height, 'imagePixels', limits);
  if (bytes[0] === 0x89 && bytes[1] === 0x50) checkPngChunks(bytes, name);
  try {
    if (bytes[0] === 0x89 && bytes[1] === 0x50) {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { width: png.width, height: png.height, data: png.data };
    }
    if (bytes[0] === 0xff && bytes[1] === 0xd8) {
      // jpeg-js's own limits back up imageSize() (e.g. for a frame header it could not find)
      const img = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: true,
        maxResolutionInMP: limits.imagePixels / 1e6,
        maxMemoryUsageInMB: Math.max(1024, Math.ceil((limits.imagePixels * 16) / 2 ** 20)),
      });
      return img;
    }
  } catch (e) {
    throw new FormatError(`${name}: cannot decode image (${e instanceof Error ? e.message : String(e)})`);
  }
  throw new FormatError(`${name}: not a PNG or JPEG image`);
}

/**
 * Throws unless the PNG's chunks lie within the file, start with IHDR, and hold image data (IDAT)
 * that inflates to at least the bytes its rows need, before IEND. pngjs decodes a file without
 * IDAT, or with too little data, into a buffer it never fills: uninitialized memory, a different
 * "image" on every call, answered with exit 0 (found by the serve fuzzer). The data is inflated
 * here once more to count it (pngjs takes no inflated input); its size is bounded by the header,
 * whose pixels were checked against the limit.
 */
function checkPngChunks(bytes: Uint8Array, name: string): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = (at: number) => String.fromCharCode(...bytes.subarray(at + 4, at + 8));
  const idat: Uint8Array[] = [];
  for (let at = 8; at + 12 <= bytes.length; ) {
    const length = dv.getUint32(at);
    const t = type(at);
    if (at === 8 && (t !== 'IHDR' || length < 13)) break;
    if (at + 12 + length > bytes.length)
      throw new FormatError(`${name}: PNG chunk '${t}' at byte ${at} runs past the end of the file`);
    if (t === 'IDAT') idat.push(bytes.subarray(at + 8, at + 8 + length));
    if (t === 'IEND') {
      if (!idat.length) throw new FormatError(`${name}: PNG has no image data (IDAT chunk)`);
      const need = pngDataBytes(dv);
      let got: number;
      try {
        got = inflateSync(Buffer.concat(idat), { maxOutputLength: need }).length;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') return; // pngjs names the zlib error
        // more than the rows need: pngjs stops at that size for plain images, but inflates an
        // interlaced one without a bound (a 1×1 image could inflate to gigabytes)
        if (dv.getUint8(28) === 1)
          throw new FormatError(`${name}: PNG image data inflates beyond the ${need} bytes its interlaced rows need`);
        got = need;
      }
      if (got < need)
        throw new FormatError(
          `${name}: PNG image data holds ${got} bytes, its ${dv.getUint32(16)}×${dv.getUint32(20)} rows need ${need}`,
        );
      return;
    }
    at += 12 + length;
  }
  throw new FormatError(`${name}: not a complete PNG (expected IHDR first, image data, then IEND)`);
}

/** Bytes of inflated image data a PNG's IHDR needs: each row's filter byte and pixels, per Adam7 pass if interlaced. */
function pngDataBytes(ihdr: DataView): number {
  const [width, height, depth, colorType, interlace] = [
    ihdr.getUint32(16),
    ihdr.getUint32(20),
    ihdr.getUint8(24),
    ihdr.getUint8(25),
    ihdr.getUint8(28),
  ];
  const channels = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[colorType] ?? 1;
  const rows = (w: number, h: number) => (w && h ? h * (1 + Math.ceil((w * depth * channels) / 8)) : 0);
  if (interlace !== 1) return rows(width, height);
  // Adam7: [x start, y start, x step, y step] of the 7 passes
  const passes = [
    [0, 0, 8, 8],
    [4, 0, 8, 8],
    [0, 4, 4, 8],
    [2, 0, 4, 4],
    [0, 2, 2, 4],
    [1, 0, 2, 2],
    [0, 1, 1, 2],
  ];
  return passes.reduce(
    (sum, [x0, y0, dx, dy]) =>
      sum + rows(Math.ceil(Math.max(0, width - x0) / dx), Math.ceil(Math.max(0, height - y0) / dy)),
    0,
  );
}

/**
 * The width and height a PNG (IHDR) or JPEG (first SOFn frame header) declares, read without
 * decoding; undefined when the header is not where it should be (the decoder then reports it).
 */
export function imageSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // PNG: 8-byte signature, then the IHDR chunk: length, 'IHDR', width, height (big-endian)
  if (bytes.length >= 24 && bytes[0] === 0x89 && dv.getUint32(12) === 0x49484452)
    return { width: dv.getUint32(16), height: dv.getUint32(20) };
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  // JPEG: segments FF <marker> <length> ...; the frame header (SOF0..SOF15 but DHT, JPG, DAC)
  // comes before the first scan (SOS): precision, height, width.
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1];
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2; // markers without a length
      continue;
    }
    if (marker === 0xda) return undefined;
    const length = dv.getUint16(at + 2);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (at + 9 > bytes.length) return undefined;
      return { width: dv.getUint16(at + 7), height: dv.getUint16(at + 5) };
    }
    at += 2 + length;
  }
  return undefined;
}
