// The model's input contract and turning decoded pixels into it: bilinear resize, channel
// conversion, normalization, layout. One contract everywhere (docs/inputs.md): `InferenceModel.run`,
// serve's FP32/INT32 tensors and the ONNX export take the *prepared* tensor, (raw · scale −
// mean[c]) / std[c] in the spec's layout; images (predict, serve's uploads, the browser page) are
// prepared here, by this same code. No Node imports: the browser page bundles it (training data
// too: data/images.ts resizes with resizeInto). Decoding files is io/image-decode.ts's (Node-only;
// only its Rgba type is used here).
import { FormatError } from '../errors.js';
import type { InputSpec } from '../graph/ir.js';
import type { Rgba } from '../io/image-decode.js';

/** Re-exported so that the browser page takes everything it prepares images with from here. */
export type { Rgba };

/** A spec's preparation with its defaults filled in: input = (raw · scale − mean[c]) / std[c]. */
export interface InputPreparation {
  kind: InputSpec['kind'];
  /** Image: raw pixels are 0..255 (absent scale: 1/255); tabular: raw features (absent: 1). */
  scale: number;
  mean?: number[];
  std?: number[];
  /** Image input: the tensor's layout. */
  layout?: 'NHWC' | 'NCHW';
}

/** The preparation a spec records, defaults resolved (text input has none: its tensor is token ids). */
export function inputPreparation(spec: InputSpec): InputPreparation {
  const p: InputPreparation = { kind: spec.kind, scale: spec.scale ?? (spec.kind === 'image' ? 1 / 255 : 1) };
  if (spec.mean) p.mean = spec.mean;
  if (spec.std) p.std = spec.std;
  if (spec.kind === 'image') p.layout = spec.layout ?? 'NHWC';
  return p;
}

/** One line for people: what the input tensor is, e.g. "NCHW [1, 28, 28] = pixel × 1/255". */
export function describePreparation(spec: InputSpec): string {
  if (spec.kind === 'text') return `int32 token ids [${spec.shape.join(', ')}] (tokenizer in the artifact)`;
  const p = inputPreparation(spec);
  const raw = spec.kind === 'image' ? 'pixel (0..255)' : 'feature';
  let f = p.scale === 1 ? raw : `${raw} × ${fmtScale(p.scale)}`;
  if (p.mean) f = `(${f} − mean)`;
  if (p.std) f = `${f} ÷ std`;
  const stats = [p.mean && `mean [${p.mean.join(', ')}]`, p.std && `std [${p.std.join(', ')}]`].filter(Boolean);
  const layout = p.layout ? `${p.layout} ` : '';
  return `${layout}[${tensorShape(spec).join(', ')}] = ${f}${stats.length ? `, ${stats.join(', ')}` : ''}`;
}

/** 1/255 rather than 0.00392156862745098 where the scale is the reciprocal of an integer. */
const fmtScale = (s: number) => {
  const r = Math.round(1 / s);
  return Math.fround(1 / r) === Math.fround(s) ? `1/${r}` : String(s);
};

/** Per-sample shape of the tensor clients pass: the graph's [H, W, C], or [C, H, W] for an NCHW spec. */
export function tensorShape(spec: InputSpec): number[] {
  if (spec.kind !== 'image' || spec.layout !== 'NCHW') return [...spec.shape];
  const [H, W, C] = spec.shape;
  return [C, H, W];
}

/** `batch` samples [C, H, W] → [H, W, C] (into a new array), or back with `toChw`. */
export function transposeImages(x: Float32Array, [H, W, C]: readonly number[], toChw = false): Float32Array {
  const out = new Float32Array(x.length);
  const n = H * W * C;
  for (let b = 0; b < x.length; b += n)
    for (let c = 0; c < C; c++)
      for (let p = 0; p < H * W; p++) {
        const chw = b + c * H * W + p;
        const hwc = b + p * C + c;
        if (toChw) out[chw] = x[hwc];
        else out[hwc] = x[chw];
      }
  return out;
}

/** A decoded image as the model's input tensor: resized, channels as the spec wants, prepared, in its layout. */
export function imageInput(spec: InputSpec, img: Rgba, name: string): Float32Array {
  if (spec.kind !== 'image' || spec.shape.length !== 3)
    throw new FormatError(`${name}: this model takes ${spec.kind} input [${spec.shape.join(', ')}], not images`);
  const [H, W, C] = spec.shape;
  const x = new Float32Array(H * W * C);
  resizeInto(img, H, W, C as 1 | 3, x, 0); // pixel / 255
  return preparePixels(spec, x, 255);
}

/**
 * Pixels (0..255, or 0..1 with unit 255), NHWC [H, W, C] per sample → the model's input tensor:
 * prepared, in the spec's layout.
 */
export function preparePixels(spec: InputSpec, pixels: ArrayLike<number>, unit = 1): Float32Array {
  const { scale, mean, std, layout } = inputPreparation(spec);
  const C = spec.shape[spec.shape.length - 1];
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < out.length; i++) out[i] = (pixels[i] * unit * scale - (mean?.[i % C] ?? 0)) / (std?.[i % C] ?? 1);
  return layout === 'NCHW' ? transposeImages(out, spec.shape, true) : out;
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
