// Text classification: jsonl/csv/txt samples, vocabulary and hashing tokenizers, padding and
// truncation, and reuse of the training tokenizer for other files.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeText, loadText } from '../../src/data/index.js';
import { fnv1a } from '../../src/data/text.js';
import { FormatError } from '../../src/errors.js';
import { tempDir } from './helpers.js';

const SAMPLES = [
  { text: 'Great movie, great cast!', label: 'pos' },
  { text: 'Terrible. The worst movie.', label: 'neg' },
  { text: 'great GREAT great', label: 'pos' },
  { text: 'Ünïcode wörds and 42 numbers', label: 'neg' },
];

function jsonl(name = 'reviews.jsonl', rows = SAMPLES): string {
  const f = join(tempDir(), name);
  writeFileSync(f, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
  return f;
}

describe('loadText', () => {
  it('vocab tokenizer: most frequent words after <unk>, padded with -1', () => {
    const ds = loadText(jsonl(), { tokenizer: 'vocab', vocabSize: 4, maxTokens: 5 });
    const tok = ds.preprocessing.tokenizer;
    // great x5, movie x2, then ties in code-point order: 42, and, ...
    expect(tok).toEqual({ kind: 'vocab', vocab: ['<unk>', 'great', 'movie', '42'], lowercase: true });
    expect(ds.preprocessing.inputShape).toEqual([5]);
    expect(ds.x).toBeInstanceOf(Int32Array);
    expect(ds.sampleShape).toEqual([5]);
    expect(ds.classNames).toEqual(['neg', 'pos']);
    expect(Array.from(ds.y)).toEqual([1, 0, 1, 0]);
    expect(Array.from(ds.x.subarray(0, 5))).toEqual([1, 2, 1, 0, -1]); // great movie great cast
    expect(Array.from(ds.x.subarray(5, 10))).toEqual([0, 0, 0, 2, -1]);
    expect(Array.from(ds.x.subarray(15, 20))).toEqual([0, 0, 0, 3, 0]); // ünïcode wörds and 42 numbers
  });

  it('hash tokenizer: FNV-1a of each word modulo buckets, truncated to maxTokens', () => {
    const ds = loadText(jsonl(), { tokenizer: 'hash', buckets: 1000, maxTokens: 2 });
    expect(ds.preprocessing.tokenizer).toEqual({ kind: 'hash', buckets: 1000, lowercase: true });
    expect(fnv1a('a')).toBe(0xe40c292c); // the published FNV-1a test vector
    expect(Array.from(ds.x.subarray(0, 2))).toEqual([fnv1a('great') % 1000, fnv1a('movie') % 1000]);
    expect(Array.from(ds.x.subarray(6, 8))).toEqual([fnv1a('ünïcode') % 1000, fnv1a('wörds') % 1000]);
  });

  it('reusing the training tokenizer gives matching ids on another file (csv)', () => {
    const train = loadText(jsonl(), { vocabSize: 100, maxTokens: 4 });
    const f = join(tempDir(), 'test.csv');
    writeFileSync(f, 'text,label\n"movie, unseen great",pos\n');
    const test = loadText(f, { reuse: train.preprocessing.tokenizer, maxTokens: 4 });
    const vocab = (train.preprocessing.tokenizer as { vocab: string[] }).vocab;
    expect(Array.from(test.x)).toEqual([vocab.indexOf('movie'), 0, vocab.indexOf('great'), -1]);
    expect(test.preprocessing.tokenizer).toBe(train.preprocessing.tokenizer);
    const tok = train.preprocessing.tokenizer!;
    expect(Array.from(encodeText('GREAT movie', tok, 3))).toEqual([vocab.indexOf('great'), vocab.indexOf('movie'), -1]);
  });

  it('reads label<TAB>text lines from .txt', () => {
    const f = join(tempDir(), 'lines.txt');
    writeFileSync(f, 'spam\tBuy now\nham\tsee you\n');
    const ds = loadText(f, { tokenizer: 'hash', buckets: 7, maxTokens: 3 });
    expect(ds.classNames).toEqual(['ham', 'spam']);
    expect(Array.from(ds.y)).toEqual([1, 0]);
  });

  it('bad lines are FormatErrors naming file and line', () => {
    const f = join(tempDir(), 'bad.jsonl');
    writeFileSync(f, '{"text": "ok", "label": 1}\n{"text": 3, "label": 1}\n');
    expect(() => loadText(f)).toThrow(FormatError);
    expect(() => loadText(f)).toThrow(`${f}:2: expected a string field "text"`);
    writeFileSync(f, '{"text": "ok", "label": 1}\nnot json\n');
    expect(() => loadText(f)).toThrow(new RegExp(`${f}:2: invalid JSON`));
  });
});
