// WebGPU kernels: the int8 family of graduated models — int8 GEMM and convolution with i32
// accumulation (dot4I8Packed over weights packed 4 per word) and the requantizing epilogue,
// quantize/dequantize, int8 max and global average pooling. Results match the reference bit for
// bit: sums are exact integers, and the epilogue repeats the reference's f32 steps one rounding at
// a time (no fused multiply-add: see keep_).
// int8 buffers are byte-addressed: a kernel reads bytes from `array<u32>` bindings at `ob_<name>`,
// and each invocation of an int8-output kernel owns one whole u32 word of the output (4 outputs),
// merging the bytes outside the output range back in, so no two invocations write the same word.
// Semantics: src/backend/backend.ts (Int8Family) and the reference backend.
// Not for: float kernels (gemm.ts, conv.ts, pool.ts), choosing int8 for a model (src/compile/).

import { fmtShape, ShapeError, ValueError } from '../../errors.js';
import type { Conv2dGeometry, Pool2dGeometry } from '../../shape/window.js';
import type { Int8Epilogue, Int8Family, Prepared } from '../backend.js';
import { bufOffset } from './device.js';
import { bind, fw, type GpuPrepared, grid1, iw, type KernelSpec, type Kernels, main1, specFor } from './wgsl.js';

/** WGSL helpers of the int8 kernels. */
const I8_FNS = `
// Stops the compiler from fusing x into a following add (an FMA would skip x's rounding): OR-ing
// in a runtime zero keeps the value and hides it.
fn keep_(x: f32, zero: u32) -> f32 { return bitcast<f32>(bitcast<u32>(x) | zero); }
// f32(a) rounded to nearest even for any i32 (both parts exact, one correctly rounded add).
fn i2f_(a: i32) -> f32 { return f32(a >> 8u) * 256.0 + f32(a & 255); }
// The reference's requantize: round half to even, saturate to i16, add zy, saturate to i8; NaN → zy.
fn requant_(t: f32, zy: i32) -> i32 {
  var q = 0;
  if ((bitcast<u32>(t) & 0x7fffffffu) <= 0x7f800000u) { q = i32(clamp(round(t), -32768.0, 32767.0)); }
  return clamp(q + zy, -128, 127);
}
// x / s correctly rounded (WGSL's division may be 2.5 ulp off): the neighbour of the quotient with
// the smallest exact residual |x − c·s| (fma), which is the quotient rounded to nearest.
fn div_(x: f32, s: f32) -> f32 {
  let q = x / s;
  var best = q;
  var r = abs(fma(-q, s, x));
  for (var d = -2; d <= 2; d++) {
    let c = bitcast<f32>(bitcast<i32>(q) + d);
    let rc = abs(fma(-c, s, x));
    if (rc < r) { best = c; r = rc; }
  }
  return best;
}`;

/** Byte readers of an int8 binding `name` (binding index `at`): one signed byte, or 4 packed bytes, at element e. */
function byteReaders(name: string, at: number): string {
  return `
fn ld_${name}(e: u32) -> i32 { let b = pu_(${at}u) + e; return extractBits(i32(${name}[b >> 2u]), (b & 3u) * 8u, 8u); }
fn ld4_${name}(e: u32) -> u32 {
  let b = pu_(${at}u) + e;
  let s = (b & 3u) * 8u;
  let w0 = ${name}[b >> 2u];
  if (s == 0u) { return w0; }
  return (w0 >> s) | (${name}[(b >> 2u) + 1u] << (32u - s));
}`;
}

/**
 * The entry point of a kernel with int8 output Y (u32 words, `count` elements): each invocation
 * computes the outputs of one word with `stmts` (given element `e`, they set `q: i32`).
 */
function mainBytes(stmts: string): string {
  return `@compute @workgroup_size(256) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = lin(wid, nwg, lid, 256u);
  $P
  let lead = ob_Y & 3u;
  if (w >= (lead + count + 3u) / 4u) { return; }
  var word = 0u;
  var mask = 0u;
  for (var b = 0u; b < 4u; b++) {
    let eb = 4u * w + b;
    if (eb < lead || eb - lead >= count) { continue; }
    let e = eb - lead;
    ${stmts}
    word |= (u32(q) & 0xffu) << (8u * b);
    mask |= 0xffu << (8u * b);
  }
  let at = o_Y + w;
  if (mask == 0xffffffffu) { Y[at] = word; } else { Y[at] = (Y[at] & ~mask) | word; }
}`;
}

/** Runs a mainBytes kernel writing `count` int8 outputs at y (params[0] must be count). */
function runBytes(k: Kernels, spec: KernelSpec, binds: ReturnType<typeof bind>[], params: number[], y: number): void {
  const count = params[0];
  if (count <= 0) return;
  const words = Math.ceil(((bufOffset(y) & 3) + count) / 4);
  k.run(spec, [...binds, bind(y, count, 1)], params, grid1(words));
}

// ---- checks (the reference's messages) ------------------------------------------------------

function checkZeroPoint(op: string, zp: number): void {
  if (!Number.isInteger(zp) || zp < -128 || zp > 127)
    throw new ValueError(`${op}: zero point must be an integer in [-128, 127], got ${zp}`);
}

function checkScale(op: string, what: string, s: number): void {
  if (!(s > 0) || !Number.isFinite(s))
    throw new ValueError(`${op}: ${what} must be a positive finite number, got ${s}`);
}

function weightScales(op: string, scales: ArrayLike<number>, N: number): Float32Array {
  if (scales.length !== N) throw new ShapeError(`${op}: ${scales.length} scales for ${N} output channels`);
  for (let n = 0; n < N; n++) checkScale(op, `scales[${n}]`, scales[n]);
  return Float32Array.from(scales);
}

// ---- the requantizing epilogue ----------------------------------------------------------------

/** Epilogue parameters after a kernel's own: sx, outMul, zy, relu, hasBias, zero. */
const EPILOGUE_PARAMS = ['sx:f32', 'outMul:f32', 'zy:i32', 'relu:u32', 'hasBias:u32', 'zero:u32'];

/**
 * WGSL from acc (i32) of output channel ch to `t` (f32), as the reference's int8Epilogue:
 * mul = (sw·sx)·outMul, add = bias·outMul, t = f32(acc)·mul + add, ReLU — each step rounded.
 */
const EPILOGUE_WGSL = `
  let mul = keep_(S[o_S + ch] * sx, zero) * outMul;
  var add = 0.0;
  if (hasBias != 0u) { add = keep_(Bi[o_Bi + ch] * outMul, zero); }
  var t = keep_(i2f_(acc) * mul, zero) + add;
  if (relu != 0u && t < 0.0) { t = 0.0; }`;

function epilogueParams(op: string, ep: Int8Epilogue, sx: number, zx: number): number[] {
  checkScale(op, 'input scale', sx);
  checkZeroPoint(op, zx);
  let outMul = 1;
  let zy = 0;
  if (ep.out.kind === 'int8') {
    checkScale(op, 'output scale', ep.out.scale);
    checkZeroPoint(op, ep.out.zeroPoint);
    outMul = 1 / ep.out.scale;
    zy = ep.out.zeroPoint;
  }
  return [fw(sx), fw(outMul), iw(zy), ep.relu ? 1 : 0, ep.bias ? 1 : 0, 0];
}

/**
 * A GEMM/conv kernel: `accStmts` set acc (i32) and ch (the output channel) for element e; the
 * epilogue writes int8 (word-owning entry point) or float32. Bindings: X (int8 input), Wt (packed
 * weights), Sm (per-row weight sums, for the zero point), S (scales), Bi (bias), Y.
 */
function accSpec(name: string, params: readonly string[], accStmts: string, int8Out: boolean): KernelSpec {
  const bindings = ['X:u32', 'Wt:u32', 'Sm:i32', 'S:f32', 'Bi:f32', int8Out ? 'Y:u32!' : 'Y:f32!'];
  const all = ['count:u32', ...params, ...EPILOGUE_PARAMS];
  const helpers = `${I8_FNS}\n${byteReaders('X', 0)}`;
  const body = int8Out
    ? mainBytes(`${accStmts}${EPILOGUE_WGSL}\n    let q = requant_(t, zy);`)
    : main1(`let e = i;\n  ${accStmts}${EPILOGUE_WGSL}\n  Y[o_Y + e] = t;`).replace('if (i >= n)', 'if (i >= count)');
  return { name: `${name}_${int8Out ? 'i8' : 'f32'}`, bindings, params: all, body: `${helpers}\n${body}` };
}

/** Words of `len` bytes padded to a multiple of 4. */
function words(len: number): number {
  return Math.ceil(len / 4);
}

/** Uploads typed data as a new device buffer. */
function upload(k: Kernels, data: Uint8Array | Int32Array | Float32Array): number {
  const buf = k.dev.alloc(Math.max(4, data.byteLength));
  if (data.byteLength) k.dev.write(buf, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return buf;
}

// ---- GEMM --------------------------------------------------------------------------------------

interface PreparedGemm extends GpuPrepared {
  kind: 'webgpu-i8-gemm';
  K: number;
  N: number;
}

interface PreparedConv extends GpuPrepared {
  kind: 'webgpu-i8-conv';
  shape: [KH: number, KW: number, C: number, OC: number];
  pool: boolean;
}

function prepared<P extends GpuPrepared>(op: string, p: Prepared, kind: P['kind']): P {
  if (p.kind !== kind) throw new ValueError(`webgpu ${op}: weights prepared as '${p.kind}', expected '${kind}'`);
  return p as P;
}

/**
 * Weights [rows, len] as rows of int8 `len` padded to whole words (zeros), and each row's sum:
 * row r's bytes come from w at r's `at(r, j)`.
 */
function packRows(rows: number, len: number, at: (r: number, j: number) => number, w: Int8Array) {
  const L4 = words(len);
  const bytes = new Int8Array(rows * L4 * 4);
  const sums = new Int32Array(rows);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < len; j++) {
      const v = w[at(r, j)];
      bytes[r * L4 * 4 + j] = v;
      sums[r] += v;
    }
  return { bytes: new Uint8Array(bytes.buffer), sums, L4 };
}

const GEMM_ACC = `let m = e / N; let n = e % N;
  var acc = 0;
  for (var kk = 0u; kk < K4; kk++) { acc += dot4I8Packed(ld4_X(m * K + 4u * kk), Wt[o_Wt + n * K4 + kk]); }
  acc -= zx * Sm[o_Sm + n];
  let ch = n;`;

const gemmSpecs = new Map<boolean, KernelSpec>();
function gemmSpec(int8Out: boolean): KernelSpec {
  return specFor(gemmSpecs, int8Out, () =>
    accSpec('i8_gemm', ['N:u32', 'K:u32', 'K4:u32', 'zx:i32'], GEMM_ACC, int8Out),
  );
}

// ---- convolution -------------------------------------------------------------------------------

// Direct convolution over NHWC int8 (exact for every geometry, so the Winograd option is not
// needed: the reference's sums are the same). Element e is output (n, oh, ow, oc), or with pooling
// pooled (n, ph, pw, oc): the max of the 2×2 window's sums, then the epilogue (monotone).
const CONV_ACC = `let oc = e % OC; let pix = e / OC; let ow0 = pix % PW; let t1 = pix / PW; let oh0 = t1 % PH; let nb = t1 / PH;
  var best = bitcast<i32>(0x80000000u);
  for (var d = 0u; d < nsub; d++) {
    let oh = oh0 * pf + d / 2u;
    let ow = ow0 * pf + d % 2u;
    var acc = 0;
    for (var kh = 0u; kh < KH; kh++) {
      let ih = i32(oh * sH + kh) - padT;
      if (ih < 0 || ih >= i32(H)) { continue; }
      for (var kw = 0u; kw < KW; kw++) {
        let iw = i32(ow * sW + kw) - padL;
        if (iw < 0 || iw >= i32(W)) { continue; }
        let tap = kh * KW + kw;
        let xb = ((nb * H + u32(ih)) * W + u32(iw)) * C;
        let wb = (oc * taps + tap) * C4;
        for (var c = 0u; c < C4; c++) { acc += dot4I8Packed(ld4_X(xb + 4u * c), Wt[o_Wt + wb + c]); }
        acc -= zx * Sm[o_Sm + oc * taps + tap];
      }
    }
    best = max(best, acc);
  }
  let acc = best;
  let ch = oc;`;
const CONV_PARAMS = [
  'OC:u32',
  'PH:u32',
  'PW:u32',
  'H:u32',
  'W:u32',
  'C:u32',
  'C4:u32',
  'KH:u32',
  'KW:u32',
  'taps:u32',
  'sH:u32',
  'sW:u32',
  'padT:i32',
  'padL:i32',
  'nsub:u32',
  'pf:u32',
  'zx:i32',
];

const convSpecs = new Map<boolean, KernelSpec>();
function convSpec(int8Out: boolean): KernelSpec {
  return specFor(convSpecs, int8Out, () => accSpec('i8_conv', CONV_PARAMS, CONV_ACC, int8Out));
}

// ---- quantize, dequantize, pooling -------------------------------------------------------------

const QUANTIZE: KernelSpec = {
  name: 'i8_quantize',
  bindings: ['X:f32', 'Y:u32!'],
  params: ['count:u32', 's:f32', 'zp:i32'],
  body: `${I8_FNS}\n${mainBytes('let q = requant_(div_(X[o_X + e], s), zp);')}`,
};

const DEQUANTIZE: KernelSpec = {
  name: 'i8_dequantize',
  bindings: ['X:u32', 'Y:f32!'],
  params: ['n:u32', 's:f32', 'zp:i32'],
  body: `${byteReaders('X', 0)}\n${main1('Y[o_Y + i] = f32(ld_X(i) - zp) * s;')}`,
};

const MAXPOOL: KernelSpec = {
  name: 'i8_maxpool',
  bindings: ['X:u32', 'Y:u32!'],
  params: [
    'count:u32',
    'C:u32',
    'OH:u32',
    'OW:u32',
    'H:u32',
    'W:u32',
    'KH:u32',
    'KW:u32',
    'sH:u32',
    'sW:u32',
    'padT:i32',
    'padL:i32',
  ],
  body: `${byteReaders('X', 0)}\n${mainBytes(`let c = e % C; let pix = e / C; let ow = pix % OW; let t1 = pix / OW; let oh = t1 % OH; let nb = t1 / OH;
    var best = -1000;
    for (var kh = 0u; kh < KH; kh++) {
      let ih = i32(oh * sH + kh) - padT;
      if (ih < 0 || ih >= i32(H)) { continue; }
      for (var kw = 0u; kw < KW; kw++) {
        let iw = i32(ow * sW + kw) - padL;
        if (iw < 0 || iw >= i32(W)) { continue; }
        best = max(best, ld_X(((nb * H + u32(ih)) * W + u32(iw)) * C + c));
      }
    }
    // a window of padding only: the reference's max of nothing, stored as int8, is 0
    let q = select(best, 0, best == -1000);`)}`,
};

const GLOBAL_AVG: KernelSpec = {
  name: 'i8_global_avg',
  bindings: ['X:u32', 'Y:u32!'],
  params: ['count:u32', 'HW:u32', 'C:u32'],
  body: `${byteReaders('X', 0)}\n${mainBytes(`let c = e % C; let nb = e / C;
    var s = 0;
    for (var p = 0u; p < HW; p++) { s += ld_X((nb * HW + p) * C + c); }
    // round(s / HW), ties to even, in integers (i32 division truncates)
    let d = i32(HW);
    var q = s / d;
    let r2 = abs(s - q * d) * 2;
    if (r2 > d || (r2 == d && (q & 1) != 0)) { q += select(1, -1, s < 0); }`)}`,
};

// ---- the family ---------------------------------------------------------------------------------

class WebGpuInt8 implements Int8Family {
  constructor(private readonly k: Kernels) {}

  prepareGemm(w: Int8Array, K: number, N: number, scales: ArrayLike<number>): Prepared {
    if (!Number.isInteger(K) || !Number.isInteger(N) || K < 1 || N < 1 || w.length !== K * N)
      throw new ShapeError(`int8 prepareGemm: ${w.length} weights for K=${K} N=${N}`);
    const s = weightScales('int8 prepareGemm', scales, N);
    // Wt[N, K4] packed rows of W's columns
    const { bytes, sums } = packRows(N, K, (n, kk) => kk * N + n, w);
    const p: PreparedGemm = {
      kind: 'webgpu-i8-gemm',
      bufs: [upload(this.k, bytes), upload(this.k, sums), upload(this.k, s)],
      K,
      N,
    };
    return p;
  }

  gemm(x: number, M: number, sx: number, zx: number, w: Prepared, y: number, ep: Int8Epilogue): void {
    const { K, N, bufs } = prepared<PreparedGemm>('int8 gemm', w, 'webgpu-i8-gemm');
    const tail = epilogueParams('int8 gemm', ep, sx, zx);
    const count = M * N;
    const params = [count, N, K, words(K), iw(zx), ...tail];
    this.runAcc(gemmSpec(ep.out.kind === 'int8'), bind(x, M * K, 1), bufs, N, ep, params, y);
  }

  prepareConv(
    w: Int8Array,
    shape: readonly number[],
    scales: ArrayLike<number>,
    _geometry: Conv2dGeometry,
    opts: { winograd: boolean; pool: boolean },
  ): Prepared {
    if (shape.length !== 4 || shape.reduce((p, d) => p * d, 1) !== w.length)
      throw new ShapeError(`int8 prepareConv: ${w.length} weights for shape ${fmtShape(shape)}`);
    const [KH, KW, C, OC] = shape;
    const s = weightScales('int8 prepareConv', scales, OC);
    // Wt[OC, taps, C4]: for each output channel and tap, the C input channels packed (opts.winograd
    // is ignored: the direct kernel is exact, as every variant must be)
    const taps = KH * KW;
    const { bytes, sums } = packRows(OC * taps, C, (r, c) => ((r % taps) * C + c) * OC + Math.floor(r / taps), w);
    const p: PreparedConv = {
      kind: 'webgpu-i8-conv',
      bufs: [upload(this.k, bytes), upload(this.k, sums), upload(this.k, s)],
      shape: [KH, KW, C, OC],
      pool: opts.pool,
    };
    return p;
  }

  conv2d(x: number, sx: number, zx: number, w: Prepared, g: Conv2dGeometry, y: number, ep: Int8Epilogue): void {
    const p = prepared<PreparedConv>('int8 conv2d', w, 'webgpu-i8-conv');
    const [KH, KW, C, OC] = p.shape;
    if (KH !== g.KH || KW !== g.KW || C !== g.C || OC !== g.OC)
      throw new ShapeError(
        `int8 conv2d: weights prepared for ${fmtShape(p.shape)}, geometry is ${g.KH}x${g.KW}, ${g.C} → ${g.OC}`,
      );
    if (p.pool && ep.out.kind !== 'int8') throw new ValueError('int8 conv2d: the fused pooling needs an int8 output');
    const tail = epilogueParams('int8 conv2d', ep, sx, zx);
    const [PH, PW] = p.pool ? [Math.floor(g.OH / 2), Math.floor(g.OW / 2)] : [g.OH, g.OW];
    const count = g.N * PH * PW * OC;
    const geo = [OC, PH, PW, g.H, g.W, C, words(C), KH, KW, KH * KW, g.strideH, g.strideW];
    const pads = [iw(g.padTop), iw(g.padLeft), p.pool ? 4 : 1, p.pool ? 2 : 1, iw(zx)];
    const xb = bind(x, g.N * g.H * g.W * C, 1);
    this.runAcc(convSpec(ep.out.kind === 'int8'), xb, p.bufs, OC, ep, [count, ...geo, ...pads, ...tail], y);
  }

  /** Dispatches a GEMM/conv kernel (accSpec) over params[0] outputs. */
  private runAcc(
    spec: KernelSpec,
    x: ReturnType<typeof bind>,
    bufs: readonly number[],
    channels: number,
    ep: Int8Epilogue,
    params: number[],
    y: number,
  ): void {
    const [wt, sums, scales] = bufs;
    const count = params[0];
    const binds = [
      x,
      { buf: wt, bytes: this.k.dev.sizeAfter(wt) },
      { buf: sums, bytes: this.k.dev.sizeAfter(sums) },
      bind(scales, channels),
      // without bias the kernel never reads Bi: the scales stand in
      bind(ep.bias || scales, channels),
    ];
    if (ep.out.kind === 'int8') runBytes(this.k, spec, binds, params, y);
    else this.k.run1(spec, [...binds, bind(y, count)], params, count);
  }

  quantize(x: number, n: number, scale: number, zeroPoint: number, q: number): void {
    checkScale('quantize', 'scale', scale);
    checkZeroPoint('quantize', zeroPoint);
    runBytes(this.k, QUANTIZE, [bind(x, n)], [n, fw(scale), iw(zeroPoint)], q);
  }

  dequantize(q: number, n: number, scale: number, zeroPoint: number, x: number): void {
    checkScale('dequantize', 'scale', scale);
    checkZeroPoint('dequantize', zeroPoint);
    this.k.run1(DEQUANTIZE, [bind(q, n, 1), bind(x, n)], [n, fw(scale), iw(zeroPoint)], n);
  }

  maxPool2d(x: number, g: Pool2dGeometry, y: number): void {
    const count = g.N * g.OH * g.OW * g.C;
    const params = [count, g.C, g.OH, g.OW, g.H, g.W, g.KH, g.KW, g.strideH, g.strideW, iw(g.padTop), iw(g.padLeft)];
    runBytes(this.k, MAXPOOL, [bind(x, g.N * g.H * g.W * g.C, 1)], params, y);
  }

  globalAvgPool(x: number, N: number, HW: number, C: number, y: number): void {
    runBytes(this.k, GLOBAL_AVG, [bind(x, N * HW * C, 1)], [N * C, HW, C], y);
  }
}

/** The int8 kernels of the WebGPU backend. */
export function int8Family(k: Kernels): Int8Family | undefined {
  return new WebGpuInt8(k);
}
