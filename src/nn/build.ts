// Builds modules from JSON specs (presets, --config files, checkpoints), inferring sizes from the
// per-sample input shape and rejecting bad configs with the path of the offending field
// ("layers[3].kernel: …").
import { fmtShape, ValueError } from '../errors.js';
import { conv2dGeometry, pool2dGeometry } from '../shape/window.js';
import { checkGraphSpec, GraphModule } from './graph-module.js';
import {
  Activation,
  BatchNorm,
  Conv2d,
  Dropout,
  Embedding,
  EmbeddingBag,
  Flatten,
  GlobalAvgPool,
  LeakyReLU,
  Linear,
  Pool2d,
  Residual,
  Sequential,
} from './layers.js';
import type { Module } from './module.js';
import { Conv1d, conv1dGeometry, Recurrent, TemporalPool } from './sequence.js';
import type { LayerSpec, ModelSpec, Pair } from './spec.js';
import { LayerNorm, MultiHeadSelfAttention, TextEncoder, TransformerEncoderLayer } from './transformer.js';

function fail(path: string, msg: string): never {
  throw new ValueError(`${path}: ${msg}`);
}
function posInt(path: string, v: unknown): number {
  if (!Number.isInteger(v) || (v as number) <= 0) fail(path, `must be a positive integer, got ${JSON.stringify(v)}`);
  return v as number;
}
function pairOf(path: string, v: unknown): Pair {
  if (Array.isArray(v) && v.length === 2) return [posInt(`${path}[0]`, v[0]), posInt(`${path}[1]`, v[1])];
  return posInt(path, v);
}
function rate(path: string, v: unknown): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) fail(path, `must be in [0, 1), got ${JSON.stringify(v)}`);
  return v;
}
function epsOf(path: string, v: unknown): number | undefined {
  if (v !== undefined && (typeof v !== 'number' || !(v > 0)))
    fail(path, `must be a positive number, got ${JSON.stringify(v)}`);
  return v as number | undefined;
}
function oneOf<T extends string>(path: string, v: unknown, options: readonly T[]): T | undefined {
  if (v !== undefined && !options.includes(v as T))
    fail(path, `must be one of ${options.map((o) => `'${o}'`).join(', ')}, got ${JSON.stringify(v)}`);
  return v as T | undefined;
}
/** Heads of an attention layer over width d (given in the spec as `dim`, or the input's). */
function headsOf(path: string, spec: { heads: unknown; dim?: unknown }, d: number): number {
  const heads = posInt(`${path}.heads`, spec.heads);
  if (spec.dim !== undefined && spec.dim !== d) fail(`${path}.dim`, `is ${spec.dim} but the input has ${d} features`);
  if (d % heads) fail(`${path}.heads`, `${heads} heads do not divide the width ${d}`);
  return heads;
}
function expectRank(path: string, type: string, shape: readonly number[], rank: number, what: string): void {
  if (shape.length !== rank) fail(path, `${type} needs ${what} input, got per-sample shape ${fmtShape(shape)}`);
}

export interface Built {
  module: Module;
  outShape: number[];
  /** Multiply-accumulates of one sample's forward pass (GEMM/conv work only). */
  macs: number;
}

/** Builds one layer for per-sample input shape `inShape`; returns it, its output shape and MACs. */
export function buildLayer(spec: LayerSpec, inShape: readonly number[], path: string): Built {
  return { macs: 0, ...buildLayerShape(spec, inShape, path) };
}

function buildLayerShape(
  spec: LayerSpec,
  inShape: readonly number[],
  path: string,
): { module: Module; outShape: number[]; macs?: number } {
  if (typeof spec !== 'object' || spec === null || typeof spec.type !== 'string')
    fail(path, 'must be an object with a "type"');
  const last = inShape[inShape.length - 1];
  switch (spec.type) {
    case 'linear': {
      const out = posInt(`${path}.out`, spec.out);
      if (spec.in !== undefined && spec.in !== last)
        fail(`${path}.in`, `is ${spec.in} but the input has ${last} features`);
      const rows = inShape.slice(0, -1).reduce((a, b) => a * b, 1);
      return {
        module: new Linear(last, out, { bias: spec.bias, init: spec.init }),
        outShape: [...inShape.slice(0, -1), out],
        macs: rows * last * out,
      };
    }
    case 'conv2d': {
      expectRank(path, 'conv2d', inShape, 3, 'an image [H, W, C]');
      const out = posInt(`${path}.out`, spec.out);
      const kernel = pairOf(`${path}.kernel`, spec.kernel);
      const stride = spec.stride === undefined ? 1 : pairOf(`${path}.stride`, spec.stride);
      const [kh, kw] = typeof kernel === 'number' ? [kernel, kernel] : kernel;
      let g: ReturnType<typeof conv2dGeometry>;
      try {
        g = conv2dGeometry([1, ...inShape], [kh, kw, last, out], stride, spec.padding ?? 'valid');
      } catch (e) {
        fail(path, (e as Error).message);
      }
      const module = new Conv2d(last, out, kernel, { stride, padding: spec.padding, bias: spec.bias, init: spec.init });
      return { module, outShape: [g.OH, g.OW, out], macs: g.OH * g.OW * out * kh * kw * last };
    }
    case 'conv1d': {
      expectRank(path, 'conv1d', inShape, 2, 'a sequence [T, C]');
      const out = posInt(`${path}.out`, spec.out);
      const kernel = posInt(`${path}.kernel`, spec.kernel);
      const stride = spec.stride === undefined ? 1 : posInt(`${path}.stride`, spec.stride);
      const dilation = spec.dilation === undefined ? 1 : posInt(`${path}.dilation`, spec.dilation);
      const groups = spec.groups === undefined ? 1 : posInt(`${path}.groups`, spec.groups);
      if (spec.in !== undefined && spec.in !== last)
        fail(`${path}.in`, `is ${spec.in} but the input has ${last} channels`);
      if (last % groups || out % groups)
        fail(`${path}.groups`, `${groups} must divide the input channels (${last}) and out (${out})`);
      const p = spec.padding ?? 'valid';
      const padOk =
        p === 'valid' ||
        p === 'same' ||
        (Number.isInteger(p) && (p as number) >= 0) ||
        (Array.isArray(p) && p.length === 2 && p.every((v) => Number.isInteger(v) && v >= 0));
      if (!padOk) fail(`${path}.padding`, `must be 'valid', 'same', n or [left, right], got ${JSON.stringify(p)}`);
      let outT: number;
      try {
        outT = conv1dGeometry(inShape[0], kernel, { stride, dilation, padding: p }).outT;
      } catch (e) {
        fail(path, (e as Error).message);
      }
      const module = new Conv1d(last, out, kernel, {
        stride,
        dilation,
        padding: p,
        groups,
        bias: spec.bias,
        init: spec.init,
      });
      return { module, outShape: [outT, out], macs: (outT * out * kernel * last) / groups };
    }
    case 'gru':
    case 'lstm': {
      expectRank(path, spec.type, inShape, 2, 'a sequence [T, C]');
      const hidden = posInt(`${path}.hidden`, spec.hidden);
      const layers = spec.layers === undefined ? 1 : posInt(`${path}.layers`, spec.layers);
      if (spec.in !== undefined && spec.in !== last)
        fail(`${path}.in`, `is ${spec.in} but the input has ${last} features`);
      for (const k of ['bidirectional', 'returnSequences'] as const)
        if (spec[k] !== undefined && typeof spec[k] !== 'boolean')
          fail(`${path}.${k}`, `must be true or false, got ${JSON.stringify(spec[k])}`);
      const module = new Recurrent(spec.type, last, hidden, {
        layers,
        bidirectional: spec.bidirectional,
        returnSequences: spec.returnSequences,
      });
      const D = module.bidirectional ? 2 : 1;
      const G = spec.type === 'gru' ? 3 : 4;
      const T = inShape[0];
      const macs = D * T * G * hidden * (last + hidden + (layers - 1) * (D * hidden + hidden));
      return { module, outShape: module.returnSequences ? [T, D * hidden] : [D * hidden], macs };
    }
    case 'temporalpool':
      expectRank(path, 'temporalpool', inShape, 2, 'a sequence [T, C]');
      if (spec.kind !== 'mean' && spec.kind !== 'max')
        fail(`${path}.kind`, `must be 'mean' or 'max', got ${JSON.stringify(spec.kind)}`);
      return { module: new TemporalPool(spec.kind), outShape: [last] };
    case 'layernorm':
      if (spec.channels !== undefined && spec.channels !== last)
        fail(`${path}.channels`, `is ${spec.channels} but the input has ${last} channels`);
      return { module: new LayerNorm(last, epsOf(`${path}.eps`, spec.eps)), outShape: [...inShape] };
    case 'attention': {
      expectRank(path, 'attention', inShape, 2, 'token vectors [L, d]');
      const heads = headsOf(path, spec, last);
      const module = new MultiHeadSelfAttention(last, heads, rate(`${path}.dropout`, spec.dropout));
      const L = inShape[0];
      return { module, outShape: [...inShape], macs: 4 * L * last * last + 2 * L * L * last };
    }
    case 'encoder': {
      expectRank(path, 'encoder', inShape, 2, 'token vectors [L, d]');
      const heads = headsOf(path, spec, last);
      const ffn = posInt(`${path}.ffn`, spec.ffn);
      const dropout = rate(`${path}.dropout`, spec.dropout);
      const module = new TransformerEncoderLayer(last, heads, ffn, {
        dropout,
        attentionDropout:
          spec.attentionDropout === undefined ? dropout : rate(`${path}.attentionDropout`, spec.attentionDropout),
        norm: oneOf(`${path}.norm`, spec.norm, ['pre', 'post'] as const),
        eps: epsOf(`${path}.eps`, spec.eps),
      });
      const L = inShape[0];
      return { module, outShape: [...inShape], macs: L * (4 * last * last + 2 * last * ffn) + 2 * L * L * last };
    }
    case 'text':
      return buildText(spec, inShape, path);
    case 'batchnorm':
      if (spec.channels !== undefined && spec.channels !== last)
        fail(`${path}.channels`, `is ${spec.channels} but the input has ${last} channels`);
      return { module: new BatchNorm(last, { eps: spec.eps, momentum: spec.momentum }), outShape: [...inShape] };
    case 'relu':
    case 'gelu':
    case 'sigmoid':
    case 'tanh':
    case 'softmax':
      return { module: new Activation(spec.type), outShape: [...inShape] };
    case 'leakyrelu':
      return { module: new LeakyReLU(spec.alpha), outShape: [...inShape] };
    case 'maxpool2d':
    case 'avgpool2d': {
      expectRank(path, spec.type, inShape, 3, 'an image [H, W, C]');
      const kernel = pairOf(`${path}.kernel`, spec.kernel);
      const stride = spec.stride === undefined ? undefined : pairOf(`${path}.stride`, spec.stride);
      let g: ReturnType<typeof pool2dGeometry>;
      try {
        g = pool2dGeometry([1, ...inShape], kernel, stride, spec.padding ?? 'valid');
      } catch (e) {
        fail(path, (e as Error).message);
      }
      return { module: new Pool2d(spec.type, kernel, { stride, padding: spec.padding }), outShape: [g.OH, g.OW, last] };
    }
    case 'globalavgpool':
      expectRank(path, 'globalavgpool', inShape, 3, 'an image [H, W, C]');
      return { module: new GlobalAvgPool(), outShape: [last] };
    case 'flatten':
      return { module: new Flatten(), outShape: [inShape.reduce((a, b) => a * b, 1)] };
    case 'dropout':
      if (typeof spec.p !== 'number' || !(spec.p >= 0 && spec.p < 1))
        fail(`${path}.p`, `must be in [0, 1), got ${JSON.stringify(spec.p)}`);
      return { module: new Dropout(spec.p), outShape: [...inShape] };
    case 'embedding':
    case 'embeddingbag': {
      const vocab = posInt(`${path}.vocab`, spec.vocab);
      const dim = posInt(`${path}.dim`, spec.dim);
      if (spec.sparse !== undefined && typeof spec.sparse !== 'boolean')
        fail(`${path}.sparse`, `must be true or false, got ${JSON.stringify(spec.sparse)}`);
      const opts = { sparse: spec.sparse };
      if (spec.type === 'embedding') return { module: new Embedding(vocab, dim, opts), outShape: [...inShape, dim] };
      expectRank(path, 'embeddingbag', inShape, 1, 'token ids [L]');
      return { module: new EmbeddingBag(vocab, dim, opts), outShape: [dim] };
    }
    case 'sequential':
      return buildSequential(spec.layers, inShape, `${path}.layers`);
    case 'graph': {
      const { type: _, ...graph } = spec;
      const { outShape, macs } = checkGraphSpec(graph, inShape, path);
      return { module: new GraphModule(graph), outShape, macs };
    }
    case 'residual': {
      const block = buildSequential(spec.layers, inShape, `${path}.layers`);
      const short = spec.shortcut ? buildSequential(spec.shortcut, inShape, `${path}.shortcut`) : undefined;
      const shortShape = short?.outShape ?? [...inShape];
      if (shortShape.join() !== block.outShape.join()) {
        fail(
          path,
          `block output ${fmtShape(block.outShape)} does not match shortcut output ${fmtShape(shortShape)}; add a shortcut (e.g. a 1x1 conv)`,
        );
      }
      const module = new Residual(block.module, short?.module, spec.activation ?? 'relu');
      return { module, outShape: block.outShape, macs: block.macs + (short?.macs ?? 0) };
    }
    default:
      fail(`${path}.type`, `unknown layer type ${JSON.stringify((spec as { type: unknown }).type)}`);
  }
}

/** A text block: its inner layers must keep the token axis ([L, C] → [L, C']) so the mask applies. */
function buildText(
  spec: Extract<LayerSpec, { type: 'text' }>,
  inShape: readonly number[],
  path: string,
): Built & { module: TextEncoder } {
  expectRank(path, 'text', inShape, 1, 'token ids [L]');
  const L = inShape[0];
  const vocab = posInt(`${path}.vocab`, spec.vocab);
  const dim = posInt(`${path}.dim`, spec.dim);
  const maxLen = spec.maxLen === undefined ? L : posInt(`${path}.maxLen`, spec.maxLen);
  if (maxLen < L) fail(`${path}.maxLen`, `is ${maxLen}, shorter than the input's ${L} tokens`);
  const positions = oneOf(`${path}.positions`, spec.positions, ['learned', 'sinusoidal', 'none'] as const);
  const pool = oneOf(`${path}.pool`, spec.pool, ['cls', 'mean', 'max', 'none'] as const);
  if (!Array.isArray(spec.layers)) fail(`${path}.layers`, 'must be an array of layers (may be empty)');
  const modules: Module[] = [];
  let shape = [L, dim];
  let macs = 0;
  spec.layers.forEach((l, i) => {
    const at = `${path}.layers[${i}]`;
    const built = buildLayer(l, shape, at);
    if (built.outShape.length !== 2 || built.outShape[0] !== L)
      fail(
        at,
        `layers of a text block must keep the token axis ([${L}, C] → [${L}, C']), got ${fmtShape(built.outShape)}; pool with the block's 'pool'`,
      );
    modules.push(built.module);
    shape = built.outShape;
    macs += built.macs;
  });
  const module = new TextEncoder(vocab, dim, maxLen, new Sequential(modules), { positions, pool });
  return { module, outShape: module.pool === 'none' ? shape : [shape[1]], macs };
}

function buildSequential(
  layers: readonly LayerSpec[],
  inShape: readonly number[],
  path: string,
): Built & { module: Sequential } {
  if (!Array.isArray(layers) || layers.length === 0) fail(path, 'must be a non-empty array of layers');
  const modules: Module[] = [];
  let shape = [...inShape];
  let macs = 0;
  layers.forEach((l, i) => {
    const built = buildLayer(l, shape, `${path}[${i}]`);
    modules.push(built.module);
    shape = built.outShape;
    macs += built.macs;
  });
  return { module: new Sequential(modules), outShape: shape, macs };
}

/** Builds a model from its spec: the module, the per-sample output shape and forward MACs per sample. */
export function buildModel(spec: ModelSpec): { model: Sequential; outShape: number[]; macs: number } {
  if (!Array.isArray(spec.inputShape) || spec.inputShape.some((d) => !Number.isInteger(d) || d <= 0)) {
    fail('inputShape', `must be an array of positive integers, got ${JSON.stringify(spec.inputShape)}`);
  }
  const { module, outShape, macs } = buildSequential(spec.layers, spec.inputShape, 'layers');
  return { model: module, outShape, macs };
}
