// Pass `reshapes`: a reshape that keeps the last (channel) axis moves after the per-element,
// per-channel ops that read it — affine (batch norm), activations, elementwise math with [C]
// constants — so they meet the conv2d/linear before the reshape and `fold-bn` and `fuse` take them.
// A conv1d is a conv2d over [N, 1, T, C] viewed back as [N, T, C]: without this its batch norm and
// ReLU stay separate passes over the activations. Sound because element i has channel i mod C on
// both sides of such a reshape. Not for: transposes (transposes.ts) or reshapes that change C.
import { cloneGraph, consumers, type Graph, type Node, numel } from '../../graph/ir.js';
import { OPS } from '../../ops/registry.js';
import { freshName } from './graph-edit.js';

/** Whether `u` maps each element of its first input to the same place, reading only channel constants. */
function perElementPerChannel(g: Graph, u: Node, C: number, rank: number): boolean {
  const t = OPS[u.op].traits;
  if (!(t.elementwise || u.op === 'affine' || u.op === 'batchnorm') || (u.attrs as { residual?: string }).residual)
    return false;
  const x = g.values[u.inputs[0]];
  if (x?.shape.join() !== g.values[u.output]?.shape.join()) return false;
  return u.inputs.slice(1).every((v) => {
    const c = g.constants[v];
    const n = c ? numel(c.shape) : 0;
    return c !== undefined && c.shape.length <= rank && (n === 1 || (n === C && c.shape.at(-1) === C));
  });
}

/** The graph with channel-keeping reshapes sunk past the per-channel elementwise ops after them. */
export function sinkReshapes(g: Graph): Graph {
  const out = cloneGraph(g);
  for (let moved = true; moved; ) {
    moved = false;
    const readers = consumers(out);
    for (const r of out.nodes) {
      if (r.op !== 'reshape') continue;
      const src = out.values[r.inputs[0]];
      const dst = out.values[r.output];
      if (!src || !dst || src.shape.at(-1) !== dst.shape.at(-1) || out.outputs.includes(r.output)) continue;
      const users = readers.get(r.output) ?? [];
      const u = users[0];
      if (users.length !== 1 || u.inputs[0] !== r.output || u.inputs.slice(1).includes(r.output)) continue;
      if (!perElementPerChannel(out, u, src.shape.at(-1) as number, src.shape.length)) continue;
      // u: src → mid (src's shape); r: mid → u's old output (its shape and dtype unchanged)
      const mid = freshName(out, `${u.output}.unshaped`);
      out.values[mid] = { ...out.values[u.output], shape: [...src.shape] };
      delete out.values[r.output];
      u.inputs[0] = r.inputs[0];
      r.inputs = [mid];
      r.output = u.output;
      u.output = mid;
      // r now runs after u
      out.nodes.splice(out.nodes.indexOf(r), 1);
      out.nodes.splice(out.nodes.indexOf(u) + 1, 0, r);
      moved = true;
      break;
    }
  }
  return out;
}
