// A byte-level BPE tokenizer (GPT-2/RoBERTa style): text → normalised → pieces (pretokenize.ts) →
// UTF-8 bytes → merges applied lowest rank first → token ids; decode is the reverse. Every byte is
// a token, so no text is out of vocabulary and [UNK] is never produced. Batches come out as
// row-major int32 [B, L] ids with an attention mask, truncated and padded as asked. The whole
// tokenizer is a small versioned JSON object (toJSON / BpeTokenizer.fromJSON, validated field by
// field) that a checkpoint or artifact holds, so that training, predict, serve and the browser
// tokenise identically. Runs in the lean runtime: no training code here (train-bpe.ts learns merges).
//
// Token ids: 0 [PAD], 1 [UNK], 2 [CLS], 3 [SEP], 4 [MASK]; 5…260 the 256 bytes in GPT-2's byte
// order (printable bytes first, so ties between merges break as in HuggingFace tokenizers);
// 261 + r the token made by merge r. Special tokens are never read from the text: "[CLS]" typed
// by a user is five bytes' worth of ordinary tokens.
import { FormatError, ValueError } from '../errors.js';
import { Heap } from './heap.js';
import { normalizeText, PRE_TOKENIZER, pieceEnd, type TextNormalization } from './pretokenize.js';

export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;
export const PAD_ID = 0;
export const UNK_ID = 1;
export const CLS_ID = 2;
export const SEP_ID = 3;
export const MASK_ID = 4;
/** Id of the first byte token. */
export const BYTE_OFFSET = SPECIAL_TOKENS.length;
/** Id of the token made by the first merge. */
export const FIRST_MERGE_ID = BYTE_OFFSET + 256;
/** Ids stay below 2^21 (merge keys pack a rank and a position into one double). */
export const MAX_VOCAB_SIZE = 1 << 21;

/** GPT-2's byte order: bytes that print as themselves (33–126, 161–172, 174–255), then the rest. */
const BYTE_ORDER: Uint8Array = (() => {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const bytes = Array.from({ length: 256 }, (_, b) => b);
  return Uint8Array.from([...bytes.filter(printable), ...bytes.filter((b) => !printable(b))]);
})();
/** byte → its token id (read-only) */
export const BYTE_TO_ID = new Int32Array(256);
BYTE_ORDER.forEach((b, rank) => {
  BYTE_TO_ID[b] = BYTE_OFFSET + rank;
});
/** byte → GPT-2's visible character for it ('Ġ' for a space), for tokenPiece */
const BYTE_CHAR: string[] = Array.from({ length: 256 }, (_, b) => {
  const rank = BYTE_TO_ID[b] - BYTE_OFFSET;
  const printableCount = 188;
  return rank < printableCount ? String.fromCharCode(b) : String.fromCharCode(256 + rank - printableCount);
});

/** The tokenizer as JSON, as checkpoints and artifacts hold it. */
export interface BpeTokenizerJSON {
  format: 'graduate-bpe';
  version: 1;
  normalization: TextNormalization;
  /** Name of the pre-tokenisation rule (pretokenize.ts PIECE_PATTERN) */
  preTokenizer: typeof PRE_TOKENIZER;
  /** Names of ids 0…4 */
  specialTokens: string[];
  /** 261 + merges */
  vocabSize: number;
  /** Merge r joins tokens merges[2r] and merges[2r + 1] into token 261 + r: [M * 2] */
  merges: number[];
}

/** Options of encodeBatch. */
export interface EncodeBatchOptions {
  /** Tokens per row, [CLS] and [SEP] included */
  maxLength?: number;
  /** Cut rows longer than maxLength (keeping [SEP] last); default: on when maxLength is given */
  truncation?: boolean;
  /** 'longest': rows padded to the longest in the batch; 'max_length': to maxLength */
  padding?: 'longest' | 'max_length';
  /** [CLS] first and [SEP] last in every row (default true) */
  specialTokens?: boolean;
}

/** A tokenised batch: B rows of L tokens, padded with [PAD] (0). */
export interface EncodedBatch {
  /** int32 [B, L] row-major */
  ids: Int32Array;
  /** int32 [B, L]: 1 on tokens, 0 on padding */
  attentionMask: Int32Array;
  /** int32 [B]: tokens in each row before padding */
  lengths: Int32Array;
  batch: number;
  length: number;
}

// ignoreBOM keeps a leading U+FEFF, which is text like any other here
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Merge ranks by pair: an open-addressing table over int32 keys (no string or float keys). */
class PairRanks {
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly rank: Int32Array;
  private readonly mask: number;

  /** merges: [M * 2]; a repeated pair throws RangeError(its merge index) */
  constructor(merges: Int32Array) {
    let cap = 16;
    while (cap < merges.length) cap <<= 1; // load ≤ 1/2
    this.left = new Int32Array(cap).fill(-1);
    this.right = new Int32Array(cap);
    this.rank = new Int32Array(cap);
    this.mask = cap - 1;
    for (let r = 0; r < merges.length / 2; r++) {
      const l = merges[2 * r];
      const rt = merges[2 * r + 1];
      let h = hashPair(l, rt) & this.mask;
      while (this.left[h] !== -1) {
        if (this.left[h] === l && this.right[h] === rt) throw new RangeError(String(r));
        h = (h + 1) & this.mask;
      }
      this.left[h] = l;
      this.right[h] = rt;
      this.rank[h] = r;
    }
  }

  /** Rank of the merge of (l, r), or -1. */
  get(l: number, r: number): number {
    let h = hashPair(l, r) & this.mask;
    for (;;) {
      const k = this.left[h];
      if (k === -1) return -1;
      if (k === l && this.right[h] === r) return this.rank[h];
      h = (h + 1) & this.mask;
    }
  }
}

function hashPair(l: number, r: number): number {
  let h = Math.imul(l, 0x9e3779b1) ^ r;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  return h ^ (h >>> 12);
}

/**
 * Encoded pieces by their text, looked up by a range of the normalised text so that a hit makes
 * no substring and touches no string object: open addressing over FNV-1a hashes, keys (UTF-16 code
 * units) and ids in flat typed pools; everything is dropped at once when full.
 */
class PieceCache {
  private readonly mask: number;
  private readonly hashes: Int32Array;
  /** key length in code units; 0 marks an empty slot */
  private readonly keyLength: Int32Array;
  private readonly keyAt: Int32Array;
  /** where a slot's ids start in `ids`, and how many */
  readonly idsAt: Int32Array;
  readonly idsLength: Int32Array;
  private readonly chars: Uint16Array;
  readonly ids: Int32Array;
  private used = 0;
  private charsUsed = 0;
  private idsUsed = 0;

  /** capacity: a power of 2, entries before the cache empties; pieces up to maxChars code units */
  constructor(
    private readonly capacity: number,
    maxChars: number,
  ) {
    this.mask = 2 * capacity - 1; // load ≤ 1/2
    this.hashes = new Int32Array(2 * capacity);
    this.keyLength = new Int32Array(2 * capacity);
    this.keyAt = new Int32Array(2 * capacity);
    this.idsAt = new Int32Array(2 * capacity);
    this.idsLength = new Int32Array(2 * capacity);
    // pieces average a few code units and tokens; a pool that fills empties the cache early
    this.chars = new Uint16Array(capacity * 8 + maxChars);
    this.ids = new Int32Array(capacity * 4 + 3 * maxChars); // a code unit is at most 3 UTF-8 bytes
  }

  /** The slot of s[a, b), or -1; `hash` is rangeHash(s, a, b). */
  find(s: string, a: number, b: number, hash: number): number {
    const n = b - a;
    const { hashes, keyLength, keyAt, chars, mask } = this;
    for (let h = hash & mask; ; h = (h + 1) & mask) {
      const len = keyLength[h];
      if (len === 0) return -1;
      if (hashes[h] !== hash || len !== n) continue;
      const at = keyAt[h];
      let i = 0;
      while (i < n && chars[at + i] === s.charCodeAt(a + i)) i++;
      if (i === n) return h;
    }
  }

  add(s: string, a: number, b: number, hash: number, ids: Int32Array): void {
    const n = b - a;
    if (
      this.used >= this.capacity ||
      this.charsUsed + n > this.chars.length ||
      this.idsUsed + ids.length > this.ids.length
    ) {
      this.keyLength.fill(0);
      this.used = this.charsUsed = this.idsUsed = 0;
    }
    let h = hash & this.mask;
    while (this.keyLength[h] !== 0) h = (h + 1) & this.mask;
    this.hashes[h] = hash;
    this.keyLength[h] = n;
    this.keyAt[h] = this.charsUsed;
    for (let i = 0; i < n; i++) this.chars[this.charsUsed + i] = s.charCodeAt(a + i);
    this.charsUsed += n;
    this.idsAt[h] = this.idsUsed;
    this.idsLength[h] = ids.length;
    this.ids.set(ids, this.idsUsed);
    this.idsUsed += ids.length;
    this.used++;
  }
}

/** FNV-1a over the UTF-16 code units of s[a, b). */
function rangeHash(s: string, a: number, b: number): number {
  let h = 0x811c9dc5;
  for (let i = a; i < b; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

const POS_SCALE = 2 ** 32;
/** Pieces up to this many bytes merge in place (O(n²), no heap); longer ones over a heap. */
const SHORT_PIECE_BYTES = 64;
const NO_MERGE = 0x7fffffff;
const CACHE_ENTRIES = 1 << 16;
const CACHE_PIECE_CHARS = 48;

/** A trained byte-level BPE tokenizer (immutable but for its cache of encoded pieces). */
export class BpeTokenizer {
  /** How text is normalised before pre-tokenisation */
  readonly normalization: Readonly<TextNormalization>;
  /** Merge r joins merges[2r], merges[2r + 1]: int32 [M * 2] */
  readonly merges: Int32Array;
  /** 261 + M */
  readonly vocabSize: number;
  private readonly ranks: PairRanks;
  private readonly bytes: Uint8Array[];
  /** byte tokens of the piece being merged, and the ranks of its adjacent pairs (grown, kept) */
  private symbols = new Int32Array(256);
  private pairRanks = new Int32Array(256);
  /** made on first encode (about 3 MB), so that a tokenizer only validated or saved costs nothing */
  private cache?: PieceCache;

  /** A tokenizer from its merges (ids as above); throws ValueError on a malformed merge list. */
  constructor(merges: ArrayLike<number>, normalization: Readonly<TextNormalization>) {
    if (merges.length % 2 !== 0) throw new ValueError(`merges: expected pairs of ids, got ${merges.length} numbers`);
    const m = merges.length / 2;
    if (FIRST_MERGE_ID + m > MAX_VOCAB_SIZE)
      throw new ValueError(`merges: ${m} merges make more than ${MAX_VOCAB_SIZE} tokens`);
    for (let i = 0; i < merges.length; i++) {
      const id = merges[i];
      const own = FIRST_MERGE_ID + (i >> 1);
      if (!Number.isInteger(id) || id < BYTE_OFFSET || id >= own)
        throw new ValueError(
          `merges[${i}]: expected a token id in [${BYTE_OFFSET}, ${own}) (a byte or an earlier merge), got ${id}`,
        );
    }
    const { unicode, lowercase } = normalization;
    if (unicode !== 'NFKC' && unicode !== 'none')
      throw new ValueError(`normalization.unicode: expected 'NFKC' or 'none', got '${unicode}'`);
    if (typeof lowercase !== 'boolean')
      throw new ValueError(`normalization.lowercase: expected true or false, got ${lowercase}`);
    this.merges = Int32Array.from(merges);
    this.normalization = Object.freeze({ unicode: normalization.unicode, lowercase: normalization.lowercase });
    this.vocabSize = FIRST_MERGE_ID + m;
    try {
      this.ranks = new PairRanks(this.merges);
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      const r = Number(e.message);
      throw new ValueError(
        `merges[${2 * r}, ${2 * r + 1}]: merge ${r} repeats the pair (${this.merges[2 * r]}, ${this.merges[2 * r + 1]})`,
      );
    }
    this.bytes = new Array(this.vocabSize);
    for (let id = 0; id < BYTE_OFFSET; id++) this.bytes[id] = new Uint8Array(0);
    for (let b = 0; b < 256; b++) this.bytes[BYTE_TO_ID[b]] = Uint8Array.of(b);
    for (let r = 0; r < m; r++) {
      const a = this.bytes[this.merges[2 * r]];
      const b = this.bytes[this.merges[2 * r + 1]];
      const joined = new Uint8Array(a.length + b.length);
      joined.set(a);
      joined.set(b, a.length);
      this.bytes[FIRST_MERGE_ID + r] = joined;
    }
  }

  /** The tokenizer a checkpoint or artifact holds; errors name the field (`where` prefixes them). */
  static fromJSON(json: unknown, where = 'tokenizer'): BpeTokenizer {
    const fail = (field: string, expected: string, got: unknown): never => {
      const json = Array.isArray(got) ? JSON.stringify(got) : '';
      const shown =
        typeof got === 'string' ? `'${got}'` : json ? (json.length > 60 ? `${json.slice(0, 60)}…` : json) : String(got);
      throw new FormatError(`${where}${field}: expected ${expected}, got ${shown}`);
    };
    if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('', 'an object', json);
    const j = json as Record<string, unknown>;
    if (j.format !== 'graduate-bpe') fail('.format', "'graduate-bpe'", j.format);
    if (j.version !== 1) fail('.version', '1 (the version this build reads)', j.version);
    const norm = j.normalization as Record<string, unknown> | undefined;
    if (typeof norm !== 'object' || norm === null) fail('.normalization', 'an object', norm);
    if (norm!.unicode !== 'NFKC' && norm!.unicode !== 'none')
      fail('.normalization.unicode', "'NFKC' or 'none'", norm!.unicode);
    if (typeof norm!.lowercase !== 'boolean') fail('.normalization.lowercase', 'true or false', norm!.lowercase);
    if (j.preTokenizer !== PRE_TOKENIZER) fail('.preTokenizer', `'${PRE_TOKENIZER}'`, j.preTokenizer);
    const specials = j.specialTokens;
    if (
      !Array.isArray(specials) ||
      specials.length !== SPECIAL_TOKENS.length ||
      specials.some((s, i) => s !== SPECIAL_TOKENS[i])
    )
      fail('.specialTokens', JSON.stringify(SPECIAL_TOKENS), specials);
    const merges = j.merges;
    if (!Array.isArray(merges)) fail('.merges', 'an array of token ids', merges);
    const list = merges as unknown[];
    if (list.length % 2 !== 0) fail('.merges', 'an even number of ids (pairs)', `${list.length} ids`);
    if (j.vocabSize !== FIRST_MERGE_ID + list.length / 2)
      fail('.vocabSize', `${FIRST_MERGE_ID + list.length / 2} (${FIRST_MERGE_ID} + one per merge)`, j.vocabSize);
    try {
      return new BpeTokenizer(list as number[], norm as unknown as TextNormalization);
    } catch (e) {
      if (e instanceof ValueError) throw new FormatError(`${where}.${e.message}`);
      throw e;
    }
  }

  /** fromJSON of a JSON text; a syntax error is a FormatError naming `where`. */
  static parse(text: string, where = 'tokenizer'): BpeTokenizer {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new FormatError(`${where}: not valid JSON (${(e as Error).message})`);
    }
    return BpeTokenizer.fromJSON(json, where);
  }

  toJSON(): BpeTokenizerJSON {
    return {
      format: 'graduate-bpe',
      version: 1,
      normalization: { ...this.normalization },
      preTokenizer: PRE_TOKENIZER,
      specialTokens: [...SPECIAL_TOKENS],
      vocabSize: this.vocabSize,
      merges: Array.from(this.merges),
    };
  }

  /**
   * Token ids of a text, without special tokens: int32 [T]. With maxTokens, the first maxTokens
   * of them, and the text after those is not encoded (a long e-mail costs what its start costs).
   */
  encode(text: string, maxTokens = Number.POSITIVE_INFINITY): Int32Array {
    if (maxTokens !== Number.POSITIVE_INFINITY && !(Number.isInteger(maxTokens) && maxTokens >= 0))
      throw new ValueError(`encode maxTokens: expected an integer ≥ 0, got ${maxTokens}`);
    return this.encodeUpTo(text, maxTokens);
  }

  /** Token ids of the first `limit` tokens of a text (pieces after those are not encoded). */
  private encodeUpTo(text: string, limit: number): Int32Array {
    const s = normalizeText(text, this.normalization);
    this.cache ??= new PieceCache(CACHE_ENTRIES, CACHE_PIECE_CHARS);
    const cache = this.cache;
    let out = new Int32Array(Math.min(limit, 16 + (s.length >> 1)));
    let length = 0;
    for (let a = 0; a < s.length && length < limit; ) {
      const b = pieceEnd(s, a);
      const cacheable = b - a <= CACHE_PIECE_CHARS;
      const hash = cacheable ? rangeHash(s, a, b) : 0;
      const slot = cacheable ? cache.find(s, a, b, hash) : -1;
      let ids: Int32Array;
      let from = 0;
      let n: number;
      if (slot >= 0) {
        ids = cache.ids;
        from = cache.idsAt[slot];
        n = cache.idsLength[slot];
      } else {
        ids = this.encodePiece(s, a, b);
        n = ids.length;
        if (cacheable) cache.add(s, a, b, hash, ids);
      }
      if (length + n > out.length) {
        const grown = new Int32Array(Math.max(2 * out.length, length + n));
        grown.set(out.subarray(0, length));
        out = grown;
      }
      // a loop beats TypedArray.set for the few ids of a piece
      for (let i = 0; i < n; i++) out[length + i] = ids[from + i];
      length += n;
      a = b;
    }
    return out.slice(0, Math.min(length, limit));
  }

  /**
   * Token ids of the piece s[a, b): its UTF-8 bytes' tokens, then merges, always the pair of
   * lowest rank next and the leftmost among equals (GPT-2's order). Short pieces merge in place
   * over the ranks of adjacent pairs; long ones over a linked list and a heap, O(n log n).
   */
  private encodePiece(s: string, a: number, b: number): Int32Array {
    const n = this.pieceBytes(s, a, b);
    const sym = this.symbols;
    if (n > SHORT_PIECE_BYTES) return this.mergeLong(sym.slice(0, n));
    const rank = this.pairRanks;
    for (let i = 0; i + 1 < n; i++) rank[i] = this.rankOf(sym[i], sym[i + 1]);
    let len = n;
    for (;;) {
      let at = -1;
      let best = NO_MERGE;
      for (let i = 0; i + 1 < len; i++) {
        if (rank[i] < best) {
          best = rank[i];
          at = i;
        }
      }
      if (at < 0) break;
      sym[at] = FIRST_MERGE_ID + best;
      len--;
      for (let i = at + 1; i < len; i++) {
        sym[i] = sym[i + 1];
        rank[i] = rank[i + 1];
      }
      if (at > 0) rank[at - 1] = this.rankOf(sym[at - 1], sym[at]);
      if (at + 1 < len) rank[at] = this.rankOf(sym[at], sym[at + 1]);
    }
    return sym.slice(0, len);
  }

  /** Rank of the merge of (l, r), or NO_MERGE. */
  private rankOf(l: number, r: number): number {
    const k = this.ranks.get(l, r);
    return k < 0 ? NO_MERGE : k;
  }

  /** Writes the byte tokens of s[a, b) (UTF-8; a lone surrogate as U+FFFD) to `symbols`; returns how many. */
  private pieceBytes(s: string, a: number, b: number): number {
    if (this.symbols.length < 3 * (b - a)) {
      this.symbols = new Int32Array(3 * (b - a));
      this.pairRanks = new Int32Array(3 * (b - a));
    }
    const out = this.symbols;
    let n = 0;
    for (let i = a; i < b; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        out[n++] = BYTE_TO_ID[c];
        continue;
      }
      if (c < 0x800) {
        out[n++] = BYTE_TO_ID[0xc0 | (c >> 6)];
        out[n++] = BYTE_TO_ID[0x80 | (c & 63)];
        continue;
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = i + 1 < b ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          out[n++] = BYTE_TO_ID[0xf0 | (c >> 18)];
          out[n++] = BYTE_TO_ID[0x80 | ((c >> 12) & 63)];
          out[n++] = BYTE_TO_ID[0x80 | ((c >> 6) & 63)];
          out[n++] = BYTE_TO_ID[0x80 | (c & 63)];
          continue;
        }
        c = 0xfffd;
      }
      out[n++] = BYTE_TO_ID[0xe0 | (c >> 12)];
      out[n++] = BYTE_TO_ID[0x80 | ((c >> 6) & 63)];
      out[n++] = BYTE_TO_ID[0x80 | (c & 63)];
    }
    return n;
  }

  /** Merges of a long piece of byte tokens `id` (taken over) over a linked list and a heap. */
  private mergeLong(id: Int32Array): Int32Array {
    const n = id.length;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const candidates: number[] = [];
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
      if (i + 1 < n) {
        const r = this.ranks.get(id[i], id[i + 1]);
        if (r >= 0) candidates.push(r * POS_SCALE + i);
      }
    }
    const heap = new Heap<number>((a, b) => a < b, candidates);
    let alive = n;
    for (let key = heap.pop(); key !== undefined; key = heap.pop()) {
      const rank = Math.floor(key / POS_SCALE);
      const pos = key - rank * POS_SCALE;
      const right = next[pos];
      // stale: the symbol was merged away, or the pair there changed since this was pushed
      if (id[pos] === -1 || right === -1 || this.ranks.get(id[pos], id[right]) !== rank) continue;
      id[pos] = FIRST_MERGE_ID + rank;
      id[right] = -1;
      const after = next[right];
      next[pos] = after;
      if (after !== -1) prev[after] = pos;
      alive--;
      const before = prev[pos];
      if (before !== -1) {
        const r = this.ranks.get(id[before], id[pos]);
        if (r >= 0) heap.push(r * POS_SCALE + before);
      }
      if (after !== -1) {
        const r = this.ranks.get(id[pos], id[after]);
        if (r >= 0) heap.push(r * POS_SCALE + pos);
      }
    }
    const out = new Int32Array(alive);
    for (let i = 0, k = 0; i !== -1; i = next[i]) out[k++] = id[i];
    return out;
  }

  /** Text of token ids (special tokens left out unless skipSpecialTokens is false). */
  decode(ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean } = {}): string {
    const skip = options.skipSpecialTokens ?? true;
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize)
        throw new ValueError(`ids[${i}]: expected a token id in [0, ${this.vocabSize}), got ${id}`);
      total += this.bytes[id].length;
    }
    const buf = new Uint8Array(total);
    let text = '';
    let at = 0;
    let flushed = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id < BYTE_OFFSET) {
        if (skip) continue;
        text += utf8Decoder.decode(buf.subarray(flushed, at)) + SPECIAL_TOKENS[id];
        flushed = at;
        continue;
      }
      buf.set(this.bytes[id], at);
      at += this.bytes[id].length;
    }
    return text + utf8Decoder.decode(buf.subarray(flushed, at));
  }

  /** UTF-8 bytes of a token (empty for special tokens). */
  tokenBytes(id: number): Uint8Array {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize)
      throw new ValueError(`token id: expected an integer in [0, ${this.vocabSize}), got ${id}`);
    return this.bytes[id];
  }

  /** A token as GPT-2 / HuggingFace write it ('Ġthe': bytes as visible characters), or its special name. */
  tokenPiece(id: number): string {
    const bytes = this.tokenBytes(id);
    if (id < BYTE_OFFSET) return SPECIAL_TOKENS[id];
    let s = '';
    for (const b of bytes) s += BYTE_CHAR[b];
    return s;
  }

  /**
   * Token ids of a batch of texts, [CLS] … [SEP] per row, truncated to maxLength and padded with
   * [PAD]: ids and attentionMask int32 [B, L].
   */
  encodeBatch(texts: readonly string[], options: EncodeBatchOptions = {}): EncodedBatch {
    const { maxLength, padding = 'longest', specialTokens = true } = options;
    const truncation = options.truncation ?? maxLength !== undefined;
    const extra = specialTokens ? 2 : 0;
    if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < extra + 1))
      throw new ValueError(
        `encodeBatch maxLength: expected an integer ≥ ${extra + 1}${specialTokens ? ' ([CLS], [SEP] and a token)' : ''}, got ${maxLength}`,
      );
    if (padding !== 'longest' && padding !== 'max_length')
      throw new ValueError(`encodeBatch padding: expected 'longest' or 'max_length', got '${padding}'`);
    if (maxLength === undefined && (padding === 'max_length' || truncation))
      throw new ValueError(`encodeBatch: ${truncation ? 'truncation' : "padding 'max_length'"} needs maxLength`);
    const limit = truncation && maxLength !== undefined ? maxLength - extra : Number.POSITIVE_INFINITY;
    const rows = texts.map((text, b) => {
      if (typeof text !== 'string') throw new ValueError(`texts[${b}]: expected a string, got ${typeof text}`);
      const ids = this.encodeUpTo(text, limit);
      if (maxLength !== undefined && ids.length + extra > maxLength)
        throw new ValueError(
          `texts[${b}]: ${ids.length + extra} tokens, more than maxLength ${maxLength} (truncation is off)`,
        );
      return ids;
    });
    const lengths = Int32Array.from(rows, (r) => r.length + extra);
    const length = padding === 'max_length' ? maxLength! : lengths.reduce((m, v) => Math.max(m, v), 0);
    const B = rows.length;
    const ids = new Int32Array(B * length); // [PAD] is 0
    const attentionMask = new Int32Array(B * length);
    rows.forEach((row, b) => {
      let at = b * length;
      if (specialTokens) ids[at++] = CLS_ID;
      ids.set(row, at);
      if (specialTokens) ids[at + row.length] = SEP_ID;
      attentionMask.fill(1, b * length, b * length + lengths[b]);
    });
    return { ids, attentionMask, lengths, batch: B, length };
  }
}
