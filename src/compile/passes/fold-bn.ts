// Pass `fold-bn`: an affine (a batchnorm after `eliminate`) right after a conv2d/linear is folded
// into that node's weights and bias: W'[…, c] = W[…, c]·scale[c], b'[c] = b[c]·scale[c] + shift[c].
// Only where the conv/linear output has no other reader and no epilogue yet (the affine must come
// before any activation or residual add for the algebra to hold).
import { cloneGraph, consumers, type Epilogue, type Graph, type Node } from '../../graph/ir.js';
import { isTransposedLinear } from '../../ops/matmul.js';
import { dropUnused, f32, freshName, useCounts } from './graph-edit.js';

function plainProducer(n: Node | undefined): n is Extract<Node, { op: 'conv2d' | 'linear' }> {
  // a transB linear's weight is [out, in]: the per-output-channel fold below does not apply
  if (!n || (n.op !== 'conv2d' && n.op !== 'linear') || isTransposedLinear(n)) return false;
  const ep: Epilogue = n.attrs;
  return ep.activation === 'none' && !ep.residual;
}

/** The graph with every foldable affine merged into the conv2d/linear before it (a zero bias is created if absent). */
export function foldBatchNorm(g: Graph): Graph {
  const out = cloneGraph(g);
  const readers = consumers(out);
  const uses = useCounts(out);
  const byOutput = new Map(out.nodes.map((n) => [n.output, n]));
  const removed = new Set<Node>();
  for (const aff of out.nodes) {
    if (aff.op !== 'affine') continue;
    const [x, scaleName, shiftName] = aff.inputs;
    const p = byOutput.get(x);
    if (!plainProducer(p) || readers.get(x)?.length !== 1 || out.outputs.includes(x)) continue;
    if (!out.constants[scaleName] || !out.constants[shiftName]) continue;
    // int8 weights (an imported quantized layer) keep their scales: the affine stays
    if (out.constants[p.inputs[1]]?.dtype !== 'float32') continue;
    const scale = f32(out, scaleName);
    const shift = f32(out, shiftName);
    const wName = p.inputs[1];
    const w = f32(out, wName);
    const C = scale.length;
    const wShape = out.constants[wName].shape;
    if (shift.length !== C || wShape[wShape.length - 1] !== C) continue;
    const folded = new Float32Array(w.length);
    for (let i = 0; i < w.length; i++) folded[i] = w[i] * scale[i % C];
    const bias = new Float32Array(C);
    const oldBias = p.inputs[2] ? f32(out, p.inputs[2]) : undefined;
    for (let c = 0; c < C; c++) bias[c] = (oldBias ? oldBias[c] : 0) * scale[c] + shift[c];
    // a constant shared with another node keeps its data for that node: the folded copy gets a new name
    const put = (name: string | undefined, base: string, data: Float32Array, shape: number[]) => {
      const own = name !== undefined && uses.get(name) === 1;
      const n = own ? name : freshName(out, base);
      out.constants[n] = { shape, dtype: 'float32', data };
      return n;
    };
    const newW = put(wName, `${p.name}.weight`, folded, [...wShape]);
    const newB = put(p.inputs[2], `${p.name}.bias`, bias, [C]);
    p.inputs = [p.inputs[0], newW, newB];
    delete out.values[p.output];
    p.output = aff.output;
    byOutput.set(p.output, p); // a second affine after this one may fold too
    removed.add(aff);
  }
  out.nodes = out.nodes.filter((n) => !removed.has(n));
  dropUnused(out);
  return out;
}
