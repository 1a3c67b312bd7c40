// The Tensor: a dense, row-major buffer of a backend (its device: wasm memory by default) with a
// shape and a dtype, plus the autograd fields (requiresGrad, grad, and the op that produced it).
// Storage is reference-counted so that reshape() shares memory; the buffer returns to its backend
// when the last tensor using it is disposed. Ops run on their inputs' backend (autograd/apply.ts);
// creation functions take one explicitly or use the default (context.ts). Arithmetic: nn/functional.ts.
import { type Backend, type Buf, DTYPE_BYTES } from '../backend/backend.js';
import { DisposedError, fmtShape, ShapeError, ValueError } from '../errors.js';
import { resolveShape } from '../ops/layout.js';
import type { DType, Shape } from '../ops/op.js';
import { defaultBackend } from './context.js';
import { track } from './scope.js';

export type { DType, Shape };

/** Number of elements of a shape. */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Validates a user-given shape (non-negative integers). */
export function checkShape(shape: Shape, what = 'shape'): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0)
      throw new ShapeError(`${what} ${fmtShape(shape)}: dimensions must be non-negative integers`);
  }
}

class Storage {
  refs = 1;
  constructor(
    readonly backend: Backend,
    readonly buf: Buf,
  ) {}
  release(): void {
    if (--this.refs === 0) this.backend.free(this.buf);
  }
}

/** What an op recorded to compute its inputs' gradients (see autograd/backward.ts). */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** Tensors the vjp needs besides inputs and output; disposed with the output. */
  readonly saved: readonly Tensor[];
  readonly backward: (dOut: Tensor) => readonly (Tensor | null)[];
  /** Row-sparse gradient of input `input` (a leaf with sparseGrad), which `backward` then skips. */
  readonly rows?: { readonly input: number; readonly backward: (dOut: Tensor) => RowGrad };
}

/**
 * The gradient of a [V, D] table as the rows it touches: rows (sorted, unique, in [0, V)) and
 * their gradients values[rows.length, D]; every other row's gradient is zero.
 */
export interface RowGrad {
  readonly rows: Int32Array;
  readonly values: Tensor;
}

export class Tensor {
  readonly shape: Shape;
  readonly dtype: DType;
  readonly size: number;
  private storage: Storage | null;
  /** Track gradients for this tensor (leaves: set by the user or by Parameter). */
  requiresGrad = false;
  /** Accumulated gradient of a leaf after backward(). */
  grad: Tensor | null = null;
  /**
   * Ask for row-sparse gradients (a [V, D] leaf: embedding tables): ops with a row vjp then
   * accumulate into rowGrad instead of a dense grad (autograd/row-grad.ts).
   */
  sparseGrad = false;
  /** Accumulated row-sparse gradient of a sparseGrad leaf (null when grad holds it densely). */
  rowGrad: RowGrad | null = null;
  /** The op that produced this tensor, when it needs gradients. */
  gradNode: GradNode | null = null;
  /** Optional name (parameters: 'conv1.weight'). */
  name?: string;

  /** Allocates an uninitialized tensor on `backend` (default: the default backend; use the creation functions instead). */
  constructor(shape: Shape, dtype: DType = 'float32', share?: Tensor, backend?: Backend) {
    checkShape(shape);
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = sizeOf(shape);
    if (share) {
      this.storage = share.live();
      this.storage.refs++;
    } else {
      const b = backend ?? defaultBackend();
      this.storage = new Storage(b, b.alloc(this.size * DTYPE_BYTES[dtype]));
    }
    track(this);
  }

  private live(): Storage {
    if (!this.storage) throw new DisposedError(`tensor ${this.describe()} was used after dispose()`);
    return this.storage;
  }

  /** The buffer in the backend's memory (wasm: its byte address). */
  get buf(): Buf {
    return this.live().buf;
  }
  /** The backend (device) holding the data; ops on this tensor run there. */
  get backend(): Backend {
    return this.live().backend;
  }
  get rank(): number {
    return this.shape.length;
  }
  get disposed(): boolean {
    return this.storage === null;
  }

  /** "float32[2, 3] 'fc.weight'" for messages. */
  describe(): string {
    return `${this.dtype}${fmtShape(this.shape)}${this.name ? ` '${this.name}'` : ''}`;
  }

  /** Frees the memory (idempotent) and whatever the op that made it saved for backward. */
  dispose(): void {
    if (!this.storage) return;
    this.storage.release();
    this.storage = null;
    if (this.gradNode) {
      for (const t of this.gradNode.saved) t.dispose();
      this.gradNode = null;
    }
  }
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** A view with another shape of the same size, sharing memory (no copy). */
  reshapeView(shape: Shape): Tensor {
    const s = resolveShape(shape, this.size, this.shape);
    return new Tensor(s, this.dtype, this);
  }

  /** A copy of the data as a typed array. */
  data(): Float32Array | Int32Array | Int8Array {
    return this.backend.read(this.buf, this.dtype, this.size);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new ShapeError(`item(): tensor ${this.describe()} has ${this.size} elements, not 1`);
    return this.data()[0];
  }

  /** Nested arrays of numbers. */
  toArray(): unknown {
    const d = Array.from(this.data());
    const build = (axis: number, off: number): unknown => {
      if (axis === this.rank) return d[off];
      const stride = sizeOf(this.shape.slice(axis + 1));
      return Array.from({ length: this.shape[axis] }, (_, i) => build(axis + 1, off + i * stride));
    };
    return build(0, 0);
  }

  toString(): string {
    const d = this.data();
    const shown = Array.from(d.slice(0, 8), (v) => (this.dtype === 'float32' ? Number(v.toPrecision(5)) : v));
    return `Tensor(${this.describe()} [${shown.join(', ')}${d.length > 8 ? ', …' : ''}])`;
  }
}

type Nested = number | readonly Nested[];

function inferShape(data: Nested): number[] {
  const shape: number[] = [];
  let cur: Nested = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0] as Nested;
  }
  return shape;
}

/** Creates a tensor from numbers (flat with a shape, nested arrays, or a typed array). */
export function tensor(
  data: Nested | Float32Array | Int32Array | Int8Array,
  shape?: Shape,
  dtype?: DType,
  backend?: Backend,
): Tensor {
  const dt: DType = dtype ?? (data instanceof Int32Array ? 'int32' : data instanceof Int8Array ? 'int8' : 'float32');
  let flat: ArrayLike<number>;
  let s: Shape;
  if (ArrayBuffer.isView(data)) {
    flat = data as ArrayLike<number>;
    s = shape ?? [flat.length];
  } else {
    const inferred = typeof data === 'number' ? [] : inferShape(data);
    flat = typeof data === 'number' ? [data] : ((data as unknown[]).flat(Number.POSITIVE_INFINITY) as number[]);
    s = shape ?? inferred;
    if (!shape && sizeOf(inferred) !== flat.length)
      throw new ShapeError(
        `tensor(): ragged nested array (first-row shape ${fmtShape(inferred)}, ${flat.length} numbers)`,
      );
  }
  checkShape(s);
  if (sizeOf(s) !== flat.length)
    throw new ShapeError(`tensor(): ${flat.length} values do not fill shape ${fmtShape(s)}`);
  for (let i = 0; i < flat.length; i++) {
    if (typeof flat[i] !== 'number' || (Number.isNaN(flat[i] as number) && dt !== 'float32'))
      throw new ValueError(`tensor(): element ${i} is not a number (${String(flat[i])})`);
  }
  const t = new Tensor(s, dt, undefined, backend);
  write(t, flat);
  return t;
}

/** Copies numbers into a tensor's memory. */
export function write(t: Tensor, values: ArrayLike<number>): void {
  if (values.length !== t.size) throw new ShapeError(`write: ${values.length} values for tensor ${t.describe()}`);
  t.backend.write(t.buf, t.dtype, values);
}

/** A tensor filled with `value` (on `backend`, default: the default backend). */
export function full(shape: Shape, value: number, dtype: DType = 'float32', backend?: Backend): Tensor {
  const t = new Tensor(shape, dtype, undefined, backend);
  if (dtype === 'float32') t.backend.fill(t.buf, t.size, value);
  else t.backend.write(t.buf, dtype, new (dtype === 'int32' ? Int32Array : Int8Array)(t.size).fill(value));
  return t;
}
export const zeros = (shape: Shape, dtype: DType = 'float32', backend?: Backend): Tensor =>
  full(shape, 0, dtype, backend);
export const ones = (shape: Shape, dtype: DType = 'float32', backend?: Backend): Tensor =>
  full(shape, 1, dtype, backend);
