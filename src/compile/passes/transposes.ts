// Pass `transposes`: the layout is the compiler's choice, not the importer's. A graph read with
// ONNX's axis order wraps each NCHW convolution and pool in transposes to the NHWC kernels
// (onnx/import/general-ops.ts); this pass moves transposes down through elementwise ops (the
// registry's `elementwise` trait: activations, arithmetic, casts) and removes pairs that undo each
// other, so a chain conv → ReLU → conv stays NHWC between its kernels and transposes remain only
// where the layout really changes (the graph's inputs and outputs, reshapes, reductions).
// An elementwise node moves below transposes when every value input is the output of a transpose
// with the same permutation that nothing else reads, and every constant input is a scalar.
import { cloneGraph, type Graph, type Node, type NodeOf } from '../../graph/ir.js';
import { OPS } from '../../ops/registry.js';
import { dropUnused, freshName, replaceUses, useCounts } from './graph-edit.js';

const isIdentity = (p: readonly number[]) => p.every((v, i) => v === i);

/** The graph with transposes sunk through elementwise ops and inverse pairs removed. */
export function sinkTransposes(g: Graph): Graph {
  const out = cloneGraph(g);
  for (let changed = true; changed; ) {
    changed = cancelPairs(out) || sinkOne(out);
  }
  dropUnused(out);
  return out;
}

/** `base`, or `base.1`, … : a name no node has. */
function uniqueNodeName(g: Graph, base: string): string {
  const names = new Set(g.nodes.map((n) => n.name));
  let name = base;
  for (let i = 1; names.has(name); i++) name = `${base}.${i}`;
  return name;
}

/** Producer of each value. */
const producerOf = (g: Graph) => new Map(g.nodes.map((n) => [n.output, n]));

/** transpose(q) of transpose(p) with q ∘ p = identity: the second reads the first's input. */
function cancelPairs(g: Graph): boolean {
  const prod = producerOf(g);
  const uses = useCounts(g);
  for (const b of g.nodes) {
    if (b.op !== 'transpose') continue;
    const a = prod.get(b.inputs[0]);
    if (a?.op !== 'transpose') continue;
    const p = a.attrs.perm;
    const q = b.attrs.perm;
    const composed = q.map((i) => p[i]);
    if (!isIdentity(composed)) continue;
    if (g.outputs.includes(b.output) && g.inputs.includes(a.inputs[0])) continue; // an output may not be an input
    if (g.outputs.includes(b.output)) continue; // keep the output's name: leave it
    replaceUses(g, b.output, a.inputs[0]);
    g.nodes = g.nodes.filter((n) => n !== b && (n !== a || (uses.get(a.output) ?? 0) > 1));
    return true;
  }
  return false;
}

/** One elementwise node moved below the transposes feeding it. */
function sinkOne(g: Graph): boolean {
  const prod = producerOf(g);
  const uses = useCounts(g);
  for (const [i, n] of g.nodes.entries()) {
    if (OPS[n.op].traits.elementwise !== true) continue;
    const feeds = n.inputs.map((v) => (Object.hasOwn(g.constants, v) ? undefined : prod.get(v)));
    const first = feeds.find((f) => f !== undefined);
    if (first?.op !== 'transpose') continue;
    const perm = first.attrs.perm;
    const ok = n.inputs.every((v, k) => {
      if (Object.hasOwn(g.constants, v)) return g.constants[v].data.length === 1 && g.constants[v].shape.length === 0;
      const f = feeds[k];
      return (
        f?.op === 'transpose' &&
        f.attrs.perm.join() === perm.join() &&
        (uses.get(f.output) ?? 0) === 1 &&
        !g.outputs.includes(f.output)
      );
    });
    if (!ok) continue;
    // n over the untransposed inputs, then one transpose to n's output
    // n's output in the untransposed order (broadcast, so from the output, not from an operand)
    const inner = freshName(g, `${n.output}/nhwc`);
    const outShape = g.values[n.output].shape;
    const innerShape = new Array<number>(perm.length);
    perm.forEach((p, i) => {
      innerShape[p] = outShape[i];
    });
    g.values[inner] = { shape: innerShape, dtype: g.values[n.output].dtype };
    const moved = {
      ...n,
      inputs: n.inputs.map((v, k) => (feeds[k] ? (feeds[k] as Node).inputs[0] : v)),
      output: inner,
    } as Node;
    const t: NodeOf<'transpose'> = {
      name: uniqueNodeName(g, `${n.name}/transpose`),
      op: 'transpose',
      inputs: [inner],
      output: n.output,
      attrs: { perm: [...perm] },
    };
    const dead = new Set(feeds.filter((f): f is Node => f !== undefined));
    g.nodes = [...g.nodes.slice(0, i), moved, t, ...g.nodes.slice(i + 1)].filter((m) => !dead.has(m));
    return true;
  }
  return false;
}
