// Export of speech models: sequence models built with nn (conv1d on each of its paths, GRU, LSTM,
// bidirectional, stacked, pooling over time) captured, exported and run in ONNX Runtime on the
// same [N, T, C] input as the Graduate Session. Float: within 1e-4 (as captured and after the
// compiler's passes). int8 (quantizeGraph: conv1d and the projections int8, the scans float):
// within 1% of the logits' range of Graduate's int8 and the same argmax on ≥ 95% of the samples.
// The scans must become ONNX GRU/LSTM nodes with the x-projection folded into W (no MatMul left for it).
import { describe, expect, it } from 'vitest';
import { captureGraph } from '../../src/compile/capture.js';
import { runPasses } from '../../src/compile/passes/index.js';
import { quantizeGraph } from '../../src/compile/quantize.js';
import type { Graph } from '../../src/graph/ir.js';
import * as G from '../../src/index.js';
import { buildModel } from '../../src/nn/build.js';
import type { LayerSpec } from '../../src/nn/spec.js';
import { exportOnnx } from '../../src/onnx/export.js';
import { onnx } from '../../src/onnx/proto.js';
import { argmaxAgreement, maxAbsDiff, runGraph, runOrt } from './fixtures.js';

const T = 16;
const C = 6;

/** A captured eval-mode model with random weights and BatchNorm statistics away from 0/1. */
function capturedSeq(layers: LayerSpec[], seed = 5): Graph {
  G.manualSeed(seed);
  const { model, outShape } = buildModel({ inputShape: [T, C], layers });
  G.tidy(() => {
    for (let i = 0; i < 3; i++) model.forward(G.add(G.mul(G.randn([8, T, C]), 2), 0.5));
  });
  model.eval();
  const classes = outShape.reduce((a, b) => a * b, 1);
  const g = captureGraph(
    model,
    { kind: 'tabular', shape: [T, C] },
    Array.from({ length: classes }, (_, i) => `c${i}`),
  );
  model.dispose();
  return g;
}

/** n sequences [T, C]: smooth per-sample patterns plus noise. */
function sequences(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n * T * C);
  let s = seed;
  for (let i = 0; i < out.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const b = Math.floor(i / (T * C));
    out[i] = 1.5 * Math.sin(i * 0.11 * ((b % 5) + 1) + b) + ((s % 1000) / 1000 - 0.5);
  }
  return out;
}

const opTypes = (bytes: Uint8Array): string[] =>
  onnx.ModelProto.decode(bytes).graph?.node?.map((n) => n.opType ?? '') ?? [];
const count = (ops: string[], op: string) => ops.filter((o) => o === op).length;

const KWS = (cell: 'gru' | 'lstm'): LayerSpec[] => [
  { type: 'conv1d', out: 8, kernel: 3, stride: 2, padding: 'same', bias: false },
  { type: 'batchnorm' },
  { type: 'relu' },
  { type: cell, hidden: 6 },
  { type: 'linear', out: 4 },
];

const MODELS: { name: string; layers: LayerSpec[]; scans: Record<string, number>; linears: number }[] = [
  { name: 'kws gru (conv1d stride 2 → bn → relu → gru → linear)', layers: KWS('gru'), scans: { GRU: 1 }, linears: 1 },
  { name: 'kws lstm', layers: KWS('lstm'), scans: { LSTM: 1 }, linears: 1 },
  {
    name: 'stacked bidirectional gru → linear',
    layers: [
      { type: 'gru', hidden: 5, layers: 2, bidirectional: true },
      { type: 'linear', out: 3 },
    ],
    scans: { GRU: 4 },
    linears: 1,
  },
  {
    name: 'stacked bidirectional lstm sequences → temporal mean → linear',
    layers: [
      { type: 'lstm', hidden: 4, layers: 2, bidirectional: true, returnSequences: true },
      { type: 'temporalpool', kind: 'mean' },
      { type: 'linear', out: 3 },
    ],
    scans: { LSTM: 4 },
    linears: 1,
  },
  {
    name: 'conv1d paths (conv2d, grouped strided dilated convnd, im2col, depthwise taps) → lstm → temporal max',
    layers: [
      { type: 'conv1d', out: 6, kernel: 3, padding: 'same' },
      { type: 'relu' },
      { type: 'conv1d', out: 6, kernel: 3, groups: 3, dilation: 2, stride: 2, padding: 'same' },
      { type: 'conv1d', out: 5, kernel: 2, dilation: 2, padding: 'same' },
      { type: 'conv1d', out: 5, kernel: 3, groups: 5, padding: 'same' },
      { type: 'lstm', hidden: 4, returnSequences: true },
      { type: 'temporalpool', kind: 'max' },
      { type: 'linear', out: 3 },
    ],
    scans: { LSTM: 1 },
    // the im2col conv1d is a linear over [N, T, K·C]
    linears: 2,
  },
];

describe('exportOnnx: speech models', () => {
  for (const m of MODELS) {
    it(`f32 ${m.name}: ONNX Runtime within 1e-4 of the Session, scans as ONNX recurrent nodes`, async () => {
      const g = capturedSeq(m.layers);
      const n = 5;
      const x = sequences(n);
      const want = runGraph(g, x, n);
      for (const graph of [g, runPasses(g).graph]) {
        const bytes = exportOnnx(graph);
        const ops = opTypes(bytes);
        for (const [op, k] of Object.entries(m.scans)) expect(count(ops, op), `${op} nodes`).toBe(k);
        // every projection folded into its scan's W: only the model's own linears remain
        expect(count(ops, 'MatMul') + count(ops, 'Gemm'), ops.join(' ')).toBe(m.linears);
        const got = await runOrt(bytes, x, [n, T, C]);
        expect(got.length).toBe(want.length);
        expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
      }
    });
  }

  it('int8 kws models export as QDQ (int8 conv and projections, float scans) and agree with Graduate int8', async () => {
    for (const cell of ['gru', 'lstm'] as const) {
      const g = runPasses(capturedSeq(KWS(cell))).graph;
      const { graph: q8, report } = quantizeGraph(g, sequences(64, 7), 64, {
        mode: 'int8',
        method: 'minmax',
        engine: G.engine(),
      });
      expect(report.int8Layers.length).toBeGreaterThanOrEqual(2);
      const bytes = exportOnnx(q8);
      const ops = opTypes(bytes);
      expect(ops).toContain('QuantizeLinear');
      expect(count(ops, cell.toUpperCase())).toBe(1);
      expect(count(ops, 'MatMul') + count(ops, 'Gemm')).toBe(1); // the int8 projection folded too
      const n = 200;
      const x = sequences(n, 11);
      const want = runGraph(q8, x, n);
      const got = await runOrt(bytes, x, [n, T, C]);
      const float = runGraph(g, x, n);
      const range = maxAbsDiff(float, new Float32Array(float.length));
      expect(argmaxAgreement(got, want, n)).toBeGreaterThanOrEqual(0.95);
      // measured: equal on all 200 (the int8 layers' rounding absorbs the float scans' differences)
      expect(maxAbsDiff(got, want)).toBeLessThan(0.01 * range);
    }
  });

  it('a scan whose input is not a plain projection exports with an identity W', async () => {
    const g = capturedSeq(KWS('gru'));
    // give the projection an epilogue the scan cannot take in: its output is relu'd first
    const proj = g.nodes.find(
      (n) => n.op === 'linear' && g.nodes.some((s) => s.op === 'rnnscan' && s.inputs[0] === n.output),
    );
    if (!proj) throw new Error('no projection');
    (proj.attrs as { activation: string }).activation = 'relu';
    const n = 4;
    const x = sequences(n, 3);
    const want = runGraph(g, x, n);
    const bytes = exportOnnx(g);
    const ops = opTypes(bytes);
    expect(count(ops, 'MatMul') + count(ops, 'Gemm')).toBe(2);
    expect(ops).toContain('GRU');
    expect(maxAbsDiff(await runOrt(bytes, x, [n, T, C]), want)).toBeLessThan(1e-4);
  });
});
