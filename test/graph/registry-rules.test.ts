// The rules the op registry adds to graph validation and the runtime, each from a defect a
// review found in the first version: graphs from files that would have run out of bounds or
// computed garbage are refused naming the node and field; the ONNX export keeps Graduate's axes
// for ops whose operands are constants or of another rank (checked against ONNX Runtime).
import { describe, expect, it } from 'vitest';
import { WasmInferenceBackend } from '../../src/backend/wasm-infer.js';
import { readArtifact, writeArtifact } from '../../src/graph/artifact.js';
import type { Graph, Node } from '../../src/graph/ir.js';
import { validateGraph } from '../../src/graph/validate.js';
import { exportOnnx } from '../../src/onnx/export.js';
import { Session } from '../../src/runtime/session.js';
import { engine } from '../../src/tensor/context.js';
import { maxAbsDiff, runOrt } from '../onnx/fixtures.js';
import { fconst, graph } from './build.js';
import { floatGraph, rewriteHeader } from './craft.js';

describe('validateGraph: registry rules', () => {
  it('refuses a float op writing a value declared int8 (only conv2d/linear requantize)', () => {
    const g = graph([4], [{ name: 'mm', op: 'matmul', inputs: ['x', 'w'], attrs: {} }], {
      w: fconst([4, 64], () => 0.5),
    });
    g.values.y0 = { shape: [-1, 64], dtype: 'int8', quant: { scale: [0.1], zeroPoint: [0] } };
    g.values.out = { shape: [-1, 64], dtype: 'float32' };
    g.nodes.push({ name: 'dq', op: 'dequantize', inputs: ['y0'], output: 'out', attrs: {} });
    g.outputs = ['out'];
    expect(() => validateGraph(g, 'bad.grad')).toThrow(
      /bad\.grad: node 0 \('mm', matmul\): output 'y0' is int8, expected float32/,
    );
    const add = graph([4], [{ name: 'a', op: 'add', inputs: ['x', 'x'], attrs: {} }]);
    add.values.y0 = { shape: [-1, 4], dtype: 'int8', quant: { scale: [0.1], zeroPoint: [0] } };
    expect(() => validateGraph(add, 'add.grad')).toThrow(/'a', add\): output 'y0' is int8/);
  });

  it('names bad attributes before the shape rule reads them, and caps value rank at 8', () => {
    const g = graph([4], [{ name: 's', op: 'scale', inputs: ['x'], attrs: { mul: 2, add: 0 } }]);
    (g.nodes[0].attrs as Record<string, unknown>).mul = undefined;
    expect(() => validateGraph(g, 'g')).toThrow(/'s', scale\): attrs\.mul must be a finite float32 number/);
    const r = graph([4, 3], [{ name: 'r', op: 'reshape', inputs: ['x'], attrs: { shape: [-1, 12] } }]);
    (r.nodes[0].attrs as Record<string, unknown>).shape = 'flat';
    expect(() => validateGraph(r, 'g')).toThrow(/'r', reshape\): attrs\.shape must be an array of integers/);
    const t = graph([4, 3], [{ name: 't', op: 'transpose', inputs: ['x'], attrs: { perm: [0, 2, 1] } }]);
    (t.nodes[0].attrs as Record<string, unknown>).perm = { 0: 0 };
    expect(() => validateGraph(t, 'g')).toThrow(/'t', transpose\): attrs\.perm must be an array of integers/);
    const deep = graph([1, 1, 1, 1, 1, 2], [{ name: 'u', op: 'unary', inputs: ['x'], attrs: { fn: 'relu' } }]);
    deep.values.x.shape = [-1, 1, 1, 1, 1, 1, 1, 1, 2];
    deep.values.y0.shape = [-1, 1, 1, 1, 1, 1, 1, 1, 2];
    deep.meta.input.shape = [1, 1, 1, 1, 1, 1, 1, 2];
    expect(() => validateGraph(deep, 'deep.grad')).toThrow(/value 'x': shape .* has rank 9, more than 8/);
  });

  it('accepts float16 weights for matmul (what --quantize fp16 writes)', () => {
    const g = graph([4], [{ name: 'mm', op: 'matmul', inputs: ['x', 'w'], attrs: {} }], {
      w: fconst([4, 3], (i) => i),
    });
    g.constants.w = { shape: [4, 3], dtype: 'float16', data: new Uint16Array(12).fill(0x3c00) };
    expect(() => validateGraph(g, 'fp16.grad')).not.toThrow();
  });
});

describe('the runtime allocates nothing per call', () => {
  it('ops run by forward (layernorm, softmax over an inner axis) plan their scratch once; a weight is packed once', () => {
    const g = graph(
      [5, 7],
      [
        { name: 'ln', op: 'layernorm', inputs: ['x', 'g', 'b'], attrs: { eps: 1e-5 } },
        { name: 'sm', op: 'softmax', inputs: ['y0'], attrs: { axis: 1, log: false } },
        { name: 'mm', op: 'matmul', inputs: ['y1', 'w'], attrs: {} },
      ],
      { g: fconst([7], (i) => 1 + i / 7), b: fconst([7], (i) => i / 10), w: fconst([7, 3], (i) => (i % 5) - 2) },
    );
    const backend = new WasmInferenceBackend(engine());
    let allocs = 0;
    const alloc = backend.alloc.bind(backend);
    backend.alloc = (bytes) => {
      allocs++;
      return alloc(bytes);
    };
    const s = new Session(g, { backend, maxBatch: 4 });
    const x = Float32Array.from({ length: 4 * 35 }, (_, i) => Math.sin(i));
    const first = s.run(x, 4);
    allocs = 0;
    for (const n of [4, 1, 3]) s.run(x.subarray(0, n * 35), n);
    expect(allocs).toBe(0);
    expect(Array.from(s.run(x, 4))).toEqual(Array.from(first));
    s.dispose();
  });
});

describe('runtime scratch is one pool for the whole session', () => {
  it("holds the largest step's scratch, not the sum over steps", () => {
    const ln = (k: number): Omit<Node, 'output'> => ({
      name: `ln${k}`,
      op: 'layernorm',
      inputs: [k ? `y${k - 1}` : 'x', 'g', 'b'],
      attrs: { eps: 1e-5 },
    });
    const consts = { g: fconst([16], () => 1), b: fconst([16], () => 0) };
    const scratchOf = (layers: number) => {
      const backend = new WasmInferenceBackend(engine());
      const before = backend.memoryStats().liveBytes;
      const s = new Session(
        graph(
          [8, 16],
          Array.from({ length: layers }, (_, k) => ln(k)),
          consts,
        ),
        { backend, maxBatch: 8, tile: 8 },
      );
      const used = backend.memoryStats().liveBytes - before;
      s.dispose();
      return used;
    };
    // 12 layernorms need no more scratch than 2 (the arena grows a little with the values)
    expect(scratchOf(12) - scratchOf(2)).toBeLessThan(8192);
  });
});

describe('token ids reach a table only within its rows', () => {
  const table = fconst([5, 2], (i) => i);
  it('checks ids of embedding and of embeddingbag behind a view of the input', () => {
    const emb = graph([4], [{ name: 'e', op: 'embedding', inputs: ['x', 't'], attrs: {} }], { t: table }, 'int32');
    const s = new Session(emb, { maxBatch: 1 });
    expect(() => s.run(Int32Array.of(0, 4, 5, 200), 1)).toThrow(
      /input\[2\] = 5 is not a token id of this model \(ids lie in \[-1, 5\)\)/,
    );
    expect(Array.from(s.run(Int32Array.of(0, 4, -1, 1), 1))).toEqual([0, 1, 8, 9, 0, 0, 2, 3]);
    // ids given as floats are their values, never their bits (a denormal whose bits are 1 is no id)
    expect(() => s.run(new Float32Array(new Int32Array([0, 1, 40, 2]).buffer), 1)).toThrow(
      /input\[1\] = 1\.4\d*e-45 is not a token id/,
    );
    expect(Array.from(s.run(Float32Array.of(0, 4, -1, 1), 1))).toEqual([0, 1, 8, 9, 0, 0, 2, 3]);
    // float ids beyond int32 do not wrap into range (2^32 would become 0)
    expect(() => s.run(Float32Array.of(0, 2 ** 32, 1, 2), 1)).toThrow(/input\[1\] = 4294967296 is not a token id/);
    // profile() takes the same input checks and conversion as run()
    expect(() => s.profile(Float32Array.of(0, 1, 9, 2), 1, 1)).toThrow(/input\[2\] = 9 is not a token id/);
    expect(s.profile(Float32Array.of(0, 1, 2, 3), 1, 1).size).toBe(1);
    s.dispose();
    const bag = graph(
      [2, 2],
      [
        { name: 'r', op: 'reshape', inputs: ['x'], attrs: { shape: [-1, 4] } },
        { name: 'b', op: 'embeddingbag', inputs: ['y0', 't'], attrs: {} },
      ],
      { t: table },
      'int32',
    );
    const sb = new Session(bag, { maxBatch: 1 });
    expect(() => sb.run(Int32Array.of(0, 1, 2, 7), 1)).toThrow(/input\[3\] = 7 is not a token id/);
    sb.dispose();
  });
});

describe('ONNX export keeps the axes of constants and of matmul (ONNX Runtime agrees)', () => {
  const x = Float32Array.from({ length: 2 * 27 }, (_, i) => Math.sin(i * 0.7));
  const cases: [string, Graph][] = [
    [
      'add of a 4-D value and a per-channel constant',
      graph([3, 3, 3], [{ name: 'a', op: 'add', inputs: ['x', 'c'], attrs: {} }], { c: fconst([3], (i) => i * 10) }),
    ],
    [
      'mul by a [W, C] constant',
      graph([3, 3, 3], [{ name: 'm', op: 'mul', inputs: ['x', 'c'], attrs: {} }], { c: fconst([3, 3], (i) => i - 4) }),
    ],
    [
      'matmul of a 4-D value by a weight',
      graph([3, 3, 3], [{ name: 'mm', op: 'matmul', inputs: ['x', 'w'], attrs: {} }], {
        w: fconst([3, 3], (i) => (i % 4) - 1.5),
      }),
    ],
    [
      'matmul of two 4-D activations (Q·Kᵀ)',
      graph(
        [3, 3, 3],
        [
          { name: 't', op: 'transpose', inputs: ['x'], attrs: { perm: [0, 1, 3, 2] } },
          { name: 'qk', op: 'matmul', inputs: ['x', 'y0'], attrs: {} },
        ],
      ),
    ],
  ];
  it.each(cases)('%s', async (_name, g) => {
    validateGraph(g, 'g');
    const s = new Session(g, { maxBatch: 2 });
    const want = s.run(x, 2);
    s.dispose();
    // the exported graph takes NHWC input as Graduate does and returns Graduate's layout
    expect(maxAbsDiff(await runOrt(exportOnnx(g), x, [2, 3, 3, 3]), want)).toBeLessThan(1e-4);
  });
});

describe('artifacts written before the op registry', () => {
  it("read with their 'activation' nodes as unary/softmax, computing the same", () => {
    const g = floatGraph();
    const bytes = writeArtifact(g);
    // the older spelling: activation {fn: 'leakyrelu' | 'softmax' | …}
    const old = rewriteHeader(bytes, (h) => {
      for (const n of h.graph.nodes) {
        if (n.op === 'softmax') Object.assign(n, { op: 'activation', attrs: { fn: 'softmax' } });
        if (n.op === 'unary')
          Object.assign(n, { op: 'activation', attrs: { fn: n.attrs.fn === 'leakyRelu' ? 'leakyrelu' : n.attrs.fn } });
      }
      return h;
    });
    expect(new TextDecoder().decode(old)).toContain('"activation"');
    const back = readArtifact(old, 'old.grad');
    expect(back.nodes.map((n) => n.op)).toEqual(g.nodes.map((n) => n.op));
    const x = Float32Array.from({ length: 2 * 128 }, (_, i) => (i * 37) % 255);
    const [a, b] = [new Session(g, { maxBatch: 2 }), new Session(back, { maxBatch: 2 })];
    expect(Array.from(b.run(x, 2))).toEqual(Array.from(a.run(x, 2)));
    a.dispose();
    b.dispose();
  });
});
