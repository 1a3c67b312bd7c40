// The TypeScript view of the wasm kernel modules: the generated export signatures
// (exports.generated.ts, made by scripts/gen-exports.mjs from src/kernels/as) and the
// hand-written constants that mirror the AssemblyScript side's flag and activation codes.
// Not for: kernel signatures (edit the AssemblyScript source and regenerate, never by hand).

export type * from './exports.generated.js';
export { INFER_KERNEL_NAMES, KERNEL_NAMES } from './exports.generated.js';

/** GEMM epilogue flags and activation codes (mirror of as/gemm_epilogue.ts). */
export const EPI = { ACCUM: 1, BIAS: 4, RES: 8 } as const;
export const ACT = { none: 0, relu: 1, leakyRelu: 2, sigmoid: 3, tanh: 4, gelu: 5 } as const;
export type Activation = keyof typeof ACT;
