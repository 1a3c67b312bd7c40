// Audio classification data from a folder of WAV files: either flat, each named `{label}_….wav`
// (FSDD names its files `{digit}_{speaker}_{index}.wav`), or one sub-folder per class. Every clip
// is read (mono, resampled to the spec's rate), turned into features [frames, channels] by the
// front end in audio/features.ts and standardised per channel with the training split's statistics;
// the feature spec and the statistics are recorded in the Preprocessing so that predict and serve
// compute the same inputs. Splits: 'fsdd' (recordings numbered 0–4 of every speaker and digit are
// the test set, the dataset's own convention) and a speaker-independent holdout (one speaker's
// recordings are the test set). Not for: downloading (fetch-fsdd.ts) or augmentation.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { type AudioFeatureSpec, AudioFeaturizer, defaultAudioSpec, featureChannels } from '../audio/features.js';
import { standardizeFeatures } from '../audio/input.js';
import { readWav } from '../audio/read-wav.js';
import { FormatError, ValueError } from '../errors.js';
import { Rng } from '../tensor/random.js';
import { type ArrayDataset, channelStats, indexLabels, type Preprocessing, subset } from './dataset.js';

/** One clip of an audio folder: its class, and the speaker and index its name gives, if any. */
export interface AudioFile {
  path: string;
  label: string;
  /** `{…}_{speaker}_{index}.wav`: the part before the number */
  speaker?: string;
  /** `{…}_{index}.wav`: the trailing number */
  index?: number;
}

/** How a folder is split into train and test. */
export type AudioSplit = 'fsdd' | { holdoutSpeaker: string };

const isWav = (f: string) => extname(f).toLowerCase() === '.wav';

function readDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch (e) {
    throw new FormatError(
      `${dir}: cannot read audio folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
}

/** True when dir holds .wav files, directly or in its sub-folders. */
export function isAudioFolder(dir: string): boolean {
  const entries = readDir(dir);
  if (entries.some(isWav)) return true;
  return entries.some((e) => {
    const sub = join(dir, e);
    return statSync(sub).isDirectory() && readdirSync(sub).some(isWav);
  });
}

/** Speaker and index from a file name's last two `_`-separated parts (`…_{speaker}_{index}.wav`). */
function nameParts(file: string, skip: number): Pick<AudioFile, 'speaker' | 'index'> {
  const parts = basename(file, extname(file)).split('_').slice(skip);
  const last = parts.at(-1);
  if (last === undefined || !/^\d+$/.test(last)) return {};
  const index = Number(last);
  return parts.length >= 2 ? { speaker: parts.slice(0, -1).join('_'), index } : { index };
}

/** FSDD's file names: `{digit}_{speaker}_{index}.wav`. */
const FSDD_NAME = /^\d+_[^_]+_\d+\.wav$/i;

/**
 * The folder of recordings when dir is FSDD's own folder (no WAV files of its own, and a
 * `recordings/` sub-folder of `{digit}_{speaker}_{index}.wav` files): read as one class per
 * sub-folder it would be a single class 'recordings'.
 */
function fsddRecordings(dir: string, entries: readonly string[]): string | undefined {
  if (entries.some(isWav) || !entries.includes('recordings')) return undefined;
  const sub = join(dir, 'recordings');
  if (!statSync(sub).isDirectory()) return undefined;
  const wavs = readdirSync(sub).filter(isWav);
  return wavs.length > 0 && wavs.every((f) => FSDD_NAME.test(f)) ? sub : undefined;
}

/**
 * The clips of a flat folder (`{label}_….wav`) or of one sub-folder per class, sorted by path;
 * FSDD's own folder (its recordings in `recordings/`) reads as the flat folder of its recordings.
 */
export function listAudioFolder(dir: string): AudioFile[] {
  const top = readDir(dir);
  const fsdd = fsddRecordings(dir, top);
  if (fsdd) dir = fsdd;
  const entries = fsdd ? readDir(dir) : top;
  const flat = entries.filter(isWav);
  const subs = entries.filter((e) => !isWav(e) && statSync(join(dir, e)).isDirectory());
  const out: AudioFile[] = [];
  if (flat.length > 0) {
    for (const f of flat) {
      const cut = f.indexOf('_');
      if (cut <= 0) throw new FormatError(`${join(dir, f)}: expected a file name {label}_….wav (no '_' after a label)`);
      out.push({ path: join(dir, f), label: f.slice(0, cut), ...nameParts(f, 1) });
    }
  } else {
    for (const cls of subs)
      for (const f of readdirSync(join(dir, cls)).sort())
        if (isWav(f)) out.push({ path: join(dir, cls, f), label: cls, ...nameParts(f, 0) });
  }
  if (out.length === 0)
    throw new FormatError(`${dir}: no .wav files (expected ${dir}/{label}_….wav or ${dir}/<class>/<clip>.wav)`);
  return out;
}

/** Splits clips into [train, test]: 'fsdd' by index (0–4 test), or one speaker's clips as test. */
export function splitAudioFiles(files: readonly AudioFile[], split: AudioSplit): [AudioFile[], AudioFile[]] {
  const train: AudioFile[] = [];
  const test: AudioFile[] = [];
  if (split === 'fsdd') {
    for (const f of files) {
      if (f.index === undefined)
        throw new FormatError(`${f.path}: the fsdd split needs a recording number ({digit}_{speaker}_{index}.wav)`);
      (f.index <= 4 ? test : train).push(f);
    }
  } else if (typeof split === 'object' && typeof split.holdoutSpeaker === 'string') {
    const speakers = new Set<string>();
    for (const f of files) {
      if (f.speaker === undefined)
        throw new FormatError(
          `${f.path}: a speaker holdout needs the speaker in the name ({label}_{speaker}_{index}.wav)`,
        );
      speakers.add(f.speaker);
      (f.speaker === split.holdoutSpeaker ? test : train).push(f);
    }
    if (test.length === 0)
      throw new ValueError(
        `holdout speaker '${split.holdoutSpeaker}' has no recordings (speakers: ${[...speakers].sort().join(', ')})`,
      );
  } else throw new ValueError(`unknown audio split ${JSON.stringify(split)} (expected 'fsdd' or { holdoutSpeaker })`);
  return [train, test];
}

/** The speakers named in the clips' file names, sorted (for leave-one-speaker-out). */
export function audioSpeakers(files: readonly AudioFile[]): string[] {
  return [...new Set(files.flatMap((f) => (f.speaker === undefined ? [] : [f.speaker])))].sort();
}

/** Features [N, frames, channels] of the clips (unstandardised). */
export function featurize(files: readonly AudioFile[], spec: AudioFeatureSpec): Float32Array {
  const fz = new AudioFeaturizer(spec);
  const n = fz.shape[0] * fz.shape[1];
  const x = new Float32Array(files.length * n);
  for (let i = 0; i < files.length; i++)
    fz.compute(readWav(files[i].path, { sampleRate: spec.sampleRate }).samples, x, i * n);
  return x;
}

/** Options of the audio loaders. */
export interface AudioLoadOptions {
  /** The feature front end (default: defaultAudioSpec()) */
  spec?: AudioFeatureSpec;
  /** A model's recorded preparation: its spec and statistics are used as they are */
  like?: Preprocessing;
  /** Class names (a model's); default: sorted labels, or 0..max for number labels */
  classNames?: readonly string[];
}

function prepared(
  files: readonly AudioFile[],
  spec: AudioFeatureSpec,
  stats: { mean: number[]; std: number[] } | null,
  classNames: readonly string[] | undefined,
  name: string,
): ArrayDataset {
  const C = featureChannels(spec);
  const x = featurize(files, spec);
  const s = stats ?? channelStats(x, C);
  if (s.mean.length !== C || s.std.length !== C)
    throw new FormatError(`${name}: ${C} feature channels, but mean/std have ${s.mean.length}/${s.std.length} values`);
  standardizeFeatures(x, s.mean, s.std); // as audio/input.ts prepares one clip for predict and serve
  const labels = indexLabels(
    files.map((f) => f.label),
    (i) => files[i].path,
    classNames,
  );
  return {
    x,
    y: labels.y,
    sampleShape: [spec.frames, C],
    classNames: labels.classNames,
    size: files.length,
    preprocessing: {
      kind: 'audio',
      inputShape: [spec.frames, C],
      mean: [...s.mean],
      std: [...s.std],
      audio: { ...spec },
    },
    name,
  };
}

/** The spec and statistics a model recorded, checked. */
function likeSpec(
  like: Preprocessing,
  where: string,
): { spec: AudioFeatureSpec; stats: { mean: number[]; std: number[] } } {
  if (like.kind !== 'audio' || !like.audio)
    throw new FormatError(`${where}: audio data, but the model was trained on ${like.kind} data`);
  const C = featureChannels(like.audio);
  return {
    spec: like.audio,
    stats: { mean: like.mean ?? new Array<number>(C).fill(0), std: like.std ?? new Array<number>(C).fill(1) },
  };
}

/**
 * Every clip of an audio folder as features x float32 [N, frames, channels], standardised per
 * channel with this folder's statistics (or, with opts.like, a model's spec and statistics).
 */
export function loadAudioFolder(dir: string, opts: AudioLoadOptions = {}): ArrayDataset {
  const files = listAudioFolder(dir);
  if (opts.like) {
    const { spec, stats } = likeSpec(opts.like, dir);
    return prepared(files, spec, stats, opts.classNames, dir);
  }
  return prepared(files, opts.spec ?? defaultAudioSpec(), null, opts.classNames, dir);
}

/**
 * An audio folder split into train and test (see AudioSplit), both standardised with the training
 * split's statistics (or opts.like's); class names come from all clips, so both splits agree.
 */
export function loadAudioSplits(
  dir: string,
  split: AudioSplit,
  opts: AudioLoadOptions = {},
): { train: ArrayDataset; test: ArrayDataset } {
  const files = listAudioFolder(dir);
  const [trainFiles, testFiles] = splitAudioFiles(files, split);
  if (trainFiles.length === 0) throw new FormatError(`${dir}: the split leaves no training clips`);
  const classNames =
    opts.classNames ??
    indexLabels(
      files.map((f) => f.label),
      (i) => files[i].path,
    ).classNames;
  const tag = split === 'fsdd' ? 'fsdd' : `holdout ${split.holdoutSpeaker}`;
  const { spec, stats } = opts.like ? likeSpec(opts.like, dir) : { spec: opts.spec ?? defaultAudioSpec(), stats: null };
  const train = prepared(trainFiles, spec, stats, classNames, `${dir}[${tag} train]`);
  const test = prepared(
    testFiles,
    spec,
    { mean: train.preprocessing.mean!, std: train.preprocessing.std! },
    classNames,
    `${dir}[${tag} test]`,
  );
  return { train, test };
}

/**
 * At most `limit` samples spread evenly over the classes (round-robin over the classes; each class's
 * samples in an order drawn with Rng(seed), so speakers and recordings mix), kept in dataset order.
 * An audio folder is sorted by name: its first N clips would be the first digits only.
 */
export function stratifiedLimit(ds: ArrayDataset, limit: number | undefined, seed = 0): ArrayDataset {
  if (limit === undefined || limit >= ds.size) return ds;
  if (!Number.isInteger(limit) || limit < 0) throw new ValueError(`limit must be a non-negative integer, got ${limit}`);
  const rng = new Rng(seed);
  const byClass = ds.classNames.map((_, c) => rng.shuffle(Int32Array.from(ds.y.keys()).filter((i) => ds.y[i] === c)));
  const picked: number[] = [];
  for (let round = 0; picked.length < limit; round++)
    for (const idx of byClass) if (round < idx.length && picked.length < limit) picked.push(idx[round]);
  return subset(ds, Int32Array.from(picked).sort(), ds.name);
}

/** ~/.cache/graduate/fsdd: where fetchFsdd() puts the dataset by default. */
export function fsddCacheDir(): string {
  return join(homedir(), '.cache', 'graduate', 'fsdd');
}

/**
 * The FSDD recordings folder: $GRADUATE_DATA_DIR/fsdd/recordings, then the cache's; a FormatError
 * that says how to fetch it when neither exists.
 */
export function findFsdd(): string {
  const dirs: string[] = [];
  if (process.env.GRADUATE_DATA_DIR) dirs.push(join(process.env.GRADUATE_DATA_DIR, 'fsdd', 'recordings'));
  dirs.push(join(fsddCacheDir(), 'recordings'));
  const found = dirs.find((d) => existsSync(d));
  if (found) return found;
  throw new FormatError(
    `FSDD not found; tried:\n  ${dirs.join('\n  ')}\nRun \`graduate data fetch fsdd\` to download it, or pass --data <folder of WAV files>.`,
  );
}
