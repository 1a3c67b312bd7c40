// 2-D max/average pooling and global average pooling over NHWC images, 4 channels per vector.
// Padding cells never take part: max ignores them, average divides by the real cells only
// (count_include_pad = false). Geometry and threading policy: ../pooling.ts.
// Not for: convolution (conv.ts) or reductions over arbitrary axes (reduce.ts).

/** dst[0..n) += src[0..n) * s. */
// @ts-ignore: decorator
@inline function addScaledRun(dst: usize, src: usize, s: f32, n: i32): void {
  const sv = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), f32x4.mul(v128.load(src + o), sv)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o) * s);
  }
}

/** dst[0..n) = 0. */
// @ts-ignore: decorator
@inline function zeroRun(dst: usize, n: i32): void {
  const z = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), z);
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), 0);
}

/**
 * out pixels [start, end) of max pooling (pixel m = (n, oh, ow) of out [N, OH, OW, C]); when
 * argmax != 0 it receives, per output element, the flat index into x [N, H, W, C] of the winner
 * (the first one on ties).
 */
export function maxpool2d(x: usize, H: i32, W: i32, C: i32, KH: i32, KW: i32, sH: i32, sW: i32, pT: i32, pL: i32, OH: i32, OW: i32, out: usize, argmax: usize, start: i32, end: i32, scratch: usize): void {
  const ohw = OH * OW;
  const lanes = i32x4(0, 1, 2, 3);
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
    // Flat element index of cell (kh, kw), channel 0.
    const first = ((n * H + ih0 + kh0) * W + iw0 + kw0) * C;
    const rowStep = W * C;
    const op = out + (<usize>m * <usize>C << 2);
    const ap = argmax + (<usize>m * <usize>C << 2);
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      let best = v128.load(x + (<usize>(first + c) << 2));
      let idx = i32x4.add(i32x4.splat(first + c), lanes);
      for (let kh = kh0; kh < kh1; kh++) {
        const rowIdx = first + (kh - kh0) * rowStep + c;
        for (let kw = kw0; kw < kw1; kw++) {
          const e = rowIdx + (kw - kw0) * C;
          const v = v128.load(x + (<usize>e << 2));
          const gt = f32x4.gt(v, best);
          best = v128.bitselect(v, best, gt);
          idx = v128.bitselect(i32x4.add(i32x4.splat(e), lanes), idx, gt);
        }
      }
      v128.store(op + (<usize>c << 2), best);
      if (argmax) v128.store(ap + (<usize>c << 2), idx);
    }
    for (; c < C; c++) {
      let best = load<f32>(x + (<usize>(first + c) << 2));
      let idx = first + c;
      for (let kh = kh0; kh < kh1; kh++) {
        const rowIdx = first + (kh - kh0) * rowStep + c;
        for (let kw = kw0; kw < kw1; kw++) {
          const e = rowIdx + (kw - kw0) * C;
          const v = load<f32>(x + (<usize>e << 2));
          if (v > best) {
            best = v;
            idx = e;
          }
        }
      }
      store<f32>(op + (<usize>c << 2), best);
      if (argmax) store<i32>(ap + (<usize>c << 2), idx);
    }
  }
}

/**
 * Images [start, end): dx[n] = 0, then dx[argmax[j]] += dy[j] for the image's outputs. outLen =
 * OH*OW*C and inLen = H*W*C per image; argmax holds flat indices into the whole dx. Split by
 * image: windows overlap, but never across images.
 */
export function maxpool2d_backward(dy: usize, argmax: usize, outLen: i32, inLen: i32, dx: usize, start: i32, end: i32, scratch: usize): void {
  zeroRun(dx + (<usize>start * <usize>inLen << 2), (end - start) * inLen);
  const j1 = <usize>end * <usize>outLen;
  for (let j = <usize>start * <usize>outLen; j < j1; j++) {
    const d = dx + (<usize>load<i32>(argmax + (j << 2)) << 2);
    store<f32>(d, load<f32>(d) + load<f32>(dy + (j << 2)));
  }
}

/**
 * Input rows [start, end) (row = (n, ih) of dx [N, H, W, C]) of max pooling's backward when the
 * windows do not overlap (stride >= window): each input element is the winner of at most one
 * output, so dx = dy of its window where argmax names it, else 0. One streaming pass with no zero
 * fill and no scalar scatter (maxpool2d_backward): 4 lanes compared per step.
 */
export function maxpool2d_backward_gather(dy: usize, argmax: usize, H: i32, W: i32, C: i32, KH: i32, KW: i32, sH: i32, sW: i32, pT: i32, pL: i32, OH: i32, OW: i32, dx: usize, start: i32, end: i32, scratch: usize): void {
  const lanes = i32x4(0, 1, 2, 3);
  for (let row = start; row < end; row++) {
    const n = row / H;
    const ih = row - n * H;
    const oh = (ih + pT) / sH;
    const rowIn = ih + pT - oh * sH < KH && oh < OH;
    for (let iw = 0; iw < W; iw++) {
      const p = (row * W + iw) * C;
      const dp = dx + (<usize>p << 2);
      const ow = (iw + pL) / sW;
      if (!rowIn || iw + pL - ow * sW >= KW || ow >= OW) {
        zeroRun(dp, C);
        continue;
      }
      const o = ((n * OH + oh) * OW + ow) * C;
      const gp = dy + (<usize>o << 2);
      const ap = argmax + (<usize>o << 2);
      let c = 0;
      for (; c + 4 <= C; c += 4) {
        const mine = i32x4.eq(v128.load(ap + (<usize>c << 2)), i32x4.add(i32x4.splat(p + c), lanes));
        v128.store(dp + (<usize>c << 2), v128.and(v128.load(gp + (<usize>c << 2)), mine));
      }
      for (; c < C; c++) store<f32>(dp + (<usize>c << 2), load<i32>(ap + (<usize>c << 2)) == p + c ? load<f32>(gp + (<usize>c << 2)) : 0);
    }
  }
}

/** out pixels [start, end) of average pooling over the real (non-padding) cells of each window. */
export function avgpool2d(x: usize, H: i32, W: i32, C: i32, KH: i32, KW: i32, sH: i32, sW: i32, pT: i32, pL: i32, OH: i32, OW: i32, out: usize, start: i32, end: i32, scratch: usize): void {
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
    const inv = <f32>1 / <f32>((kh1 - kh0) * (kw1 - kw0));
    const invv = f32x4.splat(inv);
    const first = x + ((<usize>(n * H + ih0 + kh0) * <usize>W + <usize>(iw0 + kw0)) * <usize>C << 2);
    const rowB = <usize>W * <usize>C << 2;
    const cellB = <usize>C << 2;
    const op = out + (<usize>m * <usize>C << 2);
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      let s = f32x4.splat(0);
      let row = first + (<usize>c << 2);
      for (let kh = kh0; kh < kh1; kh++) {
        let cell = row;
        for (let kw = kw0; kw < kw1; kw++) {
          s = f32x4.add(s, v128.load(cell));
          cell += cellB;
        }
        row += rowB;
      }
      v128.store(op + (<usize>c << 2), f32x4.mul(s, invv));
    }
    for (; c < C; c++) {
      let s: f32 = 0;
      let row = first + (<usize>c << 2);
      for (let kh = kh0; kh < kh1; kh++) {
        let cell = row;
        for (let kw = kw0; kw < kw1; kw++) {
          s += load<f32>(cell);
          cell += cellB;
        }
        row += rowB;
      }
      store<f32>(op + (<usize>c << 2), s * inv);
    }
  }
}

/**
 * dx pixels [start, end) of average pooling's backward (pixel p = (n, ih, iw)): the sum of
 * dy / count over the windows containing the pixel. A gather: threads write disjoint pixels.
 */
export function avgpool2d_backward(dy: usize, H: i32, W: i32, C: i32, KH: i32, KW: i32, sH: i32, sW: i32, pT: i32, pL: i32, OH: i32, OW: i32, dx: usize, start: i32, end: i32, scratch: usize): void {
  const hw = H * W;
  for (let p = start; p < end; p++) {
    const n = p / hw;
    const r = p - n * hw;
    const ih = r / W;
    const iw = r - ih * W;
    // Windows oh with oh*sH - pT <= ih <= oh*sH - pT + KH - 1.
    const th = ih + pT - KH + 1;
    const tw = iw + pL - KW + 1;
    const oh0 = th <= 0 ? 0 : (th + sH - 1) / sH;
    const oh1 = min(OH - 1, (ih + pT) / sH);
    const ow0 = tw <= 0 ? 0 : (tw + sW - 1) / sW;
    const ow1 = min(OW - 1, (iw + pL) / sW);
    const dst = dx + (<usize>p * <usize>C << 2);
    zeroRun(dst, C);
    for (let oh = oh0; oh <= oh1; oh++) {
      const h0 = oh * sH - pT;
      const ch = min(h0 + KH, H) - max(h0, 0);
      for (let ow = ow0; ow <= ow1; ow++) {
        const w0 = ow * sW - pL;
        const cw = min(w0 + KW, W) - max(w0, 0);
        const src = dy + ((<usize>((n * OH + oh) * OW + ow) * <usize>C) << 2);
        addScaledRun(dst, src, <f32>1 / <f32>(ch * cw), C);
      }
    }
  }
}

/** out[n, :] = mean over the HW pixels of x[n] (x: [N, HW, C]) for images [start, end). */
export function global_avg_pool(x: usize, HW: i32, C: i32, out: usize, start: i32, end: i32, scratch: usize): void {
  const inv = <f32>1 / <f32>HW;
  const rowB = <usize>C << 2;
  for (let n = start; n < end; n++) {
    const op = out + <usize>n * rowB;
    zeroRun(op, C);
    let src = x + <usize>n * <usize>HW * rowB;
    for (let p = 0; p < HW; p++) {
      addScaledRun(op, src, 1, C);
      src += rowB;
    }
    // Sum first, scale once: one rounding of the mean instead of HW.
    const iv = f32x4.splat(inv);
    let c = 0;
    for (; c + 4 <= C; c += 4) v128.store(op + (<usize>c << 2), f32x4.mul(v128.load(op + (<usize>c << 2)), iv));
    for (; c < C; c++) store<f32>(op + (<usize>c << 2), load<f32>(op + (<usize>c << 2)) * inv);
  }
}

/** dx[n, p, :] = dy[n, :] / HW for pixels [start, end) of the N*HW pixels. */
export function global_avg_pool_backward(dy: usize, HW: i32, C: i32, dx: usize, start: i32, end: i32, scratch: usize): void {
  const inv = <f32>1 / <f32>HW;
  const rowB = <usize>C << 2;
  for (let p = start; p < end; p++) {
    const dst = dx + <usize>p * rowB;
    zeroRun(dst, C);
    addScaledRun(dst, dy + <usize>(p / HW) * rowB, inv, C);
  }
}
