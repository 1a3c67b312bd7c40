// Hand-written ONNX models with several named inputs and outputs of several element types, for the
// named-tensor API (InferenceModel.runNamed), serve's 'tensor' models and the import flags: what a
// PyTorch or TensorFlow export of a recommender or a tokenized model looks like at its boundary.
import { DT, type NodeProto, onnx, type TensorProto } from '../../src/onnx/proto.js';
import { init, int64Init, node } from './fixtures.js';

/** A graph input or output: name, ONNX element type, dims (a string is a symbolic dim). */
export interface IoDecl {
  name: string;
  elem: number;
  dims?: (number | string)[];
}

const info = (d: IoDecl) => ({
  name: d.name,
  type: {
    tensorType: {
      elemType: d.elem,
      shape: d.dims
        ? { dim: d.dims.map((v) => (typeof v === 'string' ? { dimParam: v } : { dimValue: v })) }
        : undefined,
    },
  },
});

/** An ONNX model of the given inputs, outputs, nodes and initializers (opset 17). */
export function onnxModel(opts: {
  inputs: IoDecl[];
  outputs: IoDecl[];
  nodes: NodeProto[];
  inits?: TensorProto[];
  opset?: number;
}): Uint8Array {
  const m = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'hand',
    opsetImport: [{ domain: '', version: opts.opset ?? 17 }],
    graph: {
      name: 'named',
      node: opts.nodes,
      initializer: opts.inits ?? [],
      input: opts.inputs.map(info),
      output: opts.outputs.map(info),
    },
  });
  return onnx.ModelProto.encode(m).finish();
}

/** The embedding table of twoInputModel: 10 rows of 4. */
export const TABLE = Float32Array.from({ length: 40 }, (_, i) => Math.sin(i * 0.7) * 2);

/**
 * Two batched inputs of two types, three outputs of three types:
 *   x   float [N, 3, 4], ids int64 [N, 3]
 *   sum  = Gather(TABLE [10, 4], ids) + x        float [N, 3, 4]
 *   best = ArgMax(sum, axis 2)                   int64 [N, 3]
 *   pos  = sum > 0                               bool  [N, 3, 4]
 */
export function twoInputModel(): Uint8Array {
  return onnxModel({
    inputs: [
      { name: 'x', elem: DT.FLOAT, dims: ['batch', 3, 4] },
      { name: 'ids', elem: DT.INT64, dims: ['batch', 3] },
    ],
    outputs: [
      { name: 'sum', elem: DT.FLOAT, dims: ['batch', 3, 4] },
      { name: 'best', elem: DT.INT64, dims: ['batch', 3] },
      { name: 'pos', elem: DT.BOOL, dims: ['batch', 3, 4] },
    ],
    nodes: [
      node('Gather', ['table', 'ids'], ['rows'], 'gather', { axis: 0 }),
      node('Add', ['rows', 'x'], ['sum'], 'add'),
      node('ArgMax', ['sum'], ['best'], 'argmax', { axis: 2, keepdims: 0 }),
      node('Greater', ['sum', 'zero'], ['pos'], 'greater'),
    ],
    inits: [init('table', [10, 4], TABLE), init('zero', [], [0])],
  });
}

/**
 * Fixed shapes, no batch axis: a float [2, 3] and an int32 [3] in, their broadcast product
 * 'prod' float [2, 3] and the int32 'total' ReduceSum of b (keepdims 0, a scalar []) out.
 */
export function fixedModel(): Uint8Array {
  return onnxModel({
    inputs: [
      { name: 'a', elem: DT.FLOAT, dims: [2, 3] },
      { name: 'b', elem: DT.INT32, dims: [3] },
    ],
    outputs: [
      { name: 'prod', elem: DT.FLOAT, dims: [2, 3] },
      { name: 'total', elem: DT.INT32, dims: [] },
    ],
    nodes: [
      node('Cast', ['b'], ['bf'], 'cast', { to: DT.FLOAT }),
      node('Mul', ['a', 'bf'], ['prod'], 'mul'),
      node('ReduceSum', ['b'], ['total'], 'sum', { keepdims: 0 }),
    ],
  });
}

/**
 * A symbolic non-batch dim and a shape input: x float [N, 'len'] reshaped by the int64 input
 * 'shape' [3] (Reshape needs it as a constant: `--fix-input shape=…`), then doubled.
 */
export function symbolicModel(): Uint8Array {
  return onnxModel({
    inputs: [
      { name: 'x', elem: DT.FLOAT, dims: ['batch', 'len'] },
      { name: 'shape', elem: DT.INT64, dims: [3] },
    ],
    outputs: [{ name: 'y', elem: DT.FLOAT }],
    nodes: [node('Reshape', ['x', 'shape'], ['r'], 'reshape'), node('Mul', ['r', 'two'], ['y'], 'mul')],
    inits: [init('two', [], [2])],
  });
}

/** A batched input beside a fixed-shape one: y = x [N, 4] + bias [4]. */
export function mixedModel(): Uint8Array {
  return onnxModel({
    inputs: [
      { name: 'x', elem: DT.FLOAT, dims: ['batch', 4] },
      { name: 'bias', elem: DT.FLOAT, dims: [4] },
    ],
    outputs: [{ name: 'y', elem: DT.FLOAT, dims: ['batch', 4] }],
    nodes: [node('Add', ['x', 'bias'], ['y'], 'add')],
  });
}

/** No inputs: one int64 output 'k' = [7, 8] (an initializer through Identity). */
export function constantModel(): Uint8Array {
  return onnxModel({
    inputs: [],
    outputs: [{ name: 'k', elem: DT.INT64, dims: [2] }],
    nodes: [node('Identity', ['seven'], ['k'], 'id')],
    inits: [int64Init('seven', [7, 8])],
  });
}
