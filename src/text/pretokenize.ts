// Text normalisation and pre-tokenisation: the two steps before byte-pair merges, shared by
// training (train-bpe.ts) and encoding (bpe.ts) so that both see exactly the same pieces.
// Normalisation: lone surrogates → U+FFFD, then Unicode NFKC (or nothing), then optional
// lowercasing. Pre-tokenisation splits normalised text into pieces that merges never cross, by
// GPT-2's rule with combining marks kept inside words (PIECE_PATTERN is the specification);
// preTokenize() is a hand-written scanner equal to it (test/text/pretokenize.test.ts checks that on
// random strings) and about 4× faster than running the regular expression. pieceEnd() steps
// through the pieces one at a time (the encoder's loop), preTokenize() calls back with each.
// Not for: byte-pair merges (bpe.ts).

/** How text is normalised before pre-tokenisation; recorded in the tokenizer. */
export interface TextNormalization {
  /** 'NFKC': compatibility composition (ﬁ → fi, full-width → ASCII, ² → 2); 'none': as given */
  unicode: 'NFKC' | 'none';
  /** Lowercase (String.prototype.toLowerCase, locale-independent) after the Unicode form */
  lowercase: boolean;
}

/** The normalisation a new tokenizer gets unless told otherwise. */
export const DEFAULT_NORMALIZATION: Readonly<TextNormalization> = { unicode: 'NFKC', lowercase: false };

const LONE_SURROGATE = /\p{Cs}/gu;
const NON_ASCII = /[^\0-\x7f]/;

/** Text as the tokenizer sees it: well-formed UTF-16, then NFKC, then lowercased if asked. */
export function normalizeText(text: string, spec: Readonly<TextNormalization>): string {
  let s = wellFormed(text);
  // ASCII is its own NFKC; the test is ~20× faster than normalize() on mostly-ASCII mail
  if (spec.unicode === 'NFKC' && NON_ASCII.test(s)) s = s.normalize('NFKC');
  if (spec.lowercase) s = s.toLowerCase();
  return s;
}

type WellFormedString = string & { isWellFormed?: () => boolean };

/** Lone surrogates (which UTF-8 cannot hold) replaced by U+FFFD, as TextEncoder would. */
function wellFormed(text: string): string {
  const check = (text as WellFormedString).isWellFormed;
  if (check ? check.call(text) : !/\p{Cs}/u.test(text)) return text;
  return text.replace(LONE_SURROGATE, '\uFFFD');
}

/** Name of the pre-tokenisation rule below, recorded in the tokenizer. */
export const PRE_TOKENIZER = 'gpt2-marks';

/**
 * The pre-tokenisation rule as a regular expression: GPT-2's (English contractions, an optional
 * leading space before a run of letters, of digits or of other symbols, whitespace) with
 * combining marks (\p{M}) counted as letters, so that decomposed accents and the vowel signs of
 * Indic scripts stay inside their words. preTokenize() gives the same pieces.
 */
export const PIECE_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?[\p{L}\p{M}]+| ?\p{N}+| ?[^\s\p{L}\p{M}\p{N}]+|\s+(?!\S)|\s+/gu;

// Character classes of the scanner.
const UNKNOWN = 0;
const LETTER = 1; // \p{L} or \p{M}
const NUMBER = 2; // \p{N}
const SPACE = 3; // \s
const OTHER = 4; // anything else, lone surrogates included

const IS_LETTER = /^[\p{L}\p{M}]$/u;
const IS_NUMBER = /^\p{N}$/u;
const IS_SPACE = /^\s$/u;

/** Classes of the BMP, filled on first sight (the regular expressions are slow; a lookup is not). */
const bmpClass = new Uint8Array(0x10000);
const astralClass = new Map<number, number>();

function classify(cp: number): number {
  const ch = String.fromCodePoint(cp);
  if (IS_LETTER.test(ch)) return LETTER;
  if (IS_NUMBER.test(ch)) return NUMBER;
  if (IS_SPACE.test(ch)) return SPACE;
  return OTHER;
}

for (let c = 0; c < 128; c++) bmpClass[c] = classify(c);

function classOf(cp: number): number {
  if (cp < 0x10000) {
    const k = bmpClass[cp];
    if (k !== UNKNOWN) return k;
    // a lone surrogate code unit is OTHER, as the regular expression sees it
    const found = cp >= 0xd800 && cp <= 0xdfff ? OTHER : classify(cp);
    bmpClass[cp] = found;
    return found;
  }
  let k = astralClass.get(cp);
  if (k === undefined) {
    k = classify(cp);
    astralClass.set(cp, k);
  }
  return k;
}

/** Code point at i (a surrogate pair read whole, a lone surrogate as itself). */
function codePointAt(s: string, i: number): number {
  const c = s.charCodeAt(i);
  return c >= 0xd800 && c <= 0xdbff ? s.codePointAt(i)! : c;
}

/** End of the run of class k that starts at i. */
function runEnd(s: string, i: number, k: number): number {
  const n = s.length;
  while (i < n) {
    const cp = codePointAt(s, i);
    if (classOf(cp) !== k) break;
    i += cp > 0xffff ? 2 : 1;
  }
  return i;
}

/** Length of the contraction ('s 't 're 've 'm 'll 'd) at i, which holds an apostrophe, or 0. */
function contraction(s: string, i: number): number {
  const a = s.charCodeAt(i + 1);
  if (a === 115 || a === 116 || a === 109 || a === 100) return 2; // s t m d
  const b = s.charCodeAt(i + 2);
  if ((a === 114 || a === 118) && b === 101) return 3; // re ve
  if (a === 108 && b === 108) return 3; // ll
  return 0;
}

/** End of the piece of `text` (already normalised) that starts at i < text.length. */
export function pieceEnd(text: string, i: number): number {
  const n = text.length;
  const c = text.charCodeAt(i);
  if (c === 39 && i + 1 < n) {
    const len = contraction(text, i);
    if (len > 0) return i + len;
  }
  let cp = codePointAt(text, i);
  let k = classOf(cp);
  if (c === 32 && i + 1 < n) {
    // ' ?X+': a single space joins the run of letters, digits or symbols after it
    const next = codePointAt(text, i + 1);
    const kn = classOf(next);
    if (kn !== SPACE) {
      i += 1;
      cp = next;
      k = kn;
    }
  }
  if (k !== SPACE) return runEnd(text, i + (cp > 0xffff ? 2 : 1), k);
  // '\s+(?!\S)|\s+': a run of whitespace leaves its last character to the word after it
  let j = i;
  while (j < n && classOf(text.charCodeAt(j)) === SPACE) j++;
  return j === n || j - i === 1 ? j : j - 1;
}

/**
 * Calls piece(start, end) for every piece of `text` (already normalised), in order; the pieces
 * cover the text exactly. Stops early when piece returns false.
 */
export function preTokenize(text: string, piece: (start: number, end: number) => boolean | undefined): void {
  for (let i = 0; i < text.length; ) {
    const end = pieceEnd(text, i);
    if (piece(i, end) === false) return;
    i = end;
  }
}

/** The pieces of `text` (already normalised) as strings. */
export function pieces(text: string): string[] {
  const out: string[] = [];
  preTokenize(text, (a, b) => {
    out.push(text.slice(a, b));
    return true;
  });
  return out;
}
