// Normalisation and pre-tokenisation: the hand-written scanner gives exactly the pieces of the
// regular expression that specifies it (PIECE_PATTERN), on chosen and on random strings; pieces
// cover the text; NFKC, lowercasing and lone surrogates are handled as documented.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeText, PIECE_PATTERN, pieces } from '../../src/text/pretokenize.js';

const byRegex = (s: string) => s.match(PIECE_PATTERN) ?? [];

/** Characters that exercise every branch: each class of the rule, apostrophes, all of \s, surrogates. */
const tricky = fc.constantFrom(
  ...["'", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'x", ' ', '  ', '\t', '\n', '\r\n', '\u00a0'],
  ...['\u1680', '\u2003', '\u2028', '\u202f', '\u3000', '\ufeff', '\u0085', '\u200b'],
  ...['a', 'Z', 'é', 'e\u0301', 'ß', 'Ω', 'ж', 'ק', 'ع', 'न', '\u093f', '日本', 'ｶ', '𝐀', '𠀀'],
  ...['0', '9', '٣', '²', 'Ⅻ', '𝟘', '!', '.', '-', '$', '€', '🙂', '👍🏽', '👨‍👩‍👧', '\ud800', '\udc00', '\u0000'],
);
const mixed = fc
  .array(fc.oneof(tricky, fc.string({ unit: 'binary', maxLength: 3 })), { maxLength: 24 })
  .map((a) => a.join(''));

describe('preTokenize', () => {
  it.each([
    ["Don't stop", ['Don', "'t", ' stop']],
    ['Hello, world!', ['Hello', ',', ' world', '!']],
    ['a  b', ['a', ' ', ' b']],
    ['a \n b', ['a', ' \n', ' b']],
    ['a\tb', ['a', '\t', 'b']],
    ['  x  ', [' ', ' x', '  ']],
    ['call 0800-123 now!!!', ['call', ' 0800', '-', '123', ' now', '!!!']],
    ["it's 'sup", ['it', "'s", " '", 'sup']],
    ['नमस्ते दुनिया', ['नमस्ते', ' दुनिया']], // vowel signs (\p{M}) stay in their words
    ['e\u0301t\u00e9', ['e\u0301t\u00e9']],
    ['日本語のテキスト🙂👍', ['日本語のテキスト', '🙂👍']],
    ['x²', ['x', '²']],
    ['', []],
  ])('%j → %j', (text, expected) => {
    expect(pieces(text)).toEqual(expected);
    expect(byRegex(text)).toEqual(expected);
  });

  it('gives the pieces of PIECE_PATTERN on random strings, and the pieces cover the text', () => {
    fc.assert(
      fc.property(fc.oneof(mixed, fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' })), (s) => {
        const p = pieces(s);
        expect(p).toEqual(byRegex(s));
        expect(p.join('')).toBe(s);
        expect(p.every((x) => x.length > 0)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('normalizeText', () => {
  const nfkc = { unicode: 'NFKC', lowercase: false } as const;
  it('applies NFKC: ligatures, full-width forms, superscripts, composed accents', () => {
    expect(normalizeText('ﬁnance ＦＲＥＥ x² e\u0301', nfkc)).toBe('finance FREE x2 \u00e9');
  });
  it("'none' keeps the text as given; lowercase comes after NFKC", () => {
    expect(normalizeText('ﬁ ＦＲＥＥ', { unicode: 'none', lowercase: false })).toBe('ﬁ ＦＲＥＥ');
    expect(normalizeText('ﬁ ＦＲＥＥ İ', { unicode: 'NFKC', lowercase: true })).toBe('fi free i\u0307');
  });
  it('replaces lone surrogates by U+FFFD (UTF-8 cannot hold them) and keeps pairs', () => {
    expect(normalizeText('a\ud800b\udc00c🙂', nfkc)).toBe('a\ufffdb\ufffdc🙂');
  });
  it('equals String.prototype.normalize on random text (the ASCII shortcut changes nothing)', () => {
    fc.assert(
      fc.property(fc.oneof(mixed, fc.string({ unit: 'grapheme' })), (s) => {
        expect(normalizeText(s, nfkc)).toBe(s.replace(/\p{Cs}/gu, '\ufffd').normalize('NFKC'));
      }),
      { numRuns: 1000 },
    );
  });
});
