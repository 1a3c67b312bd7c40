// The command line, run in-process: train → checkpoint/metrics/report files, eval prints the
// accuracy line, and bad input exits non-zero with a message that names the problem.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadFashionMnist } from '../../src/data/fashion-mnist.js';
import { readIdx } from '../../src/data/idx.js';
import { resign } from '../train/tiny.js';
import { cli } from './run.js';

const haveData = existsSync('/usr/share/datasets/fashion-mnist');
const out = mkdtempSync(join(tmpdir(), 'graduate-cli-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe.runIf(haveData)('graduate train / eval', () => {
  it('trains the mlp preset, writing checkpoint, metrics.json and the report', async () => {
    const r = await cli(
      'train',
      '--preset',
      'mlp',
      '--data',
      'fashion-mnist',
      '--epochs',
      '2',
      '--limit',
      '3000',
      '--out',
      out,
      '--no-progress',
      '--threads',
      '1',
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/epoch 2\/2 {2}loss \d\.\d+/);
    expect(r.stdout).toMatch(/test accuracy: 0\.\d{4}/);
    for (const f of ['checkpoint.json', 'metrics.json', 'report.html', 'loss.svg', 'accuracy.svg'])
      expect(existsSync(join(out, f))).toBe(true);
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(metrics.history.epochs).toHaveLength(2);
    expect(metrics.report.accuracy).toBeGreaterThan(0.7);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('Ankle boot');
  });

  it('eval prints `accuracy: …` and the per-class table', async () => {
    const r = await cli('eval', out, '--data', 'fashion-mnist', '--limit', '1000');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^accuracy: 0\.\d{4}$/m);
    expect(r.stdout).toContain('Trouser');
  });

  it('resume continues from the checkpoint', async () => {
    const r = await cli(
      'train',
      '--preset',
      'mlp',
      '--data',
      'fashion-mnist',
      '--epochs',
      '3',
      '--limit',
      '3000',
      '--out',
      out,
      '--no-progress',
      '--threads',
      '1',
      '--resume',
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('resuming from');
    expect(r.stdout).not.toMatch(/epoch 1\/3/);
    expect(r.stdout).toMatch(/epoch 3\/3/);
  });
});

describe('bad input', () => {
  it('names the missing file, the bad preset and the bad config field', async () => {
    let r = await cli('train', '--preset', 'mlp', '--data', '/nope/data.csv', '--out', out);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('/nope/data.csv: no such file or folder');
    r = await cli('train', '--preset', 'big', '--data', 'fashion-mnist', '--out', out);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/'big' is invalid/);
    const csv = join(out, 'tiny.csv');
    writeFileSync(csv, 'a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n');
    const cfg = join(out, 'model.json');
    writeFileSync(cfg, JSON.stringify({ inputShape: [2], layers: [{ type: 'linear', out: -3 }] }));
    r = await cli('train', '--config', cfg, '--data', csv, '--out', join(out, 'cfg'));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('layers[0].out: must be a positive integer, got -3');
    r = await cli('eval', join(out, 'missing'), '--data', csv);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/not a checkpoint/);
    // --config missing or a folder: the one file reader's FileError (before: '--config PATH: cannot read (EISDIR)')
    for (const [path, why] of [
      [join(out, 'no-model.json'), 'cannot read model config (ENOENT)'],
      [out, 'is a folder, expected a model config'],
    ]) {
      r = await cli('train', '--config', path, '--data', csv, '--out', join(out, 'cfg2'));
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`graduate: ${path}: ${why}`);
    }
  });
});

describe.runIf(haveData)('graduate compile / inspect / eval on artifacts', () => {
  it('compiles a checkpoint to an int8 pruned artifact, inspects it, evaluates it, and refuses a model over budget', async () => {
    const ckpt = join(out, 'cnn');
    let r = await cli(
      'train',
      '--config',
      writeTinyCnn(),
      '--data',
      'fashion-mnist',
      '--epochs',
      '1',
      '--limit',
      '3000',
      '--out',
      ckpt,
      '--no-progress',
      '--threads',
      '1',
    );
    expect(r.code).toBe(0);
    const art = join(out, 'tiny.grad');
    r = await cli(
      'compile',
      ckpt,
      '--data',
      'fashion-mnist',
      '--prune',
      '0.5',
      '--prune-align', // exact channel counts: at least half of the MACs go (8 rounds to whole panels)
      '1',
      '--quantize',
      'int8',
      '--calib-samples',
      '300',
      '--test-limit',
      '500',
      '--max-accuracy-drop',
      '100',
      '-o',
      art,
      '--threads',
      '1',
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/MACs\/sample {5}[\d,]+ → [\d,]+ \((5\d|[6-9]\d)\.\d% less\)/);
    expect(existsSync(`${art}.report.json`)).toBe(true);
    const report = JSON.parse(readFileSync(`${art}.report.json`, 'utf8'));
    expect(report.totals.macs[1]).toBeLessThanOrEqual(report.totals.macs[0] * 0.5);
    expect(report.layers.some((l: { precision: string }) => l.precision === 'int8')).toBe(true);
    r = await cli('inspect', art);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/weights by precision: .*int8/);
    r = await cli('eval', art, '--data', 'fashion-mnist', '--limit', '500');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^accuracy: 0\.\d{4}$/m);
    // predict: a PNG of a test image (a trouser) and a JSON tensor batch of two prepared samples
    const test = loadFashionMnist('test', { limit: 3 });
    const raw = readIdx('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz').data as Uint8Array;
    const png = new PNG({ width: 28, height: 28 });
    for (let p = 0; p < 784; p++) png.data.set([raw[2 * 784 + p], raw[2 * 784 + p], raw[2 * 784 + p], 255], p * 4);
    writeFileSync(join(out, 'trouser.png'), PNG.sync.write(png));
    writeFileSync(
      join(out, 'two.json'),
      JSON.stringify({ shape: [2, 28, 28, 1], data: Array.from(test.x.subarray(0, 2 * 784)) }),
    );
    r = await cli('predict', art, join(out, 'trouser.png'), join(out, 'two.json'), '--top', '2', '--json');
    expect(r.code, r.stderr).toBe(0);
    const preds = JSON.parse(r.stdout);
    expect(preds).toHaveLength(3);
    expect(preds[0].top).toHaveLength(2);
    expect(preds[0].top[0].label).toBe('Trouser');
    expect(preds[0].top[0].score).toBeGreaterThan(preds[0].top[1].score);
    r = await cli('predict', art, join(out, 'tiny-cnn.json'));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/tiny-cnn\.json: expected finite numbers in multiples of the model's input \[28, 28, 1\]/);
    // the accuracy gate: pruning 90% without fine-tuning cannot stay within 0 pp
    const refused = join(out, 'refused.grad');
    r = await cli(
      'compile',
      ckpt,
      '--data',
      'fashion-mnist',
      '--prune',
      '0.9',
      '--quantize',
      'none',
      '--calib-samples',
      '200',
      '--test-limit',
      '500',
      '--max-accuracy-drop',
      '0',
      '-o',
      refused,
      '--threads',
      '1',
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/accuracy dropped by .* more than --max-accuracy-drop 0; no artifact written/);
    expect(existsSync(refused)).toBe(false);
  });
});

function writeTinyCnn(): string {
  const file = join(out, 'tiny-cnn.json');
  writeFileSync(
    file,
    JSON.stringify({
      inputShape: [28, 28, 1],
      layers: [
        { type: 'conv2d', out: 8, kernel: 3, padding: 'same' },
        { type: 'batchnorm' },
        { type: 'relu' },
        { type: 'maxpool2d', kernel: 2 },
        { type: 'conv2d', out: 16, kernel: 3, padding: 'same' },
        { type: 'relu' },
        { type: 'maxpool2d', kernel: 2 },
        { type: 'flatten' },
        { type: 'linear', out: 32 },
        { type: 'relu' },
        { type: 'linear', out: 10 },
      ],
    }),
  );
  return file;
}

describe('train into a used --out, resume, and eval with class names (tiny CSV)', () => {
  const dir = join(out, 'tiny-run');
  const csv = join(out, 'three.csv');
  const model = join(out, 'three-model.json');
  const rows = Array.from({ length: 150 }, (_, i) => {
    const c = i % 3;
    const jitter = ((i * 37) % 11) / 20 - 0.25;
    return `${c * 3 + jitter},${-c * 2 - jitter},${['cat', 'dog', 'eel'][c]}`;
  });
  writeFileSync(csv, `x1,x2,label\n${rows.join('\n')}\n`);
  writeFileSync(
    model,
    JSON.stringify({
      inputShape: [2],
      layers: [{ type: 'linear', out: 8 }, { type: 'relu' }, { type: 'linear', out: 3 }],
    }),
  );
  const train = (...extra: string[]) =>
    cli('train', '--data', csv, '--lr', '0.02', '--out', dir, '--no-progress', '--threads', '1', ...extra);
  const noStack = (stderr: string) => expect(stderr).not.toMatch(/\n\s+at /);

  it('a second fresh run into the same --out is refused and the first run is kept; --overwrite replaces it', async () => {
    expect((await train('--config', model, '--epochs', '30')).code).toBe(0);
    let r = await train('--config', model, '--epochs', '1');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`graduate: ${dir} already holds a checkpoint of an earlier run: epoch 30`);
    expect(r.stderr).toContain('--resume');
    expect(r.stderr).toContain('--overwrite');
    r = await cli('eval', dir, '--data', csv);
    expect(r.stdout).toMatch(/^accuracy: 1\.0000$/m);
    r = await train('--config', model, '--epochs', '1', '--overwrite');
    expect(r.code).toBe(0);
    expect(readdirSync(join(dir, 'checkpoints'))).toEqual(['epoch-001']);
    expect((await cli('eval', dir, '--data', csv)).code).toBe(0);
    expect((await train('--config', model, '--epochs', '30', '--overwrite')).code).toBe(0);
  });

  it('eval numbers labels by the model: a file lacking a class keeps the accuracy; an unknown label is an error', async () => {
    const noCat = join(out, 'no-cat.csv');
    writeFileSync(noCat, `x1,x2,label\n${rows.filter((r) => !r.endsWith('cat')).join('\n')}\n`);
    let r = await cli('eval', dir, '--data', noCat);
    expect(r.stdout).toMatch(/^accuracy: 1\.0000$/m); // was 0.0000: dog and eel renumbered 0 and 1
    const cow = join(out, 'cow.csv');
    writeFileSync(cow, 'x1,x2,label\n0,0,cat\n1,1,cow\n');
    r = await cli('eval', dir, '--data', cow);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`graduate: ${cow}:3: label 'cow' is not one of the classes [cat, dog, eel]`);
    const notCheckpoint = join(out, 'not-a-checkpoint');
    mkdirSync(notCheckpoint, { recursive: true });
    for (const path of [join(out, 'no-such-dir'), notCheckpoint]) {
      r = await cli('eval', path, '--data', csv);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^graduate: .*not a checkpoint/);
      noStack(r.stderr);
    }
  });

  it('--resume takes the training options from the checkpoint: equal to an uninterrupted run; a differing flag is refused', async () => {
    const run = (d: string, ...extra: string[]) =>
      cli('train', '--data', csv, '--out', d, '--no-progress', '--threads', '1', ...extra);
    const options = [
      '--seed',
      '7',
      '--batch',
      '32',
      '--lr',
      '0.01',
      '--val-fraction',
      '0.2',
      '--label-smoothing',
      '0.1',
    ];
    const full = join(out, 'resume-full');
    expect((await run(full, '--config', model, '--epochs', '2', ...options)).code).toBe(0);
    const part = join(out, 'resume-part');
    expect((await run(part, '--config', model, '--epochs', '1', ...options)).code).toBe(0);
    // no --config, no options: all from the checkpoint (before: seed 0, batch 64, lr 0.001, another split)
    const r = await run(part, '--epochs', '2', '--resume');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('adam lr 0.01, batch 32, 2 epochs');
    const weights = (d: string) => readFileSync(join(d, 'checkpoints', 'epoch-002', 'model.safetensors'));
    expect(weights(part)).toEqual(weights(full));
    const metrics = (d: string) => JSON.parse(readFileSync(join(d, 'metrics.json'), 'utf8'));
    expect(metrics(part).report).toEqual(metrics(full).report);
    expect(metrics(part).history.epochs.map((e: { valLoss: number }) => e.valLoss)).toEqual(
      metrics(full).history.epochs.map((e: { valLoss: number }) => e.valLoss),
    );
    // an explicit flag equal to the recorded value is fine; a different one names the flag and both values
    expect((await run(part, '--epochs', '3', '--resume', '--batch', '32', '--seed', '7')).code).toBe(0);
    // without --epochs the recorded count holds (before: the default 10, a longer cosine schedule)
    const again = await run(part, '--resume');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('batch 32, 3 epochs');
    expect(again.stdout).not.toMatch(/epoch 4\//);
    for (const [flag, value, message] of [
      ['--batch', '64', "--batch 64 differs from the checkpoint's batchSize 32"],
      ['--val-fraction', '0.1', "--val-fraction 0.1 differs from the checkpoint's valFraction 0.2"],
      [
        '--augment',
        'flip',
        '--augment {"cropPadding":0,"horizontalFlip":true} differs from the checkpoint\'s augment none',
      ],
    ]) {
      const bad = await run(part, '--epochs', '4', '--resume', flag, value);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain(
        `graduate: train --resume: ${message} (${join(part, 'checkpoints', 'epoch-003', 'config.json')})`,
      );
      noStack(bad.stderr);
    }
  });

  it('compile refuses a near-chance model (95/5 imbalanced data) unless --allow-near-chance', async () => {
    const imbalanced = join(out, 'imbalanced.csv');
    const noise = (i: number) => (((i * 7919) % 101) / 101).toFixed(3);
    const lines = Array.from({ length: 400 }, (_, i) => `${noise(i)},${noise(i + 1)},${i % 20 === 0 ? 'b' : 'a'}`);
    writeFileSync(imbalanced, `x1,x2,label\n${lines.join('\n')}\n`);
    const run = join(out, 'imbalanced-run');
    const twoClass = join(out, 'two-class.json');
    writeFileSync(twoClass, JSON.stringify({ inputShape: [2], layers: [{ type: 'linear', out: 2 }] }));
    const trained = await cli(
      'train',
      '--config',
      twoClass,
      '--data',
      imbalanced,
      '--epochs',
      '1',
      '--out',
      run,
      '--no-progress',
    );
    expect(trained.code, trained.stderr).toBe(0);
    const grad = join(out, 'imbalanced.grad');
    const compileIt = (...extra: string[]) =>
      cli('compile', run, '--data', imbalanced, '--quantize', 'none', '-o', grad, '--threads', '1', ...extra);
    let r = await compileIt();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is near chance: chance level 95\.00%.*pass --allow-near-chance/);
    expect(existsSync(grad)).toBe(false);
    r = await compileIt('--allow-near-chance');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('written anyway (--allow-near-chance)');
    expect(existsSync(grad)).toBe(true);
  });

  it('--resume rebuilds the checkpoint model (no --config needed); a different --config or a bad state is an error', async () => {
    let r = await train('--epochs', '31', '--resume');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('resuming from');
    expect(r.stdout).toMatch(/epoch 31\/31/);
    const other = join(out, 'other-model.json');
    writeFileSync(other, JSON.stringify({ inputShape: [2], layers: [{ type: 'linear', out: 3 }] }));
    r = await train('--config', other, '--epochs', '32', '--resume');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`--config ${other} describes a different model than the checkpoint's`);
    expect((await train('--config', model, '--epochs', '32', '--resume')).code).toBe(0);
    // a bad RNG state and a non-number epoch (checksums re-recorded: the field checks behind them)
    const ckDir = join(dir, 'checkpoints', 'epoch-032');
    const state = JSON.parse(readFileSync(join(ckDir, 'state.json'), 'utf8'));
    for (const [edit, message] of [
      [{ rng: [1, 2, 'x', 4] }, 'rng[2] must be an integer in [0, 4294967295], got "x"'],
      [{ epoch: 'one' }, 'epoch must be an integer in [0, 9007199254740991], got "one"'],
    ] as const) {
      writeFileSync(join(ckDir, 'state.json'), JSON.stringify({ ...state, ...edit }));
      resign(dir);
      r = await train('--epochs', '40', '--resume');
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`graduate: ${join(ckDir, 'state.json')}: ${message}`);
      noStack(r.stderr);
    }
  });
});
