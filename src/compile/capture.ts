// Capture: a trained nn module (with its spec and preprocessing) becomes a graph IR by running its
// forward once in eval mode and recording each op as it is applied (autograd/apply.ts recording):
// any module built from the functional API captures, with no list of layer classes here. Tensors
// carrying the batch become values ([-1, ...]); parameters, buffers and other fixed tensors become
// constants, copied out of backend memory. Nodes are named by the module that applied them
// (its dotted path; `path.op` when a module applies several), or by the label the module gave
// them (autograd/apply.ts labelled: a graph module keeps its graph's node names). Training code
// stays on this side: graph/ never imports nn/.
import { recording } from '../autograd/apply.js';
import { noGrad } from '../autograd/grad-mode.js';
import { ValueError } from '../errors.js';
import type { Constant, Graph, InputSpec, Node } from '../graph/ir.js';
import type { Module } from '../nn/module.js';
import type { OpAttrs, OpName } from '../ops/registry.js';
import { tidy } from '../tensor/scope.js';
import { type Tensor, zeros } from '../tensor/tensor.js';

/** The batch of the probe run: 2, so that a batch axis is told apart from size-1 axes. */
const PROBE_BATCH = 2;

interface Recorded {
  op: OpName;
  ins: readonly Tensor[];
  attrs: unknown;
  out: Tensor;
  module: string;
  /** The node name the applying module gave (labelled), if any. */
  label?: string;
  /** Whether the module applying it has children (a container: its own ops are named path.op). */
  container: boolean;
}

/** A tensor's data as captured (copied at record time: a forward may free its temporaries). */
interface Snapshot {
  shape: number[];
  dtype: Tensor['dtype'];
  data: Float32Array | Int32Array | Int8Array;
}

/** Runs `model` on a probe batch, recording applied ops with the path of the module applying each. */
function record(model: Module, x: Tensor): { ops: Recorded[]; output: Tensor; fixed: Map<Tensor, Snapshot> } {
  const ops: Recorded[] = [];
  const path: string[] = [];
  const containers = new Set<string>();
  // tensors carrying the probe batch, and copies of every other tensor an op read or made
  const batched = new Set<Tensor>([x]);
  const fixed = new Map<Tensor, Snapshot>();
  const snap = (t: Tensor) => {
    if (!fixed.has(t)) fixed.set(t, { shape: [...t.shape], dtype: t.dtype, data: t.data() });
  };
  // module paths: wrap each module's forward for the duration of the probe
  const restore: (() => void)[] = [];
  const named = new Map<Module, string>();
  const walk = (m: Module, p: string) => {
    named.set(m, p);
    for (const [k, c] of m.namedChildren()) walk(c, p ? `${p}.${k}` : k);
  };
  walk(model, '');
  for (const [m, p] of named) if (m.namedChildren().length) containers.add(p);
  for (const [m, p] of named) {
    const own = Object.hasOwn(m, 'forward');
    const f = m.forward;
    m.forward = (t: Tensor) => {
      path.push(p);
      try {
        return f.call(m, t);
      } finally {
        path.pop();
      }
    };
    restore.push(() => {
      if (own) m.forward = f;
      else delete (m as Partial<Module>).forward;
    });
  }
  try {
    const output = recording(
      <K extends OpName>(op: K, ins: readonly Tensor[], attrs: OpAttrs[K], out: Tensor, label?: string) => {
        const module = path[path.length - 1] ?? '';
        for (const t of ins) if (!batched.has(t)) snap(t);
        if (ins.some((t) => batched.has(t))) batched.add(out);
        else snap(out); // computed from constants only: a constant of the graph
        ops.push({ op, ins, attrs, out, module, label, container: containers.has(module) });
      },
      () => model.forward(x),
    );
    return { ops, output, fixed };
  } finally {
    for (const r of restore) r();
  }
}

/** The inference graph of `model` for per-sample input `input.shape`, labelled with classNames. */
export function captureGraph(
  model: Module,
  input: InputSpec,
  classNames: readonly string[],
  opts: { inputDType?: 'float32' | 'int32' } = {},
): Graph {
  const wasTraining = model.training;
  model.eval();
  try {
    return noGrad(() =>
      tidy(() => {
        const x = zeros([PROBE_BATCH, ...input.shape], opts.inputDType ?? 'float32');
        const { ops, output, fixed } = record(model, x);
        return build(model, ops, fixed, x, output, input, classNames, opts.inputDType ?? 'float32');
      }),
    );
  } finally {
    model.train(wasTraining);
  }
}

function build(
  model: Module,
  ops: Recorded[],
  fixed: Map<Tensor, Snapshot>,
  x: Tensor,
  output: Tensor,
  input: InputSpec,
  classNames: readonly string[],
  inputDType: 'float32' | 'int32',
): Graph {
  const g: Graph = {
    inputs: ['input'],
    outputs: [],
    values: { input: { shape: [-1, ...input.shape], dtype: inputDType } },
    constants: {},
    nodes: [],
    meta: { classNames: [...classNames], input, producer: 'graduate' },
  };
  const names = new Map<Tensor, string>([[x, 'input']]);
  const params = new Map<Tensor, string>([...model.namedParameters(), ...model.namedBuffers()].map(([n, t]) => [t, n]));
  const perModule = new Map<string, number>();
  for (const r of ops) perModule.set(r.module, (perModule.get(r.module) ?? 0) + 1);
  const usedNames = new Set<string>();
  let fresh = 0;
  // value names are 'input' and v1, v2, …: a constant never takes one
  const free = (name: string) => !Object.hasOwn(g.constants, name) && name !== 'input' && !/^v\d+$/.test(name);
  const constant = (t: Tensor): string => {
    let name = params.get(t) ?? `const${++fresh}`;
    if (!free(name)) name = `param.${name}`;
    while (!free(name)) name = `const${++fresh}`;
    const s = fixed.get(t) as Snapshot;
    g.constants[name] = { shape: s.shape, dtype: s.dtype, data: s.data } as Constant;
    names.set(t, name);
    return name;
  };
  for (const [i, r] of ops.entries()) {
    const inputs = r.ins.map((t) => names.get(t) ?? constant(t));
    const batched = r.ins.some((t) => g.values[names.get(t) as string] !== undefined);
    const base = r.label ?? (r.module || 'model');
    // a leaf module's one op takes its path; containers (residual blocks) and leaves applying
    // several ops name each path.op (unary: path.fn, e.g. '3.relu'); a labelled op takes its
    // label (the label's later ops, e.g. an unfused epilogue's activation, label.fn)
    const suffix = r.op === 'unary' ? (r.attrs as { fn: string }).fn : r.op;
    const several = r.label ? usedNames.has(base) : r.container || (perModule.get(r.module) ?? 0) > 1;
    let name = several ? `${base}.${suffix}` : base;
    for (let k = 1; usedNames.has(name); k++) name = `${base}.${suffix}.${k}`;
    usedNames.add(name);
    if (!batched) {
      // computed from constants only (no batch): the result is a constant
      constant(r.out);
      continue;
    }
    if (r.out.shape[0] !== PROBE_BATCH)
      throw new ValueError(`capture: '${name}' (${r.op}) moves the batch axis (output [${r.out.shape.join(', ')}])`);
    const out = `v${i + 1}`;
    g.values[out] = { shape: [-1, ...r.out.shape.slice(1)], dtype: r.out.dtype };
    g.nodes.push({ name, op: r.op, inputs, output: out, attrs: irAttrs(r) } as Node);
    names.set(r.out, out);
  }
  const out = names.get(output);
  if (!out || !g.values[out]) throw new ValueError('capture: the model output does not depend on its input');
  g.outputs = [out];
  return g;
}

/** Attributes as the IR stores them: batch-sized extents of the probe become -1 (the batch). */
function irAttrs(r: Recorded): unknown {
  const a = { ...(r.attrs as Record<string, unknown>) };
  for (const key of ['shape', 'size'] as const) {
    const v = a[key];
    if (Array.isArray(v) && v[0] === PROBE_BATCH) a[key] = [-1, ...v.slice(1)];
  }
  delete a.onStats;
  return a;
}
