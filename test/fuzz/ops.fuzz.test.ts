// Graphs from files may hold any op of the registry with any attributes: the sequence ops added with
// it (matmul of activations, transpose, slice, concat, softmax over an axis, reductions, where,
// layernorm, embedding, reshape) are fuzzed here. Each case starts from a valid graph, replaces
// attributes, shapes or dtypes by hostile values, and must end in a FormatError naming the graph —
// or a Session that runs without any other exception and without touching memory outside its own
// (a write past a buffer corrupts the weights after the arena: two runs must agree bit for bit).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Graph } from '../../src/graph/ir.js';
import { validateGraph } from '../../src/graph/validate.js';
import { Session } from '../../src/runtime/session.js';
import { fconst, graph } from '../graph/build.js';
import { expectCleanOutcome, FUZZ_RUNS, fuzzParams } from './mutate.js';

const filled = (shape: number[], v = 0.5) => fconst(shape, () => v);

const BASES: [string, () => Graph][] = [
  ['matmul', () => graph([3, 4], [{ name: 'mm', op: 'matmul', inputs: ['x', 'w'], attrs: {} }], { w: filled([4, 5]) })],
  [
    'attention',
    () =>
      graph(
        [3, 4],
        [
          { name: 't', op: 'transpose', inputs: ['x'], attrs: { perm: [0, 2, 1] } },
          { name: 'qk', op: 'matmul', inputs: ['x', 'y0'], attrs: {} },
          { name: 'sm', op: 'softmax', inputs: ['y1'], attrs: { axis: -1, log: false } },
        ],
      ),
  ],
  [
    'slice',
    () => graph([5, 6], [{ name: 's', op: 'slice', inputs: ['x'], attrs: { begin: [0, 1, 2], size: [-1, 3, 4] } }]),
  ],
  ['concat', () => graph([2, 3], [{ name: 'c', op: 'concat', inputs: ['x', 'x'], attrs: { axis: 1 } }])],
  ['mean', () => graph([2, 3, 4], [{ name: 'r', op: 'mean', inputs: ['x'], attrs: { axes: [2], keepDims: true } }])],
  ['reshape', () => graph([2, 6], [{ name: 'r', op: 'reshape', inputs: ['x'], attrs: { shape: [-1, 3, 4] } }])],
  ['where', () => graph([4], [{ name: 'w', op: 'where', inputs: ['x', 'x', 'c'], attrs: {} }], { c: filled([4]) })],
  [
    'layernorm',
    () =>
      graph([3, 4], [{ name: 'ln', op: 'layernorm', inputs: ['x', 'g', 'b'], attrs: { eps: 1e-5 } }], {
        g: filled([4], 1),
        b: filled([4], 0),
      }),
  ],
  [
    'embedding',
    () => graph([5], [{ name: 'e', op: 'embedding', inputs: ['x', 't'], attrs: {} }], { t: filled([7, 3]) }, 'int32'),
  ],
];

/** Hostile attribute values: wrong types, out of range, huge, empty, NaN. */
const hostile = fc.constantFrom<unknown>(
  undefined,
  null,
  -1,
  0,
  7,
  2 ** 31,
  1e39,
  Number.NaN,
  'x',
  [],
  [0],
  [0, 0, 0],
  [-1, -1, -1],
  [0, 2, 1, 3],
  [2 ** 31, 1, 1],
  [0, 1, 1e9],
  { 0: 0 },
  true,
);

describe('graphs of the registry ops from files', () => {
  it.each(BASES)(
    '%s: hostile attributes, shapes and dtypes give a FormatError naming the graph, or a graph that runs in bounds',
    (_name, base) => {
      fc.assert(
        fc.property(
          fc.nat({ max: 50 }),
          fc.constantFrom('attr', 'shape', 'dtype'),
          fc.string({ maxLength: 3 }),
          hostile,
          fc.nat({ max: 5 }),
          (which, kind, _s, value, dim) => {
            const g = base();
            const n = g.nodes[which % g.nodes.length];
            if (kind === 'attr') {
              const keys = Object.keys(n.attrs);
              const key = keys.length ? keys[which % keys.length] : 'axis';
              (n.attrs as Record<string, unknown>)[key] = value;
            } else if (kind === 'shape') {
              const v = g.values[n.output];
              v.shape = [...v.shape];
              v.shape[1 + (dim % Math.max(1, v.shape.length - 1))] = typeof value === 'number' ? value : 3;
            } else {
              const v = g.values[n.output];
              v.dtype = (['int8', 'int32', 'float32'] as const)[dim % 3];
              if (v.dtype === 'int8') v.quant = { scale: [0.1], zeroPoint: [0] };
            }
            const outcome = expectCleanOutcome(() => {
              validateGraph(g, 'fuzzed.grad');
              const s = new Session(g, { maxBatch: 2 });
              try {
                // a step writing past its buffer corrupts the weights after the arena: a second run differs
                const per = g.values.x.shape.slice(1).reduce((a, b) => a * b, 1);
                const input =
                  g.values.x.dtype === 'int32' ? new Int32Array(2 * per).fill(1) : new Float32Array(2 * per).fill(0.25);
                const first = new Uint8Array(s.run(input, 2).buffer);
                const second = new Uint8Array(s.run(input, 2).buffer);
                expect(Buffer.from(second).equals(Buffer.from(first))).toBe(true);
              } finally {
                s.dispose();
              }
              return true;
            }, /fuzzed\.grad|Session/);
            return outcome === true || outcome instanceof Error;
          },
        ),
        fuzzParams(Math.max(60, Math.floor(FUZZ_RUNS / 2))),
      );
    },
  );
});
