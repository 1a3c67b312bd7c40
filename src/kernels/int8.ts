// int8 inference on the engine: weight packing, the int8 GEMM and convolution (int8 im2col +
// GEMM) with fused requantization, two exact special convolutions — 3x3 by Winograd F(2x2, 3x3)
// (as/winograd_i8.ts) and single-channel without im2col (as/conv_c1_i8.ts) — quantize /
// dequantize and int8 pooling, around the wasm kernels of as/int8.ts. Quantization: real = scale · (q − zeroPoint); activations per-tensor
// asymmetric, weights symmetric per output channel (zero point 0, values in [-127, 127]).
// Rounding everywhere is round half to even (ONNX QuantizeLinear); the exact f32 arithmetic of
// the epilogue is spelled out in as/int8_epilogue.ts.
// Not for: choosing scales (the compiler calibrates), training, tensors (raw pointers here).
import { ShapeError, ValueError } from '../errors.js';
import type { Conv2dGeometry, Pool2dGeometry } from '../shape/window.js';
import type { Engine } from './engine.js';

/** int8 weights B[K, N] packed for gemmInt8 (i16 k-pairs in 8-column panels), with per-column data. */
export interface PackedB8 {
  readonly ptr: number;
  readonly K: number;
  readonly N: number;
  /** i32[ceil(N/8)*8]: Σk B[k, n], for the activation zero-point correction (0 past N). */
  readonly colSum: number;
  /** f32[ceil(N/8)*8]: per-channel weight scales (0 past N). */
  readonly scale: number;
}

/** What gemmInt8 / conv2dInt8 do to each output: bias, ReLU, then int8 requantization or float32. */
export interface Int8Epilogue {
  /** f32[N], added in real units. */
  bias?: number;
  relu?: boolean;
  out: { kind: 'int8'; scale: number; zeroPoint: number } | { kind: 'float32' };
}

/** Flags of gemm_i8 (mirror of as/int8_epilogue.ts). */
const I8_OUT = 1;
const I8_RELU = 2;
/** Work below which a GEMM stays on one thread (multiply-adds · 2 per thread). */
const MIN_OPS_PER_THREAD = 1 << 19;
/** Largest packed-A buffer gemmInt8 allocates (bytes); bigger M runs in row chunks. */
const A16_CHUNK_BYTES = 4 << 20;
/** Largest int8 im2col chunk (bytes), as conv.ts: the GEMM packs it while it is still in cache. */
const COL_CHUNK_BYTES = 1 << 20;
const MIN_CHUNK_ROWS = 256;
/** Elements a thread should touch in the data-movement kernels before another is worth waking. */
const MIN_ELEMS_PER_THREAD = 1 << 15;

/** Bytes of the packed A tiles (4 rows of i16 k-pairs each, as/int8.ts pack_a4) for `rows` rows. */
function packedABytes(rows: number, K: number): number {
  return Math.ceil(rows / 4) * ((K + 1) >> 1) * 16;
}

function checkZeroPoint(op: string, zp: number): void {
  if (!Number.isInteger(zp) || zp < -128 || zp > 127) {
    throw new ValueError(`${op}: zero point must be an integer in [-128, 127], got ${zp}`);
  }
}

function checkScale(op: string, what: string, s: number): void {
  if (!(s > 0) || !Number.isFinite(s))
    throw new ValueError(`${op}: ${what} must be a positive finite number, got ${s}`);
}

/** Packs int8 weights B[K, N] (row-major) with per-output-channel scales[N] into a new heap block. */
export function packB8(e: Engine, b: number, K: number, N: number, scales: ArrayLike<number>): PackedB8 {
  if (!Number.isInteger(K) || !Number.isInteger(N) || K < 1 || N < 1) {
    throw new ShapeError(`packB8: K and N must be positive integers, got K=${K} N=${N}`);
  }
  if (scales.length !== N) throw new ShapeError(`packB8: ${scales.length} scales for N=${N} output channels`);
  for (let n = 0; n < N; n++) checkScale('packB8', `scales[${n}]`, scales[n]);
  const np = Math.ceil(N / 8) * 8;
  const ptr = e.alloc(e.k.packed_b8_bytes(K, N));
  const colSum = e.alloc(np * 4);
  const scale = e.alloc(np * 4);
  const f = e.f32;
  f.fill(0, scale / 4, scale / 4 + np);
  f.set(Array.from(scales), scale / 4);
  e.k.pack_b8(b, K, N, N, ptr, colSum);
  return { ptr, K, N, colSum, scale };
}

export function freePackedB8(e: Engine, p: PackedB8): void {
  e.free(p.ptr);
  e.free(p.colSum);
  e.free(p.scale);
}

/** gemm_i8 arguments after (x, ldx, a16, bp, K, N, y, ldy): the epilogue. */
function epilogueArgs(
  op: string,
  ep: Int8Epilogue,
  b: Pick<PackedB8, 'colSum' | 'scale'>,
  sx: number,
  zx: number,
): number[] {
  checkScale(op, 'input scale', sx);
  checkZeroPoint(op, zx);
  let flags = ep.relu ? I8_RELU : 0;
  let outMul = 1;
  let zy = 0;
  if (ep.out.kind === 'int8') {
    checkScale(op, 'output scale', ep.out.scale);
    checkZeroPoint(op, ep.out.zeroPoint);
    flags |= I8_OUT;
    outMul = 1 / ep.out.scale;
    zy = ep.out.zeroPoint;
  }
  return [flags, b.colSum, b.scale, ep.bias ?? 0, sx, zx, outMul, zy];
}

/** Output element size in bytes. */
function outBytes(ep: Int8Epilogue): number {
  return ep.out.kind === 'int8' ? 1 : 4;
}

/** y rows [0, rows) from int8 x rows (packed into a16 on the way), split across threads. */
function gemmRows(e: Engine, x: number, a16: number, rows: number, b: PackedB8, y: number, epArgs: number[]): void {
  const { K, N } = b;
  const minRows = Math.max(4, Math.ceil(MIN_OPS_PER_THREAD / (2 * K * N)));
  e.split('gemm_i8', [x, K, a16, b.ptr, K, N, y, N, ...epArgs], rows, 4, minRows, true);
}

/** y[M, N] = epilogue(x[M, K] · B) for int8 x (scale sx, zero point zx) and packed int8 weights. */
export function gemmInt8(
  e: Engine,
  x: number,
  M: number,
  sx: number,
  zx: number,
  b: PackedB8,
  y: number,
  ep: Int8Epilogue,
): void {
  const epArgs = epilogueArgs('gemmInt8', ep, b, sx, zx);
  const { K, N } = b;
  const chunk = Math.min(M, Math.max(MIN_CHUNK_ROWS, Math.floor(A16_CHUNK_BYTES / packedABytes(4, K)) * 4));
  const a16 = e.alloc(packedABytes(chunk, K));
  try {
    for (let m0 = 0; m0 < M; m0 += chunk) {
      const rows = Math.min(chunk, M - m0);
      gemmRows(e, x + m0 * K, a16, rows, b, y + m0 * N * outBytes(ep), epArgs);
    }
  } finally {
    e.free(a16);
  }
}

/** The fused 2×2 max pooling requantizes the window's max: it needs an int8 output. */
function checkPoolOutput(op: string, ep: Int8Epilogue): void {
  if (ep.out.kind !== 'int8') throw new ValueError(`${op}: the fused pooling needs an int8 output`);
}

/** Checks the packed weights' [K, N] against a conv geometry's [KH*KW*C, OC]. */
function checkConvWeights(op: string, w: PackedB8, g: Conv2dGeometry): void {
  const K = g.KH * g.KW * g.C;
  if (w.K !== K || w.N !== g.OC) {
    throw new ShapeError(
      `${op}: packed weights are [${w.K}, ${w.N}] but the geometry needs [KH*KW*C, OC] = [${K}, ${g.OC}]`,
    );
  }
}

/**
 * y [N, OH, OW, OC] = epilogue(conv2d(x [N, H, W, C] int8 (sx, zx), w)) with w = packB8 of the
 * [KH, KW, C, OC] weights as B[KH*KW*C, OC]. Padding cells hold zx (real 0).
 */
export function conv2dInt8(
  e: Engine,
  x: number,
  sx: number,
  zx: number,
  w: PackedB8,
  g: Conv2dGeometry,
  y: number,
  ep: Int8Epilogue,
): void {
  checkConvWeights('conv2dInt8', w, g);
  const M = g.N * g.OH * g.OW;
  const pointwise =
    g.KH === 1 &&
    g.KW === 1 &&
    g.strideH === 1 &&
    g.strideW === 1 &&
    g.padTop + g.padLeft + g.padBottom + g.padRight === 0;
  if (pointwise) {
    gemmInt8(e, x, M, sx, zx, w, y, ep);
    return;
  }
  const epArgs = epilogueArgs('conv2dInt8', ep, w, sx, zx);
  convChunks(e, 'conv_i8', x, w, g, g.OH, g.OW, M, 1, y, outBytes(ep), epArgs);
}

/**
 * Runs a fused int8 conv kernel over `units` outputs — conv_i8: output pixels, one im2col row
 * each, split in fours (one A tile); conv_pool_i8: pooled pixels, 4 rows (one tile) each — in
 * chunks whose im2col rows and packed tiles stay within COL_CHUNK_BYTES. The kernel's window
 * ends with its output size (outH, outW); y advances OC · outBytes per unit.
 */
function convChunks(
  e: Engine,
  kernel: 'conv_i8' | 'conv_pool_i8',
  x: number,
  w: PackedB8,
  g: Conv2dGeometry,
  outH: number,
  outW: number,
  units: number,
  rowsPer: 1 | 4,
  y: number,
  outBytes: number,
  epArgs: number[],
): void {
  const K = w.K;
  const ldc = e.k.col_stride_i8(K);
  const tile = e.k.tile_stride_i8(K);
  const align = 4 / rowsPer;
  const unitBytes = rowsPer * (ldc + tile / 4);
  const chunk = Math.min(
    Math.ceil(units / align) * align,
    Math.max(MIN_CHUNK_ROWS / rowsPer, Math.floor(COL_CHUNK_BYTES / unitBytes) & ~(align - 1)),
  );
  const col = e.alloc(chunk * rowsPer * ldc);
  const a16 = e.alloc(((chunk * rowsPer) / 4) * tile);
  const window = [g.H, g.W, g.C, g.KH, g.KW, g.strideH, g.strideW, g.padTop, g.padLeft, outH, outW];
  const minUnits = Math.max(align, Math.ceil(MIN_OPS_PER_THREAD / (2 * rowsPer * K * g.OC)));
  try {
    for (let u0 = 0; u0 < units; u0 += chunk) {
      const n = Math.min(chunk, units - u0);
      const y0 = y + u0 * g.OC * outBytes;
      e.split(kernel, [x, ...window, u0, col, a16, w.ptr, g.OC, y0, ...epArgs], n, align, minUnits, true);
    }
  } finally {
    e.free(a16);
    e.free(col);
  }
}

/**
 * y [N, floor(OH/2), floor(OW/2), OC] = 2×2 / stride-2 max pooling of conv2dInt8(x, w) with its
 * epilogue (int8 output), in one pass: each pooling window's 4 conv pixels share a register tile
 * and only their max is requantized. Bit-identical to conv2dInt8 then maxPool2dInt8.
 */
export function conv2dPoolInt8(
  e: Engine,
  x: number,
  sx: number,
  zx: number,
  w: PackedB8,
  g: Conv2dGeometry,
  y: number,
  ep: Int8Epilogue,
): void {
  checkConvWeights('conv2dPoolInt8', w, g);
  checkPoolOutput('conv2dPoolInt8', ep);
  const PH = Math.floor(g.OH / 2);
  const PW = Math.floor(g.OW / 2);
  const P = g.N * PH * PW;
  if (P === 0) return;
  convChunks(e, 'conv_pool_i8', x, w, g, PH, PW, P, 4, y, 1, epilogueArgs('conv2dPoolInt8', ep, w, sx, zx));
}

/** q[n] (int8) = clamp(roundHalfEven(x[n] / scale) + zeroPoint, −128, 127) for f32 x[n]. */
export function quantize(e: Engine, x: number, n: number, scale: number, zeroPoint: number, q: number): void {
  checkScale('quantize', 'scale', scale);
  checkZeroPoint('quantize', zeroPoint);
  e.split('quantize_i8', [x, q, scale, zeroPoint], n, 16, MIN_ELEMS_PER_THREAD);
}

/** x[n] (f32) = scale · (q[n] − zeroPoint) for int8 q[n]. */
export function dequantize(e: Engine, q: number, n: number, scale: number, zeroPoint: number, x: number): void {
  checkScale('dequantize', 'scale', scale);
  checkZeroPoint('dequantize', zeroPoint);
  e.split('dequantize_i8', [q, x, scale, zeroPoint], n, 16, MIN_ELEMS_PER_THREAD);
}

/** int8 y [N, OH, OW, C] = max over each window of int8 x [N, H, W, C] (same quantization; padding never wins). */
export function maxPool2dInt8(e: Engine, x: number, g: Pool2dGeometry, y: number): void {
  const window = [g.H, g.W, g.C, g.KH, g.KW, g.strideH, g.strideW, g.padTop, g.padLeft, g.OH, g.OW];
  e.split(
    'maxpool2d_i8',
    [x, ...window, y],
    g.N * g.OH * g.OW,
    1,
    Math.ceil(MIN_ELEMS_PER_THREAD / (g.KH * g.KW * g.C)),
  );
}

/** int8 y [N, C] = roundHalfEven(mean over HW of int8 x [N, HW, C]) (same quantization in and out). */
export function globalAvgPoolInt8(e: Engine, x: number, N: number, HW: number, C: number, y: number): void {
  e.split('global_avg_pool_i8', [x, HW, C, y], N, 1, Math.ceil(MIN_ELEMS_PER_THREAD / (HW * C)));
}

/** Bytes of Winograd workspace a chunk may use (input transforms and i32 GEMM outputs of its tiles). */
const WINO_CHUNK_BYTES = 2 << 20;
/** Input channels up to which F(2x2, 3x3)'s i32 arithmetic is exact (as/winograd_i8.ts). */
const WINO_MAX_C = 1024;
/**
 * Fewest input channels for which Winograd pays: with C = 1 its transforms cost more than the
 * 9-multiply direct convolution saves (28x28, C=1 → 16: 16.1 ms vs 5.5 ms direct, batch 256;
 * C=8 → 16: 13.9 vs 15.7 ms).
 */
const WINO_MIN_C = 8;

/** int8 3x3 weights transformed for Winograd F(2x2, 3x3): 16 i16 k-pair packed B[C, OC], one per ξ. */
export interface PackedWino8 {
  readonly ptr: number;
  readonly C: number;
  readonly OC: number;
  /** Bytes between the 16 packed matrices. */
  readonly bstride: number;
  /** i32 zeros [ceil(OC/8)*8]: the zero point is subtracted before the transform. */
  readonly colSum: number;
  /** f32 per-channel weight scales [ceil(OC/8)*8] (0 past OC). */
  readonly scale: number;
}

/**
 * Whether conv2dWinogradInt8 should compute this convolution: 3x3 kernel, stride 1, 8..1024
 * input channels (it is exact from 1 channel: the same outputs as conv2dInt8).
 */
export function winogradApplies(g: WinoGeometry): boolean {
  return winogradExact(g) && g.C >= WINO_MIN_C;
}

type WinoGeometry = Pick<Conv2dGeometry, 'KH' | 'KW' | 'strideH' | 'strideW' | 'C'>;

/** What conv2dWinogradInt8 computes exactly: 3x3 kernel, stride 1, at most WINO_MAX_C input channels. */
function winogradExact(g: WinoGeometry): boolean {
  return g.KH === 3 && g.KW === 3 && g.strideH === 1 && g.strideW === 1 && g.C <= WINO_MAX_C;
}

/** G' = 2G of F(2x2, 3x3): integer, so U = G' g G'ᵀ is exact (4x the textbook transform). */
const G2 = [
  [2, 0, 0],
  [1, 1, 1],
  [1, -1, 1],
  [0, 0, 2],
];

/**
 * Transforms and packs int8 weights w [3, 3, C, OC] (row-major, as the IR stores conv weights)
 * with per-output-channel scales for conv2dWinogradInt8: U[ξ = 4i + j][c][oc] = (G' g G'ᵀ)[i][j]
 * in i16, each ξ in pack_b8's layout (8-column panels of (k, k+1) pairs).
 */
export function packWinograd8(e: Engine, w: Int8Array, C: number, OC: number, scales: ArrayLike<number>): PackedWino8 {
  if (!Number.isInteger(C) || !Number.isInteger(OC) || C < 1 || OC < 1 || C > WINO_MAX_C) {
    throw new ShapeError(`packWinograd8: need 1 <= C <= ${WINO_MAX_C} and OC >= 1, got C=${C} OC=${OC}`);
  }
  if (w.length !== 9 * C * OC) {
    throw new ShapeError(`packWinograd8: ${w.length} weights for [3, 3, ${C}, ${OC}] (${9 * C * OC})`);
  }
  if (scales.length !== OC) throw new ShapeError(`packWinograd8: ${scales.length} scales for ${OC} output channels`);
  for (let n = 0; n < OC; n++) checkScale('packWinograd8', `scales[${n}]`, scales[n]);
  const kp = (C + 1) >> 1;
  const panels = Math.ceil(OC / 8);
  const bstride = panels * kp * 32;
  const packed = new Int16Array((16 * bstride) / 2);
  const g = new Float64Array(9);
  const t = new Float64Array(12); // G' g: [4][3]
  for (let c = 0; c < C; c++) {
    for (let oc = 0; oc < OC; oc++) {
      for (let k = 0; k < 9; k++) g[k] = w[(k * C + c) * OC + oc];
      for (let i = 0; i < 4; i++)
        for (let b = 0; b < 3; b++) t[i * 3 + b] = G2[i][0] * g[b] + G2[i][1] * g[3 + b] + G2[i][2] * g[6 + b];
      const p = oc >> 3;
      const j = oc & 7;
      // i16 index of (k = c) in panel p, column j: pair c >> 1, lane (j >> 2) * 8 + (j & 3) * 2, element c & 1
      const at = (p * kp * 32 + (c >> 1) * 32 + (j >> 2) * 16 + (j & 3) * 4) / 2 + (c & 1);
      for (let i = 0; i < 4; i++)
        for (let jj = 0; jj < 4; jj++) {
          const u = t[i * 3] * G2[jj][0] + t[i * 3 + 1] * G2[jj][1] + t[i * 3 + 2] * G2[jj][2];
          packed[((i * 4 + jj) * bstride) / 2 + at] = u;
        }
    }
  }
  const np = panels * 8;
  const ptr = e.alloc(16 * bstride);
  e.u8.set(new Uint8Array(packed.buffer), ptr);
  const colSum = e.alloc(np * 4);
  const scale = e.alloc(np * 4);
  e.u8.fill(0, colSum, colSum + np * 4);
  e.f32.fill(0, scale / 4, scale / 4 + np);
  e.f32.set(Array.from(scales), scale / 4);
  return { ptr, C, OC, bstride, colSum, scale };
}

export function freePackedWino8(e: Engine, p: PackedWino8): void {
  e.free(p.ptr);
  e.free(p.colSum);
  e.free(p.scale);
}

/**
 * conv2dInt8 (pool: conv2dPoolInt8) of a 3x3 / stride-1 convolution by Winograd F(2x2, 3x3):
 * the same outputs, bit for bit, with 16 multiplies per 2x2 output tile and channel instead of
 * 36. w: packWinograd8 of the weights. Needs winogradApplies(g).
 */
export function conv2dWinogradInt8(
  e: Engine,
  x: number,
  sx: number,
  zx: number,
  w: PackedWino8,
  g: Conv2dGeometry,
  y: number,
  ep: Int8Epilogue,
  pool = false,
): void {
  const op = pool ? 'conv2dWinogradInt8(pool)' : 'conv2dWinogradInt8';
  if (!winogradExact(g)) {
    throw new ShapeError(`${op}: needs a 3x3 kernel, stride 1 and at most ${WINO_MAX_C} input channels`);
  }
  if (w.C !== g.C || w.OC !== g.OC) {
    throw new ShapeError(`${op}: weights transformed for C=${w.C} OC=${w.OC}, geometry has C=${g.C} OC=${g.OC}`);
  }
  if (pool) checkPoolOutput(op, ep);
  const epArgs = epilogueArgs(op, ep, w, sx, zx);
  const TH = pool ? Math.floor(g.OH / 2) : Math.ceil(g.OH / 2);
  const TW = pool ? Math.floor(g.OW / 2) : Math.ceil(g.OW / 2);
  const tiles = g.N * TH * TW;
  if (tiles === 0) return;
  const wsTile = e.k.wino_ws_tile_bytes(g.C, g.OC);
  const chunk = Math.min(Math.ceil(tiles / 4) * 4, Math.max(64, Math.floor(WINO_CHUNK_BYTES / wsTile) & ~3));
  const ws = e.alloc((chunk + 4) * wsTile);
  const args = [x, g.H, g.W, g.C, g.padTop, g.padLeft, g.OH, g.OW, TH, TW, pool ? 1 : 0];
  const minTiles = Math.max(4, Math.ceil(MIN_OPS_PER_THREAD / (32 * g.C * g.OC)));
  try {
    for (let t0 = 0; t0 < tiles; t0 += chunk) {
      const n = Math.min(chunk, tiles - t0);
      e.split('wino_i8', [...args, t0, ws, w.ptr, w.bstride, g.OC, y, ...epArgs], n, 4, minTiles, true);
    }
  } finally {
    e.free(ws);
  }
}

/** int8 weights [KH, KW, 1, OC] packed for conv2dC1Int8: B[KH * even(KW), OC] (pad taps 0). */
export interface PackedC1 {
  readonly b: PackedB8;
  readonly KH: number;
  readonly KW: number;
}

/**
 * Whether conv2dC1Int8 computes this convolution: one input channel, stride 1, and an image
 * whose zero-padded i16 copy fits a thread's scratch (about 40x40 pixels for a 3x3 kernel).
 */
export function convC1Applies(e: Engine, g: Conv2dGeometry): boolean {
  return (
    g.C === 1 &&
    g.strideH === 1 &&
    g.strideW === 1 &&
    e.k.conv_c1_pad_bytes(g.OH, g.OW, g.KH, g.KW) <= e.k.conv_c1_pad_limit()
  );
}

/** Packs int8 weights w [KH, KW, 1, OC] (row-major) with per-channel scales for conv2dC1Int8. */
export function packConvC1(
  e: Engine,
  w: Int8Array,
  KH: number,
  KW: number,
  OC: number,
  scales: ArrayLike<number>,
): PackedC1 {
  if (w.length !== KH * KW * OC) {
    throw new ShapeError(`packConvC1: ${w.length} weights for [${KH}, ${KW}, 1, ${OC}] (${KH * KW * OC})`);
  }
  const KWp = (KW + 1) & ~1;
  const padded = new Int8Array(KH * KWp * OC);
  for (let kh = 0; kh < KH; kh++)
    for (let kw = 0; kw < KW; kw++)
      padded.set(w.subarray((kh * KW + kw) * OC, (kh * KW + kw + 1) * OC), (kh * KWp + kw) * OC);
  const tmp = e.alloc(padded.length);
  try {
    new Int8Array(e.memory.buffer, tmp, padded.length).set(padded);
    return { b: packB8(e, tmp, KH * KWp, OC, scales), KH, KW };
  } finally {
    e.free(tmp);
  }
}

/**
 * conv2dInt8 (pool: conv2dPoolInt8) of a single-channel, stride-1 convolution without im2col:
 * the same outputs, bit for bit. w: packConvC1 of the weights. Needs convC1Applies(e, g).
 */
export function conv2dC1Int8(
  e: Engine,
  x: number,
  sx: number,
  zx: number,
  w: PackedC1,
  g: Conv2dGeometry,
  y: number,
  ep: Int8Epilogue,
  pool = false,
): void {
  const op = pool ? 'conv2dC1Int8(pool)' : 'conv2dC1Int8';
  if (!convC1Applies(e, g)) {
    throw new ShapeError(
      `${op}: needs 1 input channel, stride 1 and a padded image of at most ${e.k.conv_c1_pad_limit()} bytes (got C=${g.C}, ${g.OH}x${g.OW} output)`,
    );
  }
  if (w.KH !== g.KH || w.KW !== g.KW || w.b.N !== g.OC) {
    throw new ShapeError(`${op}: weights packed for ${w.KH}x${w.KW}→${w.b.N}, geometry is ${g.KH}x${g.KW}→${g.OC}`);
  }
  if (pool) checkPoolOutput(op, ep);
  const epArgs = epilogueArgs(op, ep, w.b, sx, zx);
  const units = g.N * (pool ? Math.floor(g.OH / 2) * Math.floor(g.OW / 2) : g.OH * g.OW);
  if (units === 0) return;
  const window = [g.H, g.W, g.KH, g.KW, g.padTop, g.padLeft, g.OH, g.OW, pool ? 1 : 0];
  const minUnits = Math.ceil(MIN_OPS_PER_THREAD / (2 * (pool ? 4 : 1) * g.KH * g.KW * g.OC));
  e.split('conv_c1_i8', [x, ...window, w.b.ptr, g.OC, y, ...epArgs], units, 4, minUnits, true);
}
