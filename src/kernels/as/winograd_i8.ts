// int8 3x3 / stride-1 convolution by Winograd F(2x2, 3x3), exact: the same outputs, bit for bit,
// as conv_i8 (and conv_pool_i8), with 16 multiplies per 2x2 output tile and channel pair instead
// of 36.
// Arithmetic, all in integers:
//   d  = x − zx over a 4x4 input tile (padding cells read as 0), in [−255, 255]
//   V  = Bᵀ d B (entries of B: 0, ±1), |V| ≤ 1020, i16
//   U  = G' g G'ᵀ with G' = 2G = [[2,0,0],[1,1,1],[1,−1,1],[0,0,2]] (integer), |U| ≤ 1143, i16,
//        transformed once at load (src/kernels/winograd.ts)
//   M[ξ] = Σc V[ξ, c] · U[ξ, c, oc]: 16 i16 GEMMs [tiles, C] x [C, OC] on the int8 micro-kernels'
//        i16 k-pair tiles (pmaddwd pairs cannot overflow: 2 · 1020 · 1143 < 2^31)
//   Y  = Aᵀ M A = 4 · Σ (x − zx) · w exactly (G' carries the factor 4; i32 sums wrap but the
//        result fits for C ≤ 1024), so acc = Y >> 2, then the int8 epilogue (int8_epilogue.ts)
// Tiles are 2x2 output blocks at even coordinates, so with pooling a tile is one 2x2 window and
// only its max is requantized, as conv_pool_i8 does.
// Not for: other kernel sizes or strides (conv_i8), float convolution (conv.ts).
import { gemm_block } from './int8';
import { bias8, col_mul, copy_partial, epi_row8, I8_OUT, I8_RAW } from './int8_epilogue';

/** Output channels whose epilogue constants (64 bytes per 8) fit the scratch above 2048. */
const EPI_COLS: i32 = 256;

/** Bytes of packed A tiles per 4 tiles and one ξ: k-pairs of C channels, 16 bytes each. */
// @ts-ignore: decorator
@inline function tile_bytes(C: i32): usize {
  return <usize>((C + 1) >> 1) << 4;
}

/** Columns of the i32 GEMM outputs M[ξ]: OC rounded up to 8. */
// @ts-ignore: decorator
@inline function m_cols(OC: i32): usize {
  return <usize>((OC + 7) & ~7);
}

/** Workspace bytes per output tile: its packed V (16 ξ) and its M rows (16 ξ). */
export function wino_ws_tile_bytes(C: i32, OC: i32): i32 {
  return <i32>((<usize>4) * tile_bytes(C) + (<usize>64) * m_cols(OC));
}

/** Tiles per block: the block's workspace stays within ~192 KiB (L2), 4..64 tiles. */
// @ts-ignore: decorator
@inline function block_tiles(C: i32, OC: i32): i32 {
  return max(4, min(64, (<i32>(196608 / wino_ws_tile_bytes(C, OC))) & ~3));
}

/** 8 channels of x at p minus zx as i16 (0 when the cell is padding). */
// @ts-ignore: decorator
@inline function load8(p: usize, inside: bool, zxv: v128): v128 {
  return inside ? i16x8.sub(i16x8.extend_low_i8x16_s(v128.load64_zero(p)), zxv) : i16x8.splat(0);
}

/**
 * V = Bᵀ d B of tile (n, ti, tj) for channels [c, c + 8), written as row r of the A tile group
 * at a (one i32 k-pair lane per channel pair, ξ-th GEMM's tiles at a + ξ * xiStride); only the
 * first np (1..4) pairs are stored, so the last channels never spill past the tile's k-pairs.
 */
// @ts-ignore: decorator
@inline function transform8(x: usize, H: i32, W: i32, C: i32, ih0: i32, iw0: i32, n: i32, c: i32, zxv: v128, a: usize, xiStride: usize, np: i32): void {
  // rows of d, each 4 columns: Bᵀ acts on rows (r0 - r2, r1 + r2, r2 - r1, r1 - r3), B on columns alike
  const rowB = <usize>W * <usize>C;
  const base = x + <usize>n * <usize>H * rowB + <usize>c;
  const cin0 = iw0 >= 0 && iw0 < W;
  const cin1 = iw0 + 1 >= 0 && iw0 + 1 < W;
  const cin2 = iw0 + 2 >= 0 && iw0 + 2 < W;
  const cin3 = iw0 + 3 >= 0 && iw0 + 3 < W;
  let d00 = i16x8.splat(0), d01 = d00, d02 = d00, d03 = d00;
  let d10 = d00, d11 = d00, d12 = d00, d13 = d00;
  let d20 = d00, d21 = d00, d22 = d00, d23 = d00;
  let d30 = d00, d31 = d00, d32 = d00, d33 = d00;
  // pointer arithmetic may point outside x for padding cells; load8 does not read them
  const p0 = base + <usize>(ih0 * W + iw0) * <usize>C;
  const cs = <usize>C;
  if (ih0 >= 0 && ih0 < H) {
    d00 = load8(p0, cin0, zxv); d01 = load8(p0 + cs, cin1, zxv); d02 = load8(p0 + 2 * cs, cin2, zxv); d03 = load8(p0 + 3 * cs, cin3, zxv);
  }
  const p1 = p0 + rowB;
  if (ih0 + 1 >= 0 && ih0 + 1 < H) {
    d10 = load8(p1, cin0, zxv); d11 = load8(p1 + cs, cin1, zxv); d12 = load8(p1 + 2 * cs, cin2, zxv); d13 = load8(p1 + 3 * cs, cin3, zxv);
  }
  const p2 = p1 + rowB;
  if (ih0 + 2 >= 0 && ih0 + 2 < H) {
    d20 = load8(p2, cin0, zxv); d21 = load8(p2 + cs, cin1, zxv); d22 = load8(p2 + 2 * cs, cin2, zxv); d23 = load8(p2 + 3 * cs, cin3, zxv);
  }
  const p3 = p2 + rowB;
  if (ih0 + 3 >= 0 && ih0 + 3 < H) {
    d30 = load8(p3, cin0, zxv); d31 = load8(p3 + cs, cin1, zxv); d32 = load8(p3 + 2 * cs, cin2, zxv); d33 = load8(p3 + 3 * cs, cin3, zxv);
  }
  // t = Bᵀ d (row combinations), column j
  const t00 = i16x8.sub(d00, d20), t01 = i16x8.sub(d01, d21), t02 = i16x8.sub(d02, d22), t03 = i16x8.sub(d03, d23);
  const t10 = i16x8.add(d10, d20), t11 = i16x8.add(d11, d21), t12 = i16x8.add(d12, d22), t13 = i16x8.add(d13, d23);
  const t20 = i16x8.sub(d20, d10), t21 = i16x8.sub(d21, d11), t22 = i16x8.sub(d22, d12), t23 = i16x8.sub(d23, d13);
  const t30 = i16x8.sub(d10, d30), t31 = i16x8.sub(d11, d31), t32 = i16x8.sub(d12, d32), t33 = i16x8.sub(d13, d33);
  // V = t B (column combinations), stored as ξ = 4i + j
  store_v(a, xiStride, np, 0, i16x8.sub(t00, t02), i16x8.add(t01, t02), i16x8.sub(t02, t01), i16x8.sub(t01, t03));
  store_v(a, xiStride, np, 4, i16x8.sub(t10, t12), i16x8.add(t11, t12), i16x8.sub(t12, t11), i16x8.sub(t11, t13));
  store_v(a, xiStride, np, 8, i16x8.sub(t20, t22), i16x8.add(t21, t22), i16x8.sub(t22, t21), i16x8.sub(t21, t23));
  store_v(a, xiStride, np, 12, i16x8.sub(t30, t32), i16x8.add(t31, t32), i16x8.sub(t32, t31), i16x8.sub(t31, t33));
}

/** Stores V[ξ0 .. ξ0 + 3] (8 channels = 4 k-pairs each) into their A tiles at row offset a. */
// @ts-ignore: decorator
@inline function store_v(a: usize, xiStride: usize, np: i32, xi0: i32, v0: v128, v1: v128, v2: v128, v3: v128): void {
  store_pairs(a + <usize>xi0 * xiStride, v0, np);
  store_pairs(a + <usize>(xi0 + 1) * xiStride, v1, np);
  store_pairs(a + <usize>(xi0 + 2) * xiStride, v2, np);
  store_pairs(a + <usize>(xi0 + 3) * xiStride, v3, np);
}

/** The first np of 4 k-pairs (i32 lanes of v) to consecutive k-pair rows of an A tile (16 bytes apart). */
// @ts-ignore: decorator
@inline function store_pairs(a: usize, v: v128, np: i32): void {
  v128.store32_lane(a, v, 0);
  if (np > 1) v128.store32_lane(a, v, 1, 16);
  if (np > 2) v128.store32_lane(a, v, 2, 32);
  if (np > 3) v128.store32_lane(a, v, 3, 48);
}

/**
 * The tile's 2x2 outputs (Aᵀ M A) >> 2 for 4 columns, Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]: m
 * holds the 16 M rows 'stride' bytes apart (ξ = 4i + j); output (a, b) stored at dst + 16 * (2a + b).
 * Each M row is loaded once: per column j, both row combinations at once.
 */
// @ts-ignore: decorator
@inline function tile_out(m: usize, stride: usize, dst: usize): void {
  let u0 = i32x4.splat(0), u1 = u0, u2 = u0, u3 = u0; // Aᵀ row 0 · M[:, j]
  let w0 = u0, w1 = u0, w2 = u0, w3 = u0; // Aᵀ row 1 · M[:, j]
  for (let j: usize = 0; j < 4; j++) {
    const m0 = v128.load(m + j * stride);
    const m1 = v128.load(m + (4 + j) * stride);
    const m2 = v128.load(m + (8 + j) * stride);
    const m3 = v128.load(m + (12 + j) * stride);
    const u = i32x4.add(i32x4.add(m0, m1), m2);
    const w = i32x4.sub(i32x4.sub(m1, m2), m3);
    if (j == 0) { u0 = u; w0 = w; }
    else if (j == 1) { u1 = u; w1 = w; }
    else if (j == 2) { u2 = u; w2 = w; }
    else { u3 = u; w3 = w; }
  }
  v128.store(dst, i32x4.shr_s(i32x4.add(i32x4.add(u0, u1), u2), 2));
  v128.store(dst, i32x4.shr_s(i32x4.sub(i32x4.sub(u1, u2), u3), 2), 16);
  v128.store(dst, i32x4.shr_s(i32x4.add(i32x4.add(w0, w1), w2), 2), 32);
  v128.store(dst, i32x4.shr_s(i32x4.sub(i32x4.sub(w1, w2), w3), 2), 48);
}

/**
 * Output tiles [start, end) of a chunk starting at tile t0 (tiles of N x TH x TW, row-major;
 * pool: TH = floor(OH/2), TW = floor(OW/2) and each tile is one pooled pixel). Per block of
 * tiles: input transform into 16 A tile sets, 16 i16 GEMMs (raw i32) into M, output transform
 * and epilogue; y is the whole output (pool: the pooled one). ws: workspace,
 * wino_ws_tile_bytes(C, N) per tile of the chunk (a call uses the part at its start). bp: 16 packed U (i16 k-pair panels, bstride bytes apart); colsum: zeros.
 * scratch: the epilogue's below 256, a tile's outputs at 256, the channel-tail patch at 384,
 * epilogue constants from 2048.
 */
export function wino_i8(x: usize, H: i32, W: i32, C: i32, pT: i32, pL: i32, OH: i32, OW: i32, TH: i32, TW: i32, pool: i32, t0: i32, ws: usize, bp: usize, bstride: i32, N: i32, y: usize, flags: i32, colsum: usize, scale: usize, bias: usize, sx: f32, zx: i32, outMul: f32, zy: i32, start: i32, end: i32, scratch: usize): void {
  const kp = (C + 1) >> 1;
  const tileB = tile_bytes(C);
  const mcols = m_cols(N);
  const tb = min(block_tiles(C, N), (end - start + 3) & ~3);
  const aBase = ws + <usize>start * <usize>wino_ws_tile_bytes(C, N);
  const xiA = <usize>(tb >> 2) * tileB; // bytes between the ξ GEMMs' A tiles
  const mBase = aBase + 16 * xiA;
  const xiM = <usize>tb * mcols * 4; // bytes between the ξ GEMMs' outputs
  const zxv = i16x8.splat(<i16>zx);
  const esz: usize = flags & I8_OUT ? 1 : 4;
  const rowOut = <usize>N * esz;
  const tt = TH * TW;
  const sxv = f32x4.splat(sx);
  const outv = f32x4.splat(outMul);
  const zyv = i16x8.splat(<i16>zy);
  const zero = i32x4.splat(0);
  const lo = scratch + 256; // a tile's 4 outputs of columns oc .. oc + 3
  const hi = scratch + 320; // and of oc + 4 .. oc + 7
  const epi = scratch + 2048; // epilogue constants of up to EPI_COLS channels (64 bytes per 8)
  for (let bc = start; bc < end; bc += tb) {
    const bend = min(bc + tb, end);
    // 1. input transform
    for (let i = bc; i < bend; i++) {
      const t = t0 + i;
      const n = t / tt;
      const ti = (t - n * tt) / TW;
      const tj = t - n * tt - ti * TW;
      const r = i - bc;
      const a = aBase + <usize>(r >> 2) * tileB + <usize>((r & 3) << 2);
      let c = 0;
      for (; c + 8 <= C; c += 8) transform8(x, H, W, C, 2 * ti - pT, 2 * tj - pL, n, c, zxv, a + (<usize>(c >> 1) << 4), xiA, 4);
      if (c < C) transform_tail(x, H, W, C, 2 * ti - pT, 2 * tj - pL, n, c, zx, a, xiA, scratch + 384);
    }
    // 2. the 16 GEMMs: M[ξ][tile][oc] raw i32
    const rows = bend - bc;
    for (let xi = 0; xi < 16; xi++) {
      gemm_block(aBase + <usize>xi * xiA, tileB, bp + <usize>xi * <usize>bstride, kp, N, mBase + <usize>xi * xiM, mcols * 4, 4, I8_RAW, colsum, scale, 0, 1, 0, 1, 0, 0, rows, scratch);
    }
    // 3. output transform and epilogue, per EPI_COLS channels (their multipliers and scaled bias
    //    computed once), then per tile, then 8 channels at a time
    for (let oc0 = 0; oc0 < N; oc0 += EPI_COLS) {
      const ocEnd = min(N, oc0 + EPI_COLS);
      for (let oc = oc0; oc < ocEnd; oc += 8) {
        const ep = epi + (<usize>(oc - oc0) << 3);
        v128.store(ep, col_mul(scale, oc, sxv, outv, 0));
        v128.store(ep, col_mul(scale, oc, sxv, outv, 1), 16);
        const bp8 = bias8(bias, oc, N - oc, scratch);
        v128.store(ep, f32x4.mul(v128.load(bp8), outv), 32);
        v128.store(ep, f32x4.mul(v128.load(bp8, 16), outv), 48);
      }
      for (let i = bc; i < bend; i++) {
        const t = t0 + i;
        const n = t / tt;
        const ti = (t - n * tt) / TW;
        const tj = t - n * tt - ti * TW;
        // the tile's output pixels (pool: its one pooled pixel); out of range ones are skipped
        const y0 = pool ? y + <usize>t * rowOut : y + (<usize>((n * OH + 2 * ti) * OW + 2 * tj)) * rowOut;
        const right = 2 * tj + 1 < OW;
        const down = 2 * ti + 1 < OH;
        const m = mBase + <usize>(i - bc) * mcols * 4;
        for (let oc = oc0; oc < ocEnd; oc += 8) {
          const w = N - oc;
          const ep = epi + (<usize>(oc - oc0) << 3); // s0, s1, o0, o1 of columns oc .. oc + 7
          const s0 = v128.load(ep);
          const s1 = v128.load(ep, 16);
          const o0 = v128.load(ep, 32);
          const o1 = v128.load(ep, 48);
          const mc = m + (<usize>oc << 2);
          tile_out(mc, xiM, lo);
          tile_out(mc + 16, xiM, hi);
          const dst = y0 + <usize>oc * esz;
          if (pool) {
            const l = i32x4.max_s(i32x4.max_s(v128.load(lo), v128.load(lo, 16)), i32x4.max_s(v128.load(lo, 32), v128.load(lo, 48)));
            const h = i32x4.max_s(i32x4.max_s(v128.load(hi), v128.load(hi, 16)), i32x4.max_s(v128.load(hi, 32), v128.load(hi, 48)));
            store_row(l, h, zero, s0, s1, o0, o1, flags, zyv, dst, w, esz, scratch);
            continue;
          }
          store_row(v128.load(lo), v128.load(hi), zero, s0, s1, o0, o1, flags, zyv, dst, w, esz, scratch);
          if (right) store_row(v128.load(lo, 16), v128.load(hi, 16), zero, s0, s1, o0, o1, flags, zyv, dst + rowOut, w, esz, scratch);
          if (down) {
            const d1 = dst + <usize>OW * rowOut;
            store_row(v128.load(lo, 32), v128.load(hi, 32), zero, s0, s1, o0, o1, flags, zyv, d1, w, esz, scratch);
            if (right) store_row(v128.load(lo, 48), v128.load(hi, 48), zero, s0, s1, o0, o1, flags, zyv, d1 + rowOut, w, esz, scratch);
          }
        }
      }
    }
  }
}

/** epi_row8 of one output row's 8 columns at dst; w < 8 columns through scratch. */
// @ts-ignore: decorator
@inline function store_row(c0: v128, c1: v128, zero: v128, s0: v128, s1: v128, o0: v128, o1: v128, flags: i32, zyv: v128, dst: usize, w: i32, esz: usize, scratch: usize): void {
  if (w >= 8) {
    epi_row8(c0, c1, zero, zero, s0, s1, o0, o1, flags, zyv, dst);
  } else {
    epi_row8(c0, c1, zero, zero, s0, s1, o0, o1, flags, zyv, scratch);
    copy_partial(scratch, dst, 0, 1, w, esz);
  }
}

/** transform8 for the last C − c (< 8) channels, through an 8-channel zero-padded copy in scratch. */
function transform_tail(x: usize, H: i32, W: i32, C: i32, ih0: i32, iw0: i32, n: i32, c: i32, zx: i32, a: usize, xiA: usize, patch: usize): void {
  // a 4x4 x 8 i8 patch of the channels [c, C), zx elsewhere (so the subtraction gives 0), laid out
  // as a 4x4 image of 8 channels: transform8 reads it with H = W = 4 and no padding
  memory.fill(patch, <u8>zx, 128);
  for (let r = 0; r < 4; r++) {
    const ih = ih0 + r;
    if (ih < 0 || ih >= H) continue;
    for (let q = 0; q < 4; q++) {
      const iw = iw0 + q;
      if (iw < 0 || iw >= W) continue;
      memory.copy(patch + <usize>((r * 4 + q) * 8), x + (<usize>((n * H + ih) * W + iw)) * <usize>C + <usize>c, <usize>(C - c));
    }
  }
  transform8(patch, 4, 4, 8, 0, 0, 0, 0, i16x8.splat(<i16>zx), a + (<usize>(c >> 1) << 4), xiA, ((C + 1) >> 1) - (c >> 1));
}
