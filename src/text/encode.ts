// Text → a model's token ids: the one encoder that training data (data/text.ts), predict, serve and
// the browser share, so every path tokenises identically. Three tokenizers a model can record:
//   vocab  words (runs of letters and digits) looked up in a vocabulary, index 0 = '<unk>';
//   hash   words hashed with 32-bit FNV-1a into buckets;
//   bpe    byte-level BPE (bpe.ts) — subwords, nothing out of vocabulary — with [CLS] first when
//          `cls` (a model pooling on position 0 reads it); with `mail`, an e-mail is first cut to
//          a few header fields (Subject and From, or MAIL_HEADERS) and its body (prepareMail), so
//          that the tokens a model reads are the message's, not its Received: headers.
// Every text becomes int32 [maxTokens]: truncated at maxTokens, padded with -1 (embedding tables
// give zeros for -1; the transformer's mask treats ids ≤ 0 as padding).
// Runtime-safe: nothing here reaches training code. Not for: training a tokenizer (train-bpe.ts).
import { FormatError } from '../errors.js';
import { BpeTokenizer, type BpeTokenizerJSON, CLS_ID } from './bpe.js';

/** How a model's texts become token ids (recorded in checkpoints and artifacts: input.tokenizer). */
export type TextTokenizer =
  | { kind: 'vocab'; vocab: string[]; lowercase: boolean }
  | { kind: 'hash'; buckets: number; lowercase: boolean }
  | { kind: 'bpe'; bpe: BpeTokenizerJSON; cls: boolean; mail?: MailPreparation };

/**
 * How an e-mail is cut before tokenising: 'subject+from+body' keeps those two header fields and the
 * body; 'headers+body' also keeps the fields of MAIL_HEADERS (each value cut to MAIL_HEADER_CHARS).
 */
export type MailPreparation = 'subject+from+body' | 'headers+body';
export const MAIL_PREPARATIONS: readonly MailPreparation[] = ['subject+from+body', 'headers+body'];

/**
 * The header fields 'headers+body' keeps, in this order: who sent it and to whom, how it was
 * written (Content-Type, X-Mailer, User-Agent), whether it answers a message or comes from a
 * mailing list. Routing fields (Received:, Message-ID, dates) are left out: long, and mostly ids.
 */
export const MAIL_HEADERS = [
  'Subject',
  'From',
  'To',
  'Reply-To',
  'Content-Type',
  'X-Mailer',
  'User-Agent',
  'In-Reply-To',
  'List-Id',
  'Precedence',
] as const;
/** 'headers+body' cuts each kept value to this many characters (a To: of 40 addresses costs 100s of tokens). */
export const MAIL_HEADER_CHARS = 64;

/**
 * An e-mail as a text model reads it: with 'subject+from+body' (the default), `Subject: …` and
 * `From: …` (each when present, folded lines unfolded), a blank line, then the body; with
 * 'headers+body', every field of MAIL_HEADERS present, in that order, each value cut to
 * MAIL_HEADER_CHARS, then the blank line and the body. The header is the lines before the first
 * empty line; a text whose first line is neither a header field nor an mbox `From ` line is no
 * e-mail and is returned as it is. SpamAssassin's messages spend their first 100–200 words on
 * Received: and other routing headers (docs/text.md), which a model reading 128 tokens would read
 * instead. A header with neither Subject nor From leaves the text as it is (an SMS starting
 * 'URGENT:' is no e-mail). The first of a repeated field is kept.
 */
export function prepareMail(text: string, mode: MailPreparation = 'subject+from+body'): string {
  const firstLine = text.slice(0, text.search(/\r?\n|$/));
  if (!/^(From |[!-9;-~]+:)/.test(firstLine)) return text;
  const blank = /\r?\n\r?\n/.exec(text);
  const head = blank ? text.slice(0, blank.index) : text;
  const body = blank ? text.slice(blank.index + blank[0].length) : '';
  const names: readonly string[] = mode === 'headers+body' ? MAIL_HEADERS : ['Subject', 'From'];
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const fields = new Map<string, string>();
  let into = ''; // the kept field a folded (indented) line continues, if any
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line)) {
      if (into) fields.set(into, `${fields.get(into)} ${line.trim()}`);
      continue;
    }
    const m = /^([!-9;-~]+):[ \t]*(.*)$/.exec(line);
    const name = m ? m[1].toLowerCase() : '';
    into = m && wanted.has(name) && !fields.has(name) ? name : '';
    if (m && into) fields.set(into, m[2].trim());
  }
  if (!fields.has('subject') && !fields.has('from')) return text;
  let kept = '';
  for (const n of names) {
    const value = fields.get(n.toLowerCase());
    if (value !== undefined) kept += `${n}: ${mode === 'headers+body' ? value.slice(0, MAIL_HEADER_CHARS) : value}\n`;
  }
  return `${kept}\n${body}`;
}

/** Words of a text: runs of letters and digits, optionally lowercased. */
export function words(text: string, lowercase: boolean): string[] {
  return (lowercase ? text.toLowerCase() : text).split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 0);
}

const encoder = new TextEncoder();
/** 32-bit FNV-1a of the word's UTF-8 bytes. */
export function fnv1a(word: string): number {
  let h = 0x811c9dc5;
  for (const b of encoder.encode(word)) h = Math.imul(h ^ b, 0x01000193);
  return h >>> 0;
}

/** How many token ids the tokenizer makes (0 … n − 1): the rows an embedding table over them needs. */
export function tokenIds(tokenizer: TextTokenizer): number {
  if (tokenizer.kind === 'vocab') return tokenizer.vocab.length;
  if (tokenizer.kind === 'hash') return tokenizer.buckets;
  return tokenizer.bpe.vocabSize;
}

// one BpeTokenizer (merge table and piece cache) per recorded spec object
const bpeCache = new WeakMap<object, BpeTokenizer>();
/** The BPE tokenizer of a recorded spec (built once per spec object). */
export function bpeOf(tokenizer: Extract<TextTokenizer, { kind: 'bpe' }>): BpeTokenizer {
  let t = bpeCache.get(tokenizer);
  if (!t) {
    t = BpeTokenizer.fromJSON(tokenizer.bpe, 'tokenizer.bpe');
    bpeCache.set(tokenizer, t);
  }
  return t;
}

/** Token ids of one text, truncated or padded with -1 to maxTokens: int32 [maxTokens]. */
export function encodeText(
  text: string,
  tokenizer: TextTokenizer,
  maxTokens: number,
  out = new Int32Array(maxTokens),
  vocabIndex?: Map<string, number>,
): Int32Array {
  if (tokenizer.kind === 'bpe') {
    // only the ids that fit are encoded: a long message is not tokenised past maxTokens
    const room = Math.max(0, tokenizer.cls ? maxTokens - 1 : maxTokens);
    const ids = bpeOf(tokenizer).encode(tokenizer.mail ? prepareMail(text, tokenizer.mail) : text, room);
    let i = 0;
    if (tokenizer.cls && maxTokens > 0) out[i++] = CLS_ID;
    for (let k = 0; k < ids.length && i < maxTokens; k++) out[i++] = ids[k];
    out.fill(-1, i, maxTokens);
    return out;
  }
  const ws = words(text, tokenizer.lowercase);
  const index = tokenizer.kind === 'vocab' ? (vocabIndex ?? new Map(tokenizer.vocab.map((w, i) => [w, i]))) : null;
  const buckets = tokenizer.kind === 'hash' ? tokenizer.buckets : 1;
  for (let i = 0; i < maxTokens; i++) {
    if (i >= ws.length) out[i] = -1;
    else if (index) out[i] = index.get(ws[i]) ?? 0;
    else out[i] = fnv1a(ws[i]) % buckets;
  }
  return out;
}

/** Throws a FormatError naming `at` and the field when `raw` is not a TextTokenizer. */
export function checkTextTokenizer(
  raw: unknown,
  at: string,
  fail: (field: string, expected: string, got: unknown) => never,
): TextTokenizer {
  const isRecord = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  const t = isRecord(raw) ? raw : fail(at, 'an object (text input needs one)', raw);
  if (t.kind === 'bpe') {
    if (typeof t.cls !== 'boolean') fail(`${at}.cls`, 'true or false', t.cls);
    if (t.mail !== undefined && !MAIL_PREPARATIONS.includes(t.mail as MailPreparation))
      fail(`${at}.mail`, `${MAIL_PREPARATIONS.map((m) => `'${m}'`).join(', ')} or absent`, t.mail);
    try {
      BpeTokenizer.fromJSON(t.bpe, `${at}.bpe`);
    } catch (e) {
      if (e instanceof FormatError) throw e;
      fail(`${at}.bpe`, `a valid BPE tokenizer (${(e as Error).message})`, t.bpe);
    }
    return t as unknown as TextTokenizer;
  }
  if (t.kind !== 'vocab' && t.kind !== 'hash') fail(`${at}.kind`, "'vocab', 'hash' or 'bpe'", t.kind);
  if (typeof t.lowercase !== 'boolean') fail(`${at}.lowercase`, 'true or false', t.lowercase);
  if (t.kind === 'vocab') {
    if (!Array.isArray(t.vocab) || t.vocab.length === 0) fail(`${at}.vocab`, 'a non-empty array', t.vocab);
    t.vocab.forEach((w, i) => {
      if (typeof w !== 'string') fail(`${at}.vocab[${i}]`, 'a string', w);
    });
  } else if (t.kind === 'hash') {
    const b = t.buckets;
    if (!(typeof b === 'number' && Number.isInteger(b) && b >= 1 && b <= 2 ** 32))
      fail(`${at}.buckets`, `an integer in [1, ${2 ** 32}]`, b);
  }
  return t as unknown as TextTokenizer;
}
