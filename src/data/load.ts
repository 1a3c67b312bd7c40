// The CLI's --data spec resolved to a dataset: 'fashion-mnist', 'fsdd', 'spamassassin', a .csv file
// (tabular, or text when it has a 'text' column), a .jsonl/.txt text file, a folder of WAV files or
// an image folder.
import { existsSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { AudioFeatureSpec } from '../audio/features.js';
import { FormatError } from '../errors.js';
import { findFsdd, isAudioFolder, loadAudioFolder, loadAudioSplits, stratifiedLimit } from './audio.js';
import { csvHeader, loadCsv } from './csv.js';
import { type ArrayDataset, limitDataset, type Preprocessing } from './dataset.js';
import { FASHION_MNIST_MEAN, FASHION_MNIST_STD, loadFashionMnist, type PixelPreparation } from './fashion-mnist.js';
import { spamAssassinCacheDir } from './fetch-spamassassin.js';
import { loadImageFolder } from './images.js';
import { type LoadTextOptions, loadText } from './text.js';

export interface LoadDataOptions {
  /** N samples only: the first N, or for audio N spread over the classes (stratifiedLimit). */
  limit?: number;
  /** Prepare the data as the training data was (a checkpoint's preprocessing): stats, size, tokenizer. */
  like?: Preprocessing;
  /** Number labels as the training data did. */
  classNames?: readonly string[];
  /** Audio: the feature front end of a fresh model (default defaultAudioSpec(); `like` overrides it). */
  audio?: AudioFeatureSpec;
  /** Text: the tokenizer of a fresh model and the tokens it reads (`like` overrides them). */
  text?: Pick<LoadTextOptions, 'tokenizer' | 'maxTokens' | 'mail'>;
}

/**
 * The folder of the fetched SpamAssassin split (train.csv, test.csv): $GRADUATE_DATA_DIR/spamassassin
 * or ~/.cache/graduate/spamassassin.
 */
export function findSpamAssassin(): string {
  const dirs: string[] = [];
  if (process.env.GRADUATE_DATA_DIR) dirs.push(join(process.env.GRADUATE_DATA_DIR, 'spamassassin'));
  dirs.push(spamAssassinCacheDir());
  const found = dirs.find((d) => existsSync(join(d, 'train.csv')) && existsSync(join(d, 'test.csv')));
  if (found) return found;
  throw new FormatError(
    `SpamAssassin not found (train.csv and test.csv); tried:\n  ${dirs.join('\n  ')}\nRun \`graduate data fetch spamassassin\` to fetch it, or pass --data <file.csv>.`,
  );
}

/**
 * Loads a --data spec. 'fashion-mnist', 'fsdd' (its conventional split) and 'spamassassin' (the
 * fetched train.csv / test.csv) have train and test splits; for a file or folder the 'test' split is
 * the same data (callers split it themselves, e.g. with trainValSplit, or loadAudioSplits for audio).
 * A text test split is tokenised as `like` (the training split's preprocessing) records.
 */
export function loadData(spec: string, split: 'train' | 'test', opts: LoadDataOptions = {}): ArrayDataset {
  if (spec === 'fashion-mnist')
    return loadFashionMnist(split, { limit: opts.limit, prep: fashionMnistLike(opts.like) });
  if (spec === 'fsdd') {
    const { train, test } = loadAudioSplits(findFsdd(), 'fsdd', {
      like: opts.like,
      classNames: opts.classNames,
      spec: opts.audio,
    });
    return stratifiedLimit(split === 'train' ? train : test, opts.limit);
  }
  if (spec === 'spamassassin') {
    const file = join(findSpamAssassin(), `${split}.csv`);
    return limitDataset(loadText(file, textOptions(opts, spec)), opts.limit);
  }
  if (!existsSync(spec))
    throw new FormatError(
      `--data ${spec}: no such file or folder (expected 'fashion-mnist', 'fsdd', 'spamassassin', a .csv, .jsonl or .txt file, a folder of WAV files or an image folder)`,
    );
  const ds = loadPath(spec, opts);
  if (opts.like && opts.like.kind !== ds.preprocessing.kind)
    throw new FormatError(
      `--data ${spec}: ${ds.preprocessing.kind} data, but the model was trained on ${opts.like.kind} data`,
    );
  // audio folders are sorted by name ({digit}_…): the first N clips would be the first classes only
  return ds.preprocessing.kind === 'audio' ? stratifiedLimit(ds, opts.limit) : limitDataset(ds, opts.limit);
}

/**
 * Fashion-MNIST prepared as a model records (an imported model's declared preparation, which need
 * not be the loader's own); undefined when it is the loader's own, so those inputs stay bit-exact.
 */
function fashionMnistLike(like: Preprocessing | undefined): PixelPreparation | undefined {
  if (!like) return undefined;
  const shape = like.inputShape.join();
  if (!((like.kind === 'image' && shape === '28,28,1') || (like.kind === 'tabular' && shape === '784')))
    throw new FormatError(
      `--data fashion-mnist: 28×28 gray images [28, 28, 1], but the model takes ${like.kind} input [${like.inputShape.join(', ')}]`,
    );
  // one value per channel (image) or per pixel (tabular): a per-pixel preparation is not for these loaders
  const one = (a: number[] | undefined, d: number) => {
    if (a?.some((v) => v !== a[0]))
      throw new FormatError('--data fashion-mnist: the model prepares each pixel differently (per-feature mean/std)');
    return a?.[0] ?? d;
  };
  const p = {
    scale: like.scale ?? (like.kind === 'image' ? 1 / 255 : 1),
    mean: one(like.mean, 0),
    std: one(like.std, 1),
  };
  const own = p.scale === 1 / 255 && p.mean === FASHION_MNIST_MEAN && p.std === FASHION_MNIST_STD;
  return own ? undefined : p;
}

/** loadText's options: a model's recorded tokenizer and length (`like`), else those of opts.text. */
function textOptions({ like, classNames, text }: LoadDataOptions, spec: string): LoadTextOptions {
  if (like && like.kind !== 'text')
    throw new FormatError(`--data ${spec}: text data, but the model was trained on ${like.kind} data`);
  return like ? { classNames, reuse: like.tokenizer, maxTokens: like.inputShape[0] } : { classNames, ...text };
}

function loadPath(path: string, opts: LoadDataOptions): ArrayDataset {
  const { like, classNames, audio } = opts;
  if (statSync(path).isDirectory()) {
    if (isAudioFolder(path)) return loadAudioFolder(path, { like, classNames, spec: audio });
    const [H, W, C] = like?.kind === 'image' ? like.inputShape : [];
    // a model's preparation as it records it: no statistics of this folder where it has none
    return loadImageFolder(path, {
      classNames,
      ...(like?.kind === 'image' && {
        size: [H, W],
        channels: C as 1 | 3,
        scale: like.scale,
        mean: like.mean ?? new Array<number>(C).fill(0),
        std: like.std ?? new Array<number>(C).fill(1),
      }),
    });
  }
  const ext = extname(path).toLowerCase();
  const text = ext === '.jsonl' || ext === '.txt' || (ext === '.csv' && csvHeader(path).includes('text'));
  // another kind of `like` is refused by loadData, naming the file
  if (text) return loadText(path, textOptions({ ...opts, like: like?.kind === 'text' ? like : undefined }, path));
  if (ext === '.csv')
    return loadCsv(path, {
      classNames,
      ...(like?.kind === 'tabular' && like.mean && like.std && { stats: { mean: like.mean, std: like.std } }),
    });
  throw new FormatError(
    `--data ${path}: unknown file type '${ext}' (expected .csv, .jsonl or .txt, or an image folder)`,
  );
}
