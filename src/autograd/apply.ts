// Runs one op from the table: checks shapes, allocates the output, calls the forward kernel and,
// when gradients are on and an input needs them, records the vjp on the output.
import { ValueError } from '../errors.js';
import { OPS, type OpAttrs, type OpDef, type OpName } from '../ops/table.js';
import { keep } from '../tensor/scope.js';
import { Tensor } from '../tensor/tensor.js';
import { isGradEnabled } from './grad-mode.js';

export function apply<K extends OpName>(op: K, ins: readonly Tensor[], attrs: OpAttrs[K]): Tensor {
  const def = OPS[op] as OpDef<OpAttrs[K]>;
  for (const t of ins) {
    if (t === undefined) continue;
    if (t.disposed) throw new ValueError(`${op}: input ${t.describe()} was disposed`);
  }
  const shape = def.shape(ins, attrs);
  let out: Tensor;
  let saved: Tensor[] = [];
  if (def.alias) {
    out = def.alias(ins, attrs);
  } else {
    out = new Tensor(shape, def.dtype ?? 'float32');
    try {
      saved = def.forward?.(ins, out, attrs) ?? [];
    } catch (e) {
      out.dispose();
      throw e;
    }
  }
  if (isGradEnabled() && ins.some((t) => t?.requiresGrad)) {
    // Saved tensors belong to the output: they live exactly as long as it does.
    for (const s of saved) keep(s);
    out.requiresGrad = true;
    const needs = ins.map((t) => t?.requiresGrad === true);
    out.gradNode = { op, inputs: ins, saved, backward: (d) => def.vjp(ins, out, saved, d, attrs, needs) };
  } else {
    for (const s of saved) s.dispose();
  }
  return out;
}
