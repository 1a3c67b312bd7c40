// The backend interface: what a device must supply for tensors, the op definitions (src/ops/) and
// the runtime to compute on it, grouped by op family (candle/tinygrad style): buffers, elementwise,
// reduce, matmul (GEMM + epilogue, pre-packed weights), conv, pool, norm, layout, gather/scatter,
// optimizer updates, and int8 as an optional capability. Buffers are opaque handles (`Buf`, a
// number); shapes and geometry are plain numbers, so a backend needs nothing from tensor/ or ops/.
// Two levels: InferenceBackend (buffers and forward kernels: what the runtime needs, so a lean
// bundle carries no training kernels) and Backend (adds backward kernels, batch statistics, losses
// and optimizer updates: what tensors and autograd need). Implementations: wasm-infer.ts and
// wasm.ts (the AssemblyScript kernels, the fast path) and reference.ts (plain TypeScript: the test
// oracle and the constant folder). Not for: shape rules (src/ops/, src/shape/),
// autograd, or choosing between backends (src/backend/index.ts).
import type { MemoryStats } from '../kernels/heap.js';
import type { AdagradStepArgs, AdamStepArgs, RowSet, SgdStepArgs } from '../kernels/optim.js';
import type { ScanCell } from '../kernels/recurrent.js';
import type { Conv2dGeometry, Pool2dGeometry } from '../shape/window.js';

export type { AdagradStepArgs, AdamStepArgs, MemoryStats, RowSet, SgdStepArgs };

/**
 * A buffer handle of a backend: a byte address in the backend's memory, so `buf + k` is the
 * address k bytes further (views into a buffer: batched GEMMs, slices of a plan's arena).
 */
export type Buf = number;
export type BufDType = 'float32' | 'int32' | 'int8';

export type UnaryFn =
  | 'neg'
  | 'exp'
  | 'log'
  | 'sqrt'
  | 'abs'
  | 'square'
  | 'reciprocal'
  | 'relu'
  | 'leakyRelu'
  | 'sigmoid'
  | 'tanh'
  | 'gelu';
export const UNARY_FNS: readonly UnaryFn[] = [
  'neg',
  'exp',
  'log',
  'sqrt',
  'abs',
  'square',
  'reciprocal',
  'relu',
  'leakyRelu',
  'sigmoid',
  'tanh',
  'gelu',
];
/** eq / gt give 1 or 0. */
export type BinaryFn = 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min' | 'eq' | 'gt';
export type ReduceFn = 'sum' | 'mean' | 'max';
export { SCAN_I8_MAX_HIDDEN, SCAN_STATE_ONE, type ScanCell } from '../kernels/recurrent.js';
/** Activations a GEMM/conv epilogue applies (a subset of the unary functions). */
export type EpilogueActivation = 'none' | 'relu' | 'leakyRelu' | 'sigmoid' | 'tanh' | 'gelu';

/** What a GEMM or convolution does to each output before storing it (fused: no extra pass). */
export interface Epilogue {
  /** C += A·B instead of C = A·B. */
  accumulate?: boolean;
  /** bias[N], added to every row. */
  bias?: Buf;
  /** residual[M, N] (row stride `ldr`, default N), added before the activation. */
  residual?: Buf;
  ldr?: number;
  activation?: EpilogueActivation;
  /** Negative slope of leakyRelu. */
  alpha?: number;
}

export interface GemmOptions extends Epilogue {
  /** A is given as At[K, M]. */
  transA?: boolean;
  /** B is given as Bt[N, K]. */
  transB?: boolean;
}

/** Weights laid out once for a backend's kernels (opaque; release with `release`). */
export interface Prepared {
  readonly kind: string;
}

/** What an int8 GEMM / convolution does to each output: bias (real units), ReLU, int8 requantization or float32. */
export interface Int8Epilogue {
  bias?: Buf;
  relu?: boolean;
  out: { kind: 'int8'; scale: number; zeroPoint: number } | { kind: 'float32' };
}

/** int8 inference kernels (quantization: real = scale · (q − zeroPoint); weights per output channel, zero point 0). */
export interface Int8Family {
  /** Weights [K, N] (int8, per-column scales) for gemm. */
  prepareGemm(w: Int8Array, K: number, N: number, scales: ArrayLike<number>): Prepared;
  /** y[M, N] = epilogue(x[M, K] · W) for int8 x with scale sx, zero point zx. */
  gemm(x: Buf, M: number, sx: number, zx: number, w: Prepared, y: Buf, ep: Int8Epilogue): void;
  /**
   * Weights [KH, KW, C, OC] for conv over `geometry` (any batch): the backend picks its fastest exact
   * variant; `pool` fuses a following 2×2/stride-2 max pool (int8 output; y is the pooled tensor).
   */
  prepareConv(
    w: Int8Array,
    shape: readonly number[],
    scales: ArrayLike<number>,
    geometry: Conv2dGeometry,
    opts: { winograd: boolean; pool: boolean },
  ): Prepared;
  conv2d(x: Buf, sx: number, zx: number, w: Prepared, g: Conv2dGeometry, y: Buf, ep: Int8Epilogue): void;
  quantize(x: Buf, n: number, scale: number, zeroPoint: number, q: Buf): void;
  dequantize(q: Buf, n: number, scale: number, zeroPoint: number, x: Buf): void;
  maxPool2d(x: Buf, g: Pool2dGeometry, y: Buf): void;
  globalAvgPool(x: Buf, N: number, HW: number, C: number, y: Buf): void;
}

/** What inference needs of a device: buffers and the forward kernels of every family (the runtime's backend). */
export interface InferenceBackend {
  /** 'wasm', 'reference', … */
  readonly name: string;
  /**
   * Memory the host reaches only by a round trip (a GPU): eager ops then skip their host-side value
   * checks (OpDef.checkValues), and loops that read every step read less often.
   */
  readonly deviceMemory?: boolean;

  // ---- buffers -------------------------------------------------------------------------------
  alloc(bytes: number): Buf;
  free(buf: Buf): void;
  /** A copy of `count` elements at buf. */
  read(buf: Buf, dtype: BufDType, count: number): Float32Array | Int32Array | Int8Array;
  /** values → buf (element offset `at`). */
  write(buf: Buf, dtype: BufDType, values: ArrayLike<number>, at?: number): void;
  /** Live views of the backend's memory (valid until the next alloc): for host-side loops. */
  f32(buf: Buf, count: number): Float32Array;
  i32(buf: Buf, count: number): Int32Array;
  /** Bytes in use, cached and peak (for leak tests and reports). */
  memoryStats(): MemoryStats;

  // ---- elementwise ---------------------------------------------------------------------------
  /** out[n] = fn(x[n]) (gelu: tanh approximation; leakyRelu: slope alpha); in place allowed. */
  unary(fn: UnaryFn, x: Buf, out: Buf, n: number, alpha?: number): void;
  /** out[broadcast(aShape, bShape)] = a fn b (numpy broadcasting). */
  binary(fn: BinaryFn, a: Buf, aShape: readonly number[], b: Buf, bShape: readonly number[], out: Buf): void;
  /** out[broadcast] = cond ≠ 0 ? a : b (all three broadcast). */
  where(
    cond: Buf,
    condShape: readonly number[],
    a: Buf,
    aShape: readonly number[],
    b: Buf,
    bShape: readonly number[],
    out: Buf,
  ): void;
  /** out[n] = x[n] · mul + add. */
  scale(x: Buf, out: Buf, n: number, mul: number, add: number): void;
  fill(out: Buf, n: number, value: number): void;
  copy(src: Buf, dst: Buf, n: number): void;

  // ---- reduce --------------------------------------------------------------------------------
  /** out = fn of x[shape] over `axes` (sorted, non-negative). */
  reduce(fn: ReduceFn, x: Buf, shape: readonly number[], axes: readonly number[], out: Buf): void;
  /** out[rows, cols] = softmax (log-softmax when `log`) along the last axis; in place allowed. */
  softmax(x: Buf, rows: number, cols: number, out: Buf, log: boolean): void;

  // ---- matmul --------------------------------------------------------------------------------
  /** C[M, N] = epilogue(op(A) · op(B)) (transA: training backends; forward ops do not use it). */
  gemm(a: Buf, b: Buf, c: Buf, M: number, K: number, N: number, opts?: GemmOptions): void;
  /** Float weights B[K, N] laid out once for gemmPrepared / conv2dPrepared. */
  prepareWeights(w: Float32Array, K: number, N: number): Prepared;
  gemmPrepared(a: Buf, M: number, w: Prepared, c: Buf, ep?: Epilogue): void;
  /**
   * As prepareWeights, for weights whose values are halves (an fp16 artifact's constant): a device
   * that computes from f16 storage keeps them so (WebGPU with shader-f16); absent: prepareWeights.
   */
  prepareWeightsHalf?(w: Float32Array, K: number, N: number): Prepared;
  release(p: Prepared): void;

  // ---- conv ----------------------------------------------------------------------------------
  conv2d(x: Buf, w: Buf, g: Conv2dGeometry, out: Buf, ep?: Epilogue): void;
  conv2dPrepared(x: Buf, w: Prepared, g: Conv2dGeometry, out: Buf, ep?: Epilogue): void;

  // ---- pool ----------------------------------------------------------------------------------
  /** argmax (int32, y's size) receives x's flat index of each window's max (0 = skip). */
  maxPool2d(x: Buf, g: Pool2dGeometry, out: Buf, argmax: Buf): void;
  /** Padding cells not counted. */
  avgPool2d(x: Buf, g: Pool2dGeometry, out: Buf): void;
  globalAvgPool(x: Buf, N: number, HW: number, C: number, out: Buf): void;

  // ---- norm ----------------------------------------------------------------------------------
  batchNormForward(
    x: Buf,
    rows: number,
    C: number,
    mean: Buf,
    variance: Buf,
    eps: number,
    gamma: Buf,
    beta: Buf,
    out: Buf,
  ): void;

  // ---- layout --------------------------------------------------------------------------------
  transpose(x: Buf, shape: readonly number[], perm: readonly number[], out: Buf): void;
  slice(x: Buf, shape: readonly number[], begin: readonly number[], size: readonly number[], out: Buf): void;
  concat(inputs: readonly { buf: Buf; shape: readonly number[] }[], axis: number, out: Buf): void;

  // ---- gather / scatter ----------------------------------------------------------------------
  /** out[n, D] = table[ids[n], :] (int32 ids; -1 gives zeros). */
  gather(table: Buf, D: number, ids: Buf, n: number, out: Buf): void;
  /** out[B, D] = mean of table rows of each bag ids[B, L] (-1 = padding; empty bag = 0). */
  embeddingBag(table: Buf, D: number, ids: Buf, B: number, L: number, out: Buf): void;

  // ---- recurrent (inference: the whole time loop of one direction in one call) ---------------
  /**
   * Recurrent weights wh [H, G·H] (G = 3 for GRU z, r, n; 4 for LSTM i, o, f, c) and bias bh [G·H]
   * for scan: float32, or int8 with one scale per column — the state then enters the recurrent
   * GEMV as 16-bit fixed point, q = round(h · 2^14) (|h| < 1), with int32 accumulation.
   */
  prepareScan(
    cell: ScanCell,
    H: number,
    wh: Float32Array | Int8Array,
    scales?: ArrayLike<number>,
    bh?: Float32Array,
  ): Prepared;
  /**
   * y[N, T, H] = the hidden state after every step of one GRU/LSTM direction over the input
   * projections xw[N, T, G·H], in time order (reverse: run from the last step); h = c = 0 first.
   * GRU: n = tanh(x_n + r ⊙ (h·Wh_n + bh_n)) (PyTorch's, ONNX linear_before_reset = 1).
   */
  scan(xw: Buf, N: number, T: number, w: Prepared, reverse: boolean, y: Buf): void;

  /** int8 kernels, when the backend has them. */
  readonly int8?: Int8Family;
  /** Frees what the backend holds (worker threads, memory); every buffer becomes invalid. */
  dispose(): void;
}

/** A device for training too: the backward kernels, batch statistics, losses and optimizer updates. */
export interface Backend extends InferenceBackend {
  /** dx[n] = dy[n] · fn'(x[n]) given y = fn(x); dx may alias dy. */
  unaryBackward(fn: UnaryFn, x: Buf, y: Buf, dy: Buf, dx: Buf, n: number, alpha?: number): void;
  /** y[n] += alpha · x[n]. */
  axpy(alpha: number, x: Buf, y: Buf, n: number): void;
  /** out[rows] (int32) = argmax of each row of x[rows, cols]. */
  argmax(x: Buf, rows: number, cols: number, out: Buf): void;
  softmaxBackward(y: Buf, dy: Buf, dx: Buf, rows: number, cols: number, log: boolean): void;
  /** loss[rows] = cross-entropy of softmax(logits) vs int32 labels (label smoothing); probs kept. */
  softmaxCrossEntropy(
    logits: Buf,
    labels: Buf,
    rows: number,
    cols: number,
    loss: Buf,
    probs: Buf,
    smoothing: number,
  ): void;
  softmaxCrossEntropyBackward(
    probs: Buf,
    labels: Buf,
    rows: number,
    cols: number,
    dLoss: Buf,
    dLogits: Buf,
    smoothing: number,
  ): void;
  conv2dBackwardData(dy: Buf, w: Buf, g: Conv2dGeometry, dx: Buf): void;
  conv2dBackwardWeight(x: Buf, dy: Buf, g: Conv2dGeometry, dw: Buf): void;
  maxPool2dBackward(dy: Buf, argmax: Buf, g: Pool2dGeometry, dx: Buf): void;
  avgPool2dBackward(dy: Buf, g: Pool2dGeometry, dx: Buf): void;
  globalAvgPoolBackward(dy: Buf, N: number, HW: number, C: number, dx: Buf): void;
  /** Per-channel mean and biased variance of x[rows, C]. */
  batchNormStats(x: Buf, rows: number, C: number, mean: Buf, variance: Buf): void;
  batchNormBackward(
    x: Buf,
    dy: Buf,
    rows: number,
    C: number,
    mean: Buf,
    variance: Buf,
    eps: number,
    gamma: Buf,
    dx: Buf,
    dgamma: Buf,
    dbeta: Buf,
  ): void;
  /** dx[shape] = 0 except the window at begin, which gets dy[size]. */
  sliceBackward(dy: Buf, size: readonly number[], begin: readonly number[], dx: Buf, shape: readonly number[]): void;
  /** dTable[ids[n], :] += dy[n, :] (ids -1 skipped); the adjoint of gather. */
  scatterAdd(dy: Buf, D: number, ids: Buf, n: number, dTable: Buf): void;
  embeddingBagBackward(dy: Buf, D: number, ids: Buf, B: number, L: number, dTable: Buf): void;
  // ---- optimizers ----------------------------------------------------------------------------
  // In place over n elements; with rows, grad is a row-sparse gradient and only those rows of the
  // parameter and its state change (Adam then as torch.optim.SparseAdam: kernels/optim.ts adamScalars).
  sgdStep(param: Buf, grad: Buf, buf: Buf, n: number, a: SgdStepArgs, rows?: RowSet): void;
  adamStep(param: Buf, grad: Buf, m: Buf, v: Buf, n: number, a: AdamStepArgs, rows?: RowSet): void;
  adagradStep(param: Buf, grad: Buf, sum: Buf, n: number, a: AdagradStepArgs, rows?: RowSet): void;
  /** Σ x[n]² (float64 accumulation). */
  sumSquares(x: Buf, n: number): number;
}

export const DTYPE_BYTES: Record<BufDType, number> = { float32: 4, int32: 4, int8: 1 };
