// The byte-level BPE tokenizer: decode(encode(s)) is the normalised s for any Unicode string;
// merging equals a naive reference (GPT-2's loop) on random and very long pieces; encodeBatch's
// truncation, padding and attention mask; decode of special tokens and bad ids; the JSON form
// round-trips and a corrupt one is refused naming the field; the encode side bundles no training.
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BpeTokenizer, CLS_ID, FIRST_MERGE_ID, PAD_ID, SEP_ID } from '../../src/text/bpe.js';
import { normalizeText, pieces } from '../../src/text/pretokenize.js';
import { trainBpe } from '../../src/text/train-bpe.js';

const corpus = (
  JSON.parse(readFileSync(new URL('./fixtures/hf-bpe.json', import.meta.url), 'utf8')) as { corpus: string }
).corpus;
const extra = 'café naïve ﬁnance 日本語 日本語のテキスト 🙂 🙂 👍🏽 नमस्ते नमस्ते Ωμέγα Ωμέγα 0800 0800\n';
const tok = trainBpe([corpus, extra, extra], { vocabSize: 1200 }).tokenizer;
const lower = trainBpe([corpus], { vocabSize: 600, normalization: { lowercase: true } }).tokenizer;
const raw = trainBpe([corpus], { vocabSize: 600, normalization: { unicode: 'none' } }).tokenizer;

/** GPT-2's bpe(): merge the lowest-ranked pair everywhere in the word, left to right, until none. */
function naiveMerge(t: BpeTokenizer, ids: number[]): number[] {
  const rank = new Map<string, number>();
  for (let r = 0; r < t.merges.length / 2; r++) rank.set(`${t.merges[2 * r]},${t.merges[2 * r + 1]}`, r);
  let word = ids;
  for (;;) {
    let best = -1;
    for (let i = 0; i + 1 < word.length; i++) {
      const r = rank.get(`${word[i]},${word[i + 1]}`);
      if (r !== undefined && (best < 0 || r < best)) best = r;
    }
    if (best < 0) return word;
    const [a, b] = [t.merges[2 * best], t.merges[2 * best + 1]];
    const next: number[] = [];
    for (let i = 0; i < word.length; i++) {
      if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
        next.push(FIRST_MERGE_ID + best);
        i++;
      } else next.push(word[i]);
    }
    word = next;
  }
}

/** Byte tokens of a piece, as the tokenizer numbers them. */
const byteIds = (t: BpeTokenizer, piece: string) => {
  const byId = new Map<number, number>();
  for (let id = 5; id < 261; id++) byId.set(t.tokenBytes(id)[0], id);
  return Array.from(new TextEncoder().encode(piece), (b) => byId.get(b)!);
};

describe('BpeTokenizer encode/decode', () => {
  it('round-trips any string to its normalised form (NFKC; lowercased; as given)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.string()), (s) => {
        for (const t of [tok, lower, raw]) {
          const ids = t.encode(s);
          expect(ids.every((id) => id >= 5 && id < t.vocabSize)).toBe(true);
          expect(t.decode(ids)).toBe(normalizeText(s, t.normalization));
        }
      }),
      { numRuns: 1500 },
    );
  });

  it.each([
    ['emoji with skin tone and ZWJ', '👍🏽 👨‍👩‍👧 🙂'],
    ['CJK', '日本語のテキスト 中文 한국어'],
    ['combining marks (composed by NFKC)', 'e\u0301 a\u0308 n\u0303'],
    ['Devanagari vowel signs', 'नमस्ते दुनिया'],
    ['control characters, NUL and BOM', '\u0000\u0007\ufeffx\r\n\t'],
    ['lone surrogates (become U+FFFD)', 'a\ud800b\udfffc'],
  ])('%s', (_, s) => {
    expect(tok.decode(tok.encode(s))).toBe(normalizeText(s, tok.normalization));
    expect(raw.decode(raw.encode(s))).toBe(s.replace(/\p{Cs}/gu, '\ufffd'));
  });

  it('never produces [UNK]: unseen characters fall back to their bytes', () => {
    const ids = tok.encode('ᚠᛇᚻ 𓀀');
    expect(ids.includes(1)).toBe(false);
    expect(ids.length).toBeGreaterThanOrEqual(4);
    expect(tok.decode(ids)).toBe('ᚠᛇᚻ 𓀀');
  });

  it('learned words become single tokens; text typed as "[CLS]" is not the special token', () => {
    expect(tok.encode(' the').length).toBe(1);
    expect(tok.encode('日本語').length).toBeLessThan(9); // fewer tokens than UTF-8 bytes
    expect(Array.from(tok.encode('[CLS]'))).not.toContain(CLS_ID);
    expect(tok.decode(tok.encode('[CLS] [PAD]'))).toBe('[CLS] [PAD]');
  });

  it('merges each piece as the naive GPT-2 loop does (random pieces of 0–120 bytes, repeats, a 20 000-byte word)', () => {
    const long = 'the'.repeat(4000) + 'ab'.repeat(4000);
    for (const piece of [long, 'aaaaaaaa', ' thethethe', 'spectrogram', ...pieces(corpus).slice(0, 300)]) {
      expect(Array.from(tok.encode(piece))).toEqual(naiveMerge(tok, byteIds(tok, piece)));
    }
    fc.assert(
      // up to 90 bytes: both sides of the in-place (≤ 64 bytes) and heap merges
      fc.property(
        fc.string({ unit: fc.constantFrom('t', 'h', 'e', 'a', 'r', 's', 'n', 'o', 'é'), maxLength: 60 }),
        (w) => {
          expect(Array.from(tok.encode(w))).toEqual(naiveMerge(tok, byteIds(tok, w)));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('gives the same ids after its piece cache has been emptied', () => {
    const text = Array.from({ length: 70_000 }, (_, i) => `w${i.toString(36)}`).join(' ');
    const fresh = BpeTokenizer.fromJSON(tok.toJSON());
    const first = tok.encode(text);
    expect(Array.from(tok.encode('the spectrogram'))).toEqual(Array.from(fresh.encode('the spectrogram')));
    expect(tok.encode(text)).toEqual(first);
  });

  it('decode keeps special tokens when asked, and refuses ids outside the vocabulary', () => {
    const ids = [CLS_ID, ...tok.encode('hi there'), SEP_ID, PAD_ID];
    expect(tok.decode(ids)).toBe('hi there');
    expect(tok.decode(ids, { skipSpecialTokens: false })).toBe('[CLS]hi there[SEP][PAD]');
    // a token cut inside a UTF-8 sequence decodes to U+FFFD, not an error
    const bytesOfE = byteIds(tok, 'é');
    expect(tok.decode([bytesOfE[0]])).toBe('\ufffd');
    expect(() => tok.decode([5, tok.vocabSize])).toThrow(
      `ids[1]: expected a token id in [0, ${tok.vocabSize}), got ${tok.vocabSize}`,
    );
    expect(() => tok.decode([-1])).toThrow(/ids\[0\]/);
    expect(() => tok.decode([2.5])).toThrow(/ids\[0\]/);
  });

  it('tokenPiece writes bytes as GPT-2 does', () => {
    expect(tok.tokenPiece(tok.encode(' the')[0])).toBe('Ġthe');
    expect(tok.tokenPiece(CLS_ID)).toBe('[CLS]');
    expect(tok.tokenPiece(byteIds(tok, '\n')[0])).toBe('Ċ');
  });
});

describe('encodeBatch', () => {
  const texts = ['the model', 'a much longer text than the first one, with more tokens in it', ''];
  const content = texts.map((t) => Array.from(tok.encode(t)));

  it('pads to the longest row with [PAD], [CLS] first and [SEP] last, mask 1 on tokens', () => {
    const b = tok.encodeBatch(texts);
    const L = content[1].length + 2;
    expect([b.batch, b.length, b.ids.length, b.attentionMask.length]).toEqual([3, L, 3 * L, 3 * L]);
    expect(Array.from(b.lengths)).toEqual(content.map((c) => c.length + 2));
    for (let r = 0; r < 3; r++) {
      const row = Array.from(b.ids.subarray(r * L, (r + 1) * L));
      const n = content[r].length + 2;
      expect(row).toEqual([CLS_ID, ...content[r], SEP_ID, ...new Array(L - n).fill(PAD_ID)]);
      expect(Array.from(b.attentionMask.subarray(r * L, (r + 1) * L))).toEqual([
        ...new Array(n).fill(1),
        ...new Array(L - n).fill(0),
      ]);
    }
  });

  it('truncates to maxLength keeping [SEP] last, and pads to maxLength when asked', () => {
    const b = tok.encodeBatch(texts, { maxLength: 6, padding: 'max_length' });
    expect([b.batch, b.length]).toEqual([3, 6]);
    expect(Array.from(b.ids.subarray(6, 12))).toEqual([CLS_ID, ...content[1].slice(0, 4), SEP_ID]);
    expect(Array.from(b.ids.subarray(12, 18))).toEqual([CLS_ID, SEP_ID, 0, 0, 0, 0]);
    expect(Array.from(b.attentionMask.subarray(12, 18))).toEqual([1, 1, 0, 0, 0, 0]);
    expect(Array.from(b.lengths)).toEqual([Math.min(6, content[0].length + 2), 6, 2]);
    // 'longest' with maxLength: no longer than the longest truncated row
    const c = tok.encodeBatch([texts[0], texts[2]], { maxLength: 64 });
    expect(c.length).toBe(content[0].length + 2);
  });

  it('without special tokens, rows are the bare encodings; an empty batch is [0, L]', () => {
    const b = tok.encodeBatch(texts, { specialTokens: false, maxLength: 3 });
    expect(Array.from(b.ids.subarray(3, 6))).toEqual(content[1].slice(0, 3));
    expect(tok.encodeBatch([], { maxLength: 8, padding: 'max_length' })).toMatchObject({ batch: 0, length: 8 });
    expect(tok.encodeBatch([]).ids.length).toBe(0);
  });

  it('truncation of a very long text encodes only what it keeps, with the same ids', () => {
    const long = corpus.repeat(20);
    const all = tok.encode(long);
    for (const n of [0, 1, 7, 500]) expect(tok.encode(long, n)).toEqual(all.subarray(0, n));
    expect(tok.encode('hi', 10)).toEqual(tok.encode('hi'));
    expect(() => tok.encode('hi', -1)).toThrow('encode maxTokens: expected an integer ≥ 0, got -1');
    const b = tok.encodeBatch([long], { maxLength: 128 });
    expect(Array.from(b.ids.subarray(1, 127))).toEqual(Array.from(tok.encode(long).subarray(0, 126)));
  });

  it('refuses bad options and overlong rows by name', () => {
    expect(() => tok.encodeBatch(texts, { maxLength: 2 })).toThrow(/maxLength: expected an integer ≥ 3/);
    expect(() => tok.encodeBatch(texts, { maxLength: 0, specialTokens: false })).toThrow(
      /maxLength: expected an integer ≥ 1/,
    );
    expect(() => tok.encodeBatch(texts, { padding: 'max_length' })).toThrow(/padding 'max_length' needs maxLength/);
    expect(() => tok.encodeBatch(texts, { truncation: true })).toThrow(/truncation needs maxLength/);
    expect(() => tok.encodeBatch(texts, { padding: 'left' as 'longest' })).toThrow(
      /padding: expected 'longest' or 'max_length', got 'left'/,
    );
    expect(() => tok.encodeBatch(texts, { maxLength: 5, truncation: false })).toThrow(
      new RegExp(`texts\\[1\\]: ${content[1].length + 2} tokens, more than maxLength 5 \\(truncation is off\\)`),
    );
    expect(() => tok.encodeBatch(['a', null as unknown as string])).toThrow(
      /texts\[1\]: expected a string, got object/,
    );
  });
});

describe('JSON form', () => {
  it('round-trips through JSON text: same merges, normalisation and ids', () => {
    for (const t of [tok, lower, raw]) {
      const json = JSON.stringify(t.toJSON());
      const back = BpeTokenizer.parse(json);
      expect(back.toJSON()).toEqual(t.toJSON());
      expect(back.encode(extra + corpus.slice(0, 2000))).toEqual(t.encode(extra + corpus.slice(0, 2000)));
    }
    expect(tok.toJSON()).toMatchObject({
      format: 'graduate-bpe',
      version: 1,
      normalization: { unicode: 'NFKC', lowercase: false },
      preTokenizer: 'gpt2-marks',
      specialTokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'],
      vocabSize: 1200,
    });
    // compact: about 10 bytes per merge
    expect(JSON.stringify(tok.toJSON()).length).toBeLessThan(400 + 10 * (1200 - 261));
  });

  const good = () => JSON.parse(JSON.stringify(tok.toJSON())) as Record<string, unknown>;
  const corrupt = (change: (j: Record<string, unknown>) => void) => {
    const j = good();
    change(j);
    return j;
  };
  it.each([
    ['not an object', () => [1, 2], 'model.tokenizer: expected an object, got [1,2]'],
    [
      'another format',
      () => corrupt((j) => (j.format = 'hf')),
      "model.tokenizer.format: expected 'graduate-bpe', got 'hf'",
    ],
    [
      'a newer version',
      () => corrupt((j) => (j.version = 2)),
      'model.tokenizer.version: expected 1 (the version this build reads), got 2',
    ],
    [
      'no normalization',
      () => corrupt((j) => delete j.normalization),
      'model.tokenizer.normalization: expected an object, got undefined',
    ],
    [
      'NFC',
      () => corrupt((j) => ((j.normalization as { unicode: string }).unicode = 'NFC')),
      "model.tokenizer.normalization.unicode: expected 'NFKC' or 'none', got 'NFC'",
    ],
    [
      'lowercase a string',
      () => corrupt((j) => ((j.normalization as { lowercase: unknown }).lowercase = 'yes')),
      "model.tokenizer.normalization.lowercase: expected true or false, got 'yes'",
    ],
    [
      'another pre-tokenizer',
      () => corrupt((j) => (j.preTokenizer = 'whitespace')),
      "model.tokenizer.preTokenizer: expected 'gpt2-marks', got 'whitespace'",
    ],
    [
      'other special tokens',
      () => corrupt((j) => (j.specialTokens = ['<pad>'])),
      'model.tokenizer.specialTokens: expected ["[PAD]","[UNK]","[CLS]","[SEP]","[MASK]"], got ["<pad>"]',
    ],
    [
      'merges not an array',
      () => corrupt((j) => (j.merges = 'a b')),
      "model.tokenizer.merges: expected an array of token ids, got 'a b'",
    ],
    [
      'an odd number of ids',
      () => corrupt((j) => (j.merges as number[]).pop()),
      'model.tokenizer.merges: expected an even number of ids (pairs)',
    ],
    [
      'vocabSize off',
      () => corrupt((j) => (j.vocabSize = 1201)),
      'model.tokenizer.vocabSize: expected 1200 (261 + one per merge), got 1201',
    ],
    [
      'a merge using itself',
      () => corrupt((j) => ((j.merges as number[])[5] = 263)),
      'model.tokenizer.merges[5]: expected a token id in [5, 263) (a byte or an earlier merge), got 263',
    ],
    [
      'a merge using a special token',
      () => corrupt((j) => ((j.merges as number[])[0] = 2)),
      'model.tokenizer.merges[0]: expected a token id in [5, 261)',
    ],
    [
      'a fractional id',
      () => corrupt((j) => ((j.merges as number[])[3] = 7.5)),
      'model.tokenizer.merges[3]: expected a token id in [5, 262)',
    ],
    [
      'a repeated pair',
      () =>
        corrupt((j) => {
          const m = j.merges as number[];
          m[2] = m[0];
          m[3] = m[1];
        }),
      'model.tokenizer.merges[2, 3]: merge 1 repeats the pair',
    ],
  ])('refuses %s, naming the field', (_, make, message) => {
    expect(() => BpeTokenizer.fromJSON(make(), 'model.tokenizer')).toThrow(message);
  });

  it('the constructor refuses a bad normalisation by name', () => {
    expect(() => new BpeTokenizer([], { unicode: 'NFC' as 'NFKC', lowercase: false })).toThrow(
      "normalization.unicode: expected 'NFKC' or 'none', got 'NFC'",
    );
    expect(() => new BpeTokenizer([], { unicode: 'none', lowercase: 1 as unknown as boolean })).toThrow(
      'normalization.lowercase: expected true or false, got 1',
    );
  });

  it('refuses text that is not JSON', () => {
    expect(() => BpeTokenizer.parse('{"format": "graduate-bpe",', 'run/checkpoint.json tokenizer')).toThrow(
      /^run\/checkpoint.json tokenizer: not valid JSON \(/,
    );
  });
});

describe('the encode side stays lean', () => {
  it('bundles bpe.ts without training code or packages', async () => {
    const r = await build({
      entryPoints: ['src/text/bpe.ts'],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    expect(Object.keys(r.metafile.inputs).sort()).toEqual([
      'src/errors.ts',
      'src/text/bpe.ts',
      'src/text/heap.ts',
      'src/text/pretokenize.ts',
    ]);
    expect(r.outputFiles[0].contents.length).toBeLessThan(16 * 1024);
  });
});
