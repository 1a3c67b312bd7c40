// Training byte-level BPE: merges on a toy corpus equal the hand-computed ones; on a small real
// corpus they equal HuggingFace tokenizers' BpeTrainer's, merge for merge (fixtures/hf-bpe.json,
// made by fixtures/make-hf-bpe.cjs), and encoding gives HuggingFace's tokens; training is
// deterministic and independent of the order of the texts; bad options are refused by name.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { BpeTokenizer } from '../../src/text/bpe.js';
import { trainBpe } from '../../src/text/train-bpe.js';

const mergePieces = (t: BpeTokenizer) =>
  Array.from({ length: t.merges.length / 2 }, (_, r) => [
    t.tokenPiece(t.merges[2 * r]),
    t.tokenPiece(t.merges[2 * r + 1]),
  ]);

/** HuggingFace's train() reads its files line by line, each line with its '\n': so do we. */
const lines = (text: string) => text.split(/(?<=\n)/);

const hf = JSON.parse(readFileSync(new URL('./fixtures/hf-bpe.json', import.meta.url), 'utf8')) as {
  corpus: string;
  merges: [string, string][];
  samples: { text: string; tokens: string[] }[];
};

describe('trainBpe', () => {
  // Pieces: the, ␣cat, ␣sat, ␣on, ␣the, ␣mat, ., ␣the, ␣hat, !, \n (10 distinct). Pair counts: (a,t) 4 in cat sat mat
  // hat; (t,h) 3 and (h,e) 3 in the ×3, tied: 'h' < 't' goes first; then (t,he) 3; (␣,the) 2. All
  // other pairs occur once.
  const toy = ['the cat sat on the mat. the hat!\n'];

  it('learns the hand-computed merges of a toy corpus, most frequent first, ties to the smaller pair', () => {
    const { tokenizer, counts, stoppedBy, pieces, distinctPieces } = trainBpe(toy, { vocabSize: 1000 });
    expect(mergePieces(tokenizer)).toEqual([
      ['a', 't'],
      ['h', 'e'],
      ['t', 'he'],
      ['Ġ', 'the'],
    ]);
    expect(counts).toEqual([4, 3, 3, 2]);
    expect(stoppedBy).toBe('minFrequency');
    expect([pieces, distinctPieces]).toEqual([11, 10]);
    expect(tokenizer.vocabSize).toBe(261 + 4);
    // ids: 261 + merge rank; 'a' 't' are bytes in GPT-2 order (printable first: '!' is 5)
    expect(Array.from(tokenizer.merges.slice(0, 2))).toEqual(['a'.charCodeAt(0) - 33 + 5, 't'.charCodeAt(0) - 33 + 5]);
    expect(Array.from(tokenizer.merges.slice(4))).toEqual([
      't'.charCodeAt(0) - 33 + 5,
      262, // he
      tokenizer.encode(' ')[0],
      263, // the
    ]);
    expect(Array.from(tokenizer.encode('the hat'), (id) => tokenizer.tokenPiece(id))).toEqual(['the', 'Ġ', 'h', 'at']);
  });

  it('with minFrequency 1, pairs seen once merge in (left id, right id) order; the space byte sorts last', () => {
    const { tokenizer, counts } = trainBpe(toy, { vocabSize: 1000, minFrequency: 1 });
    expect(mergePieces(tokenizer).map((m) => m.join(' '))).toEqual([
      'a t',
      'h e',
      't he',
      'Ġ the',
      'c at',
      'h at',
      'm at',
      'o n',
      's at',
      'Ġ cat',
      'Ġ hat',
      'Ġ mat',
      'Ġ on',
      'Ġ sat',
    ]);
    expect(counts).toEqual([4, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(trainBpe(toy, { vocabSize: 261 + 6, minFrequency: 1 }).stoppedBy).toBe('vocabSize');
    expect(trainBpe(toy, { vocabSize: 261 + 6, minFrequency: 1 }).tokenizer.vocabSize).toBe(267);
  });

  it("equals HuggingFace tokenizers' BpeTrainer on a small corpus, merge for merge", () => {
    const { tokenizer } = trainBpe(lines(hf.corpus), { vocabSize: 30000, minFrequency: 1 });
    expect(hf.merges.length).toBeGreaterThan(1500);
    expect(mergePieces(tokenizer)).toEqual(hf.merges);
  });

  it('encodes as HuggingFace does with the same merges (NFKC, accents, CJK, emoji, whitespace runs)', () => {
    const { tokenizer } = trainBpe(lines(hf.corpus), { vocabSize: 30000, minFrequency: 1 });
    for (const { text, tokens } of hf.samples) {
      expect(Array.from(tokenizer.encode(text), (id) => tokenizer.tokenPiece(id))).toEqual(tokens);
    }
  });

  it('is deterministic and independent of the order and grouping of the texts', () => {
    const texts = lines(hf.corpus);
    const a = trainBpe(texts, { vocabSize: 900 });
    const b = trainBpe([...texts].reverse(), { vocabSize: 900 });
    const c = trainBpe(texts, { vocabSize: 900 });
    expect(a.tokenizer.merges.length).toBe(2 * (900 - 261));
    expect(Array.from(b.tokenizer.merges)).toEqual(Array.from(a.tokenizer.merges));
    expect(Array.from(c.tokenizer.merges)).toEqual(Array.from(a.tokenizer.merges));
    expect(b.counts).toEqual(a.counts);
  });

  it('learns multi-byte characters as tokens: a CJK character merges from its three UTF-8 bytes', () => {
    const { tokenizer } = trainBpe(['日本 日本 日本 日本'], { vocabSize: 300 });
    const ids = tokenizer.encode('日本');
    expect(ids.length).toBe(1);
    expect(tokenizer.decode(ids)).toBe('日本');
  });

  it('refuses bad options and non-string texts by name', () => {
    expect(() => trainBpe(toy, { vocabSize: 100 })).toThrow(/vocabSize: expected an integer in \[261, /);
    expect(() => trainBpe(toy, { vocabSize: 300.5 })).toThrow(/vocabSize/);
    expect(() => trainBpe(toy, { vocabSize: 300, minFrequency: 0 })).toThrow(/minFrequency: expected an integer ≥ 1/);
    expect(() => trainBpe(toy, { vocabSize: 300, normalization: { unicode: 'NFC' as 'NFKC' } })).toThrow(
      /normalization.unicode: expected 'NFKC' or 'none', got 'NFC'/,
    );
    expect(() => trainBpe(['ok', 3 as unknown as string], { vocabSize: 300 })).toThrow(
      /texts\[1\]: expected a string, got number/,
    );
  });
});
