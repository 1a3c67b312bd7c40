// `graduate train` and `graduate eval`: build a model from a preset or JSON config, train it on a
// --data spec with checkpoints every epoch, then evaluate and write metrics.json and the report.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { type AudioFeatureSpec, defaultAudioSpec } from '../audio/features.js';
import { evaluateGraph, preprocessingOf } from '../compile/verify.js';
import { type AudioSplit, findFsdd, isAudioFolder, loadAudioSplits, stratifiedLimit } from '../data/audio.js';
import { type ArrayDataset, type Preprocessing, trainValSplit } from '../data/dataset.js';
import { haveFashionMnist } from '../data/fashion-mnist.js';
import { fetchFashionMnist } from '../data/fetch.js';
import { loadData } from '../data/load.js';
import { FormatError, ValueError } from '../errors.js';
import { readArtifact } from '../graph/artifact.js';
import { readFileChecked, readTextChecked } from '../io/read.js';
import { buildModel } from '../nn/build.js';
import { graphModel } from '../nn/graph-module.js';
import { KWS_AUDIO_SPEC, PRESET_TRAINING, PRESETS, type PresetName, presetSpec } from '../nn/presets.js';
import type { ModelSpec } from '../nn/spec.js';
import { isRecsysCheckpoint } from '../recsys/checkpoint.js';
import { RECSYS_PRESETS } from '../recsys/models.js';
import { engine, init } from '../tensor/context.js';
import { manualSeed } from '../tensor/random.js';
import { MAIL_PREPARATIONS, type MailPreparation } from '../text/encode.js';
import {
  type AudioAugment,
  audioAugment,
  type BatchAugment,
  NAMED_AUDIO_AUGMENTS,
  namedAudioAugment,
} from '../train/augment-audio.js';
import {
  buildCheckpointModel,
  checkFreshOutDir,
  loadModel,
  readCheckpoint,
  type TrainingCheckpoint,
} from '../train/checkpoint.js';
import { evaluate } from '../train/evaluate.js';
import { builtSpec, fit, type TrainConfig } from '../train/fit.js';
import { type ClassificationReport, classificationReport, formatReport } from '../train/metrics.js';
import { writeReport } from '../train/report.js';
import { applyDevice, cpuOnlyDevice, DEVICE_HELP } from './device.js';
import { graphFromSource } from './source.js';
import { isRecsysTrain, type RecsysTrainFlags, runRecsysEval, runRecsysTrain } from './train-recsys.js';

const num = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new ValueError(`--${name}: expected a number, got '${v}'`);
  return n;
};

function readConfig(file: string): ModelSpec {
  const text = readTextChecked(file, 'model config');
  try {
    return JSON.parse(text) as ModelSpec;
  } catch (e) {
    throw new FormatError(`--config ${file}: not valid JSON (${(e as Error).message})`);
  }
}

interface TrainFlags {
  preset?: string;
  config?: string;
  init?: string;
  data: string;
  epochs: number;
  batch: number;
  lr: number;
  optimizer: TrainConfig['optimizer'];
  weightDecay?: number;
  schedule: NonNullable<TrainConfig['schedule']>;
  warmupEpochs: number;
  labelSmoothing: number;
  augment?: string;
  patience?: number;
  seed: number;
  threads?: number;
  device?: string;
  valFraction?: number;
  limit?: number;
  split?: string;
  holdoutSpeaker?: string;
  tokenizer?: 'vocab' | 'hash' | 'bpe';
  maxTokens?: number;
  mail?: MailPreparation | 'none';
  /** Recommendation presets: embedding size. */
  dim?: number;
  resume?: boolean;
  overwrite?: boolean;
  out: string;
  progress: boolean;
}

type Splits = { train: ArrayDataset; val?: ArrayDataset; test: ArrayDataset };

/** The audio split of --split fsdd / --holdout-speaker NAME ('fsdd' data: its conventional split by default). */
function audioSplitOf(data: string, split: string | null, holdout: string | null): AudioSplit | undefined {
  if (split !== null && holdout !== null) throw new ValueError('train: give only one of --split and --holdout-speaker');
  if (split !== null && split !== 'fsdd')
    throw new ValueError(
      `--split ${split}: the only named split is 'fsdd' (recordings 0–4 of each speaker and digit are the test set)`,
    );
  const split_ =
    holdout !== null ? { holdoutSpeaker: holdout } : split === 'fsdd' || data === 'fsdd' ? 'fsdd' : undefined;
  if (split_ && data !== 'fsdd' && !(existsSync(data) && statSync(data).isDirectory() && isAudioFolder(data)))
    throw new ValueError(`--data ${data}: --split and --holdout-speaker split a folder of WAV files (or 'fsdd')`);
  return split_;
}

/**
 * An audio dataset's own train/test split (loadAudioSplits: test standardised with the training
 * part's statistics); validation on the test part unless --val-fraction, as for Fashion-MNIST.
 */
function audioSplitData(
  data: string,
  split: AudioSplit,
  o: Pick<TrainFlags, 'valFraction' | 'limit' | 'seed'>,
  like: Preprocessing | undefined,
  classNames: readonly string[] | undefined,
  spec: AudioFeatureSpec | undefined,
): Splits {
  const dir = data === 'fsdd' ? findFsdd() : data;
  const parts = loadAudioSplits(dir, split, { like, classNames, spec });
  const all = stratifiedLimit(parts.train, o.limit);
  const test = stratifiedLimit(parts.test, o.limit);
  if (o.valFraction === undefined) return { train: all, val: test, test };
  if (o.valFraction === 0) return { train: all, test };
  const [train, val] = trainValSplit(all, o.valFraction, o.seed);
  return { train, val, test };
}

/** Splits training data into train and validation sets as documented in the README. */
function splitData(
  spec: string,
  all: ArrayDataset,
  o: Pick<TrainFlags, 'valFraction' | 'limit' | 'seed'>,
  like?: Preprocessing,
): Splits {
  // the test split prepared as the training split was (a resumed or --init model's preparation)
  // SpamAssassin: its test.csv tokenised as the training file was; validation held out of train.csv
  if (spec === 'spamassassin') {
    const test = loadData(spec, 'test', {
      limit: o.limit,
      like: like ?? all.preprocessing,
      classNames: all.classNames,
    });
    const frac = o.valFraction ?? 0.1;
    if (frac === 0) return { train: all, test };
    const [train, val] = trainValSplit(all, frac, o.seed);
    return { train, val, test };
  }
  if (spec === 'fashion-mnist' && o.valFraction === undefined) {
    // no official validation split: validate on the test split (no model selection unless --patience)
    const test = loadData(spec, 'test', { limit: o.limit, like });
    return { train: all, val: test, test };
  }
  const frac = o.valFraction ?? 0.1;
  if (frac === 0) return { train: all, test: spec === 'fashion-mnist' ? loadData(spec, 'test', { like }) : all };
  const [train, val] = trainValSplit(all, frac, o.seed);
  return { train, val, test: spec === 'fashion-mnist' ? loadData(spec, 'test', { limit: o.limit, like }) : val };
}

/** 'none': no augmentation (a preset's own list off). */
const AUGMENT_NAMES = ['none', 'crop', 'flip', ...Object.keys(NAMED_AUDIO_AUGMENTS)];

/**
 * --augment's list as the checkpoint records it: images' crop and flip, and a sequence's
 * augmentation (NAMED_AUDIO_AUGMENTS merged) as `sequence`, the options fit's batch hook applies.
 */
const augmentOf = (list: string): TrainConfig['augment'] & { sequence?: AudioAugment } => {
  const names = list.split(',').map((n) => n.trim());
  const unknown = names.filter((n) => !AUGMENT_NAMES.includes(n));
  if (unknown.length > 0)
    throw new ValueError(
      `--augment ${list}: unknown '${unknown.join("', '")}' (expected a list of ${AUGMENT_NAMES.join(', ')})`,
    );
  const sequence = namedAudioAugment(names);
  return {
    cropPadding: names.includes('crop') ? 2 : 0,
    horizontalFlip: names.includes('flip'),
    ...(sequence && { sequence }),
  };
};

/**
 * The training options --resume takes from the checkpoint's `train` record: each flag, its
 * attribute and its key there. --epochs is taken too (a resumed 3-epoch run stops at 3, and its
 * schedule keeps its length) but may be given with another value: extending a run is a reason to
 * resume (a cosine or step schedule then stretches to the new length). Not --threads and
 * --progress (they do not change the result).
 */
const RESUMED_OPTIONS: {
  flag: string;
  attr: keyof TrainFlags;
  /** TrainConfig's key (checked by the type), or the data options the record adds. */
  key: keyof TrainConfig | 'valFraction' | 'limit' | 'split' | 'holdoutSpeaker';
  mayDiffer?: true;
}[] = [
  { flag: '--epochs', attr: 'epochs', key: 'epochs', mayDiffer: true },
  { flag: '--seed', attr: 'seed', key: 'seed' },
  { flag: '--batch', attr: 'batch', key: 'batchSize' },
  { flag: '--lr', attr: 'lr', key: 'lr' },
  { flag: '--optimizer', attr: 'optimizer', key: 'optimizer' },
  { flag: '--schedule', attr: 'schedule', key: 'schedule' },
  { flag: '--warmup-epochs', attr: 'warmupEpochs', key: 'warmupEpochs' },
  { flag: '--weight-decay', attr: 'weightDecay', key: 'weightDecay' },
  { flag: '--label-smoothing', attr: 'labelSmoothing', key: 'labelSmoothing' },
  { flag: '--augment', attr: 'augment', key: 'augment' },
  { flag: '--patience', attr: 'patience', key: 'patience' },
  { flag: '--val-fraction', attr: 'valFraction', key: 'valFraction' },
  { flag: '--limit', attr: 'limit', key: 'limit' },
  { flag: '--split', attr: 'split', key: 'split' },
  { flag: '--holdout-speaker', attr: 'holdoutSpeaker', key: 'holdoutSpeaker' },
];

/** The options as recorded (augment as an object, null for unused). */
type TrainOptions = Record<string, unknown>;

/**
 * The training options of this run, as the checkpoint records them. Fresh: the flags. Resumed:
 * each option the checkpoint records (validated by readCheckpoint) unless its flag is given
 * explicitly, and an explicit flag that differs from the recorded value is an error naming both
 * (it would silently train differently: another split, other batches). An option the checkpoint
 * does not record (written before it did) comes from the flag.
 */
function trainOptions(flags: TrainFlags, cmd: Command, ck: TrainingCheckpoint | undefined): TrainOptions {
  const out: TrainOptions = {};
  for (const { flag, attr, key, mayDiffer } of RESUMED_OPTIONS) {
    const v = flags[attr];
    const given = v === undefined ? null : attr === 'augment' ? augmentOf(v as string) : v;
    const recorded = ck && Object.hasOwn(ck.config.train, key) ? ck.config.train[key] : undefined;
    const explicit = (cmd.getOptionValueSource(attr) ?? 'default') !== 'default';
    if (recorded === undefined || (explicit && (mayDiffer || canonical(given) === canonical(recorded))))
      out[key] = given;
    else if (!explicit) out[key] = recorded;
    else {
      const shown = (x: unknown) => (x === null ? 'none' : typeof x === 'object' ? JSON.stringify(x) : String(x));
      throw new ValueError(
        `train --resume: ${flag} ${shown(given)} differs from the checkpoint's ${key} ${shown(recorded)} ` +
          `(${join((ck as TrainingCheckpoint).dir, 'config.json')}); omit ${flag} to continue with the recorded value, or train into a new --out`,
      );
    }
  }
  return out;
}

/** A recorded option, null as undefined. */
const opt = <T>(o: TrainOptions, key: string) => (o[key] ?? undefined) as T;

function trainCommand(): Command {
  return new Command('train')
    .description('train a model (preset or JSON config) on a dataset; checkpoint, metrics.json and report go to --out')
    .addOption(new Option('--preset <name>', 'model preset').choices([...PRESETS, ...RECSYS_PRESETS]))
    .option('--config <file>', 'model JSON config ({ inputShape, layers })')
    .option(
      '--init <model>',
      'fine-tune an existing network: an ONNX model (.onnx), a compiled artifact or a checkpoint directory, weights included',
    )
    .requiredOption(
      '--data <spec>',
      "'fashion-mnist', 'fsdd', 'spamassassin' (graduate data fetch spamassassin), a .csv, .jsonl/.txt text file, an image folder or a folder of WAV files",
    )
    .option('--epochs <n>', 'epochs', num('epochs'), 10)
    .option('--batch <n>', 'batch size', num('batch'), 64)
    .option('--lr <x>', 'learning rate', num('lr'), 1e-3)
    .addOption(
      new Option('--optimizer <name>', 'optimizer').choices(['adam', 'adamw', 'sgd', 'adagrad']).default('adam'),
    )
    .option('--weight-decay <x>', 'weight decay', num('weight-decay'))
    .addOption(
      new Option('--schedule <name>', 'learning-rate schedule')
        .choices(['constant', 'cosine', 'onecycle', 'step'])
        .default('constant'),
    )
    .option('--warmup-epochs <n>', 'linear warmup epochs (cosine)', num('warmup-epochs'), 0)
    .option('--label-smoothing <x>', 'label smoothing', num('label-smoothing'), 0)
    .option(
      '--augment <list>',
      "image augmentation: 'crop', 'flip' or 'crop,flip'; sequences (audio), a list of: 'shift' (±4 steps in time), 'stretch' (time ±20%), 'warp' (channels ±10%), 'mask' (SpecAugment time and channel masks); 'none' for none (the kws preset's default: shift,stretch,warp)",
    )
    .option('--patience <n>', 'early stopping: epochs without validation improvement', num('patience'))
    .option('--seed <n>', 'random seed', num('seed'), 0)
    .option('--threads <n>', 'compute threads (default: GRADUATE_THREADS or all cores)', num('threads'))
    .option('--device <device>', DEVICE_HELP)
    .option('--val-fraction <x>', 'hold out this fraction of the training data for validation', num('val-fraction'))
    .option('--limit <n>', 'use only the first N samples of each split', num('limit'))
    .option(
      '--split <name>',
      "recommendation: 'random' (seeded 80/20; mf's default) or 'leave-last-out' (two-tower's); audio: 'fsdd', FSDD's conventional split (recordings 0–4 are the test set; the default for --data fsdd)",
    )
    .option('--holdout-speaker <name>', "audio: one speaker's recordings are the test set (speaker-independent)")
    .addOption(
      new Option(
        '--tokenizer <kind>',
        "text: 'bpe' (byte-level BPE learnt from the training texts; e-mails cut to a few header fields and the body, --mail; the default of text-transformer and text-gru), 'vocab' (the 10,000 most frequent words; the default otherwise) or 'hash'",
      ).choices(['bpe', 'vocab', 'hash']),
    )
    .option(
      '--max-tokens <n>',
      'text: tokens a model reads (default: enough for 95% of the training texts, power of two, at most 2048; with BPE at most 128, 256 for --mail headers+body)',
      num('max-tokens'),
    )
    .addOption(
      new Option(
        '--mail <mode>',
        "text, BPE: how e-mails are cut before tokenising, when at least 90% of the training texts are e-mails (docs/text.md): 'subject+from+body' (the default), 'headers+body' (also To, Reply-To, Content-Type, X-Mailer, User-Agent, In-Reply-To, List-Id, Precedence; text-transformer's default) or 'none' (the raw message)",
      ).choices([...MAIL_PREPARATIONS, 'none']),
    )
    .option(
      '--resume',
      'continue from the checkpoint in --out: its model and its training options (--preset/--config and those flags optional, and must match); give --epochs to extend',
    )
    .option('--dim <n>', 'recommendation presets: embedding size (default 64)', num('dim'))
    .option('--overwrite', 'replace a checkpoint already in --out (else that is an error)')
    .option('--no-progress', 'plain log lines instead of a progress bar')
    .requiredOption('--out <dir>', 'output directory')
    .action(async (flags: TrainFlags, cmd: Command) => runTrain(flags, cmd));
}

/**
 * A preset's own training defaults (PRESET_TRAINING) for the flags not given: the flag's value is
 * replaced while its source stays 'default', so --resume still takes the checkpoint's record.
 */
function applyPresetTraining(flags: TrainFlags, cmd: Command): void {
  const defaults = flags.preset ? PRESET_TRAINING[flags.preset as PresetName] : undefined;
  for (const [attr, v] of Object.entries(defaults ?? {}))
    if ((cmd.getOptionValueSource(attr) ?? 'default') === 'default') Object.assign(flags, { [attr]: v });
}

/**
 * The batch hook of a recorded sequence augmentation (`sequence`; `timeShift: n` in checkpoints
 * written before it, --augment shift): sequences [T, C] only.
 */
function sequenceAugmentOf(augment: TrainConfig['augment'], train: ArrayDataset): BatchAugment | undefined {
  const r = (augment ?? {}) as { sequence?: AudioAugment; timeShift?: number };
  const a = r.sequence ?? (r.timeShift ? { shift: r.timeShift } : undefined);
  if (!a) return undefined;
  if (train.sampleShape.length !== 2)
    throw new ValueError(
      `--augment ${Object.keys(a).join(', ')}: augments sequences [T, C], but ${train.name} has per-sample shape [${train.sampleShape.join(', ')}]`,
    );
  return audioAugment(a);
}

/**
 * Throws unless the training data hold at least two classes: a classifier of one class is 100%
 * accurate and useless (FSDD's folder read as one sub-folder per class, 'recordings', was that).
 */
function requireClasses(train: ArrayDataset, data: string): void {
  const present = new Set(train.y);
  if (present.size < 2)
    throw new ValueError(
      `--data ${data}: only one class ('${train.classNames[[...present][0]] ?? 'none'}') in ${train.size} training samples; a classifier needs at least 2 ` +
        "(a folder: one sub-folder per class, or {label}_….wav files such as FSDD's {digit}_{speaker}_{index}.wav)",
    );
}

/** Fashion-MNIST from the Debian package or the cache; downloaded from the official mirror when absent. */
async function ensureData(spec: string): Promise<void> {
  if (spec !== 'fashion-mnist' || haveFashionMnist()) return;
  console.log(
    'fashion-mnist not found locally (Debian package dataset-fashion-mnist or ~/.cache/graduate): downloading',
  );
  await fetchFashionMnist({ log: (l) => console.log(l) });
}

/** JSON with sorted keys: two specs are the same model when these are equal. */
const canonical = (v: unknown) =>
  JSON.stringify(v, (_, x) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x,
  );

/** The model spec of --preset or --config (undefined when neither is given). */
function flagSpec(flags: TrainFlags, train: ArrayDataset): ModelSpec | undefined {
  if (flags.preset) return presetSpec(flags.preset, train.sampleShape, train.classNames.length, train.preprocessing);
  return flags.config ? readConfig(flags.config) : undefined;
}

/**
 * The model to resume: rebuilt from the checkpoint's own spec. --preset/--config may be given,
 * but must describe the same model (a different one would silently train something else).
 */
function resumedModel(ck: TrainingCheckpoint, given: ModelSpec | undefined, flags: TrainFlags) {
  const file = join(ck.dir, 'config.json');
  const spec = ck.config.model;
  if (given) {
    const { model } = buildModel(given);
    const same = canonical(builtSpec(model, given)) === canonical(spec);
    model.dispose();
    if (!same)
      throw new ValueError(
        `--resume: ${flags.preset ? `--preset ${flags.preset}` : `--config ${flags.config}`} describes a different model than the checkpoint's (${file}); omit it to resume the checkpoint's model`,
      );
  }
  // buildCheckpointModel checked that the output has one unit per class
  return { spec, model: buildCheckpointModel(ck.config, file), outShape: [ck.config.classNames.length] };
}

/**
 * The network of --init as a trainable model (nn/graph-module.ts) with its weights: an imported
 * ONNX model, an artifact or a checkpoint, transfer learning's starting point.
 */
function initModel(path: string) {
  const source = graphFromSource(path);
  try {
    const { model, spec } = graphModel(source.graph);
    const out = source.graph.values[source.graph.outputs[0]].shape.slice(1);
    return { spec, model, outShape: out, like: preprocessingOf(source.graph) };
  } finally {
    source.dispose();
  }
}

async function runTrain(flags: TrainFlags, cmd: Command): Promise<void> {
  if (isRecsysTrain(flags)) {
    cpuOnlyDevice(flags.device, 'recommendation models');
    return runRecsysTrain(flags as RecsysTrainFlags, cmd);
  }
  if ([flags.preset, flags.config, flags.init].filter(Boolean).length > 1)
    throw new ValueError('train: give only one of --preset, --config or --init');
  if (!flags.resume && !flags.preset && !flags.config && !flags.init)
    throw new ValueError('train: give one of --preset, --config or --init (or --resume to continue a checkpoint)');
  if (flags.resume && flags.init)
    throw new ValueError('train: --init starts a fresh run; --resume continues the checkpoint in --out (its model)');
  if (flags.resume && flags.overwrite) throw new ValueError('train: --resume and --overwrite exclude each other');
  const ck = flags.resume ? readCheckpoint(flags.out) : undefined;
  applyPresetTraining(flags, cmd);
  const o = trainOptions(flags, cmd, ck);
  const data = { seed: o.seed as number, limit: opt<number>(o, 'limit'), valFraction: opt<number>(o, 'valFraction') };
  init({ threads: flags.threads });
  applyDevice(flags.device);
  await ensureData(flags.data);
  manualSeed(data.seed);
  const t0 = performance.now();
  const initial = flags.init ? initModel(flags.init) : undefined;
  // resumed: the data prepared as the checkpoint's was (its statistics, tokenizer, image size)
  // and labels numbered as it numbered them
  // --init: the data prepared as the network expects it (its recorded input preparation)
  const like = ck?.config.preprocessing ?? initial?.like;
  // a fresh run's audio front end: the preset's (recorded in the model; a resumed or --init run's is `like`'s)
  const audio = flags.preset === 'kws' ? defaultAudioSpec(KWS_AUDIO_SPEC) : undefined;
  // a fresh run's text tokenizer: the text presets read subwords (a resumed or --init run's is `like`'s)
  const text = {
    tokenizer: flags.tokenizer ?? (flags.preset?.startsWith('text-') ? ('bpe' as const) : undefined),
    maxTokens: flags.maxTokens,
    mail: flags.mail,
  };
  const split = audioSplitOf(flags.data, opt(o, 'split') ?? null, opt(o, 'holdoutSpeaker') ?? null);
  const { train, val, test } = split
    ? audioSplitData(flags.data, split, data, like, ck?.config.classNames, audio)
    : splitData(
        flags.data,
        loadData(flags.data, 'train', { limit: data.limit, like, classNames: ck?.config.classNames, audio, text }),
        data,
        like,
      );
  requireClasses(train, flags.data);
  // refuse before building anything; with --overwrite the first checkpoint replaces the old one
  if (!flags.resume && !flags.overwrite) {
    try {
      checkFreshOutDir(flags.out);
    } catch (e) {
      initial?.model.dispose();
      throw e;
    }
  }
  const given = flagSpec(flags, train);
  const { spec, model, outShape } = ck
    ? resumedModel(ck, given, flags)
    : (initial ?? { spec: given as ModelSpec, ...buildModel(given as ModelSpec) });
  if (spec.inputShape?.join() !== train.sampleShape.join()) {
    model.dispose();
    throw new ValueError(
      `model inputShape [${spec.inputShape?.join(', ')}] does not match the data's per-sample shape [${train.sampleShape.join(', ')}]`,
    );
  }
  if (outShape.join() !== String(train.classNames.length)) {
    model.dispose();
    throw new ValueError(
      `model output shape [${outShape.join(', ')}] does not match the ${train.classNames.length} classes of ${train.name}`,
    );
  }
  const config: TrainConfig = {
    epochs: o.epochs as number,
    batchSize: o.batchSize as number,
    lr: o.lr as number,
    optimizer: o.optimizer as TrainConfig['optimizer'],
    weightDecay: opt(o, 'weightDecay'),
    schedule: opt(o, 'schedule'),
    warmupEpochs: opt(o, 'warmupEpochs'),
    labelSmoothing: opt(o, 'labelSmoothing'),
    augment: opt(o, 'augment'),
    patience: opt(o, 'patience'),
    seed: data.seed,
  };
  console.log(
    `${ck ? 'resuming' : initial ? 'fine-tuning' : 'training'} ${flags.preset ?? flags.config ?? flags.init ?? ck?.dir} (${model.parameterCount().toLocaleString()} parameters) on ${train.name}: ` +
      `${train.size} train, ${val?.size ?? 0} validation samples; ${config.optimizer} lr ${config.lr}, batch ${config.batchSize}, ${config.epochs} epochs`,
  );
  const result = fit({
    model,
    modelSpec: spec,
    train,
    val,
    config,
    outDir: flags.out,
    resume: ck,
    overwrite: flags.overwrite,
    dataSpec: flags.data,
    recordTrain: {
      valFraction: data.valFraction ?? null,
      limit: data.limit ?? null,
      split: opt(o, 'split') ?? null,
      holdoutSpeaker: opt(o, 'holdoutSpeaker') ?? null,
    },
    progress: flags.progress && Boolean(process.stderr.isTTY),
    batchAugment: sequenceAugmentOf(config.augment, train),
  });
  const ev = evaluate(model, test, evalBatch(test));
  const report = classificationReport(ev.labels, ev.preds, test.classNames);
  const paths = writeReport(flags.out, {
    title: `Graduate training report: ${flags.preset ?? flags.config ?? flags.init ?? flags.out} on ${flags.data}`,
    history: result.history,
    report,
    config: {
      ...config,
      model: flags.preset ?? flags.config ?? flags.init ?? flags.out,
      data: flags.data,
      parameters: model.parameterCount(),
      testSet: test.name,
    },
  });
  console.log(`\n${formatReport(report)}`);
  console.log(
    `test accuracy: ${report.accuracy.toFixed(4)} on ${test.name} (${test.size} samples); total ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  console.log(`wrote ${join(flags.out, 'checkpoint.json')}, ${paths.metricsJson}, ${paths.html}`);
  model.dispose();
}

function evalCommand(): Command {
  return new Command('eval')
    .description('evaluate a checkpoint on labelled data: accuracy, per-class table, confusion matrix')
    .argument(
      '<checkpoint>',
      'checkpoint directory (a train --out directory or an epoch directory) or a compiled artifact file',
    )
    .requiredOption(
      '--data <spec>',
      "'fashion-mnist', 'fsdd' or 'spamassassin' (their test split), a .csv, .jsonl/.txt file, an image folder or a folder of WAV files",
    )
    .option('--limit <n>', 'use only the first N samples', num('limit'))
    .option('--threads <n>', 'compute threads', num('threads'))
    .option('--device <device>', DEVICE_HELP)
    .action(async (path: string, flags: { data: string; limit?: number; threads?: number; device?: string }) => {
      if (isRecsysCheckpoint(path)) {
        cpuOnlyDevice(flags.device, 'recommendation models');
        return runRecsysEval(path, flags);
      }
      init({ threads: flags.threads });
      const { backend } = applyDevice(flags.device);
      // labels are numbered by the model's class names: an eval file lacking a class must not
      // renumber the others, and a label the model does not know is an error naming it
      if (existsSync(path) && statSync(path).isFile()) {
        // a compiled artifact
        const graph = readArtifact(readFileChecked(path, 'artifact'), path);
        const { classNames } = graph.meta;
        await ensureData(flags.data);
        const data = loadData(flags.data, 'test', { limit: flags.limit, like: preprocessingOf(graph), classNames });
        const ev = evaluateGraph(graph, data, engine(), 256, backend);
        printEval(classificationReport(data.y, ev.preds, classNames));
        return;
      }
      const { model, checkpoint } = loadModel(path);
      try {
        const { preprocessing, classNames } = checkpoint.config;
        await ensureData(flags.data);
        const data = loadData(flags.data, 'test', { limit: flags.limit, like: preprocessing, classNames });
        const ev = evaluate(model, data, evalBatch(data));
        printEval(classificationReport(ev.labels, ev.preds, classNames));
      } finally {
        model.dispose();
      }
    });
}

/**
 * Samples evaluated at once: 256, or for text 32 — a transformer holds [N, heads, L, L] attention
 * scores, and 256 e-mails of 128 tokens outgrew the engine's 1 GiB (MEMORY_LIMIT_BYTES).
 */
function evalBatch(ds: ArrayDataset): number {
  return ds.preprocessing.kind === 'text' ? 32 : 256;
}

function printEval(report: ClassificationReport): void {
  console.log(formatReport(report));
  console.log(`accuracy: ${report.accuracy.toFixed(4)}`);
}

export const trainCommands = [trainCommand, evalCommand];
