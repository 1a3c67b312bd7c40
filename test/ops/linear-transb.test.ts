// linear with its weight stored [out, in] (attrs.transB, as ONNX Gemm's transB and torch's
// nn.Linear): everything it computes against the ordinary linear on the transposed weight —
// eager forward and gradients, the Session's pre-packed float, fp16 and int8 paths (int8: the same
// integers and per-output scales, stored per row), the validator's refusals, int8 quantization
// per row by the compiler, the passes that must leave it alone, and the ONNX export in ONNX Runtime.
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apply } from '../../src/autograd/apply.js';
import { backward } from '../../src/autograd/backward.js';
import { foldBatchNorm } from '../../src/compile/passes/fold-bn.js';
import { foldLayerNorm } from '../../src/compile/passes/fold-ln.js';
import { quantizeGraph, quantizeRows, quantizeWeights } from '../../src/compile/quantize.js';
import type { Constant, Graph } from '../../src/graph/ir.js';
import { validateGraph } from '../../src/graph/validate.js';
import { exportOnnx } from '../../src/onnx/export.js';
import { Session } from '../../src/runtime/session.js';
import { toHalf } from '../../src/shape/half.js';
import { engine, init, shutdown } from '../../src/tensor/context.js';
import { manualSeed } from '../../src/tensor/random.js';
import { tidy } from '../../src/tensor/scope.js';
import { type Tensor, tensor } from '../../src/tensor/tensor.js';
import { rand } from '../helpers.js';

beforeAll(() => {
  init({ threads: 1 });
  manualSeed(3);
});
afterAll(() => shutdown());

const [R, K, N] = [6, 13, 9]; // rows, in, out

/** [r, c] → [c, r]. */
function transpose<T extends Float32Array | Int8Array>(m: T, r: number, c: number): T {
  const out = new (m.constructor as { new (n: number): T })(m.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = m[i * c + j];
  return out;
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

/** One linear node y = x · W + b over a batch of [K] rows; `w` is stored as given. */
function oneLinear(w: Constant, bias: Float32Array, transB: boolean): Graph {
  return {
    inputs: ['x'],
    outputs: ['y'],
    values: { x: { shape: [-1, K], dtype: 'float32' }, y: { shape: [-1, N], dtype: 'float32' } },
    constants: { w, b: { shape: [N], dtype: 'float32', data: bias } },
    nodes: [{ name: 'y', op: 'linear', inputs: ['x', 'w', 'b'], output: 'y', attrs: { activation: 'none', transB } }],
    meta: { classNames: [], input: { kind: 'tensor', shape: [K] }, producer: 'test' },
  };
}

function run(g: Graph, x: Float32Array): Float32Array {
  const s = new Session(g, { engine: engine(), maxBatch: R });
  try {
    return s.run(x, R).slice();
  } finally {
    s.dispose();
  }
}

const x = rand(R * K, 1);
const Wt = rand(N * K, 2); // stored [out, in]
const W = transpose(Wt, N, K); // the same weight [in, out]
const b = rand(N, 3);
const f32 = (data: Float32Array, shape: number[]): Constant => ({ shape, dtype: 'float32', data });

describe('linear transB', () => {
  it('eager forward and gradients equal the ordinary linear on Wᵀ (dWt = dWᵀ)', () => {
    tidy(() => {
      const dy = rand(R * N, 4);
      const grads = (transB: boolean) => {
        const xs = tensor(x, [R, K]);
        const ws = transB ? tensor(Wt, [N, K]) : tensor(W, [K, N]);
        const bs = tensor(b, [N]);
        for (const t of [xs, ws, bs]) t.requiresGrad = true;
        const y = apply('linear', [xs, ws, bs], { activation: 'none', transB });
        backward(apply('sum', [apply('mul', [y, tensor(dy, [R, N])], {})], { axes: [0, 1], keepDims: false }));
        const d = (t: Tensor) => ((t.grad as Tensor).data() as Float32Array).slice();
        return { y: (y.data() as Float32Array).slice(), dx: d(xs), dw: d(ws), db: d(bs) };
      };
      const t = grads(true);
      const plain = grads(false);
      expect(maxDiff(t.y, plain.y)).toBeLessThan(1e-5);
      expect(maxDiff(t.dx, plain.dx)).toBeLessThan(1e-5);
      expect(maxDiff(t.dw, transpose(plain.dw, K, N))).toBeLessThan(1e-5);
      expect(maxDiff(t.db, plain.db)).toBeLessThan(1e-5);
    });
  });

  it('Session float32 and fp16: the ordinary graph on Wᵀ', () => {
    const want = run(oneLinear(f32(W, [K, N]), b, false), x);
    expect(maxDiff(run(oneLinear(f32(Wt, [N, K]), b, true), x), want)).toBeLessThan(1e-5);
    const half = (m: Float32Array, shape: number[]): Constant => ({
      shape,
      dtype: 'float16',
      data: Uint16Array.from(m, toHalf),
    });
    const a = run(oneLinear(half(W, [K, N]), b, false), x);
    expect(maxDiff(run(oneLinear(half(Wt, [N, K]), b, true), x), a)).toBeLessThan(1e-5);
  });

  it('Session int8: a per-row weight [out, in] gives what the same integers [in, out] per column give', () => {
    const int8Graph = (w: Constant, transB: boolean): Graph => {
      const g = oneLinear(w, b, transB);
      g.values.xq = { shape: [-1, K], dtype: 'int8', quant: { scale: [4 / 255], zeroPoint: [0] } };
      g.nodes = [{ name: 'xq', op: 'quantize', inputs: ['x'], output: 'xq', attrs: {} }, ...g.nodes];
      g.nodes[1] = { ...g.nodes[1], inputs: ['xq', 'w', 'b'] } as Graph['nodes'][number];
      return g;
    };
    const rows = quantizeRows(f32(Wt, [N, K]));
    const cols: Constant = {
      shape: [K, N],
      dtype: 'int8',
      data: transpose(rows.data as Int8Array, N, K),
      quant: { ...(rows.quant as NonNullable<Constant['quant']>), axis: 1 },
    };
    const got = run(int8Graph(rows, true), x);
    expect(maxDiff(got, run(int8Graph(cols, false), x))).toBe(0);
    // and near the float answer
    expect(maxDiff(got, run(oneLinear(f32(W, [K, N]), b, false), x))).toBeLessThan(0.1);
    // scales along the wrong axis (per column of [out, in]) are refused, naming the weight
    const wrong = int8Graph({ ...rows, quant: { ...(rows.quant as NonNullable<Constant['quant']>), axis: 1 } }, true);
    expect(() => validateGraph(wrong, 't.grad')).toThrow(/weight 'w' of a transB linear needs its scales per row/);
  });

  it('the validator names a weight that does not fit its layout and a transB that is not a boolean', () => {
    // [in, out] given to a transB linear
    expect(() => validateGraph(oneLinear(f32(W, [K, N]), b, true), 't.grad')).toThrow(/t\.grad/);
    const g = oneLinear(f32(Wt, [N, K]), b, true);
    (g.nodes[0].attrs as { transB: unknown }).transB = 'yes';
    expect(() => validateGraph(g, 't.grad')).toThrow(/attrs.transB must be true or false, got "yes"/);
  });

  it('quantizeGraph: a transB weight becomes int8 per row (per output), the answer close to float', () => {
    const g = oneLinear(f32(Wt, [N, K]), b, true);
    const { graph } = quantizeGraph(g, x, R, { mode: 'int8', method: 'minmax', engine: engine() });
    const w = graph.constants.w;
    expect(w.dtype).toBe('int8');
    expect(w.quant?.axis).toBe(0);
    expect(w.quant?.scale).toHaveLength(N);
    expect(Array.from(w.data)).toEqual(Array.from(quantizeRows(f32(Wt, [N, K])).data));
    expect(maxDiff(run(graph, x), run(g, x))).toBeLessThan(0.1);
    // the ordinary linear is unchanged: per column of [in, out]
    const plain = quantizeGraph(oneLinear(f32(W, [K, N]), b, false), x, R, {
      mode: 'int8',
      method: 'minmax',
      engine: engine(),
    }).graph.constants.w;
    expect(Array.from(plain.data)).toEqual(Array.from(quantizeWeights(f32(W, [K, N])).data));
  });

  it('fold-ln and fold-bn leave a transB linear alone (their folds assume [in, out])', () => {
    const ln: Graph = {
      ...oneLinear(f32(Wt, [N, K]), b, true),
      values: {
        x: { shape: [-1, K], dtype: 'float32' },
        n: { shape: [-1, K], dtype: 'float32' },
        y: { shape: [-1, N], dtype: 'float32' },
      },
      nodes: [
        { name: 'n', op: 'layernorm', inputs: ['x', 'g', 'beta'], output: 'n', attrs: { eps: 1e-5 } },
        { name: 'y', op: 'linear', inputs: ['n', 'w', 'b'], output: 'y', attrs: { activation: 'none', transB: true } },
      ],
    };
    ln.constants = {
      ...ln.constants,
      g: f32(
        rand(K, 5).map((v) => 0.5 + Math.abs(v)),
        [K],
      ),
      beta: f32(rand(K, 6), [K]),
    };
    validateGraph(ln, 'ln');
    const folded = foldLayerNorm(ln);
    expect(folded.constants.w.data).toEqual(Wt);
    expect(maxDiff(run(folded, x), run(ln, x))).toBeLessThan(1e-5);
    const g = oneLinear(f32(Wt, [N, K]), b, true);
    expect(foldBatchNorm(g).nodes).toHaveLength(1);
  });

  it('ONNX export: Gemm transB=1 (float32 and int8 QDQ per row) in ONNX Runtime equals the session', async () => {
    const graphs = [oneLinear(f32(Wt, [N, K]), b, true)];
    graphs.push(quantizeGraph(graphs[0], x, R, { mode: 'int8', method: 'minmax', engine: engine() }).graph);
    for (const g of graphs) {
      const s = await ort.InferenceSession.create(exportOnnx(g), { intraOpNumThreads: 1 });
      const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x, [R, K]) });
      await s.release();
      expect(maxDiff(out[s.outputNames[0]].data as Float32Array, run(g, x))).toBeLessThan(1e-4);
    }
  });
});
