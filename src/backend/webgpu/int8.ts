// WebGPU kernels: the int8 family of graduated models — int8 GEMM and convolution (an implicit
// GEMM) with i32 accumulation (tiled, dot4I8Packed over weights packed 4 per word) into a scratch
// buffer, then an epilogue pass (fused 2×2 max pooling, bias, ReLU, requantization or float32),
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
import { checkScale, checkZeroPoint, weightScales } from '../int8-args.js';
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
 * The epilogue pass over the i32 sums Acc[M, OC] of a GEMM or convolution: element e is output
 * (nb, ph, pw, ch) of [N, PH, PW, OC]; with pooling (nsub 4, pf 2) its acc is the max over the 2×2
 * window of rows (nb, 2ph + dh, 2pw + dw) of [N, OH, OW] (the epilogue is monotone, so this is
 * conv then max pooling, as the reference). A GEMM is N = 1, OH = PH = M, OW = PW = 1.
 */
const EPILOGUE_PASS_PARAMS = ['count:u32', 'OC:u32', 'PH:u32', 'PW:u32', 'OH:u32', 'OW:u32', 'nsub:u32', 'pf:u32'];
const EPILOGUE_ACC = `let ch = e % OC; let pix = e / OC; let pw = pix % PW; let t1 = pix / PW; let ph = t1 % PH; let nb = t1 / PH;
  var acc = bitcast<i32>(0x80000000u);
  for (var d = 0u; d < nsub; d++) {
    let m = (nb * OH + ph * pf + d / 2u) * OW + pw * pf + d % 2u;
    acc = max(acc, Acc[o_Acc + m * OC + ch]);
  }`;

const epilogueSpecs = new Map<boolean, KernelSpec>();
function epilogueSpec(int8Out: boolean): KernelSpec {
  return specFor(epilogueSpecs, int8Out, () => ({
    name: `i8_epilogue_${int8Out ? 'i8' : 'f32'}`,
    bindings: ['Acc:i32', 'S:f32', 'Bi:f32', int8Out ? 'Y:u32!' : 'Y:f32!'],
    params: [...EPILOGUE_PASS_PARAMS, ...EPILOGUE_PARAMS],
    body: `${I8_FNS}
${
  int8Out
    ? mainBytes(`${EPILOGUE_ACC}${EPILOGUE_WGSL}\n    let q = requant_(t, zy);`)
    : main1(`let e = i;\n  ${EPILOGUE_ACC}${EPILOGUE_WGSL}\n  Y[o_Y + e] = t;`).replace(
        'if (i >= n)',
        'if (i >= count)',
      )
}`,
  }));
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

// ---- GEMM and convolution: the sums ------------------------------------------------------------

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

// The sums: a tiled GEMM of 64×64 outputs per workgroup (16×16 threads, 4×4 outputs each,
// interleaved so that reads of workgroup memory and writes of Acc are contiguous across threads),
// over K in steps of 4 words (16 int8) staged in workgroup memory; acc = Σ x·w − zx·Σ w (dot4I8Packed,
// exact in i32 for K·2^15 < 2^31). Row m of A is x's row (GEMM) or, for a convolution, the
// implicit im2col row of output pixel m over (kh, kw, c), padding cells holding zx (so they add 0).
const TILE = 64;
const KSTEP = 4;

/** WGSL setting `a: u32` = word kk of A's row m (4 int8 along K). */
const LOAD_GEMM = 'a = ld4_X(m * K + 4u * kk);';
const LOAD_CONV = `let ow = m % OW; let t1 = m / OW; let oh = t1 % OH; let nb = t1 / OH;
      if (C % 4u == 0u) {
        // one pixel's 4 channels: a whole word of x, or of zx in the padding
        let tap = (4u * kk) / C; let c = (4u * kk) % C;
        let ih = i32(oh * sH + tap / KW) - padT; let iw = i32(ow * sW + tap % KW) - padL;
        if (ih >= 0 && ih < i32(H) && iw >= 0 && iw < i32(W)) { a = ld4_X(((nb * H + u32(ih)) * W + u32(iw)) * C + c); }
        else { a = (u32(zx) & 0xffu) * 0x01010101u; }
      } else {
        for (var b = 0u; b < 4u; b++) {
          let k = 4u * kk + b;
          var v = zx;
          if (k < K) {
            let tap = k / C; let c = k % C;
            let ih = i32(oh * sH + tap / KW) - padT; let iw = i32(ow * sW + tap % KW) - padL;
            if (ih >= 0 && ih < i32(H) && iw >= 0 && iw < i32(W)) { v = ld_X(((nb * H + u32(ih)) * W + u32(iw)) * C + c); }
          }
          a |= (u32(v) & 0xffu) << (8u * b);
        }
      }`;

const SUM_PARAMS = ['M:u32', 'N:u32', 'K:u32', 'K4:u32', 'zx:i32'];
const CONV_PARAMS = [
  'OH:u32',
  'OW:u32',
  'H:u32',
  'W:u32',
  'C:u32',
  'KW:u32',
  'sH:u32',
  'sW:u32',
  'padT:i32',
  'padL:i32',
];

function sumsSpec(conv: boolean): KernelSpec {
  return {
    name: `i8_sums_${conv ? 'conv' : 'gemm'}`,
    bindings: ['X:u32', 'Wt:u32', 'Sm:i32', 'Acc:i32!'],
    params: conv ? [...SUM_PARAMS, ...CONV_PARAMS] : SUM_PARAMS,
    body: `${byteReaders('X', 0)}
var<workgroup> As: array<array<u32, ${KSTEP}>, ${TILE}>;
var<workgroup> Bs: array<array<u32, ${KSTEP}>, ${TILE}>;
@compute @workgroup_size(16, 16) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  $P
  let m0 = wid.y * ${TILE}u;
  let n0 = wid.x * ${TILE}u;
  let tid = lid.y * 16u + lid.x;
  let r = tid / ${KSTEP}u;
  let c4 = tid % ${KSTEP}u;
  var acc: array<i32, 16>;
  for (var k0 = 0u; k0 < K4; k0 += ${KSTEP}u) {
    let kk = k0 + c4;
    var a = 0u;
    let m = m0 + r;
    if (m < M && kk < K4) {
      ${conv ? LOAD_CONV : LOAD_GEMM}
    }
    As[r][c4] = a;
    var b = 0u;
    if (n0 + r < N && kk < K4) { b = Wt[o_Wt + (n0 + r) * K4 + kk]; }
    Bs[r][c4] = b;
    workgroupBarrier();
    for (var q = 0u; q < ${KSTEP}u; q++) {
      var av: array<u32, 4>;
      var bv: array<u32, 4>;
      for (var i = 0u; i < 4u; i++) { av[i] = As[lid.y + 16u * i][q]; bv[i] = Bs[lid.x + 16u * i][q]; }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i * 4u + j] += dot4I8Packed(av[i], bv[j]); }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + lid.y + 16u * i;
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + lid.x + 16u * j;
      if (m < M && n < N) { Acc[o_Acc + m * N + n] = acc[i * 4u + j] - zx * Sm[o_Sm + n]; }
    }
  }
}`,
  };
}
const SUMS_GEMM = sumsSpec(false);
const SUMS_CONV = sumsSpec(true);

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
    if (M <= 0) return;
    const sums = [M, N, K, words(K), iw(zx)];
    this.run(SUMS_GEMM, bind(x, M * K, 1), sums, bufs, ep, [M * N, N, M, 1, M, 1, 1, 1, ...tail], y);
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
    // Wt[OC, K4]: each output channel's weights over K = (kh, kw, c), packed (opts.winograd is
    // ignored: the implicit GEMM is exact, as every variant must be, and the reference's sums are the same)
    const { bytes, sums } = packRows(OC, KH * KW * C, (oc, k) => k * OC + oc, w);
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
    const M = g.N * g.OH * g.OW;
    const [PH, PW] = p.pool ? [Math.floor(g.OH / 2), Math.floor(g.OW / 2)] : [g.OH, g.OW];
    if (M <= 0) return;
    const K = KH * KW * C;
    const sums = [
      M,
      OC,
      K,
      words(K),
      iw(zx),
      g.OH,
      g.OW,
      g.H,
      g.W,
      C,
      KW,
      g.strideH,
      g.strideW,
      iw(g.padTop),
      iw(g.padLeft),
    ];
    const pass = [g.N * PH * PW * OC, OC, PH, PW, g.OH, g.OW, p.pool ? 4 : 1, p.pool ? 2 : 1];
    this.run(SUMS_CONV, bind(x, g.N * g.H * g.W * C, 1), sums, p.bufs, ep, [...pass, ...tail], y);
  }

  /** The sums Acc[M, N] (params sums: M, N first), then the epilogue pass over pass[0] outputs into y. */
  private run(
    spec: KernelSpec,
    x: ReturnType<typeof bind>,
    sums: number[],
    bufs: readonly number[],
    ep: Int8Epilogue,
    pass: number[],
    y: number,
  ): void {
    const [wt, colSums, scales] = bufs;
    const [M, N] = sums;
    const groups = Math.ceil(M / TILE);
    if (groups > 65535) throw new ValueError(`webgpu int8: ${M} output rows in one call (at most ${65535 * TILE})`);
    const acc = this.k.dev.alloc(M * N * 4);
    try {
      const wBind = { buf: wt, bytes: this.k.dev.sizeAfter(wt) };
      const sBind = { buf: colSums, bytes: this.k.dev.sizeAfter(colSums) };
      this.k.run(spec, [x, wBind, sBind, bind(acc, M * N)], sums, [Math.ceil(N / TILE), groups, 1]);
      // without bias the kernel never reads Bi: the scales stand in
      const binds = [bind(acc, M * N), bind(scales, N), bind(ep.bias || scales, N)];
      const count = pass[0];
      if (ep.out.kind === 'int8') runBytes(this.k, epilogueSpec(true), binds, pass, y);
      else this.k.run1(epilogueSpec(false), [...binds, bind(y, count)], pass, count);
    } finally {
      this.k.dev.free(acc);
    }
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
