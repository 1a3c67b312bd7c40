// The fit loop on real data: it learns, it is deterministic, resume reproduces an uninterrupted
// run exactly, checkpoints are validated, and live memory is flat across epochs.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type ArrayDataset, subset } from '../../src/data/dataset.js';
import { loadFashionMnist } from '../../src/data/fashion-mnist.js';
import { FormatError } from '../../src/errors.js';
import { buildModel } from '../../src/nn/build.js';
import { presetSpec } from '../../src/nn/presets.js';
import type { ModelSpec } from '../../src/nn/spec.js';
import { manualSeed } from '../../src/tensor/random.js';
import { loadModel } from '../../src/train/checkpoint.js';
import { evaluate } from '../../src/train/evaluate.js';
import { fit, type TrainConfig } from '../../src/train/fit.js';

const DATA = '/usr/share/datasets/fashion-mnist';
const haveData = existsSync(DATA);
if (!haveData && process.env.CI) throw new Error(`${DATA} missing in CI: .ci/run installs dataset-fashion-mnist`);

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'graduate-fit-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const first = (ds: ArrayDataset, n: number) =>
  subset(
    ds,
    Int32Array.from({ length: n }, (_, i) => i),
  );

function run(
  spec: ModelSpec,
  train: ArrayDataset,
  val: ArrayDataset | undefined,
  config: TrainConfig,
  outDir?: string,
  resume = false,
) {
  manualSeed(config.seed);
  const { model } = buildModel(spec);
  const result = fit({ model, modelSpec: spec, train, val, config, outDir, resume, log: () => {}, progress: false });
  return { model, result };
}

describe.runIf(haveData)('fit on Fashion-MNIST', () => {
  const train = haveData ? first(loadFashionMnist('train'), 6000) : (undefined as never);
  const test = haveData ? first(loadFashionMnist('test'), 2000) : (undefined as never);
  const mlp = presetSpec('mlp', [28, 28, 1], 10);
  const base: TrainConfig = { epochs: 3, batchSize: 64, lr: 1e-3, optimizer: 'adam', seed: 7 };

  it('learns: an MLP reaches ≥ 80% test accuracy in 3 short epochs, memory flat across epochs', () => {
    const { model, result } = run(mlp, train, test, base);
    const ev = evaluate(model, test);
    expect(ev.accuracy).toBeGreaterThan(0.8);
    const losses = result.history.epochs.map((e) => e.trainLoss);
    expect(losses[2]).toBeLessThan(losses[0]);
    const e = result.history.epochs;
    expect(e[1].liveBytesStart).toBe(e[2].liveBytesStart);
    expect(e[2].liveBytesEnd).toBe(e[2].liveBytesStart);
    model.dispose();
    result.optimizer.dispose();
  });

  it('a CNN with BatchNorm and dropout trains too (one short epoch)', () => {
    const spec = presetSpec('cnn', [28, 28, 1], 10);
    const { model, result } = run(spec, first(train, 2000), first(test, 500), { ...base, epochs: 1 });
    expect(result.history.epochs[0].valAccuracy).toBeGreaterThan(0.6);
    model.dispose();
    result.optimizer.dispose();
  });

  it('is deterministic, and resume reproduces the uninterrupted loss curve exactly', () => {
    const cnnSmall: ModelSpec = {
      inputShape: [28, 28, 1],
      layers: [
        { type: 'conv2d', out: 4, kernel: 3, stride: 2 },
        { type: 'batchnorm' },
        { type: 'relu' },
        { type: 'flatten' },
        { type: 'dropout', p: 0.2 },
        { type: 'linear', out: 10 },
      ],
    };
    const small = first(train, 1024);
    const val = first(test, 256);
    const cfg: TrainConfig = {
      ...base,
      epochs: 3,
      schedule: 'cosine',
      augment: { cropPadding: 2, horizontalFlip: true },
    };
    const full = run(cnnSmall, small, val, cfg, tmp());
    const again = run(cnnSmall, small, val, cfg);
    expect(again.result.history.epochs.map((e) => e.trainLoss)).toEqual(
      full.result.history.epochs.map((e) => e.trainLoss),
    );

    const out = tmp();
    const part = run(cnnSmall, small, val, { ...cfg, epochs: 3 }, out);
    // simulate an interruption after epoch 2: rewind the pointer to the epoch-2 checkpoint
    const ptr = JSON.parse(readFileSync(join(out, 'checkpoint.json'), 'utf8'));
    const { files } = JSON.parse(readFileSync(join(out, 'checkpoints/epoch-002/manifest.json'), 'utf8'));
    const rewound = { ...ptr, latest: 'checkpoints/epoch-002', epoch: 2, files };
    writeFileSync(join(out, 'checkpoint.json'), JSON.stringify(rewound));
    const resumed = run(cnnSmall, small, val, cfg, out, true);
    const curve = (r: typeof full) => r.result.history.epochs.map((e) => [e.trainLoss, e.valLoss, e.valAccuracy]);
    expect(curve(resumed)).toEqual(curve(full));
    expect(curve(part)).toEqual(curve(full));
    const a = full.model.namedParameters().map(([, t]) => Array.from(t.data()));
    const b = resumed.model.namedParameters().map(([, t]) => Array.from(t.data()));
    expect(b).toEqual(a);
    for (const r of [full, again, part, resumed]) {
      r.model.dispose();
      r.result.optimizer.dispose();
    }
  });

  it('checkpoints load back into an equal model, and a corrupt one is a clear error', () => {
    const out = tmp();
    const { model, result } = run(mlp, first(train, 512), undefined, { ...base, epochs: 1 }, out);
    const loaded = loadModel(out);
    expect(evaluate(loaded.model, first(test, 300)).preds).toEqual(evaluate(model, first(test, 300)).preds);
    expect(loaded.checkpoint.config.classNames[9]).toBe('Ankle boot');
    const file = join(loaded.checkpoint.dir, 'model.safetensors');
    writeFileSync(file, readFileSync(file).subarray(0, 1000));
    expect(() => loadModel(out)).toThrow(FormatError);
    expect(() => loadModel(out)).toThrow(/model\.safetensors: 1000 bytes, but .*checkpoint\.json records/);
    expect(() => loadModel(join(out, 'nothing-here'))).toThrow(/not a checkpoint/);
    for (const m of [model, loaded.model]) m.dispose();
    result.optimizer.dispose();
  });
});
