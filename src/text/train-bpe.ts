// Learning byte-level BPE merges from a corpus: count the corpus's pieces (normalised and
// pre-tokenised as bpe.ts encodes), then repeatedly merge the most frequent adjacent pair of
// tokens. Counts are kept per pair and updated incrementally: a merge rewrites only the words that
// hold the pair (an index from pair to words) and changes only the counts of its neighbours; a heap
// finds the most frequent pair, stale entries re-queued with their current count when popped.
// Ties break towards the smaller (left id, right id), as HuggingFace tokenizers' BpeTrainer does,
// so that the same corpus gives the same merges there and here (test/text/train-bpe.test.ts).
// Not for: encoding (bpe.ts); kept apart so that the runtime bundles no training code.
import { ValueError } from '../errors.js';
import { BpeTokenizer, BYTE_TO_ID, FIRST_MERGE_ID, MAX_VOCAB_SIZE } from './bpe.js';
import { Heap } from './heap.js';
import { DEFAULT_NORMALIZATION, normalizeText, preTokenize, type TextNormalization } from './pretokenize.js';

/** Options of trainBpe. */
export interface BpeTrainOptions {
  /** Tokens in the vocabulary: 261 (5 special + 256 bytes) + merges learned, at most */
  vocabSize: number;
  /** A pair seen fewer times than this is never merged (default 2) */
  minFrequency?: number;
  /** Default: NFKC, case kept */
  normalization?: Partial<TextNormalization>;
}

/** A trained tokenizer and what the training saw. */
export interface BpeTraining {
  tokenizer: BpeTokenizer;
  /** How often each merge's pair occurred when it was chosen: [M] */
  counts: number[];
  /** Pieces in the corpus, and distinct ones */
  pieces: number;
  distinctPieces: number;
  /** Why merging stopped: the vocabulary is full, or no pair is frequent enough */
  stoppedBy: 'vocabSize' | 'minFrequency';
}

/** Key of the pair (l, r) of token ids (both < 2^21, so the key is an exact double). */
const KEY_SCALE = 2 ** 21;

interface Candidate {
  count: number;
  left: number;
  right: number;
}

/** Most frequent first; then the smaller left id, then the smaller right id. */
const before = (a: Candidate, b: Candidate) =>
  a.count > b.count || (a.count === b.count && (a.left < b.left || (a.left === b.left && a.right < b.right)));

/** Merges learned from `texts` until the vocabulary has options.vocabSize tokens. */
export function trainBpe(texts: Iterable<string>, options: BpeTrainOptions): BpeTraining {
  const { vocabSize, minFrequency = 2 } = options;
  if (!Number.isInteger(vocabSize) || vocabSize < FIRST_MERGE_ID || vocabSize > MAX_VOCAB_SIZE)
    throw new ValueError(
      `vocabSize: expected an integer in [${FIRST_MERGE_ID}, ${MAX_VOCAB_SIZE}] (5 special tokens + 256 bytes + merges), got ${vocabSize}`,
    );
  if (!Number.isInteger(minFrequency) || minFrequency < 1)
    throw new ValueError(`minFrequency: expected an integer ≥ 1, got ${minFrequency}`);
  const normalization: TextNormalization = { ...DEFAULT_NORMALIZATION, ...options.normalization };
  if (normalization.unicode !== 'NFKC' && normalization.unicode !== 'none')
    throw new ValueError(`normalization.unicode: expected 'NFKC' or 'none', got '${normalization.unicode}'`);

  // distinct pieces and how often each occurs
  const freq = new Map<string, number>();
  let pieces = 0;
  let t = 0;
  for (const text of texts) {
    if (typeof text !== 'string') throw new ValueError(`texts[${t}]: expected a string, got ${typeof text}`);
    t++;
    const s = normalizeText(text, normalization);
    preTokenize(s, (a, b) => {
      const piece = s.slice(a, b);
      freq.set(piece, (freq.get(piece) ?? 0) + 1);
      pieces++;
      return true;
    });
  }

  // words as byte-token ids in one buffer: word w is sym[start[w] .. start[w] + len[w])
  const encoder = new TextEncoder();
  const words = [...freq.keys()].map((p) => encoder.encode(p));
  const W = words.length;
  const start = new Int32Array(W + 1);
  for (let w = 0; w < W; w++) start[w + 1] = start[w] + words[w].length;
  const sym = new Int32Array(start[W]);
  const len = new Int32Array(W);
  const count = Float64Array.from(freq.values());
  words.forEach((bytes, w) => {
    for (let i = 0; i < bytes.length; i++) sym[start[w] + i] = BYTE_TO_ID[bytes[i]];
    len[w] = bytes.length;
  });

  // pair counts, and the words where each pair occurs (a word may be listed more than once)
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, number[]>();
  const listWord = (key: number, w: number) => {
    const list = pairWords.get(key);
    if (list === undefined) pairWords.set(key, [w]);
    else if (list[list.length - 1] !== w) list.push(w);
  };
  for (let w = 0; w < W; w++) {
    for (let i = start[w]; i < start[w] + len[w] - 1; i++) {
      const key = sym[i] * KEY_SCALE + sym[i + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + count[w]);
      listWord(key, w);
    }
  }
  const heap = new Heap<Candidate>(
    before,
    [...pairCount].map(([key, c]) => ({ count: c, left: Math.floor(key / KEY_SCALE), right: key % KEY_SCALE })),
  );

  const merges: number[] = [];
  const counts: number[] = [];
  const maxMerges = vocabSize - FIRST_MERGE_ID;
  let stoppedBy: BpeTraining['stoppedBy'] = 'vocabSize';
  const created = new Set<number>();
  const add = (l: number, r: number, delta: number, w: number) => {
    const key = l * KEY_SCALE + r;
    const c = (pairCount.get(key) ?? 0) + delta;
    if (c > 0) pairCount.set(key, c);
    else {
      pairCount.delete(key);
      pairWords.delete(key);
    }
    if (delta > 0) {
      created.add(key);
      listWord(key, w);
    }
  };
  while (counts.length < maxMerges) {
    const top = heap.pop();
    if (top === undefined) {
      stoppedBy = 'minFrequency';
      break;
    }
    const key = top.left * KEY_SCALE + top.right;
    const current = pairCount.get(key) ?? 0;
    if (current !== top.count) {
      // counts only fall for pairs already queued: re-queue with the count it has now
      if (current > 0) heap.push({ count: current, left: top.left, right: top.right });
      continue;
    }
    if (current < minFrequency) {
      stoppedBy = 'minFrequency';
      break;
    }
    const a = top.left;
    const b = top.right;
    const c = FIRST_MERGE_ID + counts.length;
    merges.push(a, b);
    counts.push(current);
    created.clear();
    for (const w of pairWords.get(key) ?? []) {
      // rewrite the word left to right, merging every non-overlapping (a, b)
      const s = start[w];
      const n = len[w];
      const cw = count[w];
      let out = s;
      for (let i = s; i < s + n; ) {
        if (i + 1 < s + n && sym[i] === a && sym[i + 1] === b) {
          if (out > s) {
            add(sym[out - 1], a, -cw, w);
            add(sym[out - 1], c, cw, w);
          }
          if (i + 2 < s + n) {
            add(b, sym[i + 2], -cw, w);
            add(c, sym[i + 2], cw, w);
          }
          sym[out++] = c;
          i += 2;
        } else sym[out++] = sym[i++];
      }
      len[w] = out - s;
    }
    pairCount.delete(key);
    pairWords.delete(key);
    // pairs that gained count all hold the new token, so none of them is queued yet
    for (const k of created) {
      const n = pairCount.get(k);
      if (n !== undefined) heap.push({ count: n, left: Math.floor(k / KEY_SCALE), right: k % KEY_SCALE });
    }
  }
  return {
    tokenizer: new BpeTokenizer(merges, normalization),
    counts,
    pieces,
    distinctPieces: W,
    stoppedBy,
  };
}
