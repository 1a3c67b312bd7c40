// The layers. Each is a small Module: parameters created at construction (sizes known), forward
// through the functional ops, spec() for checkpoints. Shapes: images NHWC, conv weights
// [KH, KW, Cin, Cout], linear weights [in, out].

import { noGrad } from '../autograd/grad-mode.js';
import { ValueError } from '../errors.js';
import type { Padding } from '../shape/window.js';
import { defaultRng, randn, randu } from '../tensor/random.js';
import { ones, Tensor, write, zeros } from '../tensor/tensor.js';
import * as F from './functional.js';
import { Module } from './module.js';
import type { InitName, LayerSpec, Pair } from './spec.js';

/** He (Kaiming) or Glorot (Xavier) uniform initialization for a weight with these fans. */
function initWeight(shape: number[], fanIn: number, fanOut: number, init: InitName = 'he'): Tensor {
  const bound = init === 'he' ? Math.sqrt(6 / fanIn) : Math.sqrt(6 / (fanIn + fanOut));
  return randu(shape, { low: -bound, high: bound });
}

const pair = (p: Pair): [number, number] => (typeof p === 'number' ? [p, p] : p);

export class Linear extends Module {
  readonly weight: Tensor; // [in, out]
  readonly bias?: Tensor; // [out]
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    readonly opts: { bias?: boolean; init?: InitName } = {},
  ) {
    super();
    this.weight = this.param('weight', initWeight([inFeatures, outFeatures], inFeatures, outFeatures, opts.init));
    if (opts.bias !== false) this.bias = this.param('bias', zeros([outFeatures]));
  }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
  spec(): LayerSpec {
    return {
      type: 'linear',
      in: this.inFeatures,
      out: this.outFeatures,
      bias: this.bias !== undefined,
      init: this.opts.init,
    };
  }
}

export class Conv2d extends Module {
  readonly weight: Tensor; // [KH, KW, Cin, Cout]
  readonly bias?: Tensor; // [Cout]
  readonly kernel: [number, number];
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernel: Pair,
    readonly opts: { stride?: Pair; padding?: Padding; bias?: boolean; init?: InitName } = {},
  ) {
    super();
    this.kernel = pair(kernel);
    const [kh, kw] = this.kernel;
    const fanIn = kh * kw * inChannels;
    this.weight = this.param(
      'weight',
      initWeight([kh, kw, inChannels, outChannels], fanIn, kh * kw * outChannels, opts.init),
    );
    if (opts.bias !== false) this.bias = this.param('bias', zeros([outChannels]));
  }
  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, { stride: this.opts.stride, padding: this.opts.padding });
  }
  spec(): LayerSpec {
    const { stride = 1, padding = 'valid', init } = this.opts;
    return {
      type: 'conv2d',
      in: this.inChannels,
      out: this.outChannels,
      kernel: this.kernel,
      stride,
      padding,
      bias: this.bias !== undefined,
      init,
    };
  }
}

/** Batch normalization over the last (channel) axis: BatchNorm1d for [N, C], BatchNorm2d for NHWC. */
export class BatchNorm extends Module {
  readonly gamma: Tensor;
  readonly beta: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  constructor(
    readonly channels: number,
    readonly opts: { eps?: number; momentum?: number } = {},
  ) {
    super();
    this.gamma = this.param('weight', ones([channels]));
    this.beta = this.param('bias', zeros([channels]));
    this.runningMean = this.buffer('running_mean', zeros([channels]));
    this.runningVar = this.buffer('running_var', ones([channels]));
  }
  forward(x: Tensor): Tensor {
    const eps = this.opts.eps ?? 1e-5;
    if (this.training) {
      const m = this.opts.momentum ?? 0.1;
      const n = x.size / this.channels;
      return F.batchNorm(x, this.gamma, this.beta, {
        eps,
        onStats: (mean, variance) =>
          noGrad(() => {
            // running = (1 - m) running + m batch (unbiased variance, as PyTorch)
            blendInto(this.runningMean, mean, m, 1);
            blendInto(this.runningVar, variance, m, n / Math.max(1, n - 1));
          }),
      });
    }
    // eval: the running statistics (the op the compiler captures and folds)
    return F.batchNormInference(x, this.gamma, this.beta, this.runningMean, this.runningVar, eps);
  }
  spec(): LayerSpec {
    return { type: 'batchnorm', channels: this.channels, eps: this.opts.eps, momentum: this.opts.momentum };
  }
}

/** target = (1 - m) target + m * k * src, in place. */
function blendInto(target: Tensor, src: Tensor, m: number, k: number): void {
  const b = target.backend;
  b.scale(target.buf, target.buf, target.size, 1 - m, 0);
  b.axpy(m * k, src.buf, target.buf, target.size);
}

type Act = 'relu' | 'gelu' | 'sigmoid' | 'tanh' | 'softmax';
const ACTS: Record<Act, (x: Tensor) => Tensor> = {
  relu: F.relu,
  gelu: F.gelu,
  sigmoid: F.sigmoid,
  tanh: F.tanh,
  softmax: F.softmax,
};

/** A parameter-free elementwise activation. */
export class Activation extends Module {
  constructor(readonly kind: Act) {
    super();
  }
  forward(x: Tensor): Tensor {
    return ACTS[this.kind](x);
  }
  spec(): LayerSpec {
    return { type: this.kind };
  }
}

export class LeakyReLU extends Module {
  constructor(readonly alpha = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.leakyRelu(x, this.alpha);
  }
  spec(): LayerSpec {
    return { type: 'leakyrelu', alpha: this.alpha };
  }
}

export class Pool2d extends Module {
  constructor(
    readonly kind: 'maxpool2d' | 'avgpool2d',
    readonly kernel: Pair,
    readonly opts: { stride?: Pair; padding?: Padding } = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return this.kind === 'maxpool2d' ? F.maxPool2d(x, this.kernel, this.opts) : F.avgPool2d(x, this.kernel, this.opts);
  }
  spec(): LayerSpec {
    return { type: this.kind, kernel: this.kernel, stride: this.opts.stride, padding: this.opts.padding };
  }
}

export class GlobalAvgPool extends Module {
  forward(x: Tensor): Tensor {
    return F.globalAvgPool(x);
  }
  spec(): LayerSpec {
    return { type: 'globalavgpool' };
  }
}

export class Flatten extends Module {
  forward(x: Tensor): Tensor {
    return F.flatten(x);
  }
  spec(): LayerSpec {
    return { type: 'flatten' };
  }
}

/** Zeroes each value with probability p while training (inverted dropout: scales by 1/(1-p)). */
/**
 * Dropout of rate p: in training, x times a mask of 0 and 1/(1 − p) drawn from the default RNG
 * (checkpointed: resume draws the same masks); otherwise the inference view, which capture records.
 */
export function maskedDropout(x: Tensor, p: number, training: boolean): Tensor {
  if (!training || p === 0) return F.dropout(x, p);
  const keepScale = 1 / (1 - p);
  // one read of the generator (defaultRng is a live binding) and no per-element checks: attention
  // dropout draws N·h·L² values a layer, and both showed as a fifth of a transformer's train step
  const rng = defaultRng;
  const mask = new Float32Array(x.size);
  for (let i = 0; i < mask.length; i++) mask[i] = rng.next() >= p ? keepScale : 0;
  const m = new Tensor(x.shape, 'float32', undefined, x.backend);
  write(m, mask);
  return F.mul(x, m);
}

export class Dropout extends Module {
  constructor(readonly p: number) {
    super();
    if (!(p >= 0 && p < 1)) throw new ValueError(`Dropout: p must be in [0, 1), got ${p}`);
  }
  forward(x: Tensor): Tensor {
    return maskedDropout(x, this.p, this.training);
  }
  spec(): LayerSpec {
    return { type: 'dropout', p: this.p };
  }
}

/** Options of Embedding and EmbeddingBag. */
export interface EmbeddingOptions {
  /**
   * Row-sparse gradients (torch's sparse=True): backward gives weight.rowGrad, the rows the batch
   * touched, instead of a dense [vocab, dim] grad; the optimizers update only those rows.
   */
  sparse?: boolean;
}

/** Token ids [..., L] (int32) → vectors [..., L, dim]. */
export class Embedding extends Module {
  readonly weight: Tensor; // [vocab, dim]
  constructor(
    readonly vocab: number,
    readonly dim: number,
    readonly opts: EmbeddingOptions = {},
  ) {
    super();
    this.weight = this.param('weight', randn([vocab, dim]));
    this.weight.sparseGrad = opts.sparse === true;
  }
  forward(ids: Tensor): Tensor {
    return F.embedding(this.weight, ids);
  }
  spec(): LayerSpec {
    return { type: 'embedding', vocab: this.vocab, dim: this.dim, ...(this.opts.sparse ? { sparse: true } : {}) };
  }
}

/** Token ids [B, L] (int32, -1 = padding) → mean of their vectors [B, dim]. */
export class EmbeddingBag extends Module {
  readonly weight: Tensor; // [vocab, dim]
  constructor(
    readonly vocab: number,
    readonly dim: number,
    readonly opts: EmbeddingOptions = {},
  ) {
    super();
    this.weight = this.param('weight', randn([vocab, dim], { std: 1 / Math.sqrt(dim) }));
    this.weight.sparseGrad = opts.sparse === true;
  }
  forward(ids: Tensor): Tensor {
    return F.embeddingBag(this.weight, ids);
  }
  spec(): LayerSpec {
    return { type: 'embeddingbag', vocab: this.vocab, dim: this.dim, ...(this.opts.sparse ? { sparse: true } : {}) };
  }
}

export class Sequential extends Module {
  readonly layers: Module[];
  constructor(layers: Module[]) {
    super();
    this.layers = layers.map((l, i) => this.child(String(i), l));
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (const l of this.layers) h = l.forward(h);
    return h;
  }
  spec(): LayerSpec {
    return { type: 'sequential', layers: this.layers.map((l) => l.spec()) };
  }
}

/** y = act(block(x) + shortcut(x)); the shortcut is the identity unless given (e.g. a strided 1x1 conv). */
export class Residual extends Module {
  constructor(
    readonly block: Sequential,
    readonly shortcut?: Sequential,
    readonly activation: 'relu' | 'none' = 'relu',
  ) {
    super();
    this.child('block', block);
    if (shortcut) this.child('shortcut', shortcut);
  }
  forward(x: Tensor): Tensor {
    const y = F.add(this.block.forward(x), this.shortcut ? this.shortcut.forward(x) : x);
    return this.activation === 'relu' ? F.relu(y) : y;
  }
  spec(): LayerSpec {
    return {
      type: 'residual',
      layers: this.block.layers.map((l) => l.spec()),
      shortcut: this.shortcut?.layers.map((l) => l.spec()),
      activation: this.activation,
    };
  }
}
