// The op table: for every differentiable op, its shape rule, its forward (which kernel) and its
// vjp. One source of truth for eager training (autograd/apply.ts) and, later, for the compiler's
// shape inference. `satisfies OpTable` makes TypeScript check that every OpName has an entry.
// Layout conventions: images NHWC, conv weights [KH, KW, Cin, Cout], linear weights [in, out].
import { fmtShape, ShapeError, ValueError } from '../errors.js';
import { batchNormBackward, batchNormForward, batchNormStats } from '../kernels/batchnorm.js';
import { conv2d, conv2dBackwardData, conv2dBackwardWeight } from '../kernels/conv.js';
import { type BinaryOp, binary, fill, scale, type UnaryOp, unary, unaryBackward } from '../kernels/elementwise.js';
import { gemm } from '../kernels/gemm.js';
import { concat, slice, sliceBackward, transpose } from '../kernels/layout.js';
import {
  avgPool2d,
  avgPool2dBackward,
  globalAvgPool,
  globalAvgPoolBackward,
  maxPool2d,
  maxPool2dBackward,
} from '../kernels/pooling.js';
import { reduce } from '../kernels/reduce.js';
import { softmax, softmaxBackward, softmaxCrossEntropy, softmaxCrossEntropyBackward } from '../kernels/softmax.js';
import {
  broadcastShape,
  type Conv2dGeometry,
  conv2dGeometry,
  type Padding,
  type Pool2dGeometry,
  pool2dGeometry,
} from '../shape/window.js';
import { type DType, resolveShape, type Shape, sizeOf, Tensor } from '../tensor/tensor.js';

/** Attributes of each op (the op's static parameters). */
export interface OpAttrs {
  add: object;
  sub: object;
  mul: object;
  div: object;
  maximum: object;
  minimum: object;
  unary: { fn: UnaryOp; alpha?: number };
  scale: { mul: number; add: number };
  matmul: object;
  linear: object;
  conv2d: { stride: number | readonly [number, number]; padding: Padding };
  maxPool2d: {
    kernel: number | readonly [number, number];
    stride?: number | readonly [number, number];
    padding: Padding;
  };
  avgPool2d: {
    kernel: number | readonly [number, number];
    stride?: number | readonly [number, number];
    padding: Padding;
  };
  globalAvgPool: object;
  reshape: { shape: Shape };
  transpose: { perm: readonly number[] };
  slice: { begin: readonly number[]; size: readonly number[] };
  concat: { axis: number };
  sum: { axes: readonly number[]; keepDims: boolean };
  mean: { axes: readonly number[]; keepDims: boolean };
  max: { axes: readonly number[]; keepDims: boolean };
  softmax: { log: boolean };
  softmaxCrossEntropy: { smoothing: number };
  batchNorm: { eps: number; onStats?: (mean: Tensor, variance: Tensor) => void };
  embedding: object;
  embeddingBag: object;
}
export type OpName = keyof OpAttrs;

export interface OpDef<A> {
  /** Output shape; throws ShapeError naming the op and the offending shapes. */
  shape(ins: readonly Tensor[], a: A): Shape;
  dtype?: DType;
  /** Output sharing the input's memory (no kernel); used instead of forward. */
  alias?(ins: readonly Tensor[], a: A): Tensor;
  /** Writes `out`; returns tensors the vjp needs beyond inputs and output. */
  forward?(ins: readonly Tensor[], out: Tensor, a: A): Tensor[] | undefined;
  /** Input gradients given the output gradient (null: none; `needs[i]` false: may skip). Runs in no-grad mode. */
  vjp(
    ins: readonly Tensor[],
    out: Tensor,
    saved: readonly Tensor[],
    dOut: Tensor,
    a: A,
    needs: readonly boolean[],
  ): (Tensor | null)[];
}
type OpTable = { [K in OpName]: OpDef<OpAttrs[K]> };

// ---- helpers -------------------------------------------------------------------------------

function normAxes(op: string, axes: readonly number[], rank: number): number[] {
  const out = axes.map((a) => (a < 0 ? a + rank : a));
  for (const [i, a] of out.entries()) {
    if (!Number.isInteger(a) || a < 0 || a >= rank)
      throw new ShapeError(`${op}: axis ${axes[i]} is out of range for rank ${rank}`);
  }
  return [...new Set(out)].sort((x, y) => x - y);
}

function reducedShape(shape: Shape, axes: readonly number[], keepDims: boolean): number[] {
  return keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

/** Sums a broadcast gradient back down to `shape` (the inverse of broadcasting). */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (g.shape.join() === shape.join()) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  const out = new Tensor(shape);
  reduce(g.engine, 'sum', g.ptr, g.shape, axes, out.ptr);
  g.dispose();
  return out;
}

function bin(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const out = new Tensor(broadcastShape(a.shape, b.shape, op));
  binary(a.engine, op, a.ptr, a.shape, b.ptr, b.shape, out.ptr);
  return out;
}

/** A view of t with another shape; t itself is released. */
function reshaped(t: Tensor, shape: Shape): Tensor {
  const v = t.reshapeView(shape);
  t.dispose();
  return v;
}

function scaled(x: Tensor, mul: number, add = 0): Tensor {
  const out = new Tensor(x.shape);
  scale(x.engine, x.ptr, out.ptr, x.size, mul, add);
  return out;
}

/** Expands g (shape with reduced axes kept as 1) to `shape`. */
function expand(g: Tensor, keptShape: Shape, shape: Shape): Tensor {
  const view = g.reshapeView(keptShape);
  const out = new Tensor(shape);
  fill(g.engine, out.ptr, out.size, 0);
  binary(g.engine, 'add', out.ptr, shape, view.ptr, keptShape, out.ptr);
  view.dispose();
  return out;
}

function gemmT(
  a: Tensor,
  b: Tensor,
  M: number,
  K: number,
  N: number,
  opts: { transA?: boolean; transB?: boolean },
): Tensor {
  const out = new Tensor([M, N]);
  gemm(a.engine, a.ptr, b.ptr, out.ptr, M, K, N, opts);
  return out;
}

function convGeom(ins: readonly Tensor[], a: OpAttrs['conv2d']): Conv2dGeometry {
  const [x, w, b] = ins;
  const g = conv2dGeometry(x.shape, w.shape, a.stride, a.padding);
  if (b && (b.rank !== 1 || b.shape[0] !== g.OC)) {
    throw new ShapeError(
      `conv2d: bias ${fmtShape(b.shape)} does not match ${g.OC} output channels of weight ${fmtShape(w.shape)}`,
    );
  }
  return g;
}

function poolGeom(op: string, x: Tensor, a: OpAttrs['maxPool2d']): Pool2dGeometry {
  if (x.rank !== 4) throw new ShapeError(`${op}: input ${fmtShape(x.shape)} must be NHWC (rank 4)`);
  return pool2dGeometry(x.shape, a.kernel, a.stride, a.padding);
}

const binaryShape = (op: string) => (ins: readonly Tensor[]) => broadcastShape(ins[0].shape, ins[1].shape, op);

function channelsOf(op: string, x: Tensor): number {
  if (x.rank < 1) throw new ShapeError(`${op}: input must have a channel axis, got a scalar`);
  return x.shape[x.rank - 1];
}

// ---- the table -----------------------------------------------------------------------------

export const OPS = {
  add: {
    shape: binaryShape('add'),
    forward: ([a, b], out) => void binary(out.engine, 'add', a.ptr, a.shape, b.ptr, b.shape, out.ptr),
    vjp: ([a, b], _o, _s, d) => [sumTo(scaled(d, 1), a.shape), sumTo(scaled(d, 1), b.shape)],
  },
  sub: {
    shape: binaryShape('sub'),
    forward: ([a, b], out) => void binary(out.engine, 'sub', a.ptr, a.shape, b.ptr, b.shape, out.ptr),
    vjp: ([a, b], _o, _s, d) => [sumTo(scaled(d, 1), a.shape), sumTo(scaled(d, -1), b.shape)],
  },
  mul: {
    shape: binaryShape('mul'),
    forward: ([a, b], out) => void binary(out.engine, 'mul', a.ptr, a.shape, b.ptr, b.shape, out.ptr),
    vjp: ([a, b], _o, _s, d) => [sumTo(bin('mul', d, b), a.shape), sumTo(bin('mul', d, a), b.shape)],
  },
  div: {
    shape: binaryShape('div'),
    forward: ([a, b], out) => void binary(out.engine, 'div', a.ptr, a.shape, b.ptr, b.shape, out.ptr),
    vjp: ([a, b], out, _s, d) => {
      const da = bin('div', d, b);
      const t = bin('mul', da, out); // d * a / b², via out = a / b
      const db = scaled(t, -1);
      t.dispose();
      return [sumTo(da, a.shape), sumTo(db, b.shape)];
    },
  },
  maximum: {
    shape: binaryShape('maximum'),
    forward: ([a, b], out) => void binary(out.engine, 'max', a.ptr, a.shape, b.ptr, b.shape, out.ptr),
    vjp: ([a, b], _o, _s, d) => routed(d, a, b, bin('gt', a, b)),
  },
  minimum: {
    shape: binaryShape('minimum'),
    forward: ([a, b], out) => void binary(out.engine, 'min', a.ptr, a.shape, b.ptr, b.shape, out.ptr),
    vjp: ([a, b], _o, _s, d) => routed(d, a, b, bin('gt', b, a)),
  },
  unary: {
    shape: ([x]) => x.shape,
    forward: ([x], out, a) => void unary(out.engine, a.fn, x.ptr, out.ptr, x.size, a.alpha),
    vjp: ([x], out, _s, d, a) => {
      const dx = new Tensor(x.shape);
      unaryBackward(x.engine, a.fn, x.ptr, out.ptr, d.ptr, dx.ptr, x.size, a.alpha);
      return [dx];
    },
  },
  scale: {
    shape: ([x]) => x.shape,
    forward: ([x], out, a) => void scale(out.engine, x.ptr, out.ptr, x.size, a.mul, a.add),
    vjp: (_i, _o, _s, d, a) => [scaled(d, a.mul)],
  },
  matmul: {
    shape: ([a, b]) => {
      if (a.rank !== 2 || b.rank !== 2 || a.shape[1] !== b.shape[0]) {
        throw new ShapeError(
          `matmul: cannot multiply ${fmtShape(a.shape)} by ${fmtShape(b.shape)} (need [M, K] · [K, N])`,
        );
      }
      return [a.shape[0], b.shape[1]];
    },
    forward: ([a, b], out) => void gemm(out.engine, a.ptr, b.ptr, out.ptr, a.shape[0], a.shape[1], b.shape[1]),
    vjp: ([a, b], _o, _s, d, _a, needs) => {
      const [M, K] = a.shape;
      const N = b.shape[1];
      return [
        needs[0] ? gemmT(d, b, M, N, K, { transB: true }) : null,
        needs[1] ? gemmT(a, d, K, M, N, { transA: true }) : null,
      ];
    },
  },
  linear: {
    shape: ([x, w, b]) => {
      const K = x.shape[x.rank - 1];
      if (x.rank < 1 || w.rank !== 2 || w.shape[0] !== K) {
        throw new ShapeError(
          `linear: input ${fmtShape(x.shape)} does not fit weight ${fmtShape(w.shape)} (need [..., in] and [in, out])`,
        );
      }
      if (b && (b.rank !== 1 || b.shape[0] !== w.shape[1])) {
        throw new ShapeError(
          `linear: bias ${fmtShape(b.shape)} does not match weight ${fmtShape(w.shape)} (need [${w.shape[1]}])`,
        );
      }
      return [...x.shape.slice(0, -1), w.shape[1]];
    },
    forward: ([x, w, b], out) => {
      const [K, N] = w.shape;
      gemm(out.engine, x.ptr, w.ptr, out.ptr, x.size / K, K, N, { bias: b?.ptr });
      return undefined;
    },
    vjp: ([x, w, b], _o, _s, d, _a, needs) => {
      const [K, N] = w.shape;
      const R = x.size / K;
      const dx = needs[0] ? gemmT(d, w, R, N, K, { transB: true }) : null;
      const dw = needs[1] ? gemmT(x, d, K, R, N, { transA: true }) : null;
      let db: Tensor | null = null;
      if (b && needs[2]) {
        db = new Tensor([N]);
        reduce(d.engine, 'sum', d.ptr, [R, N], [0], db.ptr);
      }
      return [dx && reshaped(dx, x.shape), dw, db];
    },
  },
  conv2d: {
    shape: (ins, a) => {
      const g = convGeom(ins, a);
      return [g.N, g.OH, g.OW, g.OC];
    },
    forward: (ins, out, a) => {
      const [x, w, b] = ins;
      conv2d(out.engine, x.ptr, w.ptr, convGeom(ins, a), out.ptr, { bias: b?.ptr });
      return undefined;
    },
    vjp: (ins, _o, _s, d, a, needs) => {
      const [x, w, b] = ins;
      const g = convGeom(ins, a);
      let dx: Tensor | null = null;
      if (needs[0]) {
        dx = new Tensor(x.shape);
        conv2dBackwardData(d.engine, d.ptr, w.ptr, g, dx.ptr);
      }
      let dw: Tensor | null = null;
      if (needs[1]) {
        dw = new Tensor(w.shape);
        conv2dBackwardWeight(d.engine, x.ptr, d.ptr, g, dw.ptr);
      }
      let db: Tensor | null = null;
      if (b && needs[2]) {
        db = new Tensor([g.OC]);
        reduce(d.engine, 'sum', d.ptr, [d.size / g.OC, g.OC], [0], db.ptr);
      }
      return [dx, dw, db];
    },
  },
  maxPool2d: {
    shape: ([x], a) => {
      const g = poolGeom('maxPool2d', x, a);
      return [g.N, g.OH, g.OW, g.C];
    },
    forward: ([x], out, a) => {
      const argmax = new Tensor(out.shape, 'int32');
      maxPool2d(out.engine, x.ptr, poolGeom('maxPool2d', x, a), out.ptr, argmax.ptr);
      return [argmax];
    },
    vjp: ([x], _o, [argmax], d, a) => {
      const dx = new Tensor(x.shape);
      maxPool2dBackward(d.engine, d.ptr, argmax.ptr, poolGeom('maxPool2d', x, a), dx.ptr);
      return [dx];
    },
  },
  avgPool2d: {
    shape: ([x], a) => {
      const g = poolGeom('avgPool2d', x, a);
      return [g.N, g.OH, g.OW, g.C];
    },
    forward: ([x], out, a) => void avgPool2d(out.engine, x.ptr, poolGeom('avgPool2d', x, a), out.ptr),
    vjp: ([x], _o, _s, d, a) => {
      const dx = new Tensor(x.shape);
      avgPool2dBackward(d.engine, d.ptr, poolGeom('avgPool2d', x, a), dx.ptr);
      return [dx];
    },
  },
  globalAvgPool: {
    shape: ([x]) => {
      if (x.rank !== 4) throw new ShapeError(`globalAvgPool: input ${fmtShape(x.shape)} must be NHWC (rank 4)`);
      return [x.shape[0], x.shape[3]];
    },
    forward: ([x], out) => {
      const [N, H, W, C] = x.shape;
      globalAvgPool(out.engine, x.ptr, N, H * W, C, out.ptr);
      return undefined;
    },
    vjp: ([x], _o, _s, d) => {
      const [N, H, W, C] = x.shape;
      const dx = new Tensor(x.shape);
      globalAvgPoolBackward(d.engine, d.ptr, N, H * W, C, dx.ptr);
      return [dx];
    },
  },
  reshape: {
    shape: ([x], a) => resolveShape(a.shape, x.size, x.shape),
    alias: ([x], a) => x.reshapeView(a.shape),
    vjp: ([x], _o, _s, d) => [d.reshapeView(x.shape)],
  },
  transpose: {
    shape: ([x], a) => {
      const p = a.perm;
      if (p.length !== x.rank || [...p].sort((u, v) => u - v).some((v, i) => v !== i)) {
        throw new ShapeError(
          `transpose: perm [${p.join(', ')}] is not a permutation of the axes of ${fmtShape(x.shape)}`,
        );
      }
      return p.map((i) => x.shape[i]);
    },
    forward: ([x], out, a) => void transpose(out.engine, x.ptr, x.shape, a.perm, out.ptr),
    vjp: (_i, _o, _s, d, a) => {
      const inv: number[] = [];
      a.perm.forEach((p, i) => {
        inv[p] = i;
      });
      const dx = new Tensor(inv.map((i) => d.shape[i]));
      transpose(d.engine, d.ptr, d.shape, inv, dx.ptr);
      return [dx];
    },
  },
  slice: {
    shape: ([x], a) => {
      const bad =
        a.begin.length !== x.rank ||
        a.size.length !== x.rank ||
        a.begin.some((b, i) => b < 0 || a.size[i] < 0 || b + a.size[i] > x.shape[i]);
      if (bad)
        throw new ShapeError(
          `slice: begin [${a.begin.join(', ')}] size [${a.size.join(', ')}] outside ${fmtShape(x.shape)}`,
        );
      return a.size;
    },
    forward: ([x], out, a) => void slice(out.engine, x.ptr, x.shape, a.begin, a.size, out.ptr),
    vjp: ([x], _o, _s, d, a) => {
      const dx = new Tensor(x.shape);
      sliceBackward(d.engine, d.ptr, a.size, a.begin, dx.ptr, x.shape);
      return [dx];
    },
  },
  concat: {
    shape: (ins, a) => {
      const first = ins[0];
      if (!first) throw new ShapeError('concat: needs at least one tensor');
      const axis = normAxes('concat', [a.axis], first.rank)[0];
      for (const t of ins) {
        if (t.rank !== first.rank || t.shape.some((d, i) => i !== axis && d !== first.shape[i])) {
          throw new ShapeError(
            `concat: ${fmtShape(t.shape)} does not match ${fmtShape(first.shape)} outside axis ${axis}`,
          );
        }
      }
      return first.shape.map((d, i) => (i === axis ? ins.reduce((s, t) => s + t.shape[axis], 0) : d));
    },
    forward: (ins, out, a) => {
      const axis = a.axis < 0 ? a.axis + out.rank : a.axis;
      concat(
        out.engine,
        ins.map((t) => ({ ptr: t.ptr, shape: t.shape })),
        axis,
        out.ptr,
      );
      return undefined;
    },
    vjp: (ins, out, _s, d, a) => {
      const axis = a.axis < 0 ? a.axis + out.rank : a.axis;
      let off = 0;
      return ins.map((t) => {
        const begin = t.shape.map((_, i) => (i === axis ? off : 0));
        off += t.shape[axis];
        const dx = new Tensor(t.shape);
        slice(d.engine, d.ptr, d.shape, begin, t.shape, dx.ptr);
        return dx;
      });
    },
  },
  sum: reduction('sum'),
  mean: reduction('mean'),
  max: reduction('max'),
  softmax: {
    shape: ([x]) => {
      channelsOf('softmax', x);
      return x.shape;
    },
    forward: ([x], out, a) => {
      const C = x.shape[x.rank - 1];
      softmax(out.engine, x.ptr, x.size / C, C, out.ptr, a.log);
      return undefined;
    },
    vjp: ([x], out, _s, d, a) => {
      const C = x.shape[x.rank - 1];
      const dx = new Tensor(x.shape);
      softmaxBackward(d.engine, out.ptr, d.ptr, dx.ptr, x.size / C, C, a.log);
      return [dx];
    },
  },
  softmaxCrossEntropy: {
    shape: ([logits, labels], a) => {
      if (logits.rank !== 2)
        throw new ShapeError(`softmaxCrossEntropy: logits ${fmtShape(logits.shape)} must be [batch, classes]`);
      if (labels.dtype !== 'int32' || labels.rank !== 1 || labels.shape[0] !== logits.shape[0]) {
        throw new ShapeError(
          `softmaxCrossEntropy: labels ${labels.describe()} must be int32 [${logits.shape[0]}] for logits ${fmtShape(logits.shape)}`,
        );
      }
      if (!(a.smoothing >= 0 && a.smoothing < 1))
        throw new ValueError(`softmaxCrossEntropy: label smoothing ${a.smoothing} must be in [0, 1)`);
      const C = logits.shape[1];
      const l = labels.data();
      for (let i = 0; i < l.length; i++) {
        if (!(l[i] >= 0 && l[i] < C))
          throw new ValueError(`softmaxCrossEntropy: label ${l[i]} at index ${i} is outside [0, ${C})`);
      }
      return [];
    },
    forward: ([logits, labels], out, a) => {
      const [B, C] = logits.shape;
      const probs = new Tensor(logits.shape);
      const rowLoss = new Tensor([B]);
      softmaxCrossEntropy(out.engine, logits.ptr, labels.ptr, B, C, rowLoss.ptr, probs.ptr, a.smoothing);
      reduce(out.engine, 'mean', rowLoss.ptr, [B], [0], out.ptr);
      rowLoss.dispose();
      return [probs];
    },
    vjp: ([logits, labels], _o, [probs], d, a) => {
      const [B, C] = logits.shape;
      const dRow = new Tensor([B]);
      fill(d.engine, dRow.ptr, B, d.item() / B);
      const dx = new Tensor(logits.shape);
      softmaxCrossEntropyBackward(d.engine, probs.ptr, labels.ptr, B, C, dRow.ptr, dx.ptr, a.smoothing);
      dRow.dispose();
      return [dx, null];
    },
  },
  batchNorm: {
    shape: ([x, gamma, beta]) => {
      const C = channelsOf('batchNorm', x);
      for (const [name, p] of [
        ['gamma', gamma],
        ['beta', beta],
      ] as const) {
        if (p.rank !== 1 || p.shape[0] !== C)
          throw new ShapeError(`batchNorm: ${name} ${fmtShape(p.shape)} must be [${C}] for input ${fmtShape(x.shape)}`);
      }
      if (x.size / C < 2)
        throw new ShapeError(
          `batchNorm: training statistics need more than one value per channel, input ${fmtShape(x.shape)}`,
        );
      return x.shape;
    },
    forward: ([x, gamma, beta], out, a) => {
      const C = x.shape[x.rank - 1];
      const rows = x.size / C;
      const mean = new Tensor([C]);
      const variance = new Tensor([C]);
      batchNormStats(out.engine, x.ptr, rows, C, mean.ptr, variance.ptr);
      batchNormForward(out.engine, x.ptr, rows, C, mean.ptr, variance.ptr, a.eps, gamma.ptr, beta.ptr, out.ptr);
      a.onStats?.(mean, variance);
      return [mean, variance];
    },
    vjp: ([x, gamma], _o, [mean, variance], d, a) => {
      const C = x.shape[x.rank - 1];
      const dx = new Tensor(x.shape);
      const dgamma = new Tensor([C]);
      const dbeta = new Tensor([C]);
      batchNormBackward(
        d.engine,
        x.ptr,
        d.ptr,
        x.size / C,
        C,
        mean.ptr,
        variance.ptr,
        a.eps,
        gamma.ptr,
        dx.ptr,
        dgamma.ptr,
        dbeta.ptr,
      );
      return [dx, dgamma, dbeta];
    },
  },
  embedding: {
    shape: ([w, ids]) => [...checkIds('embedding', w, ids).shape, w.shape[1]],
    forward: ([w, ids], out) => {
      const D = w.shape[1];
      const f = out.engine.f32;
      const id = ids.data();
      for (let i = 0; i < id.length; i++) {
        const dst = (out.ptr >> 2) + i * D;
        if (id[i] < 0) f.fill(0, dst, dst + D);
        else f.copyWithin(dst, (w.ptr >> 2) + id[i] * D, (w.ptr >> 2) + (id[i] + 1) * D);
      }
      return undefined;
    },
    vjp: ([w, ids], _o, _s, d) => {
      const D = w.shape[1];
      const dw = new Tensor(w.shape);
      const f = d.engine.f32;
      f.fill(0, dw.ptr >> 2, (dw.ptr >> 2) + dw.size);
      const id = ids.data();
      for (let i = 0; i < id.length; i++) {
        if (id[i] < 0) continue;
        const src = (d.ptr >> 2) + i * D;
        const dst = (dw.ptr >> 2) + id[i] * D;
        for (let j = 0; j < D; j++) f[dst + j] += f[src + j];
      }
      return [dw, null];
    },
  },
  embeddingBag: {
    shape: ([w, ids]) => {
      checkIds('embeddingBag', w, ids);
      if (ids.rank !== 2) throw new ShapeError(`embeddingBag: ids ${fmtShape(ids.shape)} must be [batch, tokens]`);
      return [ids.shape[0], w.shape[1]];
    },
    forward: ([w, ids], out) => {
      const [B, L] = ids.shape;
      const D = w.shape[1];
      const f = out.engine.f32;
      const id = ids.data();
      for (let b = 0; b < B; b++) {
        const dst = (out.ptr >> 2) + b * D;
        f.fill(0, dst, dst + D);
        let n = 0;
        for (let t = 0; t < L; t++) {
          const k = id[b * L + t];
          if (k < 0) continue;
          n++;
          const src = (w.ptr >> 2) + k * D;
          for (let j = 0; j < D; j++) f[dst + j] += f[src + j];
        }
        if (n > 1) for (let j = 0; j < D; j++) f[dst + j] /= n;
      }
      return undefined;
    },
    vjp: ([w, ids], _o, _s, d) => {
      const [B, L] = ids.shape;
      const D = w.shape[1];
      const dw = new Tensor(w.shape);
      const f = d.engine.f32;
      f.fill(0, dw.ptr >> 2, (dw.ptr >> 2) + dw.size);
      const id = ids.data();
      for (let b = 0; b < B; b++) {
        let n = 0;
        for (let t = 0; t < L; t++) if (id[b * L + t] >= 0) n++;
        const src = (d.ptr >> 2) + b * D;
        for (let t = 0; t < L; t++) {
          const k = id[b * L + t];
          if (k < 0) continue;
          const dst = (dw.ptr >> 2) + k * D;
          for (let j = 0; j < D; j++) f[dst + j] += f[src + j] / n;
        }
      }
      return [dw, null];
    },
  },
} satisfies OpTable;

/** Token ids must be int32 in [-1, vocab) (-1 = padding). */
function checkIds(op: string, w: Tensor, ids: Tensor): Tensor {
  if (w.rank !== 2) throw new ShapeError(`${op}: weight ${fmtShape(w.shape)} must be [vocab, dim]`);
  if (ids.dtype !== 'int32') throw new ShapeError(`${op}: ids ${ids.describe()} must be int32`);
  const id = ids.data();
  for (let i = 0; i < id.length; i++) {
    if (!(id[i] >= -1 && id[i] < w.shape[0]))
      throw new ValueError(`${op}: token id ${id[i]} at index ${i} is outside [-1, ${w.shape[0]})`);
  }
  return ids;
}

/** Routes d to a where mask is 1 and to b elsewhere (ties of max/min go to b). */
function routed(d: Tensor, a: Tensor, b: Tensor, mask: Tensor): Tensor[] {
  const da = bin('mul', d, mask);
  const db = bin('sub', d, da);
  mask.dispose();
  return [sumTo(da, a.shape), sumTo(db, b.shape)];
}

function reduction(op: 'sum' | 'mean' | 'max'): OpDef<OpAttrs['sum']> {
  return {
    shape: ([x], a) => reducedShape(x.shape, normAxes(op, a.axes, x.rank), a.keepDims),
    forward: ([x], out, a) => void reduce(out.engine, op, x.ptr, x.shape, normAxes(op, a.axes, x.rank), out.ptr),
    vjp: ([x], out, _s, d, a) => {
      const axes = normAxes(op, a.axes, x.rank);
      const kept = reducedShape(x.shape, axes, true);
      const g = expand(d, kept, x.shape);
      if (op === 'sum') return [g];
      if (op === 'mean') {
        const n = sizeOf(x.shape) / Math.max(1, sizeOf(kept));
        scale(g.engine, g.ptr, g.ptr, g.size, 1 / n, 0);
        return [g];
      }
      // max: the gradient flows to every element equal to the maximum
      const outKept = out.reshapeView(kept);
      const mask = bin('eq', x, outKept);
      outKept.dispose();
      const dx = bin('mul', g, mask);
      g.dispose();
      mask.dispose();
      return [dx];
    },
  };
}
