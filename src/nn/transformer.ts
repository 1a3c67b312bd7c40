// Transformer layers over token sequences, batch first: ids [N, L] (int32, 0 = [PAD]) and vectors
// x [N, L, d] (N = batch, L = tokens, d = model width, h = heads, dh = d / h). Multi-head
// self-attention with one fused QKV projection, layer norm, the encoder layer (attention and a GELU
// feed-forward, pre- or post-norm, residuals, dropout), positional tables (learned or sinusoidal) and
// the text block: embedding + positions + sequence layers + pooling, which derives the padding mask
// from the ids inside the model, so a text model has one input (the ids) and a captured graph
// computes its own mask. Everything is composed of registry ops through autograd (functional.ts):
// the vjps are the ops' vjps and capture records plain graphs. docs/transformer.md explains choices.
import { apply } from '../autograd/apply.js';
import { ValueError } from '../errors.js';
import { randn } from '../tensor/random.js';
import { keep } from '../tensor/scope.js';
import { ones, type Tensor, tensor, zeros } from '../tensor/tensor.js';
import * as F from './functional.js';
import { Embedding, Linear, maskedDropout, type Sequential } from './layers.js';
import { Module } from './module.js';
import { temporalPool } from './sequence.js';
import type { LayerSpec } from './spec.js';

/**
 * Added to the attention scores of padded keys: exp underflows to exactly 0 in float32 (for scores
 * within ~9,900 of each other), and it stays inside float16's range (±65,504), which −1e9 would not
 * when a graph is stored or exported in half precision.
 */
export const MASK_BIAS = -1e4;

/** Padding mask of token ids [N, L] (int32): 1 where the id is a real token (> 0), 0 for [PAD] (0) and −1. */
export function paddingMask(ids: Tensor): Tensor {
  if (ids.dtype !== 'int32') throw new ValueError(`paddingMask: ids must be int32, got ${ids.dtype}`);
  const zero = tensor(Int32Array.of(0), [1], 'int32', ids.backend);
  return apply('cast', [apply('binop', [ids, zero], { fn: 'gt' })], { to: 'float32' });
}

/**
 * Scaled dot-product attention of every head, from the fused projection qkv [N, L, 3d] (q, k, v
 * side by side, heads contiguous within each) → [N, L, d]: softmax over the key axis of
 * q·kᵀ / √dh, plus MASK_BIAS at keys where mask [N, L] is 0; `dropout` on the attention weights
 * while training.
 */
export function attend(
  qkv: Tensor,
  heads: number,
  opts: { mask?: Tensor; dropout?: number; training?: boolean } = {},
): Tensor {
  const [N, L, D3] = qkv.shape;
  const d = D3 / 3;
  const dh = d / heads;
  if (qkv.rank !== 3 || !Number.isInteger(dh))
    throw new ValueError(`attention: qkv [${qkv.shape}] must be [N, L, 3d] with d divisible by ${heads} heads`);
  const { mask } = opts;
  if (mask && (mask.rank !== 2 || mask.shape[0] !== N || mask.shape[1] !== L))
    throw new ValueError(`attention: mask [${mask.shape}] must be [N, L] = [${N}, ${L}]`);
  // q, k, v as [N, L, h, dh]; k goes straight to [N, h, dh, L] for q·kᵀ
  const part = (i: number) => F.reshape(F.slice(qkv, [0, 0, i * d], [-1, L, d]), [-1, L, heads, dh]);
  const q = F.scale(F.transpose(part(0), [0, 2, 1, 3]), 1 / Math.sqrt(dh)); // [N, h, L, dh]
  const kT = F.transpose(part(1), [0, 2, 3, 1]); // [N, h, dh, L]
  const v = F.transpose(part(2), [0, 2, 1, 3]); // [N, h, L, dh]
  let scores = F.matmul(q, kT); // [N, h, L(query), L(key)]
  if (mask) scores = F.add(scores, F.reshape(F.scale(mask, -MASK_BIAS, MASK_BIAS), [-1, 1, 1, L]));
  let p = F.softmax(scores, 3);
  const rate = opts.dropout ?? 0;
  if (rate > 0) p = maskedDropout(p, rate, opts.training ?? false);
  const ctx = F.matmul(p, v); // [N, h, L, dh]
  return F.reshape(F.transpose(ctx, [0, 2, 1, 3]), [-1, L, d]);
}

/**
 * A layer over token vectors [N, L, C] that reads the padding mask [N, L] of the text block it
 * runs in (TextEncoder sets it for the duration of the call); outside a text block every position
 * counts as a real token.
 */
export abstract class MaskedLayer extends Module {
  protected mask?: Tensor;
  /** Runs fn (typically this layer's forward) with `mask` [N, L] in force. */
  withMask<T>(mask: Tensor | undefined, fn: () => T): T {
    const outer = this.mask;
    this.mask = mask;
    try {
      return fn();
    } finally {
      this.mask = outer;
    }
  }
}

/** Layer normalization over the last axis, x [..., C] with weight (gamma) and bias (beta) [C]. */
export class LayerNorm extends Module {
  readonly weight: Tensor; // [C]
  readonly bias: Tensor; // [C]
  constructor(
    readonly channels: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.weight = this.param('weight', ones([channels]));
    this.bias = this.param('bias', zeros([channels]));
  }
  forward(x: Tensor): Tensor {
    return F.layerNorm(x, this.weight, this.bias, this.eps);
  }
  spec(): LayerSpec {
    return { type: 'layernorm', channels: this.channels, eps: this.eps };
  }
}

/**
 * Multi-head self-attention over x [N, L, d]: qkv = x·W_qkv + b (W_qkv [d, 3d], one GEMM for all
 * three projections and every head), attend() per head, then the output projection [d, d].
 */
export class MultiHeadSelfAttention extends MaskedLayer {
  readonly qkv: Linear; // [d, 3d]
  readonly out: Linear; // [d, d]
  constructor(
    readonly dim: number,
    readonly heads: number,
    /** Dropout on the attention weights while training. */
    readonly dropout = 0,
  ) {
    super();
    if (!Number.isInteger(dim / heads))
      throw new ValueError(`attention: width ${dim} is not divisible by ${heads} heads`);
    this.qkv = this.child('qkv', new Linear(dim, 3 * dim, { init: 'glorot' }));
    this.out = this.child('out', new Linear(dim, dim, { init: 'glorot' }));
  }
  forward(x: Tensor): Tensor {
    if (x.rank !== 3 || x.shape[2] !== this.dim)
      throw new ValueError(`attention: input [${x.shape}] must be [N, L, ${this.dim}]`);
    const ctx = attend(this.qkv.forward(x), this.heads, {
      mask: this.mask,
      dropout: this.dropout,
      training: this.training,
    });
    return this.out.forward(ctx);
  }
  spec(): LayerSpec {
    return { type: 'attention', dim: this.dim, heads: this.heads, dropout: this.dropout };
  }
}

export interface EncoderLayerOptions {
  /** Dropout after attention, inside the feed-forward and after it (training only). */
  dropout?: number;
  /** Dropout on the attention weights (default: `dropout`). */
  attentionDropout?: number;
  /** 'pre' (default: x + f(norm(x)), steadier on small data) or 'post' (norm(x + f(x)), the original). */
  norm?: 'pre' | 'post';
  eps?: number;
}

/**
 * A transformer encoder layer over x [N, L, d]: self-attention and a feed-forward network
 * (linear d → ffn, GELU, linear ffn → d), each with a residual connection and layer norm (pre- or
 * post-norm), dropout after each sub-layer and after the GELU.
 */
export class TransformerEncoderLayer extends MaskedLayer {
  readonly norm1: LayerNorm;
  readonly attn: MultiHeadSelfAttention;
  readonly norm2: LayerNorm;
  readonly ffn1: Linear; // [d, ffn]
  readonly ffn2: Linear; // [ffn, d]
  readonly dropout: number;
  readonly norm: 'pre' | 'post';
  constructor(
    readonly dim: number,
    readonly heads: number,
    readonly ffn: number,
    readonly opts: EncoderLayerOptions = {},
  ) {
    super();
    this.dropout = opts.dropout ?? 0;
    this.norm = opts.norm ?? 'pre';
    this.norm1 = this.child('norm1', new LayerNorm(dim, opts.eps));
    this.attn = this.child('attn', new MultiHeadSelfAttention(dim, heads, opts.attentionDropout ?? this.dropout));
    this.norm2 = this.child('norm2', new LayerNorm(dim, opts.eps));
    this.ffn1 = this.child('ffn1', new Linear(dim, ffn, { init: 'glorot' }));
    this.ffn2 = this.child('ffn2', new Linear(ffn, dim, { init: 'glorot' }));
  }
  private drop(x: Tensor): Tensor {
    return this.dropout > 0 ? maskedDropout(x, this.dropout, this.training) : x;
  }
  forward(x: Tensor): Tensor {
    const attn = (h: Tensor) => this.drop(this.attn.withMask(this.mask, () => this.attn.forward(h)));
    const ffn = (h: Tensor) => this.drop(this.ffn2.forward(this.drop(F.gelu(this.ffn1.forward(h)))));
    if (this.norm === 'pre') {
      const h = F.add(x, attn(this.norm1.forward(x)));
      return F.add(h, ffn(this.norm2.forward(h)));
    }
    const h = this.norm1.forward(F.add(x, attn(x)));
    return this.norm2.forward(F.add(h, ffn(h)));
  }
  spec(): LayerSpec {
    return {
      type: 'encoder',
      dim: this.dim,
      heads: this.heads,
      ffn: this.ffn,
      dropout: this.dropout,
      attentionDropout: this.attn.dropout,
      norm: this.norm,
      eps: this.norm1.eps,
    };
  }
}

/** The fixed sinusoidal table [L, d]: PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i + 1] = cos(same). */
export function sinusoidalPositions(L: number, d: number): Float32Array {
  const pe = new Float32Array(L * d);
  for (let p = 0; p < L; p++)
    for (let i = 0; i < d; i += 2) {
      const angle = p / 10000 ** (i / d);
      pe[p * d + i] = Math.sin(angle);
      if (i + 1 < d) pe[p * d + i + 1] = Math.cos(angle);
    }
  return pe;
}

export type TextPositions = 'learned' | 'sinusoidal' | 'none';
export type TextPool = 'cls' | 'mean' | 'max' | 'none';

export interface TextEncoderOptions {
  /** Added to the token vectors: a learned table (param 'positions'), the sinusoidal one, or none. */
  positions?: TextPositions;
  /**
   * 'mean'/'max' over the real tokens (the mask), 'cls': the vector at position 0 (the tokenizer
   * puts the [CLS] id there), 'none': the whole sequence [N, L, C].
   */
  pool?: TextPool;
}

/**
 * A text model's front: token ids [N, L] (int32; 0 = [PAD], −1 read as padding too) → embedding
 * [N, L, dim] + positions → `layers` (each [N, L, C] → [N, L, C']; masked layers — attention, encoder
 * — see the padding mask derived from the ids) → pooled [N, C] (or [N, L, C] with pool 'none').
 * Inputs shorter than maxLen take the first rows of the position table.
 */
export class TextEncoder extends Module {
  readonly embed: Embedding; // [vocab, dim]
  readonly learned?: Tensor; // [maxLen, dim]
  private fixed?: Tensor; // [maxLen, dim], sinusoidal (recomputed from the spec, not saved)
  readonly positions: TextPositions;
  readonly pool: TextPool;
  constructor(
    readonly vocab: number,
    readonly dim: number,
    readonly maxLen: number,
    readonly layers: Sequential,
    opts: TextEncoderOptions = {},
  ) {
    super();
    this.positions = opts.positions ?? 'learned';
    this.pool = opts.pool ?? 'mean';
    this.embed = this.child('embed', new Embedding(vocab, dim));
    if (this.positions === 'learned') this.learned = this.param('positions', randn([maxLen, dim], { std: 0.02 }));
    if (this.positions === 'sinusoidal') this.fixed = keep(tensor(sinusoidalPositions(maxLen, dim), [maxLen, dim]));
    this.child('layers', layers);
  }
  forward(ids: Tensor): Tensor {
    if (ids.rank !== 2 || ids.dtype !== 'int32' || ids.shape[1] > this.maxLen)
      throw new ValueError(
        `text: input ${ids.dtype}[${ids.shape}] must be int32 token ids [N, L] with L ≤ ${this.maxLen}`,
      );
    const L = ids.shape[1];
    const mask = paddingMask(ids); // [N, L]
    let h = this.embed.forward(ids); // [N, L, dim]
    const table = this.learned ?? this.fixed;
    if (table) h = F.add(h, L === this.maxLen ? table : F.slice(table, [0, 0], [L, this.dim]));
    for (const layer of this.layers.layers)
      h = layer instanceof MaskedLayer ? layer.withMask(mask, () => layer.forward(h)) : layer.forward(h);
    const C = h.shape[2];
    switch (this.pool) {
      case 'cls':
        return F.reshape(F.slice(h, [0, 0, 0], [-1, 1, C]), [-1, C]);
      case 'mean':
      case 'max':
        return temporalPool(h, this.pool, mask);
      case 'none':
        return h;
    }
  }
  spec(): LayerSpec {
    return {
      type: 'text',
      vocab: this.vocab,
      dim: this.dim,
      maxLen: this.maxLen,
      positions: this.positions,
      pool: this.pool,
      layers: this.layers.layers.map((l) => l.spec()),
    };
  }
  override dispose(): void {
    super.dispose();
    this.fixed?.dispose();
  }
}
