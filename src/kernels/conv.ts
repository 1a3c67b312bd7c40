// 2-D convolution on the engine as im2col + GEMM, for NHWC images and [KH, KW, C, OC] weights:
// the im2col matrix A[M = N*OH*OW, K = KH*KW*C] times the weights, which are already the GEMM's
// B[K, OC] (pack once for inference). The GEMM's fused epilogue gives bias/residual/activation.
// im2col runs in row chunks of at most COL_CHUNK_BYTES so big batches need bounded scratch.
// Geometry (padding and output sizes) lives in src/shape/window.ts.
// Not for: tensors or autograd (src/ops/ calls these with raw pointers); the bias gradient (a
// reduce over dy's rows).
import { ShapeError } from '../errors.js';
import type { Conv2dGeometry } from '../shape/window.js';
import type { Engine } from './engine.js';
import { type Epilogue, freePacked, gemm, gemmPacked, gemmPackedTA, gemmTA, type PackedB, packB } from './gemm.js';

/** Largest im2col chunk (bytes): measured best (1 MiB beat 4 and 16 MiB by 10-25% on 256x13x13x32 -> 64),
 * as the chunk the GEMM reads back is still in cache; also bounds scratch for any batch size. */
const COL_CHUNK_BYTES = 1 << 20;
/** im2col chunk of the weight gradient: there the GEMM reads the chunk transposed, and its packed
 * dy chunk too should stay in cache (256 KiB: -10% on 3x3x32 -> 64, -20% on 3x3x1 -> 32 vs 1 MiB). */
const WEIGHT_CHUNK_BYTES = 1 << 18;
/** Smallest chunk in rows, so each chunk still splits well across threads. */
const MIN_CHUNK_ROWS = 256;
/** Elements a thread should move in im2col/col2im before another thread is worth waking. */
const MIN_ELEMS_PER_THREAD = 1 << 15;

/** 1x1, stride 1, no padding: x [N, H, W, C] already is the im2col matrix [N*H*W, C]. */
function isPointwise(g: Conv2dGeometry): boolean {
  return (
    g.KH === 1 &&
    g.KW === 1 &&
    g.strideH === 1 &&
    g.strideW === 1 &&
    g.padTop + g.padLeft + g.padBottom + g.padRight === 0
  );
}

/** Rows of im2col per chunk: ≤ `bytes`, a multiple of the GEMM's 4-row tile. */
function chunkRows(g: Conv2dGeometry, bytes = COL_CHUNK_BYTES): number {
  const K = g.KH * g.KW * g.C;
  const rows = Math.max(MIN_CHUNK_ROWS, Math.floor(bytes / (4 * K)) & ~3);
  return Math.min(rows, g.N * g.OH * g.OW);
}

/** col[rows, K] = im2col rows [m0, m0 + rows). */
function im2col(e: Engine, x: number, g: Conv2dGeometry, m0: number, rows: number, col: number): void {
  const K = g.KH * g.KW * g.C;
  e.split(
    'im2col',
    [x, g.H, g.W, g.C, g.KH, g.KW, g.strideH, g.strideW, g.padTop, g.padLeft, g.OH, g.OW, m0, col],
    rows,
    1,
    Math.ceil(MIN_ELEMS_PER_THREAD / K),
  );
}

/** dx += col2im(col rows [m0, m0 + rows)); only the input rows those outputs read are visited. */
function col2im(e: Engine, col: number, g: Conv2dGeometry, m0: number, rows: number, dx: number): void {
  const ohw = g.OH * g.OW;
  const m1 = m0 + rows;
  const n0 = Math.floor(m0 / ohw);
  const n1 = Math.floor((m1 - 1) / ohw);
  const oh0 = Math.floor((m0 - n0 * ohw) / g.OW);
  const oh1 = Math.floor((m1 - 1 - n1 * ohw) / g.OW);
  const ih0 = Math.min(g.H, Math.max(0, oh0 * g.strideH - g.padTop));
  const ih1 = Math.min(g.H, Math.max(0, oh1 * g.strideH - g.padTop + g.KH));
  const p0 = (n0 * g.H + ih0) * g.W;
  const p1 = Math.max(p0, (n1 * g.H + ih1) * g.W);
  e.split(
    'col2im',
    [col, g.H, g.W, g.C, g.KH, g.KW, g.strideH, g.strideW, g.padTop, g.padLeft, g.OH, g.OW, m0, m1, p0, dx],
    p1 - p0,
    1,
    Math.ceil(MIN_ELEMS_PER_THREAD / (g.KH * g.KW * g.C)),
  );
}

/** y [N, OH, OW, OC] = epilogue(conv2d(x [N, H, W, C], w [KH, KW, C, OC])). */
export function conv2d(e: Engine, x: number, w: number, g: Conv2dGeometry, out: number, ep: Epilogue = {}): void {
  const packed = packB(e, w, g.KH * g.KW * g.C, g.OC);
  try {
    conv2dPacked(e, x, packed, g, out, ep);
  } finally {
    freePacked(e, packed);
  }
}

/** conv2d with the weights pre-packed by packB(w, KH*KW*C, OC) (inference: pack once). */
export function conv2dPacked(
  e: Engine,
  x: number,
  w: PackedB,
  g: Conv2dGeometry,
  out: number,
  ep: Epilogue = {},
): void {
  const K = g.KH * g.KW * g.C;
  if (w.K !== K || w.N !== g.OC) {
    throw new ShapeError(
      `conv2d: packed weights are [${w.K}, ${w.N}] but the geometry needs [KH*KW*C, OC] = [${K}, ${g.OC}]`,
    );
  }
  const M = g.N * g.OH * g.OW;
  if (isPointwise(g)) {
    gemmPacked(e, x, M, w, out, ep);
    return;
  }
  const chunk = chunkRows(g);
  const ldr = ep.ldr ?? g.OC;
  const col = e.alloc(chunk * K * 4);
  try {
    for (let m0 = 0; m0 < M; m0 += chunk) {
      const rows = Math.min(chunk, M - m0);
      im2col(e, x, g, m0, rows, col);
      const residual = ep.residual ? ep.residual + m0 * ldr * 4 : undefined;
      gemmPacked(e, col, rows, w, out + m0 * g.OC * 4, { ...ep, residual, ldr });
    }
  } finally {
    e.free(col);
  }
}

/**
 * Stride 1: dx is itself a stride-1 convolution of dy with the flipped kernel (conv_flip_weights)
 * and padding KH-1-pad (a 'full' convolution for 'valid'). Returns its geometry, or null when it
 * does not apply (strides > 1, padding wider than the kernel).
 */
function transposedGeometry(g: Conv2dGeometry): Conv2dGeometry | null {
  const pads = [g.KH - 1 - g.padTop, g.KW - 1 - g.padLeft, g.KH - 1 - g.padBottom, g.KW - 1 - g.padRight];
  if (g.strideH !== 1 || g.strideW !== 1 || pads.some((p) => p < 0)) return null;
  const [padTop, padLeft, padBottom, padRight] = pads;
  return {
    ...{ N: g.N, H: g.OH, W: g.OW, C: g.OC, KH: g.KH, KW: g.KW, strideH: 1, strideW: 1 },
    ...{ padTop, padLeft, padBottom, padRight, OH: g.H, OW: g.W, OC: g.C },
  };
}

/**
 * dx [N, H, W, C] = conv2d's gradient w.r.t. x given dy [N, OH, OW, OC] (overwrites dx).
 * Stride 1: the convolution of dy with the flipped kernel (im2col + GEMM with K = KH*KW*OC, as
 * fast as the forward pass). Otherwise dcol = dy · wᵀ then col2im, which writes and re-reads
 * a K-wide column matrix (measured 10-12% slower on a 3x3 32 -> 64 stride-1 layer).
 */
export function conv2dBackwardData(e: Engine, dy: number, w: number, g: Conv2dGeometry, dx: number): void {
  const K = g.KH * g.KW * g.C;
  const M = g.N * g.OH * g.OW;
  const gt = isPointwise(g) ? null : transposedGeometry(g);
  if (gt) {
    const wf = e.alloc(K * g.OC * 4);
    try {
      e.k.conv_flip_weights(w, g.KH, g.KW, g.C, g.OC, wf);
      conv2d(e, dy, wf, gt, dx);
    } finally {
      e.free(wf);
    }
    return;
  }
  // dcol[M, K] = dy[M, OC] · wᵀ: the GEMM's B is wᵀ [OC, K], i.e. given transposed as w itself.
  const wt = packB(e, w, g.OC, K, true);
  let dcol = 0;
  try {
    if (isPointwise(g)) {
      gemmPacked(e, dy, M, wt, dx);
      return;
    }
    e.f32.fill(0, dx / 4, dx / 4 + g.N * g.H * g.W * g.C);
    const chunk = chunkRows(g);
    dcol = e.alloc(chunk * K * 4);
    for (let m0 = 0; m0 < M; m0 += chunk) {
      const rows = Math.min(chunk, M - m0);
      gemmPacked(e, dy + m0 * g.OC * 4, rows, wt, dcol);
      col2im(e, dcol, g, m0, rows, dx);
    }
  } finally {
    if (dcol) e.free(dcol);
    freePacked(e, wt);
  }
}

/**
 * dw [KH, KW, C, OC] (+)= conv2d's gradient w.r.t. w: im2col(x)ᵀ · dy, chunk by chunk. The GEMM
 * reads the col chunk transposed in place (gemm_ta); dy is its B, packed per chunk or read in place.
 */
export function conv2dBackwardWeight(
  e: Engine,
  x: number,
  dy: number,
  g: Conv2dGeometry,
  dw: number,
  accumulate = false,
): void {
  const K = g.KH * g.KW * g.C;
  const M = g.N * g.OH * g.OW;
  if (isPointwise(g)) {
    gemm(e, x, dy, dw, K, M, g.OC, { transA: true, accumulate });
    return;
  }
  const chunk = chunkRows(g, WEIGHT_CHUNK_BYTES);
  const col = e.alloc(chunk * K * 4);
  // Narrow col (K < 64: few FMAs per dy element) reads dy in place, when its rows are whole
  // 8-column panels (3x3x1 -> 32: -15%); otherwise packing pays (3x3x32 -> 64: packed 3-6% faster).
  const inPlace = K < 64 && g.OC % 8 === 0;
  const dyp = inPlace ? 0 : e.alloc(e.k.packed_b_bytes(chunk, g.OC));
  try {
    for (let m0 = 0; m0 < M; m0 += chunk) {
      const rows = Math.min(chunk, M - m0);
      im2col(e, x, g, m0, rows, col);
      const ep = { accumulate: accumulate || m0 > 0 };
      const dyChunk = dy + m0 * g.OC * 4;
      if (dyp) {
        e.k.pack_b(dyChunk, rows, g.OC, g.OC, dyp);
        gemmPackedTA(e, col, K, { ptr: dyp, K: rows, N: g.OC }, dw, ep);
      } else gemmTA(e, col, dyChunk, dw, K, rows, g.OC, ep);
    }
  } finally {
    if (dyp) e.free(dyp);
    e.free(col);
  }
}
