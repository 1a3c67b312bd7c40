// Conversions between float32 and int8 activations (inference only: the compiler's quantize pass
// inserts them). Their parameters live on the values: quantize uses its output's, dequantize its
// input's (one scale and zero point per tensor). Computed by the backend's int8 family.
import { ValueError } from '../errors.js';
import { int8Of } from './matmul.js';
import type { OpDef } from './op.js';
import { expectDtype } from './rules.js';

export interface QuantAttrs {
  quantize: Record<string, never>;
  dequantize: Record<string, never>;
}

function conversion(
  op: keyof QuantAttrs,
  from: 'float32' | 'int8',
  to: 'float32' | 'int8',
): OpDef<Record<string, never>> {
  return {
    arity: [1, 1],
    infer: ([x]) => ({ shape: x.shape, dtype: to }),
    check(c) {
      expectDtype(c, `input '${c.n.inputs[0]}'`, c.value(0), from);
      expectDtype(c, `output '${c.n.output}'`, c.out, to);
    },
    forward: () => {
      throw new ValueError(`${op}: only graphs run it (its parameters live on the graph's values)`);
    },
    vjp: null,
    run(p, n) {
      const q = (op === 'quantize' ? p.value(n.output) : p.value(n.inputs[0])).quant as {
        scale: number[];
        zeroPoint: number[];
      };
      const per = p
        .value(n.inputs[0])
        .shape.slice(1)
        .reduce((a, d) => a * d, 1);
      const [x, out] = [p.buf(n.inputs[0]), p.buf(n.output)];
      const i8 = int8Of(p, n.name);
      if (op === 'quantize') return (N) => i8.quantize(x, N * per, q.scale[0], q.zeroPoint[0], out);
      return (N) => i8.dequantize(x, N * per, q.scale[0], q.zeroPoint[0], out);
    },
    traits: {},
    onnx: (o, n) => {
      if (op === 'quantize') o.bind(n.output, o.raw(n.inputs[0]), n.name);
      else o.set(n.output, o.float(n.inputs[0], n.name));
    },
  };
}

export const QUANT = {
  quantize: conversion('quantize', 'float32', 'int8'),
  dequantize: conversion('dequantize', 'int8', 'float32'),
} satisfies { [K in keyof QuantAttrs]: OpDef<QuantAttrs[K]> };
