// Matrix products: matmul of two tensors (batched over leading axes: attention's Q·Kᵀ and A·V) and
// linear (x[..., in] · W[in, out] + b, the GEMM with a fused epilogue; the compiler's fusion target;
// with `transB` its weight is stored W[out, in], as ONNX Gemm's transB and torch's nn.Linear: a
// table whose rows are the outputs, e.g. an item table both gathered by rows and scanned).
// Shared with conv.ts: the epilogue/int8 checks and the ONNX export of weighted layers.

import type { Buf, Epilogue, Int8Epilogue } from '../backend/backend.js';
import { fmtShape, ShapeError, ValueError } from '../errors.js';
import { isPosInt } from '../io/fields.js';
import { fromHalf } from '../shape/half.js';
import type { CheckCtx, ConstInfo, NodeView, OnnxCtx, OpDef, PlanCtx, Ref } from './op.js';
import {
  type ActivationFn,
  channelConstant,
  EPILOGUE_FNS,
  expectDtype,
  KERNEL_ACTIVATION,
  numel,
  operand,
  operandOnnx,
  optionalNumber,
  same,
  weighsFloats,
} from './rules.js';

/** Fused epilogue of conv2d/linear: bias is an input; `residual` a value added before `activation`. */
export interface EpilogueAttrs {
  activation: ActivationFn;
  alpha?: number;
  residual?: string;
}

/** linear: the epilogue, and the weight's layout: [in, out] (default) or, with transB, [out, in]. */
export interface LinearAttrs extends EpilogueAttrs {
  transB?: boolean;
}

export interface MatmulAttrs {
  /** a[..., M, K] · b[..., K, N] (b may be [K, N], shared by every batch). */
  matmul: Record<string, never>;
  linear: LinearAttrs;
}

/** A linear's weight shape as [in, out] = [K, N], whichever way it is stored. */
export function linearDims(w: readonly number[], transB: boolean | undefined): { K: number; N: number } {
  return transB ? { K: w[1], N: w[0] } : { K: w[0], N: w[1] };
}

/** Whether a node is a linear reading its weight [out, in] (the layout compiler passes must respect or skip). */
export const isTransposedLinear = (n: { op: string; attrs: unknown }): boolean =>
  n.op === 'linear' && (n.attrs as LinearAttrs).transB === true;

/** [R, C] → [C, R] (float32 or int8). */
function transposed<T extends Float32Array | Int8Array>(m: T, R: number, C: number): T {
  const out = new (m.constructor as { new (n: number): T })(m.length);
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) out[c * R + r] = m[r * C + c];
  return out;
}

/**
 * conv2d / linear IR rules: weights, bias, epilogue; int8 weights need an int8 input and a
 * ReLU-or-none epilogue, except where `floatTail` (linear): a residual or another activation is
 * applied to the GEMM's float32 output after the int8 kernel, so the output must be float32.
 * `transB` (linear): the weight is [out, in], its int8 scales one per row (quant axis 0).
 */
export function checkWeighted(
  c: CheckCtx<EpilogueAttrs>,
  rank: number,
  floatTail = false,
  transB = false,
): { w: ConstInfo; cout: number } {
  const x = c.value(0);
  const w = c.constant(1);
  const name = `weight '${c.n.inputs[1]}'`;
  if (w.shape.length !== rank || !w.shape.every(isPosInt))
    c.bad(`${name} has shape ${fmtShape(w.shape)}, expected rank ${rank} with positive sizes`);
  if (w.dtype === 'int32') c.bad(`${name} is int32, expected float32, float16 or int8`);
  const cin = transB ? w.shape[1] : w.shape[rank - 2];
  const cout = transB ? w.shape[0] : w.shape[rank - 1];
  if (x.shape.at(-1) !== cin) c.bad(`input '${c.n.inputs[0]}' has ${x.shape.at(-1)} channels, ${name} expects ${cin}`);
  if (c.n.inputs.length > 2) channelConstant(c, 2, cout, 'bias');
  const a = c.n.attrs;
  if (!EPILOGUE_FNS.includes(a.activation))
    c.bad(`attrs.activation ${JSON.stringify(a.activation)} is not one of ${EPILOGUE_FNS.join(', ')}`);
  optionalNumber(c, 'alpha');
  if (a.residual !== undefined) {
    const r = typeof a.residual === 'string' ? c.valueNamed(a.residual) : undefined;
    if (!r) return c.bad(`attrs.residual ${JSON.stringify(a.residual)} must name a value`);
    if (!same(r.shape, c.out.shape) || r.dtype !== 'float32')
      c.bad(`residual '${a.residual}' is ${r.dtype}${fmtShape(r.shape)}, expected float32${fmtShape(c.out.shape)}`);
  }
  if (w.dtype === 'int8') {
    if (w.quant?.scale.length !== cout) c.bad(`int8 ${name} needs ${cout} per-channel scales`);
    // stored [out, in], the scales are per row: the same record an int8 embedding table has
    if (transB && w.quant.axis !== 0)
      c.bad(`int8 ${name} of a transB linear needs its scales per row (quant axis 0), got axis ${w.quant.axis}`);
    expectDtype(c, `input '${c.n.inputs[0]}' of an int8 layer`, x, 'int8');
    if (int8Tail(a)) {
      if (!floatTail) c.bad('int8 layers support only a ReLU epilogue (no residual)');
      expectDtype(
        c,
        `output '${c.n.output}' of an int8 layer with a ${a.residual ? 'residual' : a.activation}`,
        c.out,
        'float32',
      );
    } else expectDtype(c, `output '${c.n.output}'`, c.out, 'float32', 'int8');
  } else {
    expectDtype(c, `input '${c.n.inputs[0]}'`, x, 'float32');
    expectDtype(c, `output '${c.n.output}'`, c.out, 'float32');
  }
  return { w, cout };
}

/** The float epilogue of a conv2d/linear node over the plan's buffers. */
export function planEpilogue(p: PlanCtx, n: NodeView<EpilogueAttrs>): Epilogue {
  return {
    bias: n.inputs[2] ? p.constant(n.inputs[2]) : undefined,
    activation: KERNEL_ACTIVATION[n.attrs.activation],
    alpha: n.attrs.alpha,
    residual: n.attrs.residual ? p.buf(n.attrs.residual) : undefined,
  };
}

/** Whether an int8 layer's epilogue needs work after the kernel (a residual, or an activation other than ReLU). */
export const int8Tail = (a: EpilogueAttrs): boolean =>
  a.residual !== undefined || (a.activation !== 'none' && a.activation !== 'relu');

/**
 * Input quantization and output epilogue of an int8 conv2d/linear node: the kernel's own (ReLU or
 * none), or, with a tail (int8Tail), a plain float32 output the caller finishes.
 */
export function planInt8(p: PlanCtx, n: NodeView<EpilogueAttrs>): { sx: number; zx: number; ep: Int8Epilogue } {
  const xq = p.value(n.inputs[0]).quant as { scale: number[]; zeroPoint: number[] };
  const y = p.value(n.output);
  const out: Int8Epilogue['out'] =
    y.dtype === 'int8' && y.quant
      ? { kind: 'int8', scale: y.quant.scale[0], zeroPoint: y.quant.zeroPoint[0] }
      : { kind: 'float32' };
  const bias = n.inputs[2] ? p.constant(n.inputs[2]) : undefined;
  const relu = n.attrs.activation === 'relu' && !int8Tail(n.attrs);
  return { sx: xq.scale[0], zx: xq.zeroPoint[0], ep: { bias, relu, out } };
}

/**
 * The rest of an int8 linear's epilogue on its float32 output y (count elements): + residual,
 * then the activation, with the backend's elementwise kernels (SIMD GELU); undefined when the
 * kernel did it all.
 */
function planInt8Tail(p: PlanCtx, n: NodeView<EpilogueAttrs>, y: Buf): ((count: number) => void) | undefined {
  const a = n.attrs;
  if (!int8Tail(a)) return undefined;
  const bk = p.backend;
  const res = a.residual ? p.buf(a.residual) : undefined;
  const fn = KERNEL_ACTIVATION[a.activation];
  return (count) => {
    if (res !== undefined) bk.binary('add', y, [count], res, [count], y);
    if (fn !== 'none') bk.unary(fn, y, y, count, a.alpha);
  };
}

/** The int8 family of the plan's backend, or a clear error. */
export function int8Of(p: PlanCtx, node: string) {
  const f = p.backend.int8;
  if (!f) throw new ValueError(`node '${node}': backend '${p.backend.name}' has no int8 kernels`);
  return f;
}

/** [KH, KW, Cin, Cout] → [Cout, Cin, KH, KW] (any typed array). */
function convWeightToOnnx<T extends Float32Array | Int8Array>(w: T, [KH, KW, Cin, Cout]: readonly number[]): T {
  const out = new (w.constructor as { new (n: number): T })(w.length);
  for (let kh = 0; kh < KH; kh++)
    for (let kw = 0; kw < KW; kw++)
      for (let ci = 0; ci < Cin; ci++)
        for (let co = 0; co < Cout; co++)
          out[((co * Cin + ci) * KH + kh) * KW + kw] = w[((kh * KW + kw) * Cin + ci) * Cout + co];
  return out;
}

/**
 * ONNX export of conv2d/linear: float weights as initializers; int8 weights QDQ per output channel
 * (stored as uint8 around zero point 128, the same values: ONNX Runtime's u8s8 kernels on x86
 * without VNNI add pairs of products in saturating int16, and wrong answers follow; u8u8 widens
 * first), int32 biases at scale sx·sw; then residual and activation.
 */
export function exportWeighted(
  o: OnnxCtx,
  n: NodeView<LinearAttrs & { stride?: number[]; pads?: number[] }>,
  kind: 'conv2d' | 'linear',
  pool = false,
): void {
  const at = n.name;
  const w = o.constant(n.inputs[1]);
  const int8 = w.dtype === 'int8';
  const xin = o.float(n.inputs[0], at);
  // a transB linear's weight [out, in] goes as it is: Gemm transB=1, or MatMul after a Transpose
  const transB = kind === 'linear' && n.attrs.transB === true;
  const Cout = transB ? w.shape[0] : w.shape[w.shape.length - 1];
  let wName: string;
  let bias: string | undefined;
  const wf = int8 ? (w.data as Int8Array) : o.floatData(n.inputs[1]);
  const wData = kind === 'conv2d' ? convWeightToOnnx(wf, w.shape) : wf;
  const wDims = kind === 'conv2d' ? [Cout, w.shape[2], w.shape[0], w.shape[1]] : [...w.shape];
  const axis = kind === 'conv2d' || transB ? 0 : 1;
  if (int8) {
    const sw = w.quant?.scale;
    const sx = o.value(n.inputs[0]).quant?.scale[0];
    if (!sw || sw.length !== Cout || sx === undefined)
      throw new ValueError(`exportOnnx: int8 node '${at}' lacks per-channel weight or input scales`);
    const wq = Uint8Array.from(wData as Int8Array, (v) => v + 128);
    const q = o.tensor(`${n.inputs[1]}/uint8`, wDims, wq, o.DT.UINT8);
    wName = o.node(
      'DequantizeLinear',
      [
        q,
        o.tensor(`${n.inputs[1]}/scale`, [Cout], sw),
        o.tensor(`${n.inputs[1]}/zero_point`, [Cout], new Uint8Array(Cout).fill(128), o.DT.UINT8),
      ],
      at,
      [{ name: 'axis', i: axis }],
    );
    if (n.inputs[2]) {
      const bf = o.floatData(n.inputs[2]);
      const bs = sw.map((s) => s * sx);
      const bq = Int32Array.from(bf, (v, i) => Math.round(v / bs[i]));
      bias = o.node(
        'DequantizeLinear',
        [
          o.tensor(`${n.inputs[2]}/int32`, [Cout], bq),
          o.tensor(`${n.inputs[2]}/scale`, [Cout], bs),
          o.tensor(`${n.inputs[2]}/zero_point`, [Cout], new Int32Array(Cout)),
        ],
        at,
        [{ name: 'axis', i: 0 }],
      );
    }
  } else {
    wName = o.tensor(n.inputs[1], wDims, wData as Float32Array);
    if (n.inputs[2]) bias = o.tensor(n.inputs[2], [Cout], o.floatData(n.inputs[2]));
  }
  const xRank = o.value(n.inputs[0]).shape.length;
  let y: string;
  if (kind === 'conv2d') {
    const [KH, KW] = w.shape;
    y = o.node('Conv', bias ? [xin, wName, bias] : [xin, wName], at, [
      { name: 'kernel_shape', ints: [KH, KW] },
      { name: 'strides', ints: n.attrs.stride as number[] },
      { name: 'pads', ints: n.attrs.pads as number[] },
    ]);
  } else if (xRank === 2) {
    y = o.node('Gemm', bias ? [xin, wName, bias] : [xin, wName], at, transB ? [{ name: 'transB', i: 1 }] : []);
  } else {
    if (xRank === 4) throw new ValueError(`exportOnnx: linear '${at}' on a 4-D value is not exported`);
    if (transB) wName = o.node('Transpose', [wName], at, [{ name: 'perm', ints: [1, 0] }]);
    y = o.node('MatMul', [xin, wName], at);
    if (bias) y = o.node('Add', [y, bias], at);
  }
  if (n.attrs.residual) y = o.node('Add', [y, o.float(n.attrs.residual, at)], at);
  y = o.activation(n.attrs.activation, y, at, n.attrs.alpha);
  // a fused 2×2 max pool: max commutes with the (monotone) requantization that follows
  if (pool)
    y = o.node('MaxPool', [y], at, [
      { name: 'kernel_shape', ints: [2, 2] },
      { name: 'strides', ints: [2, 2] },
    ]);
  o.bind(n.output, y, at);
}

/** Batch count and matrix sizes of matmul(a, b); ShapeError when they do not fit. */
function matmulDims(a: readonly number[], b: readonly number[]) {
  const bad = () =>
    new ShapeError(
      `matmul: cannot multiply ${fmtShape(a)} by ${fmtShape(b)} (need [..., M, K] · [..., K, N] or [K, N])`,
    );
  if (a.length < 2 || b.length < 2) throw bad();
  const [M, K] = a.slice(-2);
  const [K2, N] = b.slice(-2);
  if (K !== K2) throw bad();
  const lead = a.slice(0, -2);
  const shared = b.length === 2;
  if (!shared && !same(lead, b.slice(0, -2))) throw bad();
  return { lead, M, K, N, shared, batches: numel(lead) };
}

function epilogueOf(b: Buf | undefined, a: EpilogueAttrs): Epilogue {
  return { bias: b, activation: KERNEL_ACTIVATION[a.activation ?? 'none'], alpha: a.alpha };
}

/** A float constant's values as float32 (float16 widened). */
const floatOf = (c: ConstInfo): Float32Array =>
  c.dtype === 'float16' ? Float32Array.from(c.data as Uint16Array, fromHalf) : (c.data as Float32Array);

export const MATMUL = {
  matmul: {
    arity: [2, 2],
    infer: ([a, b]) => {
      weighsFloats('matmul', a);
      weighsFloats('matmul', b);
      const { lead, M, N } = matmulDims(a.shape, b.shape);
      return { shape: [...lead, M, N], dtype: 'float32' };
    },
    check(c) {
      // values or float constants (float16 weights widen at load, as every float weight)
      for (const i of [0, 1]) expectDtype(c, `input '${c.n.inputs[i]}'`, operand(c, i), 'float32');
      expectDtype(c, `output '${c.n.output}'`, c.out, 'float32');
    },
    forward(x, [a, b], out) {
      const { M, K, N, shared, batches } = matmulDims(a.shape, b.shape);
      if (shared) {
        x.backend.gemm(a.buf, b.buf, out.buf, batches * M, K, N);
        return undefined;
      }
      for (let i = 0; i < batches; i++)
        x.backend.gemm(a.buf + i * M * K * 4, b.buf + i * K * N * 4, out.buf + i * M * N * 4, M, K, N);
      return undefined;
    },
    vjp: (g, [a, b], _o, _s, d, _a, needs) => {
      const { M, K, N, shared, batches } = matmulDims(a.shape, b.shape);
      const bk = g.backend;
      let da: Ref | null = null;
      if (needs[0]) {
        da = g.alloc(a.shape);
        if (shared) bk.gemm(d.buf, b.buf, da.buf, batches * M, N, K, { transB: true });
        else
          for (let i = 0; i < batches; i++)
            bk.gemm(d.buf + i * M * N * 4, b.buf + i * K * N * 4, da.buf + i * M * K * 4, M, N, K, { transB: true });
      }
      let db: Ref | null = null;
      if (needs[1]) {
        db = g.alloc(b.shape);
        if (shared) bk.gemm(a.buf, d.buf, db.buf, K, batches * M, N, { transA: true });
        else
          for (let i = 0; i < batches; i++)
            bk.gemm(a.buf + i * M * K * 4, d.buf + i * M * N * 4, db.buf + i * K * N * 4, K, M, N, { transA: true });
      }
      return [da, db];
    },
    run(p, n) {
      const w = p.constantInfo(n.inputs[1]);
      const a = p.value(n.inputs[0]);
      if (w?.shape.length !== 2 || p.constantInfo(n.inputs[0])) return undefined;
      // a shared weight [K, N]: prepared once, one GEMM over every row of every sample (as linear)
      const rows = numel(a.shape.slice(1, -1));
      const packed = p.weights(n.inputs[1]);
      const [x, out, bk] = [p.buf(n.inputs[0]), p.buf(n.output), p.backend];
      return (B) => bk.gemmPrepared(x, B * rows, packed, out);
    },
    traits: {},
    onnx: (o, n) => {
      const at = n.name;
      // axes are Graduate's: 4-D operands in NHWC order, not ONNX's NCHW
      const [a, b] = n.inputs.map((v) => operandOnnx(o, v, at, 'graduate'));
      o.bind(n.output, o.node('MatMul', [a, b], at), at, 'graduate');
    },
  } satisfies OpDef<MatmulAttrs['matmul']>,
  linear: {
    arity: [2, 3],
    infer: ([x, w, b], a) => {
      weighsFloats('linear', x);
      const K = x.shape[x.shape.length - 1];
      const layout = a.transB ? '[out, in] (transB)' : '[in, out]';
      if (x.shape.length < 1 || w.shape.length !== 2 || linearDims(w.shape, a.transB).K !== K) {
        throw new ShapeError(
          `linear: input ${fmtShape(x.shape)} does not fit weight ${fmtShape(w.shape)} (need [..., in] and ${layout})`,
        );
      }
      const { N } = linearDims(w.shape, a.transB);
      if (b && (b.shape.length !== 1 || b.shape[0] !== N)) {
        throw new ShapeError(
          `linear: bias ${fmtShape(b.shape)} does not match weight ${fmtShape(w.shape)} ${layout} (need [${N}])`,
        );
      }
      return { shape: [...x.shape.slice(0, -1), N], dtype: 'float32' };
    },
    check: (c) => {
      const t = c.n.attrs.transB;
      if (t !== undefined && typeof t !== 'boolean')
        c.bad(`attrs.transB must be true or false, got ${JSON.stringify(t)}`);
      checkWeighted(c, 2, true, t === true);
    },
    forward(x, [i, w, b], out, a) {
      if (a.residual) throw new ShapeError('linear: a fused residual runs only in graphs');
      const { K, N } = linearDims(w.shape, a.transB);
      x.backend.gemm(i.buf, w.buf, out.buf, numel(i.shape) / K, K, N, { ...epilogueOf(b?.buf, a), transB: a.transB });
      return undefined;
    },
    vjp: (g, [x, w, b], _o, _s, d, a, needs) => {
      if (a.activation !== 'none' || a.residual) throw new ValueError('linear: no gradient through a fused epilogue');
      const { K, N } = linearDims(w.shape, a.transB);
      const R = x.size / K;
      const bk = g.backend;
      // y[R, N] = x[R, K] · W[K, N], W = Wtᵀ when stored Wt[N, K] (transB)
      let dx: Ref | null = null;
      if (needs[0]) {
        dx = g.alloc(x.shape);
        // dX[R, K] = dY[R, N] · Wᵀ: Wt as it is stored
        bk.gemm(d.buf, w.buf, dx.buf, R, N, K, { transB: !a.transB });
      }
      let dw: Ref | null = null;
      if (needs[1]) {
        dw = g.alloc(w.shape);
        // dW[K, N] = Xᵀ · dY, or dWt[N, K] = dYᵀ · X
        if (a.transB) bk.gemm(d.buf, x.buf, dw.buf, N, R, K, { transA: true });
        else bk.gemm(x.buf, d.buf, dw.buf, K, R, N, { transA: true });
      }
      let db: Ref | null = null;
      if (b && needs[2]) {
        db = g.alloc([N]);
        bk.reduce('sum', d.buf, [R, N], [0], db.buf);
      }
      return [dx, dw, db];
    },
    run(p, n) {
      const w = p.constantInfo(n.inputs[1]) as ConstInfo;
      const x = p.buf(n.inputs[0]);
      const out = p.buf(n.output);
      const rows = numel(p.value(n.inputs[0]).shape.slice(1, -1));
      const transB = n.attrs.transB === true;
      const { K, N } = linearDims(w.shape, transB);
      if (w.dtype === 'int8') {
        const { sx, zx, ep } = planInt8(p, n);
        const i8 = int8Of(p, n.name);
        // the kernels pack B[K, N] once: a weight stored [N, K] is turned first (scales: one per N either way)
        const w8 = transB ? transposed(w.data as Int8Array, N, K) : (w.data as Int8Array);
        const packed = p.own(i8.prepareGemm(w8, K, N, w.quant?.scale ?? []));
        const tail = planInt8Tail(p, n, out);
        if (!tail) return (B) => i8.gemm(x, B * rows, sx, zx, packed, out, ep);
        return (B) => {
          i8.gemm(x, B * rows, sx, zx, packed, out, ep);
          tail(B * rows * N);
        };
      }
      const bk = p.backend;
      const packed = transB ? p.own(bk.prepareWeights(transposed(floatOf(w), N, K), K, N)) : p.weights(n.inputs[1]);
      const ep = planEpilogue(p, n);
      return (B) => bk.gemmPrepared(x, B * rows, packed, out, ep);
    },
    traits: { epilogue: true },
    onnx: (o, n) => exportWeighted(o, n, 'linear'),
  } satisfies OpDef<MatmulAttrs['linear']>,
} satisfies { [K in keyof MatmulAttrs]: OpDef<MatmulAttrs[K]> };
