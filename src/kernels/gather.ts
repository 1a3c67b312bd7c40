// Embedding lookups on the engine (as/gather.ts): rows of a table [V, D] by id, the mean of bags
// of ids, and their adjoints (scatter-adds split over columns, so threads never add into the same
// element). Ids must already lie in [-1, V) (ops/gather.ts checks them).
import type { Engine } from './engine.js';
import { MIN_PER_THREAD } from './layout.js';

/** out[i, :] = table[ids[i], :] for n ids (zeros for -1). */
export function gatherRows(e: Engine, table: number, D: number, ids: number, n: number, out: number): void {
  e.split('gather_rows', [table, D, ids, out], n, 1, Math.ceil(MIN_PER_THREAD / Math.max(D, 1)));
}

/** out[b, :] = mean of table[ids[b, t], :] over the ids ≥ 0 of each of B bags of L ids (zeros if none). */
export function embeddingBag(
  e: Engine,
  table: number,
  D: number,
  ids: number,
  B: number,
  L: number,
  out: number,
): void {
  e.split('embedding_bag', [table, D, ids, L, out], B, 1, Math.ceil(MIN_PER_THREAD / Math.max(D * L, 1)));
}

/** dTable[ids[i], :] += dy[i, :] for n ids (-1 skipped). */
export function scatterAdd(e: Engine, dy: number, D: number, ids: number, n: number, dTable: number): void {
  e.split('scatter_add_cols', [dy, D, ids, n, dTable], D, 4, Math.ceil(MIN_PER_THREAD / Math.max(n, 1)));
}

/** The adjoint of embeddingBag: dTable[ids[b, t], :] += dy[b, :] / count_b. */
export function embeddingBagBackward(
  e: Engine,
  dy: number,
  D: number,
  ids: number,
  B: number,
  L: number,
  dTable: number,
): void {
  e.split(
    'embedding_bag_backward_cols',
    [dy, D, ids, B, L, dTable],
    D,
    4,
    Math.ceil(MIN_PER_THREAD / Math.max(B * L, 1)),
  );
}
