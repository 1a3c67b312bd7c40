// ONNX export of `rnnscan` (one GRU or LSTM direction, ops/recurrent.ts): an ONNX GRU
// (linear_before_reset = 1, PyTorch's and ours) or LSTM node. The gate orders already are ONNX's
// (GRU z, r, n; LSTM i, o, f, c), so the weights only transpose: Graduate's [in, G·H] becomes
// ONNX's [1, G·H, in]. The scan's input is the x-projection of every step (x·Wx + bx, the `linear`
// nn/sequence.ts puts before it); when that linear has no epilogue it is folded back into the
// node's W and Wb, so the ONNX graph holds the layer as PyTorch writes it (the exporter then drops
// the linear's own nodes when nothing else reads them). Otherwise W is the identity over the
// projected input. int8 weights (the folded projection of an int8 graph, or an int8 recurrent
// weight) stay int8 behind a per-channel DequantizeLinear. A bidirectional layer is two nodes
// (direction forward and reverse) and the Concat its graph already has.
// Opset 13's GRU/LSTM are sequence-major: X [T, N, C] in, Y [T, 1, N, H] out, transposed around.
// Not for: the `recurrent` op (ONNX's own RNN/GRU/LSTM as imported), which has no export yet.
import { ValueError } from '../errors.js';
import type { NodeView, OnnxCtx } from './op.js';
import type { RecurrentAttrs } from './recurrent.js';

/** Epilogue attributes of a linear, as far as folding asks. */
interface LinearAttrs {
  activation?: string;
  residual?: string;
  transB?: boolean;
}

/** The linear that computes `xw` when its weights and bias can become the node's W and Wb. */
function foldableProjection(o: OnnxCtx, xw: string) {
  const p = o.producer(xw);
  if (p?.op !== 'linear') return undefined;
  const a = p.attrs as LinearAttrs;
  // a transB linear's weight is already [out, in]: not the [K, G·H] weightIn turns
  const plain = (a.activation ?? 'none') === 'none' && !a.residual && !a.transB;
  const ok =
    plain && o.isConstant(p.inputs[1]) && !o.isConstant(p.inputs[0]) && o.value(p.inputs[0]).shape.length === 3;
  return ok ? p : undefined;
}

/**
 * A weight constant [K, G·H] (Graduate: in × out) as ONNX's [1, G·H, K]: a float initializer, or
 * int8 stored as uint8 around 128 (see matmul.ts exportWeighted) behind DequantizeLinear.
 */
function weightIn(o: OnnxCtx, name: string, at: string): string {
  if (!o.isConstant(name))
    throw new ValueError(`exportOnnx: rnnscan '${at}' reads weight '${name}' that is not a constant`);
  const c = o.constant(name);
  const [K, GH] = c.shape;
  const dims = [1, GH, K];
  const transposed = <T extends Float32Array | Uint8Array>(src: ArrayLike<number>, out: T, shift = 0): T => {
    for (let k = 0; k < K; k++) for (let j = 0; j < GH; j++) out[j * K + k] = src[k * GH + j] + shift;
    return out;
  };
  if (c.dtype !== 'int8') return o.tensor(name, dims, transposed(o.floatData(name), new Float32Array(K * GH)));
  const scale = c.quant?.scale;
  if (!scale || (scale.length !== GH && scale.length !== 1))
    throw new ValueError(`exportOnnx: int8 weight '${name}' of '${at}' lacks per-channel scales [${GH}] or one scale`);
  const zero = c.quant?.zeroPoint ?? [];
  const perChannel = scale.length === GH;
  const q = o.tensor(`${name}/uint8`, dims, transposed(c.data as Int8Array, new Uint8Array(K * GH), 128), o.DT.UINT8);
  const zp = Uint8Array.from(scale, (_, j) => 128 + (zero[j] ?? 0));
  return o.node(
    'DequantizeLinear',
    [
      q,
      o.tensor(`${name}/scale`, perChannel ? [GH] : [], scale),
      o.tensor(`${name}/zero_point`, perChannel ? [GH] : [], zp, o.DT.UINT8),
    ],
    at,
    perChannel ? [{ name: 'axis', i: 1 }] : [],
  );
}

/** rnnscan → ONNX GRU or LSTM (see the file header). */
export function rnnscanOnnx(o: OnnxCtx, n: NodeView<RecurrentAttrs['rnnscan']>): void {
  const at = n.name;
  const { cell, hidden: H, reverse } = n.attrs;
  const [xw, wh, bh] = n.inputs;
  const GH = o.value(xw).shape[2];
  const proj = foldableProjection(o, xw);
  const x = proj ? proj.inputs[0] : xw;
  const X = o.node('Transpose', [o.float(x, at)], at, [{ name: 'perm', ints: [1, 0, 2] }]);
  let W: string;
  if (proj) W = weightIn(o, proj.inputs[1], at);
  else {
    const eye = new Float32Array(GH * GH);
    for (let j = 0; j < GH; j++) eye[j * GH + j] = 1;
    W = o.tensor(`${at}/W`, [1, GH, GH], eye);
  }
  const R = weightIn(o, wh, at);
  // B = [Wb, Rb]: the projection's bias and the recurrent bias (GRU's n-gate term inside r ⊙ ·)
  const B = new Float32Array(2 * GH);
  if (proj?.inputs[2]) B.set(o.floatData(proj.inputs[2]));
  if (bh) B.set(o.floatData(bh), GH);
  const attrs = [
    { name: 'hidden_size', i: H },
    { name: 'direction', s: reverse ? 'reverse' : 'forward' },
    ...(cell === 'gru' ? [{ name: 'linear_before_reset', i: 1 }] : []),
  ];
  const Y = o.node(cell === 'gru' ? 'GRU' : 'LSTM', [X, W, R, o.tensor(`${at}/B`, [1, 2 * GH], B)], at, attrs);
  // Y [T, 1, N, H] → [N, T, H]
  const y = o.node('Squeeze', [Y, o.ints(`${at}/axes`, [1])], at);
  o.bind(n.output, o.node('Transpose', [y], at, [{ name: 'perm', ints: [1, 0, 2] }]), at);
}
