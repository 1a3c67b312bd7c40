// Reductions over axes (sum, mean, max), softmax / log-softmax over any axis, and the training
// loss softmaxCrossEntropy (eager only: the IR ends at logits or probabilities).

import type { Backend, InferenceBackend } from '../backend/backend.js';
import { fmtShape, ShapeError, ValueError } from '../errors.js';
import type { Arg, Exec, Grad, Info, OpDef, Ref, Shape } from './op.js';
import { normAxes, numel, sameDtype } from './rules.js';

export interface ReduceAttrs {
  sum: { axes: readonly number[]; keepDims: boolean };
  mean: { axes: readonly number[]; keepDims: boolean };
  max: { axes: readonly number[]; keepDims: boolean };
  /** Over `axis` (default -1, the last); log-softmax when `log`. */
  softmax: { axis?: number; log: boolean };
  /** Mean cross-entropy of logits [B, C] against int32 labels [B], label smoothing in [0, 1). */
  softmaxCrossEntropy: { smoothing: number };
}

function reducedShape(shape: Shape, axes: readonly number[], keepDims: boolean): number[] {
  return keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

function reduction(op: 'sum' | 'mean' | 'max'): OpDef<ReduceAttrs['sum']> {
  return {
    arity: [1, 1],
    infer: ([x], a) => {
      const axes = normAxes(op, a.axes, x.shape.length);
      if (x.shape[0] === -1 && axes.includes(0))
        throw new ShapeError(`${op}: the IR cannot reduce over the batch axis`);
      return { shape: reducedShape(x.shape, axes, a.keepDims), dtype: 'float32' };
    },
    check: (c) => {
      sameDtype(c, 'float32');
      if (!Array.isArray(c.n.attrs.axes) || typeof c.n.attrs.keepDims !== 'boolean')
        c.bad('attrs must hold axes (integers) and keepDims (boolean)');
    },
    forward(x, [i], out, a) {
      x.backend.reduce(op, i.buf, i.shape, normAxes(op, a.axes, i.shape.length), out.buf);
      return undefined;
    },
    vjp: (g, [x], out, _s, d, a) => {
      const bk = g.backend;
      const axes = normAxes(op, a.axes, x.rank);
      const kept = reducedShape(x.shape, axes, true);
      // expand d (reduced axes kept as 1) to x's shape
      const gx = g.alloc(x.shape);
      bk.fill(gx.buf, gx.size, 0);
      bk.binary('add', gx.buf, x.shape, d.buf, kept, gx.buf);
      if (op === 'sum') return [gx];
      if (op === 'mean') {
        const n = numel(x.shape) / Math.max(1, numel(kept));
        bk.scale(gx.buf, gx.buf, gx.size, 1 / n, 0);
        return [gx];
      }
      // max: the gradient flows to every element equal to the maximum
      const mask = g.alloc(x.shape);
      bk.binary('eq', x.buf, x.shape, out.buf, kept, mask.buf);
      bk.binary('mul', gx.buf, x.shape, mask.buf, x.shape, gx.buf);
      mask.dispose();
      return [gx];
    },
    traits: {},
    onnx: (o, n) => {
      const at = n.name;
      const x = o.float(n.inputs[0], at, 'graduate');
      const keepdims = { name: 'keepdims', i: n.attrs.keepDims ? 1 : 0 };
      const ONNX = { sum: 'ReduceSum', mean: 'ReduceMean', max: 'ReduceMax' } as const;
      // opsets 13–17: ReduceSum takes axes as an input, the others as an attribute
      const y =
        op === 'sum'
          ? o.node('ReduceSum', [x, o.ints(`${at}/axes`, n.attrs.axes)], at, [keepdims])
          : o.node(ONNX[op], [x], at, [{ name: 'axes', ints: [...n.attrs.axes] }, keepdims]);
      o.bind(n.output, y, at, 'graduate');
    },
  };
}

/** The permutation moving `axis` last, or undefined when it already is. */
function toLast(rank: number, axis: number): number[] | undefined {
  if (axis === rank - 1) return undefined;
  return [...Array(rank).keys()].filter((i) => i !== axis).concat(axis);
}
const inverse = (perm: readonly number[]) => {
  const inv: number[] = [];
  perm.forEach((p, i) => {
    inv[p] = i;
  });
  return inv;
};

function softmaxAxis(x: Info, a: ReduceAttrs['softmax']): number {
  if (x.shape.length < 1) throw new ShapeError('softmax: input must have an axis, got a scalar');
  return normAxes('softmax', [a.axis ?? -1], x.shape.length)[0];
}

/** Row-wise f over the last axis, through a transposed copy when `axis` is another one. */
function alongAxis(
  b: InferenceBackend,
  temp: (s: Shape) => Arg,
  shape: Shape,
  axis: number,
  ins: readonly Arg[],
  out: Arg,
  f: (ins: readonly Arg[], out: Arg, rows: number, cols: number) => void,
): void {
  const cols = shape[axis];
  const rows = numel(shape) / Math.max(cols, 1);
  const perm = toLast(shape.length, axis);
  if (!perm) {
    f(ins, out, rows, cols);
    return;
  }
  const tShape = perm.map((i) => shape[i]);
  const tIns = ins.map((t) => {
    const c = temp(tShape);
    b.transpose(t.buf, shape, perm, c.buf);
    return c;
  });
  const tOut = temp(tShape);
  f(tIns, tOut, rows, cols);
  b.transpose(tOut.buf, tShape, inverse(perm), out.buf);
}

export const REDUCE = {
  sum: reduction('sum'),
  mean: reduction('mean'),
  max: reduction('max'),
  softmax: {
    arity: [1, 1],
    infer: ([x], a) => {
      const axis = softmaxAxis(x, a);
      if (x.shape[0] === -1 && axis === 0) throw new ShapeError('softmax: the IR cannot normalize over the batch axis');
      return { shape: x.shape, dtype: 'float32' };
    },
    check: (c) => {
      sameDtype(c, 'float32');
      const { axis, log } = c.n.attrs;
      if ((axis !== undefined && !Number.isInteger(axis)) || typeof log !== 'boolean')
        c.bad(`attrs must hold axis (an integer) and log (a boolean), got ${JSON.stringify(c.n.attrs)}`);
    },
    forward(x: Exec, [i], out, a) {
      const b = x.backend;
      alongAxis(
        b,
        (s) => x.temp(s),
        i.shape,
        softmaxAxis(i, a),
        [i],
        out,
        ([t], o, rows, cols) => b.softmax(t.buf, rows, cols, o.buf, a.log),
      );
      return undefined;
    },
    vjp: (g: Grad, [x], out, _s, d, a) => {
      const b = g.backend;
      const dx = g.alloc(x.shape);
      const temps: Ref[] = [];
      const temp = (s: Shape) => {
        const t = g.alloc(s);
        temps.push(t);
        return t;
      };
      alongAxis(b, temp, x.shape, softmaxAxis(x, a), [out, d], dx, ([y, dy], o, rows, cols) =>
        b.softmaxBackward(y.buf, dy.buf, o.buf, rows, cols, a.log),
      );
      for (const t of temps) t.dispose();
      return [dx];
    },
    traits: {},
    onnx: (o, n) => {
      const at = n.name;
      const axis = n.attrs.axis ?? -1;
      const x = o.float(n.inputs[0], at, 'graduate');
      o.bind(
        n.output,
        o.node(n.attrs.log ? 'LogSoftmax' : 'Softmax', [x], at, [{ name: 'axis', i: axis }]),
        at,
        'graduate',
      );
    },
  } satisfies OpDef<ReduceAttrs['softmax']>,
  softmaxCrossEntropy: {
    arity: [2, 2],
    infer: ([logits, labels], a) => {
      if (logits.shape.length !== 2)
        throw new ShapeError(`softmaxCrossEntropy: logits ${fmtShape(logits.shape)} must be [batch, classes]`);
      if (labels.dtype !== 'int32' || labels.shape.length !== 1 || labels.shape[0] !== logits.shape[0]) {
        throw new ShapeError(
          `softmaxCrossEntropy: labels ${labels.dtype}${fmtShape(labels.shape)} must be int32 [${logits.shape[0]}] for logits ${fmtShape(logits.shape)}`,
        );
      }
      if (!(a.smoothing >= 0 && a.smoothing < 1))
        throw new ValueError(`softmaxCrossEntropy: label smoothing ${a.smoothing} must be in [0, 1)`);
      return { shape: [], dtype: 'float32' };
    },
    checkValues: ([logits, labels]) => {
      const C = logits.shape[1];
      const l = labels.data();
      for (let i = 0; i < l.length; i++) {
        if (!(l[i] >= 0 && l[i] < C))
          throw new ValueError(`softmaxCrossEntropy: label ${l[i]} at index ${i} is outside [0, ${C})`);
      }
    },
    check: (c) => c.bad('softmaxCrossEntropy is a training loss: graphs end at logits'),
    forward(x, [logits, labels], out, a) {
      const [B, C] = logits.shape;
      const probs = x.temp(logits.shape);
      const rowLoss = x.temp([B]);
      // eager only (a training loss): its inputs live on a training backend
      (x.backend as Backend).softmaxCrossEntropy(logits.buf, labels.buf, B, C, rowLoss.buf, probs.buf, a.smoothing);
      x.backend.reduce('mean', rowLoss.buf, [B], [0], out.buf);
      return [probs];
    },
    vjp: (g, [logits, labels], _o, [probs], d, a) => {
      const [B, C] = logits.shape;
      // d/B in every row, on the device (d.item() would wait for the GPU in every training step)
      const inv = g.alloc([B]);
      g.backend.fill(inv.buf, B, 1 / B);
      const dRow = g.alloc([B]);
      g.backend.binary('mul', inv.buf, [B], d.buf, [], dRow.buf);
      inv.dispose();
      const dx = g.alloc(logits.shape);
      g.backend.softmaxCrossEntropyBackward(probs.buf, labels.buf, B, C, dRow.buf, dx.buf, a.smoothing);
      dRow.dispose();
      return [dx, null];
    },
    traits: {},
    onnx: null,
  } satisfies OpDef<ReduceAttrs['softmaxCrossEntropy']>,
} satisfies { [K in keyof ReduceAttrs]: OpDef<ReduceAttrs[K]> };
