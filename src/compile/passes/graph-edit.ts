// Small graph-editing helpers shared by the passes and pruning: rewiring uses of a value, counting
// uses of a name, fresh names, dropping what no node uses. They edit the graph they are given: call
// them on a cloneGraph() copy, never on a pass's input.
import { ValueError } from '../../errors.js';
import type { Epilogue, Graph, Node } from '../../graph/ir.js';

/** Every name a node reads: its inputs and its fused residual. */
export function nodeUses(n: Node): string[] {
  const res = (n.attrs as Partial<Epilogue>).residual;
  return res ? [...n.inputs, res] : n.inputs;
}

/** Makes every reader of `from` (node inputs, residuals, graph outputs) read `to` instead. */
export function replaceUses(g: Graph, from: string, to: string): void {
  for (const n of g.nodes) {
    n.inputs = n.inputs.map((v) => (v === from ? to : v));
    const attrs = n.attrs as Partial<Epilogue>;
    if (attrs.residual === from) attrs.residual = to;
  }
  g.outputs = g.outputs.map((v) => (v === from ? to : v));
}

/** How many node slots read each name (a node reading a name twice counts twice). */
export function useCounts(g: Graph): Map<string, number> {
  const m = new Map<string, number>();
  for (const n of g.nodes) for (const v of nodeUses(n)) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

/** `base`, or `base.1`, `base.2`, … : the first name that is neither a value nor a constant. */
export function freshName(g: Graph, base: string): string {
  let name = base;
  for (let i = 1; g.values[name] || g.constants[name]; i++) name = `${base}.${i}`;
  return name;
}

/** Removes constants no node reads and values that are neither graph inputs, outputs nor node outputs. */
export function dropUnused(g: Graph): void {
  const used = new Set(g.nodes.flatMap(nodeUses));
  for (const name of Object.keys(g.constants)) if (!used.has(name)) delete g.constants[name];
  const live = new Set([...g.inputs, ...g.outputs, ...g.nodes.map((n) => n.output)]);
  for (const name of Object.keys(g.values)) if (!live.has(name)) delete g.values[name];
}

/** The float32 data of a constant (passes that compute on weights work on float32 only). */
export function f32(g: Graph, name: string): Float32Array {
  const c = g.constants[name];
  if (!(c.data instanceof Float32Array)) throw new ValueError(`constant '${name}' is ${c.dtype}, expected float32`);
  return c.data;
}
