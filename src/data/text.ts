// Text classification data: samples of (text, label) from .jsonl, .csv (columns text,label) or
// .txt (label<TAB>text per line), tokenized into int32 ids with a word vocabulary, by hashing, or
// with byte-level BPE learnt from the training texts (the text presets' tokenizer; e-mails cut to a
// few header fields and the body first). encodeText() is the one tokenizer, shared by training data and
// predict/serve inputs.
import { extname } from 'node:path';
import { FormatError, ValueError } from '../errors.js';
import { inputLimits } from '../limits.js';
import { encodeText, type MailPreparation, prepareMail, words } from '../text/encode.js';
import { trainBpe } from '../text/train-bpe.js';
import { readCsv } from './csv.js';
import { type ArrayDataset, indexLabels, type TextTokenizer } from './dataset.js';
import { checkRecord, readTextFile } from './text-file.js';

export { encodeText, fnv1a, tokenIds, words } from '../text/encode.js';

/** The most frequent words (ties in code-point order) after '<unk>' at index 0. */
export function buildVocab(texts: readonly string[], vocabSize: number, lowercase: boolean): string[] {
  return vocabOf(scanTexts(texts, lowercase, true).counts, vocabSize);
}

function vocabOf(counts: Map<string, number>, vocabSize: number): string[] {
  const sorted = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return ['<unk>', ...sorted.slice(0, Math.max(0, vocabSize - 1)).map(([w]) => w)];
}

/** One pass over the texts: each one's word count, and every word's count where `count` (for a vocabulary). */
function scanTexts(
  texts: readonly string[],
  lowercase: boolean,
  count: boolean,
): { lengths: number[]; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  const lengths = texts.map((t) => {
    const ws = words(t, lowercase);
    if (count) for (const w of ws) counts.set(w, (counts.get(w) ?? 0) + 1);
    return ws.length;
  });
  return { lengths, counts };
}

/** Bounds of defaultMaxTokens: a text is never cut shorter than 16 words, nor held longer than 2048. */
const MIN_TOKENS = 16;
const MAX_TOKENS = 2048;

/**
 * The token count a model reads when none is given, from the texts' word counts: long enough for
 * 95% of the texts whole, rounded up to a power of two, within [16, 2048] (SMS-sized texts get
 * 32–64, e-mails 2048). A bag of words reads only the words it is given: the former fixed 128 kept
 * an e-mail's first headers and none of its body.
 */
export function defaultMaxTokens(lengths: readonly number[]): number {
  if (lengths.length === 0) return MIN_TOKENS;
  const sorted = [...lengths].sort((a, b) => a - b);
  const p95 = sorted[Math.ceil(0.95 * sorted.length) - 1];
  let n = MIN_TOKENS;
  while (n < p95 && n < MAX_TOKENS) n *= 2;
  return n;
}

/** (text, label) pairs with the place each came from, for messages. */
function readSamples(file: string): { texts: string[]; labels: string[]; where: string[] } {
  const texts: string[] = [];
  const labels: string[] = [];
  const where: string[] = [];
  const ext = extname(file).toLowerCase();
  if (ext === '.csv') {
    const { header, rows, lines } = readCsv(file);
    const t = header.indexOf('text');
    const l = header.indexOf('label');
    if (t < 0 || l < 0)
      throw new FormatError(`${file}: a text CSV needs columns 'text' and 'label', got [${header.join(', ')}]`);
    rows.forEach((r, i) => {
      texts.push(r[t]);
      labels.push(r[l]);
      where.push(`${file}:${lines[i]}`);
    });
    return { texts, labels, where };
  }
  const limits = inputLimits();
  const content = readTextFile(file, 'text file', limits);
  content.split(/\r?\n/).forEach((line, i) => {
    const at = `${file}:${i + 1}`;
    checkRecord(at, line.length, limits);
    if (line.trim() === '') return;
    if (ext === '.txt') {
      const tab = line.indexOf('\t');
      if (tab < 0) throw new FormatError(`${at}: expected 'label<TAB>text'`);
      labels.push(line.slice(0, tab).trim());
      texts.push(line.slice(tab + 1));
    } else {
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch (e) {
        throw new FormatError(`${at}: invalid JSON (${(e as Error).message})`);
      }
      const { text, label } = (obj ?? {}) as { text?: unknown; label?: unknown };
      if (typeof text !== 'string') throw new FormatError(`${at}: expected a string field "text"`);
      if (typeof label !== 'string' && typeof label !== 'number')
        throw new FormatError(`${at}: expected a string or number field "label"`);
      texts.push(text);
      labels.push(String(label));
    }
    where.push(at);
  });
  return { texts, labels, where };
}

/** A BPE tokenizer never reads more than this many tokens by default: attention costs L² (docs/text.md). */
export const MAX_BPE_TOKENS = 128;
/**
 * The default cap for e-mails prepared 'headers+body': its header fields take a median of 102
 * BPE tokens of SpamAssassin's messages (quartiles 71 and 131), leaving the body about 150 (docs/text.md).
 */
export const MAX_MAIL_HEADERS_TOKENS = 256;

/** The default cap on BPE lengths for a tokenizer (MAX_BPE_TOKENS, more for 'headers+body' mail). */
export function maxBpeTokens(tokenizer: TextTokenizer): number {
  return tokenizer.kind === 'bpe' && tokenizer.mail === 'headers+body' ? MAX_MAIL_HEADERS_TOKENS : MAX_BPE_TOKENS;
}
/** BPE learns from each text's first this many characters (after mail preparation): ~4× what 128 tokens read. */
const BPE_TRAIN_CHARS = 4096;

/**
 * Whether the texts are e-mails: at least 90% have a Subject or From header field (prepareMail
 * changes them). Then a BPE tokenizer records mail 'subject+from+body'.
 */
export function looksLikeMail(texts: readonly string[]): boolean {
  if (texts.length === 0) return false;
  let mails = 0;
  for (const t of texts) if (prepareMail(t) !== t) mails++;
  return mails >= 0.9 * texts.length;
}

/** Options of loadText. */
export interface LoadTextOptions {
  /** 'vocab' (default): the vocabSize most frequent words; 'hash': FNV-1a into buckets; 'bpe': byte-level BPE of vocabSize tokens learnt from this file's texts */
  tokenizer?: 'vocab' | 'hash' | 'bpe';
  /** vocab: 10,000 words; bpe: 8,000 tokens */
  vocabSize?: number;
  buckets?: number;
  /** bpe: how the texts are cut first when they are e-mails (looksLikeMail; 'none': not at all); default 'subject+from+body' */
  mail?: MailPreparation | 'none';
  maxTokens?: number;
  reuse?: TextTokenizer;
  classNames?: readonly string[];
}

/**
 * Text classification from .jsonl ({"text", "label"}), .csv (text,label) or .txt (label<TAB>text):
 * x int32 [N, maxTokens] token ids (-1 = padding; maxTokens defaultMaxTokens() unless given, and
 * for BPE at most maxBpeTokens(): 128, 256 for headers+body mail). Pass the training set's tokenizer (reuse), maxTokens and
 * classNames for validation/test files so that ids, shapes and labels match.
 */
export function loadText(file: string, opts: LoadTextOptions = {}): ArrayDataset {
  const kind = opts.reuse?.kind ?? opts.tokenizer ?? 'vocab';
  const { vocabSize = kind === 'bpe' ? 8000 : 10000, buckets = 16384 } = opts;
  for (const [k, v] of Object.entries({ vocabSize, buckets, maxTokens: opts.maxTokens ?? 1 }))
    if (!Number.isInteger(v) || v < 1) throw new ValueError(`loadText: ${k} must be a positive integer, got ${v}`);
  const { texts, labels, where } = readSamples(file);
  let tokenizer: TextTokenizer;
  let lengths: number[] | undefined;
  if (opts.reuse) tokenizer = opts.reuse;
  else if (kind === 'bpe') tokenizer = learnBpe(texts, vocabSize, opts.mail);
  else if (kind === 'hash') tokenizer = { kind: 'hash', buckets, lowercase: true };
  else {
    const scan = scanTexts(texts, true, true);
    lengths = scan.lengths;
    tokenizer = { kind: 'vocab', vocab: vocabOf(scan.counts, vocabSize), lowercase: true };
  }
  let maxTokens = opts.maxTokens;
  if (maxTokens === undefined && tokenizer.kind === 'bpe') {
    // BPE token counts of the texts: encode at the cap and count the ids before the padding
    const cap = maxBpeTokens(tokenizer);
    const probe = new Int32Array(cap);
    lengths = texts.map((t) => {
      encodeText(t, tokenizer, cap, probe);
      const pad = probe.indexOf(-1);
      return pad < 0 ? cap : pad;
    });
    maxTokens = Math.min(defaultMaxTokens(lengths), cap);
  }
  maxTokens ??= defaultMaxTokens(
    lengths ?? scanTexts(texts, tokenizer.kind !== 'bpe' && tokenizer.lowercase, false).lengths,
  );
  const { y, classNames } = indexLabels(labels, (i) => where[i], opts.classNames);
  const x = new Int32Array(texts.length * maxTokens);
  const vocabIndex = tokenizer.kind === 'vocab' ? new Map(tokenizer.vocab.map((w, i) => [w, i])) : undefined;
  for (let i = 0; i < texts.length; i++)
    encodeText(texts[i], tokenizer, maxTokens, x.subarray(i * maxTokens, (i + 1) * maxTokens), vocabIndex);
  return {
    x,
    y,
    sampleShape: [maxTokens],
    classNames,
    size: texts.length,
    preprocessing: { kind: 'text', inputShape: [maxTokens], tokenizer },
    name: file,
  };
}

/**
 * A BPE tokenizer of vocabSize tokens learnt from the texts (each one's first BPE_TRAIN_CHARS
 * characters, as prepared for mail), [CLS] first: a model may pool on it, and one id a text costs
 * nothing to a model that pools the mean. Texts that are no e-mails record no mail preparation,
 * whatever `mail` asks (the text-transformer preset asks for 'headers+body' on any data).
 */
function learnBpe(texts: readonly string[], vocabSize: number, mail: LoadTextOptions['mail']): TextTokenizer {
  const prep: MailPreparation | undefined =
    mail === 'none' || !looksLikeMail(texts) ? undefined : (mail ?? 'subject+from+body');
  // the text encodeText will tokenise: the recorded preparation, not the default one
  const sample = texts.map((t) => (prep ? prepareMail(t, prep) : t).slice(0, BPE_TRAIN_CHARS));
  const { tokenizer } = trainBpe(sample, { vocabSize });
  return { kind: 'bpe', bpe: tokenizer.toJSON(), cls: true, ...(prep && { mail: prep }) };
}
