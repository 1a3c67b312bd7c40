// Speech end to end on a small folder of real FSDD clips: `train --preset kws --split fsdd` writes a
// checkpoint that records its audio preparation, and eval, compile and predict (a WAV file) work on
// it; --holdout-speaker and the split flags' mistakes are named.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
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
    expect(config.preprocessing.audio).toMatchObject({ kind: 'logmel', sampleRate: 8000, frames: 98 });
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
    expect(config.train).toMatchObject({ split: null, holdoutSpeaker: 'theo', augment: { timeShift: 4 } });

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
    const other = await cli('train', '--preset', 'kws', '--data', data, '--split', 'speakers', '--out', join(tmp, 'x'));
    expect(other.stderr).toMatch(/--split speakers: the only named split is 'fsdd'/);
    const csv = join(tmp, 'x.csv');
    const notAudio = await cli('train', '--preset', 'kws', '--data', csv, '--split', 'fsdd', '--out', join(tmp, 'x'));
    expect(notAudio.stderr).toMatch(/--split and --holdout-speaker split a folder of WAV files/);
  }, 30_000);
});
