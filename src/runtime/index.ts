// Public API of `graduate/runtime`: load a compiled artifact and run it — in Node, in a Worker or
// in a browser page. Lean by design: no training code is reachable from here (a test checks it).

import { FileError, FormatError } from '../errors.js';
import { readArtifact } from '../graph/artifact.js';
import type { Graph, InputSpec } from '../graph/ir.js';
import { numel } from '../graph/ir.js';
import { Engine, type EngineOptions } from '../kernels/engine.js';
import { nodeBuiltin } from '../kernels/host.js';
import { preparePixels, transposeImages } from './image-input.js';
import { Session } from './session.js';

export { FileError, FormatError, GraduateError, ShapeError, ValueError } from '../errors.js';
export { crc32, readArtifact, writeArtifact } from '../graph/artifact.js';
export type { Graph, InputSpec } from '../graph/ir.js';
export { describePreparation, type InputPreparation, inputPreparation, tensorShape } from './image-input.js';
export { Session, type SessionOptions } from './session.js';

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
  constructor(
    readonly graph: Graph,
    opts: { maxBatch?: number; engine?: Engine } = {},
  ) {
    this.session = new Session(graph, opts);
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
    const spec = this.input;
    if (spec.layout === 'NCHW' && input instanceof Float32Array && spec.kind === 'image')
      return this.session.run(transposeImages(input, spec.shape), batch);
    return this.session.run(input, batch);
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
  dispose(): void {
    this.session.dispose();
  }
}

/** Loads an artifact from bytes, a file path (Node), or a URL (fetch). */
export async function loadArtifact(
  source: string | URL | ArrayBuffer | Uint8Array,
  opts: { maxBatch?: number; engine?: Engine; engineOptions?: EngineOptions } = {},
): Promise<InferenceModel> {
  let bytes: Uint8Array;
  let name = '<bytes>';
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
  if (!opts.engine && !runtimeEngine) runtimeEngine = Engine.createAsync({ profile: 'infer', ...opts.engineOptions });
  const engine = opts.engine ?? (await (runtimeEngine as Promise<Engine>));
  return new InferenceModel(graph, { maxBatch: opts.maxBatch, engine });
}

/** One engine per process (or Worker) for every loaded model. */
let runtimeEngine: Promise<Engine> | undefined;
