// Converters of ONNX ops with weights or windows: Conv (OIHW weights → HWIO), Gemm and MatMul
// (linear over the last axis; a permuted flatten's order is absorbed into the weight rows), the
// pools (auto_pad and ceil_mode become explicit pads), BatchNormalization, LayerNormalization
// (last axis), and com.microsoft FusedConv / FusedGemm (the activation stays a pending function).
// Not for: elementwise ops (convert-elementwise.ts).
import type { Attrs } from './attrs.js';
import type { Context, Converter } from './context.js';
import { relu } from './convert-elementwise.js';
import type { Entry } from './layout.js';
import { perSample, sigmoid } from './layout.js';

export const LAYERS = {
  Conv: (cx, _n, A) => conv(cx, A),
  Gemm: (cx, _n, A) => gemm(cx, A),
  MatMul: (cx, n) =>
    linear(cx, cx.get(n.input?.[0] ?? ''), cx.constIn(1, 'B').data, cx.constIn(1, 'B').dims, undefined, 'MatMul'),
  BatchNormalization: (cx, n, A) => {
    if ((n.output ?? []).slice(1).some((o) => cx.used(o) > 0)) cx.fail('training-mode outputs are used');
    const e = cx.materialize(cx.get(n.input?.[0] ?? ''), 'input');
    const ps = [1, 2, 3, 4].map((i) => {
      const c = cx.constIn(i, ['scale', 'B', 'mean', 'var'][i - 1]);
      const pc = cx.perChannel(
        e,
        { ...c, dims: [c.data.length, ...new Array(Math.max(0, e.dims.length - 2)).fill(1)] },
        'BatchNormalization',
      );
      if (!pc) cx.fail(`parameters of ${c.data.length} channels do not fit input [${e.dims.join(', ')}]`);
      return pc as Float32Array;
    });
    const names = ['weight', 'bias', 'running_mean', 'running_var'].map((k, i) =>
      cx.constant(`${cx.nodeName}.${k}`, ps[i], [ps[i].length]),
    );
    const eps = A.float('epsilon', 1e-5);
    return {
      ...e,
      v: cx.emit({ op: 'batchnorm', inputs: [e.v, ...names], attrs: { eps } }, cx.phys(e)),
    };
  },
  LayerNormalization: (cx, n, A) => {
    // opset 17: over the last axis, with Scale and optional B (Mean/InvStdDev outputs unused)
    if ((n.output ?? []).slice(1).some((o) => cx.used(o) > 0)) cx.fail('its Mean / InvStdDev outputs are used');
    const e = cx.materialize(cx.get(n.input?.[0] ?? ''), 'input');
    const r = e.dims.length;
    let axis = A.int('axis', -1);
    if (axis < 0) axis += r;
    const last = e.layout !== 'nchw' && !e.order && axis === r - 1;
    if (!last || (e.layout === 'flat' && cx.phys(e).at(-1) !== e.dims[r - 1]))
      cx.fail(`normalizing from axis ${axis} of a rank-${r} tensor is not supported (only the last axis)`);
    const C = e.dims[r - 1];
    const scale = cx.constIn(1, 'Scale').data;
    const bias = n.input?.[2] ? cx.constIn(2, 'B').data : new Float32Array(C);
    if (scale.length !== C || bias.length !== C)
      cx.fail(`Scale/B of ${scale.length}/${bias.length} values do not fit ${C} features`);
    const names = [scale, bias].map((d, i) =>
      cx.constant(`${cx.nodeName}.${['weight', 'bias'][i]}`, Float32Array.from(d), [C]),
    );
    const eps = A.float('epsilon', 1e-5);
    return { ...e, v: cx.emit({ op: 'layernorm', inputs: [e.v, ...names], attrs: { eps } }, cx.phys(e)) };
  },
  MaxPool: (cx, _n, A) => pool(cx, 'MaxPool', A),
  AveragePool: (cx, _n, A) => pool(cx, 'AveragePool', A),
  GlobalAveragePool: (cx, n) => {
    const e = cx.nchw(cx.get(n.input?.[0] ?? ''));
    const [, C] = e.dims;
    const out = cx.emit({ op: 'globalavgpool', inputs: [e.v], attrs: {} }, [-1, C]);
    return { kind: 'value', v: out, dims: [-1, C, 1, 1], layout: 'flat' };
  },
  'com.microsoft:FusedConv': (cx, _n, A) => fused(cx, A, 'FusedConv'),
  'com.microsoft:FusedGemm': (cx, _n, A) => fused(cx, A, 'FusedGemm'),
} satisfies Record<string, Converter>;

/** ONNX Runtime's Conv/Gemm with a fused activation (activation_params: LeakyRelu's alpha). */
function fused(cx: Context, A: Attrs, op: 'FusedConv' | 'FusedGemm'): Entry {
  const y = op === 'FusedConv' ? conv(cx, A) : gemm(cx, A);
  const act = A.str('activation', '');
  const params = A.floats('activation_params') ?? [];
  const f: Record<string, (x: number) => number> = {
    Relu: relu,
    LeakyRelu: (x) => (x > 0 ? x : (params[0] ?? A.float('activation_alpha', 0.01)) * x),
    Sigmoid: sigmoid,
    Tanh: Math.tanh,
  };
  if (!f[act]) cx.fail(`fused activation '${act}' is not supported (Relu, LeakyRelu, Sigmoid, Tanh)`);
  if (op === 'FusedConv' && cx.node.input?.[3]) cx.fail('the fused sum input is not supported');
  return cx.unary(f[act], y);
}

/** Output size and pads [top, left, bottom, right] of a window op (auto_pad, ceil_mode). */
function window(cx: Context, A: Attrs, H: number, W: number, K: [number, number], s: [number, number], ceil = false) {
  const auto = A.str('auto_pad', 'NOTSET');
  let pads = (A.ints('pads') ?? [0, 0, 0, 0]) as [number, number, number, number];
  if (pads.length !== 4 || pads.some((p) => p < 0)) cx.fail(`pads [${pads.join(', ')}] must be 4 non-negative values`);
  const sizes = [H, W];
  if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    const tot = sizes.map((d, i) => Math.max(0, (Math.ceil(d / s[i]) - 1) * s[i] + K[i] - d));
    const small = tot.map((t) => Math.floor(t / 2));
    const [a, b] =
      auto === 'SAME_UPPER' ? [small, tot.map((t, i) => t - small[i])] : [tot.map((t, i) => t - small[i]), small];
    pads = [a[0], a[1], b[0], b[1]];
  } else if (auto === 'VALID') pads = [0, 0, 0, 0];
  else if (auto !== 'NOTSET') cx.fail(`auto_pad '${auto}' is not supported`);
  const out = sizes.map((d, i) => {
    const span = d + pads[i] + pads[i + 2] - K[i];
    let o = (ceil ? Math.ceil(span / s[i]) : Math.floor(span / s[i])) + 1;
    if (ceil && (o - 1) * s[i] >= d + pads[i]) o--;
    return o;
  });
  if (out.some((o) => !(o > 0))) cx.fail(`window ${K.join('x')} does not fit input ${H}x${W}`);
  // ceil mode: pad the far side so the floor formula gives the same windows
  for (let i = 0; i < 2; i++) pads[i + 2] = Math.max(pads[i + 2], (out[i] - 1) * s[i] + K[i] - sizes[i] - pads[i]);
  return { OH: out[0], OW: out[1], pads };
}

function pair(cx: Context, A: Attrs, k: string, d: [number, number]): [number, number] {
  const v = A.ints(k);
  if (!v) return d;
  if (v.length !== 2 || v.some((x) => !(x >= 1)))
    cx.fail(`${k} [${v.join(', ')}] must be two positive integers (2-D only)`);
  return [v[0], v[1]];
}

function conv(cx: Context, A: Attrs): Entry {
  const x = cx.nchw(cx.get(cx.node.input?.[0] ?? ''));
  const w = cx.constIn(1, 'weight W');
  if (w.dims.length !== 4) cx.fail(`weight of shape [${w.dims.join(', ')}] (only 2-D convolutions)`);
  const [Cout, Cin, KH, KW] = w.dims;
  if (A.int('group', 1) !== 1) cx.fail(`group ${A.int('group', 1)} (grouped/depthwise convolution) is not supported`);
  if (pair(cx, A, 'dilations', [1, 1]).join() !== '1,1') cx.fail('dilated convolution is not supported');
  const [, C, H, W] = x.dims;
  if (Cin !== C) cx.fail(`weight expects ${Cin} input channels, the input has ${C}`);
  const stride = pair(cx, A, 'strides', [1, 1]);
  const { OH, OW, pads } = window(cx, A, H, W, [KH, KW], stride);
  const ours = new Float32Array(w.data.length);
  for (let co = 0; co < Cout; co++)
    for (let ci = 0; ci < Cin; ci++)
      for (let kh = 0; kh < KH; kh++)
        for (let kw = 0; kw < KW; kw++)
          ours[((kh * KW + kw) * Cin + ci) * Cout + co] = w.data[((co * Cin + ci) * KH + kh) * KW + kw];
  const inputs = [x.v, cx.constant(`${cx.nodeName}.weight`, ours, [KH, KW, Cin, Cout])];
  if (cx.node.input?.[2]) {
    const b = cx.constIn(2, 'bias B');
    if (b.data.length !== Cout) cx.fail(`bias has ${b.data.length} values for ${Cout} channels`);
    inputs.push(cx.constant(`${cx.nodeName}.bias`, Float32Array.from(b.data), [Cout]));
  }
  const out = cx.emit({ op: 'conv2d', inputs, attrs: { activation: 'none', stride, pads } }, [-1, OH, OW, Cout]);
  return { kind: 'value', v: out, dims: [-1, Cout, OH, OW], layout: 'nchw' };
}

function gemm(cx: Context, A: Attrs): Entry {
  if (A.int('transA', 0)) cx.fail('transA = 1 is not supported');
  const b = cx.constIn(1, 'B');
  if (b.dims.length !== 2) cx.fail(`B must be 2-D, got [${b.dims.join(', ')}]`);
  let w = Float32Array.from(b.data);
  let dims = b.dims;
  if (A.int('transB', 0)) {
    const [O, I] = b.dims;
    w = new Float32Array(I * O);
    for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) w[i * O + o] = b.data[o * I + i];
    dims = [I, O];
  }
  const alpha = A.float('alpha', 1);
  if (alpha !== 1) w = w.map((v) => v * alpha);
  let bias: Float32Array | undefined;
  if (cx.node.input?.[2]) {
    const c = cx.constIn(2, 'C');
    const beta = A.float('beta', 1);
    if (c.data.length !== 1 && c.data.length !== dims[1])
      cx.fail(`C has ${c.data.length} values for ${dims[1]} outputs`);
    bias = Float32Array.from({ length: dims[1] }, (_, j) => beta * c.data[c.data.length === 1 ? 0 : j]);
  }
  return linear(cx, cx.get(cx.node.input?.[0] ?? ''), w, dims, bias, 'Gemm');
}

/** y = x · W (+ bias) over x's last axis; W [in, out] in ONNX's logical feature order. */
function linear(
  cx: Context,
  e0: Entry,
  wData: Float32Array | Float64Array,
  wDims: number[],
  bias: Float32Array | undefined,
  what: string,
): Entry {
  if (wDims.length !== 2) cx.fail(`${what} weight must be 2-D, got [${wDims.join(', ')}]`);
  let x = cx.materialize(e0, 'input');
  const [I, O] = wDims;
  if (x.layout === 'nchw' && perSample(x.dims) === x.dims[1]) x = { ...x, layout: 'flat' };
  if (x.layout !== 'flat') cx.fail('input is a 4-D NCHW tensor: flatten it first');
  if (x.dims.at(-1) !== I) cx.fail(`input [${x.dims.join(', ')}] does not match weight [${wDims.join(', ')}]`);
  let w = Float32Array.from(wData);
  if (x.dims.length === 2 || x.order) {
    if (x.dims.length !== 2) cx.fail('a permuted (flattened NCHW) input must be 2-D');
    x = cx.flatten2d(x);
    if (x.order) {
      const o = x.order;
      const pw = new Float32Array(w.length);
      for (let j = 0; j < I; j++) pw.set(w.subarray(j * O, (j + 1) * O), o[j] * O);
      w = pw;
    }
  } else if (cx.phys(x).at(-1) !== I) cx.fail(`input [${x.dims.join(', ')}] is not held with its features last`);
  const inputs = [x.v, cx.constant(`${cx.nodeName}.weight`, w, [I, O])];
  if (bias) inputs.push(cx.constant(`${cx.nodeName}.bias`, bias, [O]));
  const shape = [...cx.phys(x).slice(0, -1), O];
  const out = cx.emit({ op: 'linear', inputs, attrs: { activation: 'none' } }, shape);
  return { kind: 'value', v: out, dims: [...x.dims.slice(0, -1), O], layout: 'flat' };
}

function pool(cx: Context, op: 'MaxPool' | 'AveragePool', A: Attrs): Entry {
  const x = cx.nchw(cx.get(cx.node.input?.[0] ?? ''));
  if (cx.used(cx.node.output?.[1]) > 0) cx.fail('the Indices output is not supported');
  const K = pair(cx, A, 'kernel_shape', [0, 0]);
  if (!A.has('kernel_shape')) cx.fail('kernel_shape is required');
  if (pair(cx, A, 'dilations', [1, 1]).join() !== '1,1') cx.fail('dilated pooling is not supported');
  const stride = pair(cx, A, 'strides', [1, 1]);
  const [, C, H, W] = x.dims;
  const { OH, OW, pads } = window(cx, A, H, W, K, stride, A.int('ceil_mode', 0) === 1);
  if (op === 'AveragePool' && A.int('count_include_pad', 0) && pads.some((p) => p > 0))
    cx.fail('count_include_pad = 1 with padding is not supported (Graduate averages real cells only)');
  const out = cx.emit(
    { op: op === 'MaxPool' ? 'maxpool2d' : 'avgpool2d', inputs: [x.v], attrs: { kernel: K, stride, pads } },
    [-1, OH, OW, C],
  );
  return { kind: 'value', v: out, dims: [-1, C, OH, OW], layout: 'nchw' };
}
