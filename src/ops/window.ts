// Sliding-window ops over NHWC images: conv2d (weights [KH, KW, Cin, Cout], fused epilogue, int8
// variants chosen by the backend), max/average pooling, and global average pooling.
// Attributes are resolved: stride [h, w] and pads [top, left, bottom, right] (the functional API
// turns 'same'/'valid' into pads against the input it sees).
import { fmtShape, ShapeError } from '../errors.js';
import { isNatural, isPosInt } from '../io/fields.js';
import { type Conv2dGeometry, conv2dGeometry, type Pool2dGeometry, pool2dGeometry } from '../shape/window.js';
import { checkWeighted, type EpilogueAttrs, exportWeighted, int8Of, planEpilogue, planInt8 } from './matmul.js';
import type { CheckCtx, Info, OpDef, PlanCtx, Ref, Shape } from './op.js';
import { ints, KERNEL_ACTIVATION, sameDtype, weighsFloats } from './rules.js';

type Pair = [number, number];
type Pads = [number, number, number, number];
export interface WindowAttrs {
  /**
   * pool 'max2x2': a 2×2 / stride-2 max pool of the (int8) output fused into the convolution
   * (compile/passes/fuse-pool.ts); the node's output is the pooled tensor.
   */
  conv2d: EpilogueAttrs & { stride: Pair; pads: Pads; pool?: 'max2x2' };
  maxpool2d: { kernel: Pair; stride: Pair; pads: Pads };
  avgpool2d: { kernel: Pair; stride: Pair; pads: Pads };
  globalavgpool: Record<string, never>;
}

/** Geometry of x (batch replaced by N; the IR's batch is -1) for conv weights of shape w. */
function convGeo(x: Shape, w: Shape, a: WindowAttrs['conv2d'], N = x[0]): Conv2dGeometry {
  const g = conv2dGeometry([1, ...x.slice(1)], w, a.stride, a.pads);
  return { ...g, N };
}

function poolGeo(op: string, x: Shape, a: WindowAttrs['maxpool2d'], N = x[0]): Pool2dGeometry {
  if (x.length !== 4) throw new ShapeError(`${op}: input ${fmtShape(x)} must be NHWC (rank 4)`);
  return { ...pool2dGeometry([1, ...x.slice(1)], a.kernel, a.stride, a.pads), N };
}

/** Output size of a window op along one axis (the kernels' floor formula), or 0 if it does not fit. */
const windowOut = (size: number, k: number, s: number, padA: number, padB: number) =>
  size + padA + padB < k ? 0 : Math.floor((size + padA + padB - k) / s) + 1;

/** IR check of the window attributes against the input (messages name the window and pads). */
function checkWindow(c: CheckCtx<{ stride: Pair; pads: Pads }>, x: Info, K: readonly number[]): void {
  if (x.shape.length !== 4) c.bad(`input '${c.n.inputs[0]}' must be 4-D NHWC, got ${fmtShape(x.shape)}`);
  const stride = ints(c, 'stride', 2, isPosInt, 'positive integers');
  const pads = ints(c, 'pads', 4, isNatural, 'non-negative integers');
  const [, H, W] = x.shape;
  const OH = windowOut(H, K[0], stride[0], pads[0], pads[2]);
  const OW = windowOut(W, K[1], stride[1], pads[1], pads[3]);
  if (OH < 1 || OW < 1) c.bad(`window ${K.join('x')} (pads ${fmtShape(pads)}) does not fit input ${fmtShape(x.shape)}`);
}

function checkPool(c: CheckCtx<WindowAttrs['maxpool2d']>, ...dtypes: string[]): void {
  const x = sameDtype(c, ...dtypes);
  const K = ints(c, 'kernel', 2, isPosInt, 'positive integers');
  checkWindow(c, x, K);
  const pads = c.n.attrs.pads;
  if (pads[0] >= K[0] || pads[2] >= K[0] || pads[1] >= K[1] || pads[3] >= K[1])
    c.bad(`pads ${fmtShape(pads)} must be smaller than the window ${K.join('x')}`);
}

/** The node's geometry as a function of the tile's batch (shapes from the graph). */
function planGeo<G extends Pool2dGeometry>(
  p: PlanCtx,
  make: (x: Shape, N: number) => G,
  input: string,
): (N: number) => G {
  const g = make(p.value(input).shape, 1);
  return (N) => ({ ...g, N });
}

const poolAttrs = (a: WindowAttrs['maxpool2d']) => [
  { name: 'kernel_shape', ints: a.kernel },
  { name: 'strides', ints: a.stride },
  { name: 'pads', ints: a.pads },
];

export const WINDOW = {
  conv2d: {
    arity: [2, 3],
    infer: ([x, w, b], a) => {
      weighsFloats('conv2d', x);
      if (x.shape.length !== 4) throw new ShapeError(`conv2d: input ${fmtShape(x.shape)} must be NHWC (rank 4)`);
      const g = convGeo(x.shape, w.shape, a);
      if (b && (b.shape.length !== 1 || b.shape[0] !== g.OC))
        throw new ShapeError(
          `conv2d: bias ${fmtShape(b.shape)} does not match ${g.OC} output channels of weight ${fmtShape(w.shape)}`,
        );
      if (a.pool) return { shape: [x.shape[0], Math.floor(g.OH / 2), Math.floor(g.OW / 2), g.OC], dtype: 'float32' };
      return { shape: [x.shape[0], g.OH, g.OW, g.OC], dtype: 'float32' };
    },
    check(c) {
      const { w } = checkWeighted(c, 4);
      checkWindow(c, c.value(0), w.shape.slice(0, 2));
      const pool = c.n.attrs.pool;
      if (pool !== undefined && pool !== 'max2x2')
        c.bad(`attrs.pool must be 'max2x2' when present, got ${JSON.stringify(pool)}`);
      if (pool && (w.dtype !== 'int8' || c.out.dtype !== 'int8'))
        c.bad('a fused pool needs int8 weights and an int8 output');
    },
    forward(x, [i, w, b], out, a) {
      if (a.pool || a.residual) throw new ShapeError('conv2d: a fused pool or residual runs only in graphs');
      const g = convGeo(i.shape, w.shape, a);
      const activation = KERNEL_ACTIVATION[a.activation ?? 'none'];
      x.backend.conv2d(i.buf, w.buf, g, out.buf, { bias: b?.buf, activation, alpha: a.alpha });
      return undefined;
    },
    vjp: (g, [x, w, b], _o, _s, d, a, needs) => {
      const geo = convGeo(x.shape, w.shape, a);
      const bk = g.backend;
      let dx: Ref | null = null;
      if (needs[0]) {
        dx = g.alloc(x.shape);
        bk.conv2dBackwardData(d.buf, w.buf, geo, dx.buf);
      }
      let dw: Ref | null = null;
      if (needs[1]) {
        dw = g.alloc(w.shape);
        bk.conv2dBackwardWeight(x.buf, d.buf, geo, dw.buf);
      }
      let db: Ref | null = null;
      if (b && needs[2]) {
        db = g.alloc([geo.OC]);
        bk.reduce('sum', d.buf, [d.size / geo.OC, geo.OC], [0], db.buf);
      }
      return [dx, dw, db];
    },
    run(p, n) {
      const w = p.constantInfo(n.inputs[1]);
      if (!w) throw new ShapeError(`conv2d '${n.name}': weights must be a constant`);
      // the convolution's own geometry (a fused pool writes the pooled output)
      const geo = planGeo(p, (x, N) => convGeo(x, w.shape, n.attrs, N), n.inputs[0]);
      const x = p.buf(n.inputs[0]);
      const out = p.buf(n.output);
      if (w.dtype === 'int8') {
        const { sx, zx, ep } = planInt8(p, n);
        const i8 = int8Of(p, n.name);
        const pool = n.attrs.pool === 'max2x2';
        const packed = p.own(
          i8.prepareConv(w.data as Int8Array, w.shape, w.quant?.scale ?? [], geo(1), {
            winograd: p.options.winograd,
            pool,
          }),
        );
        return (N) => i8.conv2d(x, sx, zx, packed, geo(N), out, ep);
      }
      const packed = p.weights(n.inputs[1]);
      const ep = planEpilogue(p, n);
      const bk = p.backend;
      return (N) => bk.conv2dPrepared(x, packed, geo(N), out, ep);
    },
    traits: { epilogue: true },
    onnx: (o, n) => exportWeighted(o, n, 'conv2d', n.attrs.pool === 'max2x2'),
  } satisfies OpDef<WindowAttrs['conv2d']>,
  maxpool2d: {
    arity: [1, 1],
    infer: ([x], a) => {
      const g = poolGeo('maxpool2d', x.shape, a);
      return { shape: [x.shape[0], g.OH, g.OW, g.C], dtype: x.dtype };
    },
    check: (c) => checkPool(c, 'float32', 'int8'),
    forward(x, [i], out, a) {
      const argmax = x.temp(out.shape, 'int32');
      x.backend.maxPool2d(i.buf, poolGeo('maxpool2d', i.shape, a), out.buf, argmax.buf);
      return [argmax];
    },
    vjp: (g, [x], _o, [argmax], d, a) => {
      const dx = g.alloc(x.shape);
      g.backend.maxPool2dBackward(d.buf, argmax.buf, poolGeo('maxpool2d', x.shape, a), dx.buf);
      return [dx];
    },
    run(p, n) {
      const geo = planGeo(p, (s, N) => poolGeo('maxpool2d', s, n.attrs, N), n.inputs[0]);
      const x = p.buf(n.inputs[0]);
      const out = p.buf(n.output);
      const bk = p.backend;
      if (p.value(n.inputs[0]).dtype === 'int8') {
        const i8 = int8Of(p, n.name);
        return (N) => i8.maxPool2d(x, geo(N), out);
      }
      return (N) => bk.maxPool2d(x, geo(N), out, 0);
    },
    traits: { perChannel: true },
    onnx: (o, n) =>
      o.bind(n.output, o.node('MaxPool', [o.float(n.inputs[0], n.name)], n.name, poolAttrs(n.attrs)), n.name),
  } satisfies OpDef<WindowAttrs['maxpool2d']>,
  avgpool2d: {
    arity: [1, 1],
    infer: ([x], a) => {
      const g = poolGeo('avgpool2d', x.shape, a);
      return { shape: [x.shape[0], g.OH, g.OW, g.C], dtype: x.dtype };
    },
    check: (c) => checkPool(c, 'float32'),
    forward(x, [i], out, a) {
      x.backend.avgPool2d(i.buf, poolGeo('avgpool2d', i.shape, a), out.buf);
      return undefined;
    },
    vjp: (g, [x], _o, _s, d, a) => {
      const dx = g.alloc(x.shape);
      g.backend.avgPool2dBackward(d.buf, poolGeo('avgpool2d', x.shape, a), dx.buf);
      return [dx];
    },
    run(p, n) {
      const geo = planGeo(p, (s, N) => poolGeo('avgpool2d', s, n.attrs, N), n.inputs[0]);
      const [x, out, bk] = [p.buf(n.inputs[0]), p.buf(n.output), p.backend];
      return (N) => bk.avgPool2d(x, geo(N), out);
    },
    traits: { perChannel: true },
    onnx: (o, n) =>
      o.bind(n.output, o.node('AveragePool', [o.float(n.inputs[0], n.name)], n.name, poolAttrs(n.attrs)), n.name),
  } satisfies OpDef<WindowAttrs['avgpool2d']>,
  globalavgpool: {
    arity: [1, 1],
    infer: ([x]) => {
      if (x.shape.length !== 4) throw new ShapeError(`globalavgpool: input ${fmtShape(x.shape)} must be NHWC (rank 4)`);
      return { shape: [x.shape[0], x.shape[3]], dtype: x.dtype };
    },
    check(c) {
      const x = sameDtype(c, 'float32', 'int8');
      if (x.shape.length !== 4) c.bad(`input '${c.n.inputs[0]}' must be 4-D NHWC, got ${fmtShape(x.shape)}`);
    },
    forward(x, [i], out) {
      const [N, H, W, C] = i.shape;
      x.backend.globalAvgPool(i.buf, N, H * W, C, out.buf);
      return undefined;
    },
    vjp: (g, [x], _o, _s, d) => {
      const [N, H, W, C] = x.shape;
      const dx = g.alloc(x.shape);
      g.backend.globalAvgPoolBackward(d.buf, N, H * W, C, dx.buf);
      return [dx];
    },
    run(p, n) {
      const [, H, W, C] = p.value(n.inputs[0]).shape;
      const [x, out, bk] = [p.buf(n.inputs[0]), p.buf(n.output), p.backend];
      if (p.value(n.inputs[0]).dtype === 'int8') {
        const i8 = int8Of(p, n.name);
        return (N) => i8.globalAvgPool(x, N, H * W, C, out);
      }
      return (N) => bk.globalAvgPool(x, N, H * W, C, out);
    },
    traits: { perChannel: true },
    onnx: (o, n) => {
      const p = o.node('GlobalAveragePool', [o.float(n.inputs[0], n.name)], n.name);
      o.bind(n.output, o.node('Flatten', [p], n.name, [{ name: 'axis', i: 1 }]), n.name);
    },
  } satisfies OpDef<WindowAttrs['globalavgpool']>,
} satisfies { [K in keyof WindowAttrs]: OpDef<WindowAttrs[K]> };
