// Pass `eliminate`: removes what only training needs. Dropout disappears (its readers read its
// input); batchnorm becomes an `affine` with scale = γ/√(var+ε), shift = β − mean·scale, computed
// once here instead of at every inference. Not for folding into weights: that is fold-bn.
import { cloneGraph, type Graph, type Node } from '../../graph/ir.js';
import { dropUnused, f32, freshName, replaceUses } from './graph-edit.js';

/** The graph without dropout and with every batchnorm as an affine (`${bn}.scale`, `${bn}.shift`: [C]). */
export function eliminateTrainingOps(g: Graph): Graph {
  const out = cloneGraph(g);
  const nodes: Node[] = [];
  for (const n of out.nodes) {
    if (n.op === 'dropout') {
      replaceUses(out, n.output, n.inputs[0]);
      continue;
    }
    if (n.op === 'batchnorm') {
      const [x, gamma, beta, mean, variance] = n.inputs;
      const [ga, be, mu, va] = [gamma, beta, mean, variance].map((c) => f32(out, c));
      const C = ga.length;
      const scale = new Float32Array(C);
      const shift = new Float32Array(C);
      for (let c = 0; c < C; c++) {
        scale[c] = ga[c] / Math.sqrt(va[c] + n.attrs.eps);
        shift[c] = be[c] - mu[c] * scale[c];
      }
      const sName = freshName(out, `${n.name}.scale`);
      out.constants[sName] = { shape: [C], dtype: 'float32', data: scale };
      const tName = freshName(out, `${n.name}.shift`);
      out.constants[tName] = { shape: [C], dtype: 'float32', data: shift };
      nodes.push({ name: n.name, op: 'affine', inputs: [x, sName, tName], output: n.output, attrs: {} });
      continue;
    }
    nodes.push(n);
  }
  out.nodes = nodes;
  dropUnused(out);
  return out;
}
