// Convolution data movement for NHWC images: im2col (image patches -> GEMM rows) and col2im (its
// adjoint: patch gradients summed back into the image). Weights are [KH, KW, C, OC], so a col row
// is laid out (kh, kw, c) and for one kh the valid kw form ONE contiguous run of the input row.
// Not for: the arithmetic (the GEMM does it, gemm.ts) or chunking/threading policy (../conv.ts).

/** dst[0..n) = src[0..n) (f32), 4 lanes at a time. */
// @ts-ignore: decorator
@inline function copyRun(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const o = <usize>i << 2;
    v128.store(dst + o, v128.load(src + o));
    v128.store(dst + o, v128.load(src + o, 16), 16);
  }
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), v128.load(src + (<usize>i << 2)));
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
}

/** dst[0..n) = 0. */
// @ts-ignore: decorator
@inline function zeroRun(dst: usize, n: i32): void {
  const z = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), z);
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), 0);
}

/** dst[0..n) += src[0..n). */
// @ts-ignore: decorator
@inline function addRun(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
  }
}

/**
 * col rows [start, end) of the im2col matrix of rows [m0 + start, m0 + end): row m is the output
 * pixel (n, oh, ow) = unravel(m, [N, OH, OW]) and holds its KH x KW x C input patch (zeros where
 * the patch lies in the padding). x: [N, H, W, C]; col: [rows, KH*KW*C], row i at col + i*K.
 */
export function im2col(x: usize, H: i32, W: i32, C: i32, KH: i32, KW: i32, sH: i32, sW: i32, pT: i32, pL: i32, OH: i32, OW: i32, m0: i32, col: usize, start: i32, end: i32, scratch: usize): void {
  const runC = KW * C;
  const runB = <usize>runC << 2;
  const ohw = OH * OW;
  let dst = col + <usize>start * <usize>KH * runB;
  // Output pixel (n, oh, ow) of row m0 + start, then stepped per row (no divisions per row:
  // they cost as much as the copies when C is small).
  const m = m0 + start;
  let n = m / ohw;
  let oh = (m - n * ohw) / OW;
  let ow = m - n * ohw - oh * OW;
  for (let i = start; i < end; i++) {
    const ih0 = oh * sH - pT;
    const iw0 = ow * sW - pL;
    const kw0 = max(0, -iw0);
    const kw1 = min(KW, W - iw0);
    for (let kh = 0; kh < KH; kh++) {
      const ih = ih0 + kh;
      if (ih < 0 || ih >= H || kw1 <= kw0) {
        zeroRun(dst, runC);
      } else if (runC < 8) {
        // Short runs (e.g. C = 1, the first layer): one select per value beats three run loops.
        const src = x + ((<usize>(n * H + ih) * <usize>W + <usize>iw0) * <usize>C << 2);
        const j0 = kw0 * C;
        const j1 = kw1 * C;
        for (let j = 0; j < runC; j++) {
          const o = <usize>j << 2;
          store<f32>(dst + o, j >= j0 && j < j1 ? load<f32>(src + o) : 0);
        }
      } else {
        const src = x + ((<usize>(n * H + ih) * <usize>W + <usize>(iw0 + kw0)) * <usize>C << 2);
        zeroRun(dst, kw0 * C);
        copyRun(dst + (<usize>(kw0 * C) << 2), src, (kw1 - kw0) * C);
        zeroRun(dst + (<usize>(kw1 * C) << 2), (KW - kw1) * C);
      }
      dst += runB;
    }
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
 * dx pixels [p0 + start, p0 + end) += the entries of col rows [m0, m1) that im2col copied from
 * them (pixel p = (n, ih, iw) in NHWC order; col row i holds output pixel m0 + i). Computed per
 * input pixel (a gather), so threads that split the pixel range never write the same memory.
 */
export function col2im(col: usize, H: i32, W: i32, C: i32, KH: i32, KW: i32, sH: i32, sW: i32, pT: i32, pL: i32, OH: i32, OW: i32, m0: i32, m1: i32, p0: i32, dx: usize, start: i32, end: i32, scratch: usize): void {
  const K = KH * KW * C;
  const hw = H * W;
  for (let i = start; i < end; i++) {
    const p = p0 + i;
    const n = p / hw;
    const r = p - n * hw;
    const ih = r / W;
    const iw = r - ih * W;
    const dst = dx + (<usize>p * <usize>C << 2);
    for (let kh = 0; kh < KH; kh++) {
      const t = ih + pT - kh;
      if (t < 0) break;
      const oh = t / sH;
      if (oh * sH != t || oh >= OH) continue;
      for (let kw = 0; kw < KW; kw++) {
        const u = iw + pL - kw;
        if (u < 0) break;
        const ow = u / sW;
        if (ow * sW != u || ow >= OW) continue;
        const m = (n * OH + oh) * OW + ow;
        if (m < m0 || m >= m1) continue;
        addRun(dst, col + ((<usize>(m - m0) * <usize>K + <usize>((kh * KW + kw) * C)) << 2), C);
      }
    }
  }
}

/**
 * wf[kh, kw, oc, c] = w[KH-1-kh, KW-1-kw, c, oc]: the weights of the stride-1 convolution that
 * is conv2d's input gradient (dy convolved with the spatially flipped, channel-swapped kernel).
 */
export function conv_flip_weights(w: usize, KH: i32, KW: i32, C: i32, OC: i32, wf: usize): void {
  const taps = KH * KW;
  for (let t = 0; t < taps; t++) {
    const src = w + (<usize>(taps - 1 - t) * <usize>C * <usize>OC << 2);
    const dst = wf + (<usize>t * <usize>C * <usize>OC << 2);
    for (let o = 0; o < OC; o++) {
      for (let c = 0; c < C; c++) store<f32>(dst + (<usize>(o * C + c) << 2), load<f32>(src + (<usize>(c * OC + o) << 2)));
    }
  }
}
