// 2-D max/average pooling and global average pooling on the engine for NHWC images: geometry
// checks and thread splitting around the wasm kernels (as/pooling.ts).
// Not for: tensors or autograd (src/ops/ calls these with raw pointers).
import type { Pool2dGeometry } from '../shape/window.js';
import type { Engine } from './engine.js';

/** Elements a thread should read before another thread is worth waking. */
const MIN_ELEMS_PER_THREAD = 1 << 15;

function windowArgs(g: Pool2dGeometry): number[] {
  return [g.H, g.W, g.C, g.KH, g.KW, g.strideH, g.strideW, g.padTop, g.padLeft, g.OH, g.OW];
}

/** y [N, OH, OW, C] = max over each window; argmax (i32, same size as y, 0 = skip) gets x's flat index. */
export function maxPool2d(e: Engine, x: number, g: Pool2dGeometry, out: number, argmax: number): void {
  e.split(
    'maxpool2d',
    [x, ...windowArgs(g), out, argmax],
    g.N * g.OH * g.OW,
    1,
    Math.ceil(MIN_ELEMS_PER_THREAD / (g.KH * g.KW * g.C)),
  );
}

/**
 * dx [N, H, W, C] = 0, then dy [N, OH, OW, C] scatter-added at the argmax indices of maxPool2d.
 * Non-overlapping windows (stride >= window, the usual 2x2/2): a one-pass gather instead.
 */
export function maxPool2dBackward(e: Engine, dy: number, argmax: number, g: Pool2dGeometry, dx: number): void {
  if (g.strideH >= g.KH && g.strideW >= g.KW) {
    const { H, W, C, KH, KW, strideH, strideW, padTop, padLeft, OH, OW } = g;
    const args = [dy, argmax, H, W, C, KH, KW, strideH, strideW, padTop, padLeft, OH, OW, dx];
    e.split('maxpool2d_backward_gather', args, g.N * H, 1, Math.ceil(MIN_ELEMS_PER_THREAD / (W * C)));
    return;
  }
  const inLen = g.H * g.W * g.C;
  e.split(
    'maxpool2d_backward',
    [dy, argmax, g.OH * g.OW * g.C, inLen, dx],
    g.N,
    1,
    Math.ceil(MIN_ELEMS_PER_THREAD / inLen),
  );
}

/** y [N, OH, OW, C] = mean over each window's real cells (padding not counted). */
export function avgPool2d(e: Engine, x: number, g: Pool2dGeometry, out: number): void {
  e.split(
    'avgpool2d',
    [x, ...windowArgs(g), out],
    g.N * g.OH * g.OW,
    1,
    Math.ceil(MIN_ELEMS_PER_THREAD / (g.KH * g.KW * g.C)),
  );
}

/** dx [N, H, W, C] = avgPool2d's gradient given dy [N, OH, OW, C] (overwrites dx). */
export function avgPool2dBackward(e: Engine, dy: number, g: Pool2dGeometry, dx: number): void {
  const perPixel = Math.ceil(g.KH / g.strideH) * Math.ceil(g.KW / g.strideW) * g.C;
  e.split(
    'avgpool2d_backward',
    [dy, ...windowArgs(g), dx],
    g.N * g.H * g.W,
    1,
    Math.ceil(MIN_ELEMS_PER_THREAD / perPixel),
  );
}

/** y [N, C] = mean of x [N, HW, C] over its HW pixels. */
export function globalAvgPool(e: Engine, x: number, N: number, HW: number, C: number, out: number): void {
  e.split('global_avg_pool', [x, HW, C, out], N, 1, Math.ceil(MIN_ELEMS_PER_THREAD / (HW * C)));
}

/** dx [N, HW, C] = dy [N, C] / HW broadcast over the pixels. */
export function globalAvgPoolBackward(e: Engine, dy: number, N: number, HW: number, C: number, dx: number): void {
  e.split('global_avg_pool_backward', [dy, HW, C, dx], N * HW, 1, Math.ceil(MIN_ELEMS_PER_THREAD / C));
}
