// The functional tensor API (like torch.nn.functional): one small function per op, all going
// through autograd/apply.ts. It lives beside the layers, not in ops/, so ops/ never imports autograd/.
// Shapes: images NHWC; conv weights [KH, KW, Cin, Cout]; linear weights [in, out].
import { apply } from '../autograd/apply.js';
import { conv2dGeometry, type Padding, pool2dGeometry, type WindowGeometry } from '../shape/window.js';
import type { Shape, Tensor } from '../tensor/tensor.js';

type Pair = number | readonly [number, number];

/** a + b with broadcasting (b may be a number). */
export const add = (a: Tensor, b: Tensor | number): Tensor =>
  typeof b === 'number' ? apply('scale', [a], { mul: 1, add: b }) : apply('add', [a, b], {});
/** a - b with broadcasting. */
export const sub = (a: Tensor, b: Tensor | number): Tensor =>
  typeof b === 'number' ? apply('scale', [a], { mul: 1, add: -b }) : apply('sub', [a, b], {});
/** a * b with broadcasting. */
export const mul = (a: Tensor, b: Tensor | number): Tensor =>
  typeof b === 'number' ? apply('scale', [a], { mul: b, add: 0 }) : apply('mul', [a, b], {});
/** a / b with broadcasting. */
export const div = (a: Tensor, b: Tensor | number): Tensor =>
  typeof b === 'number' ? apply('scale', [a], { mul: 1 / b, add: 0 }) : apply('div', [a, b], {});
/** Elementwise max(a, b) with broadcasting. */
export const maximum = (a: Tensor, b: Tensor): Tensor => apply('maximum', [a, b], {});
/** Elementwise min(a, b) with broadcasting. */
export const minimum = (a: Tensor, b: Tensor): Tensor => apply('minimum', [a, b], {});

export const neg = (x: Tensor): Tensor => apply('unary', [x], { fn: 'neg' });
export const exp = (x: Tensor): Tensor => apply('unary', [x], { fn: 'exp' });
export const log = (x: Tensor): Tensor => apply('unary', [x], { fn: 'log' });
export const sqrt = (x: Tensor): Tensor => apply('unary', [x], { fn: 'sqrt' });
export const abs = (x: Tensor): Tensor => apply('unary', [x], { fn: 'abs' });
export const square = (x: Tensor): Tensor => apply('unary', [x], { fn: 'square' });
export const reciprocal = (x: Tensor): Tensor => apply('unary', [x], { fn: 'reciprocal' });
export const relu = (x: Tensor): Tensor => apply('unary', [x], { fn: 'relu' });
/** max(x, alpha x). */
export const leakyRelu = (x: Tensor, alpha = 0.01): Tensor => apply('unary', [x], { fn: 'leakyRelu', alpha });
export const sigmoid = (x: Tensor): Tensor => apply('unary', [x], { fn: 'sigmoid' });
export const tanh = (x: Tensor): Tensor => apply('unary', [x], { fn: 'tanh' });
/** GELU, tanh approximation. */
export const gelu = (x: Tensor): Tensor => apply('unary', [x], { fn: 'gelu' });
/** x * mul + add. */
export const scale = (x: Tensor, mulBy: number, addTo = 0): Tensor => apply('scale', [x], { mul: mulBy, add: addTo });

/** a[..., M, K] · b[..., K, N] → [..., M, N] (batched over the leading axes; b may be [K, N]). */
export const matmul = (a: Tensor, b: Tensor): Tensor => apply('matmul', [a, b], {});
/** x[..., in] · w[in, out] + b[out] (bias fused into the GEMM). */
export const linear = (x: Tensor, w: Tensor, b?: Tensor): Tensor =>
  apply('linear', b ? [x, w, b] : [x, w], { activation: 'none' });

/** A resolved window's attributes as the ops take them (padding as explicit pads). */
const window = (g: WindowGeometry) => ({
  stride: [g.strideH, g.strideW] as [number, number],
  pads: [g.padTop, g.padLeft, g.padBottom, g.padRight] as [number, number, number, number],
});

/** 2-D convolution, x [N, H, W, Cin], w [KH, KW, Cin, Cout], b [Cout] → [N, OH, OW, Cout]. */
export const conv2d = (x: Tensor, w: Tensor, b?: Tensor, opts: { stride?: Pair; padding?: Padding } = {}): Tensor => {
  const g = conv2dGeometry(x.shape, w.shape, opts.stride ?? 1, opts.padding ?? 'valid');
  return apply('conv2d', b ? [x, w, b] : [x, w], { activation: 'none', ...window(g) });
};
function poolAttrs(x: Tensor, kernel: Pair, opts: { stride?: Pair; padding?: Padding }) {
  const g = pool2dGeometry(x.shape, kernel, opts.stride, opts.padding ?? 'valid');
  return { kernel: [g.KH, g.KW] as [number, number], ...window(g) };
}
/** Max pooling over NHWC windows (stride defaults to the kernel size). */
export const maxPool2d = (x: Tensor, kernel: Pair, opts: { stride?: Pair; padding?: Padding } = {}): Tensor =>
  apply('maxpool2d', [x], poolAttrs(x, kernel, opts));
/** Average pooling over NHWC windows (padding cells not counted). */
export const avgPool2d = (x: Tensor, kernel: Pair, opts: { stride?: Pair; padding?: Padding } = {}): Tensor =>
  apply('avgpool2d', [x], poolAttrs(x, kernel, opts));
/** [N, H, W, C] → [N, C], the mean over H and W. */
export const globalAvgPool = (x: Tensor): Tensor => apply('globalavgpool', [x], {});

/** Same data, another shape (one dimension may be -1); shares memory. */
export const reshape = (x: Tensor, shape: Shape): Tensor => apply('reshape', [x], { shape });
/** [N, ...] → [N, prod(...)]. */
export const flatten = (x: Tensor): Tensor => apply('flatten', [x], {});
/** Inference-mode dropout: x itself (a view; training masks with mul, see nn/layers.ts Dropout). */
export const dropout = (x: Tensor, p: number): Tensor => apply('dropout', [x], { p });
/** Permutes axes (default: reverses them). */
export const transpose = (x: Tensor, perm?: readonly number[]): Tensor =>
  apply('transpose', [x], { perm: perm ?? x.shape.map((_, i) => x.rank - 1 - i) });
/** The block starting at `begin` of extent `size` (-1: to the end). */
export const slice = (x: Tensor, begin: readonly number[], size: readonly number[]): Tensor =>
  apply('slice', [x], { begin, size });
/** Joins tensors along `axis`. */
export const concat = (xs: readonly Tensor[], axis = 0): Tensor => apply('concat', xs, { axis });

type Axes = number | readonly number[] | undefined;
const axesOf = (x: Tensor, axes: Axes): number[] =>
  axes === undefined ? x.shape.map((_, i) => i) : typeof axes === 'number' ? [axes] : [...axes];
/** Sum over axes (default all). */
export const sum = (x: Tensor, axes?: Axes, keepDims = false): Tensor =>
  apply('sum', [x], { axes: axesOf(x, axes), keepDims });
/** Mean over axes (default all). */
export const mean = (x: Tensor, axes?: Axes, keepDims = false): Tensor =>
  apply('mean', [x], { axes: axesOf(x, axes), keepDims });
/** Maximum over axes (default all). */
export const max = (x: Tensor, axes?: Axes, keepDims = false): Tensor =>
  apply('max', [x], { axes: axesOf(x, axes), keepDims });

/** Softmax over `axis` (default the last). */
export const softmax = (x: Tensor, axis = -1): Tensor => apply('softmax', [x], { axis, log: false });
/** log(softmax(x)) over `axis` (default the last), computed stably. */
export const logSoftmax = (x: Tensor, axis = -1): Tensor => apply('softmax', [x], { axis, log: true });
/** Mean cross-entropy of logits [B, C] against int32 labels [B]; optional label smoothing. */
export const softmaxCrossEntropy = (logits: Tensor, labels: Tensor, smoothing = 0): Tensor =>
  apply('softmaxCrossEntropy', [logits, labels], { smoothing });
/** Batch normalization with batch statistics over every axis but the last (training mode). */
export const batchNorm = (
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  opts: { eps?: number; onStats?: (mean: Tensor, variance: Tensor) => void } = {},
): Tensor =>
  apply('batchnorm_train', [x, gamma, beta], {
    eps: opts.eps ?? 1e-5,
    onStats: opts.onStats as ((mean: unknown, variance: unknown) => void) | undefined,
  });
/** Batch normalization with given statistics mean[C], variance[C] (inference, and eval-mode layers). */
export const batchNormInference = (
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  mean: Tensor,
  variance: Tensor,
  eps = 1e-5,
): Tensor => apply('batchnorm', [x, gamma, beta, mean, variance], { eps });
/** Layer normalization over the last axis: (x − mean) / sqrt(var + eps) · gamma[C] + beta[C]. */
export const layerNorm = (x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Tensor =>
  apply('layernorm', [x, gamma, beta], { eps });
/** cond ≠ 0 ? a : b elementwise (all three broadcast): masking, e.g. attention. */
export const where = (cond: Tensor, a: Tensor, b: Tensor): Tensor => apply('where', [cond, a, b], {});

/** Rows of weight [vocab, dim] for int32 ids [...] → [..., dim] (id -1 gives zeros). */
export const embedding = (weight: Tensor, ids: Tensor): Tensor => apply('embedding', [ids, weight], {});
/** Mean of the rows of weight for each bag of int32 ids [B, L] (-1 = padding) → [B, dim]. */
export const embeddingBag = (weight: Tensor, ids: Tensor): Tensor => apply('embeddingbag', [ids, weight], {});
