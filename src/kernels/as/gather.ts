// Embedding lookups and their adjoints: rows of a table [V, D] by id (-1: padding, a zero row),
// the mean of a bag of rows, and the scatter-adds that train them. Forward kernels split over
// rows (each writes its own); the scatters split over columns, so threads never add into the same
// element (ids repeat across a batch). Ids are checked by the caller (ops/gather.ts idsInRange).
// Not for: int8 tables (ops/gather.ts gatherInt8, host-side).

// @ts-ignore: decorator
@inline function zero_row(dst: usize, D: i32): void {
  let j = 0;
  for (; j + 4 <= D; j += 4) v128.store(dst + (<usize>j << 2), f32x4.splat(0));
  for (; j < D; j++) store<f32>(dst + (<usize>j << 2), 0);
}

// @ts-ignore: decorator
@inline function add_row(dst: usize, src: usize, from: i32, to: i32): void {
  let j = from;
  for (; j + 4 <= to; j += 4) {
    const p = <usize>j << 2;
    v128.store(dst + p, f32x4.add(v128.load(dst + p), v128.load(src + p)));
  }
  for (; j < to; j++) {
    const p = <usize>j << 2;
    store<f32>(dst + p, load<f32>(dst + p) + load<f32>(src + p));
  }
}

/** out[i, :] = table[ids[i], :] (zeros for id -1), rows i in [start, end). */
export function gather_rows(table: usize, D: i32, ids: usize, out: usize, start: i32, end: i32, scratch: usize): void {
  const row = <usize>D << 2;
  for (let i = start; i < end; i++) {
    const k = load<i32>(ids + (<usize>i << 2));
    const dst = out + <usize>i * row;
    if (k < 0) zero_row(dst, D);
    else memory.copy(dst, table + <usize>k * row, row);
  }
}

/** Number of ids ≥ 0 in bag b of ids [B, L]. */
// @ts-ignore: decorator
@inline function bag_count(ids: usize, L: i32, b: i32): i32 {
  let count = 0;
  const at = ids + ((<usize>b * <usize>L) << 2);
  for (let t = 0; t < L; t++) if (load<i32>(at + (<usize>t << 2)) >= 0) count++;
  return count;
}

/**
 * out[b, :] = the mean of table[ids[b, t], :] over the bag's ids ≥ 0 (zeros for an empty bag),
 * bags b in [start, end) of ids [B, L]. Summed in id order, then divided (as the host loop did).
 */
export function embedding_bag(table: usize, D: i32, ids: usize, L: i32, out: usize, start: i32, end: i32, scratch: usize): void {
  const row = <usize>D << 2;
  for (let b = start; b < end; b++) {
    const dst = out + <usize>b * row;
    zero_row(dst, D);
    let count = 0;
    const at = ids + ((<usize>b * <usize>L) << 2);
    for (let t = 0; t < L; t++) {
      const k = load<i32>(at + (<usize>t << 2));
      if (k < 0) continue;
      count++;
      add_row(dst, table + <usize>k * row, 0, D);
    }
    if (count > 1) {
      const c = <f32>count;
      let j = 0;
      const cv = f32x4.splat(c);
      for (; j + 4 <= D; j += 4) {
        const p = dst + (<usize>j << 2);
        v128.store(p, f32x4.div(v128.load(p), cv));
      }
      for (; j < D; j++) {
        const p = dst + (<usize>j << 2);
        store<f32>(p, load<f32>(p) / c);
      }
    }
  }
}

/** dTable[ids[i], j] += dy[i, j] for every i < n (id -1 skipped), columns j in [start, end). */
export function scatter_add_cols(dy: usize, D: i32, ids: usize, n: i32, dTable: usize, start: i32, end: i32, scratch: usize): void {
  const row = <usize>D << 2;
  for (let i = 0; i < n; i++) {
    const k = load<i32>(ids + (<usize>i << 2));
    if (k < 0) continue;
    add_row(dTable + <usize>k * row, dy + <usize>i * row, start, end);
  }
}

/**
 * The adjoint of embedding_bag: dTable[ids[b, t], j] += dy[b, j] / count_b for the ids ≥ 0 of
 * every bag of ids [B, L], columns j in [start, end).
 */
export function embedding_bag_backward_cols(dy: usize, D: i32, ids: usize, B: i32, L: i32, dTable: usize, start: i32, end: i32, scratch: usize): void {
  const row = <usize>D << 2;
  for (let b = 0; b < B; b++) {
    const count = bag_count(ids, L, b);
    if (count == 0) continue;
    const c = <f32>count;
    const cv = f32x4.splat(c);
    const src = dy + <usize>b * row;
    const at = ids + ((<usize>b * <usize>L) << 2);
    for (let t = 0; t < L; t++) {
      const k = load<i32>(at + (<usize>t << 2));
      if (k < 0) continue;
      const dst = dTable + <usize>k * row;
      let j = start;
      for (; j + 4 <= end; j += 4) {
        const p = <usize>j << 2;
        v128.store(dst + p, f32x4.add(v128.load(dst + p), f32x4.div(v128.load(src + p), cv)));
      }
      for (; j < end; j++) {
        const p = <usize>j << 2;
        store<f32>(dst + p, load<f32>(dst + p) + load<f32>(src + p) / c);
      }
    }
  }
}
