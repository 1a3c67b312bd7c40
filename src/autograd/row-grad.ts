// Row-sparse gradients of leaves that ask for them (Tensor.sparseGrad: embedding tables). backward
// hands each row gradient here: it becomes leaf.rowGrad, merged with the rows already there when a
// table is used twice (positives and negatives from one item table), or joins leaf.grad when the
// table also feeds an op without a row vjp (a tied output layer): a leaf holds one or the other.
// Not for: computing row gradients (ops' rowVjp) or applying them (src/optim/).
import { compactRows } from '../ops/gather.js';
import { keep } from '../tensor/scope.js';
import { type RowGrad, type Tensor, tensor, zeros } from '../tensor/tensor.js';

/** Adds a row gradient (its values now owned by leaf) to leaf's gradient. */
export function accumulateRows(leaf: Tensor, rg: RowGrad): void {
  if (leaf.grad) {
    scatterInto(rg.values, rg.rows, leaf.grad);
    rg.values.dispose();
  } else if (leaf.rowGrad) {
    const merged = mergeRows(leaf.rowGrad, rg);
    leaf.rowGrad.values.dispose();
    rg.values.dispose();
    leaf.rowGrad = merged;
  } else {
    leaf.rowGrad = { rows: rg.rows, values: keep(rg.values) };
  }
}

/** When leaf has a dense grad too, its row gradient is added into it and dropped. */
export function foldRows(leaf: Tensor): void {
  if (!leaf.grad || !leaf.rowGrad) return;
  scatterInto(leaf.rowGrad.values, leaf.rowGrad.rows, leaf.grad);
  leaf.rowGrad.values.dispose();
  leaf.rowGrad = null;
}

/** Disposes leaf's row gradient, if any. */
export function dropRows(leaf: Tensor): void {
  leaf.rowGrad?.values.dispose();
  leaf.rowGrad = null;
}

/** The sum of two row gradients over the union of their rows (a new, kept tensor). */
function mergeRows(a: RowGrad, b: RowGrad): RowGrad {
  const both = new Int32Array(a.rows.length + b.rows.length);
  both.set(a.rows);
  both.set(b.rows, a.rows.length);
  const { rows, slots } = compactRows(both);
  const values = keep(zeros([rows.length, a.values.shape[1]], 'float32', a.values.backend));
  scatterInto(a.values, slots.subarray(0, a.rows.length), values);
  scatterInto(b.values, slots.subarray(a.rows.length), values);
  return { rows, values };
}

/** out[ids[i], :] += values[i, :] (out: [rows, D]). */
function scatterInto(values: Tensor, ids: Int32Array, out: Tensor): void {
  if (ids.length === 0) return;
  const idt = tensor(ids, [ids.length], 'int32', out.backend);
  out.backend.scatterAdd(values.buf, out.shape[1], idt.buf, ids.length, out.buf);
  idt.dispose();
}
