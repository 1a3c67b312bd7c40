// The fit loop: epochs of shuffled mini-batches (forward, loss, backward, clip, step) each inside
// a tidy scope; validation each epoch; progress on a TTY or plain log lines; a checkpoint every
// epoch; early stopping; and resume that continues exactly where the checkpoint left off (same
// batches, same dropout masks, same optimizer state), so the loss curve equals an uninterrupted run.
import { join } from 'node:path';
import { SingleBar } from 'cli-progress';
import { backward } from '../autograd/backward.js';
import type { Augment } from '../data/augment.js';
import type { ArrayDataset } from '../data/dataset.js';
import { DataLoader, mixSeed } from '../data/loader.js';
import { FormatError, GraduateError, ValueError } from '../errors.js';
import { crossEntropy } from '../nn/losses.js';
import type { Module } from '../nn/module.js';
import type { ModelSpec } from '../nn/spec.js';
import { clipGradNorm, createOptimizer, createSchedule, type Optimizer, type OptimizerName } from '../optim/index.js';
import { defaultBackend } from '../tensor/context.js';
import { defaultRng, Rng } from '../tensor/random.js';
import { tidy } from '../tensor/scope.js';
import { Tensor, tensor } from '../tensor/tensor.js';
import type { BatchAugment } from './augment-audio.js';
import {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  type CheckpointConfig,
  checkFreshOutDir,
  loadWeights,
  readCheckpoint,
  saveCheckpoint,
  type TrainingCheckpoint,
  type TrainState,
} from './checkpoint.js';
import { evaluate } from './evaluate.js';
import type { EpochRecord, History } from './history.js';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  lr: number;
  optimizer: OptimizerName;
  weightDecay?: number;
  momentum?: number;
  schedule?: 'constant' | 'cosine' | 'onecycle' | 'step';
  warmupEpochs?: number;
  seed: number;
  labelSmoothing?: number;
  clipNorm?: number;
  augment?: Augment;
  /** Stop after this many epochs without a better validation accuracy. */
  patience?: number;
}

export interface FitOptions {
  model: Module;
  modelSpec: ModelSpec;
  train: ArrayDataset;
  val?: ArrayDataset;
  config: TrainConfig;
  /** Where checkpoints go (every epoch). */
  outDir?: string;
  /** Continue from outDir's checkpoint (or from this one, already read: see readCheckpoint). */
  resume?: boolean | TrainingCheckpoint;
  /** A fresh run may replace a checkpoint already in outDir (else that is an error). */
  overwrite?: boolean;
  /** The --data spec, recorded in the checkpoint. */
  dataSpec?: string;
  /** More options to record in the checkpoint's `train` (the CLI's valFraction and limit; null = unused). */
  recordTrain?: Record<string, unknown>;
  log?: (line: string) => void;
  /**
   * Rewrites each training batch's data [B, ...] before the forward pass (audio: augment-audio.ts);
   * its Rng is a pure function of (seed, epoch, batch).
   */
  batchAugment?: BatchAugment;
  /** Live progress bar (default: when stderr is a TTY). */
  progress?: boolean;
}

export interface FitResult {
  history: History;
  bestValAccuracy: number;
  stoppedEarly: boolean;
  optimizer: Optimizer;
}

function validate(c: TrainConfig): void {
  const pos = (k: keyof TrainConfig, v: unknown, int = false) => {
    if (typeof v !== 'number' || !(v > 0) || (int && !Number.isInteger(v))) {
      throw new ValueError(
        `training option ${k} must be a positive ${int ? 'integer' : 'number'}, got ${JSON.stringify(v)}`,
      );
    }
  };
  pos('epochs', c.epochs, true);
  pos('batchSize', c.batchSize, true);
  pos('lr', c.lr);
}

/** Every option of TrainConfig (checked complete by the type): the checkpoint records each. */
/** Steps between reads of the loss and accuracy on a GPU backend (the progress bar's refresh). */
const READ_EVERY_GPU = 16;

const TRAIN_OPTIONS: Record<keyof TrainConfig, true> = {
  epochs: true,
  batchSize: true,
  lr: true,
  optimizer: true,
  weightDecay: true,
  momentum: true,
  schedule: true,
  warmupEpochs: true,
  seed: true,
  labelSmoothing: true,
  clipNorm: true,
  augment: true,
  patience: true,
};

/**
 * The `train` record of config.json: every option, null where unused, so that --resume can tell
 * "not used" (null) from "not recorded" (absent, in checkpoints written before it was complete).
 */
function trainRecord(c: TrainConfig, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(TRAIN_OPTIONS) as (keyof TrainConfig)[]) out[k] = c[k] ?? null;
  return { ...out, ...extra };
}

/** The spec a checkpoint records: `spec` with the sizes the built model inferred filled in. */
export function builtSpec(model: Module, spec: ModelSpec): ModelSpec {
  const s = model.spec();
  return { ...spec, layers: s.type === 'sequential' ? (s as { layers: ModelSpec['layers'] }).layers : [s] };
}

/** Restores weights, optimizer state and RNG exactly as saved; anything inconsistent names the file. */
function resumeFrom(ck: TrainingCheckpoint, model: Module, optimizer: Optimizer, config: TrainConfig): void {
  loadWeights(model, ck.weights, join(ck.dir, 'model.safetensors'));
  const saved = ck.state.optimizer.name;
  if (saved !== config.optimizer)
    throw new ValueError(
      `${join(ck.dir, 'state.json')}: the checkpoint was trained with optimizer '${saved}', not '${config.optimizer}' (resume with the same optimizer)`,
    );
  try {
    optimizer.loadStateDict({ tensors: ck.optimizerTensors, scalars: ck.state.optimizer.scalars });
  } catch (e) {
    if (!(e instanceof GraduateError)) throw e;
    throw new FormatError(`${join(ck.dir, 'optimizer.safetensors')} with state.json: ${e.message}`);
  }
  defaultRng.setState(ck.state.rng); // validated by readCheckpoint: four 32-bit words, not all zero
}

const fmt = (v: number | undefined, d = 4) => (v === undefined ? '-' : v.toFixed(d));

/** Salt of the batch hook's random stream (the loader's own streams use others). */
const BATCH_AUGMENT = 0x61756431;

/** x rewritten by the batch hook, as a new tensor in the current scope. */
function augmented(x: Tensor, hook: BatchAugment, seed: number, epoch: number, b: number): Tensor {
  const d = x.data() as Float32Array;
  hook(d, x.shape, new Rng(mixSeed(seed, BATCH_AUGMENT, epoch, b)));
  return tensor(d, x.shape, 'float32', x.backend);
}

/** Trains `model` on `train`; returns the history. */
export function fit(opts: FitOptions): FitResult {
  const { model, train, val, config } = opts;
  validate(config);
  const log = opts.log ?? ((l: string) => console.log(l));
  const loader = new DataLoader(train, {
    batchSize: config.batchSize,
    shuffle: true,
    seed: config.seed,
    augment: config.augment,
  });
  const steps = loader.numBatches;
  const params = model.parameters();
  const optimizer = createOptimizer(config.optimizer, params, {
    lr: config.lr,
    weightDecay: config.weightDecay,
    momentum: config.momentum,
  });
  const schedule = createSchedule(config.schedule ?? 'constant', config.epochs * steps, {
    warmup: Math.round((config.warmupEpochs ?? 0) * steps),
  });
  const ckptConfig: CheckpointConfig = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    model: builtSpec(model, opts.modelSpec),
    classNames: [...train.classNames],
    preprocessing: train.preprocessing,
    train: trainRecord(config, opts.recordTrain),
    data: opts.dataSpec ?? train.name,
    producer: 'graduate',
  };
  let state: TrainState = {
    epoch: 0,
    history: { epochs: [] },
    optimizer: { name: config.optimizer, scalars: {} },
    rng: defaultRng.getState(),
    bestValAccuracy: -1,
    epochsWithoutImprovement: 0,
  };
  if (opts.resume) {
    if (!opts.outDir) throw new ValueError('resume needs an output directory with a checkpoint');
    const ck = opts.resume === true ? readCheckpoint(opts.outDir) : opts.resume;
    resumeFrom(ck, model, optimizer, config);
    state = ck.state;
    log(`resuming from ${ck.dir} after epoch ${state.epoch}`);
  } else if (opts.outDir) {
    // refuses a used outDir unless overwrite; deletes nothing (the first save replaces it)
    checkFreshOutDir(opts.outDir, opts.overwrite);
  }
  let fresh = !opts.resume;

  const showBar = opts.progress ?? Boolean(process.stderr.isTTY);
  let stoppedEarly = false;
  const backend = defaultBackend();
  model.train();
  for (let epoch = state.epoch; epoch < config.epochs; epoch++) {
    const liveStart = backend.memoryStats().liveBytes;
    const t0 = performance.now();
    let lossSum = 0;
    let correct = 0;
    let seen = 0;
    const bar = showBar
      ? new SingleBar({
          format: `epoch ${epoch + 1}/${config.epochs} [{bar}] {value}/{total} batches | loss {loss} | acc {acc} | {rate} samples/s | ETA {eta_formatted}`,
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: true,
        })
      : undefined;
    bar?.start(steps, 0, { loss: '-', acc: '-', rate: '-' });
    // Each step's loss, predicted classes and labels stay on the device until they are read: every
    // step on the wasm backend; every READ_EVERY_GPU steps and at the epoch's end on a device
    // backend (deviceMemory: a GPU), so that a step queues its kernels without waiting for the
    // previous ones (the progress bar lags a little).
    const readEvery = backend.deviceMemory ? READ_EVERY_GPU : 1;
    let pending: { loss: Tensor; pred: Tensor; y: Tensor; size: number; batch: number; cols: number }[] = [];
    const settle = () => {
      for (const p of pending) {
        const loss = p.loss.item();
        const pred = p.pred.data();
        const labels = p.y.data();
        for (const t of [p.loss, p.pred, p.y]) t.dispose();
        // a device does not check labels before its kernels (autograd/apply.ts): they are checked here
        const bad = labels.findIndex((l) => !(l >= 0 && l < p.cols));
        if (bad >= 0)
          throw new ValueError(
            `softmaxCrossEntropy: label ${labels[bad]} at index ${bad} of batch ${p.batch + 1} is outside [0, ${p.cols})`,
          );
        if (!Number.isFinite(loss))
          throw new ValueError(
            `training diverged: loss is ${loss} at epoch ${epoch + 1}, batch ${p.batch + 1} (try a lower --lr)`,
          );
        let c = 0;
        for (let i = 0; i < p.size; i++) if (pred[i] === labels[i]) c++;
        lossSum += loss * p.size;
        correct += c;
        seen += p.size;
      }
      pending = [];
    };
    for (let b = 0; b < steps; b++) {
      optimizer.lr = optimizer.baseLr * schedule(epoch * steps + b);
      const step = tidy(() => {
        const { x: x0, y, size } = loader.batch(epoch, b);
        const x = opts.batchAugment ? augmented(x0, opts.batchAugment, config.seed, epoch, b) : x0;
        const logits = model.forward(x);
        const l = crossEntropy(logits, y, { labelSmoothing: config.labelSmoothing });
        backward(l);
        if (config.clipNorm) clipGradNorm(params, config.clipNorm);
        optimizer.step();
        optimizer.zeroGrad();
        const cols = logits.shape[logits.rank - 1];
        const pred = new Tensor([size], 'int32', undefined, logits.backend);
        logits.backend.argmax(logits.buf, size, cols, pred.buf);
        // the loss alone (l holds the step's saved activations until disposed)
        const loss = new Tensor([], 'float32', undefined, l.backend);
        l.backend.copy(l.buf, loss.buf, 1);
        return { loss, pred, y, size, batch: b, cols };
      });
      pending.push(step);
      if (pending.length < readEvery && b + 1 < steps) continue;
      settle();
      bar?.update(b + 1, {
        loss: (lossSum / seen).toFixed(4),
        acc: (correct / seen).toFixed(4),
        rate: Math.round(seen / ((performance.now() - t0) / 1000)),
      });
    }
    bar?.stop();
    const trainSeconds = (performance.now() - t0) / 1000;
    // text: attention holds [N, heads, L, L] scores, and 256 e-mails of 128 tokens outgrew the 1 GiB engine
    const v = val
      ? evaluate(model, val, val.preprocessing.kind === 'text' ? config.batchSize : Math.max(config.batchSize, 256))
      : undefined;
    const record: EpochRecord = {
      epoch: epoch + 1,
      trainLoss: lossSum / seen,
      trainAccuracy: correct / seen,
      valLoss: v?.loss,
      valAccuracy: v?.accuracy,
      lr: optimizer.lr,
      seconds: (performance.now() - t0) / 1000,
      samplesPerSecond: seen / trainSeconds,
      liveBytesStart: liveStart,
      liveBytesEnd: backend.memoryStats().liveBytes,
    };
    state.history.epochs.push(record);
    state.epoch = epoch + 1;
    const score = v?.accuracy ?? record.trainAccuracy;
    if (score > state.bestValAccuracy) {
      state.bestValAccuracy = score;
      state.epochsWithoutImprovement = 0;
    } else {
      state.epochsWithoutImprovement++;
    }
    log(
      `epoch ${record.epoch}/${config.epochs}  loss ${fmt(record.trainLoss)}  acc ${fmt(record.trainAccuracy)}  ` +
        `val_loss ${fmt(record.valLoss)}  val_acc ${fmt(record.valAccuracy)}  lr ${record.lr.toExponential(2)}  ` +
        `${record.samplesPerSecond.toFixed(0)} samples/s  ${record.seconds.toFixed(1)} s`,
    );
    if (opts.outDir) {
      const sd = optimizer.stateDict();
      state.optimizer = { name: config.optimizer, scalars: sd.scalars };
      state.rng = defaultRng.getState();
      saveCheckpoint(opts.outDir, model, ckptConfig, state, sd.tensors, { fresh });
      fresh = false;
    }
    if (config.patience !== undefined && state.epochsWithoutImprovement >= config.patience) {
      log(`early stopping: no improvement for ${config.patience} epochs`);
      stoppedEarly = true;
      break;
    }
  }
  return { history: state.history, bestValAccuracy: state.bestValAccuracy, stoppedEarly, optimizer };
}
