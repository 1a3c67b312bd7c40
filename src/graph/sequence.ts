// Specializing a text model's graph to a shorter sequence: the graph is captured for token ids
// [N, L] (L = maxTokens), and a batch of short texts need not pay for L. withSequenceLength(g, L')
// follows the sequence axis from the input through every node (axes marked "carries L"), rewrites
// the attributes that name L (reshape shapes, slice sizes), cuts constants laid along it (learned
// or sinusoidal positions: their first L' rows) and re-infers every shape with the registry's
// rules. Whether the shorter graph answers as the long one (padding masked everywhere) is a
// property of the model, not of this rewrite: the runtime checks it numerically before using one
// (runtime/sequence-buckets.ts). Not for: the batch axis (symbolic already) or non-text inputs.
import type { OpDef } from '../ops/op.js';
import { OPS } from '../ops/registry.js';
import { type Graph, type Node, sliceAxis } from './ir.js';
import { inferNode } from './validate.js';

/** Why a graph cannot be specialized (or undefined when it can), as the runtime reports it. */
export type SequenceRefusal = string;

type Marks = readonly number[]; // axes of a value that carry the sequence length, ascending

const prod = (xs: readonly number[]) => xs.reduce((p, d) => p * d, 1);

/** Batch axis -1 counts as 1 in prefix products (it is the same on both sides of a reshape). */
const dims = (s: readonly number[]) => s.map((d) => (d < 0 ? 1 : d));

/**
 * The graph with its single int32 input [-1, L] narrowed to [-1, length] (1 ≤ length ≤ L), or the
 * reason it cannot be (a node whose output's relation to the sequence axis is not known here).
 */
export function withSequenceLength(g: Graph, length: number): Graph | SequenceRefusal {
  if (g.inputs.length !== 1) return `the graph has ${g.inputs.length} inputs`;
  const input = g.values[g.inputs[0]];
  if (input.dtype !== 'int32' || input.shape.length !== 2 || input.shape[0] !== -1)
    return `input is ${input.dtype} [${input.shape.join(', ')}], not token ids [-1, L]`;
  const L = input.shape[1];
  if (!Number.isInteger(length) || length < 1 || length > L)
    return `sequence length ${length} is not an integer in [1, ${L}]`;
  const marks = new Map<string, Marks>([[g.inputs[0], [1]]]);
  const out: Graph = {
    ...g,
    inputs: [...g.inputs],
    outputs: [...g.outputs],
    values: { ...g.values, [g.inputs[0]]: { ...input, shape: [-1, length] } },
    constants: { ...g.constants },
    nodes: [],
    meta: { ...g.meta, input: { ...g.meta.input, shape: [length] } },
  };
  const at = (m: Marks, shape: readonly number[]) => shape.map((d, i) => (m.includes(i) ? length : d));
  for (const n of g.nodes) {
    const ins = n.inputs.map((v) => ({
      v,
      shape: (Object.hasOwn(g.constants, v) ? g.constants[v] : g.values[v]).shape,
      marks: marks.get(v) ?? [],
      constant: Object.hasOwn(g.constants, v),
    }));
    const old = g.values[n.output].shape;
    if (ins.every((x) => x.marks.length === 0)) {
      out.nodes.push(n);
      continue;
    }
    const rule = followAxis(n, ins, old, L);
    if (typeof rule === 'string') return `node '${n.name}' (${n.op}): ${rule}`;
    for (const [v, axis] of rule.cut ?? []) {
      const c = out.constants[v]; // cut already along another axis, if so
      if (c.quant) return `node '${n.name}' (${n.op}): constant '${v}' along the sequence axis is quantized`;
      out.constants[v] = sliceAxis(c, axis, [...Array(length).keys()]);
    }
    const node = { ...n, attrs: rule.attrs ? rule.attrs(length) : n.attrs } as Node;
    let info: ReturnType<typeof inferNode>;
    try {
      info = inferNode(out, node);
    } catch (e) {
      return `node '${n.name}' (${n.op}) at length ${length}: ${(e as Error).message}`;
    }
    const want = at(rule.marks, old);
    if (info.shape.length !== want.length || info.shape.some((d, i) => d !== want[i]))
      return `node '${n.name}' (${n.op}) at length ${length} gives [${info.shape.join(', ')}], expected [${want.join(', ')}]`;
    out.values[n.output] = { ...g.values[n.output], shape: [...info.shape] };
    marks.set(n.output, rule.marks);
    out.nodes.push(node);
  }
  const carried = g.outputs.find((v) => (marks.get(v) ?? []).length > 0);
  if (carried) return `output '${carried}' [${g.values[carried].shape.join(', ')}] carries the sequence axis`;
  return out;
}

interface AxisRule {
  /** Output axes carrying the sequence. */
  marks: Marks;
  /** New attributes at a length (absent: unchanged). */
  attrs?: (length: number) => unknown;
  /** Constant inputs to cut to the first `length` entries of an axis. */
  cut?: [string, number][];
}

interface In {
  v: string;
  shape: readonly number[];
  marks: Marks;
  constant: boolean;
}

/**
 * How node n carries the sequence axis from its inputs to its output: by the shape rule its
 * attributes state (perm, axes, shape, begin/size); for elementwise ops by broadcasting (a constant
 * laid along the sequence, as positions are, is cut); for the rest by how its output's shape
 * relates to its input's (the same shape; one more axis: a lookup, as embedding; the last axis
 * changed: a map over features, as linear). Telling the sequence axis from a feature axis of the
 * same size is why shapes alone do not do.
 */
function followAxis(n: Node, ins: readonly In[], out: readonly number[], L: number): AxisRule | string {
  const a = n.attrs as Record<string, unknown>;
  const x = ins[0];
  switch (n.op) {
    case 'transpose': {
      const perm = a.perm as readonly number[];
      return { marks: perm.flatMap((p, j) => (x.marks.includes(p) ? [j] : [])) };
    }
    case 'reshape':
      return reshapeRule(x, out, L);
    case 'flatten': {
      const rule = reshapeRule(x, out, L);
      return typeof rule === 'string' ? rule : { marks: rule.marks };
    }
    case 'slice': {
      const begin = a.begin as readonly number[];
      const size = a.size as readonly number[];
      for (const m of x.marks)
        if (begin[m] !== 0 || (size[m] !== -1 && size[m] !== L))
          return `slices the sequence axis ${m} (begin ${begin[m]}, size ${size[m]})`;
      return {
        marks: x.marks,
        attrs: (len) => ({ begin, size: size.map((s, i) => (x.marks.includes(i) && s !== -1 ? len : s)) }),
      };
    }
    case 'sum':
    case 'mean':
    case 'max': {
      const axes = a.axes as readonly number[];
      const keep = a.keepDims as boolean;
      const marks = x.marks.filter((m) => !axes.includes(m));
      return { marks: keep ? marks : marks.map((m) => m - axes.filter((r) => r < m).length) };
    }
    case 'embeddingbag': // the mean of a bag's rows over its real (≥ 0) ids: the sequence is reduced
      return { marks: [] };
    case 'matmul': {
      const [A, B] = ins;
      const r = out.length;
      const lead = broadcastMarks(
        [
          { ...A, shape: A.shape.slice(0, -2), marks: A.marks.filter((m) => m < A.shape.length - 2) },
          { ...B, shape: B.shape.slice(0, -2), marks: B.marks.filter((m) => m < B.shape.length - 2) },
        ],
        r - 2,
      );
      return {
        marks: [
          ...lead,
          ...(A.marks.includes(A.shape.length - 2) ? [r - 2] : []),
          ...(B.marks.includes(B.shape.length - 1) ? [r - 1] : []),
        ],
      };
    }
  }
  if ((OPS[n.op] as OpDef<unknown>).traits.elementwise === true && broadcastsTo(ins, out)) {
    const marks = broadcastMarks(ins, out.length);
    const cut: [string, number][] = [];
    for (const i of ins) {
      if (!i.constant) continue;
      const off = out.length - i.shape.length;
      for (const m of marks) if (m >= off && i.shape[m - off] === L) cut.push([i.v, m - off]);
    }
    return { marks, cut };
  }
  // one value in, the same shape out (softmax, layer norm, cast, quantize: constants are their
  // parameters, laid along features, never cut)
  if (ins.filter((i) => !i.constant).length === 1 && sameShape(x.shape, out)) return { marks: x.marks };
  // a further input that carries the sequence must be laid out as the output (a fused residual)
  const others = ins.slice(1).filter((i) => i.marks.length > 0);
  if (others.some((i) => !sameShape(i.shape, out) || !sameShape(i.marks, x.marks)))
    return 'a second input carries the sequence in another layout';
  // a lookup per element (embedding: ids [N, L] → [N, L, d])
  if (out.length === x.shape.length + 1 && sameShape(x.shape, out.slice(0, -1))) return { marks: x.marks };
  // a map over the last axis (linear: [N, L, K] → [N, L, M])
  const lead = x.shape.slice(0, -1);
  if (out.length === x.shape.length && sameShape(lead, out.slice(0, -1))) {
    if (x.marks.includes(x.shape.length - 1)) return 'maps over the sequence axis as features';
    return { marks: x.marks };
  }
  return `its output [${out.join(', ')}] relates to its inputs in no way this pass follows`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Every input right-aligned onto `out` with dims equal or 1. */
function broadcastsTo(ins: readonly In[], out: readonly number[]): boolean {
  return ins.every((i) => {
    const off = out.length - i.shape.length;
    return i.shape.every((d, k) => d === out[off + k] || d === 1);
  });
}

/** Marked axes of right-aligned inputs, as axes of a rank-r output. */
function broadcastMarks(ins: readonly In[], r: number): number[] {
  const s = new Set<number>();
  for (const i of ins) for (const m of i.marks) s.add(r - i.shape.length + m);
  return [...s].sort((p, q) => p - q);
}

/**
 * A reshape keeps a sequence axis when some output axis has the same number of elements before
 * it and after it and holds L itself (so [N, L, h·d] ↔ [N, L, h, d] and [N, L] → [N, 1, 1, L]
 * follow; [N, L, C] → [N, L·C] merges it and does not).
 */
function reshapeRule(x: In, out: readonly number[], L: number): AxisRule | string {
  const xs = dims(x.shape);
  const os = dims(out);
  const marks: number[] = [];
  for (const m of x.marks) {
    const before = prod(xs.slice(0, m));
    const after = prod(xs.slice(m + 1));
    const j = os.findIndex((d, k) => d === L && prod(os.slice(0, k)) === before && prod(os.slice(k + 1)) === after);
    if (j < 0) return `merges or splits the sequence axis ([${x.shape.join(', ')}] → [${out.join(', ')}])`;
    marks.push(j);
  }
  marks.sort((p, q) => p - q);
  return { marks, attrs: (len) => ({ shape: out.map((d, k) => (d < 0 ? d : marks.includes(k) ? len : d)) }) };
}
