// The last step of importing a quantized model: each int8 conv2d / linear takes over the
// requantization that follows it, as the int8 kernels' epilogue does it (bias, ReLU, rounding to the
// output's scale and zero point, saturation), instead of writing float32 for a quantize node:
//   layer → affine (positive scales)                   → weight scales and bias absorb it;
//   layer → quantize                                   → the layer writes the int8 value;
//   layer → ReLU → quantize                            → the same with a ReLU epilogue;
//   int8 layer → dequantize → ReLU → quantize (same parameters) → the layer with a ReLU epilogue
//   (PyTorch 1.13 exports Linear + ReLU so: max(q, zp) on the quantized value equals quantizing
//   the ReLU of the real value, so the answers are the same).
// Each rewrite needs the intermediate values to have no other reader and not to be graph outputs.
// Not for: choosing what is int8 (convert-quant.ts) or Graduate's own quantization (compile/).
import type { Graph, Node } from '../../graph/ir.js';
import { FLOAT32_MIN_NORMAL } from '../../io/fields.js';
import { KERNEL_ACTIVATION } from '../../ops/rules.js';

/** g with the requantizations fused into the int8 layers before them (in place; see the header). */
export function fuseInt8Epilogues(g: Graph): Graph {
  for (let changed = true; changed; ) {
    changed = false;
    const readers = new Map<string, Node[]>();
    for (const n of g.nodes) {
      const ins = [
        ...n.inputs,
        ...((n.attrs as { residual?: string }).residual ? [(n.attrs as { residual: string }).residual] : []),
      ];
      for (const v of ins) readers.set(v, [...(readers.get(v) ?? []), n]);
    }
    /** The one node reading value v, if v is an intermediate with exactly one reader. */
    const only = (v: string, op: Node['op']): Node | undefined => {
      const r = readers.get(v);
      return r?.length === 1 && r[0].op === op && !g.outputs.includes(v) ? r[0] : undefined;
    };
    const isRelu = (n: Node | undefined) =>
      n?.op === 'unary' && (n.attrs as { fn: string }).fn === KERNEL_ACTIVATION.relu;
    const dead = new Set<Node>();
    for (const L of g.nodes) {
      if ((L.op !== 'conv2d' && L.op !== 'linear') || dead.has(L)) continue;
      if (g.constants[L.inputs[1]]?.dtype !== 'int8' || L.attrs.residual) continue;
      const out = g.values[L.output];
      const aff = out.dtype === 'float32' && L.attrs.activation === 'none' ? only(L.output, 'affine') : undefined;
      if (aff && foldAffine(g, L, aff)) {
        // layer → affine with positive scales (ConvInteger / MatMulInteger times its scales)
        dead.add(aff);
        delete g.values[L.output];
        L.output = aff.output;
        changed = true;
      } else if (out.dtype === 'float32') {
        // layer → (ReLU →) quantize
        let r = readers.get(L.output)?.[0];
        const relu = L.attrs.activation === 'none' && isRelu(r) && only(L.output, 'unary') ? r : undefined;
        const from = relu ? relu.output : L.output;
        const q = relu ? only(relu.output, 'quantize') : only(L.output, 'quantize');
        if (!q || (L.attrs.activation !== 'none' && L.attrs.activation !== 'relu')) continue;
        if (relu) L.attrs.activation = 'relu';
        r = q;
        for (const d of relu ? [relu, q] : [q]) dead.add(d);
        delete g.values[L.output];
        if (from !== L.output) delete g.values[from];
        L.output = r.output;
        changed = true;
      } else if (out.dtype === 'int8' && L.attrs.activation === 'none') {
        // int8 layer → dequantize → ReLU → quantize with the same parameters
        const d = only(L.output, 'dequantize');
        const relu = d && only(d.output, 'unary');
        const q = relu && isRelu(relu) ? only(relu.output, 'quantize') : undefined;
        const qv = q && g.values[q.output];
        if (!d || !relu || !q || !qv?.quant || !out.quant) continue;
        if (qv.quant.scale[0] !== out.quant.scale[0] || qv.quant.zeroPoint[0] !== out.quant.zeroPoint[0]) continue;
        L.attrs.activation = 'relu';
        for (const x of [d, relu, q]) dead.add(x);
        for (const v of [L.output, d.output, relu.output]) delete g.values[v];
        L.output = q.output;
        changed = true;
      }
    }
    g.nodes = g.nodes.filter((n) => !dead.has(n));
  }
  return g;
}

/**
 * Folds y · s + t (per channel, s > 0) into an int8 layer: its weight scales times s, its bias
 * s · b + t. False (nothing changed) when a scale is not positive or would leave float32's range.
 */
function foldAffine(g: Graph, L: Node, aff: Node): boolean {
  const s = g.constants[aff.inputs[1]];
  const t = g.constants[aff.inputs[2]];
  const w = g.constants[L.inputs[1]];
  const C = w.shape[w.shape.length - 1];
  if (s?.dtype !== 'float32' || t?.dtype !== 'float32' || s.data.length !== C || t.data.length !== C) return false;
  const sc = (w.quant?.scale ?? []).map((x, c) => Math.fround(x * (s.data[c] as number)));
  if (!sc.every((x) => x >= FLOAT32_MIN_NORMAL && Number.isFinite(x))) return false;
  const b = L.inputs[2] ? (g.constants[L.inputs[2]].data as Float32Array) : new Float32Array(C);
  const bias = Float32Array.from({ length: C }, (_, c) => (s.data[c] as number) * b[c] + (t.data[c] as number));
  g.constants[L.inputs[1]] = { ...w, quant: { ...(w.quant as { zeroPoint: number[] }), scale: sc } };
  const name = L.inputs[2] ?? `${L.name}.bias`;
  g.constants[name] = { dtype: 'float32', shape: [C], data: bias };
  L.inputs[2] = name;
  return true;
}
