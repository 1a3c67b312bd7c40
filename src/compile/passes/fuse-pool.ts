// Pass `fuse-pool` (int8 graphs, after quantization): an int8 conv2d whose only reader is a 2×2 /
// stride-2 unpadded max pool (int8 in and out, the same quantization) becomes one conv2d with
// attrs.pool 'max2x2' writing the pool's output: the backend's int8 convolution pools the tile
// while it is in cache (exact: max commutes with the monotone requantization). The pool's node
// and the conv's own output value go; memory is then planned on the fused graph.
import { cloneGraph, consumers, type Graph, type Node } from '../../graph/ir.js';
import { dropUnused } from './graph-edit.js';

/** The graph with each int8 conv2d → 2×2 max pool pair fused (see the file header). */
export function fuseConvPool(g: Graph): Graph {
  const out = cloneGraph(g);
  const readers = consumers(out);
  const drop = new Set<Node>();
  for (const n of out.nodes) {
    if (n.op !== 'conv2d' || n.attrs.pool) continue;
    if (out.constants[n.inputs[1]]?.dtype !== 'int8' || out.values[n.output].dtype !== 'int8') continue;
    const r = readers.get(n.output) ?? [];
    const p = r[0];
    if (r.length !== 1 || p.op !== 'maxpool2d' || out.outputs.includes(n.output)) continue;
    const a = p.attrs;
    const twoByTwo = a.kernel[0] === 2 && a.kernel[1] === 2 && a.stride[0] === 2 && a.stride[1] === 2;
    if (!twoByTwo || a.pads.some((x) => x !== 0) || out.values[p.output].dtype !== 'int8') continue;
    // the fused kernel requantizes to the conv's output parameters: the pool's must be the same
    const [qc, qp] = [out.values[n.output].quant, out.values[p.output].quant];
    if (qc?.scale[0] !== qp?.scale[0] || qc?.zeroPoint[0] !== qp?.zeroPoint[0]) continue;
    drop.add(p);
    delete out.values[n.output];
    n.output = p.output;
    n.attrs.pool = 'max2x2';
  }
  if (drop.size === 0) return g;
  out.nodes = out.nodes.filter((n) => !drop.has(n));
  dropUnused(out);
  return out;
}
