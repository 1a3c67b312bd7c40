// Turning decoded pixels into a model's input: bilinear resize, channel conversion,
// normalization. No Node imports: the browser page bundles this same code, so a page, serve and
// `graduate predict` prepare an image identically (training data too: data/images.ts resizes with
// resizeInto). Decoding files is io/image-decode.ts's (Node-only; only its Rgba type is used here).
import { FormatError } from '../errors.js';
import type { InputSpec } from '../graph/ir.js';
import type { Rgba } from '../io/image-decode.js';

/** Re-exported so that the browser page takes everything it prepares images with from here. */
export type { Rgba };

/** A decoded image as a model's input [H, W, C]: resized, channels as the spec wants, normalized. */
export function imageInput(spec: InputSpec, img: Rgba, name: string): Float32Array {
  if (spec.kind !== 'image' || spec.shape.length !== 3)
    throw new FormatError(`${name}: this model takes ${spec.kind} input [${spec.shape.join(', ')}], not images`);
  const [H, W, C] = spec.shape;
  const x = new Float32Array(H * W * C);
  resizeInto(img, H, W, C as 1 | 3, x, 0); // pixel / 255
  for (let i = 0; i < x.length; i++)
    x[i] = (x[i] * 255 * (spec.scale ?? 1 / 255) - (spec.mean?.[i % C] ?? 0)) / (spec.std?.[i % C] ?? 1);
  return x;
}

/**
 * Writes img resized bilinearly (half-pixel centers) to [H, W, C] into out[off..], as pixel/255;
 * C = 1 uses luma (0.299 R + 0.587 G + 0.114 B), alpha is ignored.
 */
export function resizeInto(img: Rgba, H: number, W: number, C: 1 | 3, out: Float32Array, off: number): void {
  const { width, height, data } = img;
  const sy = height / H;
  const sx = width / W;
  const px = new Float32Array(3);
  for (let h = 0; h < H; h++) {
    const fy = Math.min(Math.max((h + 0.5) * sy - 0.5, 0), height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, height - 1);
    const wy = fy - y0;
    for (let w = 0; w < W; w++) {
      const fx = Math.min(Math.max((w + 0.5) * sx - 0.5, 0), width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, width - 1);
      const wx = fx - x0;
      const a = (y0 * width + x0) * 4;
      const b = (y0 * width + x1) * 4;
      const c = (y1 * width + x0) * 4;
      const d = (y1 * width + x1) * 4;
      for (let k = 0; k < 3; k++) {
        const top = data[a + k] + (data[b + k] - data[a + k]) * wx;
        const bottom = data[c + k] + (data[d + k] - data[c + k]) * wx;
        px[k] = (top + (bottom - top) * wy) / 255;
      }
      const o = off + (h * W + w) * C;
      if (C === 1) out[o] = 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2];
      else out.set(px, o);
    }
  }
}
