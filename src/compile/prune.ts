// Physical pruning: output channels of conv2d/linear layers are removed, weight tensors shrink (no
// masks). A removed channel disappears from its producer (weight columns, bias), from every
// per-channel op after it (affine/batchnorm constants, activations, pools, flatten) and from the
// input of the next conv2d/linear (conv weights' Cin axis; linear rows, where a flatten of
// [H, W, C] maps channel c at (h, w) to row (h·W + w)·C + c). Channels that meet an add, a
// residual, a channel-mixing op (softmax) or a graph output keep their shape.
// Two criteria: dead units (exactly zero on calibration data; outputs unchanged) and structured
// pruning by weight norm to a MAC budget. Runs after eliminate + fold-bn.
import { ValueError } from '../errors.js';
import {
  type Constant,
  cloneGraph,
  consumers,
  type Epilogue,
  type Graph,
  graphMacs,
  type Node,
  nodeMacs,
  numel,
} from '../graph/ir.js';
import { OPS } from '../ops/registry.js';
import { type CalibrateOptions, collectChannelStats } from './calibrate.js';
import { f32, useCounts } from './passes/graph-edit.js';

type Producer = Extract<Node, { op: 'conv2d' | 'linear' }>;

/** The output channels of one conv2d/linear and everything that reads them, up to the next conv2d/linear. */
interface ChannelGroup {
  producer: Producer;
  channels: number;
  /** Per-channel nodes between the producer and the terminals, in graph order. */
  chain: Node[];
  /** conv2d/linear nodes reading the channels as input; factor: inputs per channel (H·W after a flatten). */
  terminals: { node: Producer; factor: number }[];
  /** Why these channels cannot be removed (undefined: they can). */
  blocked?: string;
}

/** Channels before → after and MACs before → after of one conv2d/linear layer. */
export interface LayerPruneReport {
  layer: string;
  op: 'conv2d' | 'linear';
  channels: [number, number];
  macs: [number, number];
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

const isProducer = (n: Node): n is Producer => n.op === 'conv2d' || n.op === 'linear';

/** Whether channel c of n's output depends only on channel c of its first input (the op's trait). */
const perChannel = (n: Node): boolean => OPS[n.op].traits.perChannel === true;

/** Elementwise functions with f(0) = 0: a pruned (all-zero) channel stays zero through them. */
const ZERO_KEEPING = new Set<string>(['relu', 'leakyRelu', 'tanh', 'gelu', 'neg', 'abs', 'square', 'sqrt']);

function analyze(g: Graph): ChannelGroup[] {
  const readers = consumers(g);
  const uses = useCounts(g);
  const order = new Map(g.nodes.map((n, i) => [n, i]));
  return g.nodes.filter(isProducer).map((p) => {
    const w = g.constants[p.inputs[1]];
    const group: ChannelGroup = { producer: p, channels: w.shape[w.shape.length - 1], chain: [], terminals: [] };
    const block = (why: string) => {
      group.blocked ??= why;
    };
    const ownConstants = (n: Node) => {
      for (const c of n.inputs.slice(1)) if (uses.get(c) !== 1) block(`constant '${c}' of '${n.name}' is shared`);
    };
    if (p.attrs.residual) block(`'${p.name}' adds a residual`);
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
        } else if (perChannel(n) && n.inputs[0] === v) {
          group.chain.push(n);
          ownConstants(n);
          const s = g.values[v].shape;
          stack.push([n.output, n.op === 'flatten' ? factor * numel(s.slice(1, -1)) : factor]);
        } else block(`'${v}' feeds '${n.name}' (${n.op}), which mixes channels`);
      }
    }
    group.chain.sort((a, b) => (order.get(a) as number) - (order.get(b) as number));
    return group;
  });
}

/** Indices kept along the last axis of each value of the group when its producer keeps channels `keep`. */
function keptIndices(g: Graph, group: ChannelGroup, keep: readonly number[]): Map<string, number[]> {
  const lists = new Map<string, number[]>([[group.producer.output, [...keep]]]);
  for (const n of group.chain) {
    const inList = lists.get(n.inputs[0]) as number[];
    if (n.op !== 'flatten') {
      lists.set(n.output, inList);
      continue;
    }
    const s = g.values[n.inputs[0]].shape;
    const C = s[s.length - 1];
    const out: number[] = [];
    for (let pos = 0; pos < numel(s.slice(1, -1)); pos++) for (const i of inList) out.push(pos * C + i);
    lists.set(n.output, out);
  }
  return lists;
}

/** A copy of `c` keeping indices `keep` of axis `axis`. */
function sliceAxis(c: Constant, axis: number, keep: readonly number[]): Constant {
  const outer = numel(c.shape.slice(0, axis));
  const inner = numel(c.shape.slice(axis + 1));
  const dim = c.shape[axis];
  const src = c.data as Float32Array;
  const data = new Float32Array(outer * keep.length * inner);
  for (let o = 0; o < outer; o++)
    keep.forEach((k, j) => {
      data.set(src.subarray((o * dim + k) * inner, (o * dim + k + 1) * inner), (o * keep.length + j) * inner);
    });
  const shape = [...c.shape];
  shape[axis] = keep.length;
  return { shape, dtype: 'float32', data };
}

/** Removes from `g` (edited in place: a clone) every channel of the group's producer not in `keep`. */
function applyKeep(g: Graph, group: ChannelGroup, keep: readonly number[]): void {
  const lists = keptIndices(g, group, keep);
  const slice = (name: string, axis: number, list: readonly number[]) => {
    const c = g.constants[name];
    g.constants[name] = sliceAxis(c, axis < 0 ? c.shape.length + axis : axis, list);
  };
  const p = group.producer;
  slice(p.inputs[1], -1, keep);
  if (p.inputs[2]) slice(p.inputs[2], 0, keep);
  for (const [v, list] of lists) {
    const s = g.values[v].shape;
    g.values[v] = { ...g.values[v], shape: [...s.slice(0, -1), list.length] };
  }
  for (const n of group.chain) {
    const list = lists.get(n.inputs[0]) as number[];
    if (n.op === 'affine' || n.op === 'batchnorm') for (const c of n.inputs.slice(1)) slice(c, 0, list);
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
    const { producer: p, channels, blocked } = group;
    const kept = keeps.get(group);
    const q = outNodes.get(p.name) as Producer;
    const w = after.constants[q.inputs[1]].shape;
    return {
      layer: p.name,
      op: p.op,
      channels: [channels, w[w.length - 1]],
      macs: [nodeMacs(before, p), nodeMacs(after, q)],
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
  const p = group.producer;
  if (p.attrs.activation === 'relu') return { value: p.output, upstream: new Set() };
  const readers = consumers(g);
  const upstream = new Set<Node>();
  let cur = p.output;
  for (;;) {
    const r = readers.get(cur);
    if (r?.length !== 1 || !group.chain.includes(r[0]) || g.outputs.includes(cur)) break;
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
  return true; // pools, flatten, dropout
}

/**
 * Removes output channels of conv2d/linear layers that are exactly 0 after their relu for every
 * one of the `n` calibration samples (`calib`: n × per-sample input) and every position; the
 * outputs on that data do not change.
 */
export function pruneDeadUnits(g: Graph, calib: Float32Array, n: number, opts: CalibrateOptions = {}): PruneResult {
  const out = cloneGraph(g);
  const groups = analyze(out);
  const probes = new Map(groups.filter((gr) => !gr.blocked).map((gr) => [gr, probeOf(out, gr)]));
  const values = [...new Set([...probes.values()].map((p) => p.value))];
  const stats = values.length ? collectChannelStats(out, calib, n, values, opts) : new Map();
  const keeps = new Map<ChannelGroup, number[]>();
  for (const [group, probe] of probes) {
    const absMax = stats.get(probe.value)?.absMax as Float32Array;
    const downstream = group.chain.filter((m) => !probe.upstream.has(m));
    const dead = (c: number) => {
      if (absMax[c] !== 0) return false;
      const lists = keptIndices(out, group, [c]);
      return downstream.every((m) => keepsZero(out, m, lists.get(m.inputs[0]) as number[]));
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

/** Importance of each output channel: norm of its weight column (times |affine scale| before any flatten). */
function channelNorms(g: Graph, group: ChannelGroup, criterion: 'l1' | 'l2'): Float64Array {
  const w = f32(g, group.producer.inputs[1]);
  const C = group.channels;
  const norm = new Float64Array(C);
  for (let i = 0; i < w.length; i++) norm[i % C] += criterion === 'l1' ? Math.abs(w[i]) : w[i] * w[i];
  if (criterion === 'l2') for (let c = 0; c < C; c++) norm[c] = Math.sqrt(norm[c]);
  for (const n of group.chain) {
    if (n.op === 'flatten') break;
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
 * Structured pruning: removes the globally least important output channels (weight-column norm
 * over the layer's mean norm) until the graph's MACs are at most (1 − fraction) × before. Each
 * layer keeps at least max(4, 10%) of its channels; channels that must keep their shape (the
 * classes, adds, residuals) are never removed. The result says whether the target was reached.
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
  // producer's Cout by r and each terminal's Cin by factor · r.
  const layers = out.nodes.filter(isProducer).map((n) => {
    const w = out.constants[n.inputs[1]].shape;
    const cin = w[w.length - 2];
    const cout = w[w.length - 1];
    return { node: n, perCinCout: nodeMacs(out, n) / (cin * cout), cin, cout };
  });
  const byNode = new Map(layers.map((l) => [l.node, l]));
  const macs = () => layers.reduce((s, l) => s + l.perCinCout * l.cin * l.cout, 0);
  type Candidate = { group: ChannelGroup; channel: number; score: number };
  const candidates: Candidate[] = [];
  for (const group of groups) {
    if (group.blocked) continue;
    const norm = channelNorms(out, group, criterion);
    const mean = norm.reduce((a, b) => a + b, 0) / norm.length;
    norm.forEach((v, channel) => {
      candidates.push({ group, channel, score: mean > 0 ? v / mean : 0 });
    });
  }
  candidates.sort((a, b) => a.score - b.score);
  const removed = new Map<ChannelGroup, Set<number>>(groups.map((gr) => [gr, new Set()]));
  let current = macs();
  for (const { group, channel } of candidates) {
    if (current <= target) break;
    const gone = removed.get(group) as Set<number>;
    const minKeep = Math.min(group.channels, Math.max(4, Math.ceil(0.1 * group.channels)));
    if (group.channels - gone.size <= minKeep) continue;
    gone.add(channel);
    (byNode.get(group.producer) as (typeof layers)[number]).cout--;
    for (const t of group.terminals) (byNode.get(t.node) as (typeof layers)[number]).cin -= t.factor;
    current = macs();
  }
  if (align > 1) alignRemoved(groups, removed, candidates, align);
  const keeps = new Map<ChannelGroup, number[]>();
  for (const [group, gone] of removed)
    if (gone.size)
      keeps.set(
        group,
        range(group.channels).filter((c) => !gone.has(c)),
      );
  for (const [group, keep] of keeps) applyKeep(out, group, keep);
  const after = graphMacs(out);
  return {
    graph: out,
    layers: layerReports(g, out, groups, keeps),
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
