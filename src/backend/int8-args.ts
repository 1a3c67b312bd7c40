// Argument checks of the int8 kernels' quantization parameters, shared by the backends that check
// them (reference.ts, webgpu/int8.ts): zero points in int8 range, positive finite scales, one
// weight scale per output channel. Errors name the op and the value.
import { ShapeError, ValueError } from '../errors.js';

export function checkZeroPoint(op: string, zp: number): void {
  if (!Number.isInteger(zp) || zp < -128 || zp > 127) {
    throw new ValueError(`${op}: zero point must be an integer in [-128, 127], got ${zp}`);
  }
}

export function checkScale(op: string, what: string, s: number): void {
  if (!(s > 0) || !Number.isFinite(s))
    throw new ValueError(`${op}: ${what} must be a positive finite number, got ${s}`);
}

export function weightScales(op: string, scales: ArrayLike<number>, N: number): Float32Array {
  if (scales.length !== N) throw new ShapeError(`${op}: ${scales.length} scales for ${N} output channels`);
  for (let n = 0; n < N; n++) checkScale(op, `scales[${n}]`, scales[n]);
  return Float32Array.from(scales);
}
