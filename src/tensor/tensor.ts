// The Tensor: a dense, row-major block of wasm memory with a shape and a dtype, plus the autograd
// fields (requiresGrad, grad, and the op that produced it). Storage is reference-counted so that
// reshape() shares memory; the block returns to the engine's heap when the last tensor using it
// is disposed. Arithmetic lives in src/ops/ (functions, and the methods added in ops/methods.ts).
import { DisposedError, fmtShape, ShapeError, ValueError } from '../errors.js';
import type { Engine } from '../kernels/engine.js';
import { engine } from './context.js';
import { setTensorCheck, track } from './scope.js';

export type DType = 'float32' | 'int32' | 'int8';
export type Shape = readonly number[];

const BYTES: Record<DType, number> = { float32: 4, int32: 4, int8: 1 };

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
    readonly engine: Engine,
    readonly ptr: number,
  ) {}
  release(): void {
    if (--this.refs === 0) this.engine.free(this.ptr);
  }
}

/** What an op recorded to compute its inputs' gradients (see autograd/backward.ts). */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** Tensors the vjp needs besides inputs and output; disposed with the output. */
  readonly saved: readonly Tensor[];
  readonly backward: (dOut: Tensor) => readonly (Tensor | null)[];
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
  /** The op that produced this tensor, when it needs gradients. */
  gradNode: GradNode | null = null;
  /** Optional name (parameters: 'conv1.weight'). */
  name?: string;

  /** Allocates an uninitialized tensor in the engine (use the creation functions instead). */
  constructor(shape: Shape, dtype: DType = 'float32', share?: Tensor) {
    checkShape(shape);
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = sizeOf(shape);
    if (share) {
      this.storage = share.live();
      this.storage.refs++;
    } else {
      const e = engine();
      this.storage = new Storage(e, e.alloc(this.size * BYTES[dtype]));
    }
    track(this);
  }

  private live(): Storage {
    if (!this.storage) throw new DisposedError(`tensor ${this.describe()} was used after dispose()`);
    return this.storage;
  }

  /** Byte address in the engine's memory. */
  get ptr(): number {
    return this.live().ptr;
  }
  get engine(): Engine {
    return this.live().engine;
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
    const e = this.engine;
    const p = this.ptr;
    if (this.dtype === 'float32') return e.f32.slice(p >> 2, (p >> 2) + this.size);
    if (this.dtype === 'int32') return e.i32.slice(p >> 2, (p >> 2) + this.size);
    return new Int8Array(e.u8.buffer, p, this.size).slice();
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

setTensorCheck((v: unknown): v is Tensor => v instanceof Tensor);

/** Resolves one -1 in a target shape against `size` elements. */
export function resolveShape(shape: Shape, size: number, from: Shape): number[] {
  const s = [...shape];
  const neg = s.indexOf(-1);
  if (neg >= 0) {
    const rest = sizeOf(s.filter((_, i) => i !== neg));
    if (rest === 0 || size % rest !== 0)
      throw new ShapeError(`reshape: cannot reshape ${fmtShape(from)} to ${fmtShape(shape)}`);
    s[neg] = size / rest;
  }
  checkShape(s, 'reshape target');
  if (sizeOf(s) !== size)
    throw new ShapeError(`reshape: cannot reshape ${fmtShape(from)} (${size} elements) to ${fmtShape(shape)}`);
  return s;
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
export function tensor(data: Nested | Float32Array | Int32Array | Int8Array, shape?: Shape, dtype?: DType): Tensor {
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
  const t = new Tensor(s, dt);
  write(t, flat);
  return t;
}

/** Copies numbers into a tensor's memory. */
export function write(t: Tensor, values: ArrayLike<number>): void {
  if (values.length !== t.size) throw new ShapeError(`write: ${values.length} values for tensor ${t.describe()}`);
  const e = t.engine;
  if (t.dtype === 'float32') e.f32.set(values, t.ptr >> 2);
  else if (t.dtype === 'int32') e.i32.set(values, t.ptr >> 2);
  else new Int8Array(e.u8.buffer, t.ptr, t.size).set(values);
}

/** A tensor filled with `value`. */
export function full(shape: Shape, value: number, dtype: DType = 'float32'): Tensor {
  const t = new Tensor(shape, dtype);
  const e = t.engine;
  if (dtype === 'float32') e.f32.fill(value, t.ptr >> 2, (t.ptr >> 2) + t.size);
  else if (dtype === 'int32') e.i32.fill(value, t.ptr >> 2, (t.ptr >> 2) + t.size);
  else new Int8Array(e.u8.buffer, t.ptr, t.size).fill(value);
  return t;
}
export const zeros = (shape: Shape, dtype: DType = 'float32'): Tensor => full(shape, 0, dtype);
export const ones = (shape: Shape, dtype: DType = 'float32'): Tensor => full(shape, 1, dtype);
