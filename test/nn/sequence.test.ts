// Sequence layers (src/nn/sequence.ts) as specifications: conv1d against a direct loop (every
// path: the conv2d kernel, grouped, dilated, depthwise), GRU and LSTM against the ONNX-semantics
// `recurrent` op (single, stacked, bidirectional, sequences or last state), masked temporal
// pooling against a loop; gradients against central finite differences; a small sequence task
// trained to high accuracy; and models of these layers captured to graphs the Session runs to the
// eager result.
import { describe, expect, it } from 'vitest';
import { apply } from '../../src/autograd/apply.js';
import { backward } from '../../src/autograd/backward.js';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { captureGraph } from '../../src/compile/capture.js';
import { runPasses } from '../../src/compile/passes/index.js';
import { readArtifact, writeArtifact } from '../../src/graph/artifact.js';
import * as G from '../../src/index.js';
import { buildModel } from '../../src/nn/build.js';
import * as F from '../../src/nn/functional.js';
import { Sequential } from '../../src/nn/layers.js';
import { crossEntropy } from '../../src/nn/losses.js';
import {
  type Cell,
  type Conv1dOptions,
  conv1d,
  conv1dGeometry,
  Recurrent,
  temporalPool,
} from '../../src/nn/sequence.js';
import type { LayerSpec } from '../../src/nn/spec.js';
import { createOptimizer } from '../../src/optim/index.js';
import { Session } from '../../src/runtime/session.js';
import { tidy } from '../../src/tensor/scope.js';
import { type Tensor, tensor } from '../../src/tensor/tensor.js';
import { expectClose, rand } from '../helpers.js';

/** Direct loop: y[n, o, m] = b[m] + Σ_k Σ_c x[n, o·s − left + k·d, g·Cg + c] · w[k, c, m]. */
function conv1dRef(x: Tensor, w: Tensor, b: Tensor | undefined, o: Conv1dOptions): Float32Array {
  const [N, T, C] = x.shape;
  const [K, Cg, M] = w.shape;
  const { stride = 1, dilation = 1, groups = 1 } = o;
  const { left, outT } = conv1dGeometry(T, K, o);
  const X = x.data();
  const W = w.data();
  const B = b?.data();
  const Y = new Float32Array(N * outT * M);
  const Mg = M / groups;
  for (let n = 0; n < N; n++)
    for (let t = 0; t < outT; t++)
      for (let m = 0; m < M; m++) {
        const g = Math.floor(m / Mg);
        let s = B ? B[m] : 0;
        for (let k = 0; k < K; k++) {
          const ti = t * stride - left + k * dilation;
          if (ti < 0 || ti >= T) continue;
          for (let c = 0; c < Cg; c++) s += X[(n * T + ti) * C + g * Cg + c] * W[(k * Cg + c) * M + m];
        }
        Y[(n * outT + t) * M + m] = s;
      }
  return Y;
}

/** Checks d(Σ f(ins) ⊙ r)/d ins[i] from autograd against central differences at 8 entries of each. */
function gradCheck(f: (ins: Tensor[]) => Tensor, datas: Float32Array[], shapes: number[][], tol = 2e-2): void {
  tidy(() => {
    const ins = datas.map((d, i) => {
      const t = tensor(d, shapes[i]);
      t.requiresGrad = true;
      return t;
    });
    const out = f(ins);
    const r = rand(out.size, 5);
    backward(F.sum(F.mul(out, tensor(r, out.shape))));
    const loss = (ds: Float32Array[]) =>
      noGrad(() => {
        const o = f(ds.map((d, i) => tensor(d, shapes[i]))).data();
        let s = 0;
        for (let i = 0; i < o.length; i++) s += o[i] * r[i];
        return s;
      });
    const eps = 1e-2;
    ins.forEach((t, gi) => {
      const g = t.grad?.data() as Float32Array;
      expect(g, `input ${gi} has a gradient`).toBeDefined();
      const n = g.length;
      for (let k = 0; k < Math.min(8, n); k++) {
        const i = Math.floor(((k + 0.5) * n) / Math.min(8, n));
        const plus = datas.map((d) => d.slice());
        const minus = datas.map((d) => d.slice());
        plus[gi][i] += eps;
        minus[gi][i] -= eps;
        const fd = (loss(plus) - loss(minus)) / (2 * eps);
        if (Math.abs(g[i] - fd) > tol * (1 + Math.abs(fd)))
          expect(g[i], `d/dinput${gi}[${i}] (finite difference ${fd})`).toBeCloseTo(fd, 2);
      }
    });
  });
}

const CONV_CASES: { name: string; C: number; M: number; K: number; o: Conv1dOptions }[] = [
  { name: 'conv2d path, stride 2, same', C: 5, M: 7, K: 3, o: { stride: 2, padding: 'same' } },
  { name: 'conv2d path, valid', C: 3, M: 4, K: 5, o: {} },
  { name: 'grouped, dilation 2, pads [2, 1]', C: 6, M: 9, K: 3, o: { groups: 3, dilation: 2, padding: [2, 1] } },
  { name: 'depthwise ×2, stride 3, same', C: 4, M: 8, K: 5, o: { groups: 4, stride: 3, padding: 'same' } },
  { name: 'im2col path: dilation 3, pads 1', C: 3, M: 2, K: 2, o: { dilation: 3, padding: 1 } },
  { name: 'im2col path: dilation 2, same', C: 4, M: 5, K: 3, o: { dilation: 2, padding: 'same' } },
  { name: 'depthwise path: dilation 2, same', C: 5, M: 5, K: 3, o: { groups: 5, dilation: 2, padding: 'same' } },
  { name: 'convnd path: dilation 2, stride 2', C: 3, M: 4, K: 3, o: { dilation: 2, stride: 2, padding: [1, 0] } },
];

describe('conv1d', () => {
  for (const c of CONV_CASES) {
    const T = 11;
    const g = c.o.groups ?? 1;
    const shapes = [[3, T, c.C], [c.K, c.C / g, c.M], [c.M]];
    const datas = shapes.map((s, i) =>
      rand(
        s.reduce((a, b) => a * b, 1),
        31 + i,
      ),
    );
    it(`${c.name}: equals a direct loop`, () => {
      tidy(() => {
        const [x, w, b] = datas.map((d, i) => tensor(d, shapes[i]));
        const y = noGrad(() => conv1d(x, w, b, c.o));
        expect(y.shape).toEqual([3, conv1dGeometry(T, c.K, c.o).outT, c.M]);
        expectClose(y.data(), conv1dRef(x, w, b, c.o), 1e-5, 1e-4);
      });
    });
    it(`${c.name}: gradients = finite differences`, () => {
      gradCheck(([x, w, b]) => conv1d(x, w, b, c.o), datas, shapes);
    });
  }
});

describe('temporal pooling', () => {
  const shapes = [[3, 5, 4]];
  const x0 = rand(60, 9);
  const mask = tensor(Float32Array.from([1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0]), [3, 5]);
  for (const kind of ['mean', 'max'] as const) {
    it(`masked ${kind} over time equals a loop over the real steps`, () => {
      tidy(() => {
        const y = noGrad(() => temporalPool(tensor(x0, shapes[0]), kind, mask)).data();
        const m = mask.data();
        for (let n = 0; n < 3; n++)
          for (let c = 0; c < 4; c++) {
            const vals: number[] = [];
            for (let t = 0; t < 5; t++) if (m[n * 5 + t]) vals.push(x0[(n * 5 + t) * 4 + c]);
            const want = kind === 'mean' ? vals.reduce((a, b) => a + b, 0) / vals.length : Math.max(...vals);
            expect(y[n * 4 + c]).toBeCloseTo(want, 5);
          }
      });
    });
    it(`masked ${kind}: gradients = finite differences`, () => {
      gradCheck(([x]) => temporalPool(x, kind, mask), [x0], shapes);
    });
  }
});

/** The module's weights as the `recurrent` op's W, R, B (ONNX layout) for layer l. */
function onnxWeights(m: Recurrent, l: number): Tensor[] {
  const GH = (m.cell === 'gru' ? 3 : 4) * m.hidden;
  const stackT = (ts: Tensor[]) =>
    F.concat(
      ts.map((t) => F.reshape(F.transpose(t), [1, ...[...t.shape].reverse()])),
      0,
    );
  const W = stackT(m.weights[l].map((p) => p.wx));
  const R = stackT(m.weights[l].map((p) => p.wh));
  const B = F.concat(
    m.weights[l].map((p) => F.reshape(F.concat([p.bx, p.bh ?? G.zeros([GH])], 0), [1, 2 * GH])),
    0,
  );
  return [W, R, B];
}

/** The stack through the `recurrent` op: [N, T, D·H] sequences or [N, D·H] last states. */
function recurrentRef(m: Recurrent, x: Tensor): Tensor {
  const D = m.bidirectional ? 2 : 1;
  const H = m.hidden;
  const N = x.shape[0];
  const attrs = (output: 'y' | 'h') => ({
    cell: m.cell,
    hidden: H,
    direction: m.bidirectional ? ('bidirectional' as const) : ('forward' as const),
    layout: 1 as const,
    clip: 0,
    activations: Array.from({ length: D }, () =>
      m.cell === 'gru' ? ['Sigmoid', 'Tanh'] : ['Sigmoid', 'Tanh', 'Tanh'],
    ).flat(),
    alpha: [],
    beta: [],
    linearBeforeReset: true,
    inputForget: false,
    output,
  });
  const zerosH = G.zeros([D, N, H]);
  const P = G.zeros([D, 3 * H]);
  let seq = x;
  let y = x;
  for (let l = 0; l < m.layers; l++) {
    const ins = [seq, ...onnxWeights(m, l), zerosH, zerosH, P];
    const last = l === m.layers - 1;
    seq = F.reshape(apply('recurrent', ins, attrs('y')), [N, x.shape[1], D * H]);
    if (last) y = m.returnSequences ? seq : F.reshape(apply('recurrent', ins, attrs('h')), [N, D * H]);
  }
  return y;
}

describe('GRU and LSTM', () => {
  const configs: { cell: Cell; layers: number; bidirectional: boolean; returnSequences: boolean }[] = [
    { cell: 'gru', layers: 1, bidirectional: false, returnSequences: false },
    { cell: 'gru', layers: 2, bidirectional: true, returnSequences: true },
    { cell: 'lstm', layers: 1, bidirectional: true, returnSequences: false },
    { cell: 'lstm', layers: 2, bidirectional: false, returnSequences: true },
  ];
  for (const c0 of configs)
    for (const impl of ['fused', 'composed'] as const) {
      const c = { ...c0, impl };
      const label = `${impl} ${c.cell} ×${c.layers}${c.bidirectional ? ' bidirectional' : ''}${c.returnSequences ? ' sequences' : ''}`;
      it(`${label}: equals the ONNX recurrent op on odd shapes`, () => {
        G.manualSeed(4);
        tidy(() => {
          const m = new Recurrent(c.cell, 5, 3, c);
          const x = tensor(rand(3 * 7 * 5, 12), [3, 7, 5]);
          const got = noGrad(() => m.forward(x));
          const want = noGrad(() => recurrentRef(m, x));
          expect(got.shape).toEqual(want.shape);
          expectClose(got.data(), want.data(), 1e-5, 1e-4);
          m.dispose();
        });
      });
      it(`${label}: gradients of x and every weight = finite differences`, () => {
        G.manualSeed(5);
        const m = new Recurrent(c.cell, 3, 2, c);
        const params = m.parameters();
        const shapes = [[2, 4, 3], ...params.map((p) => [...p.shape])];
        const datas = [rand(24, 13), ...params.map((p) => (p.data() as Float32Array).slice())];
        // the module's parameters replaced by the checked tensors: forward reads m.weights
        gradCheck(
          ([x, ...ps]) => {
            let k = 0;
            const saved = m.weights.map((row) => row.map((p) => ({ ...p })));
            for (const row of m.weights)
              for (const p of row) {
                p.wx = ps[k++];
                p.wh = ps[k++];
                p.bx = ps[k++];
                if (p.bh) p.bh = ps[k++];
              }
            try {
              return m.forward(x);
            } finally {
              for (const [l, row] of m.weights.entries())
                for (const [d, p] of row.entries()) Object.assign(p, saved[l][d]);
            }
          },
          datas,
          shapes,
        );
        m.dispose();
      });
    }
});

describe('sequence models train and capture', () => {
  it('a GRU learns an order-dependent task (which of two pulses comes first) in a few seconds', () => {
    G.manualSeed(1);
    const { model } = buildModel({
      inputShape: [12, 2],
      layers: [
        { type: 'gru', hidden: 16 },
        { type: 'linear', out: 2 },
      ],
    });
    const n = 256;
    const T = 12;
    const xs = new Float32Array(n * T * 2);
    const ys = new Int32Array(n);
    const rng = new G.Rng(7);
    for (let i = 0; i < n; i++) {
      const a = rng.int(T);
      let b = rng.int(T - 1);
      if (b >= a) b++;
      // channel 0 pulse at a, channel 1 pulse at b, noise elsewhere; label: a < b
      for (let t = 0; t < T; t++) {
        xs[(i * T + t) * 2] = (t === a ? 1 : 0) + 0.1 * (rng.next() - 0.5);
        xs[(i * T + t) * 2 + 1] = (t === b ? 1 : 0) + 0.1 * (rng.next() - 0.5);
      }
      ys[i] = a < b ? 1 : 0;
    }
    const opt = createOptimizer('adam', model.parameters(), { lr: 0.02 });
    const t0 = performance.now();
    for (let epoch = 0; epoch < 25; epoch++)
      for (let s = 0; s < n; s += 64)
        tidy(() => {
          const x = tensor(xs.subarray(s * T * 2, (s + 64) * T * 2), [64, T, 2]);
          const y = tensor(ys.subarray(s, s + 64), [64], 'int32');
          backward(crossEntropy(model.forward(x), y));
          opt.step();
          opt.zeroGrad();
        });
    const seconds = (performance.now() - t0) / 1000;
    model.eval();
    const acc = tidy(() => {
      const p = noGrad(() => model.forward(tensor(xs, [n, T, 2]))).data();
      let ok = 0;
      for (let i = 0; i < n; i++) if ((p[2 * i + 1] > p[2 * i] ? 1 : 0) === ys[i]) ok++;
      return ok / n;
    });
    expect(acc).toBeGreaterThan(0.95);
    expect(seconds).toBeLessThan(30);
    model.dispose();
  }, 60_000);

  const models: { name: string; layers: LayerSpec[] }[] = [
    {
      name: 'conv1d (every path) → lstm sequences → temporal max',
      layers: [
        { type: 'conv1d', out: 6, kernel: 3, padding: 'same' },
        { type: 'relu' },
        { type: 'conv1d', out: 6, kernel: 3, groups: 6, dilation: 2, stride: 2, padding: 'same' },
        { type: 'conv1d', out: 5, kernel: 2, dilation: 2, padding: 'same' },
        { type: 'conv1d', out: 5, kernel: 3, groups: 5, padding: 'same' },
        { type: 'lstm', hidden: 4, returnSequences: true },
        { type: 'temporalpool', kind: 'max' },
        { type: 'linear', out: 3 },
      ],
    },
    {
      name: 'stacked bidirectional gru → linear',
      layers: [
        { type: 'gru', hidden: 5, layers: 2, bidirectional: true },
        { type: 'linear', out: 3 },
      ],
    },
    {
      name: 'conv1d → gru sequences → temporal mean',
      layers: [
        { type: 'conv1d', out: 4, kernel: 2, stride: 2 },
        { type: 'gru', hidden: 3, returnSequences: true },
        { type: 'temporalpool', kind: 'mean' },
      ],
    },
  ];
  it('a composed (per-step registry ops) bidirectional LSTM captures equal to eager and to the fused one', () => {
    G.manualSeed(6);
    const composed = new Recurrent('lstm', 4, 3, { bidirectional: true, layers: 2, impl: 'composed' });
    G.manualSeed(6);
    const fused = new Recurrent('lstm', 4, 3, { bidirectional: true, layers: 2 });
    const model = new Sequential([composed]);
    model.eval();
    const x = tensor(rand(3 * 5 * 4, 22), [3, 5, 4]);
    const graph = captureGraph(model, { kind: 'tabular', shape: [5, 4] }, ['a']);
    expect(graph.nodes.some((n) => n.op === 'rnnscan')).toBe(false);
    const want = noGrad(() => model.forward(x)).data();
    expectClose(noGrad(() => fused.forward(x)).data(), want, 1e-5, 1e-4);
    const s = new Session(graph, { maxBatch: 3 });
    expectClose(s.run(x.data() as Float32Array, 3), want, 1e-5, 1e-4);
    s.dispose();
    model.dispose();
    fused.dispose();
  });

  for (const md of models)
    it(`${md.name}: captures to a graph the Session runs equal to eager`, () => {
      G.manualSeed(2);
      const { model } = buildModel({ inputShape: [9, 4], layers: md.layers });
      model.eval();
      const x = tensor(rand(3 * 9 * 4, 21), [3, 9, 4]);
      const graph = captureGraph(model, { kind: 'tabular', shape: [9, 4] }, ['a', 'b', 'c']);
      const want = noGrad(() => model.forward(x)).data();
      const s = new Session(readArtifact(writeArtifact(graph), 'seq.grad'), { maxBatch: 3 });
      const got = s.run(x.data() as Float32Array, 3);
      s.dispose();
      expectClose(got, want, 1e-5, 1e-4);
      // and after the compiler's float passes (eliminate … dce)
      const passed = new Session(runPasses(graph).graph, { maxBatch: 3 });
      expectClose(passed.run(x.data() as Float32Array, 3), want, 1e-5, 1e-4);
      passed.dispose();
      // the spec round-trips through buildModel
      const again = buildModel({ inputShape: [9, 4], layers: (model.spec() as { layers: LayerSpec[] }).layers });
      expect(again.model.spec()).toEqual(model.spec());
      again.model.dispose();
      model.dispose();
    });
});
