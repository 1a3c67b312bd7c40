// WebGPU kernels: embedding gather, bag mean, and their scatter-add adjoints. Semantics:
// src/backend/backend.ts and the reference backend.
//
// The scatter-adds are deterministic, without float atomics: the (id, position) pairs are sorted
// on the device (bitonic: workgroup-memory stages for blocks of 512, global stages between), then
// the first position of each distinct id adds its run of gradient rows in position order — the
// reference's order, so a row hit many times sums as the reference does, whatever the schedule.
// The table's row count is not passed: bindings span its allocation, and an id past it reads zeros
// (gather) or is dropped (scatter) rather than touching other memory.
// Not for: sparse optimizer steps (optim.ts).
import { bind, grid1, type KernelSpec, type Kernels, main1 } from './wgsl.js';

const WG = 256;
/** Elements a workgroup sorts in workgroup memory (two per thread). */
const BLOCK = 2 * WG;
const NO_ID = 0xffffffff;

/** Elements of the allocation at buf from buf on (the table's extent: its row count is not passed). */
function extent(k: Kernels, buf: number): number {
  return Math.floor(k.dev.sizeAfter(buf) / 4);
}

const GATHER: KernelSpec = {
  name: 'gather_rows',
  bindings: ['table:f32', 'ids:i32', 'out:f32!'],
  params: ['n:u32', 'D:u32'],
  body: main1(`let id = ids[o_ids + i / D];
  let at = u32(id) * D + i % D;
  out[o_out + i] = select(0.0, table[o_table + at], id >= 0 && at < arrayLength(&table) - o_table);`),
};

export function gather(k: Kernels, table: number, D: number, ids: number, n: number, out: number): void {
  const count = n * D;
  k.run1(GATHER, [bind(table, extent(k, table)), bind(ids, n), bind(out, count)], [count, D], count);
}

const EMBEDDING_BAG: KernelSpec = {
  name: 'embedding_bag_mean',
  bindings: ['table:f32', 'ids:i32', 'out:f32!'],
  params: ['n:u32', 'D:u32', 'L:u32'],
  body: main1(`let b = i / D;
  let j = i % D;
  let rows = (arrayLength(&table) - o_table) / D;
  var sum = 0.0;
  var count = 0u;
  for (var l = 0u; l < L; l++) {
    let id = ids[o_ids + b * L + l];
    if (id >= 0) {
      count++;
      if (u32(id) < rows) { sum += table[o_table + u32(id) * D + j]; }
    }
  }
  out[o_out + i] = select(sum / f32(count), 0.0, count == 0u);`),
};

export function embeddingBag(
  k: Kernels,
  table: number,
  D: number,
  ids: number,
  B: number,
  L: number,
  out: number,
): void {
  const count = B * D;
  k.run1(EMBEDDING_BAG, [bind(table, extent(k, table)), bind(ids, B * L), bind(out, count)], [count, D, L], count);
}

// ---- the sort of (id, position) pairs ---------------------------------------------------------
// kp holds N keys (u32(id), NO_ID for -1 and padding) then N positions; N a power of two ≥ BLOCK.

const SORT_FNS = `
fn after(ka: u32, pa: u32, kb: u32, pb: u32) -> bool { return ka > kb || (ka == kb && pa > pb); }`;

const SORT_INIT: KernelSpec = {
  name: 'scatter_sort_init',
  bindings: ['ids:i32', 'kp:u32!'],
  params: ['n:u32', 'count:u32'],
  body: main1(`var key = ${NO_ID}u;
  if (i < count) {
    let id = ids[o_ids + i];
    if (id >= 0) { key = u32(id); }
  }
  kp[o_kp + i] = key;
  kp[o_kp + n + i] = i;`),
};

/** Bitonic stages k = kFrom…kTo (doubling), each with its steps j < BLOCK, inside blocks of BLOCK. */
const SORT_LOCAL: KernelSpec = {
  name: 'scatter_sort_local',
  bindings: ['kp:u32!'],
  params: ['N:u32', 'kFrom:u32', 'kTo:u32'],
  body: `${SORT_FNS}
var<workgroup> sk: array<u32, ${BLOCK}>;
var<workgroup> sp: array<u32, ${BLOCK}>;
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  $P
  let base = (wid.y * nwg.x + wid.x) * ${BLOCK}u;
  if (base >= N) { return; }
  for (var h = 0u; h < 2u; h++) {
    let e = lid + h * ${WG}u;
    sk[e] = kp[o_kp + base + e];
    sp[e] = kp[o_kp + N + base + e];
  }
  for (var k = kFrom; k <= kTo; k = k * 2u) {
    for (var j = min(k / 2u, ${WG}u); j > 0u; j = j / 2u) {
      workgroupBarrier();
      let i = 2u * j * (lid / j) + lid % j;
      let l = i + j;
      let up = ((base + i) & k) == 0u;
      if (after(sk[i], sp[i], sk[l], sp[l]) == up) {
        let tk = sk[i]; sk[i] = sk[l]; sk[l] = tk;
        let tp = sp[i]; sp[i] = sp[l]; sp[l] = tp;
      }
    }
  }
  workgroupBarrier();
  for (var h = 0u; h < 2u; h++) {
    let e = lid + h * ${WG}u;
    kp[o_kp + base + e] = sk[e];
    kp[o_kp + N + base + e] = sp[e];
  }
}`,
};

/** One bitonic step (k, j ≥ BLOCK) over the whole array: n = N / 2 compare-exchanges. */
const SORT_GLOBAL: KernelSpec = {
  name: 'scatter_sort_global',
  bindings: ['kp:u32!'],
  params: ['n:u32', 'N:u32', 'k:u32', 'j:u32'],
  body: `${SORT_FNS}
${main1(`let a = 2u * j * (i / j) + i % j;
  let b = a + j;
  let ka = kp[o_kp + a];
  let kb = kp[o_kp + b];
  let pa = kp[o_kp + N + a];
  let pb = kp[o_kp + N + b];
  if (after(ka, pa, kb, pb) == ((a & k) == 0u)) {
    kp[o_kp + a] = kb; kp[o_kp + b] = ka;
    kp[o_kp + N + a] = pb; kp[o_kp + N + b] = pa;
  }`)}`,
};

/** A buffer of the `count` ids' (id, position) pairs sorted by id then position (free it after). */
function sortedPairs(k: Kernels, ids: number, count: number): { kp: number; N: number } {
  let N = BLOCK;
  while (N < count) N *= 2;
  const kp = k.dev.alloc(2 * N * 4);
  const pairs = [bind(kp, 2 * N)];
  k.run1(SORT_INIT, [bind(ids, count), pairs[0]], [N, count], N);
  const blocks = grid1(N, BLOCK);
  k.run(SORT_LOCAL, pairs, [N, 2, BLOCK], blocks);
  for (let kk = 2 * BLOCK; kk <= N; kk *= 2) {
    for (let j = kk / 2; j >= BLOCK; j /= 2) k.run1(SORT_GLOBAL, pairs, [N / 2, N, kk, j], N / 2);
    k.run(SORT_LOCAL, pairs, [N, kk, kk], blocks);
  }
  return { kp, N };
}

// ---- scatter-adds ----------------------------------------------------------------------------

/**
 * dT[id, j] += the gradient rows of id's run in the sorted pairs, in position order: one thread
 * per (sorted position, column), working only at the first position of each id. Bag mode: a
 * position p is bag p / L, its gradient dy[bag] / (the bag's id count).
 */
function accumulateSpec(bag: boolean): KernelSpec {
  const grad = bag ? 'g[o_g + (q / L) * D + j] / cnt[o_cnt + q / L]' : 'g[o_g + q * D + j]';
  return {
    name: `scatter_accumulate${bag ? '_bag' : ''}`,
    bindings: ['kp:u32', 'g:f32', ...(bag ? ['cnt:f32'] : []), 'dT:f32!'],
    params: ['n:u32', 'D:u32', 'N:u32', 'count:u32', 'L:u32'],
    body: main1(`let p = i / D;
  let j = i % D;
  let key = kp[o_kp + p];
  if (key == ${NO_ID}u || (p > 0u && kp[o_kp + p - 1u] == key)) { return; }
  let at = key * D + j;
  if ((key + 1u) * D > arrayLength(&dT) - o_dT) { return; }
  var acc = dT[o_dT + at];
  for (var s = p; s < count && kp[o_kp + s] == key; s++) {
    let q = kp[o_kp + N + s];
    acc += ${grad};
  }
  dT[o_dT + at] = acc;`),
  };
}
const ACCUMULATE = accumulateSpec(false);
const ACCUMULATE_BAG = accumulateSpec(true);

export function scatterAdd(k: Kernels, dy: number, D: number, ids: number, n: number, dTable: number): void {
  if (n === 0 || D === 0) return;
  const { kp, N } = sortedPairs(k, ids, n);
  const count = n * D;
  k.run1(ACCUMULATE, [bind(kp, 2 * N), bind(dy, count), bind(dTable, extent(k, dTable))], [count, D, N, n, 1], count);
  k.dev.free(kp);
}

/** cnt[b] = the number of ids ≥ 0 in bag b. */
const BAG_COUNTS: KernelSpec = {
  name: 'embedding_bag_counts',
  bindings: ['ids:i32', 'cnt:f32!'],
  params: ['n:u32', 'L:u32'],
  body: main1(`var c = 0u;
  for (var l = 0u; l < L; l++) { c += select(0u, 1u, ids[o_ids + i * L + l] >= 0); }
  cnt[o_cnt + i] = f32(c);`),
};

export function embeddingBagBackward(
  k: Kernels,
  dy: number,
  D: number,
  ids: number,
  B: number,
  L: number,
  dTable: number,
): void {
  const n = B * L;
  if (n === 0 || D === 0) return;
  const cnt = k.dev.alloc(B * 4);
  k.run1(BAG_COUNTS, [bind(ids, n), bind(cnt, B)], [B, L], B);
  const { kp, N } = sortedPairs(k, ids, n);
  const count = n * D;
  k.run1(
    ACCUMULATE_BAG,
    [bind(kp, 2 * N), bind(dy, B * D), bind(cnt, B), bind(dTable, extent(k, dTable))],
    [count, D, N, n, L],
    count,
  );
  k.dev.free(kp);
  k.dev.free(cnt);
}
