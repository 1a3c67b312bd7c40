// Graduating and fine-tuning an imported network from the command line. What goes in: a PyTorch
// CNN as torch.onnx writes it (test/fixtures/onnx/torch-cnn.onnx: a residual block, so not a
// layer sequence; untrained) and a small Fashion-MNIST subset. What must come out: `train --init`
// learns from it (a sensible accuracy), its checkpoint evaluates, resumes and compiles like any
// other; `compile model.onnx --prune --finetune-epochs 1` writes a pruned int8 artifact that
// reads back, validates and scores what its report says.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readArtifact } from '../../src/graph/artifact.js';
import { validateGraph } from '../../src/graph/validate.js';
import { cli } from './run.js';

const haveData = existsSync('/usr/share/datasets/fashion-mnist');
const FIXTURE = join(import.meta.dirname, '../fixtures/onnx/torch-cnn.onnx');
const out = mkdtempSync(join(tmpdir(), 'graduate-init-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const accuracyOf = (stdout: string) => Number(/^accuracy: (0\.\d{4})$/m.exec(stdout)?.[1]);

describe.runIf(haveData)('graduate train --init / compile on an imported ONNX model', () => {
  const run = join(out, 'ft');

  it('train --init model.onnx fine-tunes the imported network to a sensible accuracy', async () => {
    const r = await cli(
      'train',
      '--init',
      FIXTURE,
      '--data',
      'fashion-mnist',
      '--epochs',
      '2',
      '--limit',
      '2000',
      '--out',
      run,
      '--no-progress',
      '--threads',
      '1',
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/fine-tuning .*torch-cnn\.onnx \(27,866 parameters\)/);
    const metrics = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8'));
    expect(metrics.report.accuracy).toBeGreaterThan(0.6); // from random weights: 10%
    const e = await cli('eval', run, '--data', 'fashion-mnist', '--limit', '2000');
    expect(e.code, e.stderr).toBe(0);
    expect(accuracyOf(e.stdout)).toBeCloseTo(metrics.report.accuracy, 4);
  });

  it('the checkpoint resumes (no --init needed) and --init with --resume is refused', async () => {
    const args = ['--data', 'fashion-mnist', '--out', run, '--no-progress', '--threads', '1'];
    let r = await cli('train', '--resume', '--epochs', '3', ...args);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/resuming from .* after epoch 2/);
    expect(r.stdout).toMatch(/epoch 3\/3/);
    r = await cli('train', '--resume', '--init', FIXTURE, ...args);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--init starts a fresh run/);
  });

  it('compile model.onnx --prune 0.4 --quantize int8 --finetune-epochs 1 writes an artifact that verifies', async () => {
    const art = join(out, 'pruned.grad');
    const r = await cli(
      'compile',
      FIXTURE,
      '--data',
      'fashion-mnist',
      '--prune',
      '0.4',
      '--quantize',
      'int8',
      '--finetune-epochs',
      '1',
      '--finetune-samples',
      '3000',
      '--test-limit',
      '500',
      '-o',
      art,
      '--threads',
      '1',
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/epoch 1\/1 {2}loss/);
    const report = JSON.parse(readFileSync(`${art}.report.json`, 'utf8'));
    expect(report.totals.macs[1]).toBeLessThanOrEqual(report.totals.macs[0] * 0.6);
    expect(report.totals.accuracy[1]).toBeGreaterThan(0.3); // random weights in: 10%
    // the imported node names survive pruning, fine-tuning and quantization
    expect(report.layers.map((l: { name: string }) => l.name)).toContain('/features/features.4/conv1/Conv');
    const g = readArtifact(readFileSync(art), art);
    validateGraph(g, art);
    expect(Object.values(g.constants).some((c) => c.dtype === 'int8')).toBe(true);
    const e = await cli('eval', art, '--data', 'fashion-mnist', '--limit', '500');
    expect(e.code, e.stderr).toBe(0);
    expect(accuracyOf(e.stdout)).toBeCloseTo(report.totals.accuracy[1], 4);
  });

  it('compiles the fine-tuned checkpoint (its graph module captures back)', async () => {
    const art = join(out, 'ft.grad');
    const r = await cli(
      'compile',
      run,
      '--data',
      'fashion-mnist',
      '--quantize',
      'none',
      '--test-limit',
      '300',
      '--calib-samples',
      '200',
      '-o',
      art,
      '--threads',
      '1',
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('/classifier/classifier.1/Gemm');
  });
});
