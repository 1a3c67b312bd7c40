// Image classification data from a folder with one sub-folder per class (PNG and JPEG files),
// decoded, converted to 1 or 3 channels, resized bilinearly to one size and normalized per channel.
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { FormatError } from '../errors.js';
import { decodeImage, type Rgba } from '../io/image-decode.js';
import { resizeInto } from '../runtime/image-input.js';
import { type ArrayDataset, channelStats, indexLabels, standardize } from './dataset.js';

const EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

function isGray(img: Rgba): boolean {
  const d = img.data;
  for (let i = 0; i < d.length; i += 4) if (d[i] !== d[i + 1] || d[i] !== d[i + 2]) return false;
  return true;
}

/**
 * One sub-folder per class (sorted names, or opts.classNames), PNG/JPEG files, as x float32 [N, H, W, C]:
 * resized to opts.size or the first image's size, opts.channels or the first image's (1 if gray),
 * pixel/255 then (x - mean[c]) / std[c] with opts.mean/std or this folder's statistics; with
 * opts.scale, pixel · scale instead of pixel/255 (a model's recorded preparation).
 */
export function loadImageFolder(
  dir: string,
  opts: {
    size?: [number, number];
    channels?: 1 | 3;
    scale?: number;
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
  if (opts.scale !== undefined && opts.scale !== 1 / 255) for (let i = 0; i < x.length; i++) x[i] *= 255 * opts.scale;
  standardize(x, mean, std);
  return {
    x,
    y,
    sampleShape: [H, W, C],
    classNames: [...classNames],
    size: files.length,
    preprocessing: {
      kind: 'image',
      inputShape: [H, W, C],
      scale: opts.scale ?? 1 / 255,
      mean: [...mean],
      std: [...std],
    },
    name: dir,
  };
}
