// Structured pruning of attention heads (prune.ts ranks them beside channels and units). A
// multi-head self-attention as nn/transformer.ts captures it: one linear x·W_qkv [d, 3d] → three
// slices of the last axis (q | k | v, each d wide) → reshapes to [N, L, h, dh] → transposes,
// scale, batched matmuls, the mask's add, softmax → a reshape merging [.., h, dh] back to h·dh →
// the output linear. Removing head j removes columns p·d + j·dh … + dh − 1 of every part p from
// W_qkv and its bias, rows j·dh … of the output linear, and one from the head count of every
// value between (the reshapes' attributes; shapes are re-inferred). Not for: anything that is
// not this pattern (a block read elsewhere, heads mixed by an op, a shared weight); those blocks
// are reported as not found, never half-edited.
import { consumers, type Graph, type Node, nodeMacs, sliceAxis } from '../graph/ir.js';
import { inferNode } from '../graph/validate.js';
import { f32, useCounts } from './passes/graph-edit.js';

type Linear = Extract<Node, { op: 'linear' }>;

/** One attention block's heads and every node that carries them. */
export interface HeadGroup {
  qkv: Linear;
  out: Linear;
  heads: number;
  /** Width of one head. */
  dh: number;
  /** The q, k and v slices of the QKV output, in part order. */
  slices: Extract<Node, { op: 'slice' }>[];
  /** The reshapes to [.., h, dh] after each slice. */
  splits: Extract<Node, { op: 'reshape' }>[];
  /** Nodes between the splits and the merge, in graph order. */
  region: Node[];
  merge: Extract<Node, { op: 'reshape' }>;
  /** MACs of the region's matmuls (each head's share: 1/heads). */
  attentionMacs: number;
}

/** Ops that may lie between the splits and the merge, each keeping the head axis apart. */
const CARRIERS = new Set<Node['op']>(['scale', 'transpose', 'matmul', 'add', 'softmax', 'dropout', 'unary']);

/** The attention blocks of `g` whose heads can be removed. */
export function findHeadGroups(g: Graph): HeadGroup[] {
  const readers = consumers(g);
  const uses = useCounts(g);
  const order = new Map(g.nodes.map((n, i) => [n, i]));
  const groups: HeadGroup[] = [];
  for (const qkv of g.nodes) {
    if (qkv.op !== 'linear' || qkv.attrs.transB || qkv.attrs.residual || qkv.attrs.activation !== 'none') continue;
    const w = g.constants[qkv.inputs[1]];
    if (w?.dtype !== 'float32' || uses.get(qkv.inputs[1]) !== 1) continue;
    if (qkv.inputs[2] && (g.constants[qkv.inputs[2]]?.dtype !== 'float32' || uses.get(qkv.inputs[2]) !== 1)) continue;
    const group = matchBlock(g, qkv, readers, order);
    if (group) groups.push(group);
  }
  return groups;
}

function matchBlock(
  g: Graph,
  qkv: Linear,
  readers: Map<string, Node[]>,
  order: Map<Node, number>,
): HeadGroup | undefined {
  const cols = g.constants[qkv.inputs[1]].shape[1];
  if (cols % 3 !== 0 || g.outputs.includes(qkv.output)) return undefined;
  const d = cols / 3;
  const rank = g.values[qkv.output].shape.length;
  const slices: HeadGroup['slices'] = [];
  for (const s of readers.get(qkv.output) ?? []) {
    if (s.op !== 'slice' || s.inputs[0] !== qkv.output) return undefined;
    const { begin, size } = s.attrs;
    const full = g.values[qkv.output].shape;
    const whole =
      begin.slice(0, -1).every((b) => b === 0) && size.slice(0, -1).every((z, i) => z === -1 || z === full[i]);
    if (!whole || g.values[s.output].shape[rank - 1] !== d || begin[rank - 1] % d !== 0) return undefined;
    slices[begin[rank - 1] / d] = s;
  }
  if (slices.length !== 3 || slices.some((s) => !s)) return undefined;
  const splits: HeadGroup['splits'] = [];
  let heads = 0;
  let dh = 0;
  for (const s of slices) {
    const r = readers.get(s.output) ?? [];
    const sp = r[0];
    if (r.length !== 1 || sp.op !== 'reshape' || g.outputs.includes(s.output)) return undefined;
    const shape = g.values[sp.output].shape;
    if (shape.length !== rank + 1 || shape[rank - 1] * shape[rank] !== d) return undefined;
    if (heads && (heads !== shape[rank - 1] || dh !== shape[rank])) return undefined;
    [heads, dh] = [shape[rank - 1], shape[rank]];
    splits.push(sp);
  }
  if (heads < 2) return undefined;
  // the values carrying heads, in graph order (a matmul's operands are both known by then), and the axis holding them
  const headAxis = new Map<string, number>(splits.map((s) => [s.output, rank - 1]));
  const region: Node[] = [];
  let merge: HeadGroup['merge'] | undefined;
  const first = Math.min(...splits.map((s) => order.get(s) as number));
  for (const n of g.nodes.slice(first + 1)) {
    if ((splits as Node[]).includes(n) || !n.inputs.some((v) => headAxis.has(v))) continue;
    if (merge) return undefined; // heads read past the merge
    if (n.op === 'reshape') {
      // the merge: [.., h, dh] (heads second to last) → [.., h·dh], read by one linear alone
      const v = n.inputs[0];
      const s = g.values[v].shape;
      const o = g.values[n.output].shape;
      if (headAxis.get(v) !== s.length - 2 || o.length !== s.length - 1 || o.at(-1) !== heads * dh) return undefined;
      const r = readers.get(n.output) ?? [];
      const reader = r[0];
      if (
        r.length !== 1 ||
        reader.op !== 'linear' ||
        reader.attrs.transB ||
        reader.inputs[0] !== n.output ||
        reader.attrs.residual === n.output
      )
        return undefined;
      merge = n;
      continue;
    }
    const axis = CARRIERS.has(n.op) ? carriedAxis(g, n, headAxis, heads) : undefined;
    if (axis === undefined || g.outputs.includes(n.output)) return undefined;
    region.push(n);
    headAxis.set(n.output, axis);
  }
  if (!merge) return undefined;
  const out = (readers.get(merge.output) as Node[])[0] as Linear;
  const uses = useCounts(g);
  if (uses.get(out.inputs[1]) !== 1 || g.constants[out.inputs[1]]?.dtype !== 'float32') return undefined;
  const attentionMacs = region.filter((n) => n.op === 'matmul').reduce((s, n) => s + nodeMacs(g, n), 0);
  return { qkv, out, heads, dh, slices, splits, region, merge, attentionMacs };
}

/**
 * The head axis of n's output, given the head axes of its inputs that carry heads (others must
 * broadcast over heads: size 1 there); undefined when n mixes heads or reads one as a reduction.
 */
function carriedAxis(g: Graph, n: Node, headAxis: Map<string, number>, heads: number): number | undefined {
  // an input not carrying heads must broadcast over them (the mask bias [N, 1, 1, L])
  const carried = n.inputs.filter((v) => headAxis.has(v));
  const axis = headAxis.get(carried[0]) as number;
  if (carried.some((v) => headAxis.get(v) !== axis)) return undefined;
  const rank = g.values[n.output].shape.length;
  for (const v of n.inputs) {
    if (headAxis.has(v)) continue;
    const s = g.values[v]?.shape ?? g.constants[v]?.shape;
    // broadcasting from the right: the head axis of a lower-rank operand
    const at = axis - (rank - s.length);
    if (at >= 0 && s[at] !== 1) return undefined;
  }
  switch (n.op) {
    case 'transpose':
      return n.attrs.perm.indexOf(axis);
    case 'matmul':
      // heads must be a batch axis of both operands (not one the product contracts)
      return carried.length === 2 && axis < rank - 2 ? axis : undefined;
    case 'softmax':
      return n.attrs.axis === axis || n.attrs.axis === axis - rank ? undefined : axis;
    default:
      return g.values[n.output].shape[axis] === heads ? axis : undefined;
  }
}

/** Importance of each head: ‖W_v columns of the head‖ · ‖W_out rows of the head‖ (l1 or l2). */
export function headNorms(g: Graph, group: HeadGroup, criterion: 'l1' | 'l2'): Float64Array {
  const { heads, dh } = group;
  const d = heads * dh;
  const term = (v: number) => (criterion === 'l1' ? Math.abs(v) : v * v);
  const finish = (v: number) => (criterion === 'l1' ? v : Math.sqrt(v));
  const wqkv = f32(g, group.qkv.inputs[1]); // [C, 3d]
  const wout = f32(g, group.out.inputs[1]); // [d, N]
  const N = wout.length / d;
  const vIn = new Float64Array(heads);
  const oOut = new Float64Array(heads);
  for (let i = 0; i < wqkv.length; i++) {
    const c = i % (3 * d);
    if (c >= 2 * d) vIn[Math.floor((c - 2 * d) / dh)] += term(wqkv[i]);
  }
  for (let i = 0; i < wout.length; i++) oOut[Math.floor(Math.floor(i / N) / dh)] += term(wout[i]);
  return vIn.map((v, j) => finish(v) * finish(oOut[j]));
}

/** Removes from `g` (a clone, edited in place) every head of the group not in `keep` (sorted). */
export function applyHeadKeep(g: Graph, group: HeadGroup, keep: readonly number[]): void {
  const { heads, dh, qkv, out } = group;
  const d = heads * dh;
  const h2 = keep.length;
  const within = keep.flatMap((j) => Array.from({ length: dh }, (_, i) => j * dh + i));
  const cols = [0, 1, 2].flatMap((p) => within.map((c) => p * d + c));
  g.constants[qkv.inputs[1]] = sliceAxis(g.constants[qkv.inputs[1]], 1, cols);
  if (qkv.inputs[2]) g.constants[qkv.inputs[2]] = sliceAxis(g.constants[qkv.inputs[2]], 0, cols);
  g.constants[out.inputs[1]] = sliceAxis(g.constants[out.inputs[1]], 0, within);
  const last = (a: readonly number[], v: number) => [...a.slice(0, -1), v];
  group.slices.forEach((s, p) => {
    const size = s.attrs.size;
    s.attrs = {
      begin: last(s.attrs.begin, p * h2 * dh),
      size: size.at(-1) === -1 ? [...size] : last(size, h2 * dh),
    };
  });
  for (const sp of group.splits) {
    const shape = sp.attrs.shape;
    sp.attrs = { ...sp.attrs, shape: [...shape.slice(0, -2), h2, shape.at(-1) as number] };
  }
  group.merge.attrs = { ...group.merge.attrs, shape: last(group.merge.attrs.shape, h2 * dh) };
  // every value from the QKV output to the output linear's: the ops' own shape rules
  for (const n of [qkv, ...group.slices, ...group.splits, ...group.region, group.merge])
    g.values[n.output] = { ...g.values[n.output], shape: [...inferNode(g, n).shape] };
}
