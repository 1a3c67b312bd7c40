// int8 convolution of single-channel images (a network's first layer on grayscale input), stride
// 1, without im2col: each image is widened once to i16 with the zero point subtracted, into a
// zero-padded copy in the thread's scratch (padding then reads as 0, no bounds checks), and a
// 4-pixel x 8-channel register tile reads k-pairs — two taps of one kernel row — straight from
// it, one splat load per pixel and step, as `i32x4.dot_i16x8_s` operands. Weights: pack_b8 of
// [KH, KW rounded up to even, OC] (the pad tap 0). Exact, the same outputs as conv_i8 /
// conv_pool_i8 (the epilogue of int8_epilogue.ts on the same i32 sums).
// Not for: more than one input channel, strides, images whose padded copy exceeds C1_PAD_BYTES.
import { bias8, col_mul, copy_partial, epi_row8, I8_OUT } from './int8_epilogue';

/** Where the padded image starts in a thread's scratch (the epilogue uses the bytes below). */
const PAD_AT: usize = 512;
/** Bytes of scratch the padded i16 image may use (the engine's scratch is 4096 bytes). */
const C1_PAD_BYTES: i32 = 4096 - 512;

/** C1_PAD_BYTES, for the TypeScript side's check (convC1Applies). */
export function conv_c1_pad_limit(): i32 {
  return C1_PAD_BYTES;
}

/** Bytes of the padded i16 image: (OH + KH − 1) rows of (OW + even(KW) − 1) cells. */
export function conv_c1_pad_bytes(OH: i32, OW: i32, KH: i32, KW: i32): i32 {
  return (OH + KH - 1) * (OW + ((KW + 1) & ~1) - 1) * 2;
}

/** Image n of x [N, H, W] int8 → i16 (x − zx) at pad [Hp][Wp], input (r, c) at (r + pT, c + pL), 0 elsewhere. */
function pad_image(x: usize, H: i32, W: i32, pT: i32, pL: i32, Hp: i32, Wp: i32, n: i32, zx: i32, pad: usize): void {
  memory.fill(pad, 0, <usize>(Hp * Wp * 2));
  for (let r = 0; r < H; r++) {
    const R = r + pT;
    if (R < 0 || R >= Hp) continue;
    const src = x + <usize>((n * H + r) * W);
    const dst = pad + (<usize>(R * Wp) << 1);
    for (let c = 0; c < W; c++) {
      const Cc = c + pL;
      if (Cc >= 0 && Cc < Wp) store<i16>(dst + (<usize>Cc << 1), <i16>(<i32>load<i8>(src + <usize>c) - zx));
    }
  }
}

/**
 * Output units [start, end): conv pixels of N x OH x OW, or (pool) 2x2-max-pooled pixels of
 * N x floor(OH/2) x floor(OW/2). y: the whole output, row stride N (the channel count) elements.
 * bp: pack_b8 of the padded weights; colsum unused (the zero point is subtracted at padding).
 */
export function conv_c1_i8(x: usize, H: i32, W: i32, KH: i32, KW: i32, pT: i32, pL: i32, OH: i32, OW: i32, pool: i32, bp: usize, N: i32, y: usize, flags: i32, colsum: usize, scale: usize, bias: usize, sx: f32, zx: i32, outMul: f32, zy: i32, start: i32, end: i32, scratch: usize): void {
  const KWp = (KW + 1) & ~1;
  const Hp = OH + KH - 1;
  const Wp = OW + KWp - 1;
  const pad = scratch + PAD_AT;
  const UH = pool ? OH >> 1 : OH;
  const UW = pool ? OW >> 1 : OW;
  const per = UH * UW;
  const jn = KWp >> 1;
  const bstride = <usize>(KH * jn) << 5;
  const panels = (N + 7) >> 3;
  const esz: usize = flags & I8_OUT ? 1 : 4;
  const rowOut = <usize>N * esz;
  const rowPad = <usize>Wp << 1;
  const sxv = f32x4.splat(sx);
  const outv = f32x4.splat(outMul);
  const zyv = i16x8.splat(<i16>zy);
  const zero = i32x4.splat(0);
  let img = -1;
  let u = start;
  while (u < end) {
    const n = u / per;
    if (n != img) {
      pad_image(x, H, W, pT, pL, Hp, Wp, n, zx, pad);
      img = n;
    }
    // a group: one pooled pixel (its 4 window pixels), or up to 4 pixels of this image
    const rows = pool ? 1 : min(4, min(end, (n + 1) * per) - u);
    let a0: usize, a1: usize, a2: usize, a3: usize;
    if (pool) {
      const r = u - n * per;
      const oh = (r / UW) << 1;
      const ow = (r % UW) << 1;
      a0 = pad + <usize>(oh * Wp + ow) * 2;
      a1 = a0 + 2;
      a2 = a0 + rowPad;
      a3 = a2 + 2;
    } else {
      a0 = pixel(pad, u - n * per, OW, Wp);
      a1 = rows > 1 ? pixel(pad, u + 1 - n * per, OW, Wp) : a0;
      a2 = rows > 2 ? pixel(pad, u + 2 - n * per, OW, Wp) : a0;
      a3 = rows > 3 ? pixel(pad, u + 3 - n * per, OW, Wp) : a0;
    }
    for (let p = 0; p < panels; p++) {
      let b = bp + <usize>p * bstride;
      let c00 = zero, c01 = zero, c10 = zero, c11 = zero, c20 = zero, c21 = zero, c30 = zero, c31 = zero;
      for (let kh = 0; kh < KH; kh++) {
        const ro = <usize>kh * rowPad;
        for (let j = 0; j < jn; j++) {
          const o = ro + (<usize>j << 2);
          const b0 = v128.load(b);
          const b1 = v128.load(b, 16);
          b += 32;
          const v0 = v128.load32_splat(a0 + o);
          c00 = i32x4.add(c00, i32x4.dot_i16x8_s(v0, b0));
          c01 = i32x4.add(c01, i32x4.dot_i16x8_s(v0, b1));
          const v1 = v128.load32_splat(a1 + o);
          c10 = i32x4.add(c10, i32x4.dot_i16x8_s(v1, b0));
          c11 = i32x4.add(c11, i32x4.dot_i16x8_s(v1, b1));
          const v2 = v128.load32_splat(a2 + o);
          c20 = i32x4.add(c20, i32x4.dot_i16x8_s(v2, b0));
          c21 = i32x4.add(c21, i32x4.dot_i16x8_s(v2, b1));
          const v3 = v128.load32_splat(a3 + o);
          c30 = i32x4.add(c30, i32x4.dot_i16x8_s(v3, b0));
          c31 = i32x4.add(c31, i32x4.dot_i16x8_s(v3, b1));
        }
      }
      const nn = p << 3;
      const w = N - nn;
      const m0 = col_mul(scale, nn, sxv, outv, 0);
      const m1 = col_mul(scale, nn, sxv, outv, 1);
      const bp8 = bias8(bias, nn, w, scratch);
      const o0 = f32x4.mul(v128.load(bp8), outv);
      const o1 = f32x4.mul(v128.load(bp8, 16), outv);
      const yp = y + <usize>u * rowOut + <usize>nn * esz;
      const dst = w >= 8 ? yp : scratch;
      const ld = w >= 8 ? rowOut : 32;
      if (pool) {
        const h0 = i32x4.max_s(i32x4.max_s(c00, c10), i32x4.max_s(c20, c30));
        const h1 = i32x4.max_s(i32x4.max_s(c01, c11), i32x4.max_s(c21, c31));
        epi_row8(h0, h1, zero, zero, m0, m1, o0, o1, flags, zyv, dst);
      } else {
        epi_row8(c00, c01, zero, zero, m0, m1, o0, o1, flags, zyv, dst);
        if (rows > 1) epi_row8(c10, c11, zero, zero, m0, m1, o0, o1, flags, zyv, dst + ld);
        if (rows > 2) epi_row8(c20, c21, zero, zero, m0, m1, o0, o1, flags, zyv, dst + 2 * ld);
        if (rows > 3) epi_row8(c30, c31, zero, zero, m0, m1, o0, o1, flags, zyv, dst + 3 * ld);
      }
      if (w < 8) copy_partial(scratch, yp, rowOut, rows, w, esz);
    }
    u += rows;
  }
}

/** Address in the padded image of the top-left tap of output pixel r (of OH x OW). */
// @ts-ignore: decorator
@inline function pixel(pad: usize, r: i32, OW: i32, Wp: i32): usize {
  const oh = r / OW;
  return pad + <usize>(oh * Wp + (r - oh * OW)) * 2;
}
