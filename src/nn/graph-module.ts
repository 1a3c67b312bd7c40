// GraphModule: a module that runs a graph IR eagerly — an imported ONNX model, an artifact, a
// compiled or pruned graph — by applying each node's registry op through autograd (the same
// `apply` the layers use). So an imported network trains with the fit loop, the optimizers,
// checkpoints and exact resume, and captures back into a graph (compile/capture.ts) under its
// own node names. Not for quantized graphs: int8 values and constants have no gradients.
//
// What trains: the graph's float constants that are weights — inputs 1+ of conv2d, linear,
// affine (but an affine of the graph input: the input's normalization), layernorm, embedding(bag);
// gamma and beta of batchnorm; a constant operand of matmul; the constant operand of an add or mul
// with more than one element (PyTorch's MatMul + Add bias). The other float constants (batchnorm
// statistics, scalars, the input's normalization) are buffers:
// checkpointed, never trained. int32 constants (indices) are written into the spec itself.
// In training, batchnorm keeps its recorded statistics (frozen, as fine-tuning with small batches
// usually wants), dropout masks, fused epilogues run unfused (their vjps need the parts), and a
// final softmax is left out (the loss takes logits); eval mode runs the graph as it is.
// Shapes as the IR has them: NHWC activations, conv weights [KH, KW, Cin, Cout], linear [in, out].
import { apply, labelled } from '../autograd/apply.js';
import { isGradEnabled } from '../autograd/grad-mode.js';
import { ValueError } from '../errors.js';
import { type Constant, type Epilogue, floatData, type Graph, graphMacs, type Node, numel } from '../graph/ir.js';
import { validateGraph } from '../graph/validate.js';
import { type OpAttrs, type OpName, opDef } from '../ops/registry.js';
import { KERNEL_ACTIVATION } from '../ops/rules.js';
import { keep } from '../tensor/scope.js';
import { type Tensor, tensor } from '../tensor/tensor.js';
import { maskedDropout, Sequential } from './layers.js';
import { Module } from './module.js';
import type { GraphSpec, LayerSpec, ModelSpec } from './spec.js';

/** Input indices holding weights, by op (a constant there is a parameter). */
const WEIGHT_INPUTS: Partial<Record<OpName, readonly number[]>> = {
  conv2d: [1, 2],
  linear: [1, 2],
  affine: [1, 2],
  layernorm: [1, 2],
  batchnorm: [1, 2],
  embedding: [1],
  embeddingbag: [1],
  matmul: [0, 1],
  rnnscan: [1, 2],
};

/** Whether constant `name` is a weight of some node of `g` (see the file header). */
function isWeight(g: Graph, name: string): boolean {
  const c = g.constants[name];
  // an affine of the graph input is the input's preparation (normalization), not a layer
  const preparation = (n: Node) => n.op === 'affine' && n.inputs[0] === g.inputs[0];
  return g.nodes.some((n) =>
    n.inputs.some(
      (v, i) =>
        v === name &&
        ((WEIGHT_INPUTS[n.op]?.includes(i) && !preparation(n)) ||
          ((n.op === 'add' || n.op === 'mul') && c.data.length > 1)),
    ),
  );
}

/** The graph's structure as a layer spec: every constant's shape and role, int32 data inline. */
function graphSpec(g: Graph): GraphSpec {
  if (g.inputs.length !== 1 || g.outputs.length !== 1)
    throw new ValueError(
      `a graph module takes one input and gives one output; the graph has ${g.inputs.length} and ${g.outputs.length}`,
    );
  const constants: GraphSpec['constants'] = {};
  for (const [name, c] of Object.entries(g.constants)) {
    if (c.dtype === 'int8' || c.quant)
      throw new ValueError(
        `fine-tuning needs a float model: constant '${name}' is quantized (${c.dtype}); start from the float model`,
      );
    constants[name] =
      c.dtype === 'int32'
        ? { shape: [...c.shape], role: 'fixed', data: [...(c.data as Int32Array)] }
        : { shape: [...c.shape], role: isWeight(g, name) ? 'param' : 'buffer' };
  }
  for (const [name, v] of Object.entries(g.values))
    if (v.dtype === 'int8')
      throw new ValueError(
        `fine-tuning needs a float model: value '${name}' is int8 (quantized); start from the float model`,
      );
  return {
    inputs: [...g.inputs],
    outputs: [...g.outputs],
    values: Object.fromEntries(Object.entries(g.values).map(([k, v]) => [k, { shape: [...v.shape], dtype: v.dtype }])),
    constants,
    nodes: g.nodes.map((n) => structuredClone(n)),
  };
}

/**
 * Checks a graph spec read from a file (a checkpoint's config) as the IR validator checks graphs,
 * for per-sample input `inShape`; its per-sample output shape and MACs. Errors name `path`.
 */
export function checkGraphSpec(
  spec: GraphSpec,
  inShape: readonly number[],
  path: string,
): { outShape: number[]; macs: number } {
  const constants: Record<string, Constant> = {};
  for (const [name, c] of Object.entries(spec.constants ?? {})) {
    const n = Array.isArray(c?.shape) ? numel(c.shape) : 0;
    constants[name] =
      c?.role === 'fixed'
        ? { shape: c.shape, dtype: 'int32', data: Int32Array.from(Array.isArray(c.data) ? c.data : []) }
        : { shape: c?.shape, dtype: 'float32', data: new Float32Array(Number.isSafeInteger(n) && n > 0 ? n : 0) };
  }
  const g = {
    ...spec,
    constants,
    meta: { classNames: [], input: { kind: 'tabular', shape: [...inShape] }, producer: '' },
  };
  validateGraph(g as Graph, path);
  const input = g.values[g.inputs[0]].shape.slice(1);
  if (input.join() !== inShape.join())
    throw new ValueError(`${path}: the graph takes [${input.join(', ')}], the input is [${inShape.join(', ')}]`);
  return { outShape: g.values[g.outputs[0]].shape.slice(1), macs: graphMacs(g as Graph) };
}

/** The ops a node is, run eagerly: a fused epilogue (residual add, activation) applied after its op. */
function runNode(n: Node, ins: Tensor[], value: (name: string) => Tensor): Tensor {
  const ep = n.attrs as Partial<Epilogue>;
  if ((n.op !== 'conv2d' && n.op !== 'linear') || (ep.activation === 'none' && !ep.residual))
    return apply(n.op, ins, n.attrs as OpAttrs[typeof n.op]);
  const { activation = 'none', alpha, residual } = ep;
  let y = apply(n.op, ins, { ...n.attrs, activation: 'none', residual: undefined } as OpAttrs['conv2d']);
  if (residual) y = apply('add', [y, value(residual)], {});
  const fn = KERNEL_ACTIVATION[activation];
  return fn === 'none' ? y : apply('unary', [y], { fn, ...(alpha === undefined ? {} : { alpha }) });
}

export class GraphModule extends Module {
  readonly graph: GraphSpec;
  /** Every constant as a tensor: parameters, buffers and the fixed int32 ones. */
  private readonly tensors = new Map<string, Tensor>();
  private readonly fixed: Tensor[] = [];
  /** The last node, when it is a softmax the loss must not see (training returns its input). */
  private readonly finalSoftmax?: Node;

  /** A module of `spec`'s structure; its parameters and buffers are zeros until loaded (loadWeights). */
  constructor(spec: GraphSpec, data?: (name: string) => Float32Array) {
    super();
    this.graph = spec;
    for (const [name, c] of Object.entries(spec.constants)) {
      if (c.role === 'fixed') {
        const t = keep(tensor(Int32Array.from(c.data), c.shape, 'int32'));
        this.fixed.push(t);
        this.tensors.set(name, t);
        continue;
      }
      const t = tensor(data?.(name) ?? new Float32Array(c.shape.reduce((a, b) => a * b, 1)), c.shape);
      this.tensors.set(name, c.role === 'param' ? this.param(name, t) : this.buffer(name, t));
    }
    const last = spec.nodes[spec.nodes.length - 1];
    if (last?.op === 'softmax' && !last.attrs.log && last.output === spec.outputs[0]) this.finalSoftmax = last;
  }

  /** A module running `g`, with the graph's weights (float16 widened). */
  static fromGraph(g: Graph): GraphModule {
    return new GraphModule(graphSpec(g), (name) => Float32Array.from(floatData(g.constants[name])));
  }

  forward(x: Tensor): Tensor {
    const values = new Map<string, Tensor>([[this.graph.inputs[0], x]]);
    const value = (name: string): Tensor => {
      const t = values.get(name) ?? this.tensors.get(name);
      if (!t) throw new ValueError(`graph module: '${name}' is neither a computed value nor a constant`);
      return t;
    };
    const training = this.training;
    for (const n of this.graph.nodes) {
      if (training && n === this.finalSoftmax) {
        values.set(n.output, value(n.inputs[0]));
        continue;
      }
      const ins = n.inputs.map(value);
      if (training && isGradEnabled() && opDef(n.op).vjp === null && ins.some((t) => t.requiresGrad))
        throw new ValueError(`fine-tuning needs the gradient of node '${n.name}', but op '${n.op}' has no vjp`);
      const out = labelled(n.name, () =>
        n.op === 'dropout' ? maskedDropout(ins[0], n.attrs.p, training) : runNode(n, ins, value),
      );
      values.set(n.output, out);
    }
    return value(this.graph.outputs[0]);
  }

  spec(): LayerSpec {
    return { type: 'graph', ...this.graph };
  }

  override dispose(): void {
    super.dispose();
    for (const t of this.fixed) t.dispose();
  }
}

/**
 * A trainable model of graph `g` with its weights: a Sequential holding one GraphModule, as
 * buildModel builds it from the returned spec (so checkpoints of it load and resume).
 */
export function graphModel(g: Graph): { model: Sequential; spec: ModelSpec } {
  const module = GraphModule.fromGraph(g);
  const spec: ModelSpec = {
    inputShape: g.values[g.inputs[0]].shape.slice(1),
    inputDType: g.values[g.inputs[0]].dtype === 'int32' ? 'int32' : 'float32',
    layers: [module.spec()],
  };
  return { model: new Sequential([module]), spec };
}
