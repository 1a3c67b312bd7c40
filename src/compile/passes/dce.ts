// Pass `dce`: removes nodes whose output no graph output depends on, then the constants and values
// nothing reads any more. Graph inputs are kept even when unused (they are the graph's signature).
import { cloneGraph, type Graph } from '../../graph/ir.js';
import { dropUnused, nodeUses } from './graph-edit.js';

/** The graph without nodes unreachable (backwards) from its outputs, unused constants and values. */
export function eliminateDeadCode(g: Graph): Graph {
  const out = cloneGraph(g);
  const live = new Set(out.outputs);
  const kept = [...out.nodes].reverse().filter((n) => {
    if (!live.has(n.output)) return false;
    for (const v of nodeUses(n)) live.add(v);
    return true;
  });
  out.nodes = kept.reverse();
  dropUnused(out);
  return out;
}
