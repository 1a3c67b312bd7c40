// `--data spamassassin`: the fetched split (train.csv, test.csv under $GRADUATE_DATA_DIR/spamassassin
// or ~/.cache/graduate/spamassassin) as a named dataset. train tests on test.csv tokenised as
// train.csv was, eval reads test.csv; a missing corpus names the folders tried and the fetch command.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './run.js';

const sample = join(import.meta.dirname, '../fixtures/text/spamassassin-sample');
let dir: string;
let saved: string | undefined;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'graduate-spamassassin-'));
  mkdirSync(join(dir, 'data', 'spamassassin'), { recursive: true });
  for (const f of ['train.csv', 'test.csv']) copyFileSync(join(sample, f), join(dir, 'data', 'spamassassin', f));
  saved = process.env.GRADUATE_DATA_DIR;
  process.env.GRADUATE_DATA_DIR = join(dir, 'data');
});
afterAll(() => {
  if (saved === undefined) delete process.env.GRADUATE_DATA_DIR;
  else process.env.GRADUATE_DATA_DIR = saved;
  rmSync(dir, { recursive: true, force: true });
});

describe('--data spamassassin', () => {
  it('trains on train.csv, tests on test.csv with the same tokenizer; eval reads test.csv', async () => {
    const out = join(dir, 'logreg');
    const t = await cli('train', '--preset', 'logreg', '--data', 'spamassassin', '--out', out, '--no-progress');
    expect(t.code, t.stderr).toBe(0);
    // 90 messages: 81 trained on, 9 validation; the 45 of test.csv tested
    expect(t.stdout).toContain('81 train, 9 validation samples');
    const tested = /^test accuracy: ([\d.]+) on (.+) \(45 samples\)/m.exec(t.stdout);
    expect(tested?.[2]).toBe(join(dir, 'data', 'spamassassin', 'test.csv'));
    const e = await cli('eval', out, '--data', 'spamassassin');
    expect(e.code, e.stderr).toBe(0);
    // the same model on the same 45 messages; above calling everything ham (0.667)
    const acc = Number(/^accuracy: ([\d.]+)$/m.exec(e.stdout)?.[1]);
    expect(acc).toBeCloseTo(Number(tested?.[1]), 4);
    expect(acc).toBeGreaterThanOrEqual(0.85);
  });

  it('names the folders it tried when the corpus is not fetched', async () => {
    // and no cache in the home folder (os.homedir() reads HOME)
    const home = process.env.HOME;
    process.env.GRADUATE_DATA_DIR = join(dir, 'nowhere');
    process.env.HOME = join(dir, 'home');
    try {
      const r = await cli('eval', join(dir, 'logreg'), '--data', 'spamassassin');
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(join(dir, 'nowhere', 'spamassassin'));
      expect(r.stderr).toContain(join(dir, 'home', '.cache', 'graduate', 'spamassassin'));
      expect(r.stderr).toContain('graduate data fetch spamassassin');
    } finally {
      process.env.GRADUATE_DATA_DIR = join(dir, 'data');
      process.env.HOME = home;
    }
  });
});
