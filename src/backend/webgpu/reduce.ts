// WebGPU kernels: reductions (sum/mean/max over axes, argmax, Σx²) and softmax, log-softmax,
// their backward and softmax cross-entropy with label smoothing. Semantics: src/backend/backend.ts
// and the reference backend (reference.ts).
//
// Every reduction is segmented: a workgroup of 256 threads holds S = 256 / T outputs (rows) with T
// lanes each, T a power of two giving each lane about 16 elements (more lanes while the rows are
// too few to fill the GPU; at most 256). Each lane accumulates its strided share sequentially in
// f32, then the T partials meet in a workgroup-memory tree (pairwise, deterministic). Rows of 10
// take one thread each, with no barrier; rows of 30,000 a whole workgroup.
// Axis reductions merge adjacent axes of the same kind first; when the reduced axes are innermost
// the lanes run along memory (row mode), otherwise the outputs do (column mode), so reads coalesce
// either way. Few outputs over a long reduction split the reduction into parts (a second pass, or
// for Σx² the host, sums the parts in float64).
// Not for: elementwise work (elementwise.ts), batch-norm statistics (norm.ts).
import { reducedAxes } from '../../shape/window.js';
import type { ReduceFn } from '../backend.js';
import { WebGpuError } from './device.js';
import { fill } from './elementwise.js';
import { type Bind, bind, fw, grid1, type KernelSpec, type Kernels, main1, specFor } from './wgsl.js';

const WG = 256;
/** Merged kept or reduced axis groups a reduction may have (alternating, so rank ≤ ~2·MAX_GROUPS). */
const MAX_GROUPS = 8;
/** Loads per lane above which a reduction with few workgroups splits into parts. */
const SPLIT_LOADS = 32;
/** Workgroups below which the GPU counts as under-used (split the reduction). */
const FEW_WORKGROUPS = 128;
/** Σx²: elements per workgroup (16 loads per lane) and the most partials read back. */
const SUMSQ_CHUNK = WG * 16;
const SUMSQ_MAX_PARTS = 16384;

function pow2ceil(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Elements a lane should have before a row takes more lanes (fewer barriers, fuller workgroups). */
const LANE_LOADS = 16;

/**
 * Lanes for each of `rows` rows of `len`: a power of two giving each lane about LANE_LOADS
 * elements, doubled (up to one per element and `most`) while the rows fill few workgroups.
 */
function lanesFor(len: number, rows: number, most = WG): number {
  const top = Math.min(most, pow2ceil(Math.max(1, len)));
  let T = Math.min(top, pow2ceil(Math.ceil(len / LANE_LOADS)));
  while (T < top && Math.ceil(rows / (WG / T)) < FEW_WORKGROUPS) T *= 2;
  return T;
}

/**
 * NaN-propagating max (as Math.max), which WGSL's max does not promise. NaN is tested on the bits:
 * lavapipe folds `v != v` to false.
 */
const MAX_FN = `fn nan_(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }
fn mx_(a: f32, b: f32) -> f32 { return select(max(a, b), a + b, nan_(a) || nan_(b)); }`;

// ---- axis reductions -------------------------------------------------------------------------

type AxisOp = 'sum' | 'max';

/** Word positions of the group dims and strides (after 2 binding offsets and the named params). */
const AXIS_PARAMS = ['nOut:u32', 'nRed:u32', 'T:u32', 'row:u32', 'chunk:u32', 'parts:u32', 'nk:u32', 'nr:u32'];
const AXIS_DIV = 2 + AXIS_PARAMS.length;
const AXIS_INIT = AXIS_DIV + 1;
const KEPT = AXIS_INIT + 1;
const RED = KEPT + 2 * MAX_GROUPS;

const axisSpecs = new Map<AxisOp, KernelSpec>();
function axisSpec(op: AxisOp): KernelSpec {
  return specFor(axisSpecs, op, () => {
    const comb = op === 'max' ? 'mx_(a, b)' : 'a + b';
    return {
      name: `reduce_axes_${op}`,
      bindings: ['x:f32', 'y:f32!'],
      params: AXIS_PARAMS,
      body: `
${MAX_FN}
var<workgroup> sh: array<f32, ${WG}>;
fn comb(a: f32, b: f32) -> f32 { return ${comb}; }
/** x's offset of flat index i over ng groups whose dims and strides start at word w. */
fn offsetOf(i: u32, ng: u32, w: u32) -> u32 {
  var rem = i;
  var off = 0u;
  for (var d = i32(ng) - 1; d >= 0; d--) {
    let dim = pu_(w + u32(d));
    off += (rem % dim) * pu_(w + ${MAX_GROUPS}u + u32(d));
    rem = rem / dim;
  }
  return off;
}
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  $P
  let div = bitcast<f32>(pu_(${AXIS_DIV}u));
  let S = ${WG}u / T;
  let perPart = (nOut + S - 1u) / S;
  let g = wid.y * nwg.x + wid.x;
  if (g >= perPart * parts) { return; }
  let p = g / perPart;
  // Row mode: a row's lanes are adjacent threads (they read along memory); column mode: its outputs are.
  let lane = select(lid / S, lid % T, row == 1u);
  let o = (g % perPart) * S + select(lid % S, lid / T, row == 1u);
  let valid = o < nOut;
  var acc = bitcast<f32>(pu_(${AXIS_INIT}u));
  if (valid) {
    let base = offsetOf(o, nk, ${KEPT}u);
    let r1 = min(nRed, (p + 1u) * chunk);
    for (var r = p * chunk + lane; r < r1; r += T) {
      acc = comb(acc, x[o_x + base + offsetOf(r, nr, ${RED}u)]);
    }
  }
  sh[lid] = acc;
  let step = select(S, 1u, row == 1u);
  for (var s = T / 2u; s > 0u; s = s / 2u) {
    workgroupBarrier();
    if (lane < s) { sh[lid] = comb(sh[lid], sh[lid + s * step]); }
  }
  if (valid && lane == 0u) { y[o_y + p * nOut + o] = sh[lid] / div; }
}`,
    };
  });
}

interface Group {
  dim: number;
  stride: number;
  reduced: boolean;
}

/** Adjacent axes of the same kind merged (size-1 axes dropped), outermost first. */
function mergeGroups(shape: readonly number[], reduced: ReadonlySet<number>): Group[] {
  const groups: Group[] = [];
  let stride = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    const dim = shape[d];
    if (dim !== 1) {
      const first = groups[0];
      if (first && first.reduced === reduced.has(d)) first.dim *= dim;
      else groups.unshift({ dim, stride, reduced: reduced.has(d) });
    }
    stride *= dim;
  }
  return groups;
}

interface Layout {
  nOut: number;
  nRed: number;
  /** The reduced axes are innermost: a row's lanes read along memory. */
  row: boolean;
  /** Lanes per output (S = WG / T outputs per workgroup). */
  T: number;
}

function layoutOf(groups: readonly Group[]): Layout {
  const kept = groups.filter((g) => !g.reduced);
  const nOut = kept.reduce((p, g) => p * g.dim, 1);
  const nRed = groups.reduce((p, g) => (g.reduced ? p * g.dim : p), 1);
  const row = kept.length === 0 || groups[groups.length - 1].reduced;
  // Column mode: outputs along the innermost kept group first (coalesced reads), lanes for the rest.
  const T = row ? lanesFor(nRed, nOut) : lanesFor(nRed, nOut, WG / Math.min(WG, pow2ceil(kept[kept.length - 1].dim)));
  return { nOut, nRed, row, T };
}

/** How many parts a reduction should split into: few workgroups, each lane loading much. */
function partsFor({ nOut, nRed, T }: Layout): number {
  const workgroups = Math.ceil(nOut / (WG / T));
  if (workgroups >= FEW_WORKGROUPS || nRed <= T * SPLIT_LOADS) return 1;
  return Math.min(Math.ceil(nRed / (T * SPLIT_LOADS)), Math.ceil((4 * FEW_WORKGROUPS) / workgroups));
}

/** out (or `parts` partials [parts, nOut]) = op over the reduced groups of x, divided by div. */
function runGroups(
  k: Kernels,
  op: AxisOp,
  x: number,
  groups: readonly Group[],
  out: number,
  div: number,
  parts: number,
): void {
  const kept = groups.filter((g) => !g.reduced);
  const red = groups.filter((g) => g.reduced);
  if (kept.length > MAX_GROUPS || red.length > MAX_GROUPS)
    throw new WebGpuError(
      `webgpu reduce: ${groups.length} alternating axis groups after merging axes (at most ${MAX_GROUPS} of each kind)`,
    );
  const { nOut, nRed, row, T } = layoutOf(groups);
  const words = new Array<number>(RED + 2 * MAX_GROUPS - 2).fill(0);
  [nOut, nRed, T, row ? 1 : 0, Math.ceil(nRed / parts), parts, kept.length, red.length].forEach((v, i) => {
    words[i] = v;
  });
  words[AXIS_DIV - 2] = fw(div);
  words[AXIS_INIT - 2] = fw(op === 'max' ? Number.NEGATIVE_INFINITY : 0);
  for (const [at, list] of [
    [KEPT, kept],
    [RED, red],
  ] as const)
    list.forEach((g, i) => {
      words[at - 2 + i] = g.dim;
      words[at - 2 + MAX_GROUPS + i] = g.stride;
    });
  const span = groups.reduce((m, g) => m + (g.dim - 1) * g.stride, 1);
  const workgroups = Math.ceil(nOut / (WG / T)) * parts;
  k.run(axisSpec(op), [bind(x, span), bind(out, nOut * parts)], words, grid1(workgroups * WG, WG));
}

/** out = op over the reduced groups of x / div, through partials where the reduction splits. */
function reduceInto(k: Kernels, op: AxisOp, x: number, groups: readonly Group[], out: number, div: number): void {
  const layout = layoutOf(groups);
  const parts = partsFor(layout);
  if (parts === 1) {
    runGroups(k, op, x, groups, out, div, 1);
    return;
  }
  const tmp = k.dev.alloc(parts * layout.nOut * 4);
  runGroups(k, op, x, groups, tmp, 1, parts);
  const partials = mergeGroups([parts, layout.nOut], new Set([0]));
  reduceInto(k, op, tmp, partials, out, div);
  k.dev.free(tmp);
}

export function reduce(
  k: Kernels,
  fn: ReduceFn,
  x: number,
  shape: readonly number[],
  axes: readonly number[],
  out: number,
): void {
  const reduced = reducedAxes(`reduce ${fn}`, shape, axes);
  const nOut = shape.reduce((p, d, i) => (reduced.has(i) ? p : p * d), 1);
  const nRed = shape.reduce((p, d, i) => (reduced.has(i) ? p * d : p), 1);
  if (nOut === 0) return;
  if (nRed === 0) {
    // The identity of an empty reduction: sum 0, mean 0/0, max −Infinity.
    fill(k, out, nOut, fn === 'max' ? Number.NEGATIVE_INFINITY : fn === 'mean' ? Number.NaN : 0);
    return;
  }
  reduceInto(k, fn === 'max' ? 'max' : 'sum', x, mergeGroups(shape, reduced), out, fn === 'mean' ? nRed : 1);
}

// ---- Σ x² ------------------------------------------------------------------------------------
// float64-like without float64: each x² is split exactly into three f32 products (Veltkamp halves
// of 12 bits), which accumulate as a double-f32 (hi, lo) pair with error-free sums (TwoSum), per
// lane then pairwise across the workgroup; the host adds the partials in float64. Magnitudes go to
// three buckets scaled by powers of two so that no square overflows or leaves the normal range:
// |x| < 2^-40 scaled by 2^100, |x| ≥ 2^40 by 2^-80. Relative error about 2^-44.

const SQ_BUCKETS = 3;
const SQ_SPEC: KernelSpec = {
  name: 'sum_squares_df32',
  bindings: ['x:f32', 'part:f32!'],
  params: ['n:u32', 'chunk:u32', 'zero:u32'],
  body: `
var<workgroup> sh: array<vec2f, ${SQ_BUCKETS * WG}>;
// A runtime zero: hide(v) hides v from the compiler, which would otherwise fold the error terms
// below to 0 ((a + b) − a → b) or contract them into fused multiply-adds.
var<private> zero_: u32;
fn hide(v: f32) -> f32 { return bitcast<f32>(bitcast<u32>(v) | zero_); }
fn twoSum(a: f32, b: f32) -> vec2f {
  let s = hide(a + b);
  let bb = hide(s - a);
  return vec2f(s, hide(a - hide(s - bb)) + hide(b - bb));
}
/** (hi, lo) + t, lo collecting the rounding errors. */
fn addTo(acc: vec2f, t: f32) -> vec2f {
  let s = twoSum(acc.x, t);
  return vec2f(s.x, hide(acc.y + s.y));
}
/** acc + y², y split into 12-bit halves h + l whose products are exact in f32. */
fn addSq(acc: vec2f, y: f32) -> vec2f {
  let c = hide(4097.0 * y);
  let h = hide(c - hide(c - y));
  let l = hide(y - h);
  return addTo(addTo(addTo(acc, hide(h * h)), hide(2.0 * hide(h * l))), hide(l * l));
}
fn addPair(a: vec2f, b: vec2f) -> vec2f {
  let s = twoSum(a.x, b.x);
  return twoSum(s.x, hide(hide(s.y + a.y) + b.y));
}
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  $P
  let g = wid.y * nwg.x + wid.x;
  if (g * chunk >= n) { return; }
  zero_ = zero;
  var acc: array<vec2f, ${SQ_BUCKETS}>;
  let end = min(n, (g + 1u) * chunk);
  for (var i = g * chunk + lid; i < end; i += ${WG}u) {
    let v = x[o_x + i];
    let a = abs(v);
    if (a < 0x1p-40f) { acc[0] = addSq(acc[0], v * 0x1p100f); }
    else if (a < 0x1p40f) { acc[1] = addSq(acc[1], v); }
    else { acc[2] = addSq(acc[2], v * 0x1p-80f); }
  }
  for (var b = 0u; b < ${SQ_BUCKETS}u; b++) { sh[b * ${WG}u + lid] = acc[b]; }
  for (var s = ${WG / 2}u; s > 0u; s = s / 2u) {
    workgroupBarrier();
    if (lid < s) {
      for (var b = 0u; b < ${SQ_BUCKETS}u; b++) {
        sh[b * ${WG}u + lid] = addPair(sh[b * ${WG}u + lid], sh[b * ${WG}u + lid + s]);
      }
    }
  }
  if (lid == 0u) {
    for (var b = 0u; b < ${SQ_BUCKETS}u; b++) {
      let r = sh[b * ${WG}u];
      part[o_part + (g * ${SQ_BUCKETS}u + b) * 2u] = r.x;
      part[o_part + (g * ${SQ_BUCKETS}u + b) * 2u + 1u] = r.y;
    }
  }
}`,
};
/** What each bucket's sum is multiplied by on the host (the inverse squares of its scale). */
const SQ_UNSCALE = [2 ** -200, 1, 2 ** 160];

/** Σ x² in float64-like precision (see above): partials of SUMSQ_CHUNK elements summed here. */
export function sumSquares(k: Kernels, x: number, n: number): number {
  if (n === 0) return 0;
  const parts = Math.min(SUMSQ_MAX_PARTS, Math.ceil(n / SUMSQ_CHUNK));
  const chunk = Math.ceil(n / parts);
  const words = parts * SQ_BUCKETS * 2;
  const tmp = k.dev.alloc(words * 4);
  k.run(SQ_SPEC, [bind(x, n), bind(tmp, words)], [n, chunk, 0], grid1(parts * WG, WG));
  const partials = new Float32Array(k.dev.read(tmp, words * 4));
  k.dev.free(tmp);
  let s = 0;
  for (let i = 0; i < words; i++) s += partials[i] * SQ_UNSCALE[Math.floor(i / 2) % SQ_BUCKETS];
  return s;
}

// ---- row kernels: argmax, softmax and its kin ------------------------------------------------

/**
 * A kernel over rows of `cols` (params rows, cols, T first): `body` runs per thread with `lane`,
 * `r` (the row), `valid`, `rb` (the row's first element) defined, and may call rsum / rmax, which
 * reduce one value per lane over the row's lanes (every thread must call them: they hold barriers).
 */
function rowMain(body: string): string {
  return `
${MAX_FN}
var<workgroup> sh: array<f32, ${WG}>;
fn rtree(lid: u32, lane: u32, T: u32, v: f32, isMax: bool) -> f32 {
  if (T == 1u) { return v; }
  workgroupBarrier();
  sh[lid] = v;
  for (var s = T / 2u; s > 0u; s = s / 2u) {
    workgroupBarrier();
    if (lane < s) { sh[lid] = select(sh[lid] + sh[lid + s], mx_(sh[lid], sh[lid + s]), isMax); }
  }
  workgroupBarrier();
  return sh[lid - lane];
}
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  $P
  let g = wid.y * nwg.x + wid.x;
  let S = ${WG}u / T;
  if (g * S >= rows) { return; }
  let lane = lid % T;
  let r = g * S + lid / T;
  let valid = r < rows;
  let rb = r * cols;
  ${body}
}`;
}

/** Row kernels' leading params (ninf: −Infinity, which WGSL cannot write as a constant). */
const ROW_PARAMS = ['rows:u32', 'cols:u32', 'T:u32', 'ninf:f32'];

function runRows(k: Kernels, spec: KernelSpec, binds: Bind[], rows: number, cols: number, extra: number[] = []): void {
  if (rows === 0) return;
  const T = lanesFor(cols, rows);
  k.run(
    spec,
    binds,
    [rows, cols, T, fw(Number.NEGATIVE_INFINITY), ...extra],
    grid1(Math.ceil(rows / (WG / T)) * WG, WG),
  );
}

/** Loops `stmt` over the lane's share of the row (c the column, v = src[rb + c]). */
function eachCol(src: string, stmt: string): string {
  return `if (valid) { for (var c = lane; c < cols; c += T) { let v = ${src}[o_${src} + rb + c]; ${stmt} } }`;
}

/** Row max then Σ exp(v − m) of x (NaN anywhere in a row makes the row NaN, as the reference). */
const ROW_LSE = `
  var m = ninf;
  ${eachCol('x', 'm = mx_(m, v);')}
  m = rtree(lid, lane, T, m, true);
  var se = 0.0;
  ${eachCol('x', 'se += exp(v - m);')}
  se = rtree(lid, lane, T, se, false);`;

const SOFTMAX = [false, true].map(
  (log): KernelSpec => ({
    name: `softmax_rows${log ? '_log' : ''}`,
    bindings: ['x:f32', 'y:f32!'],
    params: ROW_PARAMS,
    body: rowMain(`${ROW_LSE}
  let ls = log(se);
  ${eachCol('x', `y[o_y + rb + c] = ${log ? 'v - m - ls' : 'exp(v - m) / se'};`)}`),
  }),
);

export function softmax(k: Kernels, x: number, rows: number, cols: number, out: number, log: boolean): void {
  const n = rows * cols;
  if (n === 0) return;
  runRows(k, SOFTMAX[log ? 1 : 0], [bind(x, n), bind(out, n)], rows, cols);
}

const SOFTMAX_BACKWARD = [false, true].map(
  (log): KernelSpec => ({
    name: `softmax_backward_rows${log ? '_log' : ''}`,
    bindings: ['y:f32', 'dy:f32', 'dx:f32!'],
    params: ROW_PARAMS,
    // log: Σ dy; else Σ dy·y.
    body: rowMain(`
  var sum = 0.0;
  ${eachCol('dy', log ? 'sum += v;' : 'sum += v * y[o_y + rb + c];')}
  sum = rtree(lid, lane, T, sum, false);
  ${eachCol('dy', `let yv = y[o_y + rb + c]; dx[o_dx + rb + c] = ${log ? 'v - exp(yv) * sum' : 'yv * (v - sum)'};`)}`),
  }),
);

export function softmaxBackward(
  k: Kernels,
  y: number,
  dy: number,
  dx: number,
  rows: number,
  cols: number,
  log: boolean,
): void {
  const n = rows * cols;
  if (n === 0) return;
  runRows(k, SOFTMAX_BACKWARD[log ? 1 : 0], [bind(y, n), bind(dy, n), bind(dx, n)], rows, cols);
}

/** target = (1 − s)·onehot(label) + s/cols; loss = −Σ target · (x − lse); probs = exp(x − lse). */
const CROSS_ENTROPY: KernelSpec = {
  name: 'softmax_cross_entropy_rows',
  bindings: ['x:f32', 'labels:i32', 'loss:f32!', 'probs:f32!'],
  params: [...ROW_PARAMS, 'sm:f32'],
  body: rowMain(`${ROW_LSE}
  let lse = m + log(se);
  var label = -1;
  if (valid) { label = labels[o_labels + r]; }
  var part = 0.0;
  ${eachCol(
    'x',
    `let t = select(0.0, 1.0 - sm, i32(c) == label) + sm / f32(cols);
    part += t * (v - lse);
    probs[o_probs + rb + c] = exp(v - lse);`,
  )}
  part = rtree(lid, lane, T, part, false);
  if (valid && lane == 0u) { loss[o_loss + r] = -part; }`),
};

export function softmaxCrossEntropy(
  k: Kernels,
  logits: number,
  labels: number,
  rows: number,
  cols: number,
  loss: number,
  probs: number,
  smoothing: number,
): void {
  const n = rows * cols;
  if (rows === 0) return;
  runRows(k, CROSS_ENTROPY, [bind(logits, n), bind(labels, rows), bind(loss, rows), bind(probs, n)], rows, cols, [
    fw(smoothing),
  ]);
}

const CROSS_ENTROPY_BACKWARD: KernelSpec = {
  name: 'softmax_cross_entropy_backward',
  bindings: ['p:f32', 'labels:i32', 'g:f32', 'd:f32!'],
  params: ['n:u32', 'cols:u32', 'sm:f32'],
  body: main1(`let r = i / cols;
  let t = select(0.0, 1.0 - sm, i32(i % cols) == labels[o_labels + r]) + sm / f32(cols);
  d[o_d + i] = g[o_g + r] * (p[o_p + i] - t);`),
};

export function softmaxCrossEntropyBackward(
  k: Kernels,
  probs: number,
  labels: number,
  rows: number,
  cols: number,
  dLoss: number,
  dLogits: number,
  smoothing: number,
): void {
  const n = rows * cols;
  k.run1(
    CROSS_ENTROPY_BACKWARD,
    [bind(probs, n), bind(labels, rows), bind(dLoss, rows), bind(dLogits, n)],
    [n, cols, fw(smoothing)],
    n,
  );
}

/**
 * The largest non-NaN value's first position (a row of only NaNs gives 0, as the reference):
 * (value, index) pairs meet in the tree, a NaN losing to any number, ties to the lower index.
 */
const ARGMAX: KernelSpec = {
  name: 'argmax_rows',
  bindings: ['x:f32', 'out:i32!'],
  params: ROW_PARAMS,
  body: `
${MAX_FN}
var<workgroup> shv: array<f32, ${WG}>;
var<workgroup> shi: array<u32, ${WG}>;
const NONE = 0xffffffffu;
/** Whether (bv, bi) beats (av, ai). */
fn better(av: f32, ai: u32, bv: f32, bi: u32) -> bool {
  if (bi == NONE) { return false; }
  if (ai == NONE) { return true; }
  let an = nan_(av);
  let bn = nan_(bv);
  if (an != bn) { return an; }
  if (!an && bv != av) { return bv > av; }
  return bi < ai;
}
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  $P
  let g = wid.y * nwg.x + wid.x;
  let S = ${WG}u / T;
  if (g * S >= rows) { return; }
  let lane = lid % T;
  let r = g * S + lid / T;
  let valid = r < rows;
  var bv = 0.0;
  var bi = NONE;
  if (valid) {
    for (var c = lane; c < cols; c += T) {
      let v = x[o_x + r * cols + c];
      if (better(bv, bi, v, c)) { bv = v; bi = c; }
    }
  }
  shv[lid] = bv;
  shi[lid] = bi;
  for (var s = T / 2u; s > 0u; s = s / 2u) {
    workgroupBarrier();
    if (lane < s && better(shv[lid], shi[lid], shv[lid + s], shi[lid + s])) {
      shv[lid] = shv[lid + s];
      shi[lid] = shi[lid + s];
    }
  }
  if (valid && lane == 0u) { out[o_out + r] = select(i32(shi[lid]), 0, shi[lid] == NONE); }
}`,
};

export function argmax(k: Kernels, x: number, rows: number, cols: number, out: number): void {
  if (rows === 0) return;
  if (cols === 0) {
    fill(k, out, rows, 0); // int32 0 and float 0 share their bits
    return;
  }
  runRows(k, ARGMAX, [bind(x, rows * cols), bind(out, rows)], rows, cols);
}
