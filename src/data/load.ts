// The CLI's --data spec resolved to a dataset: 'fashion-mnist', a .csv file (tabular, or text
// when it has a 'text' column), a .jsonl/.txt text file, or an image folder.
import { existsSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { FormatError } from '../errors.js';
import { csvHeader, loadCsv } from './csv.js';
import { type ArrayDataset, limitDataset, type Preprocessing } from './dataset.js';
import { loadFashionMnist } from './fashion-mnist.js';
import { loadImageFolder } from './images.js';
import { loadText } from './text.js';

export interface LoadDataOptions {
  /** The first N samples only. */
  limit?: number;
  /** Prepare the data as the training data was (a checkpoint's preprocessing): stats, size, tokenizer. */
  like?: Preprocessing;
  /** Number labels as the training data did. */
  classNames?: readonly string[];
}

/**
 * Loads a --data spec. 'fashion-mnist' has train and test splits; for a file or folder the 'test'
 * split is the same data (callers split it themselves, e.g. with trainValSplit).
 */
export function loadData(spec: string, split: 'train' | 'test', opts: LoadDataOptions = {}): ArrayDataset {
  if (spec === 'fashion-mnist') return loadFashionMnist(split, { limit: opts.limit });
  if (!existsSync(spec))
    throw new FormatError(
      `--data ${spec}: no such file or folder (expected 'fashion-mnist', a .csv, .jsonl or .txt file, or an image folder)`,
    );
  const ds = loadPath(spec, opts);
  if (opts.like && opts.like.kind !== ds.preprocessing.kind)
    throw new FormatError(
      `--data ${spec}: ${ds.preprocessing.kind} data, but the model was trained on ${opts.like.kind} data`,
    );
  return limitDataset(ds, opts.limit);
}

function loadPath(path: string, { like, classNames }: LoadDataOptions): ArrayDataset {
  if (statSync(path).isDirectory()) {
    const [H, W, C] = like?.kind === 'image' ? like.inputShape : [];
    return loadImageFolder(path, {
      classNames,
      ...(like?.kind === 'image' && { size: [H, W], channels: C as 1 | 3, mean: like.mean, std: like.std }),
    });
  }
  const ext = extname(path).toLowerCase();
  const text = ext === '.jsonl' || ext === '.txt' || (ext === '.csv' && csvHeader(path).includes('text'));
  if (text)
    return loadText(path, {
      classNames,
      ...(like?.kind === 'text' && { reuse: like.tokenizer, maxTokens: like.inputShape[0] }),
    });
  if (ext === '.csv')
    return loadCsv(path, {
      classNames,
      ...(like?.kind === 'tabular' && like.mean && like.std && { stats: { mean: like.mean, std: like.std } }),
    });
  throw new FormatError(
    `--data ${path}: unknown file type '${ext}' (expected .csv, .jsonl or .txt, or an image folder)`,
  );
}
