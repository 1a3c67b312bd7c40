// Pass `fuse`: conv2d/linear followed by a residual `add` and/or an activation becomes one node
// whose GEMM epilogue does the work while the tile is still in registers:
// y = act(x·W + b + r). The add is fused first (the epilogue adds the residual before the
// activation); softmax never fuses (it reads a whole row).
import { cloneGraph, consumers, type Graph, type Node } from '../../graph/ir.js';
import { EPILOGUE_UNARY, IR_ACTIVATION } from '../../ops/rules.js';
import { dropUnused } from './graph-edit.js';

type Producer = Extract<Node, { op: 'conv2d' | 'linear' }>;

/** The graph with residual adds and activations folded into the epilogue of the conv2d/linear before them. */
export function fuseEpilogues(g: Graph): Graph {
  const out = cloneGraph(g);
  // the fused node takes the place of the last node it absorbs: by then the residual is computed
  const replaced = new Map<Node, Producer>();
  const absorbed = new Set<Node>();
  const soleReader = (v: string): Node | undefined => {
    const r = consumers({ ...out, nodes: out.nodes.filter((n) => !absorbed.has(n)) }).get(v);
    return r?.length === 1 && !out.outputs.includes(v) ? r[0] : undefined;
  };
  for (const n of out.nodes) {
    if (n.op !== 'conv2d' && n.op !== 'linear') continue;
    const p: Producer = n;
    if (p.attrs.activation !== 'none' || p.attrs.residual) continue;
    let at: Node = p;
    // int8 layers (imported quantized models) have no residual epilogue and only a ReLU one
    const int8 = out.constants[p.inputs[1]]?.dtype === 'int8';
    const add = soleReader(p.output);
    if (!int8 && add?.op === 'add' && add.inputs[0] !== add.inputs[1]) {
      const other = add.inputs[0] === p.output ? add.inputs[1] : add.inputs[0];
      const same = out.values[other]?.shape.join() === out.values[p.output].shape.join();
      if (same && !out.constants[other]) {
        p.attrs.residual = other;
        delete out.values[p.output];
        p.output = add.output;
        absorbed.add(add);
        at = add;
      }
    }
    const act = soleReader(p.output);
    if (act?.op === 'unary' && EPILOGUE_UNARY.has(act.attrs.fn) && (!int8 || act.attrs.fn === 'relu')) {
      p.attrs.activation = IR_ACTIVATION[act.attrs.fn as keyof typeof IR_ACTIVATION];
      if (act.attrs.alpha !== undefined) p.attrs.alpha = act.attrs.alpha;
      delete out.values[p.output];
      p.output = act.output;
      absorbed.add(act);
      at = act;
    }
    if (at !== p) replaced.set(at, p);
  }
  const moved = new Set<Node>(replaced.values());
  out.nodes = out.nodes.flatMap((n) => {
    const fused = replaced.get(n);
    if (fused) return [fused];
    return absorbed.has(n) || moved.has(n) ? [] : [n];
  });
  dropUnused(out);
  return out;
}
