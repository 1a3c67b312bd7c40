// Speech end to end on a small folder of real FSDD clips: `train --preset kws --split fsdd` writes a
// checkpoint that records its audio preparation, and eval, compile and predict (a WAV file) work on
// it; --holdout-speaker and the split flags' mistakes are named.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareWavFile } from '../../src/cli/predict.js';
import { preprocessingOf } from '../../src/compile/verify.js';
import { listAudioFolder } from '../../src/data/audio.js';
import { loadData } from '../../src/data/load.js';
import { KWS_AUDIO_SPEC } from '../../src/nn/presets.js';
import { loadArtifact, readArtifact, topClasses } from '../../src/runtime/index.js';
import { engine } from '../../src/tensor/context.js';
import { cli } from './run.js';

const FSDD = join(import.meta.dirname, '../../../shared/datasets/fsdd/recordings');
const SPEAKERS = ['george', 'jackson', 'lucas', 'nicolas', 'theo'];
const tmp = mkdtempSync(join(tmpdir(), 'graduate-kws-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** 5 speakers × 10 digits × recordings 0–19: the fsdd split keeps 0–4 (250 clips) for the test set. */
function smallFsdd(): string {
  const dir = join(tmp, 'recordings');
  mkdirSync(dir);
  for (const speaker of SPEAKERS)
    for (let d = 0; d < 10; d++)
      for (let i = 0; i < 20; i++)
        copyFileSync(join(FSDD, `${d}_${speaker}_${i}.wav`), join(dir, `${d}_${speaker}_${i}.wav`));
  return dir;
}

describe.skipIf(!existsSync(FSDD))('graduate train --preset kws on FSDD clips', () => {
  const data = existsSync(FSDD) ? smallFsdd() : '';
  const out = join(tmp, 'kws');

  it('trains on the fsdd split well above chance; eval, compile and predict use the recorded audio preparation', async () => {
    const t = await cli(
      'train',
      '--preset',
      'kws',
      '--data',
      data,
      '--split',
      'fsdd',
      '--epochs',
      '10',
      '--threads',
      '1',
      '--no-progress',
      '--out',
      out,
    );
    expect(t.code, t.stderr).toBe(0);
    // the preset's own training defaults where no flag is given
    expect(t.stdout).toMatch(/750 train, 250 validation samples; adam lr 0\.003, batch 32, 10 epochs/);
    const acc = Number(/test accuracy: (\d\.\d+)/.exec(t.stdout)?.[1]);
    expect(acc).toBeGreaterThan(0.5); // chance is 0.1

    const config = JSON.parse(readFileSync(join(out, 'checkpoints', 'epoch-010', 'config.json'), 'utf8'));
    expect(config.preprocessing.kind).toBe('audio');
    expect(config.preprocessing.inputShape).toEqual([98, 40]);
    // the preset's front end (per-utterance options included) is recorded, so inference computes it too
    expect(config.preprocessing.audio).toMatchObject({
      kind: 'logmel',
      sampleRate: 8000,
      frames: 98,
      ...KWS_AUDIO_SPEC,
    });
    expect(config.train).toMatchObject({ split: 'fsdd', holdoutSpeaker: null });

    // eval of the checkpoint: a folder is loaded whole (all 1,000 clips), prepared as the model records
    const e = await cli('eval', out, '--data', data, '--threads', '1');
    expect(e.code, e.stderr).toBe(0);
    expect(Number(/accuracy: (\d\.\d+)/.exec(e.stdout)?.[1])).toBeGreaterThan(0.5);

    const grad = join(tmp, 'kws.grad');
    const c = await cli('compile', out, '--data', data, '--quantize', 'none', '-o', grad, '--threads', '1');
    expect(c.code, c.stderr).toBe(0);
    const ea = await cli('eval', grad, '--data', data, '--threads', '1');
    expect(ea.code, ea.stderr).toBe(0);
    expect(Number(/accuracy: (\d\.\d+)/.exec(ea.stdout)?.[1])).toBeCloseTo(
      Number(/accuracy: (\d\.\d+)/.exec(e.stdout)?.[1]),
      2,
    );

    const clip = join(data, '7_theo_3.wav');
    const p = await cli('predict', grad, clip, '--json', '--threads', '1');
    expect(p.code, p.stderr).toBe(0);
    const [r] = JSON.parse(p.stdout);
    expect(r.input).toBe(clip);
    expect(r.top).toHaveLength(3);
    expect(r.top[0].score).toBeGreaterThan(r.top[1].score);

    // predict's features of the WAV file are the row eval's dataset holds for it (the training-time
    // path, loadAudioFolder with the recorded preparation), and its scores the Session's on that row
    const model = await loadArtifact(grad, { engine: engine() });
    try {
      const like = preprocessingOf(readArtifact(readFileSync(grad), grad));
      const ds = loadData(data, 'test', { like, classNames: model.classNames });
      const row = listAudioFolder(data).findIndex((f) => f.path === clip);
      const n = 98 * 40;
      const x = prepareWavFile(model, clip);
      expect(x).toEqual(ds.x.subarray(row * n, (row + 1) * n));
      const top = topClasses(model.run(ds.x.slice(row * n, (row + 1) * n) as Float32Array, 1), model.classNames, 3);
      expect(r.top.map((c: { label: string }) => c.label)).toEqual(top.map((c) => c.label));
      for (const [i, c] of (r.top as { score: number }[]).entries()) expect(c.score).toBeCloseTo(top[i].score, 5);
    } finally {
      model.dispose();
    }
  }, 60_000);

  it('--holdout-speaker tests on one speaker (--augment shift recorded); a speaker not there, two splits or a split of non-audio data are errors', async () => {
    const t = await cli(
      'train',
      '--preset',
      'kws',
      '--data',
      data,
      '--holdout-speaker',
      'theo',
      '--augment',
      'shift',
      '--epochs',
      '1',
      '--threads',
      '1',
      '--no-progress',
      '--out',
      join(tmp, 'holdout'),
    );
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/800 train, 200 validation samples/);
    expect(t.stdout).toMatch(/holdout theo test\] \(200 samples\)/);
    const config = JSON.parse(readFileSync(join(tmp, 'holdout', 'checkpoints', 'epoch-001', 'config.json'), 'utf8'));
    expect(config.train).toMatchObject({ split: null, holdoutSpeaker: 'theo', augment: { sequence: { shift: 4 } } });

    const none = await cli(
      'train',
      '--preset',
      'kws',
      '--data',
      data,
      '--holdout-speaker',
      'zoe',
      '--out',
      join(tmp, 'x'),
    );
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(
      /holdout speaker 'zoe' has no recordings \(speakers: george, jackson, lucas, nicolas, theo\)/,
    );
    const both = await cli(
      'train',
      '--preset',
      'kws',
      '--data',
      data,
      '--split',
      'fsdd',
      '--holdout-speaker',
      'theo',
      '--out',
      join(tmp, 'x'),
    );
    expect(both.stderr).toMatch(/give only one of --split and --holdout-speaker/);
    const bogus = await cli(
      'train',
      '--preset',
      'kws',
      '--data',
      data,
      '--augment',
      'shift,echo',
      '--out',
      join(tmp, 'x'),
    );
    expect(bogus.stderr).toMatch(
      /--augment shift,echo: unknown 'echo' \(expected a list of none, crop, flip, shift, stretch, warp, mask\)/,
    );
    const other = await cli('train', '--preset', 'kws', '--data', data, '--split', 'speakers', '--out', join(tmp, 'x'));
    expect(other.stderr).toMatch(/--split speakers: the only named split is 'fsdd'/);
    const csv = join(tmp, 'x.csv');
    const notAudio = await cli('train', '--preset', 'kws', '--data', csv, '--split', 'fsdd', '--out', join(tmp, 'x'));
    expect(notAudio.stderr).toMatch(/--split and --holdout-speaker split a folder of WAV files/);
  }, 30_000);

  it("--data FSDD's own folder (recordings/ inside) reads the digits; --limit takes every class; one class is refused", async () => {
    // tmp holds recordings/{digit}_{speaker}_{index}.wav as FSDD's folder does (and other runs' folders)
    const out = join(tmp, 'parent');
    const t = await cli(
      'train',
      '--preset',
      'kws',
      '--data',
      tmp,
      '--split',
      'fsdd',
      '--limit',
      '100',
      '--epochs',
      '1',
      '--threads',
      '1',
      '--no-progress',
      '--out',
      out,
    );
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/100 train, 100 validation samples/);
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    // ten digits, ten test clips of each (the first 100 files would be digits 0 and 1 only)
    expect(metrics.report.perClass.map((c: { name: string; support: number }) => [c.name, c.support])).toEqual(
      [...Array(10).keys()].map((d) => [String(d), 10]),
    );
    const one = join(tmp, 'one');
    mkdirSync(join(one, 'takes'), { recursive: true });
    for (const i of [0, 1]) copyFileSync(join(FSDD, `3_theo_${i}.wav`), join(one, 'takes', `take_${i}.wav`));
    const r = await cli('train', '--preset', 'kws', '--data', one, '--out', join(tmp, 'x1'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/only one class \('takes'\) in 2 training samples; a classifier needs at least 2/);
  }, 30_000);
});
