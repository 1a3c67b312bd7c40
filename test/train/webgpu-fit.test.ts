// Training on the WebGPU backend (lavapipe in CI): the `cnn` preset's first epochs follow the CPU
// run's loss curve, the checkpoints it writes load on the CPU and predict the same, a CPU checkpoint
// resumes on the GPU as it resumes on the CPU, and device memory is flat across epochs. Small
// slices of Fashion-MNIST keep it to seconds on a software Vulkan device. Skipped, saying so, where
// no adapter exists (test/backend/gpu.ts).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ArrayDataset, subset } from '../../src/data/dataset.js';
import { loadFashionMnist } from '../../src/data/fashion-mnist.js';
import { buildModel } from '../../src/nn/build.js';
import { presetSpec } from '../../src/nn/presets.js';
import type { ModelSpec } from '../../src/nn/spec.js';
import { useBackend } from '../../src/tensor/context.js';
import { manualSeed } from '../../src/tensor/random.js';
import { loadModel } from '../../src/train/checkpoint.js';
import { evaluate } from '../../src/train/evaluate.js';
import { fit, type TrainConfig } from '../../src/train/fit.js';
import { gpuBackend } from '../backend/gpu.js';

const DATA = '/usr/share/datasets/fashion-mnist';
const haveData = existsSync(DATA);
const gpu = haveData ? gpuBackend('the WebGPU training tests') : undefined;

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'graduate-gpu-fit-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  useBackend(undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const range = (ds: ArrayDataset, from: number, n: number) =>
  subset(
    ds,
    Int32Array.from({ length: n }, (_, i) => from + i),
  );

/** Trains on `device` (tensors created there); back on the wasm backend afterwards. */
function run(
  device: 'cpu' | 'gpu',
  spec: ModelSpec,
  train: ArrayDataset,
  val: ArrayDataset,
  config: TrainConfig,
  outDir?: string,
  resume = false,
) {
  useBackend(device === 'gpu' ? gpu : undefined);
  try {
    manualSeed(config.seed);
    const { model } = buildModel(spec);
    const result = fit({ model, modelSpec: spec, train, val, config, outDir, resume, log: () => {}, progress: false });
    const ev = evaluate(model, val);
    return { model, result, ev, epochs: result.history.epochs };
  } finally {
    useBackend(undefined);
  }
}

describe.runIf(haveData && gpu)('training on WebGPU', () => {
  const all = haveData ? loadFashionMnist('train') : (undefined as never);
  const train = haveData ? range(all, 0, 64) : (undefined as never);
  const val = haveData ? range(all, 50000, 32) : (undefined as never);
  const spec = presetSpec('cnn', [28, 28, 1], 10);
  const config: TrainConfig = { epochs: 2, batchSize: 32, lr: 1e-3, optimizer: 'adam', seed: 5, labelSmoothing: 0.1 };

  // Lavapipe compiles each pipeline with LLVM on first use (tens of seconds for a training step's
  // kernels): one warm-up step here, so that no test blocks the event loop for a minute.
  beforeAll(() => {
    run('gpu', spec, range(all, 0, 32), range(all, 0, 32), { ...config, epochs: 1 });
  }, 240_000);

  it("the cnn preset's first epochs follow the CPU run's loss curve; device memory is flat", () => {
    const cpu = run('cpu', spec, train, val, config);
    const g = run('gpu', spec, train, val, config);
    for (let e = 0; e < config.epochs; e++) {
      const [c, w] = [cpu.epochs[e], g.epochs[e]];
      expect(Math.abs(w.trainLoss - c.trainLoss) / c.trainLoss, `epoch ${e + 1} train loss`).toBeLessThan(1e-4);
      expect(Math.abs((w.valLoss as number) - (c.valLoss as number)), `epoch ${e + 1} val loss`).toBeLessThan(1e-3);
      expect(Math.abs((w.valAccuracy as number) - (c.valAccuracy as number))).toBeLessThanOrEqual(2 / val.size);
    }
    // the model learnt something on both (10 classes: chance is 0.1)
    expect(g.ev.accuracy).toBeGreaterThan(0.2);
    const e = g.epochs;
    expect(e[1].liveBytesStart).toBe(e[0].liveBytesEnd);
    expect(e[1].liveBytesEnd).toBe(e[1].liveBytesStart);
  }, 240_000);

  it('checkpoints move between devices: trained on the GPU, loaded on the CPU; resumed on the GPU from a CPU checkpoint', () => {
    const gpuOut = tmp();
    const g = run('gpu', spec, train, val, { ...config, epochs: 1 }, gpuOut);
    // loadModel creates the tensors on the default backend: the wasm one here
    const onCpu = loadModel(gpuOut);
    const evCpu = evaluate(onCpu.model, val);
    expect(evCpu.preds).toEqual(g.ev.preds);
    expect(Math.abs(evCpu.loss - g.ev.loss)).toBeLessThan(1e-4);

    // one epoch on the CPU, the second resumed on the GPU ≈ both on the CPU
    const cpuOut = tmp();
    run('cpu', spec, train, val, { ...config, epochs: 1 }, cpuOut);
    const resumed = run('gpu', spec, train, val, config, cpuOut, true);
    const straight = run('cpu', spec, train, val, config);
    const [r, s] = [resumed.epochs[1], straight.epochs[1]];
    expect(Math.abs(r.trainLoss - s.trainLoss) / s.trainLoss).toBeLessThan(1e-4);
    expect(Math.abs((r.valLoss as number) - (s.valLoss as number))).toBeLessThan(1e-3);
  }, 240_000);

  it('no read-back inside a training step: the loss, predictions and labels of 4 steps are read after them', () => {
    const be = gpu as NonNullable<typeof gpu>;
    const read = be.read.bind(be);
    const reads: string[] = [];
    be.read = (b, d, c) => {
      reads.push((new Error().stack ?? '').split('\n').slice(2, 5).join(' < '));
      return read(b, d, c);
    };
    try {
      run('gpu', spec, range(all, 0, 64), range(all, 0, 16), { ...config, epochs: 1, batchSize: 16 });
    } finally {
      be.read = read;
    }
    // 3 reads per step (loss, argmax, labels), all in the epoch's settle; then the validation pass
    const inFit = reads.filter((r) => r.includes('settle'));
    expect(inFit.length).toBe(3 * 4);
    // the rest is the validation pass after the epoch
    expect(reads.filter((r) => !r.includes('settle') && !r.includes('evaluate'))).toEqual([]);
  }, 240_000);

  it('a label out of range stops GPU training with an error naming it (the device does not read labels before its kernels)', () => {
    const ds = range(all, 0, 32);
    const y = Int32Array.from(ds.y);
    y[5] = 12;
    expect(() => run('gpu', spec, { ...ds, y }, range(all, 0, 16), { ...config, epochs: 1, batchSize: 16 })).toThrow(
      /softmaxCrossEntropy: label 12 at index \d+ of batch \d+ is outside \[0, 10\)/,
    );
  }, 240_000);
});
