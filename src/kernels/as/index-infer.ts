// Entry point of the inference kernel module (kernels-infer-<isa>-<mem>.wasm): the kernels that
// src/runtime's Session runs, and nothing else, so pages and servers load a smaller module.
// Left out: backward kernels, loss, optimizer steps and training-only helpers (gemm_ta, argmax,
// axpy, batch statistics): only training code calls them. Reductions, transposes, scale/fill/copy
// are in: graph ops (softmax over an axis, layernorm, mean, transpose) run them. An engine made with
// profile 'infer' throws a clear error if one is called anyway (src/kernels/engine.ts).
// Every name here must be an export of index.ts too (scripts/gen-exports.mjs checks), and
// test/runtime/infer-module.test.ts checks that the runtime bundle calls nothing missing here.

// f32 dense and convolution layers (im2col + GEMM), the activations of the GEMM epilogue
export { packed_b_bytes, pack_b, pack_bt, gemm } from './gemm';
export { im2col } from './conv';
// elementwise ops with broadcasting (strided_nd) and standalone activations
export { strided_nd, transpose2d } from './layout';
export { unary, binary_row, scale_f32, fill_f32, copy_f32 } from './elementwise';
export { reduce_axis } from './reduce';
export { softmax_rows } from './softmax';
export { maxpool2d, avgpool2d, global_avg_pool } from './pooling';
// batch norm in eval mode (running statistics): scale/shift, then the per-row affine
export { bn_scale_shift, bn_forward } from './batchnorm';
// int8 inference: all of it
export {
  packed_b8_bytes,
  pack_b8,
  gemm_i8,
  col_stride_i8,
  tile_stride_i8,
  conv_i8,
  conv_pool_i8,
  quantize_i8,
  dequantize_i8,
  maxpool2d_i8,
  global_avg_pool_i8,
} from './int8';
export * from './winograd_i8';
export * from './conv_c1_i8';
// embedding lookups (embedding, embeddingbag over float tables)
export { gather_rows, embedding_bag } from './gather';
// recurrent layers (rnnscan's runtime step): the whole GRU/LSTM time loop in one call
export { rnn_scan } from './recurrent';
