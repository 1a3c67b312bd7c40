// WebGPU kernels: tiled f32 GEMM with the fused epilogue (bias, residual, activation, accumulate),
// transposed operands, a GEMV-like kernel for batch-1 rows (M ≤ 4; small batches of up to 16 rows
// in passes of 4), deterministic split-K where the output has too few tiles to fill a GPU, and
// weights prepared once (stored as Bt [N, K], f32, or f16 where the adapter has shader-f16 and the
// caller asks for it). The tile template takes
// pluggable operand loaders, so conv.ts runs its implicit GEMMs through the same kernel.
// Semantics: src/backend/backend.ts and the reference backend.
//
// Legend: C[M, N] = epilogue(op(A)[M, K] · op(B)[K, N]). A workgroup of 16×16 threads computes a
// 64×64 tile of C, 4×4 outputs per thread (rows ly + 16i, columns lx + 16j: stores coalesce along
// N), staging K in slices of 16 through workgroup memory (row stride 65: column-wise stores hit
// distinct banks).
import { ShapeError, ValueError } from '../../errors.js';
import { toHalf } from '../../shape/half.js';
import type { Epilogue, EpilogueActivation, GemmOptions, Prepared } from '../backend.js';
import { LEAKY_ALPHA, unaryExpr } from './elementwise.js';
import { type Bind, bind, fw, type GpuPrepared, grid1, type KernelSpec, type Kernels, main1, specFor } from './wgsl.js';

/** Output tile side, K slice depth, workgroup-memory row stride in vec4s (one spare: fewer bank conflicts). */
const TS = 64;
const TK = 16;
const LD4 = TS / 4 + 1;
/** Rows the GEMV kernel handles (its accumulator is one vec4 per thread). */
const GEMV_ROWS = 4;
/** GEMV passes (of GEMV_ROWS rows each) before the tile kernel takes over. */
const GEMV_PASSES = 4;
/** Workgroups a GEMM should offer before split-K stops paying (a mid-size GPU's worth). */
const TARGET_GROUPS = 128;
/** Shortest K range one split handles. */
const MIN_SPLIT_K = 256;

// ---- operand sources -------------------------------------------------------------------------

/**
 * Where the tile kernel reads op(A)[gm, gk] and op(B)[gk, gn]: WGSL statements that assign `v`
 * (already 0; the template checks gm < M, gn < N and gk inside the split). `alongK` picks how the
 * 256 threads cover a tile: along K (the operand is contiguous in k) or along M / N.
 */
export interface TileSource {
  /** Names the loaders in the kernel name (every distinct source must differ). */
  key: string;
  /** The operands' read-only storage bindings. */
  bindings: readonly string[];
  /** Parameter words after the GEMM's own (geometry). */
  params: readonly string[];
  aAlongK: boolean;
  bAlongK: boolean;
  /** Statements before the K loop (per-thread row decompositions). */
  setup?: string;
  /** Statements at the top of each K slice (`k0` its start). */
  tile?: string;
  /** Statements setting v = A[gm, gk] for load slot r (0…3). */
  loadA: (r: number) => string;
  /** Statements setting v = B[gk, gn] for load slot r. */
  loadB: (r: number) => string;
  /**
   * C's row of GEMM row gm (WGSL expression; default gm): outputs scattered over C's rows. Such a
   * source is never split along K (the split sum stores row gm), and its residual rows stay gm.
   */
  outRow?: string;
}

/** The tile row (of A: m, of B: n) that load slot r of thread `tid` fills. */
export function slotRow(alongK: boolean, r: number): string {
  return alongK ? `((tid >> 4u) + ${16 * r}u)` : '(tid & 63u)';
}
/** The tile k that load slot r of thread `tid` fills. */
export function slotK(alongK: boolean, r: number): string {
  return alongK ? '(tid & 15u)' : `((tid >> 6u) + ${4 * r}u)`;
}

type BType = 'f32' | 'f16';
/** A plain matrix operand: A[M, K] or At[K, M]; B[K, N] or Bt[N, K] (f16: prepared weights). */
function matrixSource(transA: boolean, transB: boolean, bType: BType): TileSource {
  const bIndex = transB ? 'gn * K + gk' : 'gk * N + gn';
  const bRead = bType === 'f16' ? `f32(b[(ob_b >> 1u) + ${bIndex}])` : `b[o_b + ${bIndex}]`;
  return {
    key: `mat_${transA ? 't' : 'n'}${transB ? 't' : 'n'}_${bType}`,
    bindings: ['a:f32', `b:${bType}`],
    params: [],
    aAlongK: !transA,
    bAlongK: transB,
    loadA: () => `v = a[o_a + ${transA ? 'gk * M + gm' : 'gm * K + gk'}];`,
    loadB: () => `v = ${bRead};`,
  };
}

// ---- epilogue --------------------------------------------------------------------------------

// The epilogue is chosen at run time (uniform flags: free branches on a GPU), so each operand
// source compiles one kernel instead of one per epilogue: lavapipe takes seconds per tile kernel.
const ACTIVATIONS: readonly EpilogueActivation[] = ['none', 'relu', 'leakyRelu', 'sigmoid', 'tanh', 'gelu'];
const EP_ACCUMULATE = 1;
const EP_BIAS = 2;
const EP_RESIDUAL = 4;

/** fn act_(v, kind, alpha): the epilogue activation numbered as ACTIVATIONS. */
const ACT_FN = `
fn act_(v: f32, kind: u32, alpha: f32) -> f32 {
  switch kind {
${ACTIVATIONS.slice(1)
  .map((a, i) => `    case ${i + 1}u: { return ${unaryExpr(a as Exclude<EpilogueActivation, 'none'>, 'v')}; }`)
  .join('\n')}
    default: { return v; }
  }
}`;

/** C, bias and residual (unused ones bound to a word of `dummy`). */
const EP_BINDINGS = ['c:f32!', 'bias:f32', 'res:f32'] as const;
/** Parameters every epilogue reads (ldr, alpha; flags and act pick the parts). */
const EP_PARAMS = ['ldr:u32', 'alpha:f32', 'flags:u32', 'act:u32'] as const;

/** WGSL storing `val` as C[crow, gn] through the epilogue (crow: C's row of GEMM row gm). */
function epStore(val: string): string {
  return `{ var v = ${val}; let ci = o_c + crow * N + gn;
    if ((flags & ${EP_ACCUMULATE}u) != 0u) { v += c[ci]; }
    if ((flags & ${EP_BIAS}u) != 0u) { v += bias[o_bias + gn]; }
    if ((flags & ${EP_RESIDUAL}u) != 0u) { v += res[o_res + gm * ldr + gn]; }
    c[ci] = act_(v, act, alpha); }`;
}

/** C's range (cRows rows), then bias and residual (or a word of `dummy`, read-only, where absent). */
function epBinds(c: number, ep: Epilogue, M: number, N: number, dummy: number, cRows = M): Bind[] {
  const ldr = ep.ldr ?? N;
  return [
    bind(c, cRows * N),
    ep.bias ? bind(ep.bias, N) : bind(dummy, 1),
    ep.residual ? bind(ep.residual, (M - 1) * ldr + N) : bind(dummy, 1),
  ];
}

/** The words of EP_PARAMS. */
function epWords(ep: Epilogue, N: number): number[] {
  const flags = (ep.accumulate ? EP_ACCUMULATE : 0) | (ep.bias ? EP_BIAS : 0) | (ep.residual ? EP_RESIDUAL : 0);
  return [ep.ldr ?? N, fw(ep.alpha ?? LEAKY_ALPHA), flags, ACTIVATIONS.indexOf(ep.activation ?? 'none')];
}

// ---- the tile kernel -------------------------------------------------------------------------

const GEMM_PARAMS = ['M:u32', 'K:u32', 'N:u32', 'tilesN:u32', 'tilesM:u32', 'splits:u32', 'kChunk:u32'] as const;

function tileBody(src: TileSource, store: (val: string) => string): string {
  // Global reads of slice k0 into registers (ra, rb): issued before the current slice's FMAs, so
  // their latency hides behind the arithmetic; stored to workgroup memory after.
  const fetch = (op: 'A' | 'B'): string => {
    const alongK = op === 'A' ? src.aAlongK : src.bAlongK;
    const [idx, bound, load] = op === 'A' ? ['gm', 'm0', src.loadA] : ['gn', 'n0', src.loadB];
    const lim = op === 'A' ? 'M' : 'N';
    return [0, 1, 2, 3]
      .map(
        (r) => `{ let ${idx} = ${bound} + ${slotRow(alongK, r)}; let gk = k0 + ${slotK(alongK, r)}; var v = 0.0;
      if (${idx} < ${lim} && gk < kEnd) { ${load(r)} }
      r${op.toLowerCase()}[${r}] = v; }`,
      )
      .join('\n      ');
  };
  const stage = (op: 'A' | 'B'): string => {
    const alongK = op === 'A' ? src.aAlongK : src.bAlongK;
    return [0, 1, 2, 3]
      .map((r) => {
        const row = slotRow(alongK, r);
        return `${op}s[${slotK(alongK, r)} * ${LD4}u + (${row} >> 2u)][${row} & 3u] = r${op.toLowerCase()}[${r}];`;
      })
      .join('\n    ');
  };
  const fetchSlice = (k0: string) => `{ let k0 = ${k0};
      ${src.tile ?? ''}
      ${fetch('A')}
      ${fetch('B')}
    }`;
  const stores = [0, 1, 2, 3]
    .map(
      (i) => `{ let gm = m0 + lid.y * 4u + ${i}u; if (gm < M) { let crow = ${src.outRow ?? 'gm'};
${[0, 1, 2, 3].map((j) => `    { let gn = n0 + lid.x * 4u + ${j}u; if (gn < N) ${store(`acc[${i}][${j}]`)} }`).join('\n')}
  } }`,
    )
    .join('\n  ');
  return `var<workgroup> As: array<vec4<f32>, ${TK * LD4}>;
var<workgroup> Bs: array<vec4<f32>, ${TK * LD4}>;
@compute @workgroup_size(16, 16) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
    @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) tid: u32) {
  $P
  let t = wid.y * nwg.x + wid.x;
  if (t >= tilesN * tilesM * splits) { return; }
  let n0 = (t % tilesN) * ${TS}u;
  let m0 = ((t / tilesN) % tilesM) * ${TS}u;
  let sp = t / (tilesN * tilesM);
  let kBegin = sp * kChunk;
  let kEnd = min(K, kBegin + kChunk);
  ${src.setup ?? ''}
  var acc: array<vec4<f32>, 4>;
  var ra: array<f32, 4>;
  var rb: array<f32, 4>;
  if (kBegin < kEnd) ${fetchSlice('kBegin')}
  for (var ks = kBegin; ks < kEnd; ks += ${TK}u) {
    ${stage('A')}
    ${stage('B')}
    workgroupBarrier();
    if (ks + ${TK}u < kEnd) ${fetchSlice(`ks + ${TK}u`)}
    for (var kk = 0u; kk < ${TK}u; kk++) {
      let a = As[kk * ${LD4}u + lid.y];
      let b = Bs[kk * ${LD4}u + lid.x];
      acc[0] = fma(vec4<f32>(a.x), b, acc[0]);
      acc[1] = fma(vec4<f32>(a.y), b, acc[1]);
      acc[2] = fma(vec4<f32>(a.z), b, acc[2]);
      acc[3] = fma(vec4<f32>(a.w), b, acc[3]);
    }
    workgroupBarrier();
  }
  ${stores}
}`;
}

const tileSpecs = new Map<string, KernelSpec>();
/** The tile kernel of a source: through the epilogue, or raw partial sums of one K split. */
function tileSpec(src: TileSource, partial: boolean, enable: readonly 'f16'[]): KernelSpec {
  const key = `gemm_tile_${src.key}${partial ? '_partial' : ''}`;
  return specFor(tileSpecs, key, () => ({
    name: key,
    bindings: [...src.bindings, ...(partial ? ['part:f32!'] : EP_BINDINGS)],
    params: [...GEMM_PARAMS, ...src.params, ...(partial ? [] : EP_PARAMS)],
    enable,
    body: `${partial ? '' : ACT_FN}
${tileBody(src, partial ? (val) => `{ part[o_part + (sp * M + gm) * N + gn] = ${val}; }` : epStore)}`,
  }));
}

/** Sums the splits' partial products [splits, M, N] and applies the epilogue. */
const SPLIT_REDUCE: KernelSpec = {
  name: 'gemm_split_reduce',
  bindings: ['part:f32', ...EP_BINDINGS],
  params: ['n:u32', 'N:u32', 'splits:u32', ...EP_PARAMS],
  body: `${ACT_FN}
${main1(`let gm = i / N; let gn = i % N; let crow = gm;
  var s = 0.0;
  for (var p = 0u; p < splits; p++) { s += part[o_part + p * n + i]; }
  ${epStore('s')}`)}`,
};

/** How a tiled GEMM splits K: splits × kChunk (a multiple of the K slice) covers K. */
function splitPlan(M: number, K: number, N: number, canSplit: boolean): { splits: number; kChunk: number } {
  const tiles = Math.ceil(M / TS) * Math.ceil(N / TS);
  const want = Math.min(Math.ceil(TARGET_GROUPS / tiles), Math.floor(K / MIN_SPLIT_K));
  if (want < 2 || !canSplit) return { splits: 1, kChunk: Math.max(TK, Math.ceil(K / TK) * TK) };
  const kChunk = Math.ceil(K / want / TK) * TK;
  return { splits: Math.ceil(K / kChunk), kChunk };
}

/**
 * C[M, N] = epilogue(A · B) with operands read through `src` (binds: its bindings, in order;
 * params: its parameters; cRows: C's rows where `src.outRow` scatters them). Splits K into partial products summed by a second kernel where the
 * output has few tiles and K is long.
 */
export function runTiled(
  k: Kernels,
  src: TileSource,
  binds: readonly Bind[],
  params: readonly number[],
  M: number,
  K: number,
  N: number,
  c: number,
  ep: Epilogue,
  enable: readonly 'f16'[] = [],
  cRows = M,
): void {
  if (M === 0 || N === 0) return;
  const tilesN = Math.ceil(N / TS);
  const tilesM = Math.ceil(M / TS);
  const { splits, kChunk } = splitPlan(M, K, N, !src.outRow);
  const grid = grid1(tilesN * tilesM * splits, 1);
  const head = [M, K, N, tilesN, tilesM, splits, kChunk, ...params];
  const eps = epBinds(c, ep, M, N, binds[0].buf, cRows);
  if (splits === 1) {
    k.run(tileSpec(src, false, enable), [...binds, ...eps], [...head, ...epWords(ep, N)], grid);
    return;
  }
  const n = splits * M * N;
  const part = k.dev.alloc(n * 4);
  k.run(tileSpec(src, true, enable), [...binds, bind(part, n)], head, grid);
  k.run1(SPLIT_REDUCE, [bind(part, n), ...eps], [M * N, N, splits, ...epWords(ep, N)], M * N);
  k.dev.free(part);
}

// ---- GEMV: a few rows --------------------------------------------------------------------------

/**
 * C[M ≤ 4, N]: each workgroup covers a few columns, its 256 threads splitting K (along K when B is
 * contiguous in k: 4 columns × 64 slices; else 64 columns × 4 slices, B rows read coalesced), then
 * a tree sum in workgroup memory. Plenty of workgroups for a batch-1 layer, B read once.
 */
function gemvBody(src: TileSource, transA: boolean): string {
  const [cols, slices] = src.bAlongK ? [4, 64] : [64, 4];
  const s = src.bAlongK ? 'tid & 63u' : 'tid >> 6u';
  const nl = src.bAlongK ? 'tid >> 6u' : 'tid & 63u';
  const step = src.bAlongK ? '1u' : '64u';
  const aAt = (r: number) => `a[o_a + ${transA ? `gk * M + ${r}u` : `${r}u * K + gk`}]`;
  const rows = [0, 1, 2, 3]
    .map((r) => `if (M > ${r}u) { acc[${r}] = fma(${aAt(r)}, bv, acc[${r}]); }`)
    .join('\n        ');
  return `${ACT_FN}
var<workgroup> red: array<vec4<f32>, 256>;
@compute @workgroup_size(256) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
    @builtin(local_invocation_index) tid: u32) {
  $P
  let s = ${s};
  let gn = (wid.y * nwg.x + wid.x) * ${cols}u + (${nl});
  var acc = vec4<f32>(0.0);
  if (gn < N) {
    for (var gk = s; gk < K; gk += ${slices}u) {
      var v = 0.0;
      ${src.loadB(0)}
      let bv = v;
      ${rows}
    }
  }
  red[tid] = acc;
  for (var st = ${slices / 2}u; st > 0u; st >>= 1u) {
    workgroupBarrier();
    if (s < st) { red[tid] = red[tid] + red[tid + st * ${step}]; }
  }
  workgroupBarrier();
  if (s == 0u && gn < N) {
    let tot = red[tid];
    for (var gm = 0u; gm < M; gm++) { let crow = gm; ${epStore('tot[gm]')} }
  }
}`;
}

const gemvSpecs = new Map<string, KernelSpec>();
function runGemv(
  k: Kernels,
  src: TileSource,
  transA: boolean,
  binds: readonly Bind[],
  M: number,
  K: number,
  N: number,
  c: number,
  ep: Epilogue,
  enable: readonly 'f16'[],
): void {
  const key = `gemv_${transA ? 't' : 'n'}_${src.key}`;
  const spec = specFor(gemvSpecs, key, () => ({
    name: key,
    bindings: [...src.bindings, ...EP_BINDINGS],
    params: ['M:u32', 'K:u32', 'N:u32', ...EP_PARAMS],
    enable,
    body: gemvBody(src, transA),
  }));
  const cols = src.bAlongK ? 4 : 64;
  k.run(
    spec,
    [...binds, ...epBinds(c, ep, M, N, binds[0].buf)],
    [M, K, N, ...epWords(ep, N)],
    grid1(Math.ceil(N / cols), 1),
  );
}

// ---- public ----------------------------------------------------------------------------------

function matmulInto(
  k: Kernels,
  a: number,
  b: number,
  bBytes: 2 | 4,
  c: number,
  M: number,
  K: number,
  N: number,
  transA: boolean,
  transB: boolean,
  ep: Epilogue,
): void {
  if (M === 0 || N === 0) return;
  const bType: BType = bBytes === 2 ? 'f16' : 'f32';
  const src = matrixSource(transA, transB, bType);
  const enable: 'f16'[] = bType === 'f16' ? ['f16'] : [];
  if (M <= GEMV_ROWS) {
    runGemv(k, src, transA, [bind(a, M * K), bind(b, K * N, bBytes)], M, K, N, c, ep, enable);
  } else if (M <= GEMV_PASSES * GEMV_ROWS && !transA) {
    // A few rows (small batches): GEMV passes over row views re-read B from cache, where a 64-row
    // tile would compute mostly padding on a handful of workgroups.
    const ldr = ep.ldr ?? N;
    for (let r0 = 0; r0 < M; r0 += GEMV_ROWS) {
      const rows = Math.min(GEMV_ROWS, M - r0);
      const view: Epilogue = {
        ...ep,
        ldr,
        residual: ep.residual ? ep.residual + r0 * ldr * 4 : undefined,
      };
      const binds = [bind(a + r0 * K * 4, rows * K), bind(b, K * N, bBytes)];
      runGemv(k, src, false, binds, rows, K, N, c + r0 * N * 4, view, enable);
    }
  } else runTiled(k, src, [bind(a, M * K), bind(b, K * N, bBytes)], [], M, K, N, c, ep, enable);
}

/** C[M, N] = epilogue(op(A) · op(B)). */
export function gemm(
  k: Kernels,
  a: number,
  b: number,
  c: number,
  M: number,
  K: number,
  N: number,
  opts: GemmOptions,
): void {
  matmulInto(k, a, b, 4, c, M, K, N, !!opts.transA, !!opts.transB, opts);
}

/** Weights B[K, N] on the device as Bt[N, K] (k contiguous: GEMV and conv loaders read along k). */
export interface GpuWeights extends GpuPrepared {
  readonly kind: 'webgpu-f32' | 'webgpu-f16';
  readonly K: number;
  readonly N: number;
}

function transposed(w: Float32Array, K: number, N: number): Float32Array {
  const t = new Float32Array(K * N);
  for (let kk = 0; kk < K; kk++) for (let n = 0; n < N; n++) t[n * K + kk] = w[kk * N + n];
  return t;
}

function checkWeights(w: Float32Array, K: number, N: number): void {
  if (w.length !== K * N) throw new ShapeError(`prepareWeights: ${w.length} weights for [${K}, ${N}]`);
}

/** Float weights B[K, N] laid out once (f32). */
export function prepareWeights(k: Kernels, w: Float32Array, K: number, N: number): GpuWeights {
  checkWeights(w, K, N);
  const t = transposed(w, K, N);
  const buf = k.dev.alloc(t.byteLength);
  k.dev.write(buf, new Uint8Array(t.buffer));
  return { kind: 'webgpu-f32', bufs: [buf], K, N };
}

/**
 * Weights B[K, N] stored as f16 (rounded to nearest even) for graduated fp16 models: kernels read
 * f16 and accumulate in f32. Where the adapter lacks shader-f16 the weights are stored as f32.
 */
export function prepareWeightsF16(k: Kernels, w: Float32Array, K: number, N: number): GpuWeights {
  if (!k.f16) return prepareWeights(k, w, K, N);
  checkWeights(w, K, N);
  const t = transposed(w, K, N);
  // 4-byte multiple for the device write: one spare half at the end when K·N is odd.
  const h = new Uint16Array(t.length + (t.length & 1));
  for (let i = 0; i < t.length; i++) h[i] = toHalf(t[i]);
  const buf = k.dev.alloc(h.byteLength);
  k.dev.write(buf, new Uint8Array(h.buffer));
  return { kind: 'webgpu-f16', bufs: [buf], K, N };
}

/** The prepared weights of this backend, or a ValueError naming the call. */
export function gpuWeights(op: string, p: Prepared): GpuWeights {
  if (p.kind !== 'webgpu-f32' && p.kind !== 'webgpu-f16')
    throw new ValueError(`webgpu ${op}: weights prepared as '${p.kind}', expected webgpu-f32 or webgpu-f16`);
  return p as GpuWeights;
}

/** C[M, N] = epilogue(A[M, K] · W) with W from prepareWeights / prepareWeightsF16. */
export function gemmPrepared(k: Kernels, a: number, M: number, w: Prepared, c: number, ep: Epilogue): void {
  const p = gpuWeights('gemmPrepared', w);
  matmulInto(k, a, p.bufs[0], p.kind === 'webgpu-f16' ? 2 : 4, c, M, p.K, p.N, false, true, ep);
}
