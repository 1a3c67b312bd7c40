// Training checkpoints. Each epoch is written into its own directory (model weights and buffers
// as safetensors, the config that rebuilds the model, optimizer state, RNG and loop state), every
// file atomically, then a manifest.json with each file's byte length and sha256; only then does
// OUT/checkpoint.json (also atomic, with the same checksums) point at it. A crash at any moment
// leaves the previous checkpoint intact and pointed to. Two epochs are kept: the one just written
// and the one the previous pointer named, never anything the pointer names. A fresh run into a
// used folder (--overwrite) deletes nothing before its own first checkpoint is pointed to.
// Reading verifies checksums (when recorded: checkpoints from before they existed stay readable),
// validates every JSON field (errors name the file and the field), and refuses tensors of the
// wrong dtype or with non-finite values. Not for compiled artifacts (src/graph/artifact.ts).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, normalize, resolve } from 'node:path';
import type { Preprocessing } from '../data/dataset.js';
import { FileError, FormatError, GraduateError } from '../errors.js';
import { checkInputSpec } from '../graph/validate.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { fieldsOf, firstNonFinite } from '../io/fields.js';
import { readFileChecked, readTextChecked } from '../io/read.js';
import { decodeSafetensors, encodeSafetensors, type NamedArray } from '../io/safetensors.js';
import { buildModel } from '../nn/build.js';
import type { Sequential } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import type { ModelSpec } from '../nn/spec.js';
import { write } from '../tensor/tensor.js';
import type { EpochRecord, History } from './history.js';

export const CHECKPOINT_FORMAT = 'graduate-checkpoint';
export const CHECKPOINT_VERSION = 1;

/** The files of one epoch directory, in the order they are written (manifest.json comes last). */
export const CHECKPOINT_FILES = ['model.safetensors', 'optimizer.safetensors', 'config.json', 'state.json'] as const;
export type CheckpointFile = (typeof CHECKPOINT_FILES)[number];

/**
 * What every config.json starts with. A model family other than the layer stack (src/recsys) sets
 * `kind` and validates the rest itself (readCheckpointAs); validateConfig refuses any `kind`.
 */
export interface ConfigHead {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  kind?: string;
}

/** What rebuilds the model and interprets its inputs and outputs. */
export interface CheckpointConfig {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  model: ModelSpec;
  classNames: string[];
  preprocessing: Preprocessing;
  /** The training options used (for reports and resume). */
  train: Record<string, unknown>;
  data: string;
  producer: string;
}

/** Loop state needed to resume exactly. */
export interface TrainState {
  /** Epochs completed. */
  epoch: number;
  history: History;
  optimizer: { name: string; scalars: Record<string, number> };
  rng: number[];
  bestValAccuracy: number;
  epochsWithoutImprovement: number;
}

/** Byte length and sha256 (hex) of each file of an epoch directory. */
export type FileChecksums = Record<CheckpointFile, { bytes: number; sha256: string }>;

/** What inference needs: the model's config and weights (eval, compile, export). */
export interface Checkpoint {
  dir: string;
  config: CheckpointConfig;
  weights: Record<string, NamedArray>;
}

/** What resuming needs besides: loop state and optimizer state. */
export interface TrainingCheckpoint extends Checkpoint {
  state: TrainState;
  optimizerTensors: Record<string, Float32Array>;
}

function writeJson(file: string, value: unknown): void {
  writeFileAtomicSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Weights and buffers of a module as safetensors entries. */
export function moduleTensors(model: Module): Record<string, NamedArray> {
  const out: Record<string, NamedArray> = {};
  for (const [name, t] of [...model.namedParameters(), ...model.namedBuffers()]) {
    out[name] = { dtype: 'F32', shape: [...t.shape], data: t.data() as Float32Array };
  }
  return out;
}

/** An epoch folder: epoch-NNN, or epoch-NNN-K when a fresh run found an older epoch-NNN there. */
const EPOCH_DIR = /^epoch-\d+(-\d+)?$/;

/**
 * The folder (relative to outDir) for `epoch`: epoch-NNN, or epoch-NNN-2, -3, … where that name
 * is taken. Never the folder the pointer names (overwriting it file by file would leave the
 * pointer naming a mix of two runs); for the first save of a fresh run, never any folder that
 * exists, so nothing of the earlier run is touched before the new pointer is written.
 */
function epochFolder(outDir: string, epoch: number, pointed: string | undefined, fresh: boolean): string {
  const base = join('checkpoints', `epoch-${String(epoch).padStart(3, '0')}`);
  for (let k = 1; ; k++) {
    const rel = k === 1 ? base : `${base}-${k}`;
    if (rel !== pointed && !(fresh && existsSync(join(outDir, rel)))) return rel;
  }
}

/** OUT/checkpoint.json, validated: where the latest epoch is, its epoch and checksums. */
interface Pointer {
  /** The epoch folder, relative to OUT and normalized. */
  latest: string;
  epoch?: number;
  /** Absent in checkpoints written before checksums existed (still readable). */
  checksums?: { files: FileChecksums; source: string };
}

/** Reads OUT/checkpoint.json (undefined when there is none); a malformed pointer is an error naming it. */
function readPointer(outDir: string): Pointer | undefined {
  const file = join(outDir, 'checkpoint.json');
  if (!existsSync(file)) return undefined;
  const f = fieldsOf(file);
  const ptr = f.obj('the checkpoint pointer', readJson(file, 'checkpoint pointer'));
  if (ptr.format !== CHECKPOINT_FORMAT || typeof ptr.latest !== 'string')
    throw new FormatError(
      `${file}: not a Graduate checkpoint pointer (expected format '${CHECKPOINT_FORMAT}' and 'latest')`,
    );
  const latest = normalize(ptr.latest);
  if (latest.startsWith('..') || resolve(outDir, latest) === resolve(outDir))
    f.fail('latest', 'an epoch directory inside the checkpoint folder', ptr.latest);
  return {
    latest,
    epoch: ptr.epoch === undefined ? undefined : f.int('epoch', ptr.epoch),
    checksums: ptr.files === undefined ? undefined : { files: validateChecksums(ptr.files, file), source: file },
  };
}

/** readPointer, with an unreadable or malformed pointer as `{}` (for deciding what to keep or refuse). */
function pointerIfAny(outDir: string): Partial<Pointer> | undefined {
  try {
    return readPointer(outDir);
  } catch (e) {
    if (e instanceof GraduateError) return {};
    throw e;
  }
}

export interface SaveOptions {
  /**
   * The first checkpoint of a fresh run: it goes to a folder name not yet used, and once the
   * pointer names it every other epoch folder (an earlier run's) is removed.
   */
  fresh?: boolean;
}

/** Writes a checkpoint for `state.epoch` under outDir and points checkpoint.json at it. */
export function saveCheckpoint(
  outDir: string,
  model: Module,
  config: CheckpointConfig | ConfigHead,
  state: TrainState | { epoch: number },
  optimizerTensors: Record<string, Float32Array>,
  opts: SaveOptions = {},
): string {
  const previous = pointerIfAny(outDir)?.latest;
  const rel = epochFolder(outDir, state.epoch, previous, opts.fresh ?? false);
  const dir = join(outDir, rel);
  // not the pointed folder (see epochFolder): whatever is there is a crashed write's or a replaced run's
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const meta = { format: CHECKPOINT_FORMAT, epoch: String(state.epoch) };
  const opt: Record<string, NamedArray> = Object.create(null);
  for (const [k, v] of Object.entries(optimizerTensors)) opt[k] = { dtype: 'F32', shape: [v.length], data: v };
  const contents: Record<CheckpointFile, Uint8Array> = {
    'model.safetensors': encodeSafetensors(moduleTensors(model), meta),
    'optimizer.safetensors': encodeSafetensors(opt, meta),
    'config.json': Buffer.from(`${JSON.stringify(config, null, 2)}\n`),
    'state.json': Buffer.from(`${JSON.stringify(state, null, 2)}\n`),
  };
  const files = {} as FileChecksums;
  for (const name of CHECKPOINT_FILES) {
    writeFileAtomicSync(join(dir, name), contents[name]);
    files[name] = { bytes: contents[name].length, sha256: sha256(contents[name]) };
  }
  const head = { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION };
  writeJson(join(dir, 'manifest.json'), { ...head, epoch: state.epoch, files });
  writeJson(join(outDir, 'checkpoint.json'), { ...head, latest: rel, epoch: state.epoch, files });
  // Keep the epoch just written and (unless this is a fresh run's first) the one the previous
  // pointer named: a crash while writing the next one must leave a complete checkpoint besides
  // the pointed one. Chosen by what the pointer said, never by name.
  const keep = new Set([rel, opts.fresh ? undefined : previous].filter((r) => r !== undefined));
  for (const d of readdirSync(join(outDir, 'checkpoints'))) {
    if (EPOCH_DIR.test(d) && !keep.has(join('checkpoints', d)))
      rmSync(join(outDir, 'checkpoints', d), { recursive: true, force: true });
  }
  return dir;
}

/** The checkpoint outDir holds (the epoch its pointer names, when readable), or undefined for none. */
export function heldCheckpoint(outDir: string): { epoch?: number; latest?: string } | undefined {
  const dirs = existsSync(join(outDir, 'checkpoints'))
    ? readdirSync(join(outDir, 'checkpoints')).filter((d) => EPOCH_DIR.test(d))
    : [];
  const ptr = pointerIfAny(outDir);
  if (!ptr && dirs.length === 0) return undefined;
  return { epoch: ptr?.epoch, latest: ptr?.latest };
}

/**
 * Checks that outDir may take a fresh (not resumed) run. A checkpoint already there is another
 * run's model: refused unless `overwrite`. Nothing is deleted here: the new run's first
 * saveCheckpoint ({ fresh: true }) replaces the old one only once its own is written and pointed
 * to, so a run that diverges or is killed before then leaves the old model as it was.
 */
export function checkFreshOutDir(outDir: string, overwrite = false): void {
  const held = heldCheckpoint(outDir);
  if (!held || overwrite) return;
  const what = held.epoch !== undefined ? `epoch ${held.epoch} (${held.latest})` : 'checkpoint files';
  throw new FileError(
    `${outDir} already holds a checkpoint of an earlier run: ${what}. Pass --resume to continue it, ` +
      'a new --out, or --overwrite to replace it',
  );
}

// ---- reading and validation ----

function readJson(file: string, what: string): unknown {
  const text = readTextChecked(file, what);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FormatError(`${file}: ${what} is not valid JSON (${(e as Error).message})`);
  }
}

function validateChecksums(raw: unknown, file: string): FileChecksums {
  const f = fieldsOf(file);
  const files = f.obj('files', raw);
  const out = {} as FileChecksums;
  for (const name of CHECKPOINT_FILES) {
    const e = f.obj(`files['${name}']`, files[name]);
    const sha = f.str(`files['${name}'].sha256`, e.sha256);
    if (!/^[0-9a-f]{64}$/.test(sha)) f.fail(`files['${name}'].sha256`, '64 hex digits', sha);
    out[name] = { bytes: f.int(`files['${name}'].bytes`, e.bytes), sha256: sha };
  }
  return out;
}

/** Where the files of a checkpoint are, and the checksums recorded for them (if any). */
interface Located {
  dir: string;
  checksums?: { files: FileChecksums; source: string };
  /** The epoch the pointer or manifest names. */
  epoch?: number;
}

/** Resolves OUT (via checkpoint.json) or an epoch directory (its manifest.json, if any). */
function locate(path: string): Located {
  const p = resolve(path);
  const ptr = readPointer(p);
  if (ptr) return { dir: join(p, ptr.latest), checksums: ptr.checksums, epoch: ptr.epoch };
  if (existsSync(join(p, 'config.json')) && existsSync(join(p, 'model.safetensors'))) {
    const manifest = join(p, 'manifest.json');
    if (!existsSync(manifest)) return { dir: p };
    const f = fieldsOf(manifest);
    const m = f.obj('the manifest', readJson(manifest, 'checkpoint manifest'));
    if (m.format !== CHECKPOINT_FORMAT) f.fail('format', `'${CHECKPOINT_FORMAT}'`, m.format);
    const epoch = m.epoch === undefined ? undefined : f.int('epoch', m.epoch);
    return { dir: p, checksums: { files: validateChecksums(m.files, manifest), source: manifest }, epoch };
  }
  throw new FormatError(`${p}: not a checkpoint (expected checkpoint.json, or config.json and model.safetensors)`);
}

/** Resolves OUT (via checkpoint.json) or an epoch directory to the directory holding the files. */
export function checkpointDir(path: string): string {
  return locate(path).dir;
}

/** What each file is, for messages. */
const FILE_WHAT: Record<CheckpointFile, string> = {
  'model.safetensors': 'model weights',
  'optimizer.safetensors': 'optimizer state',
  'config.json': 'checkpoint config',
  'state.json': 'training state',
};

/** Reads one file of the checkpoint, verified against its recorded length and sha256. */
function readVerified(at: Located, name: CheckpointFile): Buffer {
  const file = join(at.dir, name);
  const buf = readFileChecked(file, FILE_WHAT[name]);
  const want = at.checksums?.files[name];
  if (want && buf.length !== want.bytes)
    throw new FormatError(`${file}: ${buf.length} bytes, but ${at.checksums?.source} records ${want.bytes}`);
  if (want && sha256(buf) !== want.sha256)
    throw new FormatError(`${file}: sha256 does not match the one ${at.checksums?.source} records (corrupt file)`);
  return buf;
}

function parseVerified(at: Located, name: 'config.json' | 'state.json', what: string): unknown {
  const file = join(at.dir, name);
  try {
    return JSON.parse(readVerified(at, name).toString('utf8'));
  } catch (e) {
    if (e instanceof GraduateError) throw e;
    throw new FormatError(`${file}: ${what} is not valid JSON (${(e as Error).message})`);
  }
}

/** The preprocessing by the rule artifacts' meta.input follows (graph/validate.ts), for this model's input. */
function validatePreprocessing(raw: unknown, inputShape: readonly number[], file: string): Preprocessing {
  const f = fieldsOf(file);
  const p = checkInputSpec(raw, 'preprocessing', 'inputShape', f.fail) as unknown as Preprocessing;
  if (p.inputShape.join() !== inputShape.join())
    f.fail('preprocessing.inputShape', `model.inputShape [${inputShape.join(', ')}]`, p.inputShape);
  return p;
}

/**
 * The training options config.json records (fit's TrainConfig and the CLI's data options), each
 * optional: absent in older checkpoints, null for an option the run did not use. Compile's
 * fine-tuning inherits some, and --resume takes them all as its defaults.
 */
function validateTrainRecord(t: Record<string, unknown>, f: ReturnType<typeof fieldsOf>): void {
  // options every run has may be absent, never null
  const required = ['epochs', 'batchSize', 'lr', 'optimizer', 'seed'];
  const given = (k: string) => t[k] !== undefined && (t[k] !== null || required.includes(k));
  for (const k of ['epochs', 'batchSize']) if (given(k)) f.int(`train.${k}`, t[k], 1);
  for (const k of ['patience', 'limit']) if (given(k)) f.int(`train.${k}`, t[k]);
  for (const k of ['seed', 'lr', 'clipNorm', 'weightDecay', 'momentum', 'warmupEpochs', 'labelSmoothing'])
    if (given(k)) f.num(`train.${k}`, t[k]);
  for (const k of ['lr', 'clipNorm'])
    if (given(k) && !((t[k] as number) > 0)) f.fail(`train.${k}`, 'a number > 0', t[k]);
  if (given('valFraction') && !(f.num('train.valFraction', t.valFraction) >= 0 && (t.valFraction as number) < 1))
    f.fail('train.valFraction', 'a number in [0, 1)', t.valFraction);
  for (const [k, names] of [
    ['optimizer', ['adam', 'adamw', 'sgd']],
    ['schedule', ['constant', 'cosine', 'onecycle', 'step']],
  ] as const)
    if (given(k) && !(names as readonly unknown[]).includes(t[k]))
      f.fail(`train.${k}`, `one of ${names.map((n) => `'${n}'`).join(', ')}`, t[k]);
  if (given('augment')) {
    const a = f.obj('train.augment', t.augment);
    if (a.cropPadding !== undefined) f.int('train.augment.cropPadding', a.cropPadding, 0, 64);
    if (a.horizontalFlip !== undefined) f.bool('train.augment.horizontalFlip', a.horizontalFlip);
  }
}

/** Validates config.json (every field the readers use); errors name the file and field. */
export function validateConfig(raw: unknown, file: string): CheckpointConfig {
  const f = fieldsOf(file);
  const c = f.obj('the config', raw);
  if (c.format !== CHECKPOINT_FORMAT) f.fail('format', `'${CHECKPOINT_FORMAT}'`, c.format);
  if (c.kind !== undefined)
    throw new FormatError(
      `${file}: a '${String(c.kind)}' checkpoint, not a layer-stack model (graduate eval reads it; this command does not)`,
    );
  const version = f.int('version', c.version, 1);
  if (version > CHECKPOINT_VERSION)
    throw new FormatError(
      `${file}: checkpoint version ${version} is newer than this Graduate supports (${CHECKPOINT_VERSION})`,
    );
  const model = f.obj('model', c.model);
  const inputShape = f.arr('model.inputShape', model.inputShape);
  inputShape.forEach((d, i) => void f.int(`model.inputShape[${i}]`, d, 1));
  f.arr('model.layers', model.layers);
  const classNames = f.arr('classNames', c.classNames);
  if (classNames.length === 0) f.fail('classNames', 'a non-empty array', classNames);
  classNames.forEach((n, i) => void f.str(`classNames[${i}]`, n));
  if (new Set(classNames).size !== classNames.length) f.fail('classNames', 'distinct names', classNames);
  validatePreprocessing(c.preprocessing, inputShape as number[], file);
  validateTrainRecord(f.obj('train', c.train), f);
  f.str('data', c.data);
  f.str('producer', c.producer);
  return c as unknown as CheckpointConfig;
}

/** Validates state.json (loop, optimizer and RNG state); errors name the file and field. */
export function validateState(raw: unknown, file: string): TrainState {
  const f = fieldsOf(file);
  const s = f.obj('the state', raw);
  const epoch = f.int('epoch', s.epoch);
  const epochs = f.arr('history.epochs', f.obj('history', s.history).epochs);
  if (epochs.length !== epoch) f.fail('history.epochs', `one record per completed epoch (${epoch})`, epochs);
  epochs.forEach((r, i) => {
    const at = `history.epochs[${i}]`;
    const e = f.obj(at, r);
    if (e.epoch !== i + 1) f.fail(`${at}.epoch`, String(i + 1), e.epoch);
    for (const k of ['trainLoss', 'trainAccuracy', 'lr'] as const) f.num(`${at}.${k}`, e[k]);
    // measurements may be absent (no validation set) or null (JSON has no Infinity)
    for (const k of ['valLoss', 'valAccuracy', 'seconds', 'samplesPerSecond'] satisfies (keyof EpochRecord)[])
      if (e[k] !== undefined && e[k] !== null) f.num(`${at}.${k}`, e[k]);
  });
  const opt = f.obj('optimizer', s.optimizer);
  f.str('optimizer.name', opt.name);
  const scalars = f.obj('optimizer.scalars', opt.scalars);
  for (const [k, v] of Object.entries(scalars)) f.num(`optimizer.scalars['${k}']`, v);
  // xoshiro128**: four 32-bit words, not all zero (the all-zero state only ever yields zeros)
  const rng = f.arr('rng', s.rng);
  if (rng.length !== 4) f.fail('rng', 'four 32-bit words', rng);
  rng.forEach((w, i) => void f.int(`rng[${i}]`, w, 0, 0xffffffff));
  if (rng.every((w) => w === 0)) f.fail('rng', 'not all zero', 0);
  f.num('bestValAccuracy', s.bestValAccuracy);
  f.int('epochsWithoutImprovement', s.epochsWithoutImprovement);
  return s as unknown as TrainState;
}

/** Reads a safetensors file of the checkpoint: every tensor F32 with finite values. */
function readTensors(at: Located, name: 'model.safetensors' | 'optimizer.safetensors') {
  const file = join(at.dir, name);
  const { tensors } = decodeSafetensors(readVerified(at, name), file);
  for (const [k, v] of Object.entries(tensors)) checkF32(v, `${file}: tensor '${k}'`);
  return tensors;
}

/** Throws unless `w` is F32 with every value finite (a NaN weight poisons every output). */
function checkF32(w: NamedArray, what: string): void {
  if (w.dtype !== 'F32') throw new FormatError(`${what} is ${w.dtype}, expected F32`);
  const i = firstNonFinite(w.data);
  if (i >= 0) throw new FormatError(`${what} holds ${w.data[i]} at index ${i} (a corrupt or diverged model)`);
}

function modelAt(at: Located): Checkpoint {
  return modelAs(at, validateConfig);
}

function modelAs<C>(at: Located, validate: (raw: unknown, file: string) => C) {
  const file = join(at.dir, 'config.json');
  const config = validate(parseVerified(at, 'config.json', 'checkpoint config'), file);
  return { dir: at.dir, config, weights: readTensors(at, 'model.safetensors') };
}

/**
 * The model part of a checkpoint whose config.json another model family validates (its
 * ConfigHead.kind): the files found and verified as readModelCheckpoint does.
 */
export function readCheckpointAs<C extends ConfigHead>(
  path: string,
  validate: (raw: unknown, file: string) => C,
): { dir: string; config: C; weights: Record<string, NamedArray> } {
  return modelAs(locate(path), validate);
}

/** Reads the model part of a checkpoint (OUT dir or epoch dir): config and weights, verified. */
export function readModelCheckpoint(path: string): Checkpoint {
  return modelAt(locate(path));
}

/** Reads a whole checkpoint for resuming: also loop state and optimizer state (both required). */
export function readCheckpoint(path: string): TrainingCheckpoint {
  const at = locate(path);
  const model = modelAt(at);
  const stateFile = join(at.dir, 'state.json');
  const state = validateState(parseVerified(at, 'state.json', 'training state'), stateFile);
  if (at.epoch !== undefined && at.epoch !== state.epoch)
    throw new FormatError(
      `${stateFile}: epoch is ${state.epoch}, but the checkpoint pointer or manifest says ${at.epoch}`,
    );
  // no prototype: the names come from the file (a tensor may be named '__proto__')
  const optimizerTensors: Record<string, Float32Array> = Object.create(null);
  for (const [k, v] of Object.entries(readTensors(at, 'optimizer.safetensors')))
    optimizerTensors[k] = v.data as Float32Array;
  return { ...model, state, optimizerTensors };
}

/** Copies named weights into a module; every parameter and buffer must be present: F32, its shape, finite. */
export function loadWeights(model: Module, weights: Record<string, NamedArray>, source: string): void {
  const expected = [...model.namedParameters(), ...model.namedBuffers()];
  for (const [name, t] of expected) {
    const w = Object.hasOwn(weights, name) ? weights[name] : undefined;
    if (!w) throw new FormatError(`${source}: missing tensor '${name}' ${JSON.stringify(t.shape)}`);
    if (w.shape.join() !== t.shape.join()) {
      throw new FormatError(
        `${source}: tensor '${name}' has shape [${w.shape.join(', ')}], the model expects [${t.shape.join(', ')}]`,
      );
    }
    checkF32(w, `${source}: tensor '${name}'`);
  }
  const known = new Set(expected.map(([n]) => n));
  const extra = Object.keys(weights).filter((n) => !known.has(n));
  if (extra.length)
    throw new FormatError(`${source}: unexpected tensors ${extra.slice(0, 5).join(', ')} (model/config mismatch?)`);
  // all checked before any is written: a refused file leaves the module as it was
  for (const [name, t] of expected) write(t, weights[name].data);
}

/** Builds the model a checkpoint config describes; a config that cannot be built names the file. */
export function buildCheckpointModel(config: CheckpointConfig, file: string): Sequential {
  let built: ReturnType<typeof buildModel>;
  try {
    built = buildModel(config.model);
  } catch (e) {
    // RangeError: the described model does not fit in memory (a corrupt or hostile size)
    if (e instanceof GraduateError || e instanceof RangeError)
      throw new FormatError(`${file}: model: ${(e as Error).message}`);
    throw e;
  }
  if (built.outShape.join() !== String(config.classNames.length)) {
    built.model.dispose();
    throw new FormatError(
      `${file}: the model's output shape [${built.outShape.join(', ')}] does not match its ${config.classNames.length} classNames`,
    );
  }
  return built.model;
}

/** Rebuilds the model of a checkpoint with its weights (eval mode). */
export function loadModel(path: string): { model: Sequential; checkpoint: Checkpoint } {
  const checkpoint = readModelCheckpoint(path);
  const model = buildCheckpointModel(checkpoint.config, join(checkpoint.dir, 'config.json'));
  try {
    loadWeights(model, checkpoint.weights, join(checkpoint.dir, 'model.safetensors'));
  } catch (e) {
    model.dispose();
    throw e;
  }
  model.eval();
  return { model, checkpoint };
}
