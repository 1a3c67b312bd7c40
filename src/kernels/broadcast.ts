// Shape arithmetic for strided kernels: numpy broadcasting, row-major strides, and coalescing of
// (dims, strides...) index spaces so the rank-6 walker (as/layout.ts strided_nd) sees as few and as
// long inner rows as possible (same-shape becomes one row, a bias add becomes [rows, cols]).
// Not for: running kernels (layout.ts, elementwise.ts).
import { ValueError } from '../errors.js';

/** Row-major element strides of a dense shape. */
export function denseStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    s[k] = acc;
    acc *= shape[k];
  }
  return s;
}

/** Strides of a dense `shape` read as `outShape` (leading dims added, size-1 dims stride 0). */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const dense = denseStrides(shape);
  const lead = outShape.length - shape.length;
  return outShape.map((_, k) => (k < lead || shape[k - lead] === 1 ? 0 : dense[k - lead]));
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** An index space: dims plus one stride list per operand (elements). */
export interface Strided {
  dims: number[];
  strides: number[][];
}

/** Drops size-1 dims and merges neighbours that every operand walks contiguously. */
export function coalesce(dims: readonly number[], strides: readonly (readonly number[])[]): Strided {
  const out: Strided = { dims: [], strides: strides.map(() => []) };
  for (let k = 0; k < dims.length; k++) {
    if (dims[k] === 1) continue;
    const last = out.dims.length - 1;
    if (last >= 0 && strides.every((s, j) => out.strides[j][last] === s[k] * dims[k])) {
      out.dims[last] *= dims[k];
      strides.forEach((s, j) => {
        out.strides[j][last] = s[k];
      });
    } else {
      out.dims.push(dims[k]);
      strides.forEach((s, j) => {
        out.strides[j].push(s[k]);
      });
    }
  }
  return out;
}

/** Rank the wasm walker handles. */
export const MAX_RANK = 6;

/** Packs a coalesced index space with three operands into strided_nd's i32[24] layout. */
export function packMeta(sp: Strided, what: string): Int32Array {
  const rank = sp.dims.length;
  if (rank > MAX_RANK) {
    throw new ValueError(`${what}: rank ${rank} after merging dims exceeds the supported ${MAX_RANK}`);
  }
  const meta = new Int32Array(4 * MAX_RANK);
  const pad = MAX_RANK - rank;
  for (let k = 0; k < MAX_RANK; k++) meta[k] = k < pad ? 1 : sp.dims[k - pad];
  for (let j = 0; j < 3; j++) {
    const s = sp.strides[j];
    if (s) for (let k = 0; k < rank; k++) meta[(j + 1) * MAX_RANK + pad + k] = s[k];
  }
  return meta;
}
