// Public API of `graduate/runtime`: load a compiled artifact and run it — in Node, in a Worker or
// in a browser page. Lean by design: no training code is reachable from here (a test checks it).

import type { InferenceBackend } from '../backend/backend.js';
import { FileError, FormatError, ShapeError, ValueError } from '../errors.js';
import { readArtifact } from '../graph/artifact.js';
import type { Graph, InputSpec } from '../graph/ir.js';
import { numel } from '../graph/ir.js';
import { Engine, type EngineOptions } from '../kernels/engine.js';
import { nodeBuiltin } from '../kernels/host.js';
import { waveformInput } from './audio-input.js';
import { preparePixels, transposeImages } from './image-input.js';
import { SequenceBuckets } from './sequence-buckets.js';
import { Session } from './session.js';
import {
  declaredArray,
  feedBatch,
  graphSignature,
  type NamedInput,
  type NamedOutput,
  type Signature,
  type TensorInfo,
  toCompute,
} from './signature.js';
import { textInput } from './text-input.js';

export { type AudioFeatureSpec, AudioFeaturizer, featureChannels } from '../audio/features.js';
export { type AudioPreparation, prepareSamples, prepareWav } from '../audio/input.js';
export { resample } from '../audio/resample.js';
export { decodeWav, type WavAudio } from '../audio/wav.js';
export { FileError, FormatError, GraduateError, ShapeError, ValueError } from '../errors.js';
export { crc32, readArtifact, writeArtifact } from '../graph/artifact.js';
export type { Graph, InputSpec } from '../graph/ir.js';
export { encodeText, type TextTokenizer } from '../text/encode.js';
export {
  audioPreparation,
  type ClipLimits,
  checkClip,
  clipSamples,
  waveformInput,
  wavInput,
} from './audio-input.js';
export { describePreparation, type InputPreparation, inputPreparation, tensorShape } from './image-input.js';
export {
  type RecommendedItem,
  type RecommendMeta,
  type RecommendModel,
  type RecommendRequest,
  type RecommendResult,
  recommend,
  recommendBatch,
  recommendMeta,
} from './recommend.js';
export { bucketLengths, SequenceBuckets } from './sequence-buckets.js';
export { Session, type SessionOptions } from './session.js';
export {
  graphSignature,
  type NamedInput,
  type NamedOutput,
  type Signature,
  type TensorDtype,
  type TensorInfo,
} from './signature.js';
export { checkText, type TextLimits, textInput, textPreparation } from './text-input.js';

/** Options of InferenceModel.runNamed. */
export interface RunNamedOptions {
  /** Samples in the batch (default: what the batched inputs' lengths say; 1 when none is batched). */
  batch?: number;
  /** Outputs to return, by name (default: all). */
  outputs?: readonly string[];
}

export interface Prediction {
  /** Top-k classes, best first. */
  top: { label: string; index: number; score: number }[];
}

/** The k most probable classes of one sample's logits [C] (softmax scores), best first. */
export function topClasses(logits: ArrayLike<number>, classNames: readonly string[], k = 3): Prediction['top'] {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  let sum = 0;
  const p = Array.from(logits, (v) => {
    const e = Math.exp(v - max);
    sum += e;
    return e;
  });
  return p
    .map((v, i) => ({ label: classNames[i] ?? String(i), index: i, score: v / sum }))
    .sort((a, c) => c.score - a.score)
    .slice(0, k);
}

/** A loaded model: its graph, a session to run it, and helpers for classification. */
export class InferenceModel {
  readonly session: Session;
  /** The named inputs and outputs (names, declared dtypes, shapes with -1 for a batch axis). */
  readonly signature: Signature;
  /**
   * A text model's shorter lengths: run() pads a batch to its longest text, not to maxTokens
   * (sequence-buckets.ts); undefined for other models.
   */
  readonly sequences: SequenceBuckets | undefined;
  constructor(
    readonly graph: Graph,
    opts: { maxBatch?: number; engine?: Engine; backend?: InferenceBackend } = {},
  ) {
    this.signature = graphSignature(graph);
    this.session = new Session(graph, opts);
    const input = graph.inputs.length === 1 ? graph.values[graph.inputs[0]] : undefined;
    if (graph.meta.input.kind === 'text' && input?.dtype === 'int32' && input.shape.length === 2)
      this.sequences = new SequenceBuckets(graph, this.session, opts);
  }
  /** Inputs in the model's order: name, declared dtype, shape (-1: the batch axis). */
  get inputs(): readonly TensorInfo[] {
    return this.signature.inputs;
  }
  /** Outputs in the model's order (as inputs). */
  get outputs(): readonly TensorInfo[] {
    return this.signature.outputs;
  }
  get inputNames(): string[] {
    return this.signature.inputs.map((t) => t.name);
  }
  get outputNames(): string[] {
    return this.signature.outputs.map((t) => t.name);
  }
  get classNames(): readonly string[] {
    return this.graph.meta.classNames;
  }
  get input(): InputSpec {
    return this.graph.meta.input;
  }
  /**
   * Raw outputs (e.g. logits) for `batch` samples of the model's input tensor: prepared as
   * `input` records ((raw · scale − mean[c]) / std[c]), in its layout (NHWC unless NCHW), the
   * same tensor serve's FP32 input and the ONNX export take (docs/inputs.md).
   */
  run(input: Float32Array | Int32Array, batch: number): Float32Array {
    if (this.graph.inputs.length !== 1)
      throw new ShapeError(
        `InferenceModel.run: the model takes ${this.graph.inputs.length} named inputs (${this.inputNames.join(', ')}); use runNamed`,
      );
    const spec = this.input;
    if (spec.layout === 'NCHW' && input instanceof Float32Array && spec.kind === 'image')
      return this.session.run(transposeImages(input, spec.shape), batch);
    if (this.sequences && input instanceof Int32Array) return this.sequences.run(input, batch);
    return this.session.run(input, batch);
  }
  /**
   * Runs the model on named tensors, as onnxruntime-node's `session.run(feeds)`: `feeds` maps each
   * input name (`inputNames`) to a typed array — the declared type's (BigInt64Array for int64,
   * Uint8Array for bool, …) or the compute type's (Float32Array, Int32Array) — holding `batch`
   * samples of a batched input ([-1, …]) or the whole of a fixed-shape one. Returns every output
   * (or those `outputs` names) by name, in its declared type's array (int64 → BigInt64Array, bool →
   * Uint8Array; float16 → Float32Array). Errors name the input: unknown, missing, wrong length
   * (with the shape expected) or wrong array type. An image model's input is the prepared tensor,
   * in the layout it declares, as for run().
   */
  runNamed(
    feeds: Readonly<Record<string, NamedInput>>,
    opts: number | RunNamedOptions = {},
  ): Record<string, NamedOutput> {
    const o = typeof opts === 'number' ? { batch: opts } : opts;
    const sig = this.signature;
    const names = this.inputNames;
    for (const k of Object.keys(feeds))
      if (!names.includes(k))
        throw new ValueError(`runNamed: unknown input '${k}'; the model takes ${describeAll(sig.inputs)}`);
    const missing = sig.inputs.filter((t) => !Object.hasOwn(feeds, t.name));
    if (missing.length)
      throw new ValueError(
        `runNamed: missing input${missing.length > 1 ? 's' : ''} ${missing.map((t) => `'${t.name}' (${t.dtype} [${t.shape.join(', ')}])`).join(', ')}`,
      );
    const xs = sig.inputs.map((t) => toCompute(t, feeds[t.name], `runNamed: input '${t.name}'`));
    const batch = feedBatch(
      sig.inputs,
      xs.map((x) => x.length),
      o.batch,
    );
    const want = o.outputs ?? this.outputNames;
    for (const k of want)
      if (!this.outputNames.includes(k))
        throw new ValueError(`runNamed: unknown output '${k}'; the model has ${describeAll(sig.outputs)}`);
    const spec = this.input;
    if (spec.layout === 'NCHW' && spec.kind === 'image' && xs[0] instanceof Float32Array)
      xs[0] = transposeImages(xs[0], spec.shape);
    const ys = this.session.runAll(xs, batch);
    const out: Record<string, NamedOutput> = {};
    sig.outputs.forEach((t, i) => {
      if (want.includes(t.name)) out[t.name] = declaredArray(t, ys[i]);
    });
    return out;
  }
  /** Softmax probabilities and the top-k classes of each sample. */
  classify(input: Float32Array | Int32Array, batch: number, k = 3): Prediction[] {
    const logits = this.run(input, batch);
    const C = numel(this.session.outputShape);
    const out: Prediction[] = [];
    for (let b = 0; b < batch; b++)
      out.push({ top: topClasses(logits.subarray(b * C, (b + 1) * C), this.classNames, k) });
    return out;
  }
  /** Pixels (0..255, NHWC, the model's size and channels) → the model's input tensor (see run). */
  prepareImage(pixels: ArrayLike<number>): Float32Array {
    const spec = this.input;
    const n = numel(spec.shape);
    if (pixels.length !== n)
      throw new FormatError(
        `prepareImage: ${pixels.length} pixel values, the model expects [${spec.shape.join(', ')}] = ${n}`,
      );
    return preparePixels(spec, pixels); // as runtime/image-input.ts (predict, serve, the browser page)
  }
  /**
   * Mono samples recorded at `rate` Hz (an audio model) → its input tensor [frames, channels]:
   * resampled to the model's rate, featurised and standardised as its meta.input records (see run).
   */
  prepareAudio(samples: Float32Array, rate: number): Float32Array {
    return waveformInput(this.input, samples, rate, 1, 'prepareAudio');
  }
  /**
   * Texts (a text model) → its input: int32 token ids [texts.length, maxTokens], tokenised by the
   * tokenizer the model records (text/encode.ts encodeText, as its training data), truncated or
   * padded with -1 (see run).
   */
  prepareText(texts: readonly string[]): Int32Array {
    return textInput(this.input, texts, 'prepareText');
  }
  dispose(): void {
    this.sequences?.dispose();
    this.session.dispose();
  }
}

/** "'x' float32 [-1, 3], 'ids' int64 [-1, 3]" */
const describeAll = (ts: readonly TensorInfo[]) =>
  ts.map((t) => `'${t.name}' ${t.dtype} [${t.shape.join(', ')}]`).join(', ');

/** Loads an artifact from bytes, a file path (Node), or a URL (fetch). */
export async function loadArtifact(
  source: string | URL | ArrayBuffer | Uint8Array,
  opts: {
    maxBatch?: number;
    engine?: Engine;
    engineOptions?: EngineOptions;
    backend?: InferenceBackend;
    /** What errors call bytes given directly (a URL or file name they came from). */
    name?: string;
  } = {},
): Promise<InferenceModel> {
  let bytes: Uint8Array;
  let name = opts.name ?? '<bytes>';
  if (source instanceof Uint8Array) bytes = source;
  else if (source instanceof ArrayBuffer) bytes = new Uint8Array(source);
  else {
    name = String(source);
    const fs = nodeBuiltin<typeof import('node:fs/promises')>('node:fs/promises');
    const isUrl = source instanceof URL ? source.protocol !== 'file:' : /^https?:\/\//.test(source);
    if (!isUrl && fs) {
      // node:fs through nodeBuiltin, so that this module still bundles for browsers; the wording
      // is io/read.ts's readFileChecked (which is Node-only): "PATH: cannot read artifact (ENOENT)"
      try {
        bytes = new Uint8Array(await fs.readFile(source));
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === 'EISDIR') throw new FileError(`${name}: is a folder, expected an artifact`);
        throw new FileError(`${name}: cannot read artifact (${code ?? (e as Error).message})`);
      }
    } else {
      let res: Response;
      try {
        res = await fetch(source);
      } catch (e) {
        throw new FileError(`${name}: cannot read artifact (${(e as Error).message})`);
      }
      if (!res.ok) throw new FileError(`${name}: cannot read artifact (HTTP ${res.status} ${res.statusText})`);
      bytes = new Uint8Array(await res.arrayBuffer());
    }
  }
  const graph = readArtifact(bytes, name);
  if (opts.backend) return new InferenceModel(graph, { maxBatch: opts.maxBatch, backend: opts.backend });
  if (!opts.engine && !runtimeEngine) runtimeEngine = Engine.createAsync({ profile: 'infer', ...opts.engineOptions });
  const engine = opts.engine ?? (await (runtimeEngine as Promise<Engine>));
  return new InferenceModel(graph, { maxBatch: opts.maxBatch, engine });
}

/** One engine per process (or Worker) for every loaded model. */
let runtimeEngine: Promise<Engine> | undefined;
