// Import: ONNX models as Graduate graphs. Graduate's own export round-trips (outputs equal within
// 1e-5, input preparation and classes restored), QDQ models import as float, files written by
// ONNX Runtime and hand-written NCHW models (PyTorch's layout and op patterns) match ONNX Runtime,
// initializers in typed fields and external files load, and bad files are FormatErrors naming the
// node, op and what is supported — never a crash (fuzzed).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { runPasses } from '../../src/compile/passes/index.js';
import { quantizeGraph } from '../../src/compile/quantize.js';
import { FileError, FormatError } from '../../src/errors.js';
import type { Graph } from '../../src/graph/ir.js';
import { validateGraph } from '../../src/graph/validate.js';
import * as G from '../../src/index.js';
import { exportOnnx } from '../../src/onnx/export.js';
import { importOnnx } from '../../src/onnx/import.js';
import { DT, onnx, type TensorProto } from '../../src/onnx/proto.js';
import {
  argmaxAgreement,
  CNN,
  captured,
  GAP,
  handModel,
  init,
  int64Init,
  maxAbsDiff,
  node,
  normalize,
  rawPixels,
  runGraph,
  runOrt,
  SHAPE,
  SPEC,
} from './fixtures.js';

const N = 8;
const dir = mkdtempSync(join(tmpdir(), 'graduate-onnx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What an imported graph takes for raw pixels: its own recorded preparation. */
function prepare(g: Graph, raw: Float32Array): Float32Array {
  const { scale = 1, mean, std } = g.meta.input;
  const C = g.meta.input.shape.at(-1) as number;
  return raw.map((p, i) => (p * scale - (mean?.[i % C] ?? 0)) / (std?.[i % C] ?? 1));
}

/** NCHW → NHWC for [n, C, H, W] data. */
function toNhwc(x: Float32Array, [n, C, H, W]: number[]): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++)
    for (let c = 0; c < C; c++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++) out[((b * H + h) * W + w) * C + c] = x[((b * C + c) * H + h) * W + w];
  return out;
}

describe('importOnnx: round trip', () => {
  it.each([
    ['CNN', CNN],
    ['GAP', GAP],
  ] as const)(
    '%s: export → import restores the input preparation and classes; outputs equal within 1e-5',
    (_, layers) => {
      const g = captured(layers);
      const back = importOnnx(exportOnnx(g), 'model.onnx');
      expect(back.meta.input).toMatchObject({
        kind: 'image',
        shape: SHAPE,
        scale: SPEC.scale,
        mean: SPEC.mean,
        std: SPEC.std,
      });
      expect(back.meta.classNames).toEqual(g.meta.classNames);
      const x = normalize(rawPixels(N));
      const want = runGraph(g, x, N);
      expect(maxAbsDiff(runGraph(back, x, N), want)).toBeLessThan(1e-5);
      expect(maxAbsDiff(runGraph(runPasses(back).graph, x, N), want)).toBeLessThan(1e-5);
    },
  );

  it('a QDQ (int8) export imports as int8 (test/onnx/int8.test.ts): the same int8 layers, outputs within 1e-5', () => {
    const g = runPasses(captured(GAP)).graph;
    const { graph: q8 } = quantizeGraph(g, normalize(rawPixels(64, 7)), 64, {
      mode: 'int8',
      method: 'minmax',
      engine: G.engine(),
    });
    const back = importOnnx(exportOnnx(q8), 'q.onnx');
    const int8 = (h: Graph) =>
      h.nodes.filter((n) => (n.op === 'conv2d' || n.op === 'linear') && h.constants[n.inputs[1]].dtype === 'int8');
    expect(int8(back).length).toBe(int8(q8).length);
    expect(int8(back).length).toBeGreaterThan(0);
    const n = 100;
    const x = normalize(rawPixels(n, 5));
    const want = runGraph(q8, x, n);
    const got = runGraph(back, x, n);
    expect(argmaxAgreement(got, want, n)).toBe(1);
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);
  });
});

describe("importOnnx: Graduate's normalization is recognised by its ops, constants and metadata, not by names", () => {
  // the raw-input form: its first nodes normalize (older exports were all of this form)
  const exported = () => onnx.ModelProto.decode(exportOnnx(captured(GAP), { rawInput: true }));
  const encode = (m: ReturnType<typeof exported>) => onnx.ModelProto.encode(m).finish();

  it.each(['Unique', 'NonMaxSuppression'])(
    'a %s named like a normalization node is imported or refused, never dropped',
    (op) => {
      const m = exported();
      const nodes = m.graph?.node ?? [];
      // a foreign node between the input and the normalization, under the normalization's name prefix
      nodes[0].input = ['evil'];
      nodes.unshift(
        onnx.NodeProto.create({ opType: op, name: 'graduate/normalize/evil', input: ['input'], output: ['evil'] }),
      );
      expect(() => importOnnx(encode(m), 'evil.onnx')).toThrow(
        new RegExp(`evil\\.onnx: node 'graduate/normalize/evil' \\(${op}\\): op is not supported`),
      );
      // the same op in place of the scale step (same name, same tensors)
      const m2 = exported();
      const scale = m2.graph?.node?.[0] as { opType: string; name: string };
      expect(scale.opType).toBe('Mul');
      scale.opType = op;
      expect(() => importOnnx(encode(m2), 'evil2.onnx')).toThrow(new RegExp(`node '${scale.name}' \\(${op}\\)`));
    },
  );

  it('renamed normalization nodes still restore meta.input', () => {
    const m = exported();
    for (const [i, n] of (m.graph?.node ?? []).entries()) n.name = `layer${i}`;
    const back = importOnnx(encode(m), 'renamed.onnx');
    expect(back.meta.input).toMatchObject({ scale: SPEC.scale, mean: SPEC.mean, std: SPEC.std });
    expect(back.nodes.some((n) => n.op === 'affine')).toBe(false);
  });

  it('one mean and one std for all channels (metadata and Sub/Div constants) broadcast to every channel', () => {
    const m = exported();
    const meta = m.metadataProps?.find((p) => p.key === 'input') as { value: string };
    const spec = JSON.parse(meta.value);
    spec.normalization.mean = [0.5];
    spec.normalization.std = [0.25];
    meta.value = JSON.stringify(spec);
    for (const [op, v] of [
      ['Sub', 0.5],
      ['Div', 0.25],
    ] as const) {
      const node = m.graph?.node?.find((n) => n.opType === op);
      const init = m.graph?.initializer?.find((t) => t.name === node?.input?.[1]);
      if (!init) throw new Error(`no ${op} constant`);
      init.dims = [1];
      init.rawData = new Uint8Array(Float32Array.of(v).buffer);
    }
    const back = importOnnx(encode(m), 'one-mean.onnx');
    expect(back.meta.input).toMatchObject({ mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
  });

  it('nodes whose constants disagree with the metadata import as ordinary ops: raw input in, same answers', () => {
    const m = exported();
    const meta = m.metadataProps?.find((p) => p.key === 'input') as { value: string };
    const spec = JSON.parse(meta.value);
    spec.normalization.mean = [0, 0, 0];
    meta.value = JSON.stringify(spec);
    const back = importOnnx(encode(m), 'other.onnx');
    expect(back.meta.input.mean).toBeUndefined();
    expect(back.meta.input.scale).toBe(1);
    const raw = rawPixels(N);
    const want = runGraph(captured(GAP), normalize(raw), N);
    expect(maxAbsDiff(runGraph(back, raw, N), want)).toBeLessThan(1e-4);
  });
});

describe('importOnnx: other producers', () => {
  it("imports ONNX Runtime's own optimized model (optimizedModelFilePath) and matches ONNX Runtime", async () => {
    const g = captured(CNN);
    const file = join(dir, 'ort-optimized.onnx');
    const s = await ort.InferenceSession.create(exportOnnx(g, { rawInput: true }), {
      graphOptimizationLevel: 'extended',
      optimizedModelFilePath: file,
    });
    await s.release();
    const back = importOnnx(readFileSync(file), file);
    const raw = rawPixels(N, 3);
    const want = await runOrt(file, raw, [N, ...SHAPE]);
    expect(maxAbsDiff(runGraph(back, prepare(back, raw), N), want)).toBeLessThan(1e-4);
  });

  it('imports a hand-written NCHW model (PyTorch patterns: erf GELU, Clip, bias Add, NCHW Reshape, Gemm transB)', async () => {
    const r = (n: number, s: number) => Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + s) * 0.5);
    const bytes = handModel({
      input: [-1, 3, 10, 10],
      nodes: [
        node('Conv', ['x', 'w1', 'b1'], ['c1'], 'conv1', { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
        node('BatchNormalization', ['c1', 'g', 'be', 'mu', 'var'], ['bn'], 'bn1', { epsilon: 1e-3 }, ['epsilon']),
        node('Clip', ['bn', 'zero'], ['r1'], 'relu1'),
        node('MaxPool', ['r1'], ['p1'], 'pool1', { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 }),
        node('Conv', ['p1', 'w2'], ['c2'], 'conv2', { kernel_shape: [3, 3], auto_pad: 'SAME_UPPER' }),
        node('Add', ['c2', 'b2'], ['c2b'], 'conv2.bias'),
        node('Div', ['c2b', 'sqrt2'], ['d'], 'gelu.div'),
        node('Erf', ['d'], ['e'], 'gelu.erf'),
        node('Add', ['e', 'one'], ['e1'], 'gelu.add'),
        node('Mul', ['c2b', 'e1'], ['m'], 'gelu.mul'),
        node('Mul', ['m', 'half'], ['gel'], 'gelu.half'),
        node('Constant', [], ['shape'], 'shape', {}),
        node('Reshape', ['gel', 'shape'], ['flat'], 'flatten'),
        node('Gemm', ['flat', 'w3', 'b3'], ['fc'], 'fc', { transB: 1, alpha: 0.5 }, ['alpha']),
        node('Sub', ['fc', 'mean'], ['fcs'], 'center'),
        node('Identity', ['fcs'], ['id'], 'identity'),
        node('Softmax', ['id'], ['y'], 'softmax', { axis: -1 }),
      ].map((n) =>
        n.name === 'shape'
          ? {
              ...n,
              attribute: [
                { name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: int64Init('s', [0, -1]) },
              ],
            }
          : n,
      ),
      inits: [
        init('w1', [4, 3, 3, 3], r(108, 1)),
        init('b1', [4], r(4, 2)),
        init('g', [4], [1, 0.5, 1.5, 0.8]),
        init('be', [4], r(4, 3)),
        init('mu', [4], r(4, 4)),
        init('var', [4], [0.5, 1, 2, 0.7]),
        init('zero', [], [0]),
        init('w2', [5, 4, 3, 3], r(180, 5)),
        init('b2', [1, 5, 1, 1], r(5, 6)),
        init('sqrt2', [], [Math.SQRT2]),
        init('one', [], [1]),
        init('half', [], [0.5]),
        init('w3', [6, 125], r(750, 7)),
        init('b3', [6], r(6, 8)),
        init('mean', [6], r(6, 9)),
      ],
    });
    const g = importOnnx(bytes, 'hand.onnx');
    expect(g.values[g.inputs[0]].shape).toEqual([-1, 10, 10, 3]);
    expect(g.meta.onnx).toMatchObject({ inputLayout: 'NCHW' });
    expect(g.nodes.map((n) => n.op)).toContain('flatten');
    expect(g.nodes.find((n) => n.op === 'unary' && n.attrs.fn === 'gelu')).toBeDefined();
    const x = Float32Array.from(rawPixels(N).subarray(0, N * 300), (v) => v / 255 - 0.5);
    const want = await runOrt(bytes, x, [N, 3, 10, 10]);
    // Graduate's GELU is the tanh form: within 5e-4 of erf GELU
    expect(maxAbsDiff(runGraph(g, toNhwc(x, [N, 3, 10, 10]), N), want)).toBeLessThan(1e-3);
  });

  it('imports LayerNormalization (opset 17) and exports layernorm (LayerNormalization, opset 17): both match ONNX Runtime', async () => {
    const r = (n: number, s: number) => Array.from({ length: n }, (_, i) => Math.sin(i * 1.3 + s) * 0.7);
    const bytes = handModel({
      input: [-1, 12],
      nodes: [
        node('MatMul', ['x', 'w'], ['h'], 'fc'),
        node('LayerNormalization', ['h', 'scale', 'b'], ['y'], 'ln', { epsilon: 1e-3 }, ['epsilon']),
      ],
      inits: [init('w', [12, 9], r(108, 1)), init('scale', [9], r(9, 2)), init('b', [9], r(9, 3))],
    });
    const g = importOnnx(bytes, 'ln.onnx');
    expect(g.nodes.map((n) => n.op)).toEqual(['linear', 'layernorm']);
    const x = Float32Array.from({ length: N * 12 }, (_, i) => Math.cos(i * 0.37) * 2);
    const want = await runOrt(bytes, x, [N, 12]);
    expect(maxAbsDiff(runGraph(g, x, N), want)).toBeLessThan(1e-4);
    // and back out as one LayerNormalization (the export writes opset 17)
    const exported = exportOnnx(g);
    expect(onnx.ModelProto.decode(exported).graph?.node?.map((n) => n.opType)).toContain('LayerNormalization');
    expect(maxAbsDiff(await runOrt(exported, x, [N, 12]), want)).toBeLessThan(1e-4);
    // a LayerNormalization over more than the last axis is refused by name
    const wide = handModel({
      input: [-1, 3, 4],
      nodes: [node('LayerNormalization', ['x', 'scale'], ['y'], 'ln2', { axis: 1 })],
      inits: [init('scale', [3, 4], r(12, 4))],
    });
    // over more than the last axis: the general path composes it of reductions (ONNX's axis order kept)
    const gw = importOnnx(wide, 'wide.onnx');
    expect((gw.meta.onnx as { path?: string }).path).toBe('general');
    const xw = Float32Array.from({ length: N * 12 }, (_, i) => Math.cos(i * 0.41) * 3);
    expect(maxAbsDiff(runGraph(gw, xw, N), await runOrt(wide, xw, [N, 3, 4]))).toBeLessThan(1e-4);
  });

  it('maps GlobalAveragePool → Squeeze → MatMul + Add → Sigmoid, Constant and Dropout', async () => {
    const bytes = handModel({
      input: [-1, 2, 5, 5],
      opset: 13,
      nodes: [
        node('Conv', ['x', 'w'], ['c'], 'conv', { kernel_shape: [1, 1] }),
        node('LeakyRelu', ['c'], ['l'], 'leaky', { alpha: 0.2 }, ['alpha']),
        node('AveragePool', ['l'], ['a'], 'avg', { kernel_shape: [2, 2], pads: [1, 1, 0, 0] }),
        node('GlobalAveragePool', ['a'], ['gap'], 'gap'),
        node('Squeeze', ['gap', 'axes'], ['sq'], 'squeeze'),
        node('Dropout', ['sq'], ['dr'], 'dropout'),
        node('MatMul', ['dr', 'wm'], ['mm'], 'matmul'),
        node('Add', ['mm', 'bm'], ['mb'], 'bias'),
        node('Sigmoid', ['mb'], ['y'], 'sigmoid'),
      ],
      inits: [
        init('w', [3, 2, 1, 1], [1, -1, 0.5, 2, -0.3, 0.7]),
        int64Init('axes', [2, 3]),
        init('wm', [3, 2], [1, 2, -1, 0.5, 0.3, -2]),
        init('bm', [2], [0.1, -0.2]),
      ],
    });
    const g = importOnnx(bytes, 'gap.onnx');
    const x = Float32Array.from({ length: N * 50 }, (_, i) => Math.cos(i * 0.3));
    const want = await runOrt(bytes, x, [N, 2, 5, 5]);
    expect(maxAbsDiff(runGraph(g, toNhwc(x, [N, 2, 5, 5]), N), want)).toBeLessThan(1e-5);
  });
});

describe('importOnnx: tensor storage', () => {
  it('reads initializers from typed fields and from external data files', () => {
    const g = captured(GAP);
    const m = onnx.ModelProto.decode(exportOnnx(g));
    const inits = m.graph?.initializer ?? [];
    let offset = 0;
    const chunks: Uint8Array[] = [];
    for (const [i, t] of inits.entries()) {
      if (t.dataType !== DT.FLOAT || !t.rawData) continue;
      const copy = Uint8Array.from(t.rawData); // protobufjs gives Node Buffers: views into the whole file
      if (i % 2 === 0) {
        t.floatData = Array.from(new Float32Array(copy.buffer));
      } else {
        chunks.push(copy);
        t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
        t.externalData = [
          { key: 'location', value: 'weights.bin' },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(copy.length) },
        ];
        offset += copy.length;
      }
      t.rawData = new Uint8Array();
    }
    const sub = join(dir, 'ext');
    rmSync(sub, { recursive: true, force: true });
    mkdirSync(sub);
    writeFileSync(join(sub, 'weights.bin'), Buffer.concat(chunks));
    const file = join(sub, 'model.onnx');
    writeFileSync(file, onnx.ModelProto.encode(m).finish());
    const back = importOnnx(readFileSync(file), file);
    const x = normalize(rawPixels(N));
    expect(maxAbsDiff(runGraph(back, x, N), runGraph(g, x, N))).toBeLessThan(1e-5);
    writeFileSync(join(sub, 'weights.bin'), Buffer.concat(chunks).subarray(0, 10));
    expect(() => importOnnx(readFileSync(file), file)).toThrow(/external data range .* lies outside/);
    // a missing external file, or a folder in its place: a FileError naming the model and the file
    rmSync(join(sub, 'weights.bin'));
    const weights = join(sub, 'weights.bin');
    expect(() => importOnnx(readFileSync(file), file)).toThrow(FileError);
    expect(() => importOnnx(readFileSync(file), file)).toThrow(
      new RegExp(`^${esc(file)}: initializer .*: ${esc(weights)}: cannot read external data \\(ENOENT\\)$`),
    );
    mkdirSync(weights);
    expect(() => importOnnx(readFileSync(file), file)).toThrow(
      new RegExp(`^${esc(file)}: initializer .*: ${esc(weights)}: is a folder`),
    );
  });
});

/** `s` with the characters a RegExp treats specially escaped. */
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('importOnnx: errors', () => {
  const one = (op: string, extra: Partial<Parameters<typeof handModel>[0]> = {}) =>
    handModel({ input: [-1, 4], nodes: [node(op, ['x'], ['y'], 'layer7')], ...extra });

  it('a NaN weight, or a double beyond float32, is refused naming the node and the weight', () => {
    const matmul = (w: TensorProto) =>
      handModel({ input: [-1, 2], nodes: [node('MatMul', ['x', 'w'], ['y'], 'fc')], inits: [w] });
    expect(() => importOnnx(matmul(init('w', [2, 2], [1, Number.NaN, 3, 4])), 'nan.onnx')).toThrow(
      /^nan\.onnx: node 'fc' \(MatMul\): weight '.*' holds NaN at index 1 \(as float32\): weights must be finite/,
    );
    const double = { name: 'w', dims: [2, 2], dataType: DT.DOUBLE, doubleData: [1, 2, 1e39, 4] };
    expect(() => importOnnx(matmul(double), 'big.onnx')).toThrow(/big\.onnx: node 'fc' .* holds Infinity at index 2/);
    expect(importOnnx(matmul(init('w', [2, 2], [1, 2, 3, 4])), 'ok.onnx').nodes.map((n) => n.op)).toEqual(['linear']);
  });

  it('an unsupported op names the op, the node and the supported ops', () => {
    expect(() => importOnnx(one('Unique'), 'un.onnx')).toThrow(FormatError);
    expect(() => importOnnx(one('Unique'), 'un.onnx')).toThrow(
      /un\.onnx: node 'layer7' \(Unique\): op is not supported .*supported: .*Add, .*Conv/,
    );
    // LogSoftmax imports (the registry's softmax has a log form): log-softmax of the last axis
    const ls = importOnnx(one('LogSoftmax'), 'ls.onnx');
    expect(ls.nodes.map((n) => [n.op, n.attrs])).toEqual([['softmax', { axis: -1, log: true }]]);
    const lx = Float32Array.of(0, Math.log(2), 1, -1, 3, 3, 3, 3);
    const lse = (r: number) => Math.log([0, 1, 2, 3].reduce((s, j) => s + Math.exp(lx[r * 4 + j]), 0));
    const lwant = Array.from(lx, (v, i) => v - lse(Math.floor(i / 4)));
    expect(maxAbsDiff(runGraph(ls, lx, 2), lwant)).toBeLessThan(1e-5);
    const concat = handModel({ input: [-1, 4], nodes: [node('Concat', ['x', 'x'], ['y'], 'cat', { axis: 1 })] });
    // a Concat of the input with itself, and Clip(0, 6): beyond the image path, read by the general one
    expect(
      maxAbsDiff(runGraph(importOnnx(concat, 'c.onnx'), lx, 2), [
        ...lx.slice(0, 4),
        ...lx.slice(0, 4),
        ...lx.slice(4),
        ...lx.slice(4),
      ]),
    ).toBe(0);
    const relu6 = handModel({
      input: [-1, 4],
      nodes: [node('Clip', ['x', 'lo', 'hi'], ['y'], 'relu6')],
      inits: [init('lo', [], [0]), init('hi', [], [6])],
    });
    expect(Array.from(runGraph(importOnnx(relu6, 'r6.onnx'), Float32Array.of(-1, 3, 7, 6.5), 1))).toEqual([0, 3, 6, 6]);
  });

  it('an unsupported opset, a non-ONNX file and garbage are FormatErrors', () => {
    expect(() => importOnnx(one('Relu', { opset: 23 }), 'new.onnx')).toThrow(
      /new\.onnx: opset 23 .*not supported \(supported: 1–22\)/,
    );
    expect(() => importOnnx(new TextEncoder().encode('GRADUATE not onnx at all'), 'x.onnx')).toThrow(FormatError);
    expect(() => importOnnx(new Uint8Array(0), 'empty.onnx')).toThrow(/empty\.onnx: .*no graph/);
  });

  it('fuzz: truncated and bit-flipped files import or fail with a FormatError, never another error', () => {
    const bytes = exportOnnx(captured(GAP));
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    const check = (b: Uint8Array) => {
      try {
        validateGraph(importOnnx(b, 'fuzz.onnx'));
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
        expect((e as Error).message).toMatch(/^fuzz\.onnx: |^<graph>: /);
      }
    };
    for (let i = 0; i < 150; i++) {
      check(bytes.subarray(0, rnd(bytes.length)));
      const flipped = bytes.slice();
      for (let k = 0; k <= rnd(3); k++) flipped[rnd(bytes.length)] ^= 1 << rnd(8);
      check(flipped);
    }
  });
});
