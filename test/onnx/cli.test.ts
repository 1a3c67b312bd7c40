// The ONNX commands, run in-process: export a checkpoint and an artifact, import back to an
// artifact with equal outputs, compile an ONNX file like a checkpoint, and bad files exit 1 with
// 'graduate: FILE: …'.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { captureGraph } from '../../src/compile/capture.js';
import { readArtifact } from '../../src/graph/artifact.js';
import * as G from '../../src/index.js';
import { buildModel } from '../../src/nn/build.js';
import type { ModelSpec } from '../../src/nn/spec.js';
import { CHECKPOINT_FORMAT, CHECKPOINT_VERSION, saveCheckpoint } from '../../src/train/checkpoint.js';
import { cli } from '../cli/run.js';
import { maxAbsDiff, runGraph, runOrt } from './fixtures.js';

const haveData = existsSync('/usr/share/datasets/fashion-mnist');
const out = mkdtempSync(join(tmpdir(), 'graduate-onnx-cli-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const spec: ModelSpec = {
  inputShape: [28, 28, 1],
  layers: [
    { type: 'conv2d', out: 4, kernel: 3, stride: 2 },
    { type: 'batchnorm' },
    { type: 'relu' },
    { type: 'maxpool2d', kernel: 2 },
    { type: 'flatten' },
    { type: 'linear', out: 10 },
  ],
};
const pre = { kind: 'image' as const, inputShape: [28, 28, 1], scale: 1 / 255, mean: [0.286], std: [0.353] };
const classes = Array.from({ length: 10 }, (_, i) => `c${i}`);

/** A checkpoint of an untrained model (random weights), as train --out writes it. */
function checkpoint(dir: string) {
  G.manualSeed(5);
  const { model } = buildModel(spec);
  model.eval();
  saveCheckpoint(
    dir,
    model,
    {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      model: spec,
      classNames: classes,
      preprocessing: pre,
      train: {},
      data: 'test',
      producer: 'test',
    },
    {
      epoch: 1,
      history: { epochs: [] },
      optimizer: { name: 'sgd', scalars: {} },
      rng: [1, 2, 3, 4],
      bestValAccuracy: 0,
      epochsWithoutImprovement: 0,
    },
    {},
  );
  const graph = captureGraph(
    model,
    { kind: 'image', shape: pre.inputShape, scale: pre.scale, mean: pre.mean, std: pre.std },
    classes,
  );
  model.dispose();
  return graph;
}

describe('graduate export / import', () => {
  it('exports a checkpoint and an artifact, imports back with equal outputs, and names bad files', async () => {
    const ckpt = join(out, 'ckpt');
    const graph = checkpoint(ckpt);
    const onnxFile = join(out, 'model.onnx');
    let r = await cli('export', ckpt, '-o', onnxFile);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`wrote ${onnxFile}`);
    const raw = Float32Array.from({ length: 4 * 784 }, (_, i) => (i * 13) % 256);
    const x = raw.map((p) => (p / 255 - 0.286) / 0.353);
    const want = runGraph(graph, x, 4);
    // the one input contract: the export takes the tensor the artifact's session takes
    expect(maxAbsDiff(await runOrt(onnxFile, x, [4, 28, 28, 1]), want)).toBeLessThan(1e-4);
    r = await cli('export', ckpt, '-o', join(out, 'raw.onnx'), '--raw-input');
    expect(r.code, r.stderr).toBe(0);
    expect(maxAbsDiff(await runOrt(join(out, 'raw.onnx'), raw, [4, 28, 28, 1]), want)).toBeLessThan(1e-4);

    const artifact = join(out, 'imported.grad');
    r = await cli('import', onnxFile, '-o', artifact);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/warning/); // Graduate's own export declares its preparation
    const back = readArtifact(readFileSync(artifact), artifact);
    expect(back.meta.classNames).toEqual(classes);
    expect(maxAbsDiff(runGraph(back, x, 4), want)).toBeLessThan(1e-5);

    r = await cli('export', artifact, '-o', join(out, 'again.onnx'));
    expect(r.code, r.stderr).toBe(0);
    expect(maxAbsDiff(await runOrt(join(out, 'again.onnx'), x, [4, 28, 28, 1]), want)).toBeLessThan(1e-4);
    expect(readArtifact(readFileSync(artifact), artifact).meta.input).toMatchObject(graph.meta.input);

    const bad = join(out, 'bad.onnx');
    writeFileSync(bad, readFileSync(onnxFile).subarray(0, 100));
    r = await cli('import', bad, '-o', join(out, 'bad.grad'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^graduate: .*bad\.onnx: /);
    r = await cli('export', join(out, 'missing'), '-o', join(out, 'x.onnx'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not a checkpoint/);
  });

  it.runIf(haveData)('compile takes an ONNX file where a checkpoint goes', async () => {
    // a trained model: compile's sanity gate refuses one at chance level whatever the budget
    const ckpt = join(out, 'ckpt2');
    const config = join(out, 'spec.json');
    writeFileSync(config, JSON.stringify(spec));
    const t = await cli(
      'train',
      '--config',
      config,
      '--data',
      'fashion-mnist',
      '--epochs',
      '1',
      '--limit',
      '2000',
      '--threads',
      '1',
      '--no-progress',
      '--out',
      ckpt,
    );
    expect(t.code, t.stderr).toBe(0);
    const onnxFile = join(out, 'c.onnx');
    expect((await cli('export', ckpt, '-o', onnxFile)).code).toBe(0);
    const grad = join(out, 'c.grad');
    const r = await cli(
      'compile',
      onnxFile,
      '--data',
      'fashion-mnist',
      '--calib-samples',
      '64',
      '--test-limit',
      '256',
      '--max-accuracy-drop',
      '100',
      '--threads',
      '1',
      '-o',
      grad,
    );
    expect(r.code, r.stderr).toBe(0);
    const g = readArtifact(readFileSync(grad), grad);
    expect(g.meta.input).toMatchObject({ scale: 1 / 255, mean: [0.286], std: [0.353] });
    expect(Object.values(g.constants).some((c) => c.dtype === 'int8')).toBe(true);
  });
});
