// Training-time image augmentation, one NHWC sample at a time: random shifts (crop from a padded
// image) and horizontal flips. Randomness comes from the caller's Rng so that batches are
// reproducible; the padding value is what a black pixel becomes after normalization.
import type { Rng } from '../tensor/random.js';

/** Images only, applied per sample in the batch. */
export interface Augment {
  /** Pad by this many pixels on each side and crop back at a random offset. */
  cropPadding?: number;
  /** Mirror left-right with probability 1/2. */
  horizontalFlip?: boolean;
}

/**
 * Writes one augmented [H, W, C] sample from src[srcOff..] to dst[dstOff..].
 * pad[c] fills pixels shifted in from outside the image.
 */
export function augmentImage(
  src: Float32Array,
  srcOff: number,
  dst: Float32Array,
  dstOff: number,
  shape: readonly number[], // [H, W, C]
  aug: Augment,
  pad: readonly number[], // [C]
  rng: Rng,
): void {
  const [H, W, C] = shape;
  const p = aug.cropPadding ?? 0;
  // output (h, w) reads input (h + dy, w + dx); flipped, it reads column W-1-w first
  const dy = p > 0 ? rng.int(2 * p + 1) - p : 0;
  const dx = p > 0 ? rng.int(2 * p + 1) - p : 0;
  const flip = aug.horizontalFlip ? rng.next() < 0.5 : false;
  for (let h = 0; h < H; h++) {
    const sh = h + dy;
    for (let w = 0; w < W; w++) {
      const sw = (flip ? W - 1 - w : w) + dx;
      const o = dstOff + (h * W + w) * C;
      if (sh < 0 || sh >= H || sw < 0 || sw >= W) {
        for (let c = 0; c < C; c++) dst[o + c] = pad[c];
      } else {
        const i = srcOff + (sh * W + sw) * C;
        for (let c = 0; c < C; c++) dst[o + c] = src[i + c];
      }
    }
  }
}
