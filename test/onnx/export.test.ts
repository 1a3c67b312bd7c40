// Export: Graduate graphs as ONNX, run by ONNX Runtime on the tensor the session takes (the one
// input contract; raw pixels with rawInput). f32 models must match the Graduate session on the
// same input within 1e-4; int8 models export as QDQ and must
// agree on the argmax of ≥ 95% of the samples, with logits close.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { runPasses } from '../../src/compile/passes/index.js';
import { quantizeGraph } from '../../src/compile/quantize.js';
import { ValueError } from '../../src/errors.js';
import * as G from '../../src/index.js';
import { exportOnnx } from '../../src/onnx/export.js';
import { num, onnx } from '../../src/onnx/proto.js';
import {
  argmaxAgreement,
  CNN,
  captured,
  GAP,
  maxAbsDiff,
  normalize,
  rawPixels,
  runGraph,
  runOrt,
  SHAPE,
} from './fixtures.js';

const N = 16;

describe('exportOnnx', () => {
  for (const [name, layers] of [
    ['conv/bn/relu/residual/pools/gelu/flatten/linear', CNN],
    ['global-average-pool/sigmoid/softmax', GAP],
  ] as const) {
    it(`f32 ${name}: ONNX Runtime on the session's input tensor matches the session within 1e-4`, async () => {
      const g = captured(layers);
      const raw = rawPixels(N);
      const x = normalize(raw); // the one input contract (docs/inputs.md): the prepared tensor
      const want = runGraph(g, x, N);
      const got = await runOrt(exportOnnx(g), x, [N, ...SHAPE]);
      expect(got.length).toBe(want.length);
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
      // also after the compiler's passes (fused epilogues: residual + activation in one node)
      const fused = runPasses(g).graph;
      expect(maxAbsDiff(await runOrt(exportOnnx(fused), x, [N, ...SHAPE]), want)).toBeLessThan(1e-4);
      // rawInput: the graph takes raw pixels and prepares them itself
      expect(maxAbsDiff(await runOrt(exportOnnx(g, { rawInput: true }), raw, [N, ...SHAPE]), want)).toBeLessThan(1e-4);
    });
  }

  it('names input and output, records classes and input preparation in metadata_props', async () => {
    const g = captured(GAP);
    const m = onnx.ModelProto.decode(exportOnnx(g));
    expect(num(m.opsetImport[0].version)).toBeGreaterThanOrEqual(13);
    expect(num(m.irVersion)).toBeGreaterThanOrEqual(7);
    const props = Object.fromEntries(m.metadataProps.map((p) => [p.key, p.value]));
    expect(JSON.parse(props.classNames)).toEqual(['class 0', 'class 1', 'class 2', 'class 3']);
    // the input is the prepared tensor: the preparation is declared, no node computes it
    expect(JSON.parse(props.input)).toEqual({
      kind: 'image',
      layout: 'NHWC',
      shape: SHAPE,
      normalization: {},
      preprocessing: { scale: 1 / 255, mean: g.meta.input.mean, std: g.meta.input.std },
    });
    expect(m.graph?.node?.[0].opType).toBe('Transpose');
    const rawForm = onnx.ModelProto.decode(exportOnnx(g, { rawInput: true }));
    const rawProps = Object.fromEntries(rawForm.metadataProps.map((p) => [p.key, p.value]));
    expect(JSON.parse(rawProps.input)).toMatchObject({ normalization: { scale: 1 / 255 } });
    expect(JSON.parse(rawProps.input).preprocessing).toBeUndefined();
    const s = await ort.InferenceSession.create(exportOnnx(g));
    expect(s.inputNames).toEqual(['input']);
    expect(s.outputNames).toEqual(['logits']);
    await s.release();
  });

  it.each([
    ['CNN', CNN],
    ['GAP', GAP],
  ] as const)(
    'int8 %s exports as QDQ that ONNX Runtime runs: argmax agrees on ≥ 95%%, logits close',
    async (_, layers) => {
      const g = runPasses(captured(layers)).graph;
      const calib = normalize(rawPixels(64, 7));
      const { graph: q8, report } = quantizeGraph(g, calib, 64, { mode: 'int8', method: 'minmax', engine: G.engine() });
      expect(report.int8Layers.length).toBeGreaterThan(1);
      const bytes = exportOnnx(q8);
      const ops = new Set(onnx.ModelProto.decode(bytes).graph?.node?.map((n) => n.opType));
      expect(ops.has('QuantizeLinear') && ops.has('DequantizeLinear')).toBe(true);
      const n = 200;
      const x = normalize(rawPixels(n, 11));
      const want = runGraph(q8, x, n);
      const got = await runOrt(bytes, x, [n, ...SHAPE]);
      const float = runGraph(g, x, n);
      const scale = maxAbsDiff(float, new Float32Array(float.length));
      expect(argmaxAgreement(got, want, n)).toBeGreaterThanOrEqual(0.95);
      expect(maxAbsDiff(got, want)).toBeLessThan(0.05 * scale);
    },
  );

  it('refuses what ONNX cannot hold here, naming the node', () => {
    const g = captured(GAP);
    const bad = { ...g, nodes: g.nodes.map((n, i) => (i === 0 ? { ...n, op: 'hardmax' } : n)) } as typeof g;
    expect(() => exportOnnx(bad)).toThrow(ValueError);
    expect(() => exportOnnx(bad)).toThrow(/node '0' \(hardmax\)/);
  });
});
