// Fashion-MNIST from local IDX files (the Debian package, a cache filled by fetch.ts, or a given
// folder). Not for downloading: see fetch.ts.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { FormatError, ValueError } from '../errors.js';
import type { ArrayDataset } from './dataset.js';
import { type IdxArray, readIdx } from './idx.js';

export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
]);

/** Training-set pixel statistics after scaling by 1/255. */
export const FASHION_MNIST_MEAN = 0.286;
export const FASHION_MNIST_STD = 0.353;

/** The official file names (without .gz) of each split. */
export const FASHION_MNIST_FILES = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
} as const;

/** ~/.cache/graduate/fashion-mnist: where fetchFashionMnist() puts the files by default. */
export function fashionMnistCacheDir(): string {
  return join(homedir(), '.cache', 'graduate', 'fashion-mnist');
}

/** Folders searched, in order: opts.dir alone when given, else the env var, Debian package, cache. */
export function fashionMnistDirs(dir?: string): string[] {
  if (dir !== undefined) return [dir];
  const dirs: string[] = [];
  if (process.env.GRADUATE_DATA_DIR) dirs.push(join(process.env.GRADUATE_DATA_DIR, 'fashion-mnist'));
  dirs.push('/usr/share/datasets/fashion-mnist', fashionMnistCacheDir());
  return dirs;
}

/** True when some searched folder holds all four files (so loading needs no download). */
export function haveFashionMnist(dir?: string): boolean {
  const all = [...Object.values(FASHION_MNIST_FILES)].flatMap((f) => [f.images, f.labels]);
  return fashionMnistDirs(dir).some((d) => all.every((name) => findFile(d, name) !== undefined));
}

/** `name.gz` or `name` in dir, whichever exists. */
function findFile(dir: string, name: string): string | undefined {
  for (const f of [join(dir, `${name}.gz`), join(dir, name)]) if (existsSync(f)) return f;
  return undefined;
}

/**
 * Loads a split as x float32 [N, 28, 28, 1] normalized ((pixel / 255 - 0.2860) / 0.3530) and y int32 [N].
 * With opts.dir only that folder is searched; otherwise $GRADUATE_DATA_DIR/fashion-mnist,
 * /usr/share/datasets/fashion-mnist and ~/.cache/graduate/fashion-mnist.
 */
export function loadFashionMnist(
  split: 'train' | 'test',
  opts: { dir?: string; limit?: number; prep?: PixelPreparation } = {},
): ArrayDataset {
  const names = FASHION_MNIST_FILES[split];
  if (!names) throw new FormatError(`loadFashionMnist: unknown split '${split}' (expected 'train' or 'test')`);
  const tried: string[] = [];
  for (const dir of fashionMnistDirs(opts.dir)) {
    const imagesFile = findFile(dir, names.images);
    const labelsFile = findFile(dir, names.labels);
    if (imagesFile && labelsFile) {
      return fromIdx(readIdx(imagesFile), imagesFile, readIdx(labelsFile), labelsFile, split, opts.limit, opts.prep);
    }
    tried.push(join(dir, `${names.images}(.gz)`), join(dir, `${names.labels}(.gz)`));
  }
  throw new FormatError(
    `Fashion-MNIST ${split} files not found; tried:\n  ${tried.join('\n  ')}\n` +
      'Run `graduate data fetch fashion-mnist` to download them, or install the Debian package dataset-fashion-mnist.',
  );
}

/** Another model's preparation of the pixels: (pixel · scale − mean) / std (a model's meta.input). */
export interface PixelPreparation {
  scale: number;
  mean: number;
  std: number;
}

/**
 * Checks the pair of IDX arrays and converts uint8 pixels to normalized float32 in one pass
 * (Fashion-MNIST's own normalization, or `prep`).
 */
export function fromIdx(
  images: IdxArray,
  imagesFile: string,
  labels: IdxArray,
  labelsFile: string,
  split: 'train' | 'test',
  limit?: number,
  prep?: PixelPreparation,
): ArrayDataset {
  if (images.shape.length !== 3 || !(images.data instanceof Uint8Array))
    throw new FormatError(`${imagesFile}: expected uint8 images [N, H, W], got rank ${images.shape.length} IDX`);
  if (labels.shape.length !== 1 || !(labels.data instanceof Uint8Array))
    throw new FormatError(`${labelsFile}: expected uint8 labels [N], got rank ${labels.shape.length} IDX`);
  const [n, h, w] = images.shape;
  if (labels.shape[0] !== n)
    throw new FormatError(`${labelsFile}: ${labels.shape[0]} labels for ${n} images in ${imagesFile}`);
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0))
    throw new ValueError(`limit must be a non-negative integer, got ${limit}`);
  const size = limit === undefined ? n : Math.min(n, limit);
  const y = new Int32Array(size);
  for (let i = 0; i < size; i++) {
    const l = labels.data[i];
    if (l >= FASHION_MNIST_CLASSES.length)
      throw new FormatError(`${labelsFile}: label ${l} at index ${i} is not a class index 0..9`);
    y[i] = l;
  }
  const lut = new Float32Array(256);
  for (let p = 0; p < 256; p++)
    lut[p] = prep ? (p * prep.scale - prep.mean) / prep.std : (p / 255 - FASHION_MNIST_MEAN) / FASHION_MNIST_STD;
  const px = images.data;
  const x = new Float32Array(size * h * w);
  for (let i = 0; i < x.length; i++) x[i] = lut[px[i]];
  return {
    x,
    y,
    sampleShape: [h, w, 1],
    classNames: FASHION_MNIST_CLASSES,
    size,
    preprocessing: {
      kind: 'image',
      inputShape: [h, w, 1],
      scale: prep ? prep.scale : 1 / 255,
      mean: [prep ? prep.mean : FASHION_MNIST_MEAN],
      std: [prep ? prep.std : FASHION_MNIST_STD],
    },
    name: `fashion-mnist/${split}`,
  };
}
