// int8 inference kernels: packing int8 weights, the int8 GEMM (C = requant(A · B) with i32
// accumulation), int8 im2col for convolution, quantize / dequantize, int8 max and global average
// pooling. Activations are per-tensor asymmetric (scale sx, zero point zx), weights symmetric per
// output channel (zero point 0), so Σk (qx - zx)·qw = Σk qx·qw - zx·colsum[n] and the zero point
// costs one subtraction per output, not one per multiply.
// Layouts: A widened to i16 in 4-row tiles, k-pair major (pack_a4); B packed into 8-column
// panels of i16 (k, k+1) pairs (pack_b8). Register tiles: generated/int8_micro.ts;
// epilogue arithmetic: int8_epilogue.ts.
// Not for: training (float kernels), choosing threads or chunk sizes (src/kernels/int8.ts).
import { i8_micro_1x1, i8_micro_1x2, i8_micro_1x3, i8_micro_2x1, i8_micro_3x1, i8_micro_4x1, i8_micro_pool4 } from './generated/int8_micro';
import { I8_OUT, requant8 } from './int8_epilogue';

/** Bytes of packed A tiles a thread keeps hot per row block (MC = 4 rows per tile, 4..64 rows). */
const A_BLOCK_BYTES: usize = 128 << 10;

/** Bytes a packed B[K, N] occupies: ceil(N/8) panels of ceil(K/2) k-pairs x 8 columns x 2 i16. */
export function packed_b8_bytes(K: i32, N: i32): i32 {
  return ((N + 7) >> 3) * ((K + 1) >> 1) * 32;
}

/**
 * Packs int8 B[K, N] (row stride ldb) into panels [ceil(N/8)][ceil(K/2)][8][2] of i16: one k-pair
 * of a panel is two v128, columns 0-3 then 4-7, each lane the pair (B[k, n], B[k+1, n]), which is
 * what `i32x4.dot_i16x8_s` against a broadcast A pair needs. Pad rows/columns are 0. Also writes
 * colsum[ceil(N/8)*8] = Σk B[k, n] (0 for pad columns) for the zero-point correction.
 */
export function pack_b8(b: usize, K: i32, N: i32, ldb: i32, out: usize, colsum: usize): void {
  const panels = (N + 7) >> 3;
  const kp = (K + 1) >> 1;
  for (let p = 0; p < panels; p++) {
    const dst = out + <usize>p * <usize>kp * 32;
    for (let j = 0; j < 8; j++) {
      const n = (p << 3) + j;
      const lane = <usize>((j >> 2) * 16 + (j & 3) * 4);
      let s = 0;
      for (let q = 0; q < kp; q++) {
        let v0: i32 = 0;
        let v1: i32 = 0;
        if (n < N) {
          const src = b + <usize>(2 * q) * <usize>ldb + <usize>n;
          v0 = load<i8>(src);
          if (2 * q + 1 < K) v1 = load<i8>(src + <usize>ldb);
        }
        s += v0 + v1;
        const d = dst + (<usize>q << 5) + lane;
        store<i16>(d, <i16>v0);
        store<i16>(d, <i16>v1, 2);
      }
      store<i32>(colsum + (<usize>n << 2), s);
    }
  }
}

/** Lanes (a[i], b[i], a[i+1], b[i+1]) (lo) or (a[i+2], b[i+2], a[i+3], b[i+3]) of two i32x4. */
// @ts-ignore: decorator
@inline function zip32(a: v128, b: v128, lo: bool): v128 {
  return lo ? v128.shuffle<i32>(a, b, 0, 4, 1, 5) : v128.shuffle<i32>(a, b, 2, 6, 3, 7);
}

/** Stores the 4x4 transpose of i32 rows (r0..r3) as 4 v128 at dst, dst + 16, ... (k-pair major). */
// @ts-ignore: decorator
@inline function store_transposed(dst: usize, r0: v128, r1: v128, r2: v128, r3: v128): void {
  const t0 = zip32(r0, r1, true);
  const t1 = zip32(r2, r3, true);
  const t2 = zip32(r0, r1, false);
  const t3 = zip32(r2, r3, false);
  v128.store(dst, v128.shuffle<i64>(t0, t1, 0, 2));
  v128.store(dst, v128.shuffle<i64>(t0, t1, 1, 3), 16);
  v128.store(dst, v128.shuffle<i64>(t2, t3, 0, 2), 32);
  v128.store(dst, v128.shuffle<i64>(t2, t3, 1, 3), 48);
}

/** 16 k of 4 int8 rows (stride ldx) → 8 k-pairs of an A tile at dst (128 bytes), widened to i16. */
// @ts-ignore: decorator
@inline function pack16(s: usize, ldx: usize, d: usize): void {
  const v0 = v128.load(s);
  const v1 = v128.load(s + ldx);
  const v2 = v128.load(s + 2 * ldx);
  const v3 = v128.load(s + 3 * ldx);
  store_transposed(d, i16x8.extend_low_i8x16_s(v0), i16x8.extend_low_i8x16_s(v1), i16x8.extend_low_i8x16_s(v2), i16x8.extend_low_i8x16_s(v3));
  store_transposed(d + 64, i16x8.extend_high_i8x16_s(v0), i16x8.extend_high_i8x16_s(v1), i16x8.extend_high_i8x16_s(v2), i16x8.extend_high_i8x16_s(v3));
}

/**
 * Widens int8 rows [0, mr) (mr <= 4) of x (row stride ldx bytes) into one A tile at dst:
 * [ceil(K/2)][4 rows][2] i16, i.e. per k-pair 16 bytes holding each row's (x[k], x[k+1]) as one
 * i32 lane, so the micro-kernels splat a row's pair with one load at an immediate offset. Missing
 * rows and the odd-K pad are 0. Full tiles: 16 k at a time, widened and 4x4-transposed in registers.
 */
function pack_a4(x: usize, ldx: usize, K: i32, mr: i32, dst: usize): void {
  const kp = (K + 1) >> 1;
  let q = 0;
  if (mr == 4) {
    for (; 2 * q + 16 <= K; q += 8) {
      pack16(x + <usize>(2 * q), ldx, dst + (<usize>q << 4));
    }
  }
  for (; q < kp; q++) {
    const d = dst + (<usize>q << 4);
    for (let r = 0; r < 4; r++) {
      let v0: i32 = 0;
      let v1: i32 = 0;
      if (r < mr) {
        const s = x + <usize>r * ldx + <usize>(2 * q);
        v0 = load<i8>(s);
        if (2 * q + 1 < K) v1 = load<i8>(s, 1);
      }
      store<i16>(d + (<usize>r << 2), <i16>v0);
      store<i16>(d + (<usize>r << 2), <i16>v1, 2);
    }
  }
}

/** Row blocking: MC rows of packed A tiles (4..64 rows) stay hot while every B panel streams past. */
// @ts-ignore: decorator
@inline function row_block(tileB: usize): i32 {
  return max(4, min(64, <i32>(A_BLOCK_BYTES / tileB) * 4));
}

/**
 * The micro-kernel sweep over rows [ic, mend) whose A tiles are packed (tile of rows [4t, 4t + 4)
 * at a16 + t * tileB): 4-row tiles against every panel, then the 1-3 leftover rows.
 */
export function gemm_block(a16: usize, tileB: usize, bp: usize, kp: i32, N: i32, y: usize, ldyB: usize, esz: usize, flags: i32, colsum: usize, scale: usize, bias: usize, sx: f32, zx: i32, outMul: f32, zy: i32, ic: i32, mend: i32, scratch: usize): void {
  const bstride = <usize>kp << 5;
  const panels = (N + 7) >> 3;
  const full = ic + ((mend - ic) & ~3);
  for (let p = 0; p < panels; p++) {
    const n = p << 3;
    const bpp = bp + <usize>p * bstride;
    for (let i = ic; i < full; i += 4) {
      i8_micro_4x1(a16 + <usize>(i >> 2) * tileB, bpp, bstride, kp, y + <usize>i * ldyB, ldyB, esz, n, N - n, flags, colsum, scale, bias, sx, zx, outMul, zy, scratch);
    }
  }
  const rem = mend - full;
  if (rem == 0) return;
  const ar = a16 + <usize>(full >> 2) * tileB;
  const yr = y + <usize>full * ldyB;
  if (rem == 1) {
    // Single row: 3 panels at a time (6 independent accumulators per A splat), then 2, then 1.
    let p = 0;
    for (; p + 3 <= panels; p += 3) {
      const n = p << 3;
      i8_micro_1x3(ar, bp + <usize>p * bstride, bstride, kp, yr, ldyB, esz, n, N - n, flags, colsum, scale, bias, sx, zx, outMul, zy, scratch);
    }
    if (p + 2 <= panels) {
      const n = p << 3;
      i8_micro_1x2(ar, bp + <usize>p * bstride, bstride, kp, yr, ldyB, esz, n, N - n, flags, colsum, scale, bias, sx, zx, outMul, zy, scratch);
      p += 2;
    }
    if (p < panels) {
      const n = p << 3;
      i8_micro_1x1(ar, bp + <usize>p * bstride, bstride, kp, yr, ldyB, esz, n, N - n, flags, colsum, scale, bias, sx, zx, outMul, zy, scratch);
    }
  } else {
    for (let p = 0; p < panels; p++) {
      const n = p << 3;
      const bpp = bp + <usize>p * bstride;
      if (rem == 3) i8_micro_3x1(ar, bpp, bstride, kp, yr, ldyB, esz, n, N - n, flags, colsum, scale, bias, sx, zx, outMul, zy, scratch);
      else i8_micro_2x1(ar, bpp, bstride, kp, yr, ldyB, esz, n, N - n, flags, colsum, scale, bias, sx, zx, outMul, zy, scratch);
    }
  }
}

/**
 * y rows [m0, m1) of requant(x · Bpacked) (see int8_epilogue.ts for the arithmetic). x: int8
 * [M, K] (row stride ldx bytes), packed block by block (MC rows, then every panel) into A tiles in
 * a16: the tile of rows [4t, 4t + 4) at a16 + t * ceil(K/2) * 16; m0 is a multiple of 4, so each
 * thread's tiles are its own. y: int8 (flags & I8_OUT) or f32, row stride ldy elements.
 * colsum / scale: i32 / f32 [ceil(N/8)*8]; bias: f32[N] or 0. outMul: 1/sy for int8 output, else 1.
 */
export function gemm_i8(x: usize, ldx: i32, a16: usize, bp: usize, K: i32, N: i32, y: usize, ldy: i32, flags: i32, colsum: usize, scale: usize, bias: usize, sx: f32, zx: i32, outMul: f32, zy: i32, m0: i32, m1: i32, scratch: usize): void {
  const kp = (K + 1) >> 1;
  const tileB = <usize>kp << 4;
  const esz: usize = flags & I8_OUT ? 1 : 4;
  const ldyB = <usize>ldy * esz;
  const mc = row_block(tileB);
  // This thread packs every block into the same region (its first block's tiles), hot in cache.
  const mine = a16 + <usize>(m0 >> 2) * tileB;
  for (let ic = m0; ic < m1; ic += mc) {
    const mend = min(ic + mc, m1);
    const at = mine - <usize>(ic >> 2) * tileB; // tile of row i at at + (i >> 2) * tileB (wraps, exact)
    for (let i = ic; i < mend; i += 4) pack_a4(x + <usize>i * <usize>ldx, <usize>ldx, K, min(4, mend - i), at + <usize>(i >> 2) * tileB);
    gemm_block(at, tileB, bp, kp, N, y, ldyB, esz, flags, colsum, scale, bias, sx, zx, outMul, zy, ic, mend, scratch);
  }
}

/**
 * Row stride (bytes) of conv_i8's im2col rows: K rounded up to 16, plus 16, so runs of up to 16
 * bytes are copied as one v128 (spilling into bytes written next or into the row's own padding)
 * and packing reads whole 16-byte chunks.
 */
export function col_stride_i8(K: i32): i32 {
  return ((K + 15) & ~15) + 16;
}

/** Bytes between conv_i8's packed A tiles: whole 16-k chunks (8 pairs x 4 rows x 4 bytes each). */
export function tile_stride_i8(K: i32): i32 {
  return ((K + 15) >> 4) << 7;
}

/**
 * Packs 4 im2col rows (stride ldx, each readable to a multiple of 16 bytes) into one A tile
 * in whole 16-k chunks: the pairs past K hold garbage that meets B's zero pad rows.
 */
function pack_a4_wide(x: usize, ldx: usize, K: i32, dst: usize): void {
  for (let k = 0; k < K; k += 16) pack16(x + <usize>k, ldx, dst + (<usize>k << 3));
}

/**
 * int8 convolution of output pixels [start, end) of a chunk that starts at pixel m0: per block
 * of MC rows, im2col (col, row stride col_stride_i8(K)), pack (a16, tile stride
 * tile_stride_i8(K)) and the GEMM with fused requantization, all in one thread while the block
 * is in cache. start is a multiple of 4; col holds ceil(rows/4)*4 rows. x: NHWC int8, padding
 * cells = zx. y: the chunk's first output row, row stride N.
 */
export function conv_i8(x: usize, H: i32, W: i32, C: i32, KH: i32, KW: i32, sH: i32, sW: i32, pT: i32, pL: i32, OH: i32, OW: i32, m0: i32, col: usize, a16: usize, bp: usize, N: i32, y: usize, flags: i32, colsum: usize, scale: usize, bias: usize, sx: f32, zx: i32, outMul: f32, zy: i32, start: i32, end: i32, scratch: usize): void {
  const K = KH * KW * C;
  const kp = (K + 1) >> 1;
  const ldc = <usize>col_stride_i8(K);
  const tileB = <usize>tile_stride_i8(K);
  const esz: usize = flags & I8_OUT ? 1 : 4;
  const ldyB = <usize>N * esz;
  const mc = row_block(tileB);
  // Every block of this thread reuses its first block's im2col rows and tiles, hot in cache.
  const myCol = col + <usize>start * ldc;
  const myA = a16 + <usize>(start >> 2) * tileB;
  for (let ic = start; ic < end; ic += mc) {
    const mend = min(ic + mc, end);
    const c0 = myCol - <usize>ic * ldc; // row i at c0 + i * ldc (wraps, exact)
    const at = myA - <usize>(ic >> 2) * tileB;
    im2col_rows(x, H, W, C, KH, KW, sH, sW, pT, pL, OH, OW, zx, m0, c0, ldc, ic, mend);
    for (let i = ic; i < mend; i += 4) pack_a4_wide(c0 + <usize>i * ldc, ldc, K, at + <usize>(i >> 2) * tileB);
    gemm_block(at, tileB, bp, kp, N, y, ldyB, esz, flags, colsum, scale, bias, sx, zx, outMul, zy, ic, mend, scratch);
  }
}

/** dst[0..n) = the byte v (vz: v in every lane); n <= 16 as one v128 store that may spill. */
// @ts-ignore: decorator
@inline function fill_run8(dst: usize, n: i32, v: i32, vz: v128): void {
  if (n <= 0) return;
  if (n <= 16) v128.store(dst, vz);
  else memory.fill(dst, <u8>v, <usize>n);
}

/** dst[0..n) = src[0..n); n <= 16 as one v128 (may spill 16 - n bytes) unless src ends the memory. */
// @ts-ignore: decorator
@inline function copy_run8(dst: usize, src: usize, n: i32, memEnd: usize): void {
  if (n <= 16 && src + 16 <= memEnd) v128.store(dst, v128.load(src));
  else memory.copy(dst, src, <usize>n);
}

/** One im2col row at dst: the KH x KW x C patch of output pixel (n, oh, ow), padding = zx. */
// @ts-ignore: decorator
@inline function im2col_row(x: usize, H: i32, W: i32, C: i32, KH: i32, KW: i32, sH: i32, sW: i32, pT: i32, pL: i32, zx: i32, vz: v128, memEnd: usize, n: i32, oh: i32, ow: i32, dst: usize): void {
  const runC = KW * C;
  const ih0 = oh * sH - pT;
  const iw0 = ow * sW - pL;
  const kw0 = max(0, -iw0);
  const kw1 = min(KW, W - iw0);
  for (let kh = 0; kh < KH; kh++) {
    const ih = ih0 + kh;
    if (ih < 0 || ih >= H || kw1 <= kw0) {
      fill_run8(dst, runC, zx, vz);
    } else {
      const src = x + (<usize>(n * H + ih) * <usize>W + <usize>(iw0 + kw0)) * <usize>C;
      fill_run8(dst, kw0 * C, zx, vz);
      copy_run8(dst + <usize>(kw0 * C), src, (kw1 - kw0) * C, memEnd);
      fill_run8(dst + <usize>(kw1 * C), (KW - kw1) * C, zx, vz);
    }
    dst += <usize>runC;
  }
}

/**
 * int8 im2col of rows [start, end) of output pixels [m0 + start, m0 + end) for NHWC x: row i at
 * col + i * ldc holds the KH x KW x C input patch, padding cells = zx (the real value 0); one
 * contiguous run per kh (as the f32 im2col in conv.ts). Short runs are whole-v128 copies that may
 * write up to 16 bytes past their end: later runs overwrite them, and ldc >= K + 16 holds the last.
 */
function im2col_rows(x: usize, H: i32, W: i32, C: i32, KH: i32, KW: i32, sH: i32, sW: i32, pT: i32, pL: i32, OH: i32, OW: i32, zx: i32, m0: i32, col: usize, ldc: usize, start: i32, end: i32): void {
  const ohw = OH * OW;
  const vz = i8x16.splat(<i8>zx);
  const memEnd = <usize>memory.size() << 16;
  const m = m0 + start;
  let n = m / ohw;
  let oh = (m - n * ohw) / OW;
  let ow = m - n * ohw - oh * OW;
  for (let i = start; i < end; i++) {
    im2col_row(x, H, W, C, KH, KW, sH, sW, pT, pL, zx, vz, memEnd, n, oh, ow, col + <usize>i * ldc);
    if (++ow == OW) {
      ow = 0;
      if (++oh == OH) {
        oh = 0;
        n++;
      }
    }
  }
}

/**
 * conv_i8 followed by 2x2 / stride-2 max pooling, fused: pooled pixels [start, end) of a chunk
 * starting at pooled pixel p0 (of N x PH x PW, PH = floor(OH/2)); each A tile holds the 4 conv
 * pixels of one window, and i8_micro_pool4 keeps their max before the epilogue (exactly the
 * unfused result; the conv's odd last row/column, which no window reads, is never computed).
 * col / a16 as conv_i8 (4 rows per pooled pixel); y: the chunk's first pooled row, row stride N.
 */
export function conv_pool_i8(x: usize, H: i32, W: i32, C: i32, KH: i32, KW: i32, sH: i32, sW: i32, pT: i32, pL: i32, PH: i32, PW: i32, p0: i32, col: usize, a16: usize, bp: usize, N: i32, y: usize, flags: i32, colsum: usize, scale: usize, bias: usize, sx: f32, zx: i32, outMul: f32, zy: i32, start: i32, end: i32, scratch: usize): void {
  const K = KH * KW * C;
  const kp = (K + 1) >> 1;
  const ldc = <usize>col_stride_i8(K);
  const tileB = <usize>tile_stride_i8(K);
  const bstride = <usize>kp << 5;
  const panels = (N + 7) >> 3;
  const esz: usize = flags & I8_OUT ? 1 : 4;
  const ldyB = <usize>N * esz;
  const mp = row_block(tileB) >> 2; // pooled pixels (tiles) per block
  const vz = i8x16.splat(<i8>zx);
  const memEnd = <usize>memory.size() << 16;
  const pp = PH * PW;
  const myCol = col + <usize>start * 4 * ldc;
  const myA = a16 + <usize>start * tileB;
  for (let jc = start; jc < end; jc += mp) {
    const jend = min(jc + mp, end);
    const p = p0 + jc;
    let n = p / pp;
    let ph = (p - n * pp) / PW;
    let pw = p - n * pp - ph * PW;
    for (let j = jc; j < jend; j++) {
      const rows = myCol + <usize>(j - jc) * 4 * ldc;
      const oh = 2 * ph;
      const ow = 2 * pw;
      im2col_row(x, H, W, C, KH, KW, sH, sW, pT, pL, zx, vz, memEnd, n, oh, ow, rows);
      im2col_row(x, H, W, C, KH, KW, sH, sW, pT, pL, zx, vz, memEnd, n, oh, ow + 1, rows + ldc);
      im2col_row(x, H, W, C, KH, KW, sH, sW, pT, pL, zx, vz, memEnd, n, oh + 1, ow, rows + 2 * ldc);
      im2col_row(x, H, W, C, KH, KW, sH, sW, pT, pL, zx, vz, memEnd, n, oh + 1, ow + 1, rows + 3 * ldc);
      pack_a4_wide(rows, ldc, K, myA + <usize>(j - jc) * tileB);
      if (++pw == PW) {
        pw = 0;
        if (++ph == PH) {
          ph = 0;
          n++;
        }
      }
    }
    for (let q = 0; q < panels; q++) {
      const nn = q << 3;
      const bpp = bp + <usize>q * bstride;
      for (let j = jc; j < jend; j++) {
        i8_micro_pool4(myA + <usize>(j - jc) * tileB, bpp, kp, y + <usize>j * ldyB, esz, nn, N - nn, flags, colsum, scale, bias, sx, zx, outMul, zy, scratch);
      }
    }
  }
}

/**
 * q[i] = clamp(roundHalfEven(x[i] / scale) + zp, -128, 127) for i in [start, end) (f32 division,
 * as ONNX QuantizeLinear; NaN -> zp). The tail goes through scratch so every element takes the
 * same SIMD path.
 */
export function quantize_i8(x: usize, q: usize, scale: f32, zp: i32, start: i32, end: i32, scratch: usize): void {
  const sv = f32x4.splat(scale);
  const zv = i16x8.splat(<i16>zp);
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const s = x + (<usize>i << 2);
    v128.store64_lane(q + <usize>i, requant8(f32x4.div(v128.load(s), sv), f32x4.div(v128.load(s, 16), sv), zv), 0);
  }
  const rest = end - i;
  if (rest == 0) return;
  v128.store(scratch, i32x4.splat(0));
  v128.store(scratch, i32x4.splat(0), 16);
  memory.copy(scratch, x + (<usize>i << 2), <usize>rest << 2);
  v128.store64_lane(scratch + 32, requant8(f32x4.div(v128.load(scratch), sv), f32x4.div(v128.load(scratch, 16), sv), zv), 0);
  memory.copy(q + <usize>i, scratch + 32, <usize>rest);
}

/** x[i] = scale * (q[i] - zp) for i in [start, end) (q - zp exact, one f32 rounding). */
export function dequantize_i8(q: usize, x: usize, scale: f32, zp: i32, start: i32, end: i32, scratch: usize): void {
  const sv = f32x4.splat(scale);
  const zv = i32x4.splat(zp);
  let i = start;
  for (; i + 16 <= end; i += 16) {
    const v = v128.load(q + <usize>i);
    const lo = i16x8.extend_low_i8x16_s(v);
    const hi = i16x8.extend_high_i8x16_s(v);
    const d = x + (<usize>i << 2);
    v128.store(d, f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(i32x4.extend_low_i16x8_s(lo), zv)), sv));
    v128.store(d, f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(i32x4.extend_high_i16x8_s(lo), zv)), sv), 16);
    v128.store(d, f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(i32x4.extend_low_i16x8_s(hi), zv)), sv), 32);
    v128.store(d, f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(i32x4.extend_high_i16x8_s(hi), zv)), sv), 48);
  }
  for (; i < end; i++) store<f32>(x + (<usize>i << 2), <f32>(<i32>load<i8>(q + <usize>i) - zp) * scale);
}

/**
 * int8 max pooling of output pixels [start, end) of N*OH*OW, same windows as maxpool2d: each
 * window is clipped to the image, so padding never wins (the quantized max is the max of the
 * quantized values, scale > 0). x [N, H, W, C], y [N, OH, OW, C], same quantization.
 */
export function maxpool2d_i8(x: usize, H: i32, W: i32, C: i32, KH: i32, KW: i32, sH: i32, sW: i32, pT: i32, pL: i32, OH: i32, OW: i32, y: usize, start: i32, end: i32, scratch: usize): void {
  const ohw = OH * OW;
  for (let m = start; m < end; m++) {
    const n = m / ohw;
    const r = m - n * ohw;
    const oh = r / OW;
    const ow = r - oh * OW;
    const ih0 = oh * sH - pT;
    const iw0 = ow * sW - pL;
    const kh0 = max(0, -ih0);
    const kh1 = min(KH, H - ih0);
    const kw0 = max(0, -iw0);
    const kw1 = min(KW, W - iw0);
    const first = x + (<usize>((n * H + ih0 + kh0) * W + iw0 + kw0) * <usize>C);
    const rowStep = <usize>W * <usize>C;
    const yp = y + <usize>m * <usize>C;
    let c = 0;
    for (; c + 16 <= C; c += 16) {
      let best = v128.load(first + <usize>c);
      for (let kh = kh0; kh < kh1; kh++) {
        let p = first + <usize>(kh - kh0) * rowStep + <usize>c;
        for (let kw = kw0; kw < kw1; kw++) {
          best = i8x16.max_s(best, v128.load(p));
          p += <usize>C;
        }
      }
      v128.store(yp + <usize>c, best);
    }
    if (c + 8 <= C) {
      let best = v128.load64_zero(first + <usize>c);
      for (let kh = kh0; kh < kh1; kh++) {
        let p = first + <usize>(kh - kh0) * rowStep + <usize>c;
        for (let kw = kw0; kw < kw1; kw++) {
          best = i8x16.max_s(best, v128.load64_zero(p));
          p += <usize>C;
        }
      }
      v128.store64_lane(yp + <usize>c, best, 0);
      c += 8;
    }
    for (; c < C; c++) {
      let best: i32 = load<i8>(first + <usize>c);
      for (let kh = kh0; kh < kh1; kh++) {
        let p = first + <usize>(kh - kh0) * rowStep + <usize>c;
        for (let kw = kw0; kw < kw1; kw++) {
          best = max(best, <i32>load<i8>(p));
          p += <usize>C;
        }
      }
      store<i8>(yp + <usize>c, <i8>best);
    }
  }
}

/** round(s / d) with ties to even, exact in integers (d > 0). */
// @ts-ignore: decorator
@inline function div_round_even(s: i32, d: i32): i32 {
  let q = s / d;
  const r2 = abs(s - q * d) * 2;
  if (r2 > d || (r2 == d && (q & 1) != 0)) q += s < 0 ? -1 : 1;
  return q;
}

/**
 * y[n, c] = round-half-even(mean over HW of x[n, :, c]) for images [start, end): int8 in and out
 * with the same scale and zero point (the zero point passes through a mean unchanged), summed
 * exactly in i32. x [N, HW, C], y [N, C].
 */
export function global_avg_pool_i8(x: usize, HW: i32, C: i32, y: usize, start: i32, end: i32, scratch: usize): void {
  const rowB = <usize>C;
  for (let n = start; n < end; n++) {
    const src = x + <usize>n * <usize>HW * rowB;
    const yp = y + <usize>n * rowB;
    let c = 0;
    for (; c + 16 <= C; c += 16) {
      let s0 = i32x4.splat(0);
      let s1 = i32x4.splat(0);
      let s2 = i32x4.splat(0);
      let s3 = i32x4.splat(0);
      let p = src + <usize>c;
      for (let k = 0; k < HW; k++) {
        const v = v128.load(p);
        const lo = i16x8.extend_low_i8x16_s(v);
        const hi = i16x8.extend_high_i8x16_s(v);
        s0 = i32x4.add(s0, i32x4.extend_low_i16x8_s(lo));
        s1 = i32x4.add(s1, i32x4.extend_high_i16x8_s(lo));
        s2 = i32x4.add(s2, i32x4.extend_low_i16x8_s(hi));
        s3 = i32x4.add(s3, i32x4.extend_high_i16x8_s(hi));
        p += rowB;
      }
      v128.store(scratch, s0);
      v128.store(scratch, s1, 16);
      v128.store(scratch, s2, 32);
      v128.store(scratch, s3, 48);
      for (let j = 0; j < 16; j++) store<i8>(yp + <usize>(c + j), <i8>div_round_even(load<i32>(scratch + (<usize>j << 2)), HW));
    }
    for (; c < C; c++) {
      let s = 0;
      let p = src + <usize>c;
      for (let k = 0; k < HW; k++) {
        s += <i32>load<i8>(p);
        p += rowB;
      }
      store<i8>(yp + <usize>c, <i8>div_round_even(s, HW));
    }
  }
}
