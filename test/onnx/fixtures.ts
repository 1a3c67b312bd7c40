// Shared fixtures of the ONNX tests: small captured models with non-trivial BatchNorm statistics,
// raw pixel inputs and their normalization, ONNX Runtime runs, and a builder for hand-written
// ONNX models (what another producer would write).
import * as ort from 'onnxruntime-node';
import { captureGraph } from '../../src/compile/capture.js';
import type { Graph } from '../../src/graph/ir.js';
import * as G from '../../src/index.js';
import { buildModel } from '../../src/nn/build.js';
import type { LayerSpec } from '../../src/nn/spec.js';
import { DT, type NodeProto, onnx, type TensorProto } from '../../src/onnx/proto.js';
import { Session } from '../../src/runtime/session.js';

export const CNN: LayerSpec[] = [
  { type: 'conv2d', out: 6, kernel: 3, padding: 'same' },
  { type: 'batchnorm' },
  { type: 'relu' },
  { type: 'residual', layers: [{ type: 'conv2d', out: 6, kernel: 3, padding: 'same' }, { type: 'batchnorm' }] },
  { type: 'maxpool2d', kernel: 2 },
  { type: 'conv2d', out: 8, kernel: 3, stride: 2, padding: 'same' },
  { type: 'leakyrelu', alpha: 0.1 },
  { type: 'avgpool2d', kernel: 2, stride: 1 },
  { type: 'gelu' },
  { type: 'flatten' },
  { type: 'dropout', p: 0.3 },
  { type: 'linear', out: 16 },
  { type: 'tanh' },
  { type: 'linear', out: 5 },
];

export const GAP: LayerSpec[] = [
  { type: 'conv2d', out: 8, kernel: 3 },
  { type: 'relu' },
  { type: 'maxpool2d', kernel: 2 },
  { type: 'conv2d', out: 8, kernel: 3, padding: 'same' },
  { type: 'sigmoid' },
  { type: 'globalavgpool' },
  { type: 'linear', out: 4 },
  { type: 'softmax' },
];

export const SHAPE = [12, 12, 3];
export const SPEC = {
  kind: 'image' as const,
  shape: SHAPE,
  scale: 1 / 255,
  mean: [0.5, 0.45, 0.4],
  std: [0.25, 0.2, 0.3],
};

/** A captured eval-mode model with random weights and BatchNorm statistics away from 0/1. */
export function captured(layers: LayerSpec[], seed = 3): Graph {
  G.manualSeed(seed);
  const { model } = buildModel({ inputShape: SHAPE, layers });
  G.tidy(() => {
    for (let i = 0; i < 3; i++) model.forward(G.add(G.mul(G.randn([8, ...SHAPE]), 2), 0.5));
  });
  model.eval();
  const classes = layers.at(-1)?.type === 'softmax' ? 4 : 5;
  const g = captureGraph(
    model,
    SPEC,
    Array.from({ length: classes }, (_, i) => `class ${i}`),
  );
  model.dispose();
  return g;
}

/** n images of raw pixels 0..255 (smooth patterns plus noise, so classes vary). */
export function rawPixels(n: number, seed = 1): Float32Array {
  const per = SHAPE[0] * SHAPE[1] * SHAPE[2];
  const out = new Float32Array(n * per);
  let s = seed;
  for (let i = 0; i < out.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const b = Math.floor(i / per);
    out[i] = Math.round(127.5 + 100 * Math.sin(i * 0.05 * ((b % 7) + 1) + b) + ((s % 50) - 25));
    out[i] = Math.min(255, Math.max(0, out[i]));
  }
  return out;
}

/** The artifact's input preparation: (pixel · scale − mean[c]) / std[c]. */
export function normalize(raw: Float32Array): Float32Array {
  const C = SHAPE[2];
  return raw.map((p, i) => (p * SPEC.scale - SPEC.mean[i % C]) / SPEC.std[i % C]);
}

export function runGraph(g: Graph, x: Float32Array, n: number): Float32Array {
  const s = new Session(g, { engine: G.engine(), maxBatch: n });
  try {
    return s.run(x, n);
  } finally {
    s.dispose();
  }
}

/** Runs an ONNX model's single input in ONNX Runtime (CPU, one thread). */
export async function runOrt(model: Uint8Array | string, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const opts = { intraOpNumThreads: 1, interOpNumThreads: 1 };
  const s =
    typeof model === 'string'
      ? await ort.InferenceSession.create(model, opts)
      : await ort.InferenceSession.create(model, opts);
  try {
    const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x, dims) });
    return out[s.outputNames[0]].data as Float32Array;
  } finally {
    await s.release();
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function argmaxAgreement(a: Float32Array, b: Float32Array, n: number): number {
  const C = a.length / n;
  let same = 0;
  for (let r = 0; r < n; r++) {
    let ia = 0;
    let ib = 0;
    for (let j = 1; j < C; j++) {
      if (a[r * C + j] > a[r * C + ia]) ia = j;
      if (b[r * C + j] > b[r * C + ib]) ib = j;
    }
    if (ia === ib) same++;
  }
  return same / n;
}

/** A float32 initializer in raw_data. */
export function init(name: string, dims: number[], data: ArrayLike<number>): TensorProto {
  return { name, dims, dataType: DT.FLOAT, rawData: new Uint8Array(Float32Array.from(data).buffer) };
}
export function int64Init(name: string, values: number[]): TensorProto {
  return { name, dims: [values.length], dataType: DT.INT64, int64Data: values };
}

/** A hand-written ONNX model: one float input, one output 'y', the given nodes and initializers. */
export function handModel(opts: {
  input: number[];
  nodes: NodeProto[];
  inits?: TensorProto[];
  opset?: number;
  output?: string;
}): Uint8Array {
  const info = (name: string, dims?: number[]) => ({
    name,
    type: {
      tensorType: {
        elemType: DT.FLOAT,
        shape: dims ? { dim: dims.map((d, i) => (i === 0 ? { dimParam: 'batch' } : { dimValue: d })) } : undefined,
      },
    },
  });
  const m = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'hand',
    opsetImport: [{ domain: '', version: opts.opset ?? 17 }],
    graph: {
      name: 'hand',
      node: opts.nodes,
      initializer: opts.inits ?? [],
      input: [info('x', opts.input)],
      output: [info(opts.output ?? 'y')],
    },
  });
  return onnx.ModelProto.encode(m).finish();
}

/** A node with attributes given as plain values (number → INT or FLOAT by `floats`, number[] → INTS). */
export function node(
  op: string,
  inputs: string[],
  outputs: string[],
  name: string,
  attrs: Record<string, number | number[] | string> = {},
  floats: string[] = [],
): NodeProto {
  const T = onnx.AttributeProto.AttributeType;
  const attribute = Object.entries(attrs).map(([k, v]) =>
    typeof v === 'string'
      ? { name: k, type: T.STRING, s: new TextEncoder().encode(v) }
      : Array.isArray(v)
        ? { name: k, type: T.INTS, ints: v }
        : floats.includes(k)
          ? { name: k, type: T.FLOAT, f: v }
          : { name: k, type: T.INT, i: v },
  );
  return { opType: op, input: inputs, output: outputs, name, attribute };
}
