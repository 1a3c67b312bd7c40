// Export: Graduate graphs as ONNX, run by ONNX Runtime on raw pixels. f32 models must match the
// Graduate session on the same (normalized) input within 1e-4; int8 models export as QDQ and must
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
    it(`f32 ${name}: ONNX Runtime on raw pixels matches the session within 1e-4`, async () => {
      const g = captured(layers);
      const raw = rawPixels(N);
      const want = runGraph(g, normalize(raw), N);
      const got = await runOrt(exportOnnx(g), raw, [N, ...SHAPE]);
      expect(got.length).toBe(want.length);
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
      // also after the compiler's passes (fused epilogues: residual + activation in one node)
      const fused = runPasses(g).graph;
      expect(maxAbsDiff(await runOrt(exportOnnx(fused), raw, [N, ...SHAPE]), want)).toBeLessThan(1e-4);
    });
  }

  it('names input and output, records classes and input preparation in metadata_props', async () => {
    const g = captured(GAP);
    const m = onnx.ModelProto.decode(exportOnnx(g));
    expect(num(m.opsetImport[0].version)).toBeGreaterThanOrEqual(13);
    expect(num(m.irVersion)).toBeGreaterThanOrEqual(7);
    const props = Object.fromEntries(m.metadataProps.map((p) => [p.key, p.value]));
    expect(JSON.parse(props.classNames)).toEqual(['class 0', 'class 1', 'class 2', 'class 3']);
    expect(JSON.parse(props.input)).toMatchObject({
      kind: 'image',
      layout: 'NHWC',
      shape: SHAPE,
      normalization: { scale: 1 / 255 },
    });
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
      const raw = rawPixels(n, 11);
      const want = runGraph(q8, normalize(raw), n);
      const got = await runOrt(bytes, raw, [n, ...SHAPE]);
      const float = runGraph(g, normalize(raw), n);
      const scale = maxAbsDiff(float, new Float32Array(float.length));
      expect(argmaxAgreement(got, want, n)).toBeGreaterThanOrEqual(0.95);
      expect(maxAbsDiff(got, want)).toBeLessThan(0.05 * scale);
    },
  );

  it('refuses what ONNX cannot hold here, naming the node', () => {
    const g = captured(GAP);
    const bad = { ...g, nodes: g.nodes.map((n, i) => (i === 0 ? { ...n, op: 'embeddingbag' } : n)) } as typeof g;
    expect(() => exportOnnx(bad)).toThrow(ValueError);
    expect(() => exportOnnx(bad)).toThrow(/node '0' \(embeddingbag\)/);
  });
});
