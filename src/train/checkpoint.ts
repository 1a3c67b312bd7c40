// Training checkpoints. Each epoch is written into its own directory (model weights and buffers
// as safetensors, the config that rebuilds the model, optimizer state, RNG and loop state), every
// file atomically; only then does OUT/checkpoint.json (also atomic) point at it. A crash at any
// moment leaves the previous checkpoint intact and pointed to. The last two epochs are kept.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Preprocessing } from '../data/dataset.js';
import { FormatError } from '../errors.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { decodeSafetensors, encodeSafetensors, type NamedArray } from '../io/safetensors.js';
import { buildModel } from '../nn/build.js';
import type { Sequential } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import type { ModelSpec } from '../nn/spec.js';
import { write } from '../tensor/tensor.js';
import type { History } from './history.js';

export const CHECKPOINT_FORMAT = 'graduate-checkpoint';
export const CHECKPOINT_VERSION = 1;

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

export interface Checkpoint {
  dir: string;
  config: CheckpointConfig;
  state: TrainState;
  weights: Record<string, NamedArray>;
  optimizerTensors: Record<string, Float32Array>;
}

function writeJson(file: string, value: unknown): void {
  writeFileAtomicSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** Weights and buffers of a module as safetensors entries. */
export function moduleTensors(model: Module): Record<string, NamedArray> {
  const out: Record<string, NamedArray> = {};
  for (const [name, t] of [...model.namedParameters(), ...model.namedBuffers()]) {
    out[name] = { dtype: 'F32', shape: [...t.shape], data: t.data() as Float32Array };
  }
  return out;
}

/** Writes a checkpoint for `state.epoch` under outDir and points checkpoint.json at it. */
export function saveCheckpoint(
  outDir: string,
  model: Module,
  config: CheckpointConfig,
  state: TrainState,
  optimizerTensors: Record<string, Float32Array>,
): string {
  const rel = join('checkpoints', `epoch-${String(state.epoch).padStart(3, '0')}`);
  const dir = join(outDir, rel);
  mkdirSync(dir, { recursive: true });
  const meta = { format: CHECKPOINT_FORMAT, epoch: String(state.epoch) };
  writeFileAtomicSync(join(dir, 'model.safetensors'), encodeSafetensors(moduleTensors(model), meta));
  const opt: Record<string, NamedArray> = {};
  for (const [k, v] of Object.entries(optimizerTensors)) opt[k] = { dtype: 'F32', shape: [v.length], data: v };
  writeFileAtomicSync(join(dir, 'optimizer.safetensors'), encodeSafetensors(opt, meta));
  writeJson(join(dir, 'config.json'), config);
  writeJson(join(dir, 'state.json'), state);
  writeJson(join(outDir, 'checkpoint.json'), {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    latest: rel,
    epoch: state.epoch,
  });
  // keep the newest two epoch directories
  const all = readdirSync(join(outDir, 'checkpoints'))
    .filter((d) => /^epoch-\d+$/.test(d))
    .sort();
  for (const old of all.slice(0, -2)) rmSync(join(outDir, 'checkpoints', old), { recursive: true, force: true });
  return dir;
}

function readJson<T>(file: string, what: string): T {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new FormatError(
      `${file}: cannot read ${what} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new FormatError(`${file}: ${what} is not valid JSON (${(e as Error).message})`);
  }
}

/** Resolves OUT (via checkpoint.json) or an epoch directory to the directory holding the files. */
export function checkpointDir(path: string): string {
  const p = resolve(path);
  const pointer = join(p, 'checkpoint.json');
  if (existsSync(pointer)) {
    const ptr = readJson<{ format?: string; latest?: string }>(pointer, 'checkpoint pointer');
    if (ptr.format !== CHECKPOINT_FORMAT || typeof ptr.latest !== 'string') {
      throw new FormatError(
        `${pointer}: not a Graduate checkpoint pointer (expected format '${CHECKPOINT_FORMAT}' and 'latest')`,
      );
    }
    return join(p, ptr.latest);
  }
  if (existsSync(join(p, 'config.json')) && existsSync(join(p, 'model.safetensors'))) return p;
  throw new FormatError(`${p}: not a checkpoint (expected checkpoint.json, or config.json and model.safetensors)`);
}

/** Reads and validates a checkpoint (OUT dir or epoch dir). */
export function readCheckpoint(path: string): Checkpoint {
  const dir = checkpointDir(path);
  const config = readJson<CheckpointConfig>(join(dir, 'config.json'), 'checkpoint config');
  if (config.format !== CHECKPOINT_FORMAT)
    throw new FormatError(
      `${join(dir, 'config.json')}: format is ${JSON.stringify(config.format)}, expected '${CHECKPOINT_FORMAT}'`,
    );
  if (config.version > CHECKPOINT_VERSION)
    throw new FormatError(
      `${join(dir, 'config.json')}: checkpoint version ${config.version} is newer than this Graduate supports (${CHECKPOINT_VERSION})`,
    );
  const state = readJson<TrainState>(join(dir, 'state.json'), 'training state');
  const read = (name: string) => {
    const file = join(dir, name);
    let buf: Uint8Array;
    try {
      buf = readFileSync(file);
    } catch (e) {
      throw new FormatError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return decodeSafetensors(buf, file);
  };
  const weights = read('model.safetensors').tensors;
  const optimizerTensors: Record<string, Float32Array> = {};
  if (existsSync(join(dir, 'optimizer.safetensors'))) {
    for (const [k, v] of Object.entries(read('optimizer.safetensors').tensors))
      optimizerTensors[k] = v.data as Float32Array;
  }
  return { dir, config, state, weights, optimizerTensors };
}

/** Copies named weights into a module; every parameter and buffer must be present with its shape. */
export function loadWeights(model: Module, weights: Record<string, NamedArray>, source: string): void {
  const expected = [...model.namedParameters(), ...model.namedBuffers()];
  for (const [name, t] of expected) {
    const w = weights[name];
    if (!w) throw new FormatError(`${source}: missing tensor '${name}' ${JSON.stringify(t.shape)}`);
    if (w.shape.join() !== t.shape.join()) {
      throw new FormatError(
        `${source}: tensor '${name}' has shape [${w.shape.join(', ')}], the model expects [${t.shape.join(', ')}]`,
      );
    }
    write(t, w.data);
  }
  const known = new Set(expected.map(([n]) => n));
  const extra = Object.keys(weights).filter((n) => !known.has(n));
  if (extra.length)
    throw new FormatError(`${source}: unexpected tensors ${extra.slice(0, 5).join(', ')} (model/config mismatch?)`);
}

/** Rebuilds the model of a checkpoint with its weights (eval mode). */
export function loadModel(path: string): { model: Sequential; checkpoint: Checkpoint } {
  const checkpoint = readCheckpoint(path);
  const { model } = buildModel(checkpoint.config.model);
  loadWeights(model, checkpoint.weights, join(checkpoint.dir, 'model.safetensors'));
  model.eval();
  return { model, checkpoint };
}
