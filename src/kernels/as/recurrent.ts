// Recurrent scans for inference: one GRU or LSTM direction over the input projections of every
// step, the whole time loop inside one call — per step the recurrent GEMV h·Wh + bh in SIMD, the
// gate activations and the state update, with no return to JavaScript between steps (rnnscan's
// runtime step; the training forward in src/ops/recurrent.ts keeps every gate for its vjp).
// Shapes (N = batch rows, T = steps, H = hidden, G = 3 gates (GRU z, r, n) or 4 (LSTM i, o, f, c),
// GH = G·H): xw [N, T, GH], y [N, T, H]; rows are independent, so the pool splits [start, end).
// Two weight forms:
//   f32: wh [H, GH] row-major.
//   i8:  wh as i16 k-pairs, [ceil(H/2)][GH4][2] (GH4 = GH rounded up to 4), each column's pair
//        (w[2p, j], w[2p+1, j]) side by side for i32x4.dot_i16x8_s; the state enters the GEMV as
//        16-bit fixed point q = round(h · 2^14) (|h| < 1 for GRU and LSTM, so |q| ≤ 2^14 and
//        H·2^14·127 stays far inside i32 for H ≤ 1024); hw[j] = acc_j · scale[j] + bh[j] with
//        scale[j] = weight scale_j / 2^14.
// Scratch (per call, laid out by row so threads never share): state [N, 2·H] f32 (h, then LSTM's
// c), hw [N, GH4] f32, qh [N, Hp] i16 (Hp = H rounded up to 2; i8 only).
// Not for: packing (src/kernels/recurrent.ts), training (no saved gates).
import { madd, sigmoid, tanhf } from './gemm_epilogue';
import { sigmoid4, tanh4 } from './math4';

const CELL_GRU: i32 = 0;

/** hw[0, GH) = bh + h[0, H) · wh (f32 wh [H, GH]); bh may be 0 (none). */
// @ts-ignore: decorator
@inline function gemv_f32(h: usize, wh: usize, bh: usize, hw: usize, H: i32, GH: i32): void {
  let j = 0;
  for (; j + 16 <= GH; j += 16) {
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    if (bh) {
      const b = bh + (<usize>j << 2);
      a0 = v128.load(b);
      a1 = v128.load(b, 16);
      a2 = v128.load(b, 32);
      a3 = v128.load(b, 48);
    }
    let p = wh + (<usize>j << 2);
    const stride = <usize>GH << 2;
    for (let k = 0; k < H; k++) {
      const hk = f32x4.splat(load<f32>(h + (<usize>k << 2)));
      a0 = madd(hk, v128.load(p), a0);
      a1 = madd(hk, v128.load(p, 16), a1);
      a2 = madd(hk, v128.load(p, 32), a2);
      a3 = madd(hk, v128.load(p, 48), a3);
      p += stride;
    }
    const o = hw + (<usize>j << 2);
    v128.store(o, a0);
    v128.store(o, a1, 16);
    v128.store(o, a2, 32);
    v128.store(o, a3, 48);
  }
  for (; j + 4 <= GH; j += 4) {
    let a = bh ? v128.load(bh + (<usize>j << 2)) : f32x4.splat(0);
    for (let k = 0; k < H; k++)
      a = madd(f32x4.splat(load<f32>(h + (<usize>k << 2))), v128.load(wh + ((<usize>k * GH + j) << 2)), a);
    v128.store(hw + (<usize>j << 2), a);
  }
  for (; j < GH; j++) {
    let a: f32 = bh ? load<f32>(bh + (<usize>j << 2)) : 0;
    for (let k = 0; k < H; k++) a += load<f32>(h + (<usize>k << 2)) * load<f32>(wh + ((<usize>k * GH + j) << 2));
    store<f32>(hw + (<usize>j << 2), a);
  }
}

/** hw[0, GH) = acc · scale + bh for acc = qh[0, H) · wh (i16 k-pairs, see the header); bh may be 0. */
// @ts-ignore: decorator
@inline function gemv_i8(qh: usize, wh: usize, scale: usize, bh: usize, hw: usize, H: i32, GH: i32): void {
  const P = (H + 1) >> 1;
  const GH4 = (GH + 3) & ~3;
  const stride = <usize>GH4 << 2; // bytes of one k-pair row
  let j = 0;
  for (; j + 16 <= GH4; j += 16) {
    let a0 = i32x4.splat(0);
    let a1 = i32x4.splat(0);
    let a2 = i32x4.splat(0);
    let a3 = i32x4.splat(0);
    let p = wh + (<usize>j << 2);
    for (let k = 0; k < P; k++) {
      const hp = i32x4.splat(load<i32>(qh + (<usize>k << 2)));
      a0 = i32x4.add(a0, i32x4.dot_i16x8_s(hp, v128.load(p)));
      a1 = i32x4.add(a1, i32x4.dot_i16x8_s(hp, v128.load(p, 16)));
      a2 = i32x4.add(a2, i32x4.dot_i16x8_s(hp, v128.load(p, 32)));
      a3 = i32x4.add(a3, i32x4.dot_i16x8_s(hp, v128.load(p, 48)));
      p += stride;
    }
    const o = hw + (<usize>j << 2);
    const s = scale + (<usize>j << 2);
    v128.store(o, f32x4.mul(f32x4.convert_i32x4_s(a0), v128.load(s)));
    v128.store(o, f32x4.mul(f32x4.convert_i32x4_s(a1), v128.load(s, 16)), 16);
    v128.store(o, f32x4.mul(f32x4.convert_i32x4_s(a2), v128.load(s, 32)), 32);
    v128.store(o, f32x4.mul(f32x4.convert_i32x4_s(a3), v128.load(s, 48)), 48);
  }
  for (; j < GH4; j += 4) {
    let a = i32x4.splat(0);
    let p = wh + (<usize>j << 2);
    for (let k = 0; k < P; k++) {
      a = i32x4.add(a, i32x4.dot_i16x8_s(i32x4.splat(load<i32>(qh + (<usize>k << 2))), v128.load(p)));
      p += stride;
    }
    v128.store(hw + (<usize>j << 2), f32x4.mul(f32x4.convert_i32x4_s(a), v128.load(scale + (<usize>j << 2))));
  }
  if (bh) for (let c = 0; c < GH; c++) store<f32>(hw + (<usize>c << 2), load<f32>(hw + (<usize>c << 2)) + load<f32>(bh + (<usize>c << 2)));
}

/**
 * One step's gates and state update from x (this step's projections, [GH]) and hw (h·Wh + bh):
 * GRU h = n + z·(h − n), n = tanh(x_n + r·hw_n); LSTM c = f·c + i·g, h = o·tanh(c). Writes the
 * new h to `h` and `y`, and (i8) its fixed-point copy to qh. Four units at a time, then the tail.
 */
// @ts-ignore: decorator
@inline function update(cell: i32, x: usize, hw: usize, h: usize, y: usize, qh: usize, H: i32): void {
  const c = h + (<usize>H << 2);
  const g1 = <usize>H << 2; // bytes between gates
  let j = 0;
  for (; j + 4 <= H; j += 4) {
    const o = <usize>j << 2;
    let hn: v128;
    if (cell == CELL_GRU) {
      const z = sigmoid4(f32x4.add(v128.load(x + o), v128.load(hw + o)));
      const r = sigmoid4(f32x4.add(v128.load(x + o + g1), v128.load(hw + o + g1)));
      const n = tanh4(madd(r, v128.load(hw + o + 2 * g1), v128.load(x + o + 2 * g1)));
      hn = madd(z, f32x4.sub(v128.load(h + o), n), n);
    } else {
      const ig = sigmoid4(f32x4.add(v128.load(x + o), v128.load(hw + o)));
      const og = sigmoid4(f32x4.add(v128.load(x + o + g1), v128.load(hw + o + g1)));
      const fg = sigmoid4(f32x4.add(v128.load(x + o + 2 * g1), v128.load(hw + o + 2 * g1)));
      const g = tanh4(f32x4.add(v128.load(x + o + 3 * g1), v128.load(hw + o + 3 * g1)));
      const ct = madd(fg, v128.load(c + o), f32x4.mul(ig, g));
      v128.store(c + o, ct);
      hn = f32x4.mul(og, tanh4(ct));
    }
    v128.store(h + o, hn);
    v128.store(y + o, hn);
    if (qh) {
      const q = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(hn, f32x4.splat(16384))));
      v128.store64_lane(qh + (<usize>j << 1), i16x8.narrow_i32x4_s(q, q), 0);
    }
  }
  for (; j < H; j++) {
    const o = <usize>j << 2;
    let hn: f32;
    if (cell == CELL_GRU) {
      const z = sigmoid(load<f32>(x + o) + load<f32>(hw + o));
      const r = sigmoid(load<f32>(x + o + g1) + load<f32>(hw + o + g1));
      const n = tanhf(load<f32>(x + o + 2 * g1) + r * load<f32>(hw + o + 2 * g1));
      hn = n + z * (load<f32>(h + o) - n);
    } else {
      const ig = sigmoid(load<f32>(x + o) + load<f32>(hw + o));
      const og = sigmoid(load<f32>(x + o + g1) + load<f32>(hw + o + g1));
      const fg = sigmoid(load<f32>(x + o + 2 * g1) + load<f32>(hw + o + 2 * g1));
      const g = tanhf(load<f32>(x + o + 3 * g1) + load<f32>(hw + o + 3 * g1));
      const ct = fg * load<f32>(c + o) + ig * g;
      store<f32>(c + o, ct);
      hn = og * tanhf(ct);
    }
    store<f32>(h + o, hn);
    store<f32>(y + o, hn);
    if (qh) store<i16>(qh + (<usize>j << 1), <i16>(<i32>nearest<f32>(hn * 16384)));
  }
}

/**
 * Rows [start, end) of a scan (see the header): y[n, t] = h_t for every step t, in time order
 * (reverse: the scan runs from t = T − 1 down); h and c start at 0. f32 weights when qhBuf is 0;
 * otherwise int8 weights as i16 k-pairs with per-column `scale`, the state's fixed-point copy in
 * qhBuf [N, Hp] i16.
 */
export function rnn_scan(
  cell: i32,
  xw: usize,
  wh: usize,
  scale: usize,
  bh: usize,
  T: i32,
  H: i32,
  reverse: i32,
  y: usize,
  state: usize,
  hwBuf: usize,
  qhBuf: usize,
  start: i32,
  end: i32,
  scratch: usize,
): void {
  const G: i32 = cell == CELL_GRU ? 3 : 4;
  const GH = G * H;
  const GH4 = (GH + 3) & ~3;
  const Hp = (H + 1) & ~1;
  for (let n = start; n < end; n++) {
    const h = state + ((<usize>n * 2 * H) << 2);
    memory.fill(h, 0, <usize>(2 * H) << 2);
    const qh = qhBuf ? qhBuf + ((<usize>n * Hp) << 1) : 0;
    if (qh) memory.fill(qh, 0, <usize>Hp << 1);
    const hw = hwBuf + ((<usize>n * GH4) << 2);
    for (let s = 0; s < T; s++) {
      const t = reverse ? T - 1 - s : s;
      const row = <usize>n * T + t;
      if (qh) gemv_i8(qh, wh, scale, bh, hw, H, GH);
      else gemv_f32(h, wh, bh, hw, H, GH);
      update(cell, xw + ((row * GH) << 2), hw, h, y + ((row * H) << 2), qh, H);
    }
  }
}
