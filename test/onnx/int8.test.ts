// Int8 models from other tools (fixtures: scripts/make-int8-onnx.py): PyTorch's QDQ export
// (per-tensor and per-channel weights, the Cast patterns), onnxruntime quantize_static's QDQ
// format (uint8 and int8 activations, per-channel weights, uint8 weights) and the QOperator forms
// (QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger) import into Graduate's int8 IR — conv2d
// / linear with int8 weights reading int8 values — and answer what ONNX Runtime answers on the same
// file within one quantization step of the output; what the int8 kernels cannot express is refused
// by name (then read by the general path in float, recorded as meta.onnx.path 'general', or refused
// there too) or computed in float32 with a note in meta.onnx.int8.
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { runPasses } from '../../src/compile/passes/index.js';
import { FormatError } from '../../src/errors.js';
import { readArtifact, writeArtifact } from '../../src/graph/artifact.js';
import type { Graph } from '../../src/graph/ir.js';
import { Importer } from '../../src/onnx/import/importer.js';
import { importOnnx } from '../../src/onnx/import.js';
import { DT, onnx, type TensorProto } from '../../src/onnx/proto.js';
import { handModel, init, node, runGraph } from './fixtures.js';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'onnx', 'int8');
const H = 16;

/** n deterministic inputs in [0, 1] (smooth patterns plus noise, like images). */
function inputs(n: number): Float32Array {
  const x = new Float32Array(n * H * H);
  let s = 7;
  for (let i = 0; i < x.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const b = Math.floor(i / (H * H));
    x[i] = Math.min(1, Math.max(0, 0.5 + 0.4 * Math.sin(i * 0.07 * ((b % 5) + 1) + b) + ((s % 100) - 50) / 500));
  }
  return x;
}

/**
 * ONNX Runtime's answer with its graph optimizations off: QDQ nodes then run as ONNX defines them
 * (DequantizeLinear, the float op, QuantizeLinear). Optimized, it fuses them into its u8s8 kernels,
 * which on x86 without VNNI add pairs of products in saturating int16 (up to 10 steps off on
 * these models here); QLinear* ops run its integer kernels either way (the fixtures give them
 * uint8 weights, whose u8u8 kernels widen first).
 */
async function runOrt(path: string, x: Float32Array, dims: number[], optimized = false): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(path, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: optimized ? 'all' : 'disabled',
  });
  try {
    const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x, dims) });
    return out[s.outputNames[0]].data as Float32Array;
  } finally {
    await s.release();
  }
}

interface Int8Meta {
  int8Layers: string[];
  float32Layers: { name: string; reason: string }[];
}
const int8Meta = (g: Graph) => (g.meta.onnx as { int8?: Int8Meta } | undefined)?.int8;

/** The scale of the last quantization before the output (the output's step). */
function outputStep(g: Graph): number {
  for (const n of [...g.nodes].reverse()) {
    const q = g.values[n.inputs[0]]?.quant ?? g.values[n.output]?.quant;
    if (q) return q.scale[0];
  }
  throw new Error('no quantized value');
}

const CASES: { file: string; int8: number; float?: RegExp; conv?: boolean; softmax?: boolean }[] = [
  { file: 'torch-qnnpack-cnn.onnx', int8: 4, conv: true },
  { file: 'torch-onednn-cnn.onnx', int8: 4, conv: true },
  { file: 'torch-qnnpack-mlp.onnx', int8: 3 },
  { file: 'ort-qdq-cnn-u8.onnx', int8: 3, conv: true },
  { file: 'ort-qdq-mlp-s8.onnx', int8: 2, softmax: true },
  { file: 'ort-qdq-u8-weights.onnx', int8: 1, float: /beyond int8/ },
  { file: 'qop-cnn.onnx', int8: 3, conv: true },
  { file: 'qop-integer.onnx', int8: 2, conv: true },
];

describe('int8 ONNX models import into the int8 IR and match ONNX Runtime', () => {
  it.each(CASES)('$file', async ({ file, int8, float, conv, softmax }) => {
    const path = join(DIR, file);
    const bytes = readFileSync(path);
    const g = importOnnx(bytes, path);
    const layers = g.nodes.filter((n) => n.op === 'conv2d' || n.op === 'linear');
    const int8Layers = layers.filter((n) => g.constants[n.inputs[1]].dtype === 'int8');
    // int8 layers read int8 values with per-channel int8 weights
    expect(int8Layers.length).toBe(int8);
    for (const n of int8Layers) {
      expect(g.values[n.inputs[0]].dtype).toBe('int8');
      expect(g.constants[n.inputs[1]].quant?.scale.length).toBe(g.constants[n.inputs[1]].shape.at(-1));
    }
    if (conv) expect(int8Layers.some((n) => n.op === 'conv2d')).toBe(true);
    const meta = int8Meta(g);
    expect(meta?.int8Layers.length).toBe(int8);
    if (float) {
      expect(meta?.float32Layers.length).toBe(layers.length - int8);
      for (const f of meta?.float32Layers ?? []) expect(f.reason).toMatch(float);
    } else expect(meta?.float32Layers).toEqual([]);

    const n = 64;
    const x = inputs(n);
    const ours = runGraph(g, x, n);
    const ref = await runOrt(path, x, [n, 1, H, H]);
    expect(ours.length).toBe(ref.length);
    // within one quantization step of the output (softmax: of its input, which bounds its output's change)
    const step = outputStep(g);
    let worst = 0;
    let same = 0;
    for (let i = 0; i < ref.length; i++) {
      const d = Math.abs(ours[i] - ref[i]);
      worst = Math.max(worst, d);
      if (d <= 1e-6) same++;
    }
    const tol = softmax ? step / 2 : step * 1.0001;
    expect(worst).toBeLessThanOrEqual(tol);
    console.log(
      `${file}: ${int8}/${layers.length} layers int8, max |Δ| ${worst.toExponential(2)} (step ${step.toExponential(2)}), ${((100 * same) / ref.length).toFixed(1)}% identical`,
    );
  });
});

/** An integer initializer (uint8, int8, int16, int32) in raw_data. */
function intInit(name: string, dims: number[], values: number[], dataType: number): TensorProto {
  const bytes = dataType === DT.INT32 ? 4 : dataType === 5 ? 2 : 1;
  const raw = new Uint8Array(values.length * bytes);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => {
    if (bytes === 4) view.setInt32(i * 4, v, true);
    else if (bytes === 2) view.setInt16(i * 2, v, true);
    else view.setUint8(i, v & 0xff);
  });
  return { name, dims, dataType, rawData: raw };
}

describe('an imported int8 model is an artifact like a graduated one', () => {
  it.each(CASES.map((c) => c.file))('%s: passes (graduate import), artifact write/read, same answers', (file) => {
    const path = join(DIR, file);
    const g = importOnnx(readFileSync(path), path);
    const back = readArtifact(writeArtifact(runPasses(g).graph, 'test'), file);
    expect(back.nodes.filter((n) => back.constants[n.inputs[1]]?.dtype === 'int8').length).toBe(
      int8Meta(g)?.int8Layers.length,
    );
    const x = inputs(16);
    expect(Array.from(runGraph(back, x, 16))).toEqual(Array.from(runGraph(g, x, 16)));
  });
});

describe('a hand-written QDQ model: NHWC input, a tensor read as int8 and as float, Gemm alpha', () => {
  it('imports its layers as int8 and matches ONNX Runtime within one output step', async () => {
    const r = (n: number, seed: number, lo: number, hi: number) =>
      Array.from(
        { length: n },
        (_, i) => lo + ((((Math.sin(i * 12.9898 + seed * 78.233) * 43758.5453) % 1) + 1) % 1) * (hi - lo),
      );
    const w8 = r(3 * 2 * 3 * 3, 1, -127, 127).map(Math.round);
    const g8 = r(5 * 48, 2, -127, 127).map(Math.round);
    const m = handModel({
      input: [-1, 4, 4, 2],
      opset: 13,
      nodes: [
        node('QuantizeLinear', ['x', 's0', 'z0'], ['q0'], 'q0'),
        node('DequantizeLinear', ['q0', 's0', 'z0'], ['d0'], 'd0'),
        node('Transpose', ['d0'], ['t'], 'nchw', { perm: [0, 3, 1, 2] }),
        node('DequantizeLinear', ['w8', 'sw', 'zw'], ['w'], 'dw', { axis: 0 }),
        node('Conv', ['t', 'w', 'b'], ['c'], 'conv', { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
        node('QuantizeLinear', ['c', 's1', 'z1'], ['q1'], 'q1'),
        node('DequantizeLinear', ['q1', 's1', 'z1'], ['d1'], 'd1'),
        node('Relu', ['d1'], ['relu'], 'relu'),
        node('QuantizeLinear', ['relu', 's1', 'z1'], ['qr'], 'qr'),
        node('DequantizeLinear', ['qr', 's1', 'z1'], ['dr'], 'dr'),
        node('Add', ['dr', 'd1'], ['a'], 'add'),
        node('QuantizeLinear', ['a', 's2', 'z2'], ['q2'], 'q2'),
        node('DequantizeLinear', ['q2', 's2', 'z2'], ['d2'], 'd2'),
        node('Flatten', ['d2'], ['f'], 'flatten'),
        node('DequantizeLinear', ['g8', 'sg'], ['gw'], 'dg'),
        node('Gemm', ['f', 'gw'], ['g'], 'gemm', { transB: 1, alpha: 0.5 }, ['alpha']),
        node('QuantizeLinear', ['g', 's3', 'z3'], ['q3'], 'q3'),
        node('DequantizeLinear', ['q3', 's3', 'z3'], ['y'], 'out'),
      ],
      inits: [
        init('s0', [], [1 / 255]),
        intInit('z0', [], [0], DT.UINT8),
        intInit('w8', [3, 2, 3, 3], w8, DT.INT8),
        init('sw', [3], [0.002, 0.003, 0.0025]),
        intInit('zw', [3], [0, 0, 0], DT.INT8),
        init('b', [3], [0.1, -0.2, 0.05]),
        init('s1', [], [4 / 255]),
        intInit('z1', [], [128], DT.UINT8),
        init('s2', [], [6 / 255]),
        intInit('z2', [], [85], DT.UINT8),
        intInit('g8', [5, 48], g8, DT.INT8),
        init('sg', [], [0.004]),
        init('s3', [], [0.02]),
        intInit('z3', [], [120], DT.UINT8),
      ],
    });
    const g = importOnnx(m, 'hand.onnx');
    const layers = g.nodes.filter((n) => n.op === 'conv2d' || n.op === 'linear');
    expect(layers.map((n) => g.constants[n.inputs[1]].dtype)).toEqual(['int8', 'int8']);
    expect(int8Meta(g)?.float32Layers).toEqual([]);
    const n = 32;
    const x = Float32Array.from({ length: n * 32 }, (_, i) => ((Math.sin(i * 0.31) + 1) / 2) * 0.98);
    const ours = runGraph(g, x, n); // NHWC in, as the model's input is
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const path = join(mkdtempSync(join(tmpdir(), 'qdq-')), 'hand.onnx');
    writeFileSync(path, m);
    const ref = await runOrt(path, x, [n, 4, 4, 2]);
    let worst = 0;
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(ours[i] - ref[i]));
    expect(worst).toBeLessThanOrEqual(0.02 * 1.0001);
  });
});

describe('what the int8 kernels cannot express is refused by name', () => {
  const s = init('s', [], [0.05]);
  const z = intInit('z', [], [128], DT.UINT8);
  /**
   * The int8 (image) path refuses by name; importOnnx then tries the general path, which either
   * refuses too or computes ONNX's arithmetic in float (recorded: meta.onnx.path 'general', no int8).
   */
  const refused = (m: Uint8Array, re: RegExp) => {
    const int8Path = () => new Importer(onnx.ModelProto.decode(m), 'm.onnx', tmpdir()).run();
    expect(int8Path).toThrow(FormatError);
    expect(int8Path).toThrow(re);
    let g: Graph | undefined;
    try {
      g = importOnnx(m, 'm.onnx');
    } catch (e) {
      expect(e).toBeInstanceOf(FormatError);
      return;
    }
    expect((g.meta.onnx as { path?: string }).path).toBe('general');
    expect(Object.values(g.constants).some((c) => c.dtype === 'int8')).toBe(false);
  };

  it('per-channel quantization of an activation (Graduate: one scale per int8 tensor)', () => {
    const m = handModel({
      input: [-1, 4],
      nodes: [
        node('QuantizeLinear', ['x', 's4', 'z4'], ['q'], 'q', { axis: 1 }),
        node('DequantizeLinear', ['q', 's4', 'z4'], ['y'], 'dq', { axis: 1 }),
      ],
      inits: [init('s4', [4], [0.1, 0.2, 0.3, 0.4]), intInit('z4', [4], [0, 0, 0, 0], DT.UINT8)],
    });
    refused(m, /node 'q' \(QuantizeLinear\): per-channel quantization of a computed tensor \(4 scales\)/);
  });

  it('16-bit quantization', () => {
    const m = handModel({
      input: [-1, 4],
      nodes: [
        node('QuantizeLinear', ['x', 's', 'z16'], ['q'], 'q'),
        node('DequantizeLinear', ['q', 's', 'z16'], ['y'], 'dq'),
      ],
      inits: [s, intInit('z16', [], [0], 5)],
    });
    refused(m, /node 'q' \(QuantizeLinear\): quantization to element type int16 is not supported/);
  });

  it('a cast of a uint8 tensor to float, and an int8 graph output', () => {
    const cast = handModel({
      input: [-1, 4],
      nodes: [
        node('QuantizeLinear', ['x', 's', 'z'], ['q'], 'q'),
        node('Cast', ['q'], ['y'], 'cast', { to: DT.FLOAT }),
      ],
      inits: [s, z],
    });
    refused(cast, /node 'cast' \(Cast\): a cast of a uint8 tensor to type float is not supported/);
    const out = handModel({
      input: [-1, 4],
      nodes: [node('QuantizeLinear', ['x', 's', 'z'], ['y'], 'q')],
      inits: [s, z],
    });
    refused(out, /graph output is an int8 tensor .*DequantizeLinear it first/);
  });

  it('QLinearConv whose x_zero_point is not the one its input was quantized with', () => {
    const m = handModel({
      input: [-1, 1, 4, 4],
      nodes: [
        node('QuantizeLinear', ['x', 's', 'z'], ['q'], 'q'),
        node('QLinearConv', ['q', 's', 'z0', 'w', 's', 'z0', 's', 'z'], ['c'], 'qconv', { kernel_shape: [1, 1] }),
        node('DequantizeLinear', ['c', 's', 'z'], ['y'], 'dq'),
      ],
      inits: [s, z, intInit('z0', [], [0], DT.UINT8), intInit('w', [1, 1, 1, 1], [3], DT.UINT8)],
    });
    refused(m, /node 'qconv' \(QLinearConv\): x_zero_point differs from the zero point its producer quantized with/);
  });

  it("onnxruntime's dynamic quantization (DynamicQuantizeLinear): scales computed per run", () => {
    refused(readFileSync(join(DIR, 'dynamic-quant.onnx')), /DynamicQuantizeLinear.*quantize the model statically/);
  });
});
