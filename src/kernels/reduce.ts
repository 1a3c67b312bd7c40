// Reductions on the engine: sum / mean / max / min over any set of axes, and row argmax.
// A shape and its reduced axes are merged into alternating kept/reduced blocks; each reduced block
// is one [outer, reduced, inner] pass of the wasm kernel (as/reduce.ts), innermost block first.
// Not for: softmax (softmax.ts) or broadcasting gradients back (the caller's sum over axes).
import { reducedAxes } from '../shape/window.js';
import { numel } from './broadcast.js';
import { copy } from './elementwise.js';
import type { Engine } from './engine.js';

const REDUCE = { sum: 0, mean: 1, max: 2, min: 3 } as const;
export type ReduceOp = keyof typeof REDUCE;
export const REDUCE_OPS = Object.keys(REDUCE) as ReduceOp[];

/** Reduced elements per thread below which a reduction stays on one thread. */
const MIN_WORK_PER_THREAD = 32768;

/** Merged blocks of a shape, outermost first: consecutive dims with the same kept/reduced flag. */
function blocks(shape: readonly number[], reduced: ReadonlySet<number>): { size: number; reduced: boolean }[] {
  const out: { size: number; reduced: boolean }[] = [];
  shape.forEach((d, k) => {
    if (d === 1) return;
    const r = reduced.has(k);
    const last = out[out.length - 1];
    if (last && last.reduced === r) last.size *= d;
    else out.push({ size: d, reduced: r });
  });
  return out;
}

/** out = op of x[shape] over `axes` (negative allowed; out shape = shape without axes). */
export function reduce(
  e: Engine,
  op: ReduceOp,
  x: number,
  shape: readonly number[],
  axes: readonly number[],
  out: number,
): void {
  const set = reducedAxes(`reduce ${op}`, shape, axes);
  const bs = blocks(shape, set);
  const total = numel(shape);
  if (total === 0) return;
  if (!bs.some((b) => b.reduced)) {
    copy(e, x, out, total);
    return;
  }
  const temps: number[] = [];
  try {
    const sizes = bs.map((b) => b.size);
    const firstReduced = bs.findIndex((b) => b.reduced);
    let src = x;
    // Innermost reduced block first; each pass removes one block (sizes[i] becomes 1).
    for (let i = bs.length - 1; i >= firstReduced; i--) {
      if (!bs[i].reduced) continue;
      const R = sizes[i];
      const O = sizes.slice(0, i).reduce((p, d) => p * d, 1);
      const I = sizes.slice(i + 1).reduce((p, d) => p * d, 1);
      const dst = i === firstReduced ? out : e.alloc(O * I * 4);
      if (dst !== out) temps.push(dst);
      e.split('reduce_axis', [REDUCE[op], src, dst, R, I], O * I, 1, Math.ceil(MIN_WORK_PER_THREAD / R));
      src = dst;
      sizes[i] = 1;
    }
  } finally {
    for (const t of temps) e.free(t);
  }
}

/** out[rows] (i32) = first column index of each row's largest value in x[rows, cols]. */
export function argmax(e: Engine, x: number, rows: number, cols: number, out: number): void {
  e.split('argmax_rows', [x, cols, out], rows, 1, Math.ceil(MIN_WORK_PER_THREAD / cols));
}
