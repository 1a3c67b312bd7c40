// Every op of the registry, through the registry only: its forward on the wasm backend against the
// same op on the plain-TypeScript reference backend (tensors of two backends in one process), its
// vjp against central finite differences (computed on the reference backend), and — for ops a
// graph can hold — a one-node graph run by the runtime Session against the eager result. CASES is
// typed by OpName: an op added to the registry without a case here does not compile.
import { describe, expect, it } from 'vitest';
import { apply } from '../../src/autograd/apply.js';
import { backward } from '../../src/autograd/backward.js';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { ReferenceBackend } from '../../src/backend/reference.js';
import type { Graph, Node } from '../../src/graph/ir.js';
import { inferNode, validateGraph } from '../../src/graph/validate.js';
import * as G from '../../src/index.js';
import { OP_NAMES, OPS, type OpAttrs, type OpName } from '../../src/ops/registry.js';
import { Session } from '../../src/runtime/session.js';
import { tidy } from '../../src/tensor/scope.js';
import { type Tensor, tensor } from '../../src/tensor/tensor.js';
import { rand } from '../helpers.js';

interface In {
  shape: number[];
  /** ids: int32 in [-1, vocab); mask: 0/1 floats; positive: > 0.5; margin: |x| ≥ 0.3 (kinks). */
  kind?: 'ids' | 'mask' | 'positive' | 'margin' | 'labels';
  vocab?: number;
  /** A weight: a constant in the IR case (not a graph input). */
  constant?: boolean;
}
interface Case<K extends OpName> {
  ins: In[];
  attrs: OpAttrs[K];
  /** Inputs whose gradient is checked (default: every float input). */
  grad?: number[];
  /** Also run as a one-node graph (batch axis = axis 0 of the first input). */
  ir?: boolean;
  tol?: number;
}
type Cases = { [K in OpName]: Case<K>[] | { skip: string } };

const f = (shape: number[], kind?: In['kind']): In => ({ shape, kind });
const w = (shape: number[], kind?: In['kind']): In => ({ shape, kind, constant: true });
const none = {} as Record<string, never>;
const win = (k: number, s: number, pads: [number, number, number, number]) => ({
  kernel: [k, k] as [number, number],
  stride: [s, s] as [number, number],
  pads,
});

const CASES: Cases = {
  add: [{ ins: [f([3, 5, 7]), f([5, 1])], attrs: none, ir: true }],
  sub: [{ ins: [f([3, 1, 7]), f([3, 5, 7])], attrs: none, ir: true }],
  mul: [{ ins: [f([3, 5, 7]), w([7])], attrs: none, ir: true }],
  div: [{ ins: [f([3, 7]), f([3, 7], 'positive')], attrs: none, ir: true }],
  maximum: [{ ins: [f([3, 7], 'margin'), f([3, 7])], attrs: none, ir: true, grad: [] }],
  minimum: [{ ins: [f([3, 7], 'margin'), f([3, 7])], attrs: none, ir: true, grad: [] }],
  unary: [
    { ins: [f([3, 5, 7], 'margin')], attrs: { fn: 'gelu' }, ir: true },
    { ins: [f([3, 5, 7], 'margin')], attrs: { fn: 'leakyRelu', alpha: 0.2 }, ir: true },
    { ins: [f([3, 13], 'positive')], attrs: { fn: 'log' }, ir: true },
    { ins: [f([3, 13])], attrs: { fn: 'tanh' }, ir: true },
  ],
  scale: [{ ins: [f([3, 5, 7])], attrs: { mul: -1.5, add: 0.25 }, ir: true }],
  where: [{ ins: [f([3, 1, 7], 'mask'), f([3, 5, 7]), f([5, 1])], attrs: none, ir: true, grad: [1, 2] }],
  affine: [{ ins: [f([3, 5, 7]), w([7]), w([7])], attrs: none, ir: true }],
  matmul: [
    { ins: [f([3, 5, 7]), f([3, 7, 4])], attrs: none, ir: true },
    { ins: [f([3, 5, 7]), w([7, 9])], attrs: none, ir: true },
  ],
  linear: [
    { ins: [f([3, 5, 7]), w([7, 9]), w([9])], attrs: { activation: 'none' }, ir: true },
    { ins: [f([5, 13]), w([13, 3])], attrs: { activation: 'none' }, ir: true },
    // weight stored [out, in] (transB): forward, vjp of x, W and b, and the Session's pre-packed path
    { ins: [f([3, 5, 7]), w([9, 7]), w([9])], attrs: { activation: 'none', transB: true }, ir: true },
    { ins: [f([5, 13]), w([3, 13])], attrs: { activation: 'relu', transB: true }, ir: true, grad: [] },
  ],
  conv2d: [
    {
      ins: [f([2, 7, 6, 3]), w([3, 3, 3, 5]), w([5])],
      attrs: { activation: 'none', stride: [2, 1], pads: [1, 0, 2, 1] },
      ir: true,
    },
  ],
  maxpool2d: [{ ins: [f([2, 7, 5, 3])], attrs: win(3, 2, [1, 1, 1, 0]), ir: true }],
  avgpool2d: [{ ins: [f([2, 7, 5, 3])], attrs: win(2, 1, [0, 1, 1, 0]), ir: true }],
  globalavgpool: [{ ins: [f([2, 5, 3, 7])], attrs: none, ir: true }],
  reshape: [{ ins: [f([3, 5, 7])], attrs: { shape: [-1, 7, 5] }, ir: true }],
  flatten: [{ ins: [f([3, 5, 7])], attrs: none, ir: true }],
  transpose: [
    { ins: [f([3, 5, 7, 2])], attrs: { perm: [0, 2, 3, 1] }, ir: true },
    { ins: [f([3, 5, 7])], attrs: { perm: [2, 0, 1] } },
  ],
  slice: [{ ins: [f([3, 5, 7])], attrs: { begin: [0, 1, 2], size: [-1, 3, 4] }, ir: true }],
  concat: [{ ins: [f([3, 5, 7]), f([3, 2, 7])], attrs: { axis: 1 }, ir: true }],
  dropout: [{ ins: [f([3, 5])], attrs: { p: 0.3 }, ir: true }],
  sum: [{ ins: [f([3, 5, 7])], attrs: { axes: [1], keepDims: false }, ir: true }],
  mean: [{ ins: [f([3, 5, 7])], attrs: { axes: [2, 1], keepDims: true }, ir: true }],
  max: [{ ins: [f([3, 5, 7])], attrs: { axes: [-1], keepDims: false }, ir: true }],
  softmax: [
    { ins: [f([3, 5, 7])], attrs: { axis: -1, log: false }, ir: true },
    { ins: [f([3, 5, 7])], attrs: { axis: 1, log: true }, ir: true },
  ],
  softmaxCrossEntropy: [{ ins: [f([5, 7]), { shape: [5], kind: 'labels', vocab: 7 }], attrs: { smoothing: 0.1 } }],
  batchnorm: [
    {
      ins: [f([3, 5, 7]), w([7]), w([7]), w([7]), w([7], 'positive')],
      attrs: { eps: 1e-3 },
      ir: true,
      grad: [0, 1, 2],
    },
  ],
  batchnorm_train: [{ ins: [f([4, 3, 5]), f([5]), f([5])], attrs: { eps: 1e-3 }, tol: 5e-2 }],
  layernorm: [{ ins: [f([3, 5, 7]), w([7]), w([7])], attrs: { eps: 1e-5 }, ir: true, tol: 5e-2 }],
  embedding: [{ ins: [{ shape: [3, 5], kind: 'ids', vocab: 7 }, w([7, 4])], attrs: none, ir: true }],
  embeddingbag: [{ ins: [{ shape: [3, 5], kind: 'ids', vocab: 7 }, w([7, 4])], attrs: none, ir: true }],
  map: [
    { ins: [f([3, 5, 7], 'margin')], attrs: { fn: 'elu', alpha: 0.7 }, ir: true },
    { ins: [f([3, 5, 7])], attrs: { fn: 'erf' }, ir: true },
    { ins: [f([3, 13])], attrs: { fn: 'round' }, ir: true, grad: [] },
  ],
  binop: [
    { ins: [f([3, 5, 7], 'margin'), f([5, 1])], attrs: { fn: 'prelu' }, ir: true },
    { ins: [f([3, 5, 7], 'positive'), f([5, 1])], attrs: { fn: 'pow' } },
    { ins: [f([3, 5, 7]), w([7])], attrs: { fn: 'lt' }, ir: true, grad: [] },
  ],
  cast: [
    { ins: [f([3, 5], 'margin')], attrs: { to: 'int32' }, ir: true, grad: [] },
    { ins: [f([3, 5])], attrs: { to: 'float32' } },
  ],
  reduce: [
    { ins: [f([3, 5, 7])], attrs: { fn: 'logsumexp', axes: [2, 1], keepDims: false }, ir: true },
    { ins: [f([3, 4, 5], 'margin')], attrs: { fn: 'prod', axes: [1], keepDims: true } },
    { ins: [f([3, 4, 5], 'margin')], attrs: { fn: 'l2', axes: [0, 2], keepDims: false } },
    { ins: [f([3, 4, 5], 'margin')], attrs: { fn: 'min', axes: [2], keepDims: false } },
  ],
  argmax: [{ ins: [f([3, 5, 7])], attrs: { axis: 1, keepDims: true, last: false, min: true }, ir: true }],
  cumsum: [{ ins: [f([3, 5, 7])], attrs: { axis: 2, exclusive: true, reverse: true }, ir: true }],
  hardmax: [{ ins: [f([3, 5, 7])], attrs: { axis: -1 }, ir: true }],
  gather: [
    { ins: [f([3, 5, 7]), { shape: [2, 3], kind: 'ids', vocab: 5, constant: true }], attrs: { axis: 1 }, ir: true },
  ],
  gatherelements: [
    { ins: [f([3, 5, 7]), { shape: [3, 2, 7], kind: 'labels', vocab: 5, constant: true }], attrs: { axis: 1 } },
  ],
  expand: [{ ins: [f([3, 1, 7])], attrs: { shape: [5, 1] }, ir: true }],
  tile: [{ ins: [f([3, 5, 7])], attrs: { repeats: [1, 2, 3] }, ir: true }],
  pad: [{ ins: [f([3, 5, 7])], attrs: { pads: [0, 2, 1, 0, 3, -2], mode: 'reflect', value: 0 }, ir: true }],
  strided: [{ ins: [f([3, 5, 7])], attrs: { begin: [2, 4, 1], step: [-1, -2, 3], size: [3, 3, 2] } }],
  trilu: [{ ins: [f([3, 5, 7])], attrs: { upper: true, k: 1 }, ir: true }],
  convnd: [
    {
      ins: [f([2, 4, 7, 6]), w([6, 2, 3, 2]), w([6])],
      attrs: { group: 2, strides: [2, 1], dilations: [1, 2], pads: [1, 0, 2, 1] },
      ir: true,
    },
  ],
  convtransposend: [
    {
      ins: [f([2, 4, 5]), w([4, 3, 3]), w([6])],
      attrs: { group: 2, strides: [2], dilations: [1], pads: [1, 0], outputPadding: [1] },
      ir: true,
    },
  ],
  poolnd: [
    {
      ins: [f([2, 3, 5, 4, 6])],
      attrs: {
        kind: 'avg',
        kernel: [2, 3, 2],
        strides: [2, 1, 2],
        dilations: [1, 1, 2],
        pads: [1, 0, 0, 1, 1, 1],
        ceil: true,
        countPad: true,
      },
      ir: true,
    },
  ],
  topk: [
    { ins: [f([3, 5, 7])], attrs: { k: 3, axis: 1, largest: true, indices: false }, ir: true },
    { ins: [f([3, 5, 7])], attrs: { k: 2, axis: -1, largest: false, indices: true }, ir: true },
    // with excluded ids (the IR case, a float and an int32 input, is in test/ops/topk.test.ts)
    {
      ins: [f([3, 20]), { shape: [3, 4], kind: 'labels', vocab: 20 }],
      attrs: { k: 3, axis: 1, largest: true, indices: true },
    },
  ],
  gathernd: [
    { ins: [f([3, 5, 7]), { shape: [3, 2, 1], kind: 'labels', vocab: 5, constant: true }], attrs: { batchDims: 1 } },
  ],
  scatterelements: [
    {
      ins: [f([3, 5, 7]), { shape: [3, 2, 7], kind: 'labels', vocab: 5, constant: true }, f([3, 2, 7])],
      attrs: { axis: 1, reduction: 'add' },
    },
  ],
  scatternd: [
    {
      ins: [f([4, 5, 7]), { shape: [2, 1], kind: 'labels', vocab: 4, constant: true }, f([2, 5, 7])],
      attrs: { reduction: 'none' },
    },
  ],
  einsum: [{ ins: [f([3, 5, 7]), f([3, 7, 4])], attrs: { equation: 'bij,bjk->bik' } }],
  resize: [
    {
      ins: [f([2, 3, 4, 5])],
      attrs: {
        sizes: [2, 3, 7, 9],
        scales: [1, 1, 7 / 4, 9 / 5],
        mode: 'cubic',
        coordinate: 'half_pixel',
        nearest: 'round_prefer_floor',
        cubicA: -0.75,
        excludeOutside: true,
        extrapolation: 0,
      },
    },
  ],
  recurrent: [
    {
      ins: [f([4, 2, 3]), w([2, 12, 3]), w([2, 12, 3]), w([2, 24]), w([2, 2, 3]), w([2, 2, 3]), w([2, 9])],
      attrs: {
        cell: 'lstm',
        hidden: 3,
        direction: 'bidirectional',
        layout: 0,
        clip: 0,
        activations: ['Sigmoid', 'Tanh', 'Tanh', 'Sigmoid', 'Tanh', 'Tanh'],
        alpha: [],
        beta: [],
        linearBeforeReset: false,
        inputForget: false,
        output: 'y',
      },
    },
  ],
  rnnscan: [
    { ins: [f([3, 4, 6]), w([2, 6]), w([6])], attrs: { cell: 'gru', hidden: 2, reverse: false }, ir: true },
    { ins: [f([2, 5, 12]), w([3, 12])], attrs: { cell: 'lstm', hidden: 3, reverse: true }, ir: true },
    { ins: [f([2, 3, 8]), w([2, 8]), w([8])], attrs: { cell: 'lstm', hidden: 2, reverse: false }, ir: true },
  ],
  quantize: { skip: 'graph-only (its scale lives on the value): test/compile/quantize.test.ts' },
  dequantize: { skip: 'graph-only (its scale lives on the value): test/compile/quantize.test.ts' },
};

function data(inp: In, seed: number): Float32Array | Int32Array {
  const n = inp.shape.reduce((a, b) => a * b, 1);
  const r = rand(n, seed);
  if (inp.kind === 'ids')
    return Int32Array.from(r, (v, i) => (i % 4 === 3 ? -1 : Math.floor(Math.abs(v) * 997) % (inp.vocab ?? 1)));
  if (inp.kind === 'labels') return Int32Array.from(r, (v) => Math.floor(Math.abs(v) * 997) % (inp.vocab ?? 1));
  if (inp.kind === 'mask') return Float32Array.from(r, (v) => (v > 0 ? 1 : 0));
  if (inp.kind === 'positive') return Float32Array.from(r, (v) => 0.5 + Math.abs(v));
  if (inp.kind === 'margin') return Float32Array.from(r, (v) => Math.sign(v || 1) * (0.3 + Math.abs(v)));
  return r;
}

const reference = new ReferenceBackend();
const isInt = (inp: In) => inp.kind === 'ids' || inp.kind === 'labels';

/** Runs one op eagerly on `backend` (undefined: the default wasm backend). */
function run<K extends OpName>(op: K, c: Case<K>, datas: (Float32Array | Int32Array)[], b?: ReferenceBackend): Tensor {
  const ins = c.ins.map((inp, i) => tensor(datas[i], inp.shape, isInt(inp) ? 'int32' : 'float32', b));
  return apply(op, ins, c.attrs);
}

const close = (got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string) => {
  expect(got.length, what).toBe(want.length);
  let scale = 0;
  for (let i = 0; i < want.length; i++) if (Number.isFinite(want[i])) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) {
    if (Math.abs(got[i] - want[i]) > tol * (1 + scale)) expect(got[i], `${what} at ${i}`).toBeCloseTo(want[i], 4);
  }
};

describe('tensors on two backends in one process', () => {
  it('trains on the reference backend (seed gradient and results there), refuses mixing', () => {
    tidy(() => {
      const x = tensor([1, -2, 3], [3], 'float32', reference);
      x.requiresGrad = true;
      backward(G.sum(G.mul(x, x)));
      expect(Array.from(x.grad?.data() ?? [])).toEqual([2, -4, 6]);
      expect(x.grad?.backend).toBe(reference);
      const w = tensor([1, 2, 3], [3]);
      expect(() => G.add(x, w)).toThrow(/add: inputs live on different backends \('reference' and 'wasm'\)/);
    });
  });
});

describe('op registry', () => {
  it('has a definition with every part for each op, and a case here for each', () => {
    for (const op of OP_NAMES) {
      const d = OPS[op];
      expect(typeof d.infer, op).toBe('function');
      expect(typeof d.check, op).toBe('function');
      expect(typeof d.forward, op).toBe('function');
      expect(d.vjp === null || typeof d.vjp === 'function', op).toBe(true);
      expect(d.onnx === null || typeof d.onnx === 'function', op).toBe(true);
      expect(CASES[op], op).toBeDefined();
    }
  });

  for (const op of OP_NAMES) {
    const cases = CASES[op];
    if (!Array.isArray(cases)) {
      it.skip(`${op}: ${cases.skip}`, () => {});
      continue;
    }
    cases.forEach((c0, ci) => {
      const c = c0 as Case<OpName>;
      const label = `${op} #${ci} ${c.ins.map((i) => `[${i.shape.join(',')}]`).join(' ')}`;
      const datas = c.ins.map((inp, i) => data(inp, 17 + 7 * ci + i));

      it(`${label}: wasm forward = reference forward`, () => {
        tidy(() => {
          const got = noGrad(() => run(op, c, datas)).data();
          const want = noGrad(() => run(op, c, datas, reference)).data();
          close(got, want, 1e-4, 'forward');
        });
      });

      const def = OPS[op];
      const grads = (c.grad ?? c.ins.map((inp, i) => (isInt(inp) ? -1 : i)).filter((i) => i >= 0)).filter(
        () => def.vjp !== null,
      );
      if (grads.length)
        it(`${label}: vjp = finite differences (inputs ${grads.join(', ')})`, () => {
          tidy(() => {
            const ins = c.ins.map((inp, i) => {
              const t = tensor(datas[i], inp.shape, isInt(inp) ? 'int32' : 'float32');
              if (grads.includes(i)) t.requiresGrad = true;
              return t;
            });
            const out = apply(op, ins, c.attrs);
            const r = rand(out.size, 5);
            backward(G.sum(G.mul(out, tensor(r, out.shape))));
            // L(x) = Σ op(x) ⊙ r on the reference backend, in float64 on the host
            const loss = (ds: (Float32Array | Int32Array)[]) =>
              noGrad(() => {
                const o = run(op, c, ds, reference).data();
                let s = 0;
                for (let i = 0; i < o.length; i++) s += o[i] * r[i];
                return s;
              });
            const eps = 1e-2;
            for (const gi of grads) {
              const g = ins[gi].grad?.data() as Float32Array;
              expect(g, `input ${gi} got no gradient`).toBeDefined();
              const n = g.length;
              const picks =
                n <= 10 ? [...Array(n).keys()] : Array.from({ length: 10 }, (_, k) => Math.floor(((k + 0.5) * n) / 10));
              for (const i of picks) {
                const plus = datas.map((d) => d.slice());
                const minus = datas.map((d) => d.slice());
                plus[gi][i] += eps;
                minus[gi][i] -= eps;
                const fd = (loss(plus) - loss(minus)) / (2 * eps);
                const tol = c.tol ?? 2e-2;
                if (Math.abs(g[i] - fd) > tol * (1 + Math.abs(fd)))
                  expect(g[i], `d${op}/dinput${gi}[${i}] (finite difference ${fd})`).toBeCloseTo(fd, 2);
              }
            }
          });
        });

      if (c.ir)
        it(`${label}: a one-node graph run by the Session = eager`, () => {
          const graph: Graph = {
            inputs: [],
            outputs: ['y'],
            values: {},
            constants: {},
            nodes: [],
            meta: { classNames: [], input: { kind: 'tabular', shape: c.ins[0].shape.slice(1) }, producer: 'test' },
          };
          const inputs = c.ins.map((inp, i) => {
            const name = `in${i}`;
            if (inp.constant || i > 0) {
              // later non-constant inputs: the graph computes them from the first (x · 0 + data)
              if (inp.constant) {
                graph.constants[name] = {
                  shape: inp.shape,
                  dtype: isInt(inp) ? 'int32' : 'float32',
                  data: datas[i],
                } as Graph['constants'][string];
                return name;
              }
            }
            return name;
          });
          // one graph input: the first; further value inputs enter as constants broadcast over the batch
          // would change the op, so the IR case feeds them through slices of one concatenated input
          const valueIns = c.ins.map((inp, i) => (!inp.constant ? i : -1)).filter((i) => i >= 0);
          const B = c.ins[0].shape[0];
          const per = valueIns.map((i) => c.ins[i].shape.slice(1).reduce((a, b) => a * b, 1));
          const total = per.reduce((a, b) => a + b, 0);
          const dtype = isInt(c.ins[0]) ? 'int32' : 'float32';
          if (valueIns.some((i) => c.ins[i].shape[0] !== B)) return; // not batch-aligned (broadcast operands)
          graph.inputs = ['x'];
          graph.values.x = { shape: [-1, total], dtype };
          graph.meta.input = { kind: 'tabular', shape: [total] };
          let off = 0;
          valueIns.forEach((i, k) => {
            const s = `x${i}`;
            graph.values[s] = { shape: [-1, per[k]], dtype };
            graph.nodes.push({
              name: `slice${i}`,
              op: 'slice',
              inputs: ['x'],
              output: s,
              attrs: { begin: [0, off], size: [-1, per[k]] },
            } as Node);
            graph.values[inputs[i]] = { shape: [-1, ...c.ins[i].shape.slice(1)], dtype };
            graph.nodes.push({
              name: `shape${i}`,
              op: 'reshape',
              inputs: [s],
              output: inputs[i],
              attrs: { shape: [-1, ...c.ins[i].shape.slice(1)] },
            } as Node);
            off += per[k];
          });
          if (dtype === 'int32') {
            // int32 ids cannot pass through slice (float32 only): feed them directly
            graph.nodes = [];
            graph.values = { [inputs[0]]: { shape: [-1, ...c.ins[0].shape.slice(1)], dtype } };
            graph.inputs = [inputs[0]];
            graph.meta.input = { kind: 'tabular', shape: c.ins[0].shape.slice(1) };
          }
          const node = { name: 'op', op, inputs, output: 'y', attrs: c.attrs } as Node;
          const { shape, dtype: yType } = inferNode(graph, node);
          graph.values.y = { shape: [...shape], dtype: yType };
          graph.nodes.push(node);
          validateGraph(graph, `${op} graph`);
          const s = new Session(graph, { maxBatch: B });
          const x = new (dtype === 'int32' ? Int32Array : Float32Array)(B * (dtype === 'int32' ? per[0] : total));
          for (let b = 0; b < B; b++) {
            let o = 0;
            valueIns.forEach((i, k) => {
              x.set(datas[i].subarray(b * per[k], (b + 1) * per[k]), b * (dtype === 'int32' ? per[0] : total) + o);
              o += per[k];
            });
          }
          const got = s.run(x, B);
          s.dispose();
          tidy(() => close(got, noGrad(() => run(op, c, datas)).data(), 1e-4, 'runtime'));
        });
    });
  }
});
