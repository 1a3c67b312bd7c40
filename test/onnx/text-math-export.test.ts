// Export of the host-loop math ops (`map`, `binop`, `cast`; ops/math-onnx.ts), which text models
// (the padding mask: Greater + Cast) and imported encoders (Erf GELU, Equal/Where masks) need: a
// one-op ONNX model per case is imported (the general path maps it onto map/binop/cast), exported
// again, and both files run in ONNX Runtime on the same input: equal within 1e-5. Bool results
// (comparisons, Not, IsNaN, IsInf) come back through a Cast to float, as Graduate holds them as
// int32 0/1; narrowing casts wrap through the narrow type.
import { describe, expect, it } from 'vitest';
import { exportOnnx } from '../../src/onnx/export.js';
import { importOnnx } from '../../src/onnx/import.js';
import { DT, onnx } from '../../src/onnx/proto.js';
import { handModel, init, maxAbsDiff, node, runOrt } from './fixtures.js';

const N = 3;
const C = 8;
/** Values in [−2.5, 2.5], halves included (Round is half to even), never exactly 0 for Log's sake. */
const x = Float32Array.from(
  { length: N * C },
  (_, i) => [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5][i % 6] + (i >= 6 ? Math.sin(i) * 0.3 : 0),
);

type Case = { name: string; nodes: ReturnType<typeof node>[]; inits?: ReturnType<typeof init>[]; ops: string[] };
const one = (op: string, attrs: Record<string, number> = {}, floats: string[] = []): Case => ({
  name: op,
  nodes: [node(op, ['x'], ['y'], op, attrs, floats)],
  ops: [op],
});
/** An op over a positive input (|x| + 1.05: inside Log's, Sqrt's and Acosh's domains). */
const positive = (op: string): Case => ({
  name: `${op} (positive input)`,
  nodes: [node('Abs', ['x'], ['a'], 'abs'), node('Add', ['a', 'shift'], ['p'], 'shift'), node(op, ['p'], ['y'], op)],
  inits: [init('shift', [], [1.05])],
  ops: [op],
});
/** An op over x / 3 (inside (−1, 1): Asin, Acos, Atanh). */
const unit = (op: string): Case => ({
  name: `${op} (|input| < 1)`,
  nodes: [node('Mul', ['x', 'third'], ['u'], 'third'), node(op, ['u'], ['y'], op)],
  inits: [init('third', [], [1 / 3])],
  ops: [op],
});
/** A bool-valued op, then Cast to float. */
const toFloat = (name: string, nodes: Case['nodes'], ops: string[], inits: Case['inits'] = []): Case => ({
  name,
  nodes: [...nodes, node('Cast', [nodes[nodes.length - 1].output?.[0] ?? ''], ['y'], 'to_float', { to: DT.FLOAT })],
  inits,
  ops,
});
const b = init('b', [C], [0.5, -1.5, 2, 0.25, -0.5, 1.5, -2.5, 1]);

const CASES: Case[] = [
  ...['Abs', 'Neg', 'Sign', 'Exp', 'Floor', 'Ceil', 'Round', 'Sin', 'Cos', 'Tan', 'Atan', 'Sinh', 'Cosh'].map((o) =>
    one(o),
  ),
  ...['Asinh', 'Erf', 'Softplus', 'Softsign', 'HardSwish', 'Identity'].map((o) => one(o)),
  ...['Log', 'Sqrt', 'Reciprocal', 'Acosh'].map(positive),
  ...['Asin', 'Acos', 'Atanh'].map(unit),
  one('LeakyRelu', { alpha: 0.2 }, ['alpha']),
  one('Elu', { alpha: 0.7 }, ['alpha']),
  one('Selu', { alpha: 1.5, gamma: 1.1 }, ['alpha', 'gamma']),
  one('Celu', { alpha: 0.8 }, ['alpha']),
  one('HardSigmoid', { alpha: 0.3, beta: 0.4 }, ['alpha', 'beta']),
  one('ThresholdedRelu', { alpha: 0.6 }, ['alpha']),
  one('Shrink', { lambd: 0.7, bias: 0.2 }, ['lambd', 'bias']),
  {
    name: 'Erf GELU as PyTorch exports it: x · 0.5 · (1 + erf(x / √2))',
    nodes: [
      node('Div', ['x', 'sqrt2'], ['d'], 'div'),
      node('Erf', ['d'], ['e'], 'erf'),
      node('Add', ['e', 'one'], ['p'], 'add'),
      node('Mul', ['x', 'p'], ['m'], 'mul'),
      node('Mul', ['m', 'half'], ['y'], 'half'),
    ],
    inits: [init('sqrt2', [], [Math.SQRT2]), init('one', [], [1]), init('half', [], [0.5])],
    ops: ['Erf'],
  },
  {
    name: 'Clip with both bounds',
    nodes: [node('Clip', ['x', 'lo', 'hi'], ['y'], 'clip')],
    inits: [init('lo', [], [-1.2]), init('hi', [], [0.7])],
    ops: ['Clip'],
  },
  ...(['Max', 'Min', 'Pow'] as const).map((o) => ({
    name: `${o} against a constant row`,
    nodes: [node(o, o === 'Pow' ? ['b', 'x'] : ['x', 'b'], ['y'], o)],
    inits: [o === 'Pow' ? init('b', [C], [0.5, 1.5, 2, 0.25, 0.5, 1.5, 2.5, 1]) : b],
    ops: [o],
  })),
  { name: 'Mod (fmod 1)', nodes: [node('Mod', ['x', 'b'], ['y'], 'mod', { fmod: 1 })], inits: [b], ops: ['Mod'] },
  ...(['Greater', 'Less', 'Equal', 'GreaterOrEqual', 'LessOrEqual'] as const).map((o) =>
    toFloat(`${o} → Cast`, [node(o, ['x', 'b'], ['c'], o)], [o], [b]),
  ),
  ...(['And', 'Or', 'Xor'] as const).map((o) =>
    toFloat(
      `${o} of two comparisons → Cast`,
      [node('Greater', ['x', 'b'], ['p'], 'p'), node('Less', ['x', 'zero'], ['q'], 'q'), node(o, ['p', 'q'], ['c'], o)],
      [o],
      [b, init('zero', [], [0])],
    ),
  ),
  toFloat('Not → Cast', [node('Greater', ['x', 'b'], ['p'], 'p'), node('Not', ['p'], ['c'], 'not')], ['Not'], [b]),
  toFloat('IsNaN → Cast', [node('IsNaN', ['x'], ['c'], 'isnan')], ['IsNaN']),
  toFloat('IsInf → Cast', [node('IsInf', ['x'], ['c'], 'isinf', { detect_negative: 0 })], ['IsInf']),
  ...(
    [
      ['int32', DT.INT32],
      ['int8', DT.INT8],
      ['uint8', DT.UINT8],
      ['float16', DT.FLOAT16],
    ] as const
  ).map(([what, to]) => ({
    name: `Cast to ${what} of x · 60 and back to float (int8 wraps; float16 rounds)`,
    nodes: [
      node('Mul', ['x', 'k'], ['s'], 'scale'),
      node('Cast', ['s'], ['c'], 'cast', { to }),
      node('Cast', ['c'], ['y'], 'back', { to: DT.FLOAT }),
    ],
    inits: [init('k', [], [what === 'float16' ? 1.37 : 60])],
    ops: ['Cast'],
  })),
];

describe('map, binop and cast export to ONNX (import → export → ONNX Runtime equals the original)', () => {
  for (const c of CASES)
    it(c.name, async () => {
      const bytes = handModel({ input: [-1, C], nodes: c.nodes, inits: c.inits });
      // the general path (a given shape sends it there; the image path reads Erf GELU as its own GELU)
      const g = importOnnx(bytes, `${c.name}.onnx`, { shapes: { x: [-1, C] } });
      const again = exportOnnx(g);
      const ops = onnx.ModelProto.decode(again).graph?.node?.map((n) => n.opType) ?? [];
      for (const op of c.ops) expect(ops).toContain(op);
      const want = await runOrt(bytes, x, [N, C]);
      const got = await runOrt(again, x, [N, C]);
      expect(got.length).toBe(want.length);
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);
    });

  it('bit ops and shifts are refused by name (opset 18, or unsigned types only)', () => {
    const bytes = handModel({
      input: [-1, C],
      nodes: [
        node('Cast', ['x'], ['i'], 'to_int', { to: DT.INT32 }),
        node('BitwiseAnd', ['i', 'm'], ['a'], 'and'),
        node('Cast', ['a'], ['y'], 'back', { to: DT.FLOAT }),
      ],
      inits: [{ name: 'm', dims: [], dataType: DT.INT32, int32Data: [6] }],
      opset: 18,
    });
    const g = importOnnx(bytes, 'bits.onnx', { shapes: { x: [-1, C] } });
    expect(() => exportOnnx(g)).toThrow(/binop 'bitand' at '.*' has no ONNX mapping in opset 17/);
  });
});
