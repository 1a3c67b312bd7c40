// Import: an ONNX model (opset 9–22) as a Graduate graph, so compile, inspect, predict and serve
// take it. Graduate's graph is NHWC and has no transpose or reshape ops, so the importer tracks,
// for every ONNX tensor, how its logical ONNX layout maps onto the NHWC value that holds it
// (import/layout.ts): Transpose, Reshape, Flatten, Squeeze and Unsqueeze thus become relabellings
// (or Graduate's flatten view). An NCHW graph input becomes an NHWC input (meta.onnx.inputLayout
// says so). Chains of elementwise ops with scalar constants are kept as a function of one value and
// named when used: affine, ReLU, LeakyReLU, sigmoid, tanh, GELU (erf or tanh form — both map onto
// the runtime's tanh GELU, within 5e-4). Per-channel constants become affine nodes. QDQ models
// import as float: DequantizeLinear of int8 weights is folded, QuantizeLinear→DequantizeLinear
// pairs on activations are dropped. Constant subgraphs (shapes, Constant, Identity, casts of
// constants) are folded (import/fold.ts). Each op is converted by its entry in the converter table
// (import/converters.ts, one family per convert-*.ts); everything else is a FormatError naming the
// node, its op and what is supported. Graduate's own export starts with its input normalization:
// recognised by its ops, constants and metadata_props 'input' (never by node names), it becomes
// meta.input again (import/importer.ts). The result passes validateGraph, as an artifact read from
// disk would.
// Not for: writing ONNX (export.ts).
import { dirname, resolve } from 'node:path';
import { FormatError, GraduateError } from '../errors.js';
import type { Graph } from '../graph/ir.js';
import { validateGraph } from '../graph/validate.js';
import { Importer } from './import/importer.js';
import { type ModelProto, onnx } from './proto.js';

export { SUPPORTED_MS_OPS, SUPPORTED_OPS } from './import/converters.js';

export interface ImportOptions {
  /** Folder that external tensor data paths are relative to (default: the model file's folder). */
  baseDir?: string;
}

/** Reads an ONNX model into a Graduate graph; every problem is a FormatError naming `source`. */
export function importOnnx(bytes: Uint8Array, source: string, opts: ImportOptions = {}): Graph {
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new FormatError(`${source}: not a valid ONNX protobuf (${(e as Error).message})`);
  }
  try {
    const g = new Importer(model, source, opts.baseDir ?? dirname(resolve(source))).run();
    validateGraph(g, source);
    return g;
  } catch (e) {
    if (e instanceof GraduateError) throw e;
    // a malformed model that slipped past the checks: still a clean error naming the file
    throw new FormatError(`${source}: malformed ONNX model (${(e as Error).message})`);
  }
}
