// Training on text end to end (issue 18's bug): `train --preset mlp` on a CSV with a text column fed
// the token ids to a linear layer as if they were numbers (in effect zeros: int32 bits read as
// float32), so every message was called the majority class. The presets now read text through an
// embedding bag sized by the tokenizer, and the default token count holds whole e-mails.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultMaxTokens, loadText, tokenIds } from '../../src/data/text.js';
import { presetSpec } from '../../src/nn/presets.js';
import { cli } from '../cli/run.js';
import { tempDir } from './helpers.js';

/** Messages of 3–12 filler words; spam exactly when one of them is 'prize'. Seeded LCG. */
function oneWordCorpus(n: number, seed = 1): string {
  let s = seed;
  const rnd = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
  const rows = ['text,label'];
  for (let i = 0; i < n; i++) {
    const len = 3 + Math.floor(rnd() * 10);
    const ws = Array.from({ length: len }, () => `w${Math.floor(rnd() * 30)}`);
    const spam = i % 3 === 0;
    if (spam) ws[Math.floor(rnd() * len)] = 'prize';
    rows.push(`${ws.join(' ')},${spam ? 'spam' : 'ham'}`);
  }
  return `${rows.join('\n')}\n`;
}

describe('text presets', () => {
  it("'mlp' and 'logreg' start with an embedding bag over the tokenizer's ids; numbers keep a linear layer", () => {
    const f = join(tempDir(), 'mail.csv');
    writeFileSync(f, oneWordCorpus(30));
    const ds = loadText(f);
    const vocab = tokenIds(ds.preprocessing.tokenizer!);
    expect(vocab).toBe(32); // <unk>, prize, w0 … w29
    const mlp = presetSpec('mlp', ds.sampleShape, 2, ds.preprocessing);
    expect(mlp.layers[0]).toEqual({ type: 'embeddingbag', vocab, dim: 256 });
    expect(mlp.layers.map((l) => l.type)).toEqual(['embeddingbag', 'relu', 'linear', 'relu', 'linear']);
    expect(presetSpec('logreg', ds.sampleShape, 2, ds.preprocessing).layers).toEqual([
      { type: 'embeddingbag', vocab, dim: 2 },
    ]);
    expect(presetSpec('logreg', [5], 3).layers).toEqual([{ type: 'linear', out: 3 }]);
    expect(presetSpec('mlp', [5], 3, { kind: 'tabular', inputShape: [5] }).layers[0]).toEqual({
      type: 'linear',
      out: 256,
    });
    expect(presetSpec('logreg', [4, 4, 1], 3).layers.map((l) => l.type)).toEqual(['flatten', 'linear']);
  });

  it('train --preset mlp learns a label decided by one word (it stayed at the majority share)', async () => {
    const dir = tempDir();
    const data = join(dir, 'mail.csv');
    writeFileSync(data, oneWordCorpus(800));
    const out = join(dir, 'run');
    const r = await cli('train', '--preset', 'mlp', '--data', data, '--out', out, '--no-progress', '--threads', '1');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/training mlp \(\d{2},\d{3} parameters\)/);
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    // 80 validation messages, a third of them spam: the majority share is ~0.67
    expect(metrics.report.accuracy).toBeGreaterThanOrEqual(0.95);
    // and it graduates: the checkpoint is captured with int32 ids (a float32 probe stopped at the bag)
    const grad = join(dir, 'mail.grad');
    const c = await cli('compile', out, '--data', data, '-o', grad, '--threads', '1');
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toMatch(/embeddingbag/);
    expect(Number(/accuracy +([\d.]+)% → ([\d.]+)%/.exec(c.stdout)?.[2])).toBeGreaterThanOrEqual(95);
  });

  it('train --preset logreg (the baseline) learns it too with its own defaults (lr 0.1, 20 epochs)', async () => {
    const dir = tempDir();
    const data = join(dir, 'mail.csv');
    writeFileSync(data, oneWordCorpus(800));
    const out = join(dir, 'run');
    const r = await cli('train', '--preset', 'logreg', '--data', data, '--out', out, '--no-progress', '--threads', '1');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('adam lr 0.1, batch 64, 20 epochs');
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(metrics.report.accuracy).toBeGreaterThanOrEqual(0.85);
  });
});

describe('real mail: the committed SpamAssassin sample (90 train, 45 test messages)', () => {
  const sample = join(import.meta.dirname, '../fixtures/text/spamassassin-sample');
  // 30 of the 45 test messages are ham: calling everything ham scores 0.667
  for (const [preset, epochs, floor] of [
    ['logreg', '20', 0.9],
    ['mlp', '30', 0.95],
  ] as const)
    it(`${preset} trained on train.csv reaches ≥ ${floor} on test.csv`, async () => {
      const out = join(tempDir(), preset);
      const t = await cli(
        'train',
        '--preset',
        preset,
        '--epochs',
        epochs,
        '--data',
        join(sample, 'train.csv'),
        '--val-fraction',
        '0',
        '--out',
        out,
        '--no-progress',
        '--threads',
        '1',
      );
      expect(t.code, t.stderr).toBe(0);
      const e = await cli('eval', out, '--data', join(sample, 'test.csv'));
      expect(e.code, e.stderr).toBe(0);
      expect(Number(/^accuracy: ([\d.]+)$/m.exec(e.stdout)?.[1])).toBeGreaterThanOrEqual(floor);
    });
});

describe('defaultMaxTokens', () => {
  it('covers 95% of the texts whole, rounded up to a power of two in [16, 2048]', () => {
    expect(defaultMaxTokens([])).toBe(16);
    expect(defaultMaxTokens([1, 2, 3])).toBe(16);
    expect(defaultMaxTokens([17])).toBe(32);
    expect(defaultMaxTokens([64])).toBe(64);
    // 19 texts of 100 words and one of 5000: the 95th percentile is 100
    expect(defaultMaxTokens([...new Array(19).fill(100), 5000])).toBe(128);
    expect(defaultMaxTokens([...new Array(18).fill(100), 5000, 5000])).toBe(2048);
  });

  it("loadText keeps a 300-word message's last word (a fixed 128 cut it off)", () => {
    const f = join(tempDir(), 'long.jsonl');
    const long = `${Array.from({ length: 299 }, (_, i) => `w${i % 7}`).join(' ')} prize`;
    writeFileSync(
      f,
      `${JSON.stringify({ text: long, label: 'spam' })}\n${JSON.stringify({ text: 'hi', label: 'ham' })}\n`,
    );
    const ds = loadText(f);
    expect(ds.sampleShape).toEqual([512]);
    const tok = ds.preprocessing.tokenizer as { vocab: string[] };
    expect(ds.x[299]).toBe(tok.vocab.indexOf('prize'));
    expect(ds.x[300]).toBe(-1);
    // given explicitly (a trained model's), maxTokens is kept
    expect(loadText(f, { maxTokens: 128 }).sampleShape).toEqual([128]);
  });
});
