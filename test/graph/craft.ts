// Real small artifacts (float32 and int8) and the tools to craft bad ones from them: the JSON header
// rewritten with a valid CRC (so the validator, not the checksum, is what refuses it), and the
// byte offsets of every structural boundary of the file (for truncation).

import { captureGraph } from '../../src/compile/capture.js';
import { runPasses } from '../../src/compile/passes/index.js';
import { quantizeGraph } from '../../src/compile/quantize.js';
import { crc32 } from '../../src/graph/artifact.js';
import type { Graph } from '../../src/graph/ir.js';
import * as G from '../../src/index.js';
import { buildModel } from '../../src/nn/build.js';

export const INPUT = [8, 8, 2];

/**
 * A captured CNN (conv, batchnorm, relu, residual, maxpool, avgpool, flatten, dropout, linear,
 * softmax); after the passes (default) BatchNorm is folded, dropout gone and epilogues fused.
 */
export function floatGraph(passes = true): Graph {
  G.manualSeed(11);
  const { model } = buildModel({
    inputShape: INPUT,
    layers: [
      { type: 'conv2d', out: 4, kernel: 3, padding: 'same' },
      { type: 'batchnorm' },
      { type: 'relu' },
      { type: 'residual', layers: [{ type: 'conv2d', out: 4, kernel: 3, padding: 'same' }] },
      { type: 'maxpool2d', kernel: 2 },
      { type: 'avgpool2d', kernel: 2, stride: 1 },
      { type: 'flatten' },
      { type: 'dropout', p: 0.2 },
      { type: 'linear', out: 3 },
      { type: 'softmax' },
    ],
  });
  model.eval();
  const g = captureGraph(model, { kind: 'image', shape: INPUT, scale: 1 / 255, mean: [0.5, 0.4], std: [0.2, 0.3] }, [
    'a',
    'b',
    'c',
  ]);
  model.dispose();
  return passes ? runPasses(g).graph : g;
}

/** The same kind of model quantized to int8 (quantize → int8 conv → int8 maxpool → … → dequantize). */
export function int8Graph(): Graph {
  G.manualSeed(12);
  const { model } = buildModel({
    inputShape: INPUT,
    layers: [
      { type: 'conv2d', out: 4, kernel: 3, padding: 'same' },
      { type: 'relu' },
      { type: 'maxpool2d', kernel: 2 },
      { type: 'flatten' },
      { type: 'linear', out: 3 },
    ],
  });
  model.eval();
  const g = runPasses(captureGraph(model, { kind: 'image', shape: INPUT }, ['a', 'b', 'c'])).graph;
  model.dispose();
  const n = 16;
  const calib = Float32Array.from({ length: n * 128 }, (_, i) => Math.sin(i * 0.37));
  return quantizeGraph(g, calib, n, { mode: 'int8', method: 'minmax', engine: G.engine() }).graph;
}

/** Header JSON of an artifact. */
// biome-ignore lint/suspicious/noExplicitAny: crafted headers are arbitrary JSON
export type Header = any;

/** The artifact with its JSON header edited by `edit` (tensor data kept in place) and a valid CRC. */
export function rewriteHeader(bytes: Uint8Array, edit: (h: Header) => Header | undefined): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = view.getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + hlen)));
  const edited = edit(header) ?? header;
  const data = bytes.subarray(Math.ceil((16 + hlen) / 64) * 64, bytes.length - 4);
  const json = new TextEncoder().encode(JSON.stringify(edited));
  const start = Math.ceil((16 + json.length) / 64) * 64;
  const out = new Uint8Array(start + data.length + 4);
  out.set(bytes.subarray(0, 16));
  new DataView(out.buffer).setUint32(12, json.length, true);
  out.set(json, 16);
  out.set(data, start);
  return reseal(out);
}

/** Rewrites the trailing CRC-32 so that the checksum holds. */
export function reseal(b: Uint8Array): Uint8Array {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(b.length - 4, crc32(b.subarray(0, b.length - 4)), true);
  return b;
}

/** Byte offsets of the file's structure: magic, version, header length, header, each tensor's start and end, CRC. */
export function boundaries(bytes: Uint8Array): number[] {
  const hlen = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + hlen)));
  const start = Math.ceil((16 + hlen) / 64) * 64;
  const out = [8, 12, 16, 16 + hlen, start, bytes.length - 4];
  for (const t of Object.values(header.tensors) as { offset: number; length: number }[])
    out.push(start + t.offset, start + t.offset + t.length);
  return out;
}

const node = (h: Header, name: string) => h.graph.nodes.find((n: { name: string }) => n.name === name);

/**
 * Header edits that break one rule each the runtime relies on: [what is wrong, artifact, edit,
 * what the error must say]. Before validation covered them, readArtifact (so `inspect`) accepted
 * most, and `predict` then refused them, crashed, or ran them on garbage.
 */
export const craftedHeaders = (
  float: Uint8Array,
  int8: Uint8Array,
): [string, Uint8Array, (h: Header) => unknown, RegExp][] => [
  [
    'an int8 layer on a float input',
    int8,
    (h) => {
      node(h, '0').inputs[0] = 'input';
    },
    /node 1 \('0', conv2d\): input 'input' of an int8 layer is float32, expected int8/,
  ],
  [
    'an int8 layer with a sigmoid epilogue',
    int8,
    (h) => {
      node(h, '0').attrs.activation = 'sigmoid';
    },
    /node 1 \('0', conv2d\): int8 layers support only a ReLU epilogue/,
  ],
  [
    'an int8 average pool',
    int8,
    (h) => {
      node(h, '2').op = 'avgpool2d';
    },
    /node 2 \('2', avgpool2d\): input 'v2' is int8, expected float32/,
  ],
  [
    'an int8 value without quantization',
    int8,
    (h) => {
      delete h.graph.values['input.q'].quant;
    },
    /value 'input\.q': int8 values need quantization parameters/,
  ],
  [
    'int8 weights with one scale for four channels',
    int8,
    (h) => {
      h.tensors['0.weight'].quant = { scale: [0.1], zeroPoint: [0], axis: 3 };
    },
    /node 1 \('0', conv2d\): int8 weight '0\.weight' needs 4 per-channel scales/,
  ],
  [
    'a zero point outside int8',
    int8,
    (h) => {
      h.graph.values.v2.quant.zeroPoint = [300];
    },
    /value 'v2': quant zero points must be integers in \[-128, 127\]/,
  ],
  [
    'a zero quantization scale',
    int8,
    (h) => {
      h.graph.values['input.q'].quant.scale = [0];
    },
    /value 'input\.q': quant scales must be positive float32 numbers/,
  ],
  // numbers a double holds but float32 does not: 1e308 is Infinity in the kernels, 1e-50 zero
  [
    'a weight scale beyond float32',
    int8,
    (h) => {
      h.tensors['0.weight'].quant.scale[1] = 1e308;
    },
    /constant '0\.weight': quant scales must be positive float32 numbers/,
  ],
  [
    "an activation scale below float32's normal range",
    int8,
    (h) => {
      h.graph.values.v2.quant.scale = [1e-50];
    },
    /value 'v2': quant scales must be positive float32 numbers/,
  ],
  [
    'a leaky-ReLU slope beyond float32',
    float,
    (h) => {
      Object.assign(node(h, '9'), { op: 'unary', attrs: { fn: 'leakyRelu', alpha: 1e39 } });
    },
    /node \d+ \('9', unary\): attrs\.alpha must be a finite float32 number, got 1e\+39/,
  ],
  [
    'an input std that divides into overflow',
    float,
    (h) => {
      h.graph.meta.input.std = [0.2, 1e-50];
    },
    /meta\.input\.std\[1\] must be positive \(at least 2\^-126\), got 1e-50/,
  ],
  [
    'a second output that no node produces',
    float,
    (h) => {
      h.graph.outputs.push('nowhere');
    },
    /output "nowhere" is not produced by any node/,
  ],
  [
    'a zero stride',
    float,
    (h) => {
      node(h, '0').attrs.stride = [0, 1];
    },
    /node 0 \('0', conv2d\): attrs\.stride must be 2 positive integers, got \[0,1\]/,
  ],
  [
    "an output shape that is not the op's",
    float,
    (h) => {
      h.graph.values.v7.shape = [-1, 5, 4, 4];
    },
    /node 2 \('4', maxpool2d\): output 'v7' has shape \[-1, 5, 4, 4\], the op gives \[-1, 4, 4, 4\]/,
  ],
  [
    'an unknown activation',
    float,
    (h) => {
      Object.assign(node(h, '9'), { op: 'unary', attrs: { fn: 'swish' } });
    },
    /node 6 \('9', unary\): attrs\.fn "swish" is not one of/,
  ],
  [
    'a residual that names a constant',
    float,
    (h) => {
      node(h, '3.block.0').attrs.residual = '0.bias';
    },
    /node 1 \('3\.block\.0', conv2d\): attrs\.residual "0\.bias" must name a value/,
  ],
  [
    'a weight that is a value',
    float,
    (h) => {
      node(h, '8').inputs[1] = 'v9';
    },
    /node 5 \('8', linear\): input 1 'v9' must be a constant/,
  ],
  [
    'too many inputs',
    float,
    (h) => {
      node(h, '8').inputs.push('8.bias', '8.bias');
    },
    /node 5 \('8', linear\): 5 inputs, expected 2 to 3/,
  ],
  [
    'two nodes of one name',
    float,
    (h) => {
      node(h, '5').name = '4';
    },
    /node 3 \('4', avgpool2d\): name '4' is used by another node/,
  ],
  [
    'pooling pads as large as the window',
    float,
    (h) => {
      Object.assign(node(h, '5').attrs, { pads: [2, 0, 0, 0] });
      h.graph.values.v8.shape = [-1, 5, 3, 4];
    },
    /node 3 \('5', avgpool2d\): pads \[2, 0, 0, 0\] must be smaller than the window 2x2/,
  ],
  [
    'no meta',
    float,
    (h) => {
      delete h.graph.meta;
    },
    /meta is missing/,
  ],
  [
    'classNames that are not an array',
    float,
    (h) => {
      h.graph.meta.classNames = 'a,b,c';
    },
    /meta\.classNames must be an array of strings/,
  ],
  [
    'an input spec of another size',
    float,
    (h) => {
      h.graph.meta.input.shape = [28, 28, 1];
    },
    /meta\.input\.shape \[28, 28, 1\] does not match input 'input' \[8, 8, 2\]/,
  ],
  ['tensors: null', float, (h) => ({ ...h, tensors: null }), /header\.tensors must be an object, got null/],
  ['graph: null', float, (h) => ({ ...h, graph: null }), /header\.graph must be an object, got null/],
  [
    'a huge input shape',
    float,
    (h) => {
      h.graph.values.input.shape = [-1, 100000, 100000, 2];
      h.graph.meta.input.shape = [100000, 100000, 2];
    },
    /value 'input': shape \[-1, 100000, 100000, 2\] needs 80000000000 bytes per sample, more than the engine's memory/,
  ],
];
