// Physical pruning: output channels of conv2d/linear layers and hidden units of rnnscans are
// removed, weight tensors shrink (no masks). A removed channel disappears from its producer (weight
// columns, bias), from every op after it that keeps channels apart (affine/batchnorm constants,
// activations, pools, reshapes that keep the last axis, slices and reductions that leave it whole,
// a concat along it) and from the input of the next conv2d/linear (conv weights' Cin axis; linear
// rows, where a flatten of [H, W, C] maps channel c at (h, w) to row (h·W + w)·C + c). An rnnscan's
// unit j also takes gate columns g·H + j of its x-projection, wh and bh, and row j of wh. Channels
// that meet an add, a residual, a channel-mixing op (softmax, transpose) or a graph output keep
// their shape. Attention heads go whole (prune-heads.ts: QKV columns, output rows, head counts).
// Two criteria: dead units (exactly zero on calibration data; outputs unchanged) and structured
// pruning by weight norm to a MAC budget. Runs after eliminate + fold-bn.
import { ValueError } from '../errors.js';
import {
  cloneGraph,
  consumers,
  type Epilogue,
  type Graph,
  graphMacs,
  type Node,
  nodeMacs,
  numel,
  sliceAxis,
} from '../graph/ir.js';
import { isTransposedLinear } from '../ops/matmul.js';
import { OPS } from '../ops/registry.js';
import { normAxes } from '../ops/rules.js';
import { type CalibrateOptions, collectChannelStats } from './calibrate.js';
import { f32, useCounts } from './passes/graph-edit.js';
import { applyHeadKeep, findHeadGroups, type HeadGroup, headNorms } from './prune-heads.js';

type Producer = Extract<Node, { op: 'conv2d' | 'linear' }>;
type Scan = Extract<Node, { op: 'rnnscan' }>;

/**
 * The units of one layer and everything that reads them, up to the next conv2d/linear: a
 * conv2d/linear's output channels, or an rnnscan's hidden units (unit j is gate column g·H + j of
 * the x-projection `gates` and of wh/bh for every gate g, row j of wh, and channel j of the scan's
 * output).
 */
interface ChannelGroup {
  producer: Producer | Scan;
  /** rnnscan: the conv2d/linear computing its gate inputs xw [N, T, G·H] (read by the scan alone). */
  gates?: Producer;
  channels: number;
  /** Nodes between the producer and the terminals that keep channels apart, in graph order. */
  chain: Node[];
  /** conv2d/linear nodes reading the channels as input; factor: inputs per channel (H·W after a flatten). */
  terminals: { node: Producer; factor: number }[];
  /** Why these channels cannot be removed (undefined: they can). */
  blocked?: string;
}

/** Units before → after and MACs before → after of one conv2d/linear layer or rnnscan. */
export interface LayerPruneReport {
  /** An attention block is named by its QKV linear. */
  layer: string;
  op: 'conv2d' | 'linear' | 'rnnscan' | 'attention';
  /** Output channels; an rnnscan's hidden units; an attention block's heads. */
  channels: [number, number];
  /**
   * An rnnscan's MACs include those of its x-projection (the conv2d/linear in `gates`); an
   * attention block's, its QKV and output linears and the matmuls between.
   */
  macs: [number, number];
  /** rnnscan: the layer computing its gate inputs, which loses G columns per unit removed. */
  gates?: string;
  /** Indices (in the original layer) of the channels kept, where some were removed. */
  kept?: number[];
  /** Why the layer's outputs were left alone, if they were not prunable. */
  blocked?: string;
}

export interface PruneResult {
  graph: Graph;
  layers: LayerPruneReport[];
  macs: { before: number; after: number; target?: number };
}

// a transB linear (weight [out, in]) is neither pruned nor cut: a channel it reads blocks its group
const isProducer = (n: Node): n is Producer => n.op === 'conv2d' || (n.op === 'linear' && !isTransposedLinear(n));
const SCAN_GATES = { gru: 3, lstm: 4 } as const;
const gatesOf = (s: Scan): number => SCAN_GATES[s.attrs.cell];

/** Whether channel c of n's output depends only on channel c of its first input (the op's trait). */
const perChannel = (n: Node): boolean => OPS[n.op].traits.perChannel === true;

/** Elementwise functions with f(0) = 0: a pruned (all-zero) channel stays zero through them. */
const ZERO_KEEPING = new Set<string>(['relu', 'leakyRelu', 'tanh', 'gelu', 'neg', 'abs', 'square', 'sqrt']);
/** Reductions (the math `reduce` op's fns) that give 0 over zeros. */
const ZERO_REDUCING = new Set<string>(['sum', 'mean', 'max', 'min', 'prod', 'l1', 'l2', 'sumsquare']);

const lastDim = (g: Graph, v: string): number => {
  const s = g.values[v].shape;
  return s[s.length - 1];
};

/** A reshape to [N, features] of a value of rank > 2: channel c at position p lands at p·C + c (as flatten). */
function spreads(g: Graph, n: Node): boolean {
  if (n.op === 'flatten') return true;
  return n.op === 'reshape' && g.values[n.output].shape.length === 2 && g.values[n.inputs[0]].shape.length > 2;
}

/**
 * Whether `n` reading `v` keeps its channels apart on the last axis: per-channel ops, reshapes that
 * keep the last axis ([N, 1, T, C] ↔ [N, T, C]) or flatten, slices and reductions that leave the
 * last axis whole, and a concat along it.
 */
function passesChannels(g: Graph, n: Node, v: string): boolean {
  if (perChannel(n) || n.op === 'reshape' || n.op === 'slice') {
    if (n.inputs[0] !== v) return false;
    if (n.op === 'reshape') return spreads(g, n) || lastDim(g, n.output) === lastDim(g, v);
    if (n.op === 'slice') {
      const last = g.values[v].shape.length - 1;
      return n.attrs.begin[last] === 0 && (n.attrs.size[last] === -1 || n.attrs.size[last] === lastDim(g, v));
    }
    return true;
  }
  const rank = g.values[v].shape.length;
  if (n.op === 'mean' || n.op === 'sum' || n.op === 'max' || n.op === 'reduce')
    return !normAxes(n.op, n.attrs.axes, rank).includes(rank - 1);
  if (n.op === 'concat')
    return normAxes('concat', [n.attrs.axis], rank)[0] === rank - 1 && n.inputs.filter((u) => u === v).length === 1;
  return false;
}

function analyze(g: Graph): ChannelGroup[] {
  const readers = consumers(g);
  const uses = useCounts(g);
  const order = new Map(g.nodes.map((n, i) => [n, i]));
  const producerOf = new Map(g.nodes.map((n) => [n.output, n]));
  // a conv2d/linear whose output only an rnnscan reads, as its xw: its columns go with the scan's units
  const gateLayers = new Map<Node, Scan>();
  for (const s of g.nodes) {
    if (s.op !== 'rnnscan') continue;
    const p = producerOf.get(s.inputs[0]);
    if (p && isProducer(p) && readers.get(p.output)?.length === 1 && !g.outputs.includes(p.output))
      gateLayers.set(p, s);
  }
  const layers = g.nodes.filter(
    (n): n is Producer | Scan => n.op === 'rnnscan' || (isProducer(n) && !gateLayers.has(n)),
  );
  return layers.map((p) => {
    const group: ChannelGroup = { producer: p, channels: 0, chain: [], terminals: [] };
    const block = (why: string) => {
      group.blocked ??= why;
    };
    const ownConstants = (n: Node) => {
      for (const c of n.inputs.slice(1)) if (uses.get(c) !== 1) block(`constant '${c}' of '${n.name}' is shared`);
    };
    if (p.op === 'rnnscan') {
      group.channels = p.attrs.hidden;
      const gates = producerOf.get(p.inputs[0]);
      if (!gates || !isProducer(gates) || gateLayers.get(gates) !== p)
        block(`the gate input '${p.inputs[0]}' of '${p.name}' is not a conv2d/linear read by it alone`);
      else {
        group.gates = gates;
        if (gates.attrs.residual) block(`'${gates.name}' adds a residual`);
        ownConstants(gates);
      }
      for (const c of p.inputs.slice(1)) if (!g.constants[c]) block(`'${c}' of '${p.name}' is not a constant`);
    } else {
      const w = g.constants[p.inputs[1]];
      group.channels = w.shape[w.shape.length - 1];
      if (p.attrs.residual) block(`'${p.name}' adds a residual`);
    }
    ownConstants(p);
    const stack: [string, number][] = [[p.output, 1]];
    while (stack.length) {
      const [v, factor] = stack.pop() as [string, number];
      if (g.outputs.includes(v)) block(`'${v}' is a graph output`);
      for (const n of readers.get(v) ?? []) {
        if (n.op === 'add' || (n.attrs as Partial<Epilogue>).residual === v) block(`'${v}' feeds the add '${n.name}'`);
        else if (isProducer(n) && n.inputs[0] === v) {
          group.terminals.push({ node: n, factor });
          if (uses.get(n.inputs[1]) !== 1) block(`weight '${n.inputs[1]}' of '${n.name}' is shared`);
        } else if (group.chain.includes(n)) block(`'${n.name}' (${n.op}) reads the channels twice`);
        else if (passesChannels(g, n, v)) {
          group.chain.push(n);
          ownConstants(n);
          stack.push([n.output, spreads(g, n) ? factor * numel(g.values[v].shape.slice(1, -1)) : factor]);
        } else block(`'${v}' feeds '${n.name}' (${n.op}), which mixes channels`);
      }
    }
    group.chain.sort((a, b) => (order.get(a) as number) - (order.get(b) as number));
    return group;
  });
}

/**
 * Where channel `c` of the group lies on the last axis of each value from its producer's output
 * on (flatten spreads it over the positions, a concat shifts it), in the graph as it is now.
 */
function positionsOf(g: Graph, group: ChannelGroup, c: number): Map<string, number[]> {
  const at = new Map<string, number[]>([[group.producer.output, [c]]]);
  for (const n of group.chain) {
    const src = n.inputs.find((v) => at.has(v)) as string;
    const pos = at.get(src) as number[];
    let out = pos;
    if (spreads(g, n)) {
      const C = lastDim(g, src);
      out = [];
      for (let p = 0; p < numel(g.values[src].shape.slice(1, -1)); p++) for (const i of pos) out.push(p * C + i);
    } else if (n.op === 'concat') {
      let offset = 0;
      for (const u of n.inputs.slice(0, n.inputs.indexOf(src))) offset += lastDim(g, u);
      out = pos.map((i) => i + offset);
    }
    at.set(n.output, out);
  }
  return at;
}

/** Indices kept along the last axis of each value of the group when its producer keeps channels `keep`. */
function keptIndices(g: Graph, group: ChannelGroup, keep: readonly number[]): Map<string, number[]> {
  const values = [group.producer.output, ...group.chain.map((n) => n.output)];
  const dropped = new Map<string, Set<number>>(values.map((v) => [v, new Set()]));
  const kept = new Set(keep);
  for (let c = 0; c < group.channels; c++) {
    if (kept.has(c)) continue;
    for (const [v, pos] of positionsOf(g, group, c)) for (const i of pos) dropped.get(v)?.add(i);
  }
  return new Map(values.map((v) => [v, range(lastDim(g, v)).filter((i) => !dropped.get(v)?.has(i))]));
}

/** Columns g·H + j of every gate g for units `keep` (of H), gate-major as the scan lays them out. */
function gateColumns(G: number, H: number, keep: readonly number[]): number[] {
  return range(G).flatMap((gate) => keep.map((j) => gate * H + j));
}

/** Removes from `g` (edited in place: a clone) every channel of the group's producer not in `keep`. */
function applyKeep(g: Graph, group: ChannelGroup, keep: readonly number[]): void {
  const lists = keptIndices(g, group, keep);
  const slice = (name: string, axis: number, list: readonly number[]) => {
    const c = g.constants[name];
    g.constants[name] = sliceAxis(c, axis < 0 ? c.shape.length + axis : axis, list);
  };
  const p = group.producer;
  if (p.op === 'rnnscan') {
    const gates = group.gates as Producer;
    const cols = gateColumns(gatesOf(p), group.channels, keep);
    slice(gates.inputs[1], -1, cols);
    if (gates.inputs[2]) slice(gates.inputs[2], 0, cols);
    const s = g.values[gates.output].shape;
    g.values[gates.output] = { ...g.values[gates.output], shape: [...s.slice(0, -1), cols.length] };
    slice(p.inputs[1], 1, cols);
    slice(p.inputs[1], 0, keep);
    if (p.inputs[2]) slice(p.inputs[2], 0, cols);
    p.attrs = { ...p.attrs, hidden: keep.length };
  } else {
    slice(p.inputs[1], -1, keep);
    if (p.inputs[2]) slice(p.inputs[2], 0, keep);
  }
  for (const [v, list] of lists) {
    const s = g.values[v].shape;
    g.values[v] = { ...g.values[v], shape: [...s.slice(0, -1), list.length] };
  }
  for (const n of group.chain) {
    const list = lists.get(n.inputs[0]) as number[];
    if (n.op === 'affine' || n.op === 'batchnorm') for (const c of n.inputs.slice(1)) slice(c, 0, list);
    // explicit channel counts in attributes follow the new shapes (-1 entries infer themselves)
    const C = lastDim(g, n.output);
    if (n.op === 'reshape' && n.attrs.shape[n.attrs.shape.length - 1] !== -1)
      n.attrs = { ...n.attrs, shape: [...n.attrs.shape.slice(0, -1), C] };
    if (n.op === 'slice' && n.attrs.size[n.attrs.size.length - 1] !== -1)
      n.attrs = { ...n.attrs, size: [...n.attrs.size.slice(0, -1), C] };
  }
  for (const { node } of group.terminals) slice(node.inputs[1], -2, lists.get(node.inputs[0]) as number[]);
}

function layerReports(
  before: Graph,
  after: Graph,
  groups: ChannelGroup[],
  keeps: Map<ChannelGroup, number[]>,
): LayerPruneReport[] {
  const outNodes = new Map(after.nodes.map((n) => [n.name, n]));
  return groups.map((group) => {
    const { producer: p, gates, channels, blocked } = group;
    const kept = keeps.get(group);
    const q = outNodes.get(p.name) as Producer | Scan;
    const macs = (g: Graph, n: Node, x?: Producer) => nodeMacs(g, n) + (x ? nodeMacs(g, x) : 0);
    const w = after.constants[q.inputs[1]].shape;
    return {
      layer: p.name,
      op: p.op,
      channels: [channels, q.op === 'rnnscan' ? q.attrs.hidden : w[w.length - 1]],
      macs: [macs(before, p, gates), macs(after, q, gates && (outNodes.get(gates.name) as Producer))],
      ...(gates ? { gates: gates.name } : {}),
      ...(kept ? { kept } : {}),
      ...(blocked ? { blocked } : {}),
    };
  });
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * The value to test for dead channels: the output of the producer's relu (fused, or the first relu
 * on a single-reader path of per-channel ops), else the producer's output. `upstream`: nodes between.
 */
function probeOf(g: Graph, group: ChannelGroup): { value: string; upstream: Set<Node> } {
  const p = group.producer as Producer;
  if (p.attrs.activation === 'relu') return { value: p.output, upstream: new Set() };
  const readers = consumers(g);
  const upstream = new Set<Node>();
  let cur = p.output;
  for (;;) {
    const r = readers.get(cur);
    if (r?.length !== 1 || !group.chain.includes(r[0]) || g.outputs.includes(cur)) break;
    // past a flatten or concat the statistics' index is no longer the channel
    if (spreads(g, r[0]) || r[0].op === 'concat') break;
    upstream.add(r[0]);
    if (r[0].op === 'unary' && r[0].attrs.fn === 'relu') return { value: r[0].output, upstream };
    cur = r[0].output;
  }
  return { value: p.output, upstream: new Set() };
}

/** Whether node `n` maps 0 to 0 at input indices `list` (so a channel that is 0 stays 0 through it). */
function keepsZero(g: Graph, n: Node, list: readonly number[]): boolean {
  if (n.op === 'unary') return ZERO_KEEPING.has(n.attrs.fn);
  if (n.op === 'affine') {
    const shift = f32(g, n.inputs[2]);
    return list.every((i) => shift[i] === 0);
  }
  if (n.op === 'batchnorm') {
    const [gamma, beta, mean, variance] = n.inputs.slice(1).map((c) => f32(g, c));
    return list.every((i) => beta[i] - (mean[i] * gamma[i]) / Math.sqrt(variance[i] + n.attrs.eps) === 0);
  }
  if (n.op === 'reduce') return ZERO_REDUCING.has(n.attrs.fn);
  return true; // pools, flatten, reshape, slice, concat, mean / sum / max, dropout
}

/**
 * Removes output channels of conv2d/linear layers that are exactly 0 after their relu for every
 * one of the `n` calibration samples (`calib`: n × per-sample input) and every position; the
 * outputs on that data do not change.
 */
export function pruneDeadUnits(g: Graph, calib: Float32Array, n: number, opts: CalibrateOptions = {}): PruneResult {
  const out = cloneGraph(g);
  const groups = analyze(out);
  // an rnnscan's units are not tested: a unit whose output is 0 at every step is not a thing training makes
  const probes = new Map(
    groups.filter((gr) => !gr.blocked && gr.producer.op !== 'rnnscan').map((gr) => [gr, probeOf(out, gr)]),
  );
  const values = [...new Set([...probes.values()].map((p) => p.value))];
  const stats = values.length ? collectChannelStats(out, calib, n, values, opts) : new Map();
  const keeps = new Map<ChannelGroup, number[]>();
  for (const [group, probe] of probes) {
    const absMax = stats.get(probe.value)?.absMax as Float32Array;
    const downstream = group.chain.filter((m) => !probe.upstream.has(m));
    const dead = (c: number) => {
      if (absMax[c] !== 0) return false;
      const at = positionsOf(out, group, c);
      return downstream.every((m) => keepsZero(out, m, at.get(m.inputs[0]) ?? []));
    };
    const keep = range(group.channels).filter((c) => !dead(c));
    if (keep.length < group.channels) keeps.set(group, keep.length ? keep : [0]);
  }
  for (const [group, keep] of keeps) applyKeep(out, group, keep);
  return {
    graph: out,
    layers: layerReports(g, out, groups, keeps),
    macs: { before: graphMacs(g), after: graphMacs(out) },
  };
}

export interface PruneChannelsOptions {
  /** Share of the graph's MACs to remove, in [0, 1). */
  fraction: number;
  /** Norm of each channel's weight column used as its importance. */
  criterion: 'l1' | 'l2';
  /**
   * Round each pruned layer's kept channel count to the nearest multiple of this (default 1):
   * the int8 GEMM works in 8-column panels and int8 pooling in 16-byte vectors, so 8 avoids the
   * padded partial tiles a count like 51 costs. Layers of at most `align` channels stay as chosen.
   */
  align?: number;
}

/** |v| (l1) or v² (l2): one term of a norm; `finish` takes the l2 sum's square root. */
const term = (criterion: 'l1' | 'l2', v: number): number => (criterion === 'l1' ? Math.abs(v) : v * v);
const finish = (criterion: 'l1' | 'l2', norm: Float64Array): Float64Array =>
  criterion === 'l1' ? norm : norm.map(Math.sqrt);

/**
 * Importance of each output channel of a conv2d/linear: norm of its weight column (times |affine
 * scale| up to the first flatten or concat, where the index stops being the channel).
 */
function channelNorms(g: Graph, group: ChannelGroup, criterion: 'l1' | 'l2'): Float64Array {
  const w = f32(g, group.producer.inputs[1]);
  const C = group.channels;
  const norm = new Float64Array(C);
  for (let i = 0; i < w.length; i++) norm[i % C] += term(criterion, w[i]);
  finish(criterion, norm).forEach((v, c) => {
    norm[c] = v;
  });
  for (const n of group.chain) {
    if (spreads(g, n) || n.op === 'concat') break;
    if (n.op === 'affine') {
      const s = f32(g, n.inputs[1]);
      for (let c = 0; c < C; c++) norm[c] *= Math.abs(s[c]);
    }
    if (n.op === 'batchnorm') {
      const [gamma, , , variance] = n.inputs.slice(1).map((k) => f32(g, k));
      for (let c = 0; c < C; c++) norm[c] *= Math.abs(gamma[c] / Math.sqrt(variance[c] + n.attrs.eps));
    }
  }
  return norm;
}

/**
 * Importance of each hidden unit j of an rnnscan: the norm of its incoming weights (gate columns
 * g·H + j of the x-projection and of wh) times the norm of its outgoing ones (row j of wh and the
 * rows of the layers reading channel j). The output h_j is bounded (|h| < 1), so what it can move
 * is set by the weights that read it; the incoming norm tells a unit that barely varies (its gates
 * near their biases) from one that follows its input. Affine scales between the scan and its
 * readers are not counted.
 */
function unitNorms(g: Graph, group: ChannelGroup, criterion: 'l1' | 'l2'): Float64Array {
  const scan = group.producer as Scan;
  const H = group.channels;
  const GH = gatesOf(scan) * H;
  const incoming = new Float64Array(H);
  const outgoing = new Float64Array(H);
  for (const w of [f32(g, (group.gates as Producer).inputs[1]), f32(g, scan.inputs[1])])
    for (let i = 0; i < w.length; i++) incoming[(i % GH) % H] += term(criterion, w[i]);
  const wh = f32(g, scan.inputs[1]); // [H, G·H]
  for (let i = 0; i < wh.length; i++) outgoing[Math.floor(i / GH)] += term(criterion, wh[i]);
  for (let j = 0; j < H; j++) {
    const at = positionsOf(g, group, j);
    for (const { node } of group.terminals) {
      const c = g.constants[node.inputs[1]]; // [..., Cin, Cout]
      const [cin, cout] = c.shape.slice(-2);
      const w = f32(g, node.inputs[1]);
      for (let o = 0; o < numel(c.shape.slice(0, -2)); o++)
        for (const r of at.get(node.inputs[0]) as number[])
          for (let k = 0; k < cout; k++) outgoing[j] += term(criterion, w[(o * cin + r) * cout + k]);
    }
  }
  const a = finish(criterion, incoming);
  const b = finish(criterion, outgoing);
  return a.map((v, j) => v * b[j]);
}

/**
 * Structured pruning: removes the globally least important output channels and recurrent units
 * (channelNorms, unitNorms; each over its layer's mean) until the graph's MACs are at most
 * (1 − fraction) × before. Each layer keeps at least max(4, 10%) of its channels; channels that
 * must keep their shape (the classes, adds, residuals) are never removed. The result says whether
 * the target was reached.
 */
export function pruneChannels(g: Graph, opts: PruneChannelsOptions): PruneResult & { reached: boolean } {
  const { fraction, criterion, align = 1 } = opts;
  if (!(fraction >= 0 && fraction < 1)) throw new ValueError(`pruneChannels: fraction ${fraction} must be in [0, 1)`);
  if (!Number.isInteger(align) || align < 1)
    throw new ValueError(`pruneChannels: align ${align} must be a positive integer`);
  if (criterion !== 'l1' && criterion !== 'l2')
    throw new ValueError(`pruneChannels: criterion '${criterion}' must be 'l1' or 'l2'`);
  const out = cloneGraph(g);
  const groups = analyze(out);
  const before = graphMacs(g);
  const target = (1 - fraction) * before;
  // MACs of a conv2d/linear are k · Cin · Cout: removing r channels of a group shrinks its
  // producer's Cout by r and each terminal's Cin by factor · r. An rnnscan's are T · H · G·H (its
  // wh [H, G·H]): removing r units shrinks its Cin by r, its Cout and its x-projection's by G · r.
  const layers = out.nodes
    .filter((n): n is Producer | Scan => isProducer(n) || n.op === 'rnnscan')
    .map((n) => {
      const w = out.constants[n.inputs[1]]?.shape ?? out.values[n.inputs[1]].shape;
      const cin = w[w.length - 2];
      const cout = w[w.length - 1];
      return { node: n, perCinCout: nodeMacs(out, n) / (cin * cout), cin, cout };
    });
  const byNode = new Map(layers.map((l) => [l.node, l]));
  // MACs outside conv2d/linear/rnnscan (attention's matmuls, pooling) count too; a head takes its share of the matmuls
  const heads = findHeadGroups(out);
  const headsGone = new Map<HeadGroup, Set<number>>(heads.map((h) => [h, new Set()]));
  const layerMacs = () => layers.reduce((s, l) => s + l.perCinCout * l.cin * l.cout, 0);
  const others = before - layerMacs();
  const macs = () =>
    layerMacs() + others - heads.reduce((s, h) => s + ((headsGone.get(h)?.size ?? 0) * h.attentionMacs) / h.heads, 0);
  type Candidate =
    | { group: ChannelGroup; channel: number; score: number }
    | { heads: HeadGroup; head: number; score: number };
  const candidates: Candidate[] = [];
  const normalized = (norm: Float64Array) => {
    const mean = norm.reduce((a, b) => a + b, 0) / norm.length;
    return [...norm].map((v) => (mean > 0 ? v / mean : 0));
  };
  for (const group of groups) {
    if (group.blocked) continue;
    normalized((group.gates ? unitNorms : channelNorms)(out, group, criterion)).forEach((score, channel) => {
      candidates.push({ group, channel, score });
    });
  }
  for (const h of heads)
    normalized(headNorms(out, h, criterion)).forEach((score, head) => {
      candidates.push({ heads: h, head, score });
    });
  candidates.sort((a, b) => a.score - b.score);
  const removed = new Map<ChannelGroup, Set<number>>(groups.map((gr) => [gr, new Set()]));
  let current = macs();
  for (const c of candidates) {
    if (current <= target) break;
    if ('heads' in c) {
      // a head: its QKV columns (3·dh), the output linear's rows (dh) and its share of the matmuls; one head stays
      const gone = headsGone.get(c.heads) as Set<number>;
      if (c.heads.heads - gone.size <= 1) continue;
      gone.add(c.head);
      (byNode.get(c.heads.qkv) as (typeof layers)[number]).cout -= 3 * c.heads.dh;
      (byNode.get(c.heads.out) as (typeof layers)[number]).cin -= c.heads.dh;
      current = macs();
      continue;
    }
    const { group, channel } = c;
    const gone = removed.get(group) as Set<number>;
    const minKeep = Math.min(group.channels, Math.max(4, Math.ceil(0.1 * group.channels)));
    if (group.channels - gone.size <= minKeep) continue;
    gone.add(channel);
    const layer = (n: Producer | Scan) => byNode.get(n) as (typeof layers)[number];
    const p = group.producer;
    if (p.op === 'rnnscan') {
      const G = gatesOf(p);
      layer(p).cin--;
      layer(p).cout -= G;
      layer(group.gates as Producer).cout -= G;
    } else layer(p).cout--;
    for (const t of group.terminals) layer(t.node).cin -= t.factor;
    current = macs();
  }
  const channelCandidates = candidates.filter((c): c is Extract<Candidate, { group: ChannelGroup }> => 'group' in c);
  if (align > 1) alignRemoved(groups, removed, channelCandidates, align);
  const keeps = new Map<ChannelGroup, number[]>();
  for (const [group, gone] of removed)
    if (gone.size)
      keeps.set(
        group,
        range(group.channels).filter((c) => !gone.has(c)),
      );
  for (const [group, keep] of keeps) applyKeep(out, group, keep);
  // heads after channels: a group's applyKeep re-reads shapes from the graph, head removal re-infers them
  const headReports: LayerPruneReport[] = [];
  for (const h of heads) {
    const gone = headsGone.get(h) as Set<number>;
    const macsOf = (gr: Graph) =>
      nodeMacs(gr, h.qkv) +
      nodeMacs(gr, h.out) +
      h.region.reduce((s, n) => s + (n.op === 'matmul' ? nodeMacs(gr, n) : 0), 0);
    const before = macsOf(out);
    const kept = range(h.heads).filter((j) => !gone.has(j));
    if (gone.size) applyHeadKeep(out, h, kept);
    headReports.push({
      layer: h.qkv.name,
      op: 'attention',
      channels: [h.heads, kept.length],
      macs: [before, macsOf(out)],
      ...(gone.size ? { kept } : {}),
    });
  }
  const after = graphMacs(out);
  return {
    graph: out,
    layers: [...layerReports(g, out, groups, keeps), ...headReports],
    macs: { before, after, target },
    reached: after <= target,
  };
}

/**
 * Rounds each group's kept count to the nearest multiple of `align` (ties up, at least one
 * multiple, at most all channels) by restoring its best removed channels or removing its weakest
 * kept ones (`ranked`: every candidate, least important first).
 */
function alignRemoved(
  groups: readonly ChannelGroup[],
  removed: Map<ChannelGroup, Set<number>>,
  ranked: readonly { group: ChannelGroup; channel: number }[],
  align: number,
): void {
  for (const group of groups) {
    const gone = removed.get(group) as Set<number>;
    if (gone.size === 0 || group.channels <= align) continue;
    const kept = group.channels - gone.size;
    const want = Math.min(group.channels, Math.max(align, Math.round(kept / align) * align));
    const order = ranked.filter((c) => c.group === group).map((c) => c.channel);
    if (want > kept) {
      const back = order
        .filter((c) => gone.has(c))
        .reverse()
        .slice(0, want - kept);
      for (const c of back) gone.delete(c);
    } else {
      const more = order.filter((c) => !gone.has(c)).slice(0, kept - want);
      for (const c of more) gone.add(c);
    }
  }
}
