// f32 GEMM: C[M,N] = epilogue(A[M,K] · B[K,N]) with B pre-packed into 8-column panels.
// Cache blocking (KC x MC) around the generated register tiles (generated/micro.ts).
// Rows [m0, m1) only, so the worker pool can split M across threads over shared memory.
// Not for: choosing threads or packing policy (TypeScript side, src/kernels/gemm.ts).
import { micro_4x1, micro_3x1, micro_2x1, micro_1x1, micro_1x2, micro_1x3 } from './generated/micro';
import { EPI_ACCUM, EPI_LAST } from './gemm_epilogue';

const KC: i32 = 512;
const MC: i32 = 64;

/** Bytes a packed B[K, N] occupies: ceil(N/8) panels of K x 8 floats. */
export function packed_b_bytes(K: i32, N: i32): i32 {
  return ((N + 7) >> 3) * K * 32;
}

/** Packs row-major B[K, N] (row stride ldb) into panels [ceil(N/8)][K][8], zero-padded. */
export function pack_b(b: usize, K: i32, N: i32, ldb: i32, out: usize): void {
  const panels = (N + 7) >> 3;
  for (let p = 0; p < panels; p++) {
    const n0 = p << 3;
    const w = min(8, N - n0);
    let dst = out + <usize>p * <usize>K * 32;
    if (w == 8) {
      for (let k = 0; k < K; k++) {
        const src = b + ((<usize>k * <usize>ldb + <usize>n0) << 2);
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
        dst += 32;
      }
    } else {
      for (let k = 0; k < K; k++) {
        const src = b + ((<usize>k * <usize>ldb + <usize>n0) << 2);
        for (let j = 0; j < 8; j++) store<f32>(dst + (<usize>j << 2), j < w ? load<f32>(src + (<usize>j << 2)) : 0);
        dst += 32;
      }
    }
  }
}

/** Packs B given as its transpose Bt[N, K] (element (k, n) at bt[n * ldbt + k]). */
export function pack_bt(bt: usize, K: i32, N: i32, ldbt: i32, out: usize): void {
  const panels = (N + 7) >> 3;
  for (let p = 0; p < panels; p++) {
    const n0 = p << 3;
    const w = min(8, N - n0);
    const dst = out + <usize>p * <usize>K * 32;
    for (let j = 0; j < 8; j++) {
      if (j < w) {
        const src = bt + (<usize>(n0 + j) * <usize>ldbt << 2);
        for (let k = 0; k < K; k++) store<f32>(dst + (<usize>k << 5) + (<usize>j << 2), load<f32>(src + (<usize>k << 2)));
      } else {
        for (let k = 0; k < K; k++) store<f32>(dst + (<usize>k << 5) + (<usize>j << 2), 0);
      }
    }
  }
}

/**
 * C rows [m0, m1) of epilogue(A · Bpacked). lda/ldc/ldr in elements. flags: EPI_* | act << 8;
 * EPI_ACCUM adds to C (beta = 1). bias: [N]; res: residual [M, N] with row stride ldr.
 * Like every kernel the pool splits, it ends with (start, end, scratch): the range this thread
 * computes and a 4 KiB scratch area private to the thread (partial tiles spill there).
 */
export function gemm(a: usize, lda: i32, bp: usize, K: i32, N: i32, c: usize, ldc: i32, flags: i32, bias: usize, res: usize, ldr: i32, alpha: f32, m0: i32, m1: i32, scratch: usize): void {
  const panels = (N + 7) >> 3;
  const bstride = <usize>K * 32;
  const ldaB = <usize>lda << 2;
  const ldcB = <usize>ldc << 2;
  const ldrB = <usize>ldr << 2;
  for (let pc = 0; pc < K; pc += KC) {
    const kc = min(KC, K - pc);
    let f = flags & ~(EPI_ACCUM | EPI_LAST);
    if (pc > 0 || (flags & EPI_ACCUM)) f |= EPI_ACCUM;
    if (pc + kc >= K) f |= EPI_LAST;
    const bk = bp + (<usize>pc << 5);
    for (let ic = m0; ic < m1; ic += MC) {
      const mend = min(ic + MC, m1);
      const full = ic + ((mend - ic) & ~3);
      for (let p = 0; p < panels; p++) {
        const n = p << 3;
        const bpp = bk + <usize>p * bstride;
        for (let i = ic; i < full; i += 4) {
          micro_4x1(a + <usize>i * ldaB + (<usize>pc << 2), ldaB, bpp, bstride, kc, c + <usize>i * ldcB + (<usize>n << 2), ldcB, n, N - n, f, bias, res + <usize>i * ldrB + (<usize>n << 2), ldrB, alpha, scratch);
        }
      }
      const rem = mend - full;
      if (rem == 0) continue;
      const ar = a + <usize>full * ldaB + (<usize>pc << 2);
      const cr = c + <usize>full * ldcB;
      const rr = res + <usize>full * ldrB;
      if (rem == 1) {
        let p = 0;
        // Single row: 3 panels at a time (see TILES in scripts/gen-kernels.mjs), then 2, then 1.
        for (; p + 3 <= panels; p += 3) {
          const n = p << 3;
          micro_1x3(ar, ldaB, bk + <usize>p * bstride, bstride, kc, cr + (<usize>n << 2), ldcB, n, N - n, f, bias, rr + (<usize>n << 2), ldrB, alpha, scratch);
        }
        if (p + 2 <= panels) {
          const n = p << 3;
          micro_1x2(ar, ldaB, bk + <usize>p * bstride, bstride, kc, cr + (<usize>n << 2), ldcB, n, N - n, f, bias, rr + (<usize>n << 2), ldrB, alpha, scratch);
          p += 2;
        }
        if (p < panels) {
          const n = p << 3;
          micro_1x1(ar, ldaB, bk + <usize>p * bstride, bstride, kc, cr + (<usize>n << 2), ldcB, n, N - n, f, bias, rr + (<usize>n << 2), ldrB, alpha, scratch);
        }
      } else {
        for (let p = 0; p < panels; p++) {
          const n = p << 3;
          const bpp = bk + <usize>p * bstride;
          if (rem == 3) micro_3x1(ar, ldaB, bpp, bstride, kc, cr + (<usize>n << 2), ldcB, n, N - n, f, bias, rr + (<usize>n << 2), ldrB, alpha, scratch);
          else micro_2x1(ar, ldaB, bpp, bstride, kc, cr + (<usize>n << 2), ldcB, n, N - n, f, bias, rr + (<usize>n << 2), ldrB, alpha, scratch);
        }
      }
    }
  }
}
