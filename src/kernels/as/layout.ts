// Data movement kernels: the blocked 2-D transpose and the rank-6 strided walker that serves
// transpose, slice, concat, broadcast expansion and (through binary_row) broadcasting binary ops.
// Not for: arithmetic beyond the binary op of one row (elementwise.ts).
import { binary_row } from './elementwise';

/** strided_nd op code that copies instead of combining two inputs. */
const ND_COPY: i32 = -1;
/** Rank of every strided_nd walk (shapes are padded with leading 1s). */
const RANK: i32 = 6;

/** dst[cols, rows] = src[rows, cols]ᵀ (row-major, dense), in 8x8 blocks for cache locality. */
export function transpose2d(src: usize, rows: i32, cols: i32, dst: usize): void {
  for (let i0 = 0; i0 < rows; i0 += 8) {
    const i1 = min(i0 + 8, rows);
    for (let j0 = 0; j0 < cols; j0 += 8) {
      const j1 = min(j0 + 8, cols);
      for (let i = i0; i < i1; i++) {
        const s = src + (<usize>i * <usize>cols << 2);
        for (let j = j0; j < j1; j++) store<f32>(dst + ((<usize>j * <usize>rows + <usize>i) << 2), load<f32>(s + (<usize>j << 2)));
      }
    }
  }
}

/** dst[i*sd] = src[i*ss] for i < n (strides in elements). */
// @ts-ignore: decorator
@inline function copy_row(src: usize, ss: i32, dst: usize, sd: i32, n: i32): void {
  if (ss == 1 && sd == 1) {
    memory.copy(dst, src, <usize>n << 2);
    return;
  }
  const es = <usize>ss << 2;
  const ed = <usize>sd << 2;
  for (let i = 0; i < n; i++) store<f32>(dst + <usize>i * ed, load<f32>(src + <usize>i * es));
}

/**
 * Walks a rank-6 index space dims[6] in row-major order over flat positions [start, end).
 * meta: i32[24] = dims[6], strides of a[6], of b[6], of out[6] (elements; 0 = broadcast).
 * op = ND_COPY: out[idx] = a[idx]; otherwise out[idx] = a[idx] op b[idx] (binary op code,
 * out must be dense: its inner stride 1).
 */
export function strided_nd(op: i32, a: usize, b: usize, out: usize, meta: usize, start: i32, end: i32, scratch: usize): void {
  const inner = load<i32>(meta, (RANK - 1) << 2);
  const sa = load<i32>(meta, (2 * RANK - 1) << 2);
  const sb = load<i32>(meta, (3 * RANK - 1) << 2);
  const so = load<i32>(meta, (4 * RANK - 1) << 2);
  let pos = start;
  while (pos < end) {
    let rem = pos / inner;
    const i5 = pos - rem * inner;
    let oa = <usize>i5 * <usize>sa;
    let ob = <usize>i5 * <usize>sb;
    let oo = <usize>i5 * <usize>so;
    for (let k = RANK - 2; k >= 0; k--) {
      const d = load<i32>(meta + (<usize>k << 2));
      const q = rem / d;
      const ik = <usize>(rem - q * d);
      rem = q;
      oa += ik * <usize>load<i32>(meta + (<usize>(RANK + k) << 2));
      ob += ik * <usize>load<i32>(meta + (<usize>(2 * RANK + k) << 2));
      oo += ik * <usize>load<i32>(meta + (<usize>(3 * RANK + k) << 2));
    }
    const len = min(inner - i5, end - pos);
    if (op == ND_COPY) copy_row(a + (oa << 2), sa, out + (oo << 2), so, len);
    else binary_row(op, a + (oa << 2), sa, b + (ob << 2), sb, out + (oo << 2), len);
    pos += len;
  }
}
