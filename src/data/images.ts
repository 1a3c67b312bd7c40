// Image classification data from a folder with one sub-folder per class (PNG and JPEG files),
// decoded, converted to 1 or 3 channels, resized bilinearly to one size and normalized per channel.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { FormatError } from '../errors.js';
import type { InputSpec } from '../graph/ir.js';
import { type ArrayDataset, channelStats, indexLabels, standardize } from './dataset.js';

const EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

/** Decoded 8-bit RGBA pixels. */
interface Rgba {
  width: number;
  height: number;
  data: Uint8Array; // [height, width, 4]
}

/** Decodes a PNG or JPEG file or its bytes (by content, not extension) to RGBA; `name` is for messages. */
export function decodeImage(source: string | Uint8Array, name = typeof source === 'string' ? source : 'image'): Rgba {
  let bytes: Uint8Array;
  if (typeof source !== 'string') bytes = source;
  else
    try {
      bytes = readFileSync(source);
    } catch (e) {
      throw new FormatError(
        `${name}: cannot read image (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      );
    }
  try {
    if (bytes[0] === 0x89 && bytes[1] === 0x50) {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { width: png.width, height: png.height, data: png.data };
    }
    if (bytes[0] === 0xff && bytes[1] === 0xd8) {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
      return img;
    }
  } catch (e) {
    throw new FormatError(`${name}: cannot decode image (${(e as Error).message})`);
  }
  throw new FormatError(`${name}: not a PNG or JPEG image`);
}

/** A decoded image as a model's input [H, W, C]: resized, channels as the spec wants, normalized. */
export function imageInput(spec: InputSpec, img: Rgba, name: string): Float32Array {
  if (spec.kind !== 'image' || spec.shape.length !== 3)
    throw new FormatError(`${name}: this model takes ${spec.kind} input [${spec.shape.join(', ')}], not images`);
  const [H, W, C] = spec.shape;
  const x = new Float32Array(H * W * C);
  resizeInto(img, H, W, C as 1 | 3, x, 0); // pixel / 255
  for (let i = 0; i < x.length; i++)
    x[i] = (x[i] * 255 * (spec.scale ?? 1 / 255) - (spec.mean?.[i % C] ?? 0)) / (spec.std?.[i % C] ?? 1);
  return x;
}

function isGray(img: Rgba): boolean {
  const d = img.data;
  for (let i = 0; i < d.length; i += 4) if (d[i] !== d[i + 1] || d[i] !== d[i + 2]) return false;
  return true;
}

/**
 * Writes img resized bilinearly (half-pixel centers) to [H, W, C] into out[off..], as pixel/255;
 * C = 1 uses luma (0.299 R + 0.587 G + 0.114 B), alpha is ignored.
 */
export function resizeInto(img: Rgba, H: number, W: number, C: 1 | 3, out: Float32Array, off: number): void {
  const { width, height, data } = img;
  const sy = height / H;
  const sx = width / W;
  const px = new Float32Array(3);
  for (let h = 0; h < H; h++) {
    const fy = Math.min(Math.max((h + 0.5) * sy - 0.5, 0), height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, height - 1);
    const wy = fy - y0;
    for (let w = 0; w < W; w++) {
      const fx = Math.min(Math.max((w + 0.5) * sx - 0.5, 0), width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, width - 1);
      const wx = fx - x0;
      const a = (y0 * width + x0) * 4;
      const b = (y0 * width + x1) * 4;
      const c = (y1 * width + x0) * 4;
      const d = (y1 * width + x1) * 4;
      for (let k = 0; k < 3; k++) {
        const top = data[a + k] + (data[b + k] - data[a + k]) * wx;
        const bottom = data[c + k] + (data[d + k] - data[c + k]) * wx;
        px[k] = (top + (bottom - top) * wy) / 255;
      }
      const o = off + (h * W + w) * C;
      if (C === 1) out[o] = 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2];
      else out.set(px, o);
    }
  }
}

/**
 * One sub-folder per class (sorted names, or opts.classNames), PNG/JPEG files, as x float32 [N, H, W, C]:
 * resized to opts.size or the first image's size, opts.channels or the first image's (1 if gray),
 * pixel/255 then (x - mean[c]) / std[c] with opts.mean/std or this folder's statistics.
 */
export function loadImageFolder(
  dir: string,
  opts: {
    size?: [number, number];
    channels?: 1 | 3;
    mean?: number[];
    std?: number[];
    classNames?: readonly string[];
  } = {},
): ArrayDataset {
  let entries: string[];
  try {
    entries = readdirSync(dir).sort();
  } catch (e) {
    throw new FormatError(
      `${dir}: cannot read image folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  const files: string[] = [];
  const labels: string[] = [];
  for (const cls of entries) {
    const sub = join(dir, cls);
    if (!statSync(sub).isDirectory()) continue;
    for (const f of readdirSync(sub).sort()) {
      if (!EXTENSIONS.has(extname(f).toLowerCase())) continue;
      files.push(join(sub, f));
      labels.push(cls);
    }
  }
  if (files.length === 0)
    throw new FormatError(`${dir}: no class sub-folders with .png/.jpg/.jpeg images (expected ${dir}/<class>/<image>)`);
  const classNames = opts.classNames ?? [...new Set(labels)];
  const { y } = indexLabels(labels, (i) => files[i], classNames);

  const first = decodeImage(files[0]);
  const [H, W] = opts.size ?? [first.height, first.width];
  if (!(Number.isInteger(H) && Number.isInteger(W) && H > 0 && W > 0))
    throw new FormatError(`${dir}: image size must be positive integers, got [${H}, ${W}]`);
  const C = opts.channels ?? (isGray(first) ? 1 : 3);
  const n = H * W * C;
  const x = new Float32Array(files.length * n);
  for (let i = 0; i < files.length; i++) resizeInto(i === 0 ? first : decodeImage(files[i]), H, W, C, x, i * n);

  const computed = opts.mean && opts.std ? null : channelStats(x, C);
  const mean = opts.mean ?? computed!.mean;
  const std = opts.std ?? computed!.std;
  if (mean.length !== C || std.length !== C)
    throw new FormatError(`${dir}: ${C}-channel images, but mean/std have ${mean.length}/${std.length} values`);
  standardize(x, mean, std);
  return {
    x,
    y,
    sampleShape: [H, W, C],
    classNames: [...classNames],
    size: files.length,
    preprocessing: { kind: 'image', inputShape: [H, W, C], scale: 1 / 255, mean: [...mean], std: [...std] },
    name: dir,
  };
}
