// WebGPU kernels: transpose, slice (and its backward), concat. Semantics: src/backend/backend.ts
// and the reference backend.
//
// Every op first merges adjacent axes that move together (and drops size-1 axes of a transpose),
// so most calls become rank 1–3. A transpose that keeps the innermost axis, and a slice, are
// gathers with the inner run contiguous on both sides; a transpose that moves the innermost axis
// goes through 32×32 tiles in workgroup memory, so both its reads and its writes are coalesced.
// sliceBackward writes all of dx in one pass (zeros outside the window); concat copies each input
// into its window of the output as a 2-D block.
// Not for: broadcasting (elementwise.ts), gathers by index (gather.ts).

import { ShapeError, ValueError } from '../../errors.js';
import { concatAxis } from '../../shape/window.js';
import { WebGpuError } from './device.js';
import { copy, fill } from './elementwise.js';
import { bind, grid1, type KernelSpec, type Kernels, main1, specFor } from './wgsl.js';

/** Parameter words of a dispatch (64, less one offset word per binding; every kernel here has 2). */
const WORDS = 62;

function numel(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

function denseStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let k = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = k;
    k *= shape[d];
  }
  return s;
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Whether r axes of `perAxis` words each fit beside `fixed` words. */
function fits(fixed: number, perAxis: number, r: number): boolean {
  return fixed + perAxis * r <= WORDS;
}

/**
 * WGSL statements, unrolled for rank r, that declare each `strides` entry's name as Σ over axes of
 * the coordinate of <i> (dims at parameter word `dims`) · stride (words from that entry's `word`).
 * Constant word indices keep the dims and strides in registers instead of indexed uniform reads.
 */
function unravel(i: string, r: number, dims: number, strides: readonly { name: string; word: number }[]): string {
  const lines = [`var rem_${i} = ${i};`, ...strides.map((s) => `var ${s.name} = 0u;`)];
  for (let d = r - 1; d >= 0; d--) {
    const c = d === 0 ? `rem_${i}` : `rem_${i} % pu_(${dims + d}u)`;
    lines.push(`{ let c = ${c};`);
    for (const s of strides) lines.push(`  ${s.name} += c * pu_(${s.word + d}u);`);
    if (d > 0) lines.push(`  rem_${i} = rem_${i} / pu_(${dims + d}u);`);
    lines.push('}');
  }
  return lines.join('\n  ');
}

// gather: y[i] = x[off + Σ coordinate(i over dims) · strides]; scatter: y[off + …] = x[i]. Words
// after the 2 offsets: n, off, the r (compiled in) dims, then the strides.
type Move = 'gather' | 'scatter';
const moveSpecs = new Map<string, KernelSpec>();
function moveSpec(move: Move, r: number): KernelSpec {
  return specFor(moveSpecs, `${move}${r}`, () => ({
    name: `layout_${move}_r${r}`,
    bindings: ['x:f32', 'y:f32!'],
    params: ['n:u32', 'off:u32'],
    body: main1(`${unravel('i', r, 4, [{ name: 'at', word: 4 + r }])}
  ${move === 'gather' ? 'y[o_y + i] = x[o_x + off + at];' : 'y[o_y + off + at] = x[o_x + i];'}`),
  }));
}

/** Moves the n = Π dims elements between a dense side and a strided one (`off`, `strides`). */
function move(
  k: Kernels,
  op: string,
  how: Move,
  x: number,
  xCount: number,
  off: number,
  dims: number[],
  strides: number[],
  y: number,
  yCount: number,
): void {
  const r = dims.length;
  if (!fits(2, 2, r)) throw new WebGpuError(`webgpu ${op}: rank ${r} after merging axes (at most ${(WORDS - 2) / 2})`);
  const n = numel(dims);
  k.run1(moveSpec(how, r), [bind(x, xCount), bind(y, yCount)], [n, off, ...dims, ...strides], n);
}

// A batch of 2-D transposes: x [..., B, ..., A] → out [..., A, ..., B] through a 32×32 tile (33
// columns, so the transposed reads hit distinct banks). Words after the 2 offsets: groups, tiles
// along A, along B, nA, nB, B's stride in x, A's stride in out, then the nb batch dims (nb is
// compiled in), their strides in x and in out.
const TILE = 32;
const MIN_TILED = 16;
const tiledSpecs = new Map<number, KernelSpec>();
function tiledSpec(nb: number): KernelSpec {
  return specFor(tiledSpecs, nb, () => ({
    name: `layout_transpose_tiled_b${nb}`,
    bindings: ['x:f32', 'y:f32!'],
    params: ['groups:u32', 'tilesA:u32', 'tilesB:u32', 'nA:u32', 'nB:u32', 'sBx:u32', 'sAy:u32'],
    body: `var<workgroup> tile: array<f32, ${TILE * (TILE + 1)}>;
@compute @workgroup_size(256) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  $P
  let g = wid.y * nwg.x + wid.x;
  if (g >= groups) { return; }
  let ta = g % tilesA;
  let tb = (g / tilesA) % tilesB;
  let bi = g / (tilesA * tilesB);
  ${unravel('bi', nb, 9, [
    { name: 'bx', word: 9 + nb },
    { name: 'by', word: 9 + 2 * nb },
  ])}
  let tx = lid % ${TILE}u;
  let ty = lid / ${TILE}u;
  for (var j = 0u; j < ${TILE}u; j += 8u) {
    let a = ta * ${TILE}u + tx;
    let b = tb * ${TILE}u + ty + j;
    if (a < nA && b < nB) { tile[(ty + j) * ${TILE + 1}u + tx] = x[o_x + bx + b * sBx + a]; }
  }
  workgroupBarrier();
  for (var j = 0u; j < ${TILE}u; j += 8u) {
    let a = ta * ${TILE}u + ty + j;
    let b = tb * ${TILE}u + tx;
    if (a < nA && b < nB) { y[o_y + by + a * sAy + b] = tile[tx * ${TILE + 1}u + ty + j]; }
  }
}`,
  }));
}

/** The transpose with size-1 axes dropped and axes that stay adjacent and in order merged. */
export function mergeTranspose(shape: readonly number[], perm: readonly number[]): { shape: number[]; perm: number[] } {
  const kept = [...shape.keys()].filter((a) => shape[a] !== 1);
  const rank = new Map(kept.map((a, j) => [a, j]));
  const p = perm.filter((a) => shape[a] !== 1).map((a) => rank.get(a) ?? 0);
  const s = kept.map((a) => shape[a]);
  // Groups of input axes a, a+1, … that appear consecutively in p.
  const groups: number[][] = [];
  for (const a of p) {
    const last = groups[groups.length - 1];
    if (last && last[last.length - 1] + 1 === a) last.push(a);
    else groups.push([a]);
  }
  const order = [...groups].sort((u, v) => u[0] - v[0]);
  return {
    shape: order.map((grp) => numel(grp.map((a) => s[a]))),
    perm: groups.map((grp) => order.indexOf(grp)),
  };
}

/** out = x.permute(perm): out[shape[perm[0]], …, shape[perm[r−1]]]. */
export function transpose(k: Kernels, x: number, shape: readonly number[], perm: readonly number[], out: number): void {
  if (perm.length !== shape.length || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) {
    throw new ValueError(`transpose: perm [${perm.join(', ')}] is not a permutation of ${shape.length} axes`);
  }
  const n = numel(shape);
  if (n === 0) return;
  const m = mergeTranspose(shape, perm);
  const r = m.shape.length;
  if (r <= 1) {
    copy(k, x, out, n);
    return;
  }
  const xs = denseStrides(m.shape);
  const outShape = m.perm.map((a) => m.shape[a]);
  // Tiles where the innermost axis moves and both innermost axes fill most of a tile; otherwise a
  // gather (a size-3 axis read through 32-wide tiles would idle most of the workgroup).
  const [nA, nB] = [m.shape[r - 1], m.shape[m.perm[r - 1]]];
  const batchRank = r - 2;
  if (m.perm[r - 1] === r - 1 || Math.min(nA, nB) < MIN_TILED || !fits(7, 3, batchRank)) {
    move(
      k,
      'transpose',
      'gather',
      x,
      n,
      0,
      outShape,
      m.perm.map((a) => xs[a]),
      out,
      n,
    );
    return;
  }
  // Tiles over A = x's innermost axis and B = out's innermost axis; the rest is the batch.
  const A = r - 1;
  const B = m.perm[r - 1];
  const ys = denseStrides(outShape);
  const batch = m.perm.map((a, j) => ({ a, j })).filter(({ a }) => a !== A && a !== B);
  const [tilesA, tilesB] = [Math.ceil(nA / TILE), Math.ceil(nB / TILE)];
  const groups = tilesA * tilesB * numel(batch.map(({ a }) => m.shape[a]));
  k.run(
    tiledSpec(batch.length),
    [bind(x, n), bind(out, n)],
    [
      groups,
      tilesA,
      tilesB,
      nA,
      nB,
      xs[B],
      ys[m.perm.indexOf(A)],
      ...batch.map(({ a }) => m.shape[a]),
      ...batch.map(({ a }) => xs[a]),
      ...batch.map(({ j }) => ys[j]),
    ],
    grid1(groups, 1),
  );
}

function checkWindow(op: string, shape: readonly number[], begin: readonly number[], size: readonly number[]): void {
  const ok =
    begin.length === shape.length &&
    size.length === shape.length &&
    shape.every(
      (d, a) =>
        Number.isInteger(begin[a]) &&
        Number.isInteger(size[a]) &&
        begin[a] >= 0 &&
        size[a] >= 0 &&
        begin[a] + size[a] <= d,
    );
  if (!ok) throw new ShapeError(`${op}: window begin ${fmt(begin)} size ${fmt(size)} does not fit ${fmt(shape)}`);
}

/** The window with each axis merged into the one before it where it is taken whole. */
export function mergeWindow(
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
): { shape: number[]; begin: number[]; size: number[] } {
  const m = { shape: [shape[0]], begin: [begin[0]], size: [size[0]] };
  for (let a = 1; a < shape.length; a++) {
    const last = m.shape.length - 1;
    if (begin[a] === 0 && size[a] === shape[a]) {
      m.shape[last] *= shape[a];
      m.begin[last] *= shape[a];
      m.size[last] *= shape[a];
    } else {
      m.shape.push(shape[a]);
      m.begin.push(begin[a]);
      m.size.push(size[a]);
    }
  }
  return m;
}

/** The dense strides of a window's tensor and the flat index where the window starts. */
function windowStart(m: { shape: number[]; begin: number[] }): { xs: number[]; off: number } {
  const xs = denseStrides(m.shape);
  return { xs, off: m.begin.reduce((t, b, a) => t + b * xs[a], 0) };
}

/** out[size] = the window of x[shape] at begin. */
export function slice(
  k: Kernels,
  x: number,
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  out: number,
): void {
  checkWindow('slice', shape, begin, size);
  if (numel(size) === 0) return;
  const m = mergeWindow(shape, begin, size);
  const { xs, off } = windowStart(m);
  move(k, 'slice', 'gather', x, numel(shape), off, m.size, xs, out, numel(size));
}

// dx[i] = dy[i's coordinate − begin] inside the window, else 0. Words after the 2 offsets: n, then
// r (compiled in) each of dims, begin, size, dy strides.
const sliceBackwardSpecs = new Map<number, KernelSpec>();
function sliceBackwardSpec(r: number): KernelSpec {
  return specFor(sliceBackwardSpecs, r, () => {
    const axes: string[] = [];
    for (let d = r - 1; d >= 0; d--) {
      axes.push(`{ let c = ${d === 0 ? 'rem' : `rem % pu_(${3 + d}u)`};${d > 0 ? ` rem = rem / pu_(${3 + d}u);` : ''}
    let b = pu_(${3 + r + d}u);
    inside = inside && c >= b && c < b + pu_(${3 + 2 * r + d}u);
    off += (c - b) * pu_(${3 + 3 * r + d}u); }`);
    }
    return {
      name: `layout_slice_backward_r${r}`,
      bindings: ['dy:f32', 'dx:f32!'],
      params: ['n:u32'],
      body: main1(`var rem = i;
  var off = 0u;
  var inside = true;
  ${axes.join('\n  ')}
  dx[o_dx + i] = select(0.0, dy[o_dy + select(0u, off, inside)], inside);`),
    };
  });
}

/** dx[shape] = 0 except the window at begin, which gets dy[size]. */
export function sliceBackward(
  k: Kernels,
  dy: number,
  size: readonly number[],
  begin: readonly number[],
  dx: number,
  shape: readonly number[],
): void {
  checkWindow('sliceBackward', shape, begin, size);
  const n = numel(shape);
  if (n === 0) return;
  if (numel(size) === 0) {
    fill(k, dx, n, 0);
    return;
  }
  const m = mergeWindow(shape, begin, size);
  const r = m.shape.length;
  if (!fits(1, 4, r)) {
    // Too many axes for one pass: zeros, then dy scattered into its window.
    fill(k, dx, n, 0);
    const { xs, off } = windowStart(m);
    move(k, 'sliceBackward', 'scatter', dy, numel(size), off, m.size, xs, dx, n);
    return;
  }
  k.run1(
    sliceBackwardSpec(r),
    [bind(dy, numel(size)), bind(dx, n)],
    [n, ...m.shape, ...m.begin, ...m.size, ...denseStrides(m.size)],
    n,
  );
}

// y[row, off + j] (rows of W) = x[row, j] (rows of w): one input's block of a concat.
const CONCAT_BLOCK: KernelSpec = {
  name: 'layout_concat_block',
  bindings: ['x:f32', 'y:f32!'],
  params: ['n:u32', 'w:u32', 'W:u32', 'off:u32'],
  body: main1('y[o_y + (i / w) * W + off + i % w] = x[o_x + i];'),
};

/** out = the inputs joined along axis (negative counts from the end). */
export function concat(
  k: Kernels,
  inputs: readonly { buf: number; shape: readonly number[] }[],
  axis: number,
  out: number,
): void {
  const ax = concatAxis(
    inputs.map((t) => t.shape),
    axis,
  );
  const first = inputs[0].shape;
  // Each input is [outer, shape[ax] · inner] inside out [outer, total · inner].
  const inner = numel(first.slice(ax + 1));
  const outer = numel(first.slice(0, ax));
  const W = inputs.reduce((t, { shape }) => t + shape[ax], 0) * inner;
  let off = 0;
  for (const { buf, shape } of inputs) {
    const w = shape[ax] * inner;
    const n = outer * w;
    if (n > 0) k.run1(CONCAT_BLOCK, [bind(buf, n), bind(out, outer * W)], [n, w, W, off], n);
    off += w;
  }
}
