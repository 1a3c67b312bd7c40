// WebGPU kernels: batch normalization (inference form, batch statistics, backward).
// Semantics: src/backend/backend.ts and the reference backend.
//
// Shapes: x, dy, dx, out [rows, C]; mean, variance, gamma, beta, dgamma, dbeta [C].
// The per-channel reductions run in two dispatches: workgroups over (channel block, chunk of rows)
// write one partial per chunk and channel (a column reduction, columns.ts), then one invocation
// per channel combines the partials. The statistics are computed on data shifted by the channel's
// first value and combined with Chan's formula, so a large mean (1000 ± 1) costs no precision in
// the variance.
// Not for: layer norm or the elementwise part of other norms (elementwise.ts).

import { channelTile, colsumFn } from './columns.js';
import { copy, fill } from './elementwise.js';
import { bind, fw, type KernelSpec, type Kernels, main1, specFor } from './wgsl.js';

const WG = 256;

interface Chunking {
  ct: number;
  cblocks: number;
  chunkRows: number;
  chunks: number;
}

/** Chunks of at least 256 rows, and at most 1024 of them (the combine loops over them). */
function chunking(rows: number, C: number): Chunking {
  const ct = channelTile(C);
  const chunkRows = Math.max(256, Math.ceil(rows / 1024));
  return { ct, cblocks: Math.ceil(C / ct), chunkRows, chunks: Math.ceil(rows / chunkRows) };
}

/** Workgroup grid for `groups` workgroups, folded into y past 65,535. */
function grid(groups: number): [number, number, number] {
  return groups <= 65535 ? [groups, 1, 1] : [65535, Math.ceil(groups / 65535), 1];
}

/**
 * WGSL of a chunk kernel: `main` opens with the chunk's channel c (valid when `ok`) and its rows
 * [r0, r1), lane `lane` of `LANES`; `colsum` (columns.ts) sums over the lanes.
 */
function chunkKernel(ct: number, stmts: string): string {
  const lanes = WG / ct;
  return `${colsumFn(ct)}
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  $P
  let g = wid.y * nwg.x + wid.x;
  if (g >= cblocks * chunks) { return; }
  let c = (g % cblocks) * ${ct}u + lid % ${ct}u;
  let ok = c < C;
  let chunk = g / cblocks;
  let lane = lid / ${ct}u;
  const LANES = ${lanes}u;
  let r0 = chunk * chunkRows;
  let r1 = min(r0 + chunkRows, rows);
  ${stmts}
}`;
}

const CHUNK_PARAMS = ['rows:u32', 'C:u32', 'cblocks:u32', 'chunks:u32', 'chunkRows:u32'];

function chunkWords(rows: number, C: number, ch: Chunking): number[] {
  return [rows, C, ch.cblocks, ch.chunks, ch.chunkRows];
}

// part [2, chunks, C]: the chunk's mean of (x − K) and its Σ (x − K − that mean)², K = x[0, c].
const statsSpecs = new Map<number, KernelSpec>();
function statsSpec(ct: number): KernelSpec {
  return specFor(statsSpecs, ct, () => ({
    name: `bn_stats_chunks_ct${ct}`,
    bindings: ['x:f32', 'part:f32!'],
    params: CHUNK_PARAMS,
    body: chunkKernel(
      ct,
      `let K = select(0.0, x[o_x + min(c, C - 1u)], ok);
  var s = 0.0;
  if (ok) { for (var r = r0 + lane; r < r1; r += LANES) { s += x[o_x + r * C + c] - K; } }
  let d = colsum(lid, s) / f32(r1 - r0);
  var q = 0.0;
  if (ok) {
    for (var r = r0 + lane; r < r1; r += LANES) { let t = (x[o_x + r * C + c] - K) - d; q += t * t; }
  }
  let m2 = colsum(lid, q);
  if (ok && lane == 0u) { part[o_part + chunk * C + c] = d; part[o_part + (chunks + chunk) * C + c] = m2; }`,
    ),
  }));
}

const STATS_COMBINE: KernelSpec = {
  name: 'bn_stats_combine',
  bindings: ['x:f32', 'part:f32', 'mean:f32!', 'variance:f32!'],
  params: ['n:u32', 'rows:u32', 'chunks:u32', 'chunkRows:u32'],
  body: main1(`let C = n;
  var t = 0.0;
  for (var b = 0u; b < chunks; b++) { t += f32(min(chunkRows, rows - b * chunkRows)) * part[o_part + b * C + i]; }
  let d = t / f32(rows);
  var m2 = 0.0;
  for (var b = 0u; b < chunks; b++) {
    let e = part[o_part + b * C + i] - d;
    m2 += part[o_part + (chunks + b) * C + i] + f32(min(chunkRows, rows - b * chunkRows)) * e * e;
  }
  mean[o_mean + i] = x[o_x + i] + d;
  variance[o_variance + i] = m2 / f32(rows);`),
};

/** Per-channel mean and biased variance of x[rows, C]. */
export function batchNormStats(k: Kernels, x: number, rows: number, C: number, mean: number, variance: number): void {
  if (C === 0) return;
  if (rows === 0) {
    fill(k, mean, C, Number.NaN);
    fill(k, variance, C, Number.NaN);
    return;
  }
  const ch = chunking(rows, C);
  const part = k.dev.alloc(2 * ch.chunks * C * 4);
  try {
    k.run(
      statsSpec(ch.ct),
      [bind(x, rows * C), bind(part, 2 * ch.chunks * C)],
      chunkWords(rows, C, ch),
      grid(ch.cblocks * ch.chunks),
    );
    k.run1(
      STATS_COMBINE,
      [bind(x, C), bind(part, 2 * ch.chunks * C), bind(mean, C), bind(variance, C)],
      [C, rows, ch.chunks, ch.chunkRows],
      C,
    );
  } finally {
    k.dev.free(part); // returns to the pool once the dispatches above are submitted
  }
}

/** Bindings and WGSL of gamma / beta when their handles are given (0 = scale 1 / shift 0). */
function affine(gamma: boolean, beta: boolean): { bindings: string[]; g: string; b: string } {
  return {
    bindings: [...(gamma ? ['gamma:f32'] : []), ...(beta ? ['beta:f32'] : [])],
    g: gamma ? 'gamma[o_gamma + c]' : '1.0',
    b: beta ? 'beta[o_beta + c]' : '0.0',
  };
}

const forwardSpecs = new Map<string, KernelSpec>();
function forwardSpec(gamma: boolean, beta: boolean): KernelSpec {
  return specFor(forwardSpecs, `${gamma}_${beta}`, () => {
    const a = affine(gamma, beta);
    return {
      name: `bn_forward_g${+gamma}_b${+beta}`,
      bindings: ['x:f32', 'mean:f32', 'variance:f32', ...a.bindings, 'y:f32!'],
      params: ['n:u32', 'C:u32', 'eps:f32'],
      body: main1(`let c = i % C;
  let xhat = (x[o_x + i] - mean[o_mean + c]) / sqrt(variance[o_variance + c] + eps);
  y[o_y + i] = xhat * ${a.g} + ${a.b};`),
    };
  });
}

/** out = (x − mean) / sqrt(variance + eps) · gamma + beta (gamma / beta 0: scale 1 / shift 0). */
export function batchNormForward(
  k: Kernels,
  x: number,
  rows: number,
  C: number,
  mean: number,
  variance: number,
  eps: number,
  gamma: number,
  beta: number,
  out: number,
): void {
  const n = rows * C;
  const binds = [
    bind(x, n),
    bind(mean, C),
    bind(variance, C),
    ...(gamma ? [bind(gamma, C)] : []),
    ...(beta ? [bind(beta, C)] : []),
    bind(out, n),
  ];
  k.run1(forwardSpec(gamma !== 0, beta !== 0), binds, [n, C, fw(eps)], n);
}

// part [2, chunks, C]: the chunk's Σ dy and Σ dy · xhat.
const gradSpecs = new Map<number, KernelSpec>();
function gradSpec(ct: number): KernelSpec {
  return specFor(gradSpecs, ct, () => ({
    name: `bn_grad_chunks_ct${ct}`,
    bindings: ['x:f32', 'dy:f32', 'mean:f32', 'variance:f32', 'part:f32!'],
    params: [...CHUNK_PARAMS, 'eps:f32'],
    body: chunkKernel(
      ct,
      `let cc = min(c, C - 1u);
  let mu = mean[o_mean + cc];
  let invstd = 1.0 / sqrt(variance[o_variance + cc] + eps);
  var s = 0.0;
  var q = 0.0;
  if (ok) {
    for (var r = r0 + lane; r < r1; r += LANES) {
      let d = dy[o_dy + r * C + c];
      s += d;
      q += d * (x[o_x + r * C + c] - mu);
    }
  }
  let sdy = colsum(lid, s);
  let sdyx = colsum(lid, q) * invstd;
  if (ok && lane == 0u) { part[o_part + chunk * C + c] = sdy; part[o_part + (chunks + chunk) * C + c] = sdyx; }`,
    ),
  }));
}

// sums [2, C]: Σ dy (dbeta) and Σ dy · xhat (dgamma).
const GRAD_COMBINE: KernelSpec = {
  name: 'bn_grad_combine',
  bindings: ['part:f32', 'sums:f32!'],
  params: ['n:u32', 'chunks:u32'],
  body: main1(`let C = n;
  var s = 0.0;
  var q = 0.0;
  for (var b = 0u; b < chunks; b++) { s += part[o_part + b * C + i]; q += part[o_part + (chunks + b) * C + i]; }
  sums[o_sums + i] = s;
  sums[o_sums + C + i] = q;`),
};

const dxSpecs = new Map<boolean, KernelSpec>();
function dxSpec(gamma: boolean): KernelSpec {
  return specFor(dxSpecs, gamma, () => {
    const a = affine(gamma, false);
    return {
      name: `bn_dx_g${+gamma}`,
      bindings: ['x:f32', 'dy:f32', 'mean:f32', 'variance:f32', ...a.bindings, 'sums:f32', 'dx:f32!'],
      params: ['n:u32', 'C:u32', 'eps:f32', 'rows:f32'],
      body: main1(`let c = i % C;
  let invstd = 1.0 / sqrt(variance[o_variance + c] + eps);
  let xhat = (x[o_x + i] - mean[o_mean + c]) * invstd;
  let A = ${a.g} * invstd;
  dx[o_dx + i] = A * (dy[o_dy + i] - sums[o_sums + c] / rows - xhat * sums[o_sums + C + c] / rows);`),
    };
  });
}

/**
 * Training-mode backward through the batch statistics: dx = gamma/std · (dy − mean(dy) − xhat ·
 * mean(dy · xhat)); dgamma = Σ dy · xhat, dbeta = Σ dy (each written unless its handle is 0).
 */
export function batchNormBackward(
  k: Kernels,
  x: number,
  dy: number,
  rows: number,
  C: number,
  mean: number,
  variance: number,
  eps: number,
  gamma: number,
  dx: number,
  dgamma: number,
  dbeta: number,
): void {
  if (C === 0) return;
  const n = rows * C;
  if (rows === 0) {
    if (dgamma) fill(k, dgamma, C, 0);
    if (dbeta) fill(k, dbeta, C, 0);
    return;
  }
  const ch = chunking(rows, C);
  const part = k.dev.alloc(2 * ch.chunks * C * 4);
  const sums = k.dev.alloc(2 * C * 4);
  try {
    k.run(
      gradSpec(ch.ct),
      [bind(x, n), bind(dy, n), bind(mean, C), bind(variance, C), bind(part, 2 * ch.chunks * C)],
      [...chunkWords(rows, C, ch), fw(eps)],
      grid(ch.cblocks * ch.chunks),
    );
    k.run1(GRAD_COMBINE, [bind(part, 2 * ch.chunks * C), bind(sums, 2 * C)], [C, ch.chunks], C);
    if (dbeta) copy(k, sums, dbeta, C);
    if (dgamma) copy(k, sums + 4 * C, dgamma, C);
    if (dx) {
      k.run1(
        dxSpec(gamma !== 0),
        [
          bind(x, n),
          bind(dy, n),
          bind(mean, C),
          bind(variance, C),
          ...(gamma ? [bind(gamma, C)] : []),
          bind(sums, 2 * C),
          bind(dx, n),
        ],
        [n, C, fw(eps), fw(rows)],
        n,
      );
    }
  } finally {
    k.dev.free(part);
    k.dev.free(sums);
  }
}
