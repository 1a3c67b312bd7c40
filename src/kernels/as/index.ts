// Entry point of the wasm kernel module: every export here is callable from TypeScript
// (typed in src/kernels/exports.ts). One line per kernel family.
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
