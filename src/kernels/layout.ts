// Data movement on the engine: transpose (any permutation), slice and its backward, concat, all
// through one strided copy (as/layout.ts strided_nd) after merging contiguous dims.
// Shapes are row-major and dense; pointers are byte addresses in engine memory.
// Not for: arithmetic (elementwise.ts) or broadcasting rules (broadcast.ts).
import { fmtShape, ShapeError, ValueError } from '../errors.js';
import { concatAxis } from '../shape/window.js';
import { coalesce, denseStrides, numel, packMeta, type Strided } from './broadcast.js';
import type { Engine } from './engine.js';

/** strided_nd's op code for a plain copy (binary op codes are >= 0). */
export const ND_COPY = -1;
/** Elements per thread below which a data-movement or elementwise kernel stays on one thread. */
export const MIN_PER_THREAD = 32768;

/**
 * Runs strided_nd over a coalesced index space: out[idx] = a[idx] (op ND_COPY) or a[idx] op b[idx].
 * Operand strides are sp.strides[0] (a), [1] (b), [2] (out); the meta block is freed afterwards.
 */
export function stridedNd(e: Engine, op: number, a: number, b: number, out: number, sp: Strided, what: string): void {
  const total = numel(sp.dims);
  if (total === 0) return;
  const meta = packMeta(sp, what);
  const pm = e.alloc(meta.byteLength);
  try {
    e.i32.set(meta, pm / 4);
    e.split('strided_nd', [op, a, b, out, pm], total, 4, MIN_PER_THREAD);
  } finally {
    e.free(pm);
  }
}

/** Copies src viewed through (dims, srcStrides) into dst viewed through (dims, dstStrides). */
function stridedCopy(
  e: Engine,
  src: number,
  srcStrides: readonly number[],
  dst: number,
  dstStrides: readonly number[],
  dims: readonly number[],
  what: string,
): void {
  const sp = coalesce(dims, [srcStrides, dims.map(() => 0), dstStrides]);
  stridedNd(e, ND_COPY, src, 0, dst, sp, what);
}

/** out = x.permute(perm): x[shape] -> out[shape[perm[0]], ..., shape[perm[r-1]]]. */
export function transpose(e: Engine, x: number, shape: readonly number[], perm: readonly number[], out: number): void {
  const rank = shape.length;
  if (perm.length !== rank || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) {
    throw new ValueError(`transpose: perm [${perm.join(', ')}] is not a permutation of ${rank} axes`);
  }
  const xs = denseStrides(shape);
  const dims = perm.map((p) => shape[p]);
  const sp = coalesce(dims, [perm.map((p) => xs[p]), dims.map(() => 0), denseStrides(dims)]);
  const [src] = sp.strides;
  const r = sp.dims.length;
  // A (batched) 2-D transpose after merging: the cache-blocked kernel, one matrix at a time.
  if (r >= 2 && r <= 3 && src[r - 2] === 1 && src[r - 1] === sp.dims[r - 2]) {
    const [cols, rows] = [sp.dims[r - 2], sp.dims[r - 1]];
    const batches = r === 3 ? sp.dims[0] : 1;
    if (r === 2 || src[0] === rows * cols) {
      for (let i = 0; i < batches; i++) e.k.transpose2d(x + i * rows * cols * 4, rows, cols, out + i * rows * cols * 4);
      return;
    }
  }
  stridedNd(e, ND_COPY, x, 0, out, sp, 'transpose');
}

function checkWindow(op: string, shape: readonly number[], begin: readonly number[], size: readonly number[]): void {
  const ok =
    begin.length === shape.length &&
    size.length === shape.length &&
    shape.every((d, k) => Number.isInteger(begin[k]) && begin[k] >= 0 && size[k] >= 0 && begin[k] + size[k] <= d);
  if (!ok) {
    throw new ShapeError(
      `${op}: window begin ${fmtShape(begin)} size ${fmtShape(size)} does not fit ${fmtShape(shape)}`,
    );
  }
}

function windowOffset(shape: readonly number[], begin: readonly number[]): number {
  const s = denseStrides(shape);
  return begin.reduce((acc, b, k) => acc + b * s[k], 0);
}

/** out[size] = x[shape][begin[k] : begin[k] + size[k], ...]. */
export function slice(
  e: Engine,
  x: number,
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  out: number,
): void {
  checkWindow('slice', shape, begin, size);
  const src = x + windowOffset(shape, begin) * 4;
  stridedCopy(e, src, denseStrides(shape), out, denseStrides(size), size, 'slice');
}

/** dx[shape] = 0 except the window at `begin`, which gets dy[size] (the adjoint of slice). */
export function sliceBackward(
  e: Engine,
  dy: number,
  size: readonly number[],
  begin: readonly number[],
  dx: number,
  shape: readonly number[],
): void {
  checkWindow('sliceBackward', shape, begin, size);
  const n = numel(shape);
  e.split('fill_f32', [dx, 0], n, 4, MIN_PER_THREAD);
  const dst = dx + windowOffset(shape, begin) * 4;
  stridedCopy(e, dy, denseStrides(size), dst, denseStrides(shape), size, 'sliceBackward');
}

/** out = inputs joined along `axis` (negative counts from the end); other dims must agree. */
export function concat(
  e: Engine,
  inputs: readonly { ptr: number; shape: readonly number[] }[],
  axis: number,
  out: number,
): void {
  const ax = concatAxis(
    inputs.map((t) => t.shape),
    axis,
  );
  const first = inputs[0].shape;
  const outShape = [...first];
  outShape[ax] = inputs.reduce((acc, t) => acc + t.shape[ax], 0);
  const os = denseStrides(outShape);
  let offset = 0;
  for (const { ptr, shape } of inputs) {
    stridedCopy(e, ptr, denseStrides(shape), out + offset * os[ax] * 4, os, shape, 'concat');
    offset += shape[ax];
  }
}
