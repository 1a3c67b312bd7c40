// Runs one op of the registry eagerly: checks shapes (the op's infer), allocates the output on the
// inputs' backend, calls forward and, when gradients are on and an input needs them, records the
// vjp on the output. When a recorder is set (compile/capture.ts), each applied op is reported too,
// with the label of the innermost `labelled` call (a graph module's node name) if any.
import { ValueError } from '../errors.js';
import type { Exec, Grad, Ref } from '../ops/op.js';
import { type OpAttrs, type OpName, opDef } from '../ops/registry.js';
import { keep } from '../tensor/scope.js';
import { type RowGrad, Tensor } from '../tensor/tensor.js';
import { isGradEnabled } from './grad-mode.js';

/** Sees every op applied while set (capture: a module's forward becomes graph nodes). */
export type Recorder = <K extends OpName>(
  op: K,
  ins: readonly Tensor[],
  attrs: OpAttrs[K],
  out: Tensor,
  label?: string,
) => void;
let recorder: Recorder | undefined;
let label: string | undefined;

/** Runs fn with `r` seeing every applied op (nested recordings are not supported). */
export function recording<T>(r: Recorder, fn: () => T): T {
  if (recorder) throw new ValueError('recording(): already recording');
  recorder = r;
  try {
    return fn();
  } finally {
    recorder = undefined;
  }
}

/** Runs fn with the ops it applies labelled `name` for the recorder (capture names their nodes so). */
export function labelled<T>(name: string, fn: () => T): T {
  const outer = label;
  label = name;
  try {
    return fn();
  } finally {
    label = outer;
  }
}

export function apply<K extends OpName>(op: K, ins: readonly Tensor[], attrs: OpAttrs[K]): Tensor {
  const def = opDef(op);
  for (const t of ins) {
    if (t === undefined) continue;
    if (t.disposed) throw new ValueError(`${op}: input ${t.describe()} was disposed`);
  }
  const info = def.infer(ins, attrs);
  const backend = ins[0]?.backend;
  // value checks read the inputs on the host: not on a device (a round trip per op), where the
  // kernels make bad values visible instead (cross-entropy: NaN for a label out of range)
  if (!backend?.deviceMemory) def.checkValues?.(ins, attrs);
  for (const t of ins)
    if (t && t.backend !== backend)
      throw new ValueError(`${op}: inputs live on different backends ('${backend?.name}' and '${t.backend.name}')`);
  let out: Tensor;
  let saved: Tensor[] = [];
  if (def.traits.view) {
    out = ins[0].reshapeView(info.shape);
  } else {
    out = new Tensor(info.shape, info.dtype, undefined, backend);
    const temps: Tensor[] = [];
    const x: Exec = {
      backend: out.backend,
      temp: (shape, dtype) => {
        const t = new Tensor(shape, dtype ?? 'float32', undefined, out.backend);
        temps.push(t);
        return t;
      },
    };
    try {
      saved = (def.forward(x, ins, out, attrs) ?? []) as Tensor[];
    } catch (e) {
      out.dispose();
      for (const t of temps) t.dispose();
      throw e;
    }
    for (const t of temps) if (!saved.includes(t)) t.dispose();
  }
  recorder?.(op, ins, attrs, out, label);
  const vjp = def.vjp;
  if (vjp && isGradEnabled() && ins.some((t) => t?.requiresGrad)) {
    // Saved tensors belong to the output: they live exactly as long as it does.
    for (const s of saved) keep(s);
    out.requiresGrad = true;
    // A table leaf that asks for row-sparse gradients gets them from rowVjp, not from vjp.
    const table = def.rowVjp && ins[def.rowVjp.input];
    const sparse = table?.sparseGrad && table.requiresGrad && !table.gradNode ? def.rowVjp : undefined;
    const needs = ins.map((t, i) => t?.requiresGrad === true && i !== sparse?.input);
    const g: Grad = {
      backend: out.backend,
      alloc: (shape, dtype) => new Tensor(shape, dtype ?? 'float32', undefined, out.backend),
    };
    out.gradNode = {
      op,
      inputs: ins,
      saved,
      backward: (d) => vjp(g, ins as readonly Ref[], out, saved, d, attrs, needs) as (Tensor | null)[],
      rows: sparse && {
        input: sparse.input,
        backward: (d) => sparse.vjp(g, ins as readonly Ref[], d, attrs) as RowGrad,
      },
    };
  } else {
    for (const s of saved) s.dispose();
  }
  return out;
}
