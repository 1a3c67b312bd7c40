// Entry point of the training kernel module (kernels-<isa>-<mem>.wasm): every export here is
// callable from TypeScript, typed in src/kernels/exports.generated.ts (scripts/gen-exports.mjs
// makes it from these files). One line per kernel family; the inference module: index-infer.ts.
export * from './gemm';
export * from './layout';
export * from './elementwise';
export * from './reduce';
export * from './softmax';
export * from './conv';
export * from './pooling';
export * from './batchnorm';
export * from './optim';
export * from './int8';
export * from './winograd_i8';
export * from './conv_c1_i8';
export * from './recurrent';
export * from './gather';
