// Converters of QDQ models' QuantizeLinear / DequantizeLinear: the model imports as float.
// DequantizeLinear of int8 weights folds (fold.ts); QuantizeLinear of a computed tensor is a Quant
// entry that its DequantizeLinear drops again, and the data-movement ops between the two (INT8_MOVES)
// apply to the float tensor instead (the importer's dispatch). Not for: Graduate's own int8
// (compile/quantize), which is not how imported models run.
import type { Attrs } from './attrs.js';
import type { Context, Converter } from './context.js';
import { type Const, dequantizeConst, prod, type QParams, quantizeConst } from './fold.js';
import type { Expr, Val } from './layout.js';

export const QUANT = {
  QuantizeLinear: (cx, n, A) => {
    const e = cx.get(n.input?.[0] ?? '');
    if (e.kind === 'const') return quantizeConst(e, qParams(cx, A, e));
    if (e.kind === 'quant') cx.fail('input is already quantized');
    return { kind: 'quant', base: e as Val | Expr };
  },
  DequantizeLinear: (cx, n, A) => {
    const e = cx.get(n.input?.[0] ?? '');
    if (e.kind === 'const') return dequantizeConst(e, qParams(cx, A, e));
    if (e.kind === 'quant') return e.base;
    return cx.fail('DequantizeLinear of a computed tensor that no QuantizeLinear produced (an int8 graph input?)');
  },
} satisfies Record<string, Converter>;

/** Ops that, given a QuantizeLinear output, convert its float tensor and stay quantized. */
export const INT8_MOVES: ReadonlySet<string> = new Set([
  'Flatten',
  'Reshape',
  'Transpose',
  'Identity',
  'MaxPool',
  'Squeeze',
  'Unsqueeze',
  'Dropout',
]);

/** Scale (input 1), optional zero point (input 2) and per-axis channel of x's elements. */
function qParams(cx: Context, A: Attrs, x: Const): QParams {
  const scale = cx.constIn(1, 'scale');
  const zp = cx.node.input?.[2] ? cx.constIn(2, 'zero point') : undefined;
  let axis = A.int('axis', 1);
  if (axis < 0) axis += x.dims.length;
  const per = scale.data.length;
  if (per !== 1 && x.dims[axis] !== per) cx.fail(`${per} scales for axis ${axis} of [${x.dims.join(', ')}]`);
  const inner = prod(x.dims.slice(axis + 1));
  const ch = (i: number) => (per === 1 ? 0 : Math.floor(i / inner) % per);
  return { scale: scale.data, zp: zp?.data, ch };
}
