// Data movement: reshape and flatten (views: no kernel, the output shares its input's memory),
// transpose (any permutation), slice, concat, and dropout (identity at inference; training
// applies its random mask in nn/ with `mul`, so the compiler's eliminate pass removes the node).
// In the IR the batch axis (shape[0] = -1) stays where it is: perms keep axis 0, slices take the
// whole batch (size[0] = -1), concat joins another axis, reshape keeps the batch as its first axis.
import { fmtShape, ShapeError } from '../errors.js';
import { isFloat32 } from '../io/fields.js';
import { aroundAxis, view as hostView, permute } from './host.js';
import type { CheckCtx, Info, OpDef, Shape } from './op.js';
import { normAxes, numel, sameDtype } from './rules.js';

export interface LayoutAttrs {
  /** One dimension may be -1 (inferred); in the IR, shape[0] is -1: the batch. */
  reshape: { shape: readonly number[] };
  flatten: Record<string, never>;
  transpose: { perm: readonly number[] };
  /** size -1: to the end of the axis. */
  slice: { begin: readonly number[]; size: readonly number[] };
  concat: { axis: number };
  dropout: { p: number };
}

/** Resolves one -1 in a target shape against `size` elements. */
export function resolveShape(shape: Shape, size: number, from: Shape): number[] {
  const s = [...shape];
  const neg = s.indexOf(-1);
  if (neg >= 0) {
    const rest = numel(s.filter((_, i) => i !== neg));
    if (rest === 0 || size % rest !== 0)
      throw new ShapeError(`reshape: cannot reshape ${fmtShape(from)} to ${fmtShape(shape)}`);
    s[neg] = size / rest;
  }
  if (!s.every((d) => Number.isInteger(d) && d >= 0))
    throw new ShapeError(`reshape target ${fmtShape(shape)}: dimensions must be non-negative integers`);
  if (numel(s) !== size)
    throw new ShapeError(`reshape: cannot reshape ${fmtShape(from)} (${size} elements) to ${fmtShape(shape)}`);
  return s;
}

/** Whether x carries the IR's symbolic batch. */
const symbolic = (x: Info) => x.shape[0] === -1;

function reshapeInfer(x: Info, target: readonly number[]): Info {
  if (!symbolic(x)) return { shape: resolveShape(target, numel(x.shape), x.shape), dtype: x.dtype };
  // IR: the batch stays the first axis; the rest must hold one sample's elements
  if (target[0] !== -1)
    throw new ShapeError(`reshape: target ${fmtShape(target)} must keep the batch (-1) as its first axis`);
  return { shape: [-1, ...resolveShape(target.slice(1), numel(x.shape), x.shape)], dtype: x.dtype };
}

const sizeOf = (x: Info, a: LayoutAttrs['slice']) => a.size.map((s, i) => (s < 0 ? x.shape[i] - a.begin[i] : s));

/** attrs[field] must be an array of integers satisfying `ok` (before the shape rule reads it). */
function intArray(c: CheckCtx<unknown>, field: string, v: unknown, ok: (d: number) => boolean): void {
  if (!Array.isArray(v) || !v.every((d) => Number.isInteger(d) && ok(d)))
    c.bad(`attrs.${field} must be an array of integers, got ${JSON.stringify(v)}`);
}

function checkBatchAxis(c: CheckCtx<unknown>, ok: boolean, what: string): void {
  if (!ok) c.bad(`${what} must keep the batch axis 0 in place`);
}

const view = (op: string) => (): never => {
  throw new ShapeError(`${op}: a view has no kernel`);
};

export const LAYOUT = {
  reshape: {
    arity: [1, 1],
    infer: ([x], a) => reshapeInfer(x, a.shape),
    check: (c) => {
      sameDtype(c, 'float32', 'int8', 'int32');
      intArray(c, 'shape', c.n.attrs.shape, (d) => d >= -1);
    },
    forward: view('reshape'),
    vjp: (_g, [x], _o, _s, d) => [d.reshapeView(x.shape)],
    traits: { view: true },
    onnx: (o, n) => {
      const at = n.name;
      const shape = o.value(n.output).shape.map((d, i) => (i === 0 ? -1 : d));
      const x = o.raw(n.inputs[0], 'graduate');
      o.set(n.output, o.node('Reshape', [x, o.ints(`${at}/shape`, shape)], at), 'graduate');
    },
  } satisfies OpDef<LayoutAttrs['reshape']>,
  flatten: {
    arity: [1, 1],
    infer: ([x]) => ({ shape: [x.shape[0], numel(x.shape.slice(1))], dtype: x.dtype }),
    check: (c) => void sameDtype(c, 'float32', 'int8', 'int32'),
    forward: view('flatten'),
    vjp: (_g, [x], _o, _s, d) => [d.reshapeView(x.shape)],
    traits: { view: true, perChannel: true },
    onnx: (o, n) => {
      // data movement: int8 tensors pass as they are, in Graduate's (NHWC) order
      const t = o.raw(n.inputs[0], 'graduate');
      o.set(n.output, o.node('Flatten', [t], n.name, [{ name: 'axis', i: 1 }]));
    },
  } satisfies OpDef<LayoutAttrs['flatten']>,
  transpose: {
    arity: [1, 1],
    infer: ([x], a) => {
      const p = a.perm;
      if (p.length !== x.shape.length || [...p].sort((u, v) => u - v).some((v, i) => v !== i)) {
        throw new ShapeError(
          `transpose: perm [${p.join(', ')}] is not a permutation of the axes of ${fmtShape(x.shape)}`,
        );
      }
      if (symbolic(x) && p[0] !== 0) throw new ShapeError('transpose: the batch axis 0 must stay in place');
      return { shape: p.map((i) => x.shape[i]), dtype: x.dtype };
    },
    check: (c) => {
      const x = sameDtype(c, 'float32', 'int32');
      intArray(c, 'perm', c.n.attrs.perm, (d) => d >= 0);
      checkBatchAxis(c, !symbolic(x) || c.n.attrs.perm[0] === 0, 'attrs.perm');
    },
    forward(x, [i], out, a) {
      // int32: a host loop (the kernel moves float32, and a host copy must not pass ints through floats)
      if (i.dtype === 'int32') permute(hostView(x, i), i.shape, a.perm, hostView(x, out));
      else x.backend.transpose(i.buf, i.shape, a.perm, out.buf);
      return undefined;
    },
    vjp: (g, _i, _o, _s, d, a) => {
      const inv: number[] = [];
      a.perm.forEach((p, i) => {
        inv[p] = i;
      });
      const dx = g.alloc(inv.map((i) => d.shape[i]));
      g.backend.transpose(d.buf, d.shape, inv, dx.buf);
      return [dx];
    },
    traits: {},
    onnx: (o, n) =>
      o.bind(
        n.output,
        o.node('Transpose', [o.float(n.inputs[0], n.name, 'graduate')], n.name, [
          { name: 'perm', ints: [...n.attrs.perm] },
        ]),
        n.name,
        'graduate',
      ),
  } satisfies OpDef<LayoutAttrs['transpose']>,
  slice: {
    arity: [1, 1],
    infer: ([x], a) => {
      const size = sizeOf(x, a);
      // the IR's symbolic batch (axis 0 = -1) is checked below: the whole of it
      const free = (i: number) => i === 0 && symbolic(x);
      const bad =
        a.begin.length !== x.shape.length ||
        a.size.length !== x.shape.length ||
        a.begin.some(
          (b, i) => !free(i) && (!Number.isInteger(b) || b < 0 || !(size[i] >= 0) || b + size[i] > x.shape[i]),
        );
      if (bad)
        throw new ShapeError(
          `slice: begin [${a.begin.join(', ')}] size [${a.size.join(', ')}] outside ${fmtShape(x.shape)}`,
        );
      if (symbolic(x) && (a.begin[0] !== 0 || a.size[0] !== -1))
        throw new ShapeError('slice: the IR takes the whole batch (begin[0] = 0, size[0] = -1)');
      return { shape: size.map((s, i) => (i === 0 && symbolic(x) ? -1 : s)), dtype: x.dtype };
    },
    check: (c) => {
      sameDtype(c, 'float32');
      intArray(c, 'begin', c.n.attrs.begin, (d) => d >= 0);
      intArray(c, 'size', c.n.attrs.size, (d) => d >= -1);
    },
    forward(x, [i], out, a) {
      x.backend.slice(i.buf, i.shape, a.begin, sizeOf(i, a), out.buf);
      return undefined;
    },
    vjp: (g, [x], _o, _s, d, a) => {
      const dx = g.alloc(x.shape);
      g.backend.sliceBackward(d.buf, d.shape, a.begin, dx.buf, x.shape);
      return [dx];
    },
    traits: {},
    onnx: (o, n) => {
      const at = n.name;
      const { begin } = n.attrs;
      const ends = n.attrs.size.map((s, i) => (s < 0 ? 2 ** 53 : begin[i] + s));
      const axes = begin.map((_, i) => i);
      const x = o.float(n.inputs[0], at, 'graduate');
      const y = o.node(
        'Slice',
        [x, o.ints(`${at}/starts`, begin), o.ints(`${at}/ends`, ends), o.ints(`${at}/axes`, axes)],
        at,
      );
      o.bind(n.output, y, at, 'graduate');
    },
  } satisfies OpDef<LayoutAttrs['slice']>,
  concat: {
    arity: [1, 64],
    infer: (ins, a) => {
      const first = ins[0];
      if (!first) throw new ShapeError('concat: needs at least one tensor');
      const axis = normAxes('concat', [a.axis], first.shape.length)[0];
      if (symbolic(first) && axis === 0) throw new ShapeError('concat: the IR cannot join along the batch axis');
      for (const t of ins) {
        if (t.shape.length !== first.shape.length || t.shape.some((d, i) => i !== axis && d !== first.shape[i])) {
          throw new ShapeError(
            `concat: ${fmtShape(t.shape)} does not match ${fmtShape(first.shape)} outside axis ${axis}`,
          );
        }
      }
      return {
        shape: first.shape.map((d, i) => (i === axis ? ins.reduce((s, t) => s + t.shape[axis], 0) : d)),
        dtype: first.dtype,
      };
    },
    check: (c) => {
      // values or constants (general graphs join shapes and tables), float32 or int32 alike
      const dtypeOf = (i: number) => {
        if (!c.isConstant(i)) return c.value(i).dtype;
        const k = c.constant(i).dtype;
        return k === 'float16' ? 'float32' : k;
      };
      const dt = dtypeOf(0);
      for (let i = 0; i < c.n.inputs.length; i++)
        if (dtypeOf(i) !== dt || (dt !== 'float32' && dt !== 'int32'))
          c.bad(`input '${c.n.inputs[i]}' is ${dtypeOf(i)}: concat takes float32 or int32 inputs of one dtype`);
      if (c.out.dtype !== dt) c.bad(`output '${c.n.output}' is ${c.out.dtype}, expected ${dt}`);
      if (!Number.isInteger(c.n.attrs.axis))
        c.bad(`attrs.axis must be an integer, got ${JSON.stringify(c.n.attrs.axis)}`);
    },
    forward(x, ins, out, a) {
      const axis = a.axis < 0 ? a.axis + out.shape.length : a.axis;
      if (out.dtype === 'int32') {
        // a host loop: rows of each input in turn (see transpose)
        const [outer, , inner] = aroundAxis(out.shape, axis);
        const dst = hostView(x, out);
        const srcs = ins.map((t) => ({ v: hostView(x, t), row: t.shape[axis] * inner }));
        let o = 0;
        for (let r = 0; r < outer; r++)
          for (const t of srcs) {
            dst.set(t.v.subarray(r * t.row, (r + 1) * t.row), o);
            o += t.row;
          }
        return undefined;
      }
      x.backend.concat(
        ins.map((t) => ({ buf: t.buf, shape: t.shape })),
        axis,
        out.buf,
      );
      return undefined;
    },
    vjp: (g, ins, out, _s, d, a) => {
      const axis = a.axis < 0 ? a.axis + out.rank : a.axis;
      let off = 0;
      return ins.map((t) => {
        const begin = t.shape.map((_, i) => (i === axis ? off : 0));
        off += t.shape[axis];
        const dx = g.alloc(t.shape);
        g.backend.slice(d.buf, d.shape, begin, t.shape, dx.buf);
        return dx;
      });
    },
    traits: {},
    onnx: (o, n) =>
      o.bind(
        n.output,
        o.node(
          'Concat',
          n.inputs.map((v) => o.float(v, n.name, 'graduate')),
          n.name,
          [{ name: 'axis', i: n.attrs.axis }],
        ),
        n.name,
        'graduate',
      ),
  } satisfies OpDef<LayoutAttrs['concat']>,
  dropout: {
    arity: [1, 1],
    infer: ([x]) => x,
    check: (c) => {
      sameDtype(c, 'float32', 'int8');
      const p = c.n.attrs.p;
      if (!isFloat32(p) || p < 0 || p >= 1) c.bad(`attrs.p must be a number in [0, 1), got ${JSON.stringify(p)}`);
    },
    forward: view('dropout'),
    vjp: (_g, [x], _o, _s, d) => [d.reshapeView(x.shape)],
    traits: { view: true, trainingOnly: true, perChannel: true },
    onnx: (o, n) => {
      const order = o.order(n.inputs[0]);
      o.set(n.output, o.raw(n.inputs[0], order), order);
    },
  } satisfies OpDef<LayoutAttrs['dropout']>,
} satisfies { [K in keyof LayoutAttrs]: OpDef<LayoutAttrs[K]> };
