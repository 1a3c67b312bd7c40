// A tiny model and data set for checkpoint tests (trains in milliseconds): three well-separated
// 2-feature classes, an 8-unit MLP, and helpers to write its checkpoint and to re-record the
// checksums after a test corrupts a file on purpose (to reach the checks behind them).
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ArrayDataset } from '../../src/data/dataset.js';
import { buildModel } from '../../src/nn/build.js';
import type { ModelSpec } from '../../src/nn/spec.js';
import { manualSeed, Rng } from '../../src/tensor/random.js';
import { CHECKPOINT_FILES, checkpointDir } from '../../src/train/checkpoint.js';
import { type FitOptions, fit, type TrainConfig } from '../../src/train/fit.js';

export const TINY_CLASSES = ['cat', 'dog', 'eel'];
export const TINY_SPEC: ModelSpec = {
  inputShape: [2],
  layers: [{ type: 'linear', out: 8 }, { type: 'relu' }, { type: 'linear', out: 3 }],
};
export const TINY_CONFIG: TrainConfig = { epochs: 1, batchSize: 16, lr: 0.02, optimizer: 'adam', seed: 3 };

/** n samples of the three classes in turn, centred at (3c, -2c) with noise 0.3. */
export function tinyData(n = 96, seed = 1): ArrayDataset {
  const rng = new Rng(seed);
  const x = new Float32Array(n * 2);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 3;
    x[2 * i] = y[i] * 3 + 0.3 * rng.normal();
    x[2 * i + 1] = -y[i] * 2 + 0.3 * rng.normal();
  }
  return {
    x,
    y,
    sampleShape: [2],
    classNames: TINY_CLASSES,
    size: n,
    preprocessing: { kind: 'tabular', inputShape: [2], mean: [0, 0], std: [1, 1] },
    name: 'tiny',
  };
}

/** Trains the tiny MLP for `epochs` with checkpoints in outDir; returns fit's result (model disposed). */
export function trainTiny(outDir: string, epochs: number, opts: Partial<FitOptions> = {}) {
  manualSeed(TINY_CONFIG.seed);
  const { model } = buildModel(TINY_SPEC);
  try {
    const r = fit({
      model,
      modelSpec: TINY_SPEC,
      train: tinyData(),
      config: { ...TINY_CONFIG, epochs },
      outDir,
      log: () => {},
      progress: false,
      ...opts,
    });
    r.optimizer.dispose();
    return r;
  } finally {
    model.dispose();
  }
}

/** Re-records the checksums of outDir's latest epoch in its manifest and checkpoint.json. */
export function resign(outDir: string): void {
  const dir = checkpointDir(outDir);
  const files: Record<string, { bytes: number; sha256: string }> = {};
  for (const name of CHECKPOINT_FILES) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(join(dir, name));
    } catch {
      continue; // a test removed it on purpose
    }
    files[name] = { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
  }
  for (const file of [join(dir, 'manifest.json'), join(outDir, 'checkpoint.json')]) {
    const json = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify({ ...json, files: { ...json.files, ...files } }));
  }
}

/** A fresh temporary directory, removed by cleanup(). */
export function tempDirs(prefix: string) {
  const dirs: string[] = [];
  return {
    make: () => {
      const d = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(d);
      return d;
    },
    cleanup: () => {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}
