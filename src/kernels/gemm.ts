// Matrix multiply on the engine: packing policy, transposed variants and thread splitting around
// the wasm GEMM kernel (as/gemm.ts). Shapes: A[M,K] · B[K,N] = C[M,N], all row-major, dense.
// Not for: tensors or autograd (src/ops/ calls these with raw pointers).
import { ShapeError } from '../errors.js';
import type { Engine } from './engine.js';
import { ACT, type Activation, EPI } from './exports.js';

/** B[K, N] packed once into the kernels' 8-column panel layout (for weights: pack once, reuse). */
export interface PackedB {
  readonly ptr: number;
  readonly K: number;
  readonly N: number;
}

/** What the GEMM does to each output before storing it (fused, no extra pass over C). */
export interface Epilogue {
  /** C += A·B instead of C = A·B. */
  accumulate?: boolean;
  /** bias[N], added to every row. */
  bias?: number;
  /** residual[M, N] (row stride `ldr`, default N), added before the activation. */
  residual?: number;
  ldr?: number;
  activation?: Activation;
  /** Negative slope of leakyRelu. */
  alpha?: number;
}

/** Packs B[K,N] (or, with `transposed`, B given as Bt[N,K]) into a new heap block. */
export function packB(engine: Engine, b: number, K: number, N: number, transposed = false): PackedB {
  const ptr = engine.alloc(engine.k.packed_b_bytes(K, N));
  if (transposed) engine.k.pack_bt(b, K, N, K, ptr);
  else engine.k.pack_b(b, K, N, N, ptr);
  return { ptr, K, N };
}

export function freePacked(engine: Engine, p: PackedB): void {
  engine.free(p.ptr);
}

/** Work below which a GEMM stays on one thread (flops per thread). */
const MIN_FLOPS_PER_THREAD = 1 << 19;

function epilogueArgs(ep: Epilogue, N: number): number[] {
  let flags = (ACT[ep.activation ?? 'none'] << 8) | (ep.accumulate ? EPI.ACCUM : 0);
  if (ep.bias) flags |= EPI.BIAS;
  if (ep.residual) flags |= EPI.RES;
  return [flags, ep.bias ?? 0, ep.residual ?? 0, ep.ldr ?? N, ep.alpha ?? 0.01];
}

/** C[M,N] = epilogue(A[M,K] · B) with B pre-packed; splits rows across the engine's threads. */
export function gemmPacked(engine: Engine, a: number, M: number, b: PackedB, c: number, ep: Epilogue = {}): void {
  const { K, N } = b;
  const minRows = Math.max(4, Math.ceil(MIN_FLOPS_PER_THREAD / (2 * K * N)));
  engine.split('gemm', [a, K, b.ptr, K, N, c, N, ...epilogueArgs(ep, N)], M, 4, minRows);
}

/**
 * C[M,N] = epilogue(Aᵀ · B) with A given as At[K, M] (row stride `lda`, default M) and B
 * pre-packed: the kernel reads At in place, no transpose pass (weight gradients xᵀ · dy).
 */
export function gemmPackedTA(
  engine: Engine,
  at: number,
  M: number,
  b: PackedB,
  c: number,
  ep: Epilogue = {},
  lda = M,
): void {
  gemmTAImpl(engine, at, lda, b.ptr, 0, M, b.K, b.N, c, ep);
}

/**
 * C[M,N] = epilogue(Aᵀ · B), At[K, M] (row stride `lda`) and B[K, N] (row stride `ldb`) both read
 * in place, N a multiple of 8 (B's rows are then whole panels): no transpose and no packing, for
 * a B used once (dy in weight gradients).
 */
export function gemmTA(
  engine: Engine,
  at: number,
  b: number,
  c: number,
  M: number,
  K: number,
  N: number,
  ep: Epilogue = {},
  lda = M,
  ldb = N,
): void {
  if (N % 8 !== 0) throw new ShapeError(`gemmTA: N = ${N} must be a multiple of 8 (pack B instead)`);
  gemmTAImpl(engine, at, lda, b, ldb, M, K, N, c, ep);
}

function gemmTAImpl(
  engine: Engine,
  at: number,
  lda: number,
  b: number,
  ldb: number,
  M: number,
  K: number,
  N: number,
  c: number,
  ep: Epilogue,
): void {
  const minRows = Math.max(4, Math.ceil(MIN_FLOPS_PER_THREAD / (2 * K * N)));
  engine.split('gemm_ta', [at, lda, b, ldb, K, N, c, N, ...epilogueArgs(ep, N)], M, 4, minRows);
}

export interface GemmOptions extends Epilogue {
  /** A is given as At[K, M]. */
  transA?: boolean;
  /** B is given as Bt[N, K]. */
  transB?: boolean;
}

/** C[M,N] = epilogue(op(A) · op(B)) for unpacked operands (packs B in scratch; Aᵀ is read in place). */
export function gemm(
  engine: Engine,
  a: number,
  b: number,
  c: number,
  M: number,
  K: number,
  N: number,
  opts: GemmOptions = {},
): void {
  const packed = packB(engine, b, K, N, opts.transB);
  try {
    if (opts.transA) gemmPackedTA(engine, a, M, packed, c, opts);
    else gemmPacked(engine, a, M, packed, c, opts);
  } finally {
    freePacked(engine, packed);
  }
}
