// int8 inference on the engine: weight packing, the int8 GEMM and convolution (int8 im2col +
// GEMM) with fused requantization, quantize / dequantize and int8 pooling, around the wasm
// kernels of as/int8.ts. Quantization: real = scale · (q − zeroPoint); activations per-tensor
// asymmetric, weights symmetric per output channel (zero point 0, values in [-127, 127]).
// Rounding everywhere is round half to even (ONNX QuantizeLinear); the exact f32 arithmetic of
// the epilogue is spelled out in as/int8_epilogue.ts.
// Not for: choosing scales (the compiler calibrates), training, tensors (raw pointers here).
import { ShapeError, ValueError } from '../errors.js';
import type { Conv2dGeometry } from './conv.js';
import type { Engine } from './engine.js';
import type { Pool2dGeometry } from './pooling.js';

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
function epilogueArgs(op: string, ep: Int8Epilogue, b: PackedB8, sx: number, zx: number): number[] {
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
  e.split('gemm_i8', [x, K, a16, b.ptr, K, N, y, N, ...epArgs], rows, 4, minRows);
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
      e.split(kernel, [x, ...window, u0, col, a16, w.ptr, g.OC, y0, ...epArgs], n, align, minUnits);
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
  if (ep.out.kind !== 'int8') throw new ValueError('conv2dPoolInt8: the fused pooling needs an int8 output');
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
