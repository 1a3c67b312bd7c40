// The reference backend: every Backend method as plain TypeScript loops over its own growable
// ArrayBuffer heap. It is the oracle the wasm kernels are tested against and the evaluator the
// compiler folds constants with, so clarity beats speed: one straightforward loop nest per op,
// arithmetic in f64 rounded to f32 on store — except where the kernels define exact f32 steps
// (the int8 epilogue, quantize, dequantize), which are reproduced step by step with Math.fround,
// so int8 outputs match the kernels bit for bit.
// Semantics are the kernels' (doc comments of src/kernels/*.ts and as/*.ts), conventions included:
// a buffer handle 0 means 'none' (bias, residual, argmax, gamma/beta, dgamma/dbeta, the SGD
// momentum buffer), leakyRelu's slope defaults to 0.01, and the in-place calls the interface
// allows (unary, softmax, dx aliasing dy, overlapping copy) read before they write.
// Not for: speed (wasm.ts), shape rules (src/shape/, src/ops/), choosing a backend.
import { fmtShape, ShapeError, ValueError } from '../errors.js';
import { adamScalars } from '../kernels/optim.js';
import {
  broadcastShape,
  type Conv2dGeometry,
  concatAxis,
  type Pool2dGeometry,
  reducedAxes,
  type WindowGeometry,
} from '../shape/window.js';
import type {
  AdagradStepArgs,
  AdamStepArgs,
  Backend,
  BinaryFn,
  Buf,
  BufDType,
  Epilogue,
  EpilogueActivation,
  GemmOptions,
  Int8Epilogue,
  Int8Family,
  MemoryStats,
  Prepared,
  ReduceFn,
  RowSet,
  ScanCell,
  SgdStepArgs,
  UnaryFn,
} from './backend.js';
import { SCAN_STATE_ONE } from './backend.js';
import { checkScale, checkZeroPoint, weightScales } from './int8-args.js';

const f = Math.fround;

/** Block alignment, as the wasm heap: one cache line. */
const ALIGN = 64;
/** Default negative slope of leakyRelu (the kernels' default). */
const LEAKY_ALPHA = 0.01;
const GELU_K = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

// ---- heap ------------------------------------------------------------------------------------

/**
 * Byte heap of the reference backend: a bump pointer over one ArrayBuffer (replaced by a bigger
 * copy when full) and per-size free lists. Offset 0 is never handed out, so 0 can mean 'none'.
 */
class ReferenceHeap {
  private buffer = new ArrayBuffer(1 << 16);
  private views = ReferenceHeap.viewsOf(this.buffer);
  private top = ALIGN;
  private readonly sizes = new Map<number, number>();
  private readonly freeLists = new Map<number, number[]>();
  private live = 0;
  private peak = 0;
  private cached = 0;

  private static viewsOf(b: ArrayBuffer) {
    return { f32: new Float32Array(b), i32: new Int32Array(b), i8: new Int8Array(b) };
  }

  alloc(bytes: number): Buf {
    if (!Number.isFinite(bytes) || bytes < 0) throw new RangeError(`reference backend: invalid size ${bytes}`);
    const size = Math.max(1, Math.ceil(bytes / ALIGN)) * ALIGN;
    let ptr = this.freeLists.get(size)?.pop();
    if (ptr !== undefined) this.cached -= size;
    else {
      ptr = this.top;
      this.top += size;
      if (this.top > this.buffer.byteLength) this.grow(this.top);
    }
    this.sizes.set(ptr, size);
    this.live += size;
    this.peak = Math.max(this.peak, this.live);
    return ptr;
  }

  free(ptr: Buf): void {
    const size = this.sizes.get(ptr);
    if (size === undefined) throw new ValueError(`reference backend: ${ptr} is not a live buffer (double free?)`);
    this.sizes.delete(ptr);
    this.live -= size;
    this.cached += size;
    const list = this.freeLists.get(size) ?? [];
    list.push(ptr);
    this.freeLists.set(size, list);
  }

  /** A bigger buffer holding the old bytes; views taken before are stale afterwards. */
  private grow(minBytes: number): void {
    let bytes = this.buffer.byteLength;
    while (bytes < minBytes) bytes *= 2;
    const next = new ArrayBuffer(bytes);
    new Uint8Array(next).set(new Uint8Array(this.buffer));
    this.buffer = next;
    this.views = ReferenceHeap.viewsOf(next);
  }

  stats(): MemoryStats {
    return {
      liveBytes: this.live,
      liveBlocks: this.sizes.size,
      peakLiveBytes: this.peak,
      cachedBytes: this.cached,
      wasmBytes: this.buffer.byteLength,
    };
  }

  f32(buf: Buf, count: number): Float32Array {
    return this.views.f32.subarray(buf >> 2, (buf >> 2) + count);
  }
  i32(buf: Buf, count: number): Int32Array {
    return this.views.i32.subarray(buf >> 2, (buf >> 2) + count);
  }
  i8(buf: Buf, count: number): Int8Array {
    return this.views.i8.subarray(buf, buf + count);
  }

  dispose(): void {
    this.buffer = new ArrayBuffer(0);
    this.views = ReferenceHeap.viewsOf(this.buffer);
    this.top = ALIGN;
    this.sizes.clear();
    this.freeLists.clear();
    this.live = 0;
    this.cached = 0;
  }
}

// ---- scalar functions ------------------------------------------------------------------------

/** GELU, tanh approximation (PyTorch's approximate='tanh'). */
function gelu(x: number): number {
  return 0.5 * x * (1 + Math.tanh(GELU_K * (x + GELU_C * x * x * x)));
}

function unaryValue(fn: UnaryFn, x: number, alpha: number): number {
  switch (fn) {
    case 'neg':
      return -x;
    case 'exp':
      return Math.exp(x);
    case 'log':
      return Math.log(x);
    case 'sqrt':
      return Math.sqrt(x);
    case 'abs':
      return Math.abs(x);
    case 'square':
      return x * x;
    case 'reciprocal':
      return 1 / x;
    case 'relu':
      // biome-ignore lint/complexity/useMathMinMax: NaN gives 0, as in the kernels (Math.max would keep NaN)
      return x > 0 ? x : 0;
    case 'leakyRelu':
      return x > 0 ? x : x * alpha;
    case 'sigmoid':
      return 1 / (1 + Math.exp(-x));
    case 'tanh':
      return Math.tanh(x);
    case 'gelu':
      return gelu(x);
  }
}

/** dy · fn'(x), given y = fn(x) (used where the kernels use it). */
function unaryGradient(fn: UnaryFn, x: number, y: number, dy: number, alpha: number): number {
  switch (fn) {
    case 'neg':
      return -dy;
    case 'exp':
      return dy * y;
    case 'log':
      return dy / x;
    case 'sqrt':
      return (dy * 0.5) / y;
    case 'abs':
      return x > 0 ? dy : x < 0 ? -dy : 0;
    case 'square':
      return dy * 2 * x;
    case 'reciprocal':
      return -dy * y * y;
    case 'relu':
      return x > 0 ? dy : 0;
    case 'leakyRelu':
      return x > 0 ? dy : dy * alpha;
    case 'sigmoid':
      return dy * y * (1 - y);
    case 'tanh':
      return dy * (1 - y * y);
    case 'gelu': {
      const t = Math.tanh(GELU_K * (x + GELU_C * x * x * x));
      const du = GELU_K * (1 + 3 * GELU_C * x * x);
      return dy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du);
    }
  }
}

function activate(v: number, act: EpilogueActivation, alpha: number): number {
  return act === 'none' ? v : unaryValue(act, v, alpha);
}

function binaryValue(fn: BinaryFn, a: number, b: number): number {
  switch (fn) {
    case 'add':
      return a + b;
    case 'sub':
      return a - b;
    case 'mul':
      return a * b;
    case 'div':
      return a / b;
    case 'max':
      return Math.max(a, b); // NaN propagates, as numpy.maximum
    case 'min':
      return Math.min(a, b);
    case 'eq':
      return a === b ? 1 : 0;
    case 'gt':
      return a > b ? 1 : 0;
  }
}

/** Round half to even (ONNX QuantizeLinear, f32x4.nearest). */
function roundHalfEven(v: number): number {
  const r = Math.round(v); // half up
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/** f32 t → int8 as the kernels' requant8: round half to even, saturate to i16, add zy, saturate to i8 (NaN → zy). */
function requantize(t: number, zy: number): number {
  const q = Number.isNaN(t) ? 0 : clamp(roundHalfEven(t), -32768, 32767);
  return clamp(q + zy, -128, 127);
}

/** round(s / d) with ties to even, in integers (d > 0). */
function divRoundHalfEven(s: number, d: number): number {
  const q = Math.trunc(s / d);
  const r2 = Math.abs(s - q * d) * 2;
  if (r2 > d || (r2 === d && q % 2 !== 0)) return q + (s < 0 ? -1 : 1);
  return q;
}

// ---- index arithmetic ------------------------------------------------------------------------

function numel(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/** Row-major element strides of a dense shape. */
function denseStrides(shape: readonly number[]): number[] {
  const s: number[] = new Array(shape.length);
  let acc = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    s[k] = acc;
    acc *= shape[k];
  }
  return s;
}

/** Multi-index of flat position i in a row-major shape. */
function unravel(i: number, shape: readonly number[]): number[] {
  const idx: number[] = new Array(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    idx[k] = i % shape[k];
    i = Math.floor(i / shape[k]);
  }
  return idx;
}

function dot(idx: readonly number[], strides: readonly number[]): number {
  let s = 0;
  for (let k = 0; k < idx.length; k++) s += idx[k] * strides[k];
  return s;
}

/** Strides of a dense `shape` read as `outShape` (numpy broadcasting: missing and size-1 dims stride 0). */
function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const dense = denseStrides(shape);
  const lead = outShape.length - shape.length;
  return outShape.map((_, k) => (k < lead || shape[k - lead] === 1 ? 0 : dense[k - lead]));
}

/** One real cell of a sliding window: input pixel (n·H + ih)·W + iw and tap kh·KW + kw. */
interface Tap {
  pixel: number;
  tap: number;
}

/** The cells of output (n, oh, ow)'s window that lie inside the image, row-major (padding skipped). */
function windowTaps(g: WindowGeometry, n: number, oh: number, ow: number): Tap[] {
  const taps: Tap[] = [];
  for (let kh = 0; kh < g.KH; kh++) {
    const ih = oh * g.strideH - g.padTop + kh;
    if (ih < 0 || ih >= g.H) continue;
    for (let kw = 0; kw < g.KW; kw++) {
      const iw = ow * g.strideW - g.padLeft + kw;
      if (iw < 0 || iw >= g.W) continue;
      taps.push({ pixel: (n * g.H + ih) * g.W + iw, tap: kh * g.KW + kw });
    }
  }
  return taps;
}

/** Calls f(m, taps) for every output pixel m = (n·OH + oh)·OW + ow. */
function forEachOutput(g: WindowGeometry, f: (m: number, taps: Tap[]) => void): void {
  for (let n = 0; n < g.N; n++)
    for (let oh = 0; oh < g.OH; oh++)
      for (let ow = 0; ow < g.OW; ow++) f((n * g.OH + oh) * g.OW + ow, windowTaps(g, n, oh, ow));
}

/** P[M, OC] = conv2d of x [N, H, W, C] with w [KH, KW, C, OC], output pixels as rows. */
function convolve(x: ArrayLike<number>, w: ArrayLike<number>, g: Conv2dGeometry): Float64Array {
  const { C, OC } = g;
  const P = new Float64Array(g.N * g.OH * g.OW * OC);
  forEachOutput(g, (m, taps) => {
    for (const { pixel, tap } of taps)
      for (let c = 0; c < C; c++) {
        const xv = x[pixel * C + c];
        for (let oc = 0; oc < OC; oc++) P[m * OC + oc] += xv * w[(tap * C + c) * OC + oc];
      }
  });
  return P;
}

/** P[M, N] = op(A) · op(B): A[M, K] or, with transA, At[K, M]; B[K, N] or, with transB, Bt[N, K]. */
function matmul(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  M: number,
  K: number,
  N: number,
  t: { transA?: boolean; transB?: boolean },
): Float64Array {
  const P = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++)
        s += (t.transA ? a[k * M + i] : a[i * K + k]) * (t.transB ? b[j * K + k] : b[k * N + j]);
      P[i * N + j] = s;
    }
  return P;
}

// ---- int8 helpers ----------------------------------------------------------------------------

/**
 * The int8 epilogue of as/int8_epilogue.ts for acc = Σ (x − zx)·w (exact) of output channel n, each
 * step rounded to f32 as there: mul = (sw·sx)·outMul, add = bias·outMul, t = f32(acc)·mul + add,
 * ReLU, then t itself (float32 out) or requantized with zy (int8 out).
 */
function int8Epilogue(
  op: string,
  ep: Int8Epilogue,
  scales: Float32Array,
  sx: number,
  zx: number,
  bias: Float32Array | undefined,
): (acc: number, n: number) => number {
  checkScale(op, 'input scale', sx);
  checkZeroPoint(op, zx);
  let outMul = 1;
  let zy = 0;
  const int8Out = ep.out.kind === 'int8';
  if (ep.out.kind === 'int8') {
    checkScale(op, 'output scale', ep.out.scale);
    checkZeroPoint(op, ep.out.zeroPoint);
    outMul = f(1 / ep.out.scale);
    zy = ep.out.zeroPoint;
  }
  const sxf = f(sx);
  return (acc, n) => {
    const mul = f(f(scales[n] * sxf) * outMul);
    const add = bias ? f(bias[n] * outMul) : 0;
    let t = f(f(f(acc) * mul) + add);
    if (ep.relu && t < 0) t = 0;
    return int8Out ? requantize(t, zy) : t;
  };
}

/** Recurrent weights for scan (int8: scale = weight scale / 2^14 per column, the fixed-point state's step). */
interface PreparedScan extends Prepared {
  kind: 'reference-scan';
  cell: ScanCell;
  H: number;
  wh: Float32Array | Int8Array;
  scale: Float32Array | null;
  bh: Float32Array | null;
}

interface PreparedF32 extends Prepared {
  kind: 'reference-f32';
  w: Float32Array;
  K: number;
  N: number;
}
interface PreparedI8Gemm extends Prepared {
  kind: 'reference-i8-gemm';
  w: Int8Array;
  K: number;
  N: number;
  scales: Float32Array;
}
interface PreparedI8Conv extends Prepared {
  kind: 'reference-i8-conv';
  w: Int8Array;
  shape: [KH: number, KW: number, C: number, OC: number];
  scales: Float32Array;
  pool: boolean;
}

function prepared<P extends Prepared>(op: string, p: Prepared, kind: P['kind']): P {
  if (p.kind !== kind)
    throw new ValueError(`reference backend ${op}: weights prepared as '${p.kind}', expected '${kind}'`);
  return p as P;
}

// ---- the backend -----------------------------------------------------------------------------

export class ReferenceBackend implements Backend {
  readonly name = 'reference';
  private readonly heap = new ReferenceHeap();
  readonly int8: Int8Family = new ReferenceInt8(this.heap);

  // ---- buffers -------------------------------------------------------------------------------
  alloc(bytes: number): Buf {
    return this.heap.alloc(bytes);
  }
  free(buf: Buf): void {
    this.heap.free(buf);
  }
  read(buf: Buf, dtype: BufDType, count: number): Float32Array | Int32Array | Int8Array {
    if (dtype === 'float32') return this.heap.f32(buf, count).slice();
    if (dtype === 'int32') return this.heap.i32(buf, count).slice();
    return this.heap.i8(buf, count).slice();
  }
  write(buf: Buf, dtype: BufDType, values: ArrayLike<number>, at = 0): void {
    if (dtype === 'float32') this.heap.f32(buf + at * 4, values.length).set(values);
    else if (dtype === 'int32') this.heap.i32(buf + at * 4, values.length).set(values);
    else this.heap.i8(buf + at, values.length).set(values);
  }
  f32(buf: Buf, count: number): Float32Array {
    return this.heap.f32(buf, count);
  }
  i32(buf: Buf, count: number): Int32Array {
    return this.heap.i32(buf, count);
  }
  memoryStats(): MemoryStats {
    return this.heap.stats();
  }

  // ---- elementwise ---------------------------------------------------------------------------
  unary(fn: UnaryFn, x: Buf, out: Buf, n: number, alpha = LEAKY_ALPHA): void {
    const xv = this.f32(x, n);
    const o = this.f32(out, n);
    for (let i = 0; i < n; i++) o[i] = unaryValue(fn, xv[i], alpha);
  }

  unaryBackward(fn: UnaryFn, x: Buf, y: Buf, dy: Buf, dx: Buf, n: number, alpha = LEAKY_ALPHA): void {
    const [xv, yv, g, d] = [this.f32(x, n), this.f32(y, n), this.f32(dy, n), this.f32(dx, n)];
    for (let i = 0; i < n; i++) d[i] = unaryGradient(fn, xv[i], yv[i], g[i], alpha);
  }

  binary(fn: BinaryFn, a: Buf, aShape: readonly number[], b: Buf, bShape: readonly number[], out: Buf): void {
    const shape = broadcastShape(aShape, bShape, fn);
    const [sa, sb] = [broadcastStrides(aShape, shape), broadcastStrides(bShape, shape)];
    const [av, bv] = [this.f32(a, numel(aShape)), this.f32(b, numel(bShape))];
    const result = new Float32Array(numel(shape));
    for (let i = 0; i < result.length; i++) {
      const idx = unravel(i, shape);
      result[i] = binaryValue(fn, av[dot(idx, sa)], bv[dot(idx, sb)]);
    }
    this.f32(out, result.length).set(result);
  }

  where(
    cond: Buf,
    condShape: readonly number[],
    a: Buf,
    aShape: readonly number[],
    b: Buf,
    bShape: readonly number[],
    out: Buf,
  ): void {
    const shape = broadcastShape(broadcastShape(condShape, aShape, 'where'), bShape, 'where');
    const [sc, sa, sb] = [condShape, aShape, bShape].map((s) => broadcastStrides(s, shape));
    const [cv, av, bv] = [this.f32(cond, numel(condShape)), this.f32(a, numel(aShape)), this.f32(b, numel(bShape))];
    const result = new Float32Array(numel(shape));
    for (let i = 0; i < result.length; i++) {
      const idx = unravel(i, shape);
      result[i] = cv[dot(idx, sc)] !== 0 ? av[dot(idx, sa)] : bv[dot(idx, sb)];
    }
    this.f32(out, result.length).set(result);
  }

  scale(x: Buf, out: Buf, n: number, mul: number, add: number): void {
    const [xv, o] = [this.f32(x, n), this.f32(out, n)];
    for (let i = 0; i < n; i++) o[i] = xv[i] * mul + add;
  }

  fill(out: Buf, n: number, value: number): void {
    this.f32(out, n).fill(value);
  }

  axpy(alpha: number, x: Buf, y: Buf, n: number): void {
    const [xv, yv] = [this.f32(x, n), this.f32(y, n)];
    for (let i = 0; i < n; i++) yv[i] += alpha * xv[i];
  }

  copy(src: Buf, dst: Buf, n: number): void {
    this.f32(dst, n).set(this.f32(src, n).slice()); // a copy first: overlapping ranges move as memmove
  }

  // ---- reduce --------------------------------------------------------------------------------
  /** An empty reduced axis gives the identity: sum 0, mean NaN (0/0), max −Infinity. */
  reduce(fn: ReduceFn, x: Buf, shape: readonly number[], axes: readonly number[], out: Buf): void {
    const reduced = reducedAxes(`reduce ${fn}`, shape, axes);
    const total = numel(shape);
    const outShape = shape.filter((_, k) => !reduced.has(k));
    const outDense = denseStrides(outShape);
    // Stride in out of each input dim (0 for reduced dims).
    let j = 0;
    const strides = shape.map((_, k) => (reduced.has(k) ? 0 : outDense[j++]));
    const acc = new Float64Array(numel(outShape)).fill(fn === 'max' ? -Infinity : 0);
    const xv = this.f32(x, total);
    for (let i = 0; i < total; i++) {
      const o = dot(unravel(i, shape), strides);
      acc[o] = fn === 'max' ? Math.max(acc[o], xv[i]) : acc[o] + xv[i];
    }
    if (fn === 'mean') for (let o = 0; o < acc.length; o++) acc[o] /= total / acc.length;
    this.f32(out, acc.length).set(acc);
  }

  argmax(x: Buf, rows: number, cols: number, out: Buf): void {
    const [xv, o] = [this.f32(x, rows * cols), this.i32(out, rows)];
    for (let r = 0; r < rows; r++) {
      const row = xv.subarray(r * cols, (r + 1) * cols);
      // The largest non-NaN value, then its first position (a row of only NaNs gives 0).
      let m = -Infinity;
      for (const v of row) if (v > m) m = v;
      const idx = row.indexOf(m);
      o[r] = Math.max(idx, 0);
    }
  }

  softmax(x: Buf, rows: number, cols: number, out: Buf, log: boolean): void {
    const [xv, o] = [this.f32(x, rows * cols), this.f32(out, rows * cols)];
    for (let r = 0; r < rows; r++) {
      const row = Array.from(xv.subarray(r * cols, (r + 1) * cols));
      const m = Math.max(...row);
      const e = row.map((v) => Math.exp(v - m));
      const s = e.reduce((p, v) => p + v, 0);
      for (let c = 0; c < cols; c++) o[r * cols + c] = log ? row[c] - m - Math.log(s) : e[c] / s;
    }
  }

  softmaxBackward(y: Buf, dy: Buf, dx: Buf, rows: number, cols: number, log: boolean): void {
    const n = rows * cols;
    const [yv, g, d] = [this.f32(y, n), this.f32(dy, n), this.f32(dx, n)];
    for (let r = 0; r < rows; r++) {
      let sum = 0; // log: Σ dy; else Σ dy·y
      for (let c = 0; c < cols; c++) sum += log ? g[r * cols + c] : g[r * cols + c] * yv[r * cols + c];
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c;
        d[i] = log ? g[i] - Math.exp(yv[i]) * sum : yv[i] * (g[i] - sum);
      }
    }
  }

  softmaxCrossEntropy(
    logits: Buf,
    labels: Buf,
    rows: number,
    cols: number,
    loss: Buf,
    probs: Buf,
    smoothing: number,
  ): void {
    const [xv, lab, l, p] = [
      this.f32(logits, rows * cols),
      this.i32(labels, rows),
      this.f32(loss, rows),
      this.f32(probs, rows * cols),
    ];
    for (let r = 0; r < rows; r++) {
      const row = Array.from(xv.subarray(r * cols, (r + 1) * cols));
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
      // target = (1 − s)·onehot(label) + s/cols; loss = −Σ target · log p
      let value = 0;
      for (let c = 0; c < cols; c++) {
        const target = (c === lab[r] ? 1 - smoothing : 0) + smoothing / cols;
        value -= target * (row[c] - lse);
        p[r * cols + c] = Math.exp(row[c] - lse);
      }
      l[r] = value;
    }
  }

  softmaxCrossEntropyBackward(
    probs: Buf,
    labels: Buf,
    rows: number,
    cols: number,
    dLoss: Buf,
    dLogits: Buf,
    smoothing: number,
  ): void {
    const [p, lab, g, d] = [
      this.f32(probs, rows * cols),
      this.i32(labels, rows),
      this.f32(dLoss, rows),
      this.f32(dLogits, rows * cols),
    ];
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) {
        const target = (c === lab[r] ? 1 - smoothing : 0) + smoothing / cols;
        d[r * cols + c] = g[r] * (p[r * cols + c] - target);
      }
  }

  // ---- matmul --------------------------------------------------------------------------------
  gemm(a: Buf, b: Buf, c: Buf, M: number, K: number, N: number, opts: GemmOptions = {}): void {
    const P = matmul(this.f32(a, M * K), this.f32(b, K * N), M, K, N, opts);
    this.storeEpilogue(P, M, N, c, opts);
  }

  prepareWeights(w: Float32Array, K: number, N: number): Prepared {
    if (w.length !== K * N) throw new ShapeError(`prepareWeights: ${w.length} weights for [${K}, ${N}]`);
    const p: PreparedF32 = { kind: 'reference-f32', w: w.slice(), K, N };
    return p;
  }

  gemmPrepared(a: Buf, M: number, w: Prepared, c: Buf, ep: Epilogue = {}): void {
    const { w: wv, K, N } = prepared<PreparedF32>('gemmPrepared', w, 'reference-f32');
    this.storeEpilogue(matmul(this.f32(a, M * K), wv, M, K, N, {}), M, N, c, ep);
  }

  prepareScan(cell: ScanCell, H: number, wh: Float32Array | Int8Array, scales?: ArrayLike<number>, bh?: Float32Array) {
    const GH = (cell === 'gru' ? 3 : 4) * H;
    if (wh.length !== H * GH) throw new ShapeError(`prepareScan: ${wh.length} recurrent weights for [${H}, ${GH}]`);
    if (wh instanceof Int8Array && scales?.length !== GH)
      throw new ShapeError(`prepareScan: int8 weights need ${GH} column scales`);
    const p: PreparedScan = {
      kind: 'reference-scan',
      cell,
      H,
      wh: wh.slice(),
      // the kernel's per-column step of the fixed-point state: scale / 2^14 in float32
      scale: wh instanceof Int8Array ? Float32Array.from(scales as ArrayLike<number>, (v) => v / SCAN_STATE_ONE) : null,
      bh: bh?.slice() ?? null,
    };
    return p;
  }

  scan(xw: Buf, N: number, T: number, w: Prepared, reverse: boolean, y: Buf): void {
    const { cell, H, wh, scale, bh } = prepared<PreparedScan>('scan', w, 'reference-scan');
    const GH = (cell === 'gru' ? 3 : 4) * H;
    const X = this.f32(xw, N * T * GH);
    const Y = this.f32(y, N * T * H);
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const hw = new Float64Array(GH);
    for (let n = 0; n < N; n++) {
      const h = new Float32Array(H);
      const c = new Float32Array(H);
      const q = new Int32Array(H);
      for (let s = 0; s < T; s++) {
        const t = reverse ? T - 1 - s : s;
        for (let j = 0; j < GH; j++) {
          let acc = 0;
          // int8: the exact integer dot product of the fixed-point state, then its scale
          for (let k = 0; k < H; k++) acc += (scale ? q[k] : h[k]) * wh[k * GH + j];
          hw[j] = (scale ? f(f(acc) * scale[j]) : acc) + (bh ? bh[j] : 0);
        }
        const x = (n * T + t) * GH;
        for (let j = 0; j < H; j++) {
          const a = (g: number) => X[x + g * H + j] + hw[g * H + j];
          let next: number;
          if (cell === 'gru') {
            const [z, r] = [sig(a(0)), sig(a(1))];
            const nn = Math.tanh(X[x + 2 * H + j] + r * hw[2 * H + j]);
            next = nn + z * (h[j] - nn);
          } else {
            c[j] = sig(a(2)) * c[j] + sig(a(0)) * Math.tanh(a(3));
            next = sig(a(1)) * Math.tanh(c[j]);
          }
          Y[(n * T + t) * H + j] = next;
        }
        for (let j = 0; j < H; j++) {
          h[j] = Y[(n * T + t) * H + j];
          q[j] = roundHalfEven(f(h[j] * SCAN_STATE_ONE));
        }
      }
    }
  }

  release(_p: Prepared): void {
    // Prepared weights are JavaScript copies: the garbage collector frees them.
  }

  /** C[M, N] = act(P (+ C when accumulating) + bias + residual), the GEMM/conv epilogue. */
  private storeEpilogue(P: Float64Array, M: number, N: number, c: Buf, ep: Epilogue): void {
    const out = this.f32(c, M * N);
    const bias = ep.bias ? this.f32(ep.bias, N) : undefined;
    const ldr = ep.ldr ?? N;
    const res = ep.residual ? this.f32(ep.residual, Math.max(0, (M - 1) * ldr + N)) : undefined;
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let v = P[i * N + j];
        if (ep.accumulate) v += out[i * N + j];
        if (bias) v += bias[j];
        if (res) v += res[i * ldr + j];
        out[i * N + j] = activate(v, ep.activation ?? 'none', ep.alpha ?? LEAKY_ALPHA);
      }
  }

  // ---- conv ----------------------------------------------------------------------------------
  conv2d(x: Buf, w: Buf, g: Conv2dGeometry, out: Buf, ep: Epilogue = {}): void {
    const xv = this.f32(x, g.N * g.H * g.W * g.C);
    const wv = this.f32(w, g.KH * g.KW * g.C * g.OC);
    this.storeEpilogue(convolve(xv, wv, g), g.N * g.OH * g.OW, g.OC, out, ep);
  }

  conv2dPrepared(x: Buf, w: Prepared, g: Conv2dGeometry, out: Buf, ep: Epilogue = {}): void {
    const p = prepared<PreparedF32>('conv2dPrepared', w, 'reference-f32');
    if (p.K !== g.KH * g.KW * g.C || p.N !== g.OC) {
      throw new ShapeError(
        `conv2d: prepared weights are [${p.K}, ${p.N}] but the geometry needs [KH*KW*C, OC] = [${g.KH * g.KW * g.C}, ${g.OC}]`,
      );
    }
    const xv = this.f32(x, g.N * g.H * g.W * g.C);
    this.storeEpilogue(convolve(xv, p.w, g), g.N * g.OH * g.OW, g.OC, out, ep);
  }

  /** dx [N, H, W, C] = Σ over the outputs reading each input cell of dy · w (overwrites dx). */
  conv2dBackwardData(dy: Buf, w: Buf, g: Conv2dGeometry, dx: Buf): void {
    const { C, OC } = g;
    const g_ = this.f32(dy, g.N * g.OH * g.OW * OC);
    const wv = this.f32(w, g.KH * g.KW * C * OC);
    const result = new Float64Array(g.N * g.H * g.W * C);
    forEachOutput(g, (m, taps) => {
      for (const { pixel, tap } of taps)
        for (let c = 0; c < C; c++)
          for (let oc = 0; oc < OC; oc++) result[pixel * C + c] += g_[m * OC + oc] * wv[(tap * C + c) * OC + oc];
    });
    this.f32(dx, result.length).set(result);
  }

  /** dw [KH, KW, C, OC] = Σ over outputs of x · dy (overwrites dw). */
  conv2dBackwardWeight(x: Buf, dy: Buf, g: Conv2dGeometry, dw: Buf): void {
    const { C, OC } = g;
    const xv = this.f32(x, g.N * g.H * g.W * C);
    const g_ = this.f32(dy, g.N * g.OH * g.OW * OC);
    const result = new Float64Array(g.KH * g.KW * C * OC);
    forEachOutput(g, (m, taps) => {
      for (const { pixel, tap } of taps)
        for (let c = 0; c < C; c++)
          for (let oc = 0; oc < OC; oc++) result[(tap * C + c) * OC + oc] += xv[pixel * C + c] * g_[m * OC + oc];
    });
    this.f32(dw, result.length).set(result);
  }

  // ---- pool ----------------------------------------------------------------------------------
  /** Max over each window's real cells; the first winner on ties; argmax (when not 0) gets x's flat index. */
  maxPool2d(x: Buf, g: Pool2dGeometry, out: Buf, argmax: Buf): void {
    const { C } = g;
    const xv = this.f32(x, g.N * g.H * g.W * C);
    const o = this.f32(out, g.N * g.OH * g.OW * C);
    const am = argmax ? this.i32(argmax, g.N * g.OH * g.OW * C) : undefined;
    forEachOutput(g, (m, taps) => {
      for (let c = 0; c < C; c++) {
        let best = taps[0].pixel * C + c;
        for (const { pixel } of taps) if (xv[pixel * C + c] > xv[best]) best = pixel * C + c;
        o[m * C + c] = xv[best];
        if (am) am[m * C + c] = best;
      }
    });
  }

  /** dx = 0, then dx[argmax[j]] += dy[j]. */
  maxPool2dBackward(dy: Buf, argmax: Buf, g: Pool2dGeometry, dx: Buf): void {
    const len = g.N * g.OH * g.OW * g.C;
    const [g_, am] = [this.f32(dy, len), this.i32(argmax, len)];
    const d = this.f32(dx, g.N * g.H * g.W * g.C).fill(0);
    for (let j = 0; j < len; j++) d[am[j]] += g_[j];
  }

  avgPool2d(x: Buf, g: Pool2dGeometry, out: Buf): void {
    const { C } = g;
    const xv = this.f32(x, g.N * g.H * g.W * C);
    const o = this.f32(out, g.N * g.OH * g.OW * C);
    forEachOutput(g, (m, taps) => {
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (const { pixel } of taps) s += xv[pixel * C + c];
        o[m * C + c] = s / taps.length;
      }
    });
  }

  avgPool2dBackward(dy: Buf, g: Pool2dGeometry, dx: Buf): void {
    const { C } = g;
    const g_ = this.f32(dy, g.N * g.OH * g.OW * C);
    const result = new Float64Array(g.N * g.H * g.W * C);
    forEachOutput(g, (m, taps) => {
      for (const { pixel } of taps) for (let c = 0; c < C; c++) result[pixel * C + c] += g_[m * C + c] / taps.length;
    });
    this.f32(dx, result.length).set(result);
  }

  globalAvgPool(x: Buf, N: number, HW: number, C: number, out: Buf): void {
    const [xv, o] = [this.f32(x, N * HW * C), this.f32(out, N * C)];
    for (let n = 0; n < N; n++)
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let p = 0; p < HW; p++) s += xv[(n * HW + p) * C + c];
        o[n * C + c] = s / HW;
      }
  }

  globalAvgPoolBackward(dy: Buf, N: number, HW: number, C: number, dx: Buf): void {
    const [g_, d] = [this.f32(dy, N * C), this.f32(dx, N * HW * C)];
    for (let n = 0; n < N; n++)
      for (let p = 0; p < HW; p++) for (let c = 0; c < C; c++) d[(n * HW + p) * C + c] = g_[n * C + c] / HW;
  }

  // ---- norm ----------------------------------------------------------------------------------
  batchNormStats(x: Buf, rows: number, C: number, mean: Buf, variance: Buf): void {
    const xv = this.f32(x, rows * C);
    const [mv, vv] = [this.f32(mean, C), this.f32(variance, C)];
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let r = 0; r < rows; r++) s += xv[r * C + c];
      const mu = s / rows;
      let q = 0;
      for (let r = 0; r < rows; r++) q += (xv[r * C + c] - mu) ** 2;
      mv[c] = mu;
      vv[c] = q / rows; // biased
    }
  }

  /** out = (x − mean) / sqrt(variance + eps) · gamma + beta (gamma / beta 0: scale 1 / shift 0). */
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
  ): void {
    const [xv, o] = [this.f32(x, rows * C), this.f32(out, rows * C)];
    const [mv, vv] = [this.f32(mean, C), this.f32(variance, C)];
    const gm = gamma ? this.f32(gamma, C) : undefined;
    const bt = beta ? this.f32(beta, C) : undefined;
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < C; c++) {
        const xhat = (xv[r * C + c] - mv[c]) / Math.sqrt(vv[c] + f(eps));
        o[r * C + c] = xhat * (gm ? gm[c] : 1) + (bt ? bt[c] : 0);
      }
  }

  /**
   * Training-mode backward through the batch statistics: dx = gamma/std · (dy − mean(dy) − xhat ·
   * mean(dy · xhat)); dgamma = Σ dy · xhat, dbeta = Σ dy (each written unless its handle is 0).
   */
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
  ): void {
    const [xv, g_, d] = [this.f32(x, rows * C), this.f32(dy, rows * C), this.f32(dx, rows * C)];
    const [mv, vv] = [this.f32(mean, C), this.f32(variance, C)];
    const gm = gamma ? this.f32(gamma, C) : undefined;
    const dg = dgamma ? this.f32(dgamma, C) : undefined;
    const db = dbeta ? this.f32(dbeta, C) : undefined;
    for (let c = 0; c < C; c++) {
      const invstd = 1 / Math.sqrt(vv[c] + f(eps));
      let sdy = 0;
      let sdyx = 0;
      for (let r = 0; r < rows; r++) {
        sdy += g_[r * C + c];
        sdyx += g_[r * C + c] * (xv[r * C + c] - mv[c]) * invstd;
      }
      if (db) db[c] = sdy;
      if (dg) dg[c] = sdyx;
      const A = (gm ? gm[c] : 1) * invstd;
      for (let r = 0; r < rows; r++) {
        const xhat = (xv[r * C + c] - mv[c]) * invstd;
        d[r * C + c] = A * (g_[r * C + c] - sdy / rows - (xhat * sdyx) / rows);
      }
    }
  }

  // ---- layout --------------------------------------------------------------------------------
  /** out = x.permute(perm): out[shape[perm[0]], …, shape[perm[r−1]]]. */
  transpose(x: Buf, shape: readonly number[], perm: readonly number[], out: Buf): void {
    if (perm.length !== shape.length || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) {
      throw new ValueError(`transpose: perm [${perm.join(', ')}] is not a permutation of ${shape.length} axes`);
    }
    const xs = denseStrides(shape);
    const outShape = perm.map((p) => shape[p]);
    const srcStrides = perm.map((p) => xs[p]);
    const [xv, o] = [this.f32(x, numel(shape)), this.f32(out, numel(shape))];
    for (let j = 0; j < o.length; j++) o[j] = xv[dot(unravel(j, outShape), srcStrides)];
  }

  slice(x: Buf, shape: readonly number[], begin: readonly number[], size: readonly number[], out: Buf): void {
    checkWindow('slice', shape, begin, size);
    const xs = denseStrides(shape);
    const [xv, o] = [this.f32(x, numel(shape)), this.f32(out, numel(size))];
    for (let j = 0; j < o.length; j++) {
      const idx = unravel(j, size).map((i, k) => i + begin[k]);
      o[j] = xv[dot(idx, xs)];
    }
  }

  sliceBackward(dy: Buf, size: readonly number[], begin: readonly number[], dx: Buf, shape: readonly number[]): void {
    checkWindow('sliceBackward', shape, begin, size);
    const xs = denseStrides(shape);
    const g_ = this.f32(dy, numel(size));
    const d = this.f32(dx, numel(shape)).fill(0);
    for (let j = 0; j < g_.length; j++) {
      const idx = unravel(j, size).map((i, k) => i + begin[k]);
      d[dot(idx, xs)] = g_[j];
    }
  }

  concat(inputs: readonly { buf: Buf; shape: readonly number[] }[], axis: number, out: Buf): void {
    const ax = concatAxis(
      inputs.map((t) => t.shape),
      axis,
    );
    const first = inputs[0].shape;
    const outShape = [...first];
    outShape[ax] = inputs.reduce((s, t) => s + t.shape[ax], 0);
    const os = denseStrides(outShape);
    const o = this.f32(out, numel(outShape));
    let offset = 0; // where this input starts along the axis
    for (const { buf, shape } of inputs) {
      const xv = this.f32(buf, numel(shape));
      for (let j = 0; j < xv.length; j++) {
        const idx = unravel(j, shape);
        idx[ax] += offset;
        o[dot(idx, os)] = xv[j];
      }
      offset += shape[ax];
    }
  }

  // ---- gather / scatter ----------------------------------------------------------------------
  gather(table: Buf, D: number, ids: Buf, n: number, out: Buf): void {
    const id = this.i32(ids, n);
    const o = this.f32(out, n * D);
    for (let i = 0; i < n; i++) {
      const row = id[i] < 0 ? new Float32Array(D) : this.f32(table + id[i] * D * 4, D);
      o.set(row, i * D);
    }
  }

  scatterAdd(dy: Buf, D: number, ids: Buf, n: number, dTable: Buf): void {
    const [id, g_] = [this.i32(ids, n), this.f32(dy, n * D)];
    for (let i = 0; i < n; i++) {
      if (id[i] < 0) continue;
      const row = this.f32(dTable + id[i] * D * 4, D);
      for (let j = 0; j < D; j++) row[j] += g_[i * D + j];
    }
  }

  embeddingBag(table: Buf, D: number, ids: Buf, B: number, L: number, out: Buf): void {
    const id = this.i32(ids, B * L);
    const o = this.f32(out, B * D);
    for (let b = 0; b < B; b++) {
      const bag = Array.from(id.subarray(b * L, (b + 1) * L)).filter((k) => k >= 0);
      const sum = new Float64Array(D);
      for (const k of bag) {
        const row = this.f32(table + k * D * 4, D);
        for (let j = 0; j < D; j++) sum[j] += row[j];
      }
      for (let j = 0; j < D; j++) o[b * D + j] = bag.length === 0 ? 0 : sum[j] / bag.length;
    }
  }

  /** dTable[k] += dy[b] / (bag b's size) for each id k of bag b (accumulates, as scatterAdd). */
  embeddingBagBackward(dy: Buf, D: number, ids: Buf, B: number, L: number, dTable: Buf): void {
    const [id, g_] = [this.i32(ids, B * L), this.f32(dy, B * D)];
    for (let b = 0; b < B; b++) {
      const bag = Array.from(id.subarray(b * L, (b + 1) * L)).filter((k) => k >= 0);
      for (const k of bag) {
        const row = this.f32(dTable + k * D * 4, D);
        for (let j = 0; j < D; j++) row[j] += g_[b * D + j] / bag.length;
      }
    }
  }

  // ---- optimizers ----------------------------------------------------------------------------
  /**
   * torch.optim.SGD: d = g (+ wd·p); with momentum, buf = first ? d : momentum·buf + (1 − dampening)·d
   * and d = nesterov ? d + momentum·buf : buf; p −= lr·d. buf is untouched without momentum.
   */
  sgdStep(param: Buf, grad: Buf, buf: Buf, n: number, a: SgdStepArgs, rows?: RowSet): void {
    if (rows) {
      this.eachRow(rows, (at, g) => this.sgdStep(param + at, grad + g, buf + at, rows.width, a));
      return;
    }
    const [p, g_] = [this.f32(param, n), this.f32(grad, n)];
    const b = a.momentum !== 0 ? this.f32(buf, n) : undefined;
    for (let i = 0; i < n; i++) {
      let d = g_[i];
      if (a.weightDecay !== 0) d += a.weightDecay * p[i];
      if (b) {
        b[i] = a.firstStep ? d : a.momentum * b[i] + (1 - a.dampening) * d;
        d = a.nesterov ? d + a.momentum * b[i] : b[i];
      }
      p[i] -= a.lr * d;
    }
  }

  /**
   * torch.optim.Adam (weightDecay added to g) or AdamW (decoupled: p scaled by 1 − lr·wd):
   * m = β1·m + (1 − β1)·g, v = β2·v + (1 − β2)·g², p −= lr/(1 − β1^t) · m / (sqrt(v)/sqrt(1 − β2^t) + eps).
   * Rows: those rows only, with torch.optim.SparseAdam's scalars (adamScalars).
   */
  adamStep(param: Buf, grad: Buf, m: Buf, v: Buf, n: number, a: AdamStepArgs, rows?: RowSet): void {
    const { stepSize, bc2Sqrt } = adamScalars(a, rows !== undefined);
    const update = (at: number, gat: number, n: number) => {
      const [p, g_, mv, vv] = [
        this.f32(param + at, n),
        this.f32(grad + gat, n),
        this.f32(m + at, n),
        this.f32(v + at, n),
      ];
      for (let i = 0; i < n; i++) {
        let g = g_[i];
        if (a.weightDecay !== 0 && a.decoupled) p[i] *= 1 - a.lr * a.weightDecay;
        if (a.weightDecay !== 0 && !a.decoupled) g += a.weightDecay * p[i];
        mv[i] = a.beta1 * mv[i] + (1 - a.beta1) * g;
        vv[i] = a.beta2 * vv[i] + (1 - a.beta2) * g * g;
        p[i] -= (stepSize * mv[i]) / (Math.sqrt(vv[i]) / bc2Sqrt + a.eps);
      }
    };
    if (rows) this.eachRow(rows, (at, g) => update(at, g, rows.width));
    else update(0, 0, n);
  }

  /** torch.optim.Adagrad: g += wd·p; sum += g²; p −= lr/(1 + (t − 1)·lrDecay) · g / (sqrt(sum) + eps). */
  adagradStep(param: Buf, grad: Buf, sum: Buf, n: number, a: AdagradStepArgs, rows?: RowSet): void {
    if (rows) {
      this.eachRow(rows, (at, g) => this.adagradStep(param + at, grad + g, sum + at, rows.width, a));
      return;
    }
    const [p, g_, s] = [this.f32(param, n), this.f32(grad, n), this.f32(sum, n)];
    const clr = a.lr / (1 + (a.step - 1) * a.lrDecay);
    for (let i = 0; i < n; i++) {
      const g = g_[i] + a.weightDecay * p[i];
      s[i] += g * g;
      p[i] -= (clr * g) / (Math.sqrt(s[i]) + a.eps);
    }
  }

  /** fn(byte offset of parameter row ids[r], byte offset of gradient row r) for each row of a row set. */
  private eachRow(rows: RowSet, fn: (at: number, g: number) => void): void {
    const ids = this.i32(rows.ids, rows.count);
    for (let r = 0; r < rows.count; r++) fn(ids[r] * rows.width * 4, r * rows.width * 4);
  }

  sumSquares(x: Buf, n: number): number {
    let s = 0;
    for (const v of this.f32(x, n)) s += v * v;
    return s;
  }

  dispose(): void {
    this.heap.dispose();
  }
}

function checkWindow(op: string, shape: readonly number[], begin: readonly number[], size: readonly number[]): void {
  const ok =
    begin.length === shape.length &&
    size.length === shape.length &&
    shape.every((d, k) => Number.isInteger(begin[k]) && begin[k] >= 0 && size[k] >= 0 && begin[k] + size[k] <= d);
  if (!ok) {
    throw new ShapeError(
      `${op}: window begin ${fmtShape(begin)} size ${fmtShape(size)} does not fit ${fmtShape(shape)}`,
    );
  }
}

// ---- int8 ------------------------------------------------------------------------------------

/** The int8 family over the reference heap: exact integer sums, the kernels' f32 epilogue. */
class ReferenceInt8 implements Int8Family {
  constructor(private readonly heap: ReferenceHeap) {}

  prepareGemm(w: Int8Array, K: number, N: number, scales: ArrayLike<number>): Prepared {
    if (!Number.isInteger(K) || !Number.isInteger(N) || K < 1 || N < 1 || w.length !== K * N) {
      throw new ShapeError(`int8 prepareGemm: ${w.length} weights for K=${K} N=${N}`);
    }
    const scaled = weightScales('int8 prepareGemm', scales, N);
    const p: PreparedI8Gemm = { kind: 'reference-i8-gemm', w: w.slice(), K, N, scales: scaled };
    return p;
  }

  /** y[M, N] = epilogue(Σk (x[m, k] − zx) · W[k, n]). */
  gemm(x: Buf, M: number, sx: number, zx: number, w: Prepared, y: Buf, ep: Int8Epilogue): void {
    const { w: wv, K, N, scales } = prepared<PreparedI8Gemm>('int8 gemm', w, 'reference-i8-gemm');
    const out = this.epilogue('int8 gemm', ep, scales, sx, zx, N);
    const xv = this.heap.i8(x, M * K);
    const yv = this.output(y, M * N, ep);
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let acc = 0;
        for (let k = 0; k < K; k++) acc += (xv[m * K + k] - zx) * wv[k * N + n];
        yv[m * N + n] = out(acc, n);
      }
  }

  prepareConv(
    w: Int8Array,
    shape: readonly number[],
    scales: ArrayLike<number>,
    _geometry: Conv2dGeometry,
    opts: { winograd: boolean; pool: boolean },
  ): Prepared {
    if (shape.length !== 4 || numel(shape) !== w.length) {
      throw new ShapeError(`int8 prepareConv: ${w.length} weights for shape ${fmtShape(shape)}`);
    }
    const [KH, KW, C, OC] = shape;
    // Every wasm variant (direct, Winograd, im2col) is exact: one computation serves them all.
    const scaled = weightScales('int8 prepareConv', scales, OC);
    const p: PreparedI8Conv = {
      kind: 'reference-i8-conv',
      w: w.slice(),
      shape: [KH, KW, C, OC],
      scales: scaled,
      pool: opts.pool,
    };
    return p;
  }

  /**
   * y [N, OH, OW, OC] = epilogue(Σ (x − zx) · w over each window; padding cells hold zx, i.e. add 0).
   * Prepared with pool: y [N, floor(OH/2), floor(OW/2), OC] = the 2×2 / stride-2 max of those sums
   * (the epilogue is monotone, so this is conv then max pooling), int8 output only.
   */
  conv2d(x: Buf, sx: number, zx: number, w: Prepared, g: Conv2dGeometry, y: Buf, ep: Int8Epilogue): void {
    const p = prepared<PreparedI8Conv>('int8 conv2d', w, 'reference-i8-conv');
    const [KH, KW, C, OC] = p.shape;
    if (KH !== g.KH || KW !== g.KW || C !== g.C || OC !== g.OC) {
      throw new ShapeError(
        `int8 conv2d: weights prepared for ${fmtShape(p.shape)}, geometry is ${g.KH}x${g.KW}, ${g.C} → ${g.OC}`,
      );
    }
    if (p.pool && ep.out.kind !== 'int8') throw new ValueError('int8 conv2d: the fused pooling needs an int8 output');
    const out = this.epilogue('int8 conv2d', ep, p.scales, sx, zx, OC);
    const xv = this.heap.i8(x, g.N * g.H * g.W * C);
    const acc = new Float64Array(g.N * g.OH * g.OW * OC);
    forEachOutput(g, (m, taps) => {
      for (const { pixel, tap } of taps)
        for (let c = 0; c < C; c++) {
          const d = xv[pixel * C + c] - zx;
          for (let oc = 0; oc < OC; oc++) acc[m * OC + oc] += d * p.w[(tap * C + c) * OC + oc];
        }
    });
    if (!p.pool) {
      const yv = this.output(y, acc.length, ep);
      for (let i = 0; i < acc.length; i++) yv[i] = out(acc[i], i % OC);
      return;
    }
    const PH = Math.floor(g.OH / 2);
    const PW = Math.floor(g.OW / 2);
    const yv = this.output(y, g.N * PH * PW * OC, ep);
    for (let n = 0; n < g.N; n++)
      for (let ph = 0; ph < PH; ph++)
        for (let pw = 0; pw < PW; pw++)
          for (let oc = 0; oc < OC; oc++) {
            let best = -Infinity;
            for (const [dh, dw] of [
              [0, 0],
              [0, 1],
              [1, 0],
              [1, 1],
            ]) {
              const m = (n * g.OH + 2 * ph + dh) * g.OW + 2 * pw + dw;
              best = Math.max(best, acc[m * OC + oc]);
            }
            yv[((n * PH + ph) * PW + pw) * OC + oc] = out(best, oc);
          }
  }

  /** q = clamp(roundHalfEven(f32(x / scale)) + zeroPoint, −128, 127) (NaN → zeroPoint). */
  quantize(x: Buf, n: number, scale: number, zeroPoint: number, q: Buf): void {
    checkScale('quantize', 'scale', scale);
    checkZeroPoint('quantize', zeroPoint);
    const [xv, qv] = [this.heap.f32(x, n), this.heap.i8(q, n)];
    for (let i = 0; i < n; i++) qv[i] = requantize(f(xv[i] / f(scale)), zeroPoint);
  }

  /** x = f32(scale · (q − zeroPoint)). */
  dequantize(q: Buf, n: number, scale: number, zeroPoint: number, x: Buf): void {
    checkScale('dequantize', 'scale', scale);
    checkZeroPoint('dequantize', zeroPoint);
    const [qv, xv] = [this.heap.i8(q, n), this.heap.f32(x, n)];
    for (let i = 0; i < n; i++) xv[i] = (qv[i] - zeroPoint) * f(scale);
  }

  /** Max over each window's real cells (padding never wins); same quantization in and out. */
  maxPool2d(x: Buf, g: Pool2dGeometry, y: Buf): void {
    const { C } = g;
    const xv = this.heap.i8(x, g.N * g.H * g.W * C);
    const yv = this.heap.i8(y, g.N * g.OH * g.OW * C);
    forEachOutput(g, (m, taps) => {
      for (let c = 0; c < C; c++) yv[m * C + c] = Math.max(...taps.map((t) => xv[t.pixel * C + c]));
    });
  }

  /** y[n, c] = roundHalfEven(mean over HW of x[n, :, c]), exact in integers. */
  globalAvgPool(x: Buf, N: number, HW: number, C: number, y: Buf): void {
    const [xv, yv] = [this.heap.i8(x, N * HW * C), this.heap.i8(y, N * C)];
    for (let n = 0; n < N; n++)
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let p = 0; p < HW; p++) s += xv[(n * HW + p) * C + c];
        yv[n * C + c] = divRoundHalfEven(s, HW);
      }
  }

  private epilogue(op: string, ep: Int8Epilogue, scales: Float32Array, sx: number, zx: number, N: number) {
    return int8Epilogue(op, ep, scales, sx, zx, ep.bias ? this.heap.f32(ep.bias, N) : undefined);
  }

  /** The output view: int8 or float32 as the epilogue says. */
  private output(y: Buf, count: number, ep: Int8Epilogue): Int8Array | Float32Array {
    return ep.out.kind === 'int8' ? this.heap.i8(y, count) : this.heap.f32(y, count);
  }
}
