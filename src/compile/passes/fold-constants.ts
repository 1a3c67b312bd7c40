// Pass `fold-constants`: a node whose inputs are all float constants is computed here, once, by
// its op's own forward on the plain-TypeScript reference backend, and its output becomes a
// constant. Any op of the registry folds; ops that only graphs can run (quantize, …) stay.
// Constants have no batch dimension: the result's shape is the op's shape rule over theirs.
import { ReferenceBackend } from '../../backend/reference.js';
import { cloneGraph, floatData, type Graph, type Node, numel } from '../../graph/ir.js';
import { inferNode } from '../../graph/validate.js';
import type { Arg, Info, OpDef } from '../../ops/op.js';
import { OPS } from '../../ops/registry.js';
import { dropUnused, nodeUses } from './graph-edit.js';

let reference: ReferenceBackend | undefined;

/** The value of node `n` from constant inputs, or undefined when its op does not evaluate them. */
function evaluate(g: Graph, n: Node): { shape: number[]; data: Float32Array } | undefined {
  const def = OPS[n.op] as OpDef<unknown>;
  const consts = n.inputs.map((v) => g.constants[v]);
  let out: Info;
  try {
    out = inferNode(g, n);
  } catch {
    return undefined; // the validator reports a shape error with the node's name
  }
  if (out.dtype !== 'float32') return undefined;
  if (def.traits.view) return { shape: [...out.shape], data: floatData(consts[0]).slice() };
  reference ??= new ReferenceBackend();
  const b = reference;
  const owned: number[] = [];
  const arg = (shape: readonly number[], data?: Float32Array): Arg => {
    const buf = b.alloc(Math.max(4, numel(shape) * 4));
    owned.push(buf);
    if (data) b.write(buf, 'float32', data);
    return { buf, shape, dtype: 'float32' };
  };
  try {
    const ins = consts.map((c) => arg(c.shape, floatData(c)));
    const y = arg(out.shape);
    def.forward({ backend: b, temp: (s) => arg(s) }, ins, y, n.attrs);
    return {
      shape: [...out.shape],
      data: b.read(y.buf, 'float32', numel(out.shape)) as Float32Array,
    };
  } catch {
    return undefined;
  } finally {
    for (const p of owned) b.free(p);
  }
}

/** The graph with every node whose inputs are all float constants replaced by its result. */
export function foldConstants(g: Graph): Graph {
  const out = cloneGraph(g);
  out.nodes = out.nodes.filter((n) => {
    const ins = nodeUses(n);
    if (!ins.length || out.outputs.includes(n.output)) return true;
    if (!ins.every((v) => out.constants[v]?.dtype === 'float32' || out.constants[v]?.dtype === 'float16')) return true;
    const r = evaluate(out, n);
    if (!r) return true;
    out.constants[n.output] = { shape: r.shape, dtype: 'float32', data: r.data };
    delete out.values[n.output];
    return false;
  });
  dropUnused(out);
  return out;
}
