// Data movement kernels: transposes, copies. No arithmetic.

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
