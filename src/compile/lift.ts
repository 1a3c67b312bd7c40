// Lifting a (pruned) graph back into a trainable model, for fine-tuning after pruning: each node
// of a sequential graph becomes a layer spec, its constants the layer's weights. Graphs with
// branches (residual adds) or unfused affines are not liftable; the error says which node.
import { ValueError } from '../errors.js';
import type { Graph } from '../graph/ir.js';
import { buildModel } from '../nn/build.js';
import type { Sequential } from '../nn/layers.js';
import type { LayerSpec, ModelSpec } from '../nn/spec.js';
import { write } from '../tensor/tensor.js';

/** A model with the graph's architecture and weights (training mode). */
export function liftGraph(g: Graph): { model: Sequential; spec: ModelSpec } {
  const layers: LayerSpec[] = [];
  const weights: Float32Array[] = [];
  let cur = g.inputs[0];
  for (const n of g.nodes) {
    if (n.inputs[0] !== cur)
      throw new ValueError(
        `fine-tuning needs a sequential graph: node '${n.name}' does not consume the previous node's output`,
      );
    const a = n.attrs as { activation?: string; residual?: string; alpha?: number };
    if (a.residual) throw new ValueError(`fine-tuning does not support the residual epilogue of node '${n.name}'`);
    switch (n.op) {
      case 'conv2d':
      case 'linear': {
        const w = g.constants[n.inputs[1]];
        const b = n.inputs[2] ? g.constants[n.inputs[2]] : undefined;
        if (w.dtype !== 'float32')
          throw new ValueError(`fine-tuning needs float32 weights; node '${n.name}' has ${w.dtype}`);
        const out = w.shape[w.shape.length - 1];
        if (n.op === 'conv2d') {
          const at = n.attrs;
          layers.push({
            type: 'conv2d',
            out,
            kernel: [w.shape[0], w.shape[1]],
            stride: at.stride,
            padding: at.pads,
            bias: !!b,
          });
        } else {
          layers.push({ type: 'linear', out, bias: !!b });
        }
        weights.push(w.data as Float32Array);
        if (b) weights.push(b.data as Float32Array);
        if (a.activation && a.activation !== 'none')
          layers.push(
            a.activation === 'leakyrelu' ? { type: 'leakyrelu', alpha: a.alpha } : { type: a.activation as 'relu' },
          );
        break;
      }
      case 'unary': {
        const fn = n.attrs.fn;
        if (fn === 'leakyRelu') layers.push({ type: 'leakyrelu', alpha: n.attrs.alpha });
        else if (fn === 'relu' || fn === 'sigmoid' || fn === 'tanh' || fn === 'gelu') layers.push({ type: fn });
        else throw new ValueError(`fine-tuning cannot lift node '${n.name}' (${fn}): no layer computes it`);
        break;
      }
      case 'softmax':
        if ((n.attrs.axis ?? -1) !== -1 || n.attrs.log)
          throw new ValueError(`fine-tuning cannot lift node '${n.name}' (softmax over axis ${n.attrs.axis})`);
        layers.push({ type: 'softmax' });
        break;
      case 'maxpool2d':
      case 'avgpool2d':
        layers.push({ type: n.op, kernel: n.attrs.kernel, stride: n.attrs.stride, padding: n.attrs.pads });
        break;
      case 'globalavgpool':
      case 'flatten':
        layers.push({ type: n.op });
        break;
      case 'dropout':
        break;
      default:
        throw new ValueError(`fine-tuning cannot lift node '${n.name}' (${n.op}); run eliminate and fold-bn first`);
    }
    cur = n.output;
  }
  const spec: ModelSpec = { inputShape: g.values[g.inputs[0]].shape.slice(1), layers };
  const { model } = buildModel(spec);
  const params = model.parameters();
  if (params.length !== weights.length)
    throw new ValueError(`liftGraph: ${params.length} parameters for ${weights.length} constants`);
  for (const [i, p] of params.entries()) write(p, weights[i]);
  return { model, spec };
}
