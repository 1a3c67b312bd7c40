// f32 GEMM: C[M,N] = epilogue(A[M,K] · B[K,N]) with B pre-packed into 8-column panels.
// Cache blocking (KC x MC) around the generated register tiles (generated/micro.ts).
// Rows [m0, m1) only, so the worker pool can split M across threads over shared memory.
// Not for: choosing threads or packing policy (TypeScript side, src/kernels/gemm.ts).
import { micro_4x1, micro_3x1, micro_2x1, micro_1x1, micro_1x2, micro_1x3, micro_4x1_ta, micro_3x1_ta, micro_2x1_ta, micro_1x1_ta } from './generated/micro';
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

/** v128 lanes (a[i], a[j], b[i], b[j]) of two f32x4 vectors (transpose building block). */
// @ts-ignore: decorator
@inline function zip(a: v128, b: v128, lo: bool): v128 {
  return lo ? v128.shuffle<f32>(a, b, 0, 4, 1, 5) : v128.shuffle<f32>(a, b, 2, 6, 3, 7);
}

/**
 * Packs B given as its transpose Bt[N, K] (element (k, n) at bt[n * ldbt + k]). Full panels go
 * 4 k at a time: 8 row loads, two 4x4 register transposes, 8 stores (the scalar walk with 32-byte
 * strided stores made packing wᵀ a third of a linear layer's input gradient).
 */
export function pack_bt(bt: usize, K: i32, N: i32, ldbt: i32, out: usize): void {
  const panels = (N + 7) >> 3;
  const ldB = <usize>ldbt << 2;
  for (let p = 0; p < panels; p++) {
    const n0 = p << 3;
    const w = min(8, N - n0);
    const dst = out + <usize>p * <usize>K * 32;
    let k0 = 0;
    if (w == 8) {
      const src = bt + (<usize>n0 * ldB);
      for (; k0 + 4 <= K; k0 += 4) {
        const s = src + (<usize>k0 << 2);
        const d = dst + (<usize>k0 << 5);
        for (let h = 0; h < 2; h++) {
          const r = s + <usize>(h * 4) * ldB;
          const r0 = v128.load(r);
          const r1 = v128.load(r + ldB);
          const r2 = v128.load(r + 2 * ldB);
          const r3 = v128.load(r + 3 * ldB);
          const t0 = zip(r0, r1, true);
          const t1 = zip(r2, r3, true);
          const t2 = zip(r0, r1, false);
          const t3 = zip(r2, r3, false);
          const o = d + (<usize>h << 4);
          v128.store(o, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
          v128.store(o + 32, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
          v128.store(o + 64, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
          v128.store(o + 96, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
        }
      }
    }
    for (let j = 0; j < 8; j++) {
      if (j < w) {
        const src = bt + (<usize>(n0 + j) * <usize>ldbt << 2);
        for (let k = k0; k < K; k++) store<f32>(dst + (<usize>k << 5) + (<usize>j << 2), load<f32>(src + (<usize>k << 2)));
      } else {
        for (let k = k0; k < K; k++) store<f32>(dst + (<usize>k << 5) + (<usize>j << 2), 0);
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
  gemm_body(false, a, lda, bp, 0, K, N, c, ldc, flags, bias, res, ldr, alpha, m0, m1, scratch);
}

/**
 * gemm with A given as its transpose At[K, M] (row stride lda): C = Atᵀ · B. The tiles read At
 * in place (a k step's rows are consecutive floats), so Aᵀ·B needs no transpose pass; this is
 * the weight gradient colᵀ · dy of conv and linear layers. ldb = 0: B is packed (bp); ldb > 0:
 * B is row-major [K, N] with row stride ldb, N a multiple of 8, read in place (dy needs no
 * packing either).
 */
export function gemm_ta(a: usize, lda: i32, bp: usize, ldb: i32, K: i32, N: i32, c: usize, ldc: i32, flags: i32, bias: usize, res: usize, ldr: i32, alpha: f32, m0: i32, m1: i32, scratch: usize): void {
  gemm_body(true, a, lda, bp, ldb, K, N, c, ldc, flags, bias, res, ldr, alpha, m0, m1, scratch);
}

/** Shared loops of gemm / gemm_ta; `ta` is a constant at each (inlined) call site. */
// @ts-ignore: decorator
@inline function gemm_body(ta: bool, a: usize, lda: i32, bp: usize, ldb: i32, K: i32, N: i32, c: usize, ldc: i32, flags: i32, bias: usize, res: usize, ldr: i32, alpha: f32, m0: i32, m1: i32, scratch: usize): void {
  const panels = (N + 7) >> 3;
  // B: panel p at bp + p * bstride, k step bstep bytes (packed panels, or row-major in place).
  const bstride: usize = ldb ? 32 : <usize>K * 32;
  const bstep: usize = ldb ? <usize>ldb << 2 : 32;
  const ldaB = <usize>lda << 2;
  const ldcB = <usize>ldc << 2;
  const ldrB = <usize>ldr << 2;
  // Byte offsets of A row i / of k step pc: (i*lda, pc) for A, (i, pc*lda) for At.
  const rowB: usize = ta ? 4 : ldaB;
  const kB: usize = ta ? ldaB : 4;
  for (let pc = 0; pc < K; pc += KC) {
    const kc = min(KC, K - pc);
    let f = flags & ~(EPI_ACCUM | EPI_LAST);
    if (pc > 0 || (flags & EPI_ACCUM)) f |= EPI_ACCUM;
    if (pc + kc >= K) f |= EPI_LAST;
    const bk = bp + <usize>pc * bstep;
    const ak = a + <usize>pc * kB;
    for (let ic = m0; ic < m1; ic += MC) {
      const mend = min(ic + MC, m1);
      const full = ic + ((mend - ic) & ~3);
      for (let p = 0; p < panels; p++) {
        const n = p << 3;
        const bpp = bk + <usize>p * bstride;
        for (let i = ic; i < full; i += 4) {
          const ai = ak + <usize>i * rowB;
          const ci = c + <usize>i * ldcB + (<usize>n << 2);
          const ri = res + <usize>i * ldrB + (<usize>n << 2);
          if (ta) micro_4x1_ta(ai, ldaB, bpp, bstride, bstep, kc, ci, ldcB, n, N - n, f, bias, ri, ldrB, alpha, scratch);
          else micro_4x1(ai, ldaB, bpp, bstride, kc, ci, ldcB, n, N - n, f, bias, ri, ldrB, alpha, scratch);
        }
      }
      const rem = mend - full;
      if (rem == 0) continue;
      const ar = ak + <usize>full * rowB;
      const cr = c + <usize>full * ldcB;
      const rr = res + <usize>full * ldrB;
      if (rem == 1 && !ta) {
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
          const cn = cr + (<usize>n << 2);
          const rn = rr + (<usize>n << 2);
          if (ta) {
            if (rem == 3) micro_3x1_ta(ar, ldaB, bpp, bstride, bstep, kc, cn, ldcB, n, N - n, f, bias, rn, ldrB, alpha, scratch);
            else if (rem == 2) micro_2x1_ta(ar, ldaB, bpp, bstride, bstep, kc, cn, ldcB, n, N - n, f, bias, rn, ldrB, alpha, scratch);
            else micro_1x1_ta(ar, ldaB, bpp, bstride, bstep, kc, cn, ldcB, n, N - n, f, bias, rn, ldrB, alpha, scratch);
          } else if (rem == 3) micro_3x1(ar, ldaB, bpp, bstride, kc, cn, ldcB, n, N - n, f, bias, rn, ldrB, alpha, scratch);
          else micro_2x1(ar, ldaB, bpp, bstride, kc, cn, ldcB, n, N - n, f, bias, rn, ldrB, alpha, scratch);
        }
      }
    }
  }
}
