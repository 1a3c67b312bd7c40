// Pad-to-longest batching for text models. Texts arrive as token ids [batch, L] padded with -1 to
// the model's maxTokens L; a batch of short texts (an SMS, a subject line) would pay for L tokens
// each. A text model runs instead on the shortest of a few lengths (16, 32, …, L) that holds the
// longest text of the batch: its graph specialized to that length (graph/sequence.ts), a session
// built on first use. Padding is masked, so the answers are those of the full-length graph; that
// is the model's property, so each length is first checked against the full-length session on a
// probe batch, and a model that fails it (padding read unmasked) always runs at L.
// Not for: tokenising (text-input.ts) or batching requests together (serve/batcher.ts).
import type { Graph } from '../graph/ir.js';
import { tokenIdLimit } from '../graph/ir.js';
import { withSequenceLength } from '../graph/sequence.js';
import { Session, type SessionOptions } from './session.js';

/** Shortest length a model is specialized to: below it the saving no longer pays for a session. */
const MIN_BUCKET = 16;

/** Largest relative difference between the full-length and a specialized session's outputs on the probe. */
const PROBE_TOLERANCE = 1e-4;

/** The lengths a model of maxTokens L runs at: powers of two from MIN_BUCKET below L, then L. */
export function bucketLengths(L: number): number[] {
  const out: number[] = [];
  for (let b = MIN_BUCKET; b < L; b *= 2) out.push(b);
  return [...out, L];
}

/** Length of the longest row of ids [batch, L]: one past its last id that is not -1 padding. */
export function longestRow(ids: Int32Array, batch: number, L: number): number {
  let longest = 0;
  for (let b = 0; b < batch; b++) {
    let end = L;
    while (end > longest && ids[b * L + end - 1] === -1) end--;
    if (end > longest) longest = end;
    if (longest === L) break;
  }
  return longest;
}

/** ids [batch, L] → their first `len` columns [batch, len]. */
function firstColumns(ids: Int32Array, batch: number, L: number, len: number): Int32Array {
  const out = new Int32Array(batch * len);
  for (let b = 0; b < batch; b++) out.set(ids.subarray(b * L, b * L + len), b * len);
  return out;
}

export class SequenceBuckets {
  /** The full length L (the graph's maxTokens). */
  readonly length: number;
  private readonly lengths: number[];
  private readonly sessions = new Map<number, Session>();
  private reason: string | undefined;

  /** `full`: the session over `graph` itself (length L); `opts` build the shorter ones. */
  constructor(
    private readonly graph: Graph,
    private readonly full: Session,
    private readonly opts: SessionOptions,
  ) {
    this.length = graph.values[graph.inputs[0]].shape[1];
    this.lengths = bucketLengths(this.length);
    if (tokenIdLimit(graph) === undefined) this.reason = 'the model reads its ids through no embedding table';
  }

  /** Why the model always runs at its full length (undefined: it runs at the batch's). */
  get refusal(): string | undefined {
    return this.reason;
  }

  /** The length a batch whose longest text has `longest` tokens runs at. */
  lengthFor(longest: number): number {
    if (this.reason !== undefined) return this.length;
    return this.lengths.find((b) => b >= Math.max(longest, 1)) as number;
  }

  /** Outputs of `batch` texts' ids [batch, L] (-1 padded), run at the shortest length holding them all. */
  run(ids: Int32Array, batch: number): Float32Array {
    const L = this.length;
    if (ids.length !== batch * L || this.reason !== undefined) return this.full.run(ids, batch);
    const len = this.lengthFor(longestRow(ids, batch, L));
    const session = len < L ? this.session(len) : undefined;
    if (!session) return this.full.run(ids, batch);
    return session.run(firstColumns(ids, batch, L, len), batch);
  }

  /** The session at length `len`, built and checked on first use; undefined once the model is refused. */
  private session(len: number): Session | undefined {
    const known = this.sessions.get(len);
    if (known) return known;
    const g = withSequenceLength(this.graph, len);
    if (typeof g === 'string') {
      this.reason = g;
      return undefined;
    }
    const s = new Session(g, this.opts);
    const diff = this.probe(s, len);
    if (diff !== undefined) {
      s.dispose();
      this.reason = `at length ${len} its outputs differ from length ${this.length}'s by ${diff.toExponential(2)} (padding is not masked everywhere)`;
      return undefined;
    }
    this.sessions.set(len, s);
    return s;
  }

  /**
   * Runs texts of `len`, len/2 and 1 tokens (fixed pseudo-random real ids) at both lengths;
   * returns the largest relative difference when it is over the tolerance.
   */
  private probe(s: Session, len: number): number | undefined {
    const L = this.length;
    const rows = Math.min(3, s.maxBatch, this.full.maxBatch);
    const limit = tokenIdLimit(this.graph) as number;
    const ids = new Int32Array(rows * L).fill(-1);
    let seed = 0x9e3779b9;
    [len, Math.ceil(len / 2), 1].slice(0, rows).forEach((n, r) => {
      for (let t = 0; t < n; t++) {
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        ids[r * L + t] = 1 + (seed % Math.max(limit - 1, 1));
      }
    });
    const want = this.full.run(ids, rows);
    const got = s.run(firstColumns(ids, rows, L, len), rows);
    let worst = 0;
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(want[i] - got[i]) / Math.max(1, Math.abs(want[i]));
      if (!(d <= worst)) worst = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
    }
    return worst > PROBE_TOLERANCE ? worst : undefined;
  }

  /** Frees the shorter lengths' sessions (not the full one, which its owner frees). */
  dispose(): void {
    for (const s of this.sessions.values()) s.dispose();
    this.sessions.clear();
  }
}
