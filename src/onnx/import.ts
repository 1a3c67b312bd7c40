// Import: an ONNX model (opsets 1–22) as a Graduate graph, so compile, inspect, predict, serve and
// InferenceModel take it. Two paths read models (import/paths.ts decides):
// - the image path (import/importer.ts; opsets 9–22) for single-input float classifiers: it maps
//   them onto Graduate's NHWC kernels with no transposes — it tracks, for every ONNX tensor, how
//   its logical layout maps onto the NHWC value that holds it (import/layout.ts), so Transpose,
//   Reshape, Flatten, Squeeze and Unsqueeze become relabellings; an NCHW input becomes an NHWC
//   input (meta.onnx.inputLayout). Chains of elementwise ops with scalar constants become affine
//   and activation nodes, per-channel constants affine nodes. Quantized models (QDQ, QLinear*,
//   *Integer) become Graduate's int8 IR and run on the int8 kernels (docs/onnx.md). Each op is
//   converted by its entry in import/converters.ts.
// - the general path (import/general.ts, general-ops.ts) for everything else, and for what the
//   image path refuses: any number of named inputs and outputs, any rank, fixed or batched
//   shapes, float/integer/bool tensors (as float32/int32), ONNX's own axis order, sequences
//   resolved at import; shape arithmetic folds into constants. `warn` says when a model the image
//   path was made for fell back here (its int8 layers then compute in float).
// Everything else is a FormatError naming the node, its op and what is supported. Graduate's own
// export starts with its input normalization, or declares its preparation in metadata_props
// 'input' (docs/inputs.md): either becomes meta.input again. What the caller declares
// (`ImportOptions.input`: `graduate import --input-scale … --mean … --std … --layout … --labels …`)
// then overrides what the file says; an image model about which neither says anything is
// reported through `warn` with what will be assumed. The result passes validateGraph.
// Not for: writing ONNX (export.ts).
import { dirname, resolve } from 'node:path';
import { FormatError, GraduateError, ValueError } from '../errors.js';
import type { Graph } from '../graph/ir.js';
import { validateGraph } from '../graph/validate.js';
import { describePreparation } from '../runtime/image-input.js';
import type { OnnxInputMeta } from './export.js';
import { type PathOptions, readModel } from './import/paths.js';
import { type ModelProto, num, onnx } from './proto.js';

export { SUPPORTED_MS_OPS, SUPPORTED_OPS } from './import/converters.js';

export interface ImportOptions {
  /** Folder that external tensor data paths are relative to (default: the model file's folder). */
  baseDir?: string;
  /** The input preparation and labels the model was trained with, as the user declares them. */
  input?: DeclaredInput;
  /**
   * Shapes of inputs the model leaves symbolic, by ONNX input name (the general path). A first
   * dimension of -1 keeps a batch axis there; otherwise the shape is fixed (a batched input too).
   */
  shapes?: Record<string, readonly number[]>;
  /**
   * Inputs fixed to a value at import, by ONNX input name (shape/axes inputs a static graph needs
   * as constants). Without `shape`: the one `shapes` gives, else the model's own when fixed, else
   * [n] for a rank-1 input and [] for a scalar.
   */
  constants?: Record<string, { shape?: readonly number[]; data: ArrayLike<number> }>;
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
    const g = readModel(model, source, opts.baseDir ?? dirname(resolve(source)), inputOptions(model, source, opts));
    const why = (g.meta.onnx as { perSampleBecause?: string } | undefined)?.perSampleBecause;
    if (why && opts.warn)
      opts.warn(
        `${source}: the batch axis cannot be carried through this graph (${why.replace(`${source}: `, '')}): it is specialized to one sample, and a batch runs sample by sample`,
      );
    const refused = (g.meta.onnx as { imagePathRefused?: string } | undefined)?.imagePathRefused;
    if (refused && opts.warn)
      opts.warn(
        `${source}: read by the general import path (ONNX's axis order, host loops where no kernel applies${
          /Quantize|int8|QLinear|Integer/.test(refused) ? '; quantized layers compute in float, not int8' : ''
        }): the image path refused it: ${refused.replace(`${source}: `, '')}`,
      );
    declareInput(g, model, source, opts);
    validateGraph(g, source);
    return g;
  } catch (e) {
    if (e instanceof GraduateError) throw e;
    // a malformed model that slipped past the checks: still a clean error naming the file
    throw new FormatError(`${source}: malformed ONNX model (${(e as Error).message})`);
  }
}

/**
 * `shapes` and `constants` checked against the model's inputs (an unknown name is refused, naming
 * the inputs there are) and made what the import paths take: a shape with a batch axis kept (-1
 * first) is written into the model's declaration of that input, and each fixed input gets its shape.
 */
function inputOptions(model: ModelProto, source: string, opts: ImportOptions): PathOptions {
  if (!opts.shapes && !opts.constants) return {};
  const graph = model.graph;
  const inits = new Set((graph?.initializer ?? []).map((t) => t.name ?? ''));
  const inputs = new Map((graph?.input ?? []).filter((i) => !inits.has(i.name ?? '')).map((i) => [i.name ?? '', i]));
  const known = (name: string, what: string) => {
    const i = inputs.get(name);
    if (!i)
      throw new ValueError(
        `${what} '${name}': ${source} has no input '${name}' (its inputs: ${[...inputs.keys()].join(', ') || 'none'})`,
      );
    return i;
  };
  const declared = (name: string) => {
    const dims = known(name, 'input').type?.tensorType?.shape?.dim;
    return dims?.map((d) => (d.dimValue !== undefined && d.dimValue !== null && !d.dimParam ? num(d.dimValue) : -1));
  };
  const shapes: Record<string, readonly number[]> = {};
  for (const [name, shape] of Object.entries(opts.shapes ?? {})) {
    const input = known(name, '--input-shape');
    if (shape[0] !== -1) {
      shapes[name] = shape;
      continue;
    }
    // a batch axis kept: the general path reads it from the declaration, as a symbolic first dim
    const dims = declared(name);
    const bad = (why: string) => {
      throw new ValueError(`--input-shape ${name}=${shape.join(',')}: ${why}`);
    };
    if (shape.slice(1).some((d) => !Number.isInteger(d) || d < 0))
      bad('dimensions after the batch (-1) must be integers ≥ 0');
    if (dims && dims.length !== shape.length) bad(`rank ${shape.length}, but ${source} declares rank ${dims.length}`);
    dims?.forEach((d, i) => {
      if (i > 0 && d >= 0 && d !== shape[i]) bad(`dimension ${i} is ${d} in ${source}`);
    });
    const tt = input.type?.tensorType;
    if (tt) tt.shape = { dim: shape.map((d, i) => (i === 0 ? { dimParam: 'batch' } : { dimValue: d })) };
  }
  const constants: PathOptions['constants'] = {};
  for (const [name, c] of Object.entries(opts.constants ?? {})) {
    known(name, '--fix-input');
    const dims = declared(name);
    const shape = c.shape ?? opts.shapes?.[name] ?? defaultShape(dims, c.data.length);
    if (!shape || shape.some((d) => d < 0))
      throw new ValueError(
        `--fix-input '${name}': its shape in ${source} is [${(dims ?? []).map((d) => (d < 0 ? '?' : d)).join(', ')}]; give it with --input-shape ${name}=D,…`,
      );
    const n = shape.reduce((a, d) => a * d, 1);
    if (n !== c.data.length)
      throw new ValueError(
        `--fix-input '${name}': ${c.data.length} values, but its shape [${shape.join(', ')}] holds ${n}`,
      );
    constants[name] = { shape, data: c.data };
  }
  return { shapes, constants };
}

/** A fixed input's shape when none is given: the model's own if fixed, else [n] for rank 1 (or no declaration), [] for a scalar. */
function defaultShape(dims: number[] | undefined, n: number): number[] | undefined {
  if (dims?.every((d) => d >= 0)) return dims;
  if (dims ? dims.length === 1 : n !== 1) return [n];
  if (!dims || dims.length === 0) return [];
  return undefined;
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
  textInput(g, model, meta);

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

/**
 * A Graduate text export (metadata 'input' kind 'text' and a 'tokenizer'; one input of token ids
 * [N, L]) imports as a text model again: meta.input is the ids [L] and the tokenizer, which the
 * validator checks, so predict and serve tokenise as the checkpoint did.
 */
function textInput(g: Graph, model: ModelProto, meta: Partial<OnnxInputMeta> | undefined): void {
  const raw = model.metadataProps?.find((p) => p.key === 'tokenizer')?.value;
  const input = g.inputs.length === 1 ? g.values[g.inputs[0]] : undefined;
  if (meta?.kind !== 'text' || typeof raw !== 'string' || input?.dtype !== 'int32' || input.shape.length !== 2) return;
  let tokenizer: unknown;
  try {
    tokenizer = JSON.parse(raw);
  } catch {
    return; // not a tokenizer Graduate wrote: the ids stay a named tensor input
  }
  g.meta.input = { kind: 'text', shape: input.shape.slice(1), tokenizer };
}

/** Graduate's older exports: their first nodes normalize (the importer has turned them into meta.input). */
const hasGraduateNormalization = (meta: Partial<OnnxInputMeta> | undefined) =>
  typeof meta?.normalization === 'object' && meta.normalization !== null;
