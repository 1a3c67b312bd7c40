// Static memory plan: every intermediate value gets an offset in one arena, reusing space of
// values whose lifetimes do not overlap (greedy by size, first fit). Views (reshape, flatten, dropout)
// share their input's buffer. Computed once per session for its tile, by validation for one
// sample (does the graph fit the engine's memory?) and by `graduate inspect`.
import { OPS } from '../ops/registry.js';
import { type Graph, numel, type OpName } from './ir.js';

const BYTES = { float32: 4, int8: 1, int32: 4 } as const;
const ALIGN = 64;

export interface MemoryPlan {
  /** Byte offset of each value in the arena. */
  offsets: Map<string, number>;
  /** Arena size: the peak memory of all intermediate values. */
  arenaBytes: number;
  /** Sum of all value sizes (what a plan without reuse would need). */
  naiveBytes: number;
}

/** Whether a node's output is its input reinterpreted (no kernel, no memory): the op's view trait. */
const isView = (op: OpName) => OPS[op].traits.view === true;

export function planMemory(g: Graph, maxBatch: number): MemoryPlan {
  // root buffer of each value (views resolve to what they view)
  const root = new Map<string, string>();
  for (const v of g.inputs) root.set(v, v);
  for (const n of g.nodes) root.set(n.output, isView(n.op) ? (root.get(n.inputs[0]) ?? n.inputs[0]) : n.output);
  // a batched value ([-1, …]) holds maxBatch samples; a fixed-shape one holds itself
  const size = (v: string) => {
    const { shape, dtype } = g.values[v];
    const n = (shape[0] === -1 ? maxBatch : 1) * numel(shape);
    return Math.ceil((n * BYTES[dtype]) / ALIGN) * ALIGN;
  };
  // lifetime [first, last] in node indices of each root buffer
  const life = new Map<string, [number, number]>();
  const touch = (v: string, i: number) => {
    const r = root.get(v);
    if (!r) return; // a constant
    const l = life.get(r);
    if (l) l[1] = Math.max(l[1], i);
    else life.set(r, [i, i]);
  };
  for (const v of g.inputs) touch(v, -1);
  g.nodes.forEach((n, i) => {
    const res = (n.attrs as { residual?: string }).residual;
    for (const v of res ? [...n.inputs, res] : n.inputs) touch(v, i);
    touch(n.output, i);
  });
  for (const v of g.outputs) touch(v, g.nodes.length);
  // a fixed-shape input is written once per run, not per tile: no later value may take its memory
  for (const v of g.inputs) if (g.values[v].shape[0] !== -1) touch(v, g.nodes.length);
  const buffers = [...life.entries()].map(([v, l]) => ({ v, l, bytes: size(v) })).sort((a, b) => b.bytes - a.bytes);
  const placed: { off: number; bytes: number; l: [number, number] }[] = [];
  const rootOffset = new Map<string, number>();
  let arena = 0;
  let naive = 0;
  for (const b of buffers) {
    naive += b.bytes;
    const clashes = placed.filter((p) => p.l[0] <= b.l[1] && b.l[0] <= p.l[1]).sort((x, y) => x.off - y.off);
    let off = 0;
    for (const p of clashes) {
      if (off + b.bytes <= p.off) break;
      off = Math.max(off, p.off + p.bytes);
    }
    placed.push({ off, bytes: b.bytes, l: b.l });
    rootOffset.set(b.v, off);
    arena = Math.max(arena, off + b.bytes);
  }
  const offsets = new Map<string, number>();
  for (const [v, r] of root) offsets.set(v, rootOffset.get(r) ?? 0);
  return { offsets, arenaBytes: arena, naiveBytes: naive };
}
