// Checkpoints as a specification: what is kept when a directory is reused, what a fresh run into a
// used directory does, and which corrupt files are refused (with the file and the field named)
// instead of being trained on, evaluated or compiled.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileError, FormatError } from '../../src/errors.js';
import { decodeSafetensors, encodeSafetensors, type NamedArray } from '../../src/io/safetensors.js';
import { buildModel } from '../../src/nn/build.js';
import {
  type CheckpointConfig,
  checkpointDir,
  loadModel,
  readCheckpoint,
  saveCheckpoint,
  type TrainState,
} from '../../src/train/checkpoint.js';
import { evaluate } from '../../src/train/evaluate.js';
import { resign, TINY_SPEC, tempDirs, tinyData, trainTiny } from './tiny.js';

const tmp = tempDirs('graduate-ckpt-');
afterAll(tmp.cleanup);

const epochsIn = (out: string) => readdirSync(join(out, 'checkpoints')).sort();
const pointer = (out: string) => JSON.parse(readFileSync(join(out, 'checkpoint.json'), 'utf8'));

/** Rewrites one JSON file of the latest epoch (and re-records checksums: the check behind them). */
function editJson(out: string, name: string, edit: (j: Record<string, unknown>) => unknown): string {
  const file = join(checkpointDir(out), name);
  writeFileSync(file, JSON.stringify(edit(JSON.parse(readFileSync(file, 'utf8')))));
  resign(out);
  return file;
}

/** Rewrites model.safetensors of the latest epoch with `edit` applied to its tensors (re-signed). */
function editWeights(out: string, edit: (t: Record<string, NamedArray>) => void): string {
  const file = join(checkpointDir(out), 'model.safetensors');
  const { tensors, metadata } = decodeSafetensors(readFileSync(file), file);
  edit(tensors);
  writeFileSync(file, encodeSafetensors(tensors, metadata));
  resign(out);
  return file;
}

describe('checkpoint retention and reuse of --out', () => {
  it('a lower epoch written into a used directory keeps itself and what the pointer named', () => {
    const out = tmp.make();
    const { model } = buildModel(TINY_SPEC);
    const config = {
      format: 'graduate-checkpoint',
      version: 1,
      model: TINY_SPEC,
      classNames: ['cat', 'dog', 'eel'],
      preprocessing: tinyData().preprocessing,
      train: {},
      data: 'tiny',
      producer: 'test',
    } satisfies CheckpointConfig;
    const state = (epoch: number): TrainState => ({
      epoch,
      history: { epochs: [] },
      optimizer: { name: 'adam', scalars: {} },
      rng: [1, 2, 3, 4],
      bestValAccuracy: 0,
      epochsWithoutImprovement: 0,
    });
    for (const e of [1, 2, 3]) saveCheckpoint(out, model, config, state(e), {});
    expect(epochsIn(out)).toEqual(['epoch-002', 'epoch-003']);
    saveCheckpoint(out, model, config, state(1), {});
    // before: sorted by name, the new epoch-001 was removed and the pointer named nothing
    expect(pointer(out).latest).toBe(join('checkpoints', 'epoch-001'));
    expect(epochsIn(out)).toEqual(['epoch-001', 'epoch-003']);
    expect(() => loadModel(out)).not.toThrow();
    model.dispose();
  });

  it('a fresh run into a directory holding a checkpoint is refused, naming it; --overwrite replaces it', () => {
    const out = tmp.make();
    trainTiny(out, 3);
    expect(() => trainTiny(out, 1)).toThrow(FileError);
    expect(() => trainTiny(out, 1)).toThrow(
      `${out} already holds a checkpoint of an earlier run: epoch 3 (checkpoints/epoch-003). Pass --resume to continue it, a new --out, or --overwrite to replace it`,
    );
    expect(epochsIn(out)).toEqual(['epoch-002', 'epoch-003']); // untouched
    trainTiny(out, 1, { overwrite: true });
    expect(epochsIn(out)).toEqual(['epoch-001']);
    expect(pointer(out)).toMatchObject({ latest: join('checkpoints', 'epoch-001'), epoch: 1 });
    expect(readCheckpoint(out).state.epoch).toBe(1);
  });
});

describe('corrupt checkpoints are refused, naming the file and what is wrong', () => {
  const trained = () => {
    const out = tmp.make();
    trainTiny(out, 2);
    return out;
  };

  it('a NaN or Inf weight (eval, compile and resume all load through here)', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const out = trained();
      const file = editWeights(out, (t) => {
        (t['0.weight'].data as Float32Array)[5] = bad;
      });
      expect(() => loadModel(out)).toThrow(FormatError);
      expect(() => loadModel(out)).toThrow(`${file}: tensor '0.weight' holds ${bad} at index 5`);
      expect(() => trainTiny(out, 3, { resume: true })).toThrow(`tensor '0.weight' holds ${bad}`);
    }
  });

  it('a tensor of another dtype where F32 is expected', () => {
    const out = trained();
    const file = editWeights(out, (t) => {
      const w = t['2.bias'];
      t['2.bias'] = { dtype: 'I32', shape: w.shape, data: Int32Array.from(w.data, (v) => Math.round(v)) };
    });
    expect(() => loadModel(out)).toThrow(`${file}: tensor '2.bias' is I32, expected F32`);
  });

  it('a flipped byte in any file of the epoch fails its sha256 (read via the pointer or the epoch directory)', () => {
    for (const name of ['model.safetensors', 'optimizer.safetensors', 'config.json', 'state.json']) {
      const out = trained();
      const dir = checkpointDir(out);
      const file = join(dir, name);
      const bytes = readFileSync(file);
      bytes[bytes.length - 3] ^= 0x01; // inside the data (or JSON text): parses fine, wrong values
      writeFileSync(file, bytes);
      const want = /sha256 does not match the one .*(checkpoint|manifest)\.json records \(corrupt file\)/;
      expect(() => readCheckpoint(out)).toThrow(`${file}: sha256 does not match`);
      expect(() => readCheckpoint(dir)).toThrow(want);
      expect(() => readCheckpoint(dir)).toThrow(join(dir, 'manifest.json'));
    }
    const out = trained();
    const file = join(checkpointDir(out), 'model.safetensors');
    writeFileSync(file, readFileSync(file).subarray(0, 100));
    expect(() => loadModel(out)).toThrow(`${file}: 100 bytes, but ${join(out, 'checkpoint.json')} records`);
  });

  it('checkpoints without checksums (written before they existed) stay readable', () => {
    const out = trained();
    const before = loadModel(out).model;
    const ptr = pointer(out);
    delete ptr.files;
    writeFileSync(join(out, 'checkpoint.json'), JSON.stringify(ptr));
    rmSync(join(checkpointDir(out), 'manifest.json'));
    const { model } = loadModel(out);
    expect(evaluate(model, tinyData()).preds).toEqual(evaluate(before, tinyData()).preds);
    for (const m of [model, before]) m.dispose();
    expect(readCheckpoint(checkpointDir(out)).state.epoch).toBe(2);
  });

  it('a missing optimizer.safetensors is an error on resume (Adam must not silently restart)', () => {
    const out = trained();
    const file = join(checkpointDir(out), 'optimizer.safetensors');
    rmSync(file);
    resign(out);
    expect(() => trainTiny(out, 3, { resume: true })).toThrow(`${file}: cannot read optimizer state (ENOENT)`);
    expect(() => loadModel(out)).not.toThrow(); // eval and compile do not need it
  });

  it("an optimizer tensor named '__proto__' is a tensor, not the record's prototype: an error naming it on resume", () => {
    const out = trained();
    const file = join(checkpointDir(out), 'optimizer.safetensors');
    const { tensors, metadata } = decodeSafetensors(readFileSync(file), file);
    tensors.__proto__ = { dtype: 'F32', shape: [1], data: new Float32Array(1) };
    writeFileSync(file, encodeSafetensors(tensors, metadata));
    resign(out);
    expect(Object.keys(readCheckpoint(out).optimizerTensors)).toContain('__proto__');
    // before: it set the prototype of a plain {}, was skipped by Object.entries and resume went on
    expect(() => trainTiny(out, 3, { resume: true })).toThrow(
      `${file} with state.json: Adam.loadStateDict: unknown tensor '__proto__'`,
    );
  });

  it('state.json fields: epoch "one", a bad RNG state, mismatched history; errors name file and field', () => {
    const cases: [(s: Record<string, unknown>) => unknown, string][] = [
      [(s) => ({ ...s, epoch: 'one' }), 'epoch must be an integer in [0, 9007199254740991], got "one"'],
      [(s) => ({ ...s, epoch: 3 }), 'history.epochs must be one record per completed epoch (3), got an array of 2'],
      [(s) => ({ ...s, rng: [1, 2, 3] }), 'rng must be four 32-bit words, got [1,2,3]'],
      [(s) => ({ ...s, rng: [1, 2, 3, 2 ** 32] }), 'rng[3] must be an integer in [0, 4294967295], got 4294967296'],
      [(s) => ({ ...s, rng: [0, 0, 0, 0] }), 'rng must be not all zero'],
      [(s) => ({ ...s, rng: 'abcd' }), 'rng must be an array, got "abcd"'],
      [
        (s) => ({ ...s, optimizer: { name: 'adam', scalars: { lr: 'x' } } }),
        "optimizer.scalars['lr'] must be a finite number",
      ],
      [(s) => ({ ...s, history: { epochs: [{}, {}] } }), 'history.epochs[0].epoch must be 1, got undefined'],
      [(s) => ({ ...s, bestValAccuracy: null }), 'bestValAccuracy must be a finite number, got null'],
      [() => [1, 2], 'the state must be an object, got [1,2]'],
    ];
    for (const [edit, message] of cases) {
      const out = trained();
      const file = editJson(out, 'state.json', edit);
      expect(() => trainTiny(out, 3, { resume: true })).toThrow(`${file}: ${message}`);
    }
  });

  it('config.json fields, and a model spec that cannot be built or does not fit the weights', () => {
    const cases: [(c: Record<string, unknown>) => unknown, string | RegExp][] = [
      [(c) => ({ ...c, format: 'x' }), 'format must be \'graduate-checkpoint\', got "x"'],
      [(c) => ({ ...c, version: 2 }), 'checkpoint version 2 is newer than this Graduate supports (1)'],
      [(c) => ({ ...c, classNames: ['a', 'a', 'b'] }), 'classNames must be distinct names'],
      [(c) => ({ ...c, classNames: ['a', 'b'] }), "the model's output shape [3] does not match its 2 classNames"],
      [(c) => ({ ...c, classNames: 7 }), 'classNames must be an array, got 7'],
      [
        (c) => ({ ...c, preprocessing: { kind: 'video' } }),
        "preprocessing.kind must be 'image', 'tabular', 'text' or 'audio'",
      ],
      [
        (c) => ({ ...c, preprocessing: { kind: 'tabular', inputShape: [2], mean: [0], std: [1, 1] } }),
        'preprocessing.mean must be 2 values (one per channel or feature), got [0]',
      ],
      // one rule with artifacts' meta.input (graph/validate.ts checkInputSpec); before: scale 0 passed
      [
        (c) => ({ ...c, preprocessing: { ...(c.preprocessing as object), scale: 0 } }),
        'preprocessing.scale must be a finite float32 number > 0, got 0',
      ],
      [
        (c) => ({ ...c, preprocessing: { ...(c.preprocessing as object), std: [1, -1] } }),
        'preprocessing.std[1] must be positive (at least 2^-126), got -1',
      ],
      [
        (c) => ({
          ...c,
          preprocessing: { kind: 'text', inputShape: [2], tokenizer: { kind: 'hash', buckets: 0, lowercase: true } },
        }),
        'preprocessing.tokenizer.buckets must be an integer in [1, 4294967296], got 0',
      ],
      [
        (c) => ({ ...c, train: { ...(c.train as object), batchSize: 'x' } }),
        'train.batchSize must be an integer in [1, 9007199254740991], got "x"',
      ],
      [
        (c) => ({ ...c, train: { ...(c.train as object), valFraction: 1 } }),
        'train.valFraction must be a number in [0, 1), got 1',
      ],
      [(c) => ({ ...c, model: { ...(c.model as object), layers: 'x' } }), 'model.layers must be an array, got "x"'],
      [(c) => ({ ...c, model: { inputShape: [2], layers: [{ type: 'linear', out: -1 }] } }), 'model: layers[0].out'],
      [
        (c) => ({ ...c, model: { inputShape: [2], layers: [{ type: 'linear', out: 1e9 }] } }),
        /model: out of wasm memory/,
      ],
      [
        (c) => ({ ...c, model: { inputShape: [2], layers: [{ type: 'linear', out: 3 }] } }),
        /model\.safetensors: tensor '0\.weight' has shape \[2, 8\], the model expects \[2, 3\]/,
      ],
      [(c) => ({ ...c, train: { augment: { cropPadding: 'big' } } }), 'train.augment.cropPadding must be an integer'],
    ];
    for (const [edit, message] of cases) {
      const out = trained();
      const file = editJson(out, 'config.json', edit);
      expect(() => loadModel(out)).toThrow(FormatError);
      if (typeof message === 'string' && !message.includes('safetensors'))
        expect(() => loadModel(out)).toThrow(`${file}: ${message}`);
      else expect(() => loadModel(out)).toThrow(message);
    }
  });

  it('resume restores exactly: a resumed run equals an uninterrupted one (with checksums in place)', () => {
    const full = tmp.make();
    const a = trainTiny(full, 3);
    const part = tmp.make();
    trainTiny(part, 2);
    const b = trainTiny(part, 3, { resume: true });
    expect(b.history.epochs.map((e) => e.trainLoss)).toEqual(a.history.epochs.map((e) => e.trainLoss));
    expect(readFileSync(join(checkpointDir(part), 'model.safetensors'))).toEqual(
      readFileSync(join(checkpointDir(full), 'model.safetensors')),
    );
    expect(existsSync(join(checkpointDir(part), 'manifest.json'))).toBe(true);
  });
});
