// Shape rules shared by the op definitions, the kernels and the layers: sliding-window geometry
// (padding and output sizes of conv and pooling over NHWC) and numpy broadcasting. Plain
// arithmetic over shapes: no tensors, no kernels, so every layer may import it.
import { fmtShape, ShapeError, ValueError } from '../errors.js';

/** 'valid' = no padding; 'same' = output size ceil(in / stride), extra padding bottom/right (TF). */
export type Padding = 'same' | 'valid' | number | readonly [top: number, left: number, bottom: number, right: number];

/** Sizes of one sliding-window op over an NHWC input: window, strides, padding and output size. */
export interface WindowGeometry {
  N: number;
  H: number;
  W: number;
  C: number;
  KH: number;
  KW: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padLeft: number;
  padBottom: number;
  padRight: number;
  OH: number;
  OW: number;
}

/** Conv geometry: x [N, H, W, C], w [KH, KW, C, OC], y [N, OH, OW, OC]. */
export interface Conv2dGeometry extends WindowGeometry {
  OC: number;
}

function isPosInt(v: number): boolean {
  return Number.isInteger(v) && v > 0;
}

function pair(op: string, what: string, v: number | readonly [number, number]): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!isPosInt(p[0]) || !isPosInt(p[1]) || (typeof v !== 'number' && v.length !== 2)) {
    throw new ValueError(`${op}: ${what} must be a positive integer or a pair of them, got ${JSON.stringify(v)}`);
  }
  return p;
}

/**
 * Window geometry for an NHWC input, shared by conv and pooling. Throws ShapeError (naming `shapes`)
 * when the window does not fit the padded input.
 */
export function resolveWindow(
  op: string,
  inShape: readonly number[],
  KH: number,
  KW: number,
  stride: number | readonly [number, number],
  padding: Padding,
  shapes: string,
): WindowGeometry {
  if (inShape.length !== 4 || !inShape.every(isPosInt)) {
    throw new ShapeError(`${op}: input must be NHWC with positive sizes, got ${fmtShape(inShape)}`);
  }
  const [N, H, W, C] = inShape;
  const [strideH, strideW] = pair(op, 'stride', stride);
  let pads: [number, number, number, number];
  if (padding === 'valid') pads = [0, 0, 0, 0];
  else if (padding === 'same') {
    const ph = Math.max((Math.ceil(H / strideH) - 1) * strideH + KH - H, 0);
    const pw = Math.max((Math.ceil(W / strideW) - 1) * strideW + KW - W, 0);
    pads = [ph >> 1, pw >> 1, ph - (ph >> 1), pw - (pw >> 1)];
  } else if (typeof padding === 'number') pads = [padding, padding, padding, padding];
  else if (Array.isArray(padding) && padding.length === 4) pads = [padding[0], padding[1], padding[2], padding[3]];
  else throw new ValueError(`${op}: padding must be 'same', 'valid', a number or [top, left, bottom, right]`);
  if (!pads.every((p) => Number.isInteger(p) && p >= 0)) {
    throw new ValueError(`${op}: padding must be non-negative integers, got ${JSON.stringify(padding)}`);
  }
  const [padTop, padLeft, padBottom, padRight] = pads;
  const hp = H + padTop + padBottom;
  const wp = W + padLeft + padRight;
  if (KH > hp || KW > wp) {
    throw new ShapeError(`${op}: window ${KH}x${KW} larger than the padded input ${hp}x${wp} (${shapes})`);
  }
  const OH = Math.floor((hp - KH) / strideH) + 1;
  const OW = Math.floor((wp - KW) / strideW) + 1;
  return { N, H, W, C, KH, KW, strideH, strideW, padTop, padLeft, padBottom, padRight, OH, OW };
}

/** Geometry of conv2d(x [N, H, W, C], w [KH, KW, C, OC]); ShapeError when they do not fit. */
export function conv2dGeometry(
  inShape: readonly number[],
  wShape: readonly number[],
  stride: number | readonly [number, number] = 1,
  padding: Padding = 'valid',
): Conv2dGeometry {
  const shapes = `input ${fmtShape(inShape)}, weights ${fmtShape(wShape)}`;
  if (wShape.length !== 4 || !wShape.every(isPosInt)) {
    throw new ShapeError(`conv2d: weights must be [KH, KW, Cin, Cout] with positive sizes (${shapes})`);
  }
  const [KH, KW, C, OC] = wShape;
  if (inShape.length === 4 && inShape[3] !== C) {
    throw new ShapeError(`conv2d: input channels ${inShape[3]} differ from weight input channels ${C} (${shapes})`);
  }
  return { ...resolveWindow('conv2d', inShape, KH, KW, stride, padding, shapes), OC };
}

/** Pooling geometry: x [N, H, W, C] -> y [N, OH, OW, C]. */
export type Pool2dGeometry = WindowGeometry;

/**
 * Geometry of a KH x KW pooling window over x [N, H, W, C] (stride defaults to the window).
 * Padding must be smaller than the window on every side, so each window holds a real cell.
 */
export function pool2dGeometry(
  inShape: readonly number[],
  kernel: number | readonly [number, number],
  stride?: number | readonly [number, number],
  padding: Padding = 'valid',
): Pool2dGeometry {
  const [KH, KW] = typeof kernel === 'number' ? [kernel, kernel] : kernel;
  if (!Number.isInteger(KH) || !Number.isInteger(KW) || KH < 1 || KW < 1) {
    throw new ValueError(`pool2d: kernel must be a positive integer or a pair of them, got ${JSON.stringify(kernel)}`);
  }
  const g = resolveWindow('pool2d', inShape, KH, KW, stride ?? [KH, KW], padding, `input ${fmtShape(inShape)}`);
  if (g.padTop >= KH || g.padBottom >= KH || g.padLeft >= KW || g.padRight >= KW) {
    throw new ValueError(
      `pool2d: padding [${g.padTop}, ${g.padLeft}, ${g.padBottom}, ${g.padRight}] must be smaller than the window ${KH}x${KW}`,
    );
  }
  return g;
}

/**
 * The axis a concat joins along (negative counts from the end), after checking that every input
 * has the first one's rank and dims outside it. Throws ValueError / ShapeError naming them.
 */
export function concatAxis(shapes: readonly (readonly number[])[], axis: number): number {
  if (shapes.length === 0) throw new ValueError('concat: no inputs');
  const first = shapes[0];
  const rank = first.length;
  const ax = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(ax) || ax < 0 || ax >= rank)
    throw new ValueError(`concat: axis ${axis} out of range for rank ${rank}`);
  for (const shape of shapes)
    if (shape.length !== rank || shape.some((d, k) => k !== ax && d !== first[k]))
      throw new ShapeError(`concat: shapes ${fmtShape(first)} and ${fmtShape(shape)} differ outside axis ${ax}`);
  return ax;
}

/**
 * The axes a reduction runs over (negative counts from the end), checked: in range, no repeats.
 * Throws ValueError naming the op, the axes and the shape.
 */
export function reducedAxes(op: string, shape: readonly number[], axes: readonly number[]): Set<number> {
  const rank = shape.length;
  const reduced = new Set<number>();
  for (const a of axes) {
    const k = a < 0 ? a + rank : a;
    if (!Number.isInteger(k) || k < 0 || k >= rank || reduced.has(k))
      throw new ValueError(`${op}: axes [${axes.join(', ')}] invalid for shape ${fmtShape(shape)}`);
    reduced.add(k);
  }
  return reduced;
}

/** Numpy broadcast of two shapes (trailing dims aligned; 1 stretches). Throws ShapeError. */
export function broadcastShape(a: readonly number[], b: readonly number[], op = 'broadcast'): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let k = 0; k < rank; k++) {
    const da = a[a.length - rank + k] ?? 1;
    const db = b[b.length - rank + k] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast together`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}
