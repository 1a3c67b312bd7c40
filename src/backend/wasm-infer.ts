// The wasm backend for inference: InferenceBackend over one Engine (a WebAssembly.Memory, its
// heap and worker pool) and the forward AssemblyScript kernels of src/kernels/. Buffers are byte
// addresses in the engine's memory. Policy about this device lives here: which int8 convolution
// runs (single-channel direct, Winograd F(2x2, 3x3), or im2col + GEMM, each exact) and weight
// packing into the kernels' panel layouts. The runtime uses this class alone, so its bundle holds
// no training kernel; wasm.ts extends it with them. Not for: shape rules or autograd (src/ops/).
import { ValueError } from '../errors.js';
import { batchNormForward } from '../kernels/batchnorm.js';
import { conv2d, conv2dPacked } from '../kernels/conv.js';
import { binary, copy, fill, scale, unary } from '../kernels/elementwise.js';
import type { Engine } from '../kernels/engine.js';
import { embeddingBag, gatherRows } from '../kernels/gather.js';
import { freePacked, gemmPacked, type PackedB, packB } from '../kernels/gemm.js';
import {
  conv2dC1Int8,
  conv2dInt8,
  conv2dPoolInt8,
  conv2dWinogradInt8,
  convC1Applies,
  dequantize,
  freePackedB8,
  freePackedWino8,
  gemmInt8,
  globalAvgPoolInt8,
  maxPool2dInt8,
  type PackedB8,
  type PackedC1,
  type PackedWino8,
  packB8,
  packConvC1,
  packWinograd8,
  quantize,
  winogradApplies,
} from '../kernels/int8.js';
import { concat, slice, transpose } from '../kernels/layout.js';
import { avgPool2d, globalAvgPool, maxPool2d } from '../kernels/pooling.js';
import { freeScan, type PackedScan, packScan, scan } from '../kernels/recurrent.js';
import { reduce } from '../kernels/reduce.js';
import { softmax } from '../kernels/softmax.js';
import { broadcastShape, type Conv2dGeometry } from '../shape/window.js';
import type {
  Buf,
  BufDType,
  Epilogue,
  GemmOptions,
  InferenceBackend,
  Int8Epilogue,
  Int8Family,
  Prepared,
  ScanCell,
} from './backend.js';

interface PreparedScan extends Prepared {
  kind: 'scan';
  packed: PackedScan;
}
interface PreparedF32 extends Prepared {
  kind: 'f32';
  packed: PackedB;
}
type PreparedI8 =
  | { kind: 'i8-gemm'; packed: PackedB8 }
  | { kind: 'i8-c1'; packed: PackedC1; pool: boolean }
  | { kind: 'i8-winograd'; packed: PackedWino8; pool: boolean }
  | { kind: 'i8-im2col'; packed: PackedB8; pool: boolean };

function f32Prepared(p: Prepared): PackedB {
  if (p.kind !== 'f32') throw new ValueError(`wasm backend: weights prepared as '${p.kind}', expected float32`);
  return (p as PreparedF32).packed;
}

/** Elementwise selection for the rare masked op: a host loop over broadcast indices (no kernel yet). */
function whereLoop(
  f: Float32Array,
  cond: Buf,
  cs: readonly number[],
  a: Buf,
  as: readonly number[],
  b: Buf,
  bs: readonly number[],
  out: Buf,
): void {
  const shape = broadcastShape(broadcastShape(cs, as, 'where'), bs, 'where');
  const n = shape.reduce((x, y) => x * y, 1);
  const strides = (s: readonly number[]) => {
    const lead = shape.length - s.length;
    const st: number[] = new Array(shape.length).fill(0);
    let acc = 1;
    for (let k = shape.length - 1; k >= lead; k--) {
      st[k] = s[k - lead] === 1 ? 0 : acc;
      acc *= s[k - lead];
    }
    return st;
  };
  const [sc, sa, sb] = [strides(cs), strides(as), strides(bs)];
  const idx = new Array(shape.length).fill(0);
  let [ic, ia, ib] = [cond >> 2, a >> 2, b >> 2];
  const o = out >> 2;
  for (let i = 0; i < n; i++) {
    f[o + i] = f[ic] !== 0 ? f[ia] : f[ib];
    for (let k = shape.length - 1; k >= 0; k--) {
      idx[k]++;
      ic += sc[k];
      ia += sa[k];
      ib += sb[k];
      if (idx[k] < shape[k]) break;
      ic -= sc[k] * shape[k];
      ia -= sa[k] * shape[k];
      ib -= sb[k] * shape[k];
      idx[k] = 0;
    }
  }
}

export class WasmInferenceBackend implements InferenceBackend {
  readonly name: string = 'wasm';
  readonly int8: Int8Family;

  constructor(readonly engine: Engine) {
    this.int8 = int8Family(engine);
  }

  /** C = epilogue(A · op(B)) with B packed for the call (Aᵀ needs the training kernels: wasm.ts). */
  gemm(a: Buf, b: Buf, c: Buf, M: number, K: number, N: number, opts: GemmOptions = {}): void {
    if (opts.transA) throw new ValueError('wasm inference backend: gemm with transA needs the training backend');
    const packed = packB(this.engine, b, K, N, opts.transB);
    try {
      gemmPacked(this.engine, a, M, packed, c, opts);
    } finally {
      freePacked(this.engine, packed);
    }
  }

  alloc(bytes: number): Buf {
    return this.engine.alloc(bytes);
  }
  free(buf: Buf): void {
    this.engine.free(buf);
  }
  read(buf: Buf, dtype: BufDType, count: number): Float32Array | Int32Array | Int8Array {
    const e = this.engine;
    if (dtype === 'float32') return e.f32.slice(buf >> 2, (buf >> 2) + count);
    if (dtype === 'int32') return e.i32.slice(buf >> 2, (buf >> 2) + count);
    return new Int8Array(e.u8.buffer, buf, count).slice();
  }
  write(buf: Buf, dtype: BufDType, values: ArrayLike<number>, at = 0): void {
    const e = this.engine;
    if (dtype === 'float32') e.f32.set(values, (buf >> 2) + at);
    else if (dtype === 'int32') e.i32.set(values, (buf >> 2) + at);
    else new Int8Array(e.u8.buffer, buf + at, values.length).set(values);
  }
  f32(buf: Buf, count: number): Float32Array {
    return this.engine.f32.subarray(buf >> 2, (buf >> 2) + count);
  }
  i32(buf: Buf, count: number): Int32Array {
    return this.engine.i32.subarray(buf >> 2, (buf >> 2) + count);
  }
  memoryStats() {
    return this.engine.memoryStats();
  }
  unary: InferenceBackend['unary'] = (fn, x, out, n, alpha) => unary(this.engine, fn, x, out, n, alpha);
  binary: InferenceBackend['binary'] = (fn, a, as, b, bs, out) => binary(this.engine, fn, a, as, b, bs, out);
  where: InferenceBackend['where'] = (c, cs, a, as, b, bs, out) => whereLoop(this.engine.f32, c, cs, a, as, b, bs, out);
  scale: InferenceBackend['scale'] = (x, out, n, mul, add) => scale(this.engine, x, out, n, mul, add);
  fill: InferenceBackend['fill'] = (out, n, v) => fill(this.engine, out, n, v);
  copy: InferenceBackend['copy'] = (src, dst, n) => copy(this.engine, src, dst, n);
  reduce: InferenceBackend['reduce'] = (fn, x, shape, axes, out) => reduce(this.engine, fn, x, shape, axes, out);
  softmax: InferenceBackend['softmax'] = (x, rows, cols, out, log) => softmax(this.engine, x, rows, cols, out, log);
  prepareWeights(w: Float32Array, K: number, N: number): Prepared {
    const tmp = this.engine.alloc(w.byteLength);
    try {
      this.engine.f32.set(w, tmp >> 2);
      return { kind: 'f32', packed: packB(this.engine, tmp, K, N) } as PreparedF32;
    } finally {
      this.engine.free(tmp);
    }
  }
  gemmPrepared(a: Buf, M: number, w: Prepared, c: Buf, ep: Epilogue = {}): void {
    gemmPacked(this.engine, a, M, f32Prepared(w), c, ep);
  }
  prepareScan(cell: ScanCell, H: number, wh: Float32Array | Int8Array, scales?: ArrayLike<number>, bh?: Float32Array) {
    return { kind: 'scan', packed: packScan(this.engine, cell, H, wh, scales, bh) } as PreparedScan;
  }
  scan(xw: Buf, N: number, T: number, w: Prepared, reverse: boolean, y: Buf): void {
    const p = w as PreparedScan;
    if (p.kind !== 'scan') throw new ValueError(`wasm backend: scan got weights prepared as '${p.kind}'`);
    scan(this.engine, xw, N, T, p.packed, reverse, y);
  }
  release(p: Prepared): void {
    const e = this.engine;
    const q = p as PreparedF32 | PreparedI8 | PreparedScan;
    if (q.kind === 'scan') freeScan(e, q.packed);
    else if (q.kind === 'f32') freePacked(e, q.packed);
    else if (q.kind === 'i8-gemm' || q.kind === 'i8-im2col') freePackedB8(e, q.packed);
    else if (q.kind === 'i8-c1') freePackedB8(e, q.packed.b);
    else freePackedWino8(e, q.packed);
  }
  conv2d: InferenceBackend['conv2d'] = (x, w, g, out, ep) => conv2d(this.engine, x, w, g, out, ep);
  conv2dPrepared(x: Buf, w: Prepared, g: Conv2dGeometry, out: Buf, ep: Epilogue = {}): void {
    conv2dPacked(this.engine, x, f32Prepared(w), g, out, ep);
  }
  maxPool2d: InferenceBackend['maxPool2d'] = (x, g, out, am) => maxPool2d(this.engine, x, g, out, am);
  avgPool2d: InferenceBackend['avgPool2d'] = (x, g, out) => avgPool2d(this.engine, x, g, out);
  globalAvgPool: InferenceBackend['globalAvgPool'] = (x, N, HW, C, out) => globalAvgPool(this.engine, x, N, HW, C, out);
  batchNormForward: InferenceBackend['batchNormForward'] = (x, rows, C, mean, v, eps, gamma, beta, out) =>
    batchNormForward(this.engine, x, rows, C, mean, v, eps, gamma, beta, out);
  transpose: InferenceBackend['transpose'] = (x, shape, perm, out) => transpose(this.engine, x, shape, perm, out);
  slice: InferenceBackend['slice'] = (x, shape, begin, size, out) => slice(this.engine, x, shape, begin, size, out);
  concat: InferenceBackend['concat'] = (inputs, axis, out) =>
    concat(
      this.engine,
      inputs.map((t) => ({ ptr: t.buf, shape: t.shape })),
      axis,
      out,
    );
  gather: InferenceBackend['gather'] = (table, D, ids, n, out) => gatherRows(this.engine, table, D, ids, n, out);
  embeddingBag: InferenceBackend['embeddingBag'] = (table, D, ids, B, L, out) =>
    embeddingBag(this.engine, table, D, ids, B, L, out);
  dispose(): void {
    this.engine.dispose();
  }
}

function int8Family(e: Engine): Int8Family {
  return {
    prepareGemm(w, K, N, scales) {
      const tmp = e.alloc(w.byteLength);
      try {
        e.u8.set(new Uint8Array(w.buffer, w.byteOffset, w.byteLength), tmp);
        return { kind: 'i8-gemm', packed: packB8(e, tmp, K, N, scales) } satisfies PreparedI8;
      } finally {
        e.free(tmp);
      }
    },
    gemm(x, M, sx, zx, w, y, ep: Int8Epilogue) {
      const p = w as PreparedI8;
      if (p.kind !== 'i8-gemm') throw new ValueError(`wasm backend: int8 gemm got weights prepared as '${p.kind}'`);
      gemmInt8(e, x, M, sx, zx, p.packed, y, ep);
    },
    prepareConv(w, shape, scales, g, opts) {
      const [KH, KW, C, OC] = shape;
      const one = { ...g, N: 1 };
      if (convC1Applies(e, one))
        return { kind: 'i8-c1', packed: packConvC1(e, w, KH, KW, OC, scales), pool: opts.pool } satisfies PreparedI8;
      if (opts.winograd && winogradApplies(one))
        return {
          kind: 'i8-winograd',
          packed: packWinograd8(e, w, C, OC, scales),
          pool: opts.pool,
        } satisfies PreparedI8;
      const tmp = e.alloc(w.byteLength);
      try {
        e.u8.set(new Uint8Array(w.buffer, w.byteOffset, w.byteLength), tmp);
        const packed = packB8(e, tmp, KH * KW * C, OC, scales);
        return { kind: 'i8-im2col', packed, pool: opts.pool } satisfies PreparedI8;
      } finally {
        e.free(tmp);
      }
    },
    conv2d(x, sx, zx, w, g, y, ep) {
      const p = w as PreparedI8;
      if (p.kind === 'i8-c1') conv2dC1Int8(e, x, sx, zx, p.packed, g, y, ep, p.pool);
      else if (p.kind === 'i8-winograd') conv2dWinogradInt8(e, x, sx, zx, p.packed, g, y, ep, p.pool);
      else if (p.kind === 'i8-im2col') {
        if (p.pool) conv2dPoolInt8(e, x, sx, zx, p.packed, g, y, ep);
        else conv2dInt8(e, x, sx, zx, p.packed, g, y, ep);
      } else throw new ValueError(`wasm backend: int8 conv got weights prepared as '${p.kind}'`);
    },
    quantize: (x, n, s, zp, q) => quantize(e, x, n, s, zp, q),
    dequantize: (q, n, s, zp, x) => dequantize(e, q, n, s, zp, x),
    maxPool2d: (x, g, y) => maxPool2dInt8(e, x, g, y),
    globalAvgPool: (x, N, HW, C, y) => globalAvgPoolInt8(e, x, N, HW, C, y),
  };
}
