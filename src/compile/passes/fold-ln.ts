// Pass `fold-ln`: a layer norm's affine (gamma, beta) is folded into the linear layers that read
// its output, W'[k, j] = gamma[k]·W[k, j], b'[j] = b[j] + Σk beta[k]·W[k, j], and the layer norm
// keeps only its normalisation (gamma = 1, beta = 0, which the op skips). In a pre-norm encoder
// the norms feed the QKV projection and the FFN's first linear. What it is for: int8. The
// normalised rows have no per-channel outliers, so one activation scale fits them; gamma's spread
// moves into the weights, which are quantized per output channel anyway (and LN outputs were
// the activations with the widest ranges). Only where every reader is a float linear taking it as
// its input (not a residual) with weights of its own; a norm read by anything else (pooling,
// an add) keeps its affine.
import { cloneGraph, consumers, type Graph, type Node } from '../../graph/ir.js';
import { dropUnused, f32, freshName, useCounts } from './graph-edit.js';

type Linear = Extract<Node, { op: 'linear' }>;

/** The graph with every foldable layer-norm affine moved into the linears after it. */
export function foldLayerNorm(g: Graph): Graph {
  const out = cloneGraph(g);
  const readers = consumers(out);
  const uses = useCounts(out);
  for (const ln of out.nodes) {
    if (ln.op !== 'layernorm' || out.outputs.includes(ln.output)) continue;
    const [, gammaName, betaName] = ln.inputs;
    if (out.constants[gammaName]?.dtype !== 'float32' || out.constants[betaName]?.dtype !== 'float32') continue;
    const rs = readers.get(ln.output) ?? [];
    const foldable = (n: Node): n is Linear =>
      n.op === 'linear' &&
      !n.attrs.transB && // its weight rows are outputs, not the input channels folded here
      n.inputs[0] === ln.output &&
      n.attrs.residual !== ln.output &&
      out.constants[n.inputs[1]]?.dtype === 'float32' &&
      uses.get(n.inputs[1]) === 1 &&
      (n.inputs[2] === undefined || (out.constants[n.inputs[2]]?.dtype === 'float32' && uses.get(n.inputs[2]) === 1));
    if (rs.length === 0 || !rs.every(foldable)) continue;
    const gamma = f32(out, gammaName);
    const beta = f32(out, betaName);
    if (gamma.every((v) => v === 1) && beta.every((v) => v === 0)) continue;
    const C = gamma.length;
    for (const lin of rs as Linear[]) {
      const w = f32(out, lin.inputs[1]); // [C, N]
      const N = w.length / C;
      const b = new Float32Array(N);
      if (lin.inputs[2] !== undefined) b.set(f32(out, lin.inputs[2]));
      // the bias first: it reads the unscaled weights
      const bias = new Float64Array(b);
      for (let k = 0; k < C; k++) for (let j = 0; j < N; j++) bias[j] += beta[k] * w[k * N + j];
      const w2 = new Float32Array(w.length);
      for (let k = 0; k < C; k++) for (let j = 0; j < N; j++) w2[k * N + j] = gamma[k] * w[k * N + j];
      out.constants[lin.inputs[1]] = { ...out.constants[lin.inputs[1]], data: w2 };
      const biasName = lin.inputs[2] ?? freshName(out, `${lin.name}.bias`);
      out.constants[biasName] = { shape: [N], dtype: 'float32', data: Float32Array.from(bias) };
      lin.inputs = [lin.inputs[0], lin.inputs[1], biasName];
    }
    // fresh constants: the old ones may be read elsewhere (dropUnused removes them if not)
    const ones = freshName(out, `${ln.name}.gamma1`);
    out.constants[ones] = { shape: [C], dtype: 'float32', data: new Float32Array(C).fill(1) };
    const zeros = freshName(out, `${ln.name}.beta0`);
    out.constants[zeros] = { shape: [C], dtype: 'float32', data: new Float32Array(C) };
    ln.inputs = [ln.inputs[0], ones, zeros];
  }
  dropUnused(out);
  return out;
}
