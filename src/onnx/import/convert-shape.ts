// Converters of ONNX ops that move or relabel data, and of constants: on a constant they fold
// (fold.ts); on a value, Transpose, Reshape, Flatten, Squeeze and Unsqueeze become relabellings of
// its layout (layout.ts) or Graduate's flatten view, Identity and Dropout (inference) pass it on.
// Constant, Shape and Concat take constants only. Not for: arithmetic (convert-elementwise.ts).

import { DT, type NodeProto } from '../proto.js';
import type { Attrs } from './attrs.js';
import type { Context, Converter } from './context.js';
import {
  type Const,
  castConst,
  concatConst,
  constantAttr,
  flattenConst,
  prod,
  resolveShape,
  shapeConst,
  transposeConst,
} from './fold.js';
import { dimsOf, type Entry, perSample } from './layout.js';

export const SHAPE = {
  Identity: (cx, n) => cx.get(n.input?.[0] ?? ''),
  Dropout: (cx, n) => {
    if (cx.used(n.output?.[1]) > 0) cx.fail('the mask output is used');
    return cx.get(n.input?.[0] ?? '');
  },
  Constant: (cx, _n, A) => {
    const t = A.tensor('value');
    if (t) return cx.tensor(t, `node '${cx.nodeName}' value`);
    return constantAttr(A) ?? cx.fail('only tensor, float(s) and int(s) values are supported');
  },
  Cast: (cx, _n, A) => {
    const e = cx.input(0);
    const to = A.int('to', 0);
    if (e?.kind === 'const') return castConst(e, to);
    if (to !== DT.FLOAT) cx.fail(`a cast of a computed tensor to type ${to} is not supported`);
    return e as Entry;
  },
  Shape: (cx, n) => {
    const e = cx.get(n.input?.[0] ?? '');
    if (e.kind !== 'const') cx.fail('Shape of a computed tensor is not supported (the batch size is not known)');
    return shapeConst(e as Const);
  },
  Flatten: (cx, n, A) => {
    const e = cx.get(n.input?.[0] ?? '');
    let axis = A.int('axis', 1);
    const dims = dimsOf(e);
    if (axis < 0) axis += dims.length;
    if (e.kind === 'const') return flattenConst(e, axis);
    if (axis !== 1) cx.fail(`Flatten axis ${axis} is not supported (only 1: [N, …] → [N, features])`);
    return cx.reshape(e, [-1, perSample(dims)]);
  },
  Reshape: (cx, n, A) => {
    const e = cx.get(n.input?.[0] ?? '');
    const s = Array.from(cx.constIn(1, 'shape').data);
    const dims = dimsOf(e);
    if (e.kind === 'const') return { ...e, dims: resolveShape(s, dims, A.int('allowzero', 0), cx.fail.bind(cx)) };
    const rest = s.slice(1).map((d, i) => (d === 0 && !A.int('allowzero', 0) ? dims[i + 1] : d));
    const P = perSample(dims);
    const known = prod(rest.filter((d) => d !== -1));
    const neg = rest.filter((d) => d === -1).length;
    const target =
      neg === 0
        ? rest
        : neg === 1 && known > 0 && P % known === 0
          ? rest.map((d) => (d === -1 ? P / known : d))
          : undefined;
    if (!target || prod(target) !== P || rest.some((d) => d < -1))
      cx.fail(
        `Reshape to [${s.join(', ')}] of [${dims.join(', ')}]: only reshapes that keep the batch dimension are supported`,
      );
    return cx.reshape(e, [-1, ...(target as number[])]);
  },
  Squeeze: (cx, n, A) => squeeze(cx, n, A, 'Squeeze'),
  Unsqueeze: (cx, n, A) => squeeze(cx, n, A, 'Unsqueeze'),
  Transpose: (cx, n, A) => {
    const e = cx.get(n.input?.[0] ?? '');
    const dims = dimsOf(e);
    const perm = A.ints('perm') ?? dims.map((_, i) => dims.length - 1 - i);
    if (e.kind === 'const') return transposeConst(e, perm);
    const v = cx.materialize(e, 'input');
    const key = perm.join();
    const pdims = perm.map((p) => dims[p]);
    if (key === dims.map((_, i) => i).join()) return v;
    if (dims.length === 4 && !v.order) {
      if (v.layout === 'nchw' && key === '0,2,3,1') return { ...v, dims: pdims, layout: 'flat' };
      if (v.layout === 'flat' && key === '0,3,1,2' && cx.phys(v).slice(1).join() === dims.slice(1).join())
        return { ...v, dims: pdims, layout: 'nchw' };
    }
    return cx.fail(
      `Transpose perm [${perm.join(', ')}] of a [${dims.join(', ')}] tensor is not supported (NCHW↔NHWC only)`,
    );
  },
  Concat: (cx, n, A) => {
    const ins = (n.input ?? []).map((i) => cx.get(i));
    if (ins.every((e) => e.kind === 'const')) return concatConst(ins as Const[], A.int('axis', 0), cx.fail.bind(cx));
    return cx.fail('Concat of computed tensors is not supported: the Graduate runtime has no concat op');
  },
} satisfies Record<string, Converter>;

/** Squeeze / Unsqueeze (axes: an attribute before opset 13, then an optional input). */
function squeeze(cx: Context, n: NodeProto, A: Attrs, op: 'Squeeze' | 'Unsqueeze'): Entry {
  const e = cx.get(n.input?.[0] ?? '');
  const dims = dimsOf(e);
  const axes = cx.opset < 13 ? (A.ints('axes') ?? []) : n.input?.[1] ? Array.from(cx.constIn(1, 'axes').data) : [];
  let out: number[];
  if (op === 'Squeeze') {
    const ax = axes.length
      ? axes.map((a) => (a < 0 ? a + dims.length : a))
      : dims.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
    if (ax.some((a) => dims[a] !== 1 && !(a === 0 && e.kind === 'const')))
      cx.fail(`cannot squeeze axes [${ax.join(', ')}] of [${dims.join(', ')}]`);
    out = dims.filter((_, i) => !ax.includes(i));
  } else {
    const r = dims.length + axes.length;
    const ax = axes.map((a) => (a < 0 ? a + r : a));
    out = [];
    for (let i = 0, j = 0; i < r; i++) out.push(ax.includes(i) ? 1 : dims[j++]);
  }
  if (e.kind === 'const') return { ...e, dims: out };
  if (out[0] !== -1) cx.fail('squeezing or unsqueezing the batch dimension is not supported');
  return cx.reshape(e, out);
}
