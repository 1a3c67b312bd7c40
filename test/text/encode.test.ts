// The shared text encoder (text/encode.ts): what training data, predict, serve and the browser all
// call. BPE texts become [CLS] + subword ids, cut at maxTokens, padded with -1; the recorded spec
// is validated with errors naming the field; vocab/hash keep their word behaviour.
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src/errors.js';
import { CLS_ID } from '../../src/text/bpe.js';
import { checkTextTokenizer, encodeText, type TextTokenizer, tokenIds } from '../../src/text/encode.js';
import { trainBpe } from '../../src/text/train-bpe.js';

const corpus = ['free money now', 'free offer, click now', 'meeting notes for monday', 'lunch on monday?'];
const bpe = trainBpe(corpus, { vocabSize: 300 }).tokenizer;
const spec: TextTokenizer = { kind: 'bpe', bpe: bpe.toJSON(), cls: true };
const fail = (field: string, expected: string, got: unknown): never => {
  throw new FormatError(`m.grad: ${field} must be ${expected}, got ${JSON.stringify(got)}`);
};

describe('encodeText with a BPE tokenizer', () => {
  it('writes [CLS], the subword ids and -1 padding', () => {
    const ids = bpe.encode('free money');
    const out = encodeText('free money', spec, ids.length + 3);
    expect(Array.from(out)).toEqual([CLS_ID, ...ids, -1, -1]);
    expect(bpe.decode(out.subarray(1, 1 + ids.length))).toBe('free money');
  });

  it('cuts long texts at maxTokens, [CLS] included, and works without [CLS]', () => {
    const text = 'free offer click now meeting monday lunch notes '.repeat(5);
    const all = bpe.encode(text);
    expect(Array.from(encodeText(text, spec, 6))).toEqual([CLS_ID, ...all.subarray(0, 5)]);
    expect(Array.from(encodeText(text, { ...spec, cls: false }, 6))).toEqual(Array.from(all.subarray(0, 6)));
    // bytes cover anything: no id out of the table
    const odd = encodeText('Ünïcødé 🙂 ∑ 漢字', spec, 64);
    expect(Math.max(...odd)).toBeLessThan(tokenIds(spec));
    expect(odd.includes(1)).toBe(false); // [UNK] never appears
  });

  it('checks a recorded spec, naming the field', () => {
    expect(checkTextTokenizer(spec, 'meta.input.tokenizer', fail)).toBe(spec);
    expect(() => checkTextTokenizer({ kind: 'bpe', bpe: bpe.toJSON() }, 'meta.input.tokenizer', fail)).toThrow(
      /meta.input.tokenizer.cls must be true or false/,
    );
    const broken = { ...bpe.toJSON(), merges: [1, 2, 3] };
    expect(() => checkTextTokenizer({ kind: 'bpe', bpe: broken, cls: true }, 'meta.input.tokenizer', fail)).toThrow(
      /meta.input.tokenizer.bpe/,
    );
    expect(() => checkTextTokenizer({ kind: 'words' }, 'meta.input.tokenizer', fail)).toThrow(
      /meta.input.tokenizer.kind must be 'vocab', 'hash' or 'bpe'/,
    );
  });

  it('keeps the word tokenizers as they were', () => {
    const vocab: TextTokenizer = { kind: 'vocab', vocab: ['<unk>', 'free', 'money'], lowercase: true };
    expect(Array.from(encodeText('FREE cash money', vocab, 4))).toEqual([1, 0, 2, -1]);
    expect(tokenIds(vocab)).toBe(3);
    expect(tokenIds({ kind: 'hash', buckets: 77, lowercase: false })).toBe(77);
  });
});
