// Elementwise ops: broadcasting binary arithmetic, unary math and activations, x·mul + add,
// where (select by a mask), and the per-channel affine map (x · scale[C] + shift[C]).

import { UNARY_FNS, type UnaryFn } from '../backend/backend.js';
import { fmtShape, ShapeError } from '../errors.js';
import { isFloat32 } from '../io/fields.js';
import { broadcastShape } from '../shape/window.js';
import type { OpDef, Ref } from './op.js';
import {
  channelConstant,
  channelsOf,
  EPILOGUE_UNARY,
  expectDtype,
  IR_ACTIVATION,
  numel,
  operand,
  operandOnnx,
  optionalNumber,
  orderOf,
  sameDtype,
  sumTo,
} from './rules.js';

type None = Record<string, never>;
export interface ElementwiseAttrs {
  add: None;
  sub: None;
  mul: None;
  div: None;
  maximum: None;
  minimum: None;
  /** gelu: tanh approximation; leakyRelu: slope alpha (default 0.01). */
  unary: { fn: UnaryFn; alpha?: number };
  /** x · mul + add. */
  scale: { mul: number; add: number };
  /** cond ≠ 0 ? a : b, all three broadcast. */
  where: None;
  /** x · scale[C] + shift[C] over the last axis. */
  affine: None;
}

const ONNX_BINARY = { add: 'Add', sub: 'Sub', mul: 'Mul', div: 'Div', maximum: 'Max', minimum: 'Min' } as const;
const KERNEL_BINARY = { add: 'add', sub: 'sub', mul: 'mul', div: 'div', maximum: 'max', minimum: 'min' } as const;

function binaryOp(op: keyof typeof KERNEL_BINARY): OpDef<None> {
  const fn = KERNEL_BINARY[op];
  return {
    arity: [2, 2],
    infer: ([a, b]) => ({ shape: broadcastShape(a.shape, b.shape, op), dtype: 'float32' }),
    check(c) {
      for (const i of [0, 1]) expectDtype(c, `input '${c.n.inputs[i]}'`, operand(c, i), 'float32');
      expectDtype(c, `output '${c.n.output}'`, c.out, 'float32');
    },
    forward(x, [a, b], out) {
      x.backend.binary(fn, a.buf, a.shape, b.buf, b.shape, out.buf);
      return undefined;
    },
    vjp: (g, [a, b], out, _s, d) => {
      const bk = g.backend;
      const alloc = (s: readonly number[]) => g.alloc(s);
      const bin = (f: 'mul' | 'div' | 'sub' | 'gt', u: Ref, v: Ref) => {
        const r = g.alloc(broadcastShape(u.shape, v.shape, op));
        bk.binary(f, u.buf, u.shape, v.buf, v.shape, r.buf);
        return r;
      };
      const scaled = (t: Ref, m: number) => {
        const r = g.alloc(t.shape);
        bk.scale(t.buf, r.buf, t.size, m, 0);
        return r;
      };
      /** d routed to a where mask is 1, to b elsewhere (ties of max/min go to b). */
      const routed = (mask: Ref) => {
        const da = bin('mul', d, mask);
        const db = bin('sub', d, da);
        mask.dispose();
        return [sumTo(bk, alloc, da, a.shape), sumTo(bk, alloc, db, b.shape)];
      };
      switch (op) {
        case 'add':
          return [sumTo(bk, alloc, scaled(d, 1), a.shape), sumTo(bk, alloc, scaled(d, 1), b.shape)];
        case 'sub':
          return [sumTo(bk, alloc, scaled(d, 1), a.shape), sumTo(bk, alloc, scaled(d, -1), b.shape)];
        case 'mul':
          return [sumTo(bk, alloc, bin('mul', d, b), a.shape), sumTo(bk, alloc, bin('mul', d, a), b.shape)];
        case 'div': {
          const da = bin('div', d, b);
          const t = bin('mul', da, out); // d · a / b², via out = a / b
          const db = scaled(t, -1);
          t.dispose();
          return [sumTo(bk, alloc, da, a.shape), sumTo(bk, alloc, db, b.shape)];
        }
        case 'maximum':
          return routed(bin('gt', a, b));
        case 'minimum':
          return routed(bin('gt', b, a));
      }
    },
    traits: { elementwise: true },
    onnx: (o, n) => {
      const order = orderOf(o, n.inputs);
      const [a, b] = n.inputs.map((v) => operandOnnx(o, v, n.name, order));
      o.bind(n.output, o.node(ONNX_BINARY[op], [a, b], n.name), n.name, order);
    },
  };
}

const ONNX_UNARY: Partial<Record<UnaryFn, string>> = {
  neg: 'Neg',
  exp: 'Exp',
  log: 'Log',
  sqrt: 'Sqrt',
  abs: 'Abs',
  reciprocal: 'Reciprocal',
};

export const ELEMENTWISE = {
  add: binaryOp('add'),
  sub: binaryOp('sub'),
  mul: binaryOp('mul'),
  div: binaryOp('div'),
  maximum: binaryOp('maximum'),
  minimum: binaryOp('minimum'),
  unary: {
    arity: [1, 1],
    infer: ([x]) => ({ shape: x.shape, dtype: 'float32' }),
    check(c) {
      sameDtype(c, 'float32');
      if (!UNARY_FNS.includes(c.n.attrs.fn))
        c.bad(`attrs.fn ${JSON.stringify(c.n.attrs.fn)} is not one of ${UNARY_FNS.join(', ')}`);
      optionalNumber(c, 'alpha');
    },
    forward(x, [i], out, a) {
      x.backend.unary(a.fn, i.buf, out.buf, numel(i.shape), a.alpha);
      return undefined;
    },
    vjp: (g, [x], out, _s, d, a) => {
      const dx = g.alloc(x.shape);
      g.backend.unaryBackward(a.fn, x.buf, out.buf, d.buf, dx.buf, x.size, a.alpha);
      return [dx];
    },
    traits: { activation: true, perChannel: true, elementwise: true },
    onnx: (o, n) => {
      const { fn, alpha } = n.attrs;
      const order = o.order(n.inputs[0]);
      const x = o.float(n.inputs[0], n.name, order);
      let y: string;
      if (EPILOGUE_UNARY.has(fn)) y = o.activation(IR_ACTIVATION[fn as keyof typeof IR_ACTIVATION], x, n.name, alpha);
      else if (fn === 'square') y = o.node('Mul', [x, x], n.name);
      else y = o.node(ONNX_UNARY[fn] as string, [x], n.name);
      o.bind(n.output, y, n.name, order);
    },
  } satisfies OpDef<ElementwiseAttrs['unary']>,
  scale: {
    arity: [1, 1],
    infer: ([x]) => ({ shape: x.shape, dtype: 'float32' }),
    check(c) {
      sameDtype(c, 'float32');
      for (const k of ['mul', 'add'] as const)
        if (!isFloat32(c.n.attrs[k]))
          c.bad(`attrs.${k} must be a finite float32 number, got ${JSON.stringify(c.n.attrs[k])}`);
    },
    forward(x, [i], out, a) {
      x.backend.scale(i.buf, out.buf, numel(i.shape), a.mul, a.add);
      return undefined;
    },
    vjp: (g, _i, _o, _s, d, a) => {
      const dx = g.alloc(d.shape);
      g.backend.scale(d.buf, dx.buf, d.size, a.mul, 0);
      return [dx];
    },
    traits: { elementwise: true },
    onnx: (o, n) => {
      const at = n.name;
      const order = o.order(n.inputs[0]);
      let y = o.node('Mul', [o.float(n.inputs[0], at, order), o.tensor(`${at}/mul`, [], [n.attrs.mul])], at);
      if (n.attrs.add !== 0) y = o.node('Add', [y, o.tensor(`${at}/add`, [], [n.attrs.add])], at);
      o.bind(n.output, y, at, order);
    },
  } satisfies OpDef<ElementwiseAttrs['scale']>,
  where: {
    arity: [3, 3],
    infer: ([c, a, b]) => ({
      shape: broadcastShape(broadcastShape(c.shape, a.shape, 'where'), b.shape, 'where'),
      dtype: 'float32',
    }),
    check(c) {
      for (const i of [0, 1, 2]) expectDtype(c, `input '${c.n.inputs[i]}'`, operand(c, i), 'float32');
      expectDtype(c, `output '${c.n.output}'`, c.out, 'float32');
    },
    forward(x, [c, a, b], out) {
      x.backend.where(c.buf, c.shape, a.buf, a.shape, b.buf, b.shape, out.buf);
      return undefined;
    },
    vjp: (g, [c, a, b], _o, _s, d, _a, needs) => {
      const bk = g.backend;
      const alloc = (s: readonly number[]) => g.alloc(s);
      const zeros = g.alloc([]);
      bk.fill(zeros.buf, 1, 0);
      const route = (toA: boolean) => {
        const r = g.alloc(d.shape);
        if (toA) bk.where(c.buf, c.shape, d.buf, d.shape, zeros.buf, [], r.buf);
        else bk.where(c.buf, c.shape, zeros.buf, [], d.buf, d.shape, r.buf);
        return r;
      };
      const da = needs[1] ? sumTo(bk, alloc, route(true), a.shape) : null;
      const db = needs[2] ? sumTo(bk, alloc, route(false), b.shape) : null;
      zeros.dispose();
      return [null, da, db];
    },
    traits: { elementwise: true },
    onnx: (o, n) => {
      const at = n.name;
      const order = orderOf(o, n.inputs);
      const [c, a, b] = n.inputs.map((v) => operandOnnx(o, v, at, order));
      const cond = o.node('Cast', [c], at, [{ name: 'to', i: 9 }]); // BOOL
      o.bind(n.output, o.node('Where', [cond, a, b], at), at, order);
    },
  } satisfies OpDef<None>,
  affine: {
    arity: [3, 3],
    infer: ([x, s, t]) => {
      const C = channelsOf('affine', x);
      for (const p of [s, t])
        if (p.shape.length !== 1 || p.shape[0] !== C)
          throw new ShapeError(`affine: parameter ${fmtShape(p.shape)} must be [${C}] for input ${fmtShape(x.shape)}`);
      return { shape: x.shape, dtype: 'float32' };
    },
    check(c) {
      const x = sameDtype(c, 'float32');
      channelConstant(c, 1, x.shape.at(-1) as number, 'scale');
      channelConstant(c, 2, x.shape.at(-1) as number, 'shift');
    },
    forward(x, [i, s, t], out) {
      x.backend.binary('mul', i.buf, i.shape, s.buf, s.shape, out.buf);
      x.backend.binary('add', out.buf, out.shape, t.buf, t.shape, out.buf);
      return undefined;
    },
    vjp: (g, [x, s], _o, _s, d, _a, needs) => {
      const bk = g.backend;
      const C = s.shape[0];
      const rows = x.size / C;
      let dx: Ref | null = null;
      if (needs[0]) {
        dx = g.alloc(x.shape);
        bk.binary('mul', d.buf, d.shape, s.buf, s.shape, dx.buf);
      }
      let ds: Ref | null = null;
      if (needs[1]) {
        const t = g.alloc(x.shape);
        bk.binary('mul', d.buf, d.shape, x.buf, x.shape, t.buf);
        ds = g.alloc([C]);
        bk.reduce('sum', t.buf, [rows, C], [0], ds.buf);
        t.dispose();
      }
      let dt: Ref | null = null;
      if (needs[2]) {
        dt = g.alloc([C]);
        bk.reduce('sum', d.buf, [rows, C], [0], dt.buf);
      }
      return [dx, ds, dt];
    },
    traits: { perChannel: true },
    onnx: (o, n) => {
      const at = n.name;
      const r4 = o.value(n.inputs[0]).shape.length === 4;
      const [s, t] = n.inputs.slice(1).map((k) => {
        const c = o.constant(k);
        return o.tensor(k, r4 ? [c.data.length, 1, 1] : [c.data.length], o.floatData(k));
      });
      o.bind(n.output, o.node('Add', [o.node('Mul', [o.float(n.inputs[0], at), s], at), t], at), at);
    },
  } satisfies OpDef<None>,
} satisfies { [K in keyof ElementwiseAttrs]: OpDef<ElementwiseAttrs[K]> };
