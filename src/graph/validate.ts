// Structural validation of a graph (from a file or a pass): known ops, every input defined before
// use, shapes of weights consistent with the values they meet. Errors name the node and the field.
import { FormatError } from '../errors.js';
import type { Graph, Node } from './ir.js';

const OPS = new Set<Node['op']>([
  'conv2d',
  'linear',
  'batchnorm',
  'affine',
  'activation',
  'add',
  'maxpool2d',
  'avgpool2d',
  'globalavgpool',
  'flatten',
  'dropout',
  'embeddingbag',
  'quantize',
  'dequantize',
]);

export function validateGraph(g: Graph, source = '<graph>'): void {
  const bad = (msg: string): never => {
    throw new FormatError(`${source}: ${msg}`);
  };
  if (!Array.isArray(g.inputs) || !Array.isArray(g.outputs) || !Array.isArray(g.nodes) || typeof g.values !== 'object')
    bad('graph lacks inputs/outputs/nodes/values');
  const defined = new Set<string>([...g.inputs, ...Object.keys(g.constants)]);
  for (const i of g.inputs) if (!g.values[i]) bad(`input '${i}' has no value entry`);
  for (const [i, n] of g.nodes.entries()) {
    const where = `node ${i} ('${n?.name}')`;
    if (!OPS.has(n?.op)) bad(`${where}: unknown op ${JSON.stringify(n?.op)} (supported: ${[...OPS].join(', ')})`);
    if (!Array.isArray(n.inputs) || typeof n.output !== 'string' || typeof n.attrs !== 'object')
      bad(`${where}: malformed node`);
    const res = (n.attrs as { residual?: string }).residual;
    for (const v of res ? [...n.inputs, res] : n.inputs)
      if (!defined.has(v)) bad(`${where}: input '${v}' is not defined before use`);
    const out = g.values[n.output];
    if (!out || !Array.isArray(out.shape)) bad(`${where}: output '${n.output}' has no value entry`);
    if (defined.has(n.output)) bad(`${where}: output '${n.output}' is defined twice`);
    if (n.op === 'conv2d' || n.op === 'linear') {
      const w = g.constants[n.inputs[1]];
      if (!w) bad(`${where}: weight '${n.inputs[1]}' must be a constant`);
      const rank = n.op === 'conv2d' ? 4 : 2;
      if (w.shape.length !== rank)
        bad(`${where}: weight '${n.inputs[1]}' has shape [${w.shape.join(', ')}], expected rank ${rank}`);
      const x = g.values[n.inputs[0]];
      const cin = x?.shape[x.shape.length - 1];
      if (cin !== w.shape[rank - 2])
        bad(
          `${where}: input '${n.inputs[0]}' has ${cin} channels, weight '${n.inputs[1]}' expects ${w.shape[rank - 2]}`,
        );
      const cout = w.shape[rank - 1];
      if (out.shape[out.shape.length - 1] !== cout)
        bad(`${where}: output '${n.output}' has ${out.shape[out.shape.length - 1]} channels, weight gives ${cout}`);
      const bias = n.inputs[2] && g.constants[n.inputs[2]];
      if (n.inputs[2] && (!bias || bias.data.length !== cout))
        bad(`${where}: bias '${n.inputs[2]}' must be a constant of ${cout} values`);
    }
    defined.add(n.output);
  }
  for (const o of g.outputs) if (!defined.has(o)) bad(`output '${o}' is not produced by any node`);
}
