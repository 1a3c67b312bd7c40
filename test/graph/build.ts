// Small graphs for tests: x [-1, ...input] → nodes (each output y0, y1, …), shapes and dtypes from
// the op rules (graph/validate.ts inferNode), the last node's output the graph's.
import type { Graph, Node } from '../../src/graph/ir.js';
import { inferNode } from '../../src/graph/validate.js';

export type Const = Graph['constants'][string];

/** A float32 constant of `shape` with values f(i). */
export const fconst = (shape: number[], f: (i: number) => number): Const => ({
  shape,
  dtype: 'float32',
  data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => f(i)),
});

/** A graph x → nodes → the last node's output, shapes inferred by the op rules. */
export function graph(
  input: number[],
  nodes: Omit<Node, 'output'>[],
  constants: Graph['constants'] = {},
  dtype: 'float32' | 'int32' = 'float32',
  producer = 'test',
): Graph {
  return namedGraph({ x: { shape: [-1, ...input], dtype } }, nodes, constants, {
    classNames: [],
    input: { kind: 'tabular', shape: input },
    producer,
  });
}

/**
 * A graph over named inputs (batched or fixed shapes) → nodes, outputs y0, y1, … with shapes from
 * the op rules; the last node's output is the graph's. meta: named tensors unless given.
 */
export function namedGraph(
  inputs: Graph['values'],
  nodes: Omit<Node, 'output'>[],
  constants: Graph['constants'] = {},
  meta: Graph['meta'] = { classNames: [], input: { kind: 'tensor', shape: [] }, producer: 'test' },
): Graph {
  const g: Graph = { inputs: Object.keys(inputs), outputs: [], values: { ...inputs }, constants, nodes: [], meta };
  nodes.forEach((n, i) => {
    const node = { ...n, output: `y${i}` } as Node;
    const info = inferNode(g, node);
    g.values[node.output] = { shape: [...info.shape], dtype: info.dtype };
    g.nodes.push(node);
  });
  g.outputs = [`y${nodes.length - 1}`];
  return g;
}
