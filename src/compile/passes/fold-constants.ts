// Pass `fold-constants`: a node whose inputs are all constants (affine, add, activation, flatten,
// dropout) is computed here, once, and its output becomes a constant. Shapes of such values have
// no batch dimension: the result keeps the first input's shape (flatten: [d0, d1·d2·…]).
// Activations compute like the kernels (GELU: tanh approximation) in float64, stored as float32.
import { ValueError } from '../../errors.js';
import { cloneGraph, type Graph, type Node } from '../../graph/ir.js';
import { geluTanh } from '../../graph/scalar.js';
import { dropUnused, f32, nodeUses } from './graph-edit.js';

type ActFn = Extract<Node, { op: 'activation' }>['attrs']['fn'];

/** fn applied elementwise (softmax: over the last axis of length `last`). */
export function activate(fn: ActFn, x: Float32Array, last: number, alpha = 0.01): Float32Array {
  const y = new Float32Array(x.length);
  if (fn === 'softmax') {
    for (let r = 0; r < x.length; r += last) {
      let m = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < last; j++) m = Math.max(m, x[r + j]);
      let s = 0;
      for (let j = 0; j < last; j++) s += Math.exp(x[r + j] - m);
      for (let j = 0; j < last; j++) y[r + j] = Math.exp(x[r + j] - m) / s;
    }
    return y;
  }
  const f: Record<Exclude<ActFn, 'softmax'>, (v: number) => number> = {
    relu: (v) => Math.max(v, 0),
    leakyrelu: (v) => (v > 0 ? v : v * alpha),
    sigmoid: (v) => 1 / (1 + Math.exp(-v)),
    tanh: Math.tanh,
    gelu: geluTanh,
  };
  const op = f[fn];
  for (let i = 0; i < x.length; i++) y[i] = op(x[i]);
  return y;
}

/** The value of node `n` from constant inputs, or undefined for ops this pass does not evaluate. */
function evaluate(g: Graph, n: Node): { shape: number[]; data: Float32Array } | undefined {
  const shape = g.constants[n.inputs[0]].shape;
  const x = f32(g, n.inputs[0]);
  const last = shape[shape.length - 1] ?? 1;
  switch (n.op) {
    case 'affine': {
      const [s, t] = [f32(g, n.inputs[1]), f32(g, n.inputs[2])];
      return { shape: [...shape], data: x.map((v, i) => v * s[i % last] + t[i % last]) };
    }
    case 'add': {
      const y = f32(g, n.inputs[1]);
      if (y.length !== x.length)
        throw new ValueError(`fold-constants: node '${n.name}' adds ${x.length} to ${y.length} values`);
      return { shape: [...shape], data: x.map((v, i) => v + y[i]) };
    }
    case 'activation':
      return { shape: [...shape], data: activate(n.attrs.fn, x, last, n.attrs.alpha) };
    case 'flatten':
      return { shape: shape.length ? [shape[0], x.length / shape[0]] : [1], data: x.slice() };
    case 'dropout':
      return { shape: [...shape], data: x.slice() };
    default:
      return undefined;
  }
}

/** The graph with every all-constant affine/add/activation/flatten/dropout node replaced by its result. */
export function foldConstants(g: Graph): Graph {
  const out = cloneGraph(g);
  out.nodes = out.nodes.filter((n) => {
    const ins = nodeUses(n);
    if (!ins.length || out.outputs.includes(n.output)) return true;
    if (!ins.every((v) => out.constants[v]?.dtype === 'float32')) return true;
    const r = evaluate(out, n);
    if (!r) return true;
    out.constants[n.output] = { shape: r.shape, dtype: 'float32', data: r.data };
    delete out.values[n.output];
    return false;
  });
  dropUnused(out);
  return out;
}
