// The WebGPU backend: the Backend interface over a GpuDevice (device.ts), one WGSL kernel family per
// file. Buffers live on the device; reads wait for the queued work. Host loops (ops without a device
// kernel) get `f32`/`i32` views that are copies: a view is compared with its snapshot at the next
// backend call and written back when the loop changed it, and expires at any call but another view
// (flushViews), so the ops' host paths run unchanged.
// Open with WebGpuBackend.open() (null and a reason where no adapter exists).
// Not for: choosing the device (src/backend/select.ts), kernels (the family files).
import type { Conv2dGeometry, Pool2dGeometry } from '../../shape/window.js';
import {
  type AdagradStepArgs,
  type AdamStepArgs,
  type Backend,
  type BinaryFn,
  type Buf,
  type BufDType,
  DTYPE_BYTES,
  type Epilogue,
  type GemmOptions,
  type Int8Family,
  type MemoryStats,
  type Prepared,
  type ReduceFn,
  type RowSet,
  type ScanCell,
  type SgdStepArgs,
  type UnaryFn,
} from '../backend.js';
import * as conv from './conv.js';
import { type AdapterReport, bufId, bufOffset, GpuDevice, type OpenOptions, WebGpuError } from './device.js';
import * as ew from './elementwise.js';
import * as gat from './gather.js';
import * as mm from './gemm.js';
import { int8Family } from './int8.js';
import * as lay from './layout.js';
import * as norm from './norm.js';
import * as opt from './optim.js';
import * as pool from './pool.js';
import * as red from './reduce.js';
import * as rec from './scan.js';
import { type GpuPrepared, Kernels } from './wgsl.js';

interface HostView {
  buf: Buf;
  /** The host copy the views of this range share. */
  bytes: Uint8Array;
  snapshot: Uint8Array;
}

/** Whether a host loop changed a view since its snapshot (compared as words). */
function changed(v: HostView): boolean {
  const now = new Int32Array(v.bytes.buffer, v.bytes.byteOffset, v.bytes.byteLength >> 2);
  const was = new Int32Array(v.snapshot.buffer, 0, now.length);
  for (let i = 0; i < now.length; i++) if (now[i] !== was[i]) return true;
  return false;
}

export class WebGpuBackend implements Backend {
  readonly name = 'webgpu';
  readonly deviceMemory = true;
  readonly kernels: Kernels;
  readonly int8?: Int8Family;
  private views: HostView[] = [];
  /** Views dropped at the last call: checked once more, so a write to one fails loudly. */
  private expired: HostView[] = [];

  private constructor(readonly device: GpuDevice) {
    this.kernels = new Kernels(device);
    this.int8 = int8Family(this.kernels);
  }

  /** Opens the first adapter (Dawn through the `webgpu` package), or says why there is none. */
  static open(flags: string[] = []): { backend?: WebGpuBackend; reason?: string } {
    const r = GpuDevice.open(flags);
    return r.device ? { backend: new WebGpuBackend(r.device) } : { reason: r.reason };
  }

  /** As open, without blocking while the device starts: the way in from a browser Worker. */
  static async openAsync(opts: OpenOptions = {}): Promise<{ backend?: WebGpuBackend; reason?: string }> {
    const r = await GpuDevice.openAsync(opts);
    return r.device ? { backend: new WebGpuBackend(r.device) } : { reason: r.reason };
  }

  get adapter(): AdapterReport {
    return this.device.adapter;
  }

  /** The kernels, after writing back what host loops changed in their views (which then expire). */
  private get k(): Kernels {
    if (this.views.length || this.expired.length) this.flushViews(true);
    return this.kernels;
  }

  /**
   * Writes back the views a host loop changed since they were taken (or last written back); with
   * `drop`, forgets them. Views live across other views (a loop may take its output view first and
   * its input views after) and expire at any other backend call: a kernel or a write may change
   * their buffer, which a copy would not see.
   */
  private flushViews(drop = false): void {
    // a view that expired at the previous call and was written since: its writes cannot be kept
    const expired = this.expired;
    this.expired = [];
    if (expired.some(changed)) {
      this.views = [];
      throw new WebGpuError(
        'webgpu: a host loop wrote to a view of device memory after a kernel or write changed it; take views (backend.f32/i32) again after such calls',
      );
    }
    for (const v of this.views) {
      if (!changed(v)) continue;
      this.device.write(v.buf, v.bytes);
      v.snapshot.set(v.bytes);
    }
    if (drop) {
      this.expired = this.views;
      this.views = [];
    }
  }

  // ---- buffers ---------------------------------------------------------------------------------

  alloc(bytes: number): Buf {
    if (this.views.length || this.expired.length) this.flushViews(true);
    return this.device.alloc(bytes);
  }

  free(buf: Buf): void {
    if (this.views.length || this.expired.length) {
      this.flushViews();
      // other buffers are unchanged: their views stay; this id may be handed out again
      const id = bufId(buf);
      this.views = this.views.filter((v) => bufId(v.buf) !== id);
    }
    this.device.free(buf);
  }

  read(buf: Buf, dtype: BufDType, count: number): Float32Array | Int32Array | Int8Array {
    if (this.views.length || this.expired.length) this.flushViews(true);
    const data = this.device.read(buf, count * DTYPE_BYTES[dtype]);
    if (dtype === 'int8') return new Int8Array(data);
    return dtype === 'int32' ? new Int32Array(data) : new Float32Array(data);
  }

  write(buf: Buf, dtype: BufDType, values: ArrayLike<number>, at = 0): void {
    if (this.views.length || this.expired.length) this.flushViews(true);
    const typed =
      dtype === 'int8'
        ? Int8Array.from(values)
        : dtype === 'int32'
          ? values instanceof Int32Array
            ? values
            : Int32Array.from(values)
          : values instanceof Float32Array
            ? values
            : Float32Array.from(values);
    const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
    const target = buf + at * DTYPE_BYTES[dtype];
    const misalign = bufOffset(target) & 3;
    if (misalign === 0 && (bytes.length & 3) === 0) {
      this.device.write(target, bytes);
      return;
    }
    // int8 at an unaligned place or length: rewrite the covering words (device buffers are whole words).
    const start = target - misalign;
    const full = new Uint8Array(this.device.read(start, Math.ceil((misalign + bytes.length) / 4) * 4));
    full.set(bytes, misalign);
    this.device.write(start, full);
  }

  f32(buf: Buf, count: number): Float32Array {
    return this.hostView(buf, 'float32', count) as Float32Array;
  }

  i32(buf: Buf, count: number): Int32Array {
    return this.hostView(buf, 'int32', count) as Int32Array;
  }

  /**
   * A host copy of count elements at buf, registered for write-back. A range inside a live view of
   * the same buffer is a view of that copy (any dtype), so views alias as on the wasm heap and a
   * loop that re-takes its views every step does not pile up copies.
   */
  private hostView(buf: Buf, dtype: 'float32' | 'int32', count: number): Float32Array | Int32Array {
    if (this.views.length || this.expired.length) this.flushViews();
    const make = (ab: ArrayBufferLike, at: number) =>
      dtype === 'int32' ? new Int32Array(ab, at, count) : new Float32Array(ab, at, count);
    const [id, off, len] = [bufId(buf), bufOffset(buf), count * 4];
    for (const v of this.views) {
      const d = off - bufOffset(v.buf);
      if (bufId(v.buf) === id && d >= 0 && d % 4 === 0 && d + len <= v.bytes.byteLength)
        return make(v.bytes.buffer, v.bytes.byteOffset + d);
    }
    const bytes = new Uint8Array(this.device.read(buf, len));
    this.views.push({ buf, bytes, snapshot: bytes.slice() });
    return make(bytes.buffer, bytes.byteOffset);
  }

  memoryStats(): MemoryStats {
    const m = this.device.memory();
    return { ...m, cachedBytes: 0, wasmBytes: 0 };
  }

  /** Waits for every queued kernel (and reports device errors). */
  sync(): void {
    if (this.views.length || this.expired.length) this.flushViews(true);
    this.device.sync();
  }

  dispose(): void {
    this.views = [];
    this.expired = [];
    this.device.close();
  }

  // ---- elementwise -----------------------------------------------------------------------------
  unary(fn: UnaryFn, x: Buf, out: Buf, n: number, alpha?: number): void {
    ew.unary(this.k, fn, x, out, n, alpha);
  }
  unaryBackward(fn: UnaryFn, x: Buf, y: Buf, dy: Buf, dx: Buf, n: number, alpha?: number): void {
    ew.unaryBackward(this.k, fn, x, y, dy, dx, n, alpha);
  }
  binary(fn: BinaryFn, a: Buf, aShape: readonly number[], b: Buf, bShape: readonly number[], out: Buf): void {
    ew.binary(this.k, fn, a, aShape, b, bShape, out);
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
    ew.where(this.k, cond, condShape, a, aShape, b, bShape, out);
  }
  scale(x: Buf, out: Buf, n: number, mul: number, add: number): void {
    ew.scale(this.k, x, out, n, mul, add);
  }
  fill(out: Buf, n: number, value: number): void {
    ew.fill(this.k, out, n, value);
  }
  copy(src: Buf, dst: Buf, n: number): void {
    ew.copy(this.k, src, dst, n);
  }
  axpy(alpha: number, x: Buf, y: Buf, n: number): void {
    ew.axpy(this.k, alpha, x, y, n);
  }

  // ---- reduce and softmax ----------------------------------------------------------------------
  reduce(fn: ReduceFn, x: Buf, shape: readonly number[], axes: readonly number[], out: Buf): void {
    red.reduce(this.k, fn, x, shape, axes, out);
  }
  argmax(x: Buf, rows: number, cols: number, out: Buf): void {
    red.argmax(this.k, x, rows, cols, out);
  }
  sumSquares(x: Buf, n: number): number {
    return red.sumSquares(this.k, x, n);
  }
  softmax(x: Buf, rows: number, cols: number, out: Buf, log: boolean): void {
    red.softmax(this.k, x, rows, cols, out, log);
  }
  softmaxBackward(y: Buf, dy: Buf, dx: Buf, rows: number, cols: number, log: boolean): void {
    red.softmaxBackward(this.k, y, dy, dx, rows, cols, log);
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
    red.softmaxCrossEntropy(this.k, logits, labels, rows, cols, loss, probs, smoothing);
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
    red.softmaxCrossEntropyBackward(this.k, probs, labels, rows, cols, dLoss, dLogits, smoothing);
  }

  // ---- matmul ----------------------------------------------------------------------------------
  gemm(a: Buf, b: Buf, c: Buf, M: number, K: number, N: number, opts: GemmOptions = {}): void {
    mm.gemm(this.k, a, b, c, M, K, N, opts);
  }
  prepareWeights(w: Float32Array, K: number, N: number): Prepared {
    return mm.prepareWeights(this.k, w, K, N);
  }
  /** f16 storage where the adapter has shader-f16 (half the bytes a batch-1 GEMV streams). */
  prepareWeightsHalf(w: Float32Array, K: number, N: number): Prepared {
    return this.kernels.f16 ? mm.prepareWeightsF16(this.k, w, K, N) : mm.prepareWeights(this.k, w, K, N);
  }
  gemmPrepared(a: Buf, M: number, w: Prepared, c: Buf, ep: Epilogue = {}): void {
    mm.gemmPrepared(this.k, a, M, w, c, ep);
  }
  release(p: Prepared): void {
    if (this.views.length || this.expired.length) this.flushViews(true);
    for (const b of (p as GpuPrepared).bufs ?? []) this.device.free(b);
  }

  // ---- conv ------------------------------------------------------------------------------------
  conv2d(x: Buf, w: Buf, g: Conv2dGeometry, out: Buf, ep: Epilogue = {}): void {
    conv.conv2d(this.k, x, w, g, out, ep);
  }
  conv2dPrepared(x: Buf, w: Prepared, g: Conv2dGeometry, out: Buf, ep: Epilogue = {}): void {
    conv.conv2dPrepared(this.k, x, w, g, out, ep);
  }
  conv2dBackwardData(dy: Buf, w: Buf, g: Conv2dGeometry, dx: Buf): void {
    conv.conv2dBackwardData(this.k, dy, w, g, dx);
  }
  conv2dBackwardWeight(x: Buf, dy: Buf, g: Conv2dGeometry, dw: Buf): void {
    conv.conv2dBackwardWeight(this.k, x, dy, g, dw);
  }

  // ---- pool ------------------------------------------------------------------------------------
  maxPool2d(x: Buf, g: Pool2dGeometry, out: Buf, argmax: Buf): void {
    pool.maxPool2d(this.k, x, g, out, argmax);
  }
  avgPool2d(x: Buf, g: Pool2dGeometry, out: Buf): void {
    pool.avgPool2d(this.k, x, g, out);
  }
  globalAvgPool(x: Buf, N: number, HW: number, C: number, out: Buf): void {
    pool.globalAvgPool(this.k, x, N, HW, C, out);
  }
  maxPool2dBackward(dy: Buf, argmax: Buf, g: Pool2dGeometry, dx: Buf): void {
    pool.maxPool2dBackward(this.k, dy, argmax, g, dx);
  }
  avgPool2dBackward(dy: Buf, g: Pool2dGeometry, dx: Buf): void {
    pool.avgPool2dBackward(this.k, dy, g, dx);
  }
  globalAvgPoolBackward(dy: Buf, N: number, HW: number, C: number, dx: Buf): void {
    pool.globalAvgPoolBackward(this.k, dy, N, HW, C, dx);
  }

  // ---- norm ------------------------------------------------------------------------------------
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
    norm.batchNormForward(this.k, x, rows, C, mean, variance, eps, gamma, beta, out);
  }
  batchNormStats(x: Buf, rows: number, C: number, mean: Buf, variance: Buf): void {
    norm.batchNormStats(this.k, x, rows, C, mean, variance);
  }
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
    norm.batchNormBackward(this.k, x, dy, rows, C, mean, variance, eps, gamma, dx, dgamma, dbeta);
  }

  // ---- layout ----------------------------------------------------------------------------------
  transpose(x: Buf, shape: readonly number[], perm: readonly number[], out: Buf): void {
    lay.transpose(this.k, x, shape, perm, out);
  }
  slice(x: Buf, shape: readonly number[], begin: readonly number[], size: readonly number[], out: Buf): void {
    lay.slice(this.k, x, shape, begin, size, out);
  }
  sliceBackward(dy: Buf, size: readonly number[], begin: readonly number[], dx: Buf, shape: readonly number[]): void {
    lay.sliceBackward(this.k, dy, size, begin, dx, shape);
  }
  concat(inputs: readonly { buf: Buf; shape: readonly number[] }[], axis: number, out: Buf): void {
    lay.concat(this.k, inputs, axis, out);
  }

  // ---- gather / scatter ------------------------------------------------------------------------
  gather(table: Buf, D: number, ids: Buf, n: number, out: Buf): void {
    gat.gather(this.k, table, D, ids, n, out);
  }
  embeddingBag(table: Buf, D: number, ids: Buf, B: number, L: number, out: Buf): void {
    gat.embeddingBag(this.k, table, D, ids, B, L, out);
  }
  scatterAdd(dy: Buf, D: number, ids: Buf, n: number, dTable: Buf): void {
    gat.scatterAdd(this.k, dy, D, ids, n, dTable);
  }
  embeddingBagBackward(dy: Buf, D: number, ids: Buf, B: number, L: number, dTable: Buf): void {
    gat.embeddingBagBackward(this.k, dy, D, ids, B, L, dTable);
  }

  // ---- recurrent -------------------------------------------------------------------------------
  prepareScan(
    cell: ScanCell,
    H: number,
    wh: Float32Array | Int8Array,
    scales?: ArrayLike<number>,
    bh?: Float32Array,
  ): Prepared {
    return rec.prepareScan(this.k, cell, H, wh, scales, bh);
  }
  scan(xw: Buf, N: number, T: number, w: Prepared, reverse: boolean, y: Buf): void {
    rec.scan(this.k, xw, N, T, w, reverse, y);
  }

  // ---- optimizers ------------------------------------------------------------------------------
  sgdStep(param: Buf, grad: Buf, buf: Buf, n: number, a: SgdStepArgs, rows?: RowSet): void {
    opt.sgdStep(this.k, param, grad, buf, n, a, rows);
  }
  adamStep(param: Buf, grad: Buf, m: Buf, v: Buf, n: number, a: AdamStepArgs, rows?: RowSet): void {
    opt.adamStep(this.k, param, grad, m, v, n, a, rows);
  }
  adagradStep(param: Buf, grad: Buf, sum: Buf, n: number, a: AdagradStepArgs, rows?: RowSet): void {
    opt.adagradStep(this.k, param, grad, sum, n, a, rows);
  }
}
