// The TypeScript view of the wasm kernel module's exports (src/kernels/as/index.ts).
// Pointers and sizes are byte addresses / element counts in the engine's linear memory.
// Kernels the pool can split end with (start, end, scratch); see engine.ts `split`.
type P = number;

/** All kernels; one interface per family, each beside the family's TypeScript wrappers. */
export interface KernelExports
  extends GemmExports,
    LayoutExports,
    ElementwiseExports,
    ReduceExports,
    SoftmaxExports,
    ConvExports,
    PoolingExports,
    BatchNormExports {}

// as/gemm.ts
export interface GemmExports {
  packed_b_bytes(K: number, N: number): number;
  pack_b(b: P, K: number, N: number, ldb: number, out: P): void;
  pack_bt(bt: P, K: number, N: number, ldbt: number, out: P): void;
  gemm(
    a: P,
    lda: number,
    bp: P,
    K: number,
    N: number,
    c: P,
    ldc: number,
    flags: number,
    bias: P,
    res: P,
    ldr: number,
    alpha: number,
    m0: number,
    m1: number,
    scratch: P,
  ): void;
}

// as/layout.ts
export interface LayoutExports {
  transpose2d(src: P, rows: number, cols: number, dst: P): void;
}

// as/elementwise.ts
// biome-ignore lint/suspicious/noEmptyInterface: filled as kernels land
export interface ElementwiseExports {}
// as/reduce.ts
// biome-ignore lint/suspicious/noEmptyInterface: filled as kernels land
export interface ReduceExports {}
// as/softmax.ts
// biome-ignore lint/suspicious/noEmptyInterface: filled as kernels land
export interface SoftmaxExports {}
// as/conv.ts
// biome-ignore lint/suspicious/noEmptyInterface: filled as kernels land
export interface ConvExports {}
// as/pooling.ts
// biome-ignore lint/suspicious/noEmptyInterface: filled as kernels land
export interface PoolingExports {}
// as/batchnorm.ts
// biome-ignore lint/suspicious/noEmptyInterface: filled as kernels land
export interface BatchNormExports {}

/** GEMM epilogue flags and activation codes (mirror of as/gemm_epilogue.ts). */
export const EPI = { ACCUM: 1, BIAS: 4, RES: 8 } as const;
export const ACT = { none: 0, relu: 1, leakyRelu: 2, sigmoid: 3, tanh: 4, gelu: 5 } as const;
export type Activation = keyof typeof ACT;
