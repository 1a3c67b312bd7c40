// Capture: a trained nn module (with its spec and preprocessing) becomes a graph IR. Weights are
// copied out of wasm memory into constants; inference semantics are used (BatchNorm with running
// statistics, Dropout as an op the eliminate pass removes). Training code stays on this side:
// graph/ never imports nn/.

import { ValueError } from '../errors.js';
import type { Constant, Graph, InputSpec, Node, Value } from '../graph/ir.js';
import {
  Activation,
  BatchNorm,
  Conv2d,
  Dropout,
  EmbeddingBag,
  Flatten,
  GlobalAvgPool,
  LeakyReLU,
  Linear,
  Pool2d,
  Residual,
  Sequential,
} from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { conv2dGeometry, pool2dGeometry } from '../shape/window.js';
import type { Tensor } from '../tensor/tensor.js';

class Builder {
  readonly g: Graph;
  private n = 0;
  constructor(input: Value, meta: Graph['meta']) {
    this.g = { inputs: ['input'], outputs: [], values: { input }, constants: {}, nodes: [], meta };
  }
  constant(name: string, t: Tensor): string {
    const data = t.data();
    this.g.constants[name] = {
      shape: [...t.shape],
      dtype: t.dtype === 'int32' ? 'int32' : 'float32',
      data,
    } as Constant;
    return name;
  }
  node<N extends Node>(n: Omit<N, 'output'>, shape: number[]): string {
    const output = `v${++this.n}`;
    this.g.values[output] = { shape, dtype: 'float32' };
    this.g.nodes.push({ ...n, output } as Node);
    return output;
  }
  shape(v: string): number[] {
    return this.g.values[v].shape;
  }
}

function capture(b: Builder, m: Module, x: string, path: string): string {
  const s = b.shape(x);
  const name = path || 'model';
  if (m instanceof Sequential) {
    m.layers.forEach((l, i) => {
      x = capture(b, l, x, path ? `${path}.${i}` : String(i));
    });
    return x;
  }
  if (m instanceof Linear) {
    const inputs = [x, b.constant(`${name}.weight`, m.weight)];
    if (m.bias) inputs.push(b.constant(`${name}.bias`, m.bias));
    return b.node({ op: 'linear', name, inputs, attrs: { activation: 'none' } }, [...s.slice(0, -1), m.outFeatures]);
  }
  if (m instanceof Conv2d) {
    const { stride, padding } = m.opts;
    const g = conv2dGeometry([1, ...s.slice(1)], m.weight.shape, stride ?? 1, padding ?? 'valid');
    const inputs = [x, b.constant(`${name}.weight`, m.weight)];
    if (m.bias) inputs.push(b.constant(`${name}.bias`, m.bias));
    const attrs = {
      activation: 'none' as const,
      stride: [g.strideH, g.strideW] as [number, number],
      pads: [g.padTop, g.padLeft, g.padBottom, g.padRight] as [number, number, number, number],
    };
    return b.node({ op: 'conv2d', name, inputs, attrs }, [-1, g.OH, g.OW, g.OC]);
  }
  if (m instanceof BatchNorm) {
    const inputs = [
      x,
      ...(['weight', 'bias', 'running_mean', 'running_var'] as const).map((k, i) =>
        b.constant(`${name}.${k}`, [m.gamma, m.beta, m.runningMean, m.runningVar][i]),
      ),
    ];
    return b.node({ op: 'batchnorm', name, inputs, attrs: { eps: m.opts.eps ?? 1e-5 } }, s);
  }
  if (m instanceof Activation) return b.node({ op: 'activation', name, inputs: [x], attrs: { fn: m.kind } }, s);
  if (m instanceof LeakyReLU)
    return b.node({ op: 'activation', name, inputs: [x], attrs: { fn: 'leakyrelu', alpha: m.alpha } }, s);
  if (m instanceof Pool2d) {
    const g = pool2dGeometry([1, ...s.slice(1)], m.kernel, m.opts.stride, m.opts.padding ?? 'valid');
    const attrs = {
      kernel: [g.KH, g.KW] as [number, number],
      stride: [g.strideH, g.strideW] as [number, number],
      pads: [g.padTop, g.padLeft, g.padBottom, g.padRight] as [number, number, number, number],
    };
    return b.node({ op: m.kind, name, inputs: [x], attrs }, [-1, g.OH, g.OW, g.C]);
  }
  if (m instanceof GlobalAvgPool) return b.node({ op: 'globalavgpool', name, inputs: [x], attrs: {} }, [-1, s[3]]);
  if (m instanceof Flatten)
    return b.node({ op: 'flatten', name, inputs: [x], attrs: {} }, [-1, s.slice(1).reduce((a, c) => a * c, 1)]);
  if (m instanceof Dropout) return b.node({ op: 'dropout', name, inputs: [x], attrs: { p: m.p } }, s);
  if (m instanceof EmbeddingBag) {
    return b.node({ op: 'embeddingbag', name, inputs: [x, b.constant(`${name}.weight`, m.weight)], attrs: {} }, [
      -1,
      m.dim,
    ]);
  }
  if (m instanceof Residual) {
    const y = capture(b, m.block, x, `${name}.block`);
    const short = m.shortcut ? capture(b, m.shortcut, x, `${name}.shortcut`) : x;
    const sum = b.node({ op: 'add', name: `${name}.add`, inputs: [y, short], attrs: {} }, b.shape(y));
    return m.activation === 'relu'
      ? b.node({ op: 'activation', name: `${name}.relu`, inputs: [sum], attrs: { fn: 'relu' } }, b.shape(sum))
      : sum;
  }
  throw new ValueError(`capture: layer '${name}' (${m.constructor.name}) is not supported by the compiler yet`);
}

/** The inference graph of `model` for per-sample input `input.shape`, labelled with classNames. */
export function captureGraph(
  model: Module,
  input: InputSpec,
  classNames: readonly string[],
  opts: { inputDType?: 'float32' | 'int32' } = {},
): Graph {
  const b = new Builder(
    { shape: [-1, ...input.shape], dtype: opts.inputDType ?? 'float32' },
    { classNames: [...classNames], input, producer: 'graduate' },
  );
  const out = capture(b, model, 'input', '');
  b.g.outputs = [out];
  return b.g;
}
