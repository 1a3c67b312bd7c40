// WebGPU kernels: max / average / global average pooling and their backward passes (NHWC).
// Semantics: src/backend/backend.ts and the reference backend.
//
// Shapes: x, dx [N, H, W, C]; y, dy, argmax [N, OH, OW, C]. One invocation per output element with
// C innermost, so neighbouring threads read neighbouring channels (coalesced). The backward passes
// are gathers — each dx cell sums the outputs whose windows hold it, in output order — so they are
// deterministic and need no atomics even where windows overlap.
// Not for: the fused int8 conv + pool (int8.ts), conv geometry (shape/window.ts).

import type { Pool2dGeometry } from '../../shape/window.js';
import { channelTile, colsumFn } from './columns.js';
import { bind, grid1, type KernelSpec, type Kernels, main1, specFor } from './wgsl.js';

/** The geometry as parameter words, in the order of GEOM_PARAMS (after n) and OUT_PARAMS. */
function geomWords(g: Pool2dGeometry): number[] {
  return [g.H, g.W, g.C, g.KH, g.KW, g.strideH, g.strideW, g.padTop, g.padLeft, g.OH, g.OW];
}

/** Parameters of every windowed kernel: n (invocations), then the geometry. */
const GEOM_PARAMS = ['n:u32', 'H:i32', 'W:i32', 'C:u32', 'KH:i32', 'KW:i32', 'sH:i32', 'sW:i32', 'pT:i32', 'pL:i32'];
const OUT_PARAMS = ['OH:i32', 'OW:i32'];

/** WGSL: output element i → (b = batch, oh, ow, c) and the window's top-left corner (h0, w0). */
const OUTPUT_COORDS = `
  let c = i % C; var m = i / C;
  let ow = i32(m % u32(OW)); m = m / u32(OW);
  let oh = i32(m % u32(OH)); let b = m / u32(OH);
  let h0 = oh * sH - pT; let w0 = ow * sW - pL;`;

function maxPoolSpec(withArgmax: boolean): KernelSpec {
  return {
    name: withArgmax ? 'maxpool2d_argmax' : 'maxpool2d',
    bindings: withArgmax ? ['x:f32', 'y:f32!', 'am:i32!'] : ['x:f32', 'y:f32!'],
    params: [...GEOM_PARAMS, ...OUT_PARAMS],
    // The first tap wins ties; a later one only when strictly greater (so a leading NaN stays).
    body: main1(`${OUTPUT_COORDS}
  var best = -1;
  var bv = 0.0;
  for (var kh = 0; kh < KH; kh++) {
    let ih = h0 + kh;
    if (ih < 0 || ih >= H) { continue; }
    for (var kw = 0; kw < KW; kw++) {
      let iw = w0 + kw;
      if (iw < 0 || iw >= W) { continue; }
      let p = i32(((b * u32(H) + u32(ih)) * u32(W) + u32(iw)) * C + c);
      let v = x[o_x + u32(p)];
      if (best < 0 || v > bv) { best = p; bv = v; }
    }
  }
  y[o_y + i] = bv;
  ${withArgmax ? 'am[o_am + i] = best;' : ''}`),
  };
}
const MAXPOOL = maxPoolSpec(false);
const MAXPOOL_ARGMAX = maxPoolSpec(true);

/** argmax (int32, y's size; 0 = skip) receives x's flat index of each window's max. */
export function maxPool2d(k: Kernels, x: number, g: Pool2dGeometry, out: number, argmax: number): void {
  const n = g.N * g.OH * g.OW * g.C;
  const binds = [bind(x, g.N * g.H * g.W * g.C), bind(out, n)];
  if (argmax) k.run1(MAXPOOL_ARGMAX, [...binds, bind(argmax, n)], [n, ...geomWords(g)], n);
  else k.run1(MAXPOOL, binds, [n, ...geomWords(g)], n);
}

const AVGPOOL: KernelSpec = {
  name: 'avgpool2d',
  bindings: ['x:f32', 'y:f32!'],
  params: [...GEOM_PARAMS, ...OUT_PARAMS],
  body: main1(`${OUTPUT_COORDS}
  let kh0 = max(0, -h0); let kh1 = min(KH, H - h0);
  let kw0 = max(0, -w0); let kw1 = min(KW, W - w0);
  var s = 0.0;
  for (var kh = kh0; kh < kh1; kh++) {
    let row = (b * u32(H) + u32(h0 + kh)) * u32(W);
    for (var kw = kw0; kw < kw1; kw++) { s += x[o_x + (row + u32(w0 + kw)) * C + c]; }
  }
  y[o_y + i] = s / f32((kh1 - kh0) * (kw1 - kw0));`),
};

/** Padding cells not counted. */
export function avgPool2d(k: Kernels, x: number, g: Pool2dGeometry, out: number): void {
  const n = g.N * g.OH * g.OW * g.C;
  k.run1(AVGPOOL, [bind(x, g.N * g.H * g.W * g.C), bind(out, n)], [n, ...geomWords(g)], n);
}

/**
 * WGSL: input element i → (b, ih, iw, c) and the output rows / columns whose windows hold it,
 * oh in [oh0, oh1), ow in [ow0, ow1).
 */
const INPUT_WINDOWS = `
  let c = i % C; var m = i / C;
  let iw = i32(m % u32(W)); m = m / u32(W);
  let ih = i32(m % u32(H)); let b = m / u32(H);
  let oh0 = max(0, (ih + pT - KH + sH) / sH); let oh1 = min(OH, (ih + pT) / sH + 1);
  let ow0 = max(0, (iw + pL - KW + sW) / sW); let ow1 = min(OW, (iw + pL) / sW + 1);`;
// (ih + pT − KH + 1) / sH rounded up is (ih + pT − KH + sH) / sH for a non-negative numerator; a
// negative one truncates towards 0 and max(0, …) takes over.

const MAXPOOL_BACKWARD: KernelSpec = {
  name: 'maxpool2d_backward',
  bindings: ['dy:f32', 'am:i32', 'dx:f32!'],
  params: [...GEOM_PARAMS, ...OUT_PARAMS],
  body: main1(`${INPUT_WINDOWS}
  var s = 0.0;
  for (var oh = oh0; oh < oh1; oh++) {
    for (var ow = ow0; ow < ow1; ow++) {
      let j = ((b * u32(OH) + u32(oh)) * u32(OW) + u32(ow)) * C + c;
      if (am[o_am + j] == i32(i)) { s += dy[o_dy + j]; }
    }
  }
  dx[o_dx + i] = s;`),
};

/**
 * dx = 0, then dx[argmax[j]] += dy[j], for an argmax from maxPool2d with the same geometry (each
 * index inside its own window, which is where the gather looks for it).
 */
export function maxPool2dBackward(k: Kernels, dy: number, argmax: number, g: Pool2dGeometry, dx: number): void {
  const n = g.N * g.H * g.W * g.C;
  const m = g.N * g.OH * g.OW * g.C;
  k.run1(MAXPOOL_BACKWARD, [bind(dy, m), bind(argmax, m), bind(dx, n)], [n, ...geomWords(g)], n);
}

const AVGPOOL_BACKWARD: KernelSpec = {
  name: 'avgpool2d_backward',
  bindings: ['dy:f32', 'dx:f32!'],
  params: [...GEOM_PARAMS, ...OUT_PARAMS],
  body: main1(`${INPUT_WINDOWS}
  var s = 0.0;
  for (var oh = oh0; oh < oh1; oh++) {
    let h0 = oh * sH - pT;
    let rows = min(KH, H - h0) - max(0, -h0);
    for (var ow = ow0; ow < ow1; ow++) {
      let w0 = ow * sW - pL;
      let cols = min(KW, W - w0) - max(0, -w0);
      s += dy[o_dy + ((b * u32(OH) + u32(oh)) * u32(OW) + u32(ow)) * C + c] / f32(rows * cols);
    }
  }
  dx[o_dx + i] = s;`),
};

/** dx = each output's gradient spread evenly over the real cells of its window. */
export function avgPool2dBackward(k: Kernels, dy: number, g: Pool2dGeometry, dx: number): void {
  const n = g.N * g.H * g.W * g.C;
  k.run1(AVGPOOL_BACKWARD, [bind(dy, g.N * g.OH * g.OW * g.C), bind(dx, n)], [n, ...geomWords(g)], n);
}

// Few pixels: one invocation per (b, c) sums its HW pixels (neighbours read neighbouring channels).
const GLOBAL_AVG_POOL_SMALL: KernelSpec = {
  name: 'global_avg_pool_small',
  bindings: ['x:f32', 'y:f32!'],
  params: ['n:u32', 'HW:u32', 'C:u32'],
  body: main1(`let b = i / C;
  let c = i % C;
  var s = 0.0;
  for (var p = 0u; p < HW; p++) { s += x[o_x + (b * HW + p) * C + c]; }
  y[o_y + i] = s / f32(HW);`),
};

// Many pixels: workgroup (cb, b) holds CT channels of batch b; its 256 / CT lanes stride the
// pixels (columns.ts).
const gapSpecs = new Map<number, KernelSpec>();
function gapSpec(ct: number): KernelSpec {
  const lanes = 256 / ct;
  return specFor(gapSpecs, ct, () => ({
    name: `global_avg_pool_ct${ct}`,
    bindings: ['x:f32', 'y:f32!'],
    params: ['groups:u32', 'cblocks:u32', 'HW:u32', 'C:u32'],
    body: `${colsumFn(ct)}
@compute @workgroup_size(256) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  $P
  let g = wid.y * nwg.x + wid.x;
  if (g >= groups) { return; }
  let c = (g % cblocks) * ${ct}u + lid % ${ct}u;
  let b = g / cblocks;
  var s = 0.0;
  if (c < C) {
    for (var p = lid / ${ct}u; p < HW; p += ${lanes}u) { s += x[o_x + (b * HW + p) * C + c]; }
  }
  let t = colsum(lid, s);
  if (lid < ${ct}u && c < C) { y[o_y + b * C + c] = t / f32(HW); }
}`,
  }));
}

/** Pixels up to which one invocation sums a whole (b, c) column. */
const GAP_SMALL_HW = 64;

/** y[N, C] = the mean of x[N, HW, C] over HW. */
export function globalAvgPool(k: Kernels, x: number, N: number, HW: number, C: number, out: number): void {
  const binds = [bind(x, N * HW * C), bind(out, N * C)];
  if (HW <= GAP_SMALL_HW) {
    k.run1(GLOBAL_AVG_POOL_SMALL, binds, [N * C, HW, C], N * C);
    return;
  }
  const ct = channelTile(C);
  const cblocks = Math.ceil(C / ct);
  const groups = N * cblocks;
  if (groups === 0) return;
  k.run(gapSpec(ct), binds, [groups, cblocks, HW, C], grid1(groups, 1));
}

const GLOBAL_AVG_POOL_BACKWARD: KernelSpec = {
  name: 'global_avg_pool_backward',
  bindings: ['dy:f32', 'dx:f32!'],
  params: ['n:u32', 'HW:u32', 'C:u32'],
  body: main1('dx[o_dx + i] = dy[o_dy + (i / (HW * C)) * C + i % C] / f32(HW);'),
};

/** dx[N, HW, C] = dy[N, C] / HW on every pixel. */
export function globalAvgPoolBackward(k: Kernels, dy: number, N: number, HW: number, C: number, dx: number): void {
  const n = N * HW * C;
  k.run1(GLOBAL_AVG_POOL_BACKWARD, [bind(dy, N * C), bind(dx, n)], [n, HW, C], n);
}
