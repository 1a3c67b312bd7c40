// Image folders: PNG and JPEG files in one sub-folder per class, decoded, converted to the
// requested channels, resized bilinearly and normalized per channel.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { loadImageFolder } from '../../src/data/index.js';
import { FormatError } from '../../src/errors.js';
import { crc32 } from '../../src/graph/artifact.js';
import { tempDir } from './helpers.js';

type Rgb = [number, number, number];

/** RGBA bytes of a w x h image whose pixel (r, c) is px(r, c). */
function rgba(w: number, h: number, px: (r: number, c: number) => Rgb): Buffer {
  const data = Buffer.alloc(w * h * 4);
  for (let r = 0; r < h; r++)
    for (let c = 0; c < w; c++) {
      data.set([...px(r, c), 255], (r * w + c) * 4);
    }
  return data;
}
function png(w: number, h: number, px: (r: number, c: number) => Rgb): Buffer {
  const img = new PNG({ width: w, height: h });
  rgba(w, h, px).copy(img.data);
  return PNG.sync.write(img);
}
function jpg(w: number, h: number, px: (r: number, c: number) => Rgb): Buffer {
  return jpeg.encode({ width: w, height: h, data: rgba(w, h, px) }, 100).data;
}

/** A PNG of width × height RGBA 8-bit (interlaced or not) whose IDAT holds `idat` as it is. */
function pngWithData(width: number, height: number, interlace: number, idat: Uint8Array): Buffer {
  const chunk = (type: string, data: Uint8Array) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, interlace], 8);
  const sig = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  return Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))]);
}

/** cat/ (2 PNGs, 4x2) and dog/ (1 PNG 8x4, 1 JPEG 8x8): colors per class. */
function folder(): string {
  const dir = tempDir();
  mkdirSync(join(dir, 'dog'));
  mkdirSync(join(dir, 'cat'));
  writeFileSync(
    join(dir, 'cat', 'a.png'),
    png(4, 2, () => [255, 0, 0]),
  );
  writeFileSync(
    join(dir, 'cat', 'b.png'),
    png(4, 2, (_, c) => [c * 85, 0, 0]),
  );
  writeFileSync(
    join(dir, 'dog', 'c.png'),
    png(8, 4, () => [0, 0, 255]),
  );
  writeFileSync(
    join(dir, 'dog', 'd.jpg'),
    jpg(8, 8, () => [0, 255, 0]),
  );
  writeFileSync(join(dir, 'dog', 'notes.txt'), 'not an image');
  return dir;
}

describe('loadImageFolder', () => {
  it('loads sorted classes, resized to the first image, RGB, normalized with the data statistics', () => {
    const dir = folder();
    const ds = loadImageFolder(dir);
    expect(ds.classNames).toEqual(['cat', 'dog']);
    expect(Array.from(ds.y)).toEqual([0, 0, 1, 1]);
    expect(ds.size).toBe(4);
    expect(ds.sampleShape).toEqual([2, 4, 3]); // the first image: 4 wide, 2 high, in color
    expect(ds.x.length).toBe(4 * 2 * 4 * 3);
    const { mean, std, scale, inputShape } = ds.preprocessing;
    expect(scale).toBe(1 / 255);
    expect(inputShape).toEqual([2, 4, 3]);
    // red channel: 8 pixels of 1, 8 of [0, 1/3, 2/3, 1] x2 rows, 16 of 0
    expect(mean![0]).toBeCloseTo((8 + 2 * (0 + 1 / 3 + 2 / 3 + 1)) / 32, 5);
    // each channel of the result has mean 0 and std 1
    for (let c = 0; c < 3; c++) {
      let s = 0;
      let sq = 0;
      for (let i = c; i < ds.x.length; i += 3) {
        s += ds.x[i];
        sq += ds.x[i] * ds.x[i];
      }
      expect(s / 32).toBeCloseTo(0, 5);
      expect(sq / 32).toBeCloseTo(1, 4);
    }
    // the JPEG (last sample) is green after un-normalizing: x * std + mean ≈ pixel / 255
    const last = ds.x.subarray(3 * 24, 4 * 24);
    for (let c = 0; c < 3; c++) expect(last[c] * std![c] + mean![c]).toBeCloseTo(c === 1 ? 1 : 0, 1);
  });

  it('resizes bilinearly with half-pixel centers and converts to grayscale', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'only'));
    writeFileSync(
      join(dir, 'only', 'ramp.png'),
      png(2, 1, (_, c) => (c === 0 ? [0, 0, 0] : [255, 255, 255])),
    );
    writeFileSync(
      join(dir, 'only', 'red.png'),
      png(2, 1, () => [255, 0, 0]),
    );
    const ds = loadImageFolder(dir, { size: [1, 4], mean: [0], std: [1] });
    expect(ds.sampleShape).toEqual([1, 4, 1]); // the first image is gray
    const x = Array.from(ds.x);
    for (const [i, v] of [0, 0.25, 0.75, 1].entries()) expect(x[i]).toBeCloseTo(v, 6);
    for (let i = 0; i < 4; i++) expect(x[4 + i]).toBeCloseTo(0.299, 6); // luma of red
    const rgb = loadImageFolder(dir, { size: [2, 2], channels: 3, mean: [0, 0, 0], std: [1, 1, 1] });
    expect(rgb.sampleShape).toEqual([2, 2, 3]);
    expect(Array.from(rgb.x.subarray(12, 15))).toEqual([1, 0, 0]);
  });

  it('an undecodable file is a FormatError naming it', () => {
    const dir = folder();
    const bad = join(dir, 'dog', 'e.png');
    writeFileSync(bad, Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    expect(() => loadImageFolder(dir)).toThrow(FormatError);
    expect(() => loadImageFolder(dir)).toThrow(`${bad}: not a complete PNG`);
    // a PNG whose IDAT chunk is cut out: pngjs returned memory it never filled (another "image"
    // on every call, exit 0); a PNG whose last chunk runs past the end of the file
    const whole = png(4, 2, () => [9, 9, 9]);
    const at = whole.indexOf('IDAT') - 4;
    const noData = Buffer.concat([whole.subarray(0, at), whole.subarray(at + 12 + whole.readUInt32BE(at))]);
    writeFileSync(bad, noData);
    expect(() => loadImageFolder(dir)).toThrow(`${bad}: PNG has no image data (IDAT chunk)`);
    // an IDAT holding an empty zlib stream for a 13×2 RGBA image (the serve fuzzer's counterexample)
    writeFileSync(
      bad,
      Uint8Array.from([
        137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 13, 0, 0, 0, 2, 8, 6, 0, 0, 0, 131, 189,
        86, 169, 0, 0, 0, 8, 73, 68, 65, 84, 120, 156, 3, 0, 0, 0, 0, 1, 72, 6, 137, 210, 0, 0, 0, 0, 73, 69, 78, 68,
        174, 66, 96, 130,
      ]),
    );
    expect(() => loadImageFolder(dir)).toThrow(`${bad}: PNG image data holds 0 bytes, its 13×2 rows need 106`);
    // an interlaced 1×1 PNG whose image data inflates to 4 MiB: pngjs inflated it unbounded
    writeFileSync(bad, pngWithData(1, 1, 1, deflateSync(new Uint8Array(4 << 20))));
    expect(() => loadImageFolder(dir)).toThrow(
      /e\.png: PNG image data inflates beyond the \d+ bytes its interlaced rows need/,
    );
    writeFileSync(bad, whole.subarray(0, whole.length - 20));
    expect(() => loadImageFolder(dir)).toThrow(/e\.png: PNG chunk 'IDAT' at byte \d+ runs past the end of the file/);
    writeFileSync(bad, 'plain text');
    expect(() => loadImageFolder(dir)).toThrow(`${bad}: not a PNG or JPEG image`);
    expect(() => loadImageFolder(join(dir, 'missing'))).toThrow(/missing: cannot read image folder \(ENOENT\)/);
  });
});
