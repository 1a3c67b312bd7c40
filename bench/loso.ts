// npm run bench:loso [-- options] — leave-one-speaker-out on FSDD: for each of its 5 speakers, train
// the kws preset (or a variant) on the other four and test on that speaker; prints each speaker's
// test accuracy, the mean and the time per run. --split fsdd runs the conventional split instead.
// Defaults are the kws preset's own (PRESET_TRAINING with its --augment list, KWS_AUDIO_SPEC), so with no
// options this measures what `graduate train --preset kws --holdout-speaker NAME` trains.
// Options for trying variants: --normalize none|mean|meanvar, --top-db DB, --ref one|max, --kind logmel|mfcc, --augment JSON (an
// AudioAugment: { shift, warp, stretch, timeMask, freqMask }; 'none' for no augmentation),
// --model JSON file ({ layers } with `classes` for the output width), --epochs, --lr,
// --weight-decay, --label-smoothing, --seed, --speakers a,b, --threads.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type AudioFeatureSpec, defaultAudioSpec } from '../src/audio/features.js';
import { type AudioSplit, audioSpeakers, findFsdd, listAudioFolder, loadAudioSplits } from '../src/data/audio.js';
import { buildModel } from '../src/nn/build.js';
import { KWS_AUDIO_SPEC, PRESET_TRAINING, presetSpec } from '../src/nn/presets.js';
import type { ModelSpec } from '../src/nn/spec.js';
import { init } from '../src/tensor/context.js';
import { manualSeed } from '../src/tensor/random.js';
import { type AudioAugment, audioAugment, namedAudioAugment } from '../src/train/augment-audio.js';
import { evaluate } from '../src/train/evaluate.js';
import { fit } from '../src/train/fit.js';

const { values: o } = parseArgs({
  options: {
    split: { type: 'string' },
    normalize: { type: 'string' },
    'top-db': { type: 'string' },
    ref: { type: 'string' },
    kind: { type: 'string' },
    augment: { type: 'string' },
    model: { type: 'string' },
    epochs: { type: 'string' },
    lr: { type: 'string' },
    'weight-decay': { type: 'string' },
    'label-smoothing': { type: 'string' },
    seed: { type: 'string', default: '0' },
    speakers: { type: 'string' },
    threads: { type: 'string' },
  },
});

const preset = PRESET_TRAINING.kws ?? {};
const spec: AudioFeatureSpec = defaultAudioSpec({
  ...KWS_AUDIO_SPEC,
  ...(o.normalize && { normalize: o.normalize as AudioFeatureSpec['normalize'] }),
  ...(o.kind && { kind: o.kind as AudioFeatureSpec['kind'] }),
  ...(o['top-db'] && { topDb: Number(o['top-db']) }),
  ...(o.ref && { ref: o.ref as AudioFeatureSpec['ref'] }),
});
const augment: AudioAugment | null =
  o.augment === 'none'
    ? null
    : o.augment
      ? (JSON.parse(o.augment) as AudioAugment)
      : (namedAudioAugment(preset.augment?.split(',') ?? []) ?? null);
const epochs = Number(o.epochs ?? preset.epochs ?? 20);
const seed = Number(o.seed);
init({ threads: o.threads ? Number(o.threads) : undefined });

/** The model for [T, C] inputs: the kws preset, or --model's layers with `"classes"` as the output width. */
function modelSpec(shape: readonly number[], classes: number): ModelSpec {
  if (!o.model) return presetSpec('kws', shape, classes);
  const text = readFileSync(o.model, 'utf8').replaceAll('"classes"', String(classes));
  return { inputShape: [...shape], layers: (JSON.parse(text) as ModelSpec).layers };
}

/** Test accuracy of one training run on `split`, and its three most frequent confusions ('6→8 ×23'). */
function run(dir: string, split: AudioSplit): { acc: number; confused: string } {
  const { train, test } = loadAudioSplits(dir, split, { spec });
  manualSeed(seed);
  const ms = modelSpec(train.sampleShape, train.classNames.length);
  const { model } = buildModel(ms);
  fit({
    model,
    modelSpec: ms,
    train,
    config: {
      epochs,
      batchSize: preset.batch ?? 32,
      lr: Number(o.lr ?? preset.lr ?? 3e-3),
      optimizer: 'adam',
      schedule: preset.schedule ?? 'cosine',
      weightDecay: o['weight-decay'] ? Number(o['weight-decay']) : undefined,
      labelSmoothing: o['label-smoothing'] ? Number(o['label-smoothing']) : undefined,
      seed,
    },
    batchAugment: augment ? audioAugment(augment) : undefined,
    progress: false,
    log: () => {},
  });
  const ev = evaluate(model, test);
  model.dispose();
  let ok = 0;
  const pairs = new Map<string, number>();
  for (let i = 0; i < ev.labels.length; i++) {
    if (ev.labels[i] === ev.preds[i]) ok++;
    else {
      const k = `${test.classNames[ev.labels[i]]}→${test.classNames[ev.preds[i]]}`;
      pairs.set(k, (pairs.get(k) ?? 0) + 1);
    }
  }
  const top = [...pairs].sort((a, b) => b[1] - a[1]).slice(0, 3);
  return { acc: ok / ev.labels.length, confused: top.map(([k, n]) => `${k} ×${n}`).join(', ') };
}

const dir = findFsdd();
console.log(
  `spec ${JSON.stringify({ kind: spec.kind, normalize: spec.normalize ?? 'none', ref: spec.ref, topDb: spec.topDb })}, augment ${JSON.stringify(augment)}, ` +
    `model ${o.model ?? 'kws'}, epochs ${epochs}, seed ${seed}` +
    `${o['weight-decay'] ? `, weight decay ${o['weight-decay']}` : ''}${o['label-smoothing'] ? `, label smoothing ${o['label-smoothing']}` : ''}`,
);
const splits: [string, AudioSplit][] =
  o.split === 'fsdd'
    ? [['fsdd', 'fsdd']]
    : (o.speakers?.split(',') ?? audioSpeakers(listAudioFolder(dir))).map((s) => [s, { holdoutSpeaker: s }]);
const accs: number[] = [];
for (const [name, split] of splits) {
  const t0 = performance.now();
  const { acc, confused } = run(dir, split);
  accs.push(acc);
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`${name.padEnd(8)} ${(100 * acc).toFixed(1).padStart(5)}%  ${s} s  (most confused: ${confused})`);
}
if (accs.length > 1)
  console.log(`mean     ${((100 * accs.reduce((a, b) => a + b, 0)) / accs.length).toFixed(1).padStart(5)}%`);
