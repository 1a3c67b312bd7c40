// In-memory datasets: dense sample arrays plus labels, class names and the preprocessing that
// turned raw inputs into them. Loaders for each format live in their own files; batching and
// shuffling live in loader.ts.

import type { AudioFeatureSpec } from '../audio/features.js';
import { FormatError, ValueError } from '../errors.js';
import { Rng } from '../tensor/random.js';
import type { TextTokenizer } from '../text/encode.js';

/** How raw inputs are prepared; recorded into checkpoints and artifacts so predict/serve can feed raw data. */
export interface Preprocessing {
  kind: 'image' | 'tabular' | 'text' | 'audio';
  /** image: [H, W, C] NHWC; tabular: [features]; text: [maxTokens]; audio: [frames, channels] */
  inputShape: number[];
  /** image: x = (pixel * scale - mean[c]) / std[c]; tabular: x = (v - mean[i]) / std[i] */
  scale?: number;
  mean?: number[];
  std?: number[];
  /** text: how tokens were made */
  tokenizer?: TextTokenizer;
  /** audio: how WAV clips become features (then x = (feature - mean[c]) / std[c]) */
  audio?: AudioFeatureSpec;
}

/** A text tokenizer: a vocabulary (index 0 = '<unk>'), FNV-1a hashing into buckets, or byte-level BPE (text/encode.ts). */
export type { TextTokenizer };

/** Samples held densely in memory. */
export interface ArrayDataset {
  /** [size, ...sampleShape]; Int32Array for text token ids (-1 = padding) */
  readonly x: Float32Array | Int32Array;
  /** [size] class indices */
  readonly y: Int32Array;
  readonly sampleShape: readonly number[];
  readonly classNames: readonly string[];
  readonly size: number;
  readonly preprocessing: Preprocessing;
  /** Where it came from: 'fashion-mnist/train', a file path */
  readonly name: string;
}

/** Number of numbers in one sample. */
export function sampleSize(ds: Pick<ArrayDataset, 'sampleShape'>): number {
  let n = 1;
  for (const d of ds.sampleShape) n *= d;
  return n;
}

/** The samples at `indices` (in that order), copied into a new dataset. */
export function subset(ds: ArrayDataset, indices: ArrayLike<number>, name = ds.name): ArrayDataset {
  const n = sampleSize(ds);
  const x = ds.x instanceof Int32Array ? new Int32Array(indices.length * n) : new Float32Array(indices.length * n);
  const y = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    if (!Number.isInteger(j) || j < 0 || j >= ds.size)
      throw new ValueError(`subset(${ds.name}): index ${j} is outside [0, ${ds.size})`);
    x.set(ds.x.subarray(j * n, (j + 1) * n), i * n);
    y[i] = ds.y[j];
  }
  return { ...ds, x, y, size: indices.length, name };
}

/** The first `limit` samples (all of them when limit is undefined or not smaller). */
export function limitDataset(ds: ArrayDataset, limit?: number): ArrayDataset {
  if (limit === undefined || limit >= ds.size) return ds;
  if (!Number.isInteger(limit) || limit < 0) throw new ValueError(`limit must be a non-negative integer, got ${limit}`);
  return subset(
    ds,
    Int32Array.from({ length: limit }, (_, i) => i),
    ds.name,
  );
}

/** Seeded, stratification not required: shuffles indices with Rng(seed) and splits off valFraction. */
export function trainValSplit(
  ds: ArrayDataset,
  valFraction: number,
  seed: number,
): [train: ArrayDataset, val: ArrayDataset] {
  if (!(valFraction >= 0 && valFraction < 1))
    throw new ValueError(`trainValSplit: valFraction must be in [0, 1), got ${valFraction}`);
  const idx = new Rng(seed).shuffle(Int32Array.from({ length: ds.size }, (_, i) => i));
  const nVal = Math.round(ds.size * valFraction);
  // each split keeps the file's order, so the split is a selection, not a reordering
  const val = idx.slice(0, nVal).sort();
  const train = idx.slice(nVal).sort();
  return [subset(ds, train, `${ds.name}[train]`), subset(ds, val, `${ds.name}[val]`)];
}

/** Labels that are all digits are class indices, below this. */
const MAX_INDEX_CLASSES = 65536;

/**
 * Maps raw labels to class indices. Given classNames (the training set's) are used as they are;
 * otherwise non-negative integers keep their numbering ('0'..'max', max < 65536) and strings map to
 * sorted names.
 */
export function indexLabels(
  labels: readonly string[],
  where: (i: number) => string,
  classNames?: readonly string[],
): { y: Int32Array; classNames: string[] } {
  const y = new Int32Array(labels.length);
  if (!classNames) {
    if (labels.length > 0 && labels.every((l) => /^\d+$/.test(l))) {
      let max = 0;
      for (let i = 0; i < labels.length; i++) {
        const k = Number(labels[i]);
        // an index makes every class below it: '2000000000' would be two billion class names
        if (k >= MAX_INDEX_CLASSES)
          throw new FormatError(
            `${where(i)}: label '${labels[i]}' read as a class index is over ${MAX_INDEX_CLASSES - 1} (number labels from 0, or use names)`,
          );
        y[i] = k;
        max = Math.max(max, k);
      }
      return { y, classNames: Array.from({ length: max + 1 }, (_, i) => String(i)) };
    }
    classNames = [...new Set(labels)].sort();
  }
  const index = new Map(classNames.map((c, i) => [c, i]));
  for (let i = 0; i < labels.length; i++) {
    const k = index.get(labels[i]);
    if (k === undefined)
      throw new FormatError(`${where(i)}: label '${labels[i]}' is not one of the classes [${classNames.join(', ')}]`);
    y[i] = k;
  }
  return { y, classNames: [...classNames] };
}

/** Per-channel mean and (population) std of interleaved data [..., C]; std 0 becomes 1. */
export function channelStats(x: Float32Array, channels: number): { mean: number[]; std: number[] } {
  const sum = new Float64Array(channels);
  const sq = new Float64Array(channels);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    sum[i % channels] += v;
    sq[i % channels] += v * v;
  }
  const count = x.length / channels;
  const mean = Array.from(sum, (s) => (count > 0 ? s / count : 0));
  const std = Array.from(sq, (s, c) => {
    const sd = count > 0 ? Math.sqrt(Math.max(0, s / count - mean[c] * mean[c])) : 0;
    return sd > 1e-12 ? sd : 1;
  });
  return { mean, std };
}

/** In place: x = (x - mean[c]) / std[c] over interleaved channels. */
export function standardize(x: Float32Array, mean: readonly number[], std: readonly number[]): void {
  const c = mean.length;
  const inv = std.map((s) => 1 / s);
  for (let i = 0; i < x.length; i++) {
    const k = i % c;
    x[i] = (x[i] - mean[k]) * inv[k];
  }
}
