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
// disk would. Graduate's later exports declare the preparation in that metadata instead (their
// input is the prepared tensor, docs/inputs.md): it becomes meta.input here. What the caller
// declares (`ImportOptions.input`: `graduate import --input-scale … --mean … --std … --layout …
// --labels …`) then overrides what the file says; an image model about which neither says
// anything is reported through `warn` with what will be assumed.
// Not for: writing ONNX (export.ts).
import { dirname, resolve } from 'node:path';
import { FormatError, GraduateError, ValueError } from '../errors.js';
import type { Graph } from '../graph/ir.js';
import { validateGraph } from '../graph/validate.js';
import { describePreparation } from '../runtime/image-input.js';
import type { OnnxInputMeta } from './export.js';
import { readModel } from './import/paths.js';
import { type ModelProto, onnx } from './proto.js';

export { SUPPORTED_MS_OPS, SUPPORTED_OPS } from './import/converters.js';

export interface ImportOptions {
  /** Folder that external tensor data paths are relative to (default: the model file's folder). */
  baseDir?: string;
  /** The input preparation and labels the model was trained with, as the user declares them. */
  input?: DeclaredInput;
  /** Shapes of inputs the model leaves symbolic, by ONNX input name (the general path; fixes a batched input too). */
  shapes?: Record<string, readonly number[]>;
  /** Inputs fixed to a value at import, by ONNX input name (shape/axes inputs a static graph needs as constants). */
  constants?: Record<string, { shape: readonly number[]; data: ArrayLike<number> }>;
  /** Told what is assumed about an image model's input when neither the file nor `input` says. */
  warn?: (message: string) => void;
}

/** Declared preparation: input = (raw · scale − mean[c]) / std[c] in `layout`; one mean/std value broadcasts. */
export interface DeclaredInput {
  scale?: number;
  mean?: number[];
  std?: number[];
  layout?: 'NHWC' | 'NCHW';
  classNames?: string[];
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
    const g = readModel(model, source, opts.baseDir ?? dirname(resolve(source)), {
      shapes: opts.shapes,
      constants: opts.constants,
    });
    declareInput(g, model, source, opts);
    validateGraph(g, source);
    return g;
  } catch (e) {
    if (e instanceof GraduateError) throw e;
    // a malformed model that slipped past the checks: still a clean error naming the file
    throw new FormatError(`${source}: malformed ONNX model (${(e as Error).message})`);
  }
}

/** meta.input and classNames from Graduate's declared-preparation metadata, then from `opts.input`. */
function declareInput(g: Graph, model: ModelProto, source: string, opts: ImportOptions): void {
  const spec = g.meta.input;
  const raw = model.metadataProps?.find((p) => p.key === 'input')?.value;
  let meta: Partial<OnnxInputMeta> | undefined;
  try {
    meta = raw ? (JSON.parse(raw) as Partial<OnnxInputMeta>) : undefined;
  } catch {
    meta = undefined; // not Graduate's: the importer has ignored it too
  }
  const C = spec.shape[spec.shape.length - 1];
  const perChannel = (a: unknown, what: string): number[] | undefined => {
    if (a === undefined) return undefined;
    if (!Array.isArray(a) || !a.every((v) => typeof v === 'number' && Number.isFinite(v)))
      throw new FormatError(
        `${source}: metadata 'input' ${what} must be an array of numbers, got ${JSON.stringify(a)}`,
      );
    return a.length === 1 ? new Array<number>(C).fill(a[0]) : a;
  };
  const pre = typeof meta?.preprocessing === 'object' && meta.preprocessing !== null ? meta.preprocessing : undefined;
  if (pre && spec.kind !== 'text') {
    if (pre.scale === undefined) delete spec.scale;
    else if (typeof pre.scale === 'number') spec.scale = pre.scale;
    else throw new FormatError(`${source}: metadata 'input' preprocessing.scale must be a number`);
    const mean = perChannel(pre.mean, 'preprocessing.mean');
    const std = perChannel(pre.std, 'preprocessing.std');
    if (mean) spec.mean = mean;
    if (std) spec.std = std;
  }
  if (meta?.layout === 'NCHW' && spec.kind === 'image') spec.layout = 'NCHW';

  const d = opts.input ?? {};
  const flag = (name: string, value: unknown) => `--${name} ${Array.isArray(value) ? value.join(',') : value}`;
  if (d.scale !== undefined) spec.scale = d.scale;
  for (const [name, key] of [
    ['mean', 'mean'],
    ['std', 'std'],
  ] as const) {
    const a = d[key];
    if (!a) continue;
    if (spec.kind === 'text') throw new ValueError(`${flag(name, a)}: ${source} takes token ids (text), not values`);
    if (a.length !== 1 && a.length !== C)
      throw new ValueError(
        `${flag(name, a)}: ${a.length} values, but the input [${spec.shape.join(', ')}] has ${C} ${spec.kind === 'image' ? 'channels' : 'features'} (give 1 or ${C})`,
      );
    spec[key] = a.length === 1 ? new Array<number>(C).fill(a[0]) : [...a];
  }
  if (d.scale !== undefined && spec.kind === 'text')
    throw new ValueError(`${flag('input-scale', d.scale)}: ${source} takes token ids (text), not values`);
  if (d.layout) {
    if (spec.kind !== 'image')
      throw new ValueError(
        `${flag('layout', d.layout.toLowerCase())}: ${source} takes ${spec.kind} input [${spec.shape.join(', ')}], not images`,
      );
    if (d.layout === 'NCHW') spec.layout = 'NCHW';
    else delete spec.layout;
  }
  if (d.classNames) {
    const out = g.values[g.outputs[0]].shape;
    const n = out.slice(1).reduce((a, v) => a * v, 1);
    if (d.classNames.length !== n)
      throw new ValueError(
        `--labels: ${d.classNames.length} labels, but ${source}'s output [${out.slice(1).join(', ')}] has ${n} values (one label per line, one per output)`,
      );
    g.meta.classNames = [...d.classNames];
  }

  const declared = d.scale !== undefined || d.mean || d.std;
  if (spec.kind === 'image' && !pre && !declared && !hasGraduateNormalization(meta) && opts.warn)
    opts.warn(
      `${source}: no input preprocessing declared; assuming inputs are raw 0–255 pixels fed unscaled (${describePreparation(spec)}). ` +
        'If the model was trained on scaled or normalized inputs, pass --input-scale 1/255 and --mean … --std … (e.g. --input-scale 1/255 --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225).',
    );
}

/** Graduate's older exports: their first nodes normalize (the importer has turned them into meta.input). */
const hasGraduateNormalization = (meta: Partial<OnnxInputMeta> | undefined) =>
  typeof meta?.normalization === 'object' && meta.normalization !== null;
