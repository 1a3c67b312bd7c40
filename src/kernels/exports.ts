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
    BatchNormExports,
    OptimExports,
    Int8Exports {}

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
  gemm_ta(
    a: P,
    lda: number,
    bp: P,
    ldb: number,
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
  strided_nd(op: number, a: P, b: P, out: P, meta: P, start: number, end: number, scratch: P): void;
}

// as/elementwise.ts
export interface ElementwiseExports {
  unary(op: number, x: P, out: P, alpha: number, start: number, end: number, scratch: P): void;
  unary_backward(op: number, x: P, y: P, dy: P, dx: P, alpha: number, start: number, end: number, scratch: P): void;
  binary_row(op: number, a: P, sa: number, b: P, sb: number, out: P, n: number): void;
  scale_f32(x: P, out: P, mul: number, add: number, start: number, end: number, scratch: P): void;
  fill_f32(out: P, value: number, start: number, end: number, scratch: P): void;
  axpy_f32(alpha: number, x: P, y: P, start: number, end: number, scratch: P): void;
  copy_f32(src: P, dst: P, start: number, end: number, scratch: P): void;
}
// as/reduce.ts
export interface ReduceExports {
  reduce_axis(op: number, x: P, out: P, R: number, I: number, start: number, end: number, scratch: P): void;
  argmax_rows(x: P, cols: number, out: P, start: number, end: number, scratch: P): void;
}
// as/softmax.ts
export interface SoftmaxExports {
  softmax_rows(x: P, out: P, cols: number, log: number, start: number, end: number, scratch: P): void;
  softmax_backward_rows(y: P, dy: P, dx: P, cols: number, log: number, start: number, end: number, scratch: P): void;
  softmax_xent(
    logits: P,
    labels: P,
    probs: P,
    loss: P,
    cols: number,
    smoothing: number,
    start: number,
    end: number,
    scratch: P,
  ): void;
  softmax_xent_backward(
    probs: P,
    labels: P,
    dLoss: P,
    dLogits: P,
    cols: number,
    smoothing: number,
    start: number,
    end: number,
    scratch: P,
  ): void;
}
// as/conv.ts
export interface ConvExports {
  im2col(
    x: P,
    H: number,
    W: number,
    C: number,
    KH: number,
    KW: number,
    strideH: number,
    strideW: number,
    padTop: number,
    padLeft: number,
    OH: number,
    OW: number,
    m0: number,
    col: P,
    start: number,
    end: number,
    scratch: P,
  ): void;
  conv_flip_weights(w: P, KH: number, KW: number, C: number, OC: number, wf: P): void;
  col2im(
    col: P,
    H: number,
    W: number,
    C: number,
    KH: number,
    KW: number,
    strideH: number,
    strideW: number,
    padTop: number,
    padLeft: number,
    OH: number,
    OW: number,
    m0: number,
    m1: number,
    p0: number,
    dx: P,
    start: number,
    end: number,
    scratch: P,
  ): void;
}
// as/pooling.ts
export interface PoolingExports {
  maxpool2d(
    x: P,
    H: number,
    W: number,
    C: number,
    KH: number,
    KW: number,
    strideH: number,
    strideW: number,
    padTop: number,
    padLeft: number,
    OH: number,
    OW: number,
    out: P,
    argmax: P,
    start: number,
    end: number,
    scratch: P,
  ): void;
  maxpool2d_backward_gather(
    dy: P,
    argmax: P,
    H: number,
    W: number,
    C: number,
    KH: number,
    KW: number,
    strideH: number,
    strideW: number,
    padTop: number,
    padLeft: number,
    OH: number,
    OW: number,
    dx: P,
    start: number,
    end: number,
    scratch: P,
  ): void;
  maxpool2d_backward(
    dy: P,
    argmax: P,
    outLen: number,
    inLen: number,
    dx: P,
    start: number,
    end: number,
    scratch: P,
  ): void;
  avgpool2d(
    x: P,
    H: number,
    W: number,
    C: number,
    KH: number,
    KW: number,
    strideH: number,
    strideW: number,
    padTop: number,
    padLeft: number,
    OH: number,
    OW: number,
    out: P,
    start: number,
    end: number,
    scratch: P,
  ): void;
  avgpool2d_backward(
    dy: P,
    H: number,
    W: number,
    C: number,
    KH: number,
    KW: number,
    strideH: number,
    strideW: number,
    padTop: number,
    padLeft: number,
    OH: number,
    OW: number,
    dx: P,
    start: number,
    end: number,
    scratch: P,
  ): void;
  global_avg_pool(x: P, HW: number, C: number, out: P, start: number, end: number, scratch: P): void;
  global_avg_pool_backward(dy: P, HW: number, C: number, dx: P, start: number, end: number, scratch: P): void;
}
// as/batchnorm.ts
export interface BatchNormExports {
  bn_moments(x: P, rows: number, C: number, parts: number, partials: P, start: number, end: number, scratch: P): void;
  bn_mean_var(partials: P, parts: number, rows: number, C: number, x: P, mean: P, variance: P): void;
  bn_scale_shift(variance: P, gamma: P, beta: P, C: number, eps: number, coef: P): void;
  bn_forward(x: P, C: number, mean: P, coef: P, out: P, start: number, end: number, scratch: P): void;
  bn_backward_sums(
    x: P,
    dy: P,
    rows: number,
    C: number,
    mean: P,
    invstd: P,
    parts: number,
    partials: P,
    start: number,
    end: number,
    scratch: P,
  ): void;
  bn_backward_coefs(
    partials: P,
    parts: number,
    rows: number,
    C: number,
    gamma: P,
    invstd: P,
    dgamma: P,
    dbeta: P,
    coef: P,
  ): void;
  bn_backward_dx(x: P, dy: P, C: number, mean: P, coef: P, dx: P, start: number, end: number, scratch: P): void;
}

// as/optim.ts
export interface OptimExports {
  sgd_step(
    param: P,
    grad: P,
    buf: P,
    lr: number,
    momentum: number,
    damp1: number,
    wd: number,
    flags: number,
    start: number,
    end: number,
    scratch: P,
  ): void;
  adam_step(
    param: P,
    grad: P,
    m: P,
    v: P,
    b1w: number,
    beta2: number,
    b2w: number,
    stepSize: number,
    bc2Sqrt: number,
    eps: number,
    wd: number,
    decay: number,
    flags: number,
    start: number,
    end: number,
    scratch: P,
  ): void;
  sum_squares(x: P, n: number, parts: number, partials: P, start: number, end: number, scratch: P): void;
}

// as/int8.ts
export interface Int8Exports {
  packed_b8_bytes(K: number, N: number): number;
  pack_b8(b: P, K: number, N: number, ldb: number, out: P, colsum: P): void;
  gemm_i8(
    x: P,
    ldx: number,
    a16: P,
    bp: P,
    K: number,
    N: number,
    y: P,
    ldy: number,
    flags: number,
    colsum: P,
    scale: P,
    bias: P,
    sx: number,
    zx: number,
    outMul: number,
    zy: number,
    m0: number,
    m1: number,
    scratch: P,
  ): void;
  col_stride_i8(K: number): number;
  tile_stride_i8(K: number): number;
  conv_i8(
    x: P,
    H: number,
    W: number,
    C: number,
    KH: number,
    KW: number,
    strideH: number,
    strideW: number,
    padTop: number,
    padLeft: number,
    OH: number,
    OW: number,
    m0: number,
    col: P,
    a16: P,
    bp: P,
    N: number,
    y: P,
    flags: number,
    colsum: P,
    scale: P,
    bias: P,
    sx: number,
    zx: number,
    outMul: number,
    zy: number,
    start: number,
    end: number,
    scratch: P,
  ): void;
  conv_pool_i8(
    x: P,
    H: number,
    W: number,
    C: number,
    KH: number,
    KW: number,
    strideH: number,
    strideW: number,
    padTop: number,
    padLeft: number,
    PH: number,
    PW: number,
    p0: number,
    col: P,
    a16: P,
    bp: P,
    N: number,
    y: P,
    flags: number,
    colsum: P,
    scale: P,
    bias: P,
    sx: number,
    zx: number,
    outMul: number,
    zy: number,
    start: number,
    end: number,
    scratch: P,
  ): void;
  conv_c1_pad_bytes(OH: number, OW: number, KH: number, KW: number): number;
  /** Bytes of a thread's scratch the padded image may use. */
  conv_c1_pad_limit(): number;
  conv_c1_i8(
    x: P,
    H: number,
    W: number,
    KH: number,
    KW: number,
    padTop: number,
    padLeft: number,
    OH: number,
    OW: number,
    pool: number,
    bp: P,
    N: number,
    y: P,
    flags: number,
    colsum: P,
    scale: P,
    bias: P,
    sx: number,
    zx: number,
    outMul: number,
    zy: number,
    start: number,
    end: number,
    scratch: P,
  ): void;
  wino_ws_tile_bytes(C: number, OC: number): number;
  wino_i8(
    x: P,
    H: number,
    W: number,
    C: number,
    padTop: number,
    padLeft: number,
    OH: number,
    OW: number,
    TH: number,
    TW: number,
    pool: number,
    t0: number,
    ws: P,
    bp: P,
    bstride: number,
    N: number,
    y: P,
    flags: number,
    colsum: P,
    scale: P,
    bias: P,
    sx: number,
    zx: number,
    outMul: number,
    zy: number,
    start: number,
    end: number,
    scratch: P,
  ): void;
  quantize_i8(x: P, q: P, scale: number, zp: number, start: number, end: number, scratch: P): void;
  dequantize_i8(q: P, x: P, scale: number, zp: number, start: number, end: number, scratch: P): void;
  maxpool2d_i8(
    x: P,
    H: number,
    W: number,
    C: number,
    KH: number,
    KW: number,
    strideH: number,
    strideW: number,
    padTop: number,
    padLeft: number,
    OH: number,
    OW: number,
    y: P,
    start: number,
    end: number,
    scratch: P,
  ): void;
  global_avg_pool_i8(x: P, HW: number, C: number, y: P, start: number, end: number, scratch: P): void;
}

/** GEMM epilogue flags and activation codes (mirror of as/gemm_epilogue.ts). */
export const EPI = { ACCUM: 1, BIAS: 4, RES: 8 } as const;
export const ACT = { none: 0, relu: 1, leakyRelu: 2, sigmoid: 3, tanh: 4, gelu: 5 } as const;
export type Activation = keyof typeof ACT;
