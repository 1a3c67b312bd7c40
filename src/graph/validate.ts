// Validation of a graph (from a file, an import or a pass): the one place that decides whether the
// runtime can run it. It checks everything the Session, the memory plan and `graduate inspect`
// rely on — per-op input counts and kinds (value or constant), attribute types and ranges, every
// value's shape against its op's shape rule, dtypes and quantization where int8 is used, meta, one
// input and one output, and that one sample's activations and the weights fit the engine's memory —
// so that a graph that passes here is run without any further structural check. Errors are
// FormatErrors naming the source, the node and the field.
// Not for: runtime arguments (batch sizes, input lengths: Session checks those).
import { FormatError } from '../errors.js';
import {
  type FieldFail,
  FLOAT32_MIN_NORMAL,
  fieldsOf,
  firstNonFinite,
  isFloat32,
  isNatural,
  isPosInt,
  isRecord,
} from '../io/fields.js';
import type { ActivationFn, Constant, Graph, InputSpec, Node, OpName, QuantParams, Value } from './ir.js';
import { numel } from './ir.js';
import { planMemory } from './plan.js';

/**
 * The most bytes the engine's wasm memory holds (kernels/engine.ts declares its maximum from this;
 * shared memories must declare one), below wasm32's 4 GiB address space. An artifact whose one
 * sample cannot fit is refused on read.
 */
export const MEMORY_LIMIT_BYTES = 2 ** 30;

const EPILOGUE_FNS = new Set<string>(['none', 'relu', 'leakyrelu', 'sigmoid', 'tanh', 'gelu'] satisfies ActivationFn[]);
const ACTIVATION_FNS = new Set<string>(['relu', 'leakyrelu', 'sigmoid', 'tanh', 'gelu', 'softmax']);
const VALUE_DTYPES = new Set<string>(['float32', 'int8', 'int32']);
const CONST_DTYPES = new Set<string>(['float32', 'float16', 'int8', 'int32']);
const BYTES: Record<string, number> = { float32: 4, float16: 2, int8: 1, int32: 4 };
const has = (o: object, k: string) => Object.hasOwn(o, k);
const fmt = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/** What an op rule sees: the node, its checked inputs, and a `bad` that names the node. */
interface Ctx {
  g: Graph;
  n: Node;
  bad: (msg: string) => never;
  /** Input i as a value (not a constant). */
  value(i: number): Value;
  /** Input i as a constant. */
  constant(i: number): Constant;
  out: Value;
}

interface OpRule {
  /** Allowed numbers of inputs [min, max]. */
  inputs: [number, number];
  check(c: Ctx): void;
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

function expectShape(c: Ctx, want: readonly number[]): void {
  if (!same(c.out.shape, want))
    c.bad(`output '${c.n.output}' has shape ${fmt(c.out.shape)}, the op gives ${fmt(want)}`);
}

function expectDtype(c: Ctx, what: string, v: Value, ...dtypes: string[]): void {
  if (!dtypes.includes(v.dtype)) c.bad(`${what} is ${v.dtype}, expected ${dtypes.join(' or ')}`);
}

function ints(c: Ctx, field: string, length: number, ok: (v: unknown) => boolean, what: string): number[] {
  const v = (c.n.attrs as Record<string, unknown>)[field];
  if (!Array.isArray(v) || v.length !== length || !v.every(ok))
    c.bad(`attrs.${field} must be ${length} ${what}, got ${JSON.stringify(v)}`);
  return v as number[];
}

function optionalNumber(c: Ctx, field: string): void {
  const v = (c.n.attrs as Record<string, unknown>)[field];
  if (v !== undefined && !isFloat32(v))
    c.bad(`attrs.${field} must be a finite float32 number, got ${JSON.stringify(v)}`);
}

/** A per-channel float constant of C values (bias, BatchNorm and affine parameters). */
function channelConstant(c: Ctx, i: number, C: number, what: string): void {
  const k = c.constant(i);
  if (k.dtype !== 'float32' && k.dtype !== 'float16') c.bad(`${what} '${c.n.inputs[i]}' is ${k.dtype}, expected float`);
  if (k.data.length !== C) c.bad(`${what} '${c.n.inputs[i]}' has ${k.data.length} values for ${C} channels`);
}

/** Output size of a window op along one axis (the kernels' floor formula), or 0 if it does not fit. */
const windowOut = (size: number, k: number, s: number, padA: number, padB: number) =>
  size + padA + padB < k ? 0 : Math.floor((size + padA + padB - k) / s) + 1;

/** Checks the window attrs and the output shape [-1, OH, OW, C] of conv2d and the pools. */
function windowOp(c: Ctx, x: Value, K: number[], C: number): void {
  if (x.shape.length !== 4) c.bad(`input '${c.n.inputs[0]}' must be 4-D NHWC, got ${fmt(x.shape)}`);
  const stride = ints(c, 'stride', 2, isPosInt, 'positive integers');
  const pads = ints(c, 'pads', 4, isNatural, 'non-negative integers');
  const [, H, W] = x.shape;
  const OH = windowOut(H, K[0], stride[0], pads[0], pads[2]);
  const OW = windowOut(W, K[1], stride[1], pads[1], pads[3]);
  if (OH < 1 || OW < 1) c.bad(`window ${K.join('x')} (pads ${fmt(pads)}) does not fit input ${fmt(x.shape)}`);
  expectShape(c, [-1, OH, OW, C]);
}

/** conv2d / linear: weights, bias, epilogue; int8 weights need an int8 input and a ReLU-or-none epilogue. */
function weightedOp(c: Ctx, x: Value, rank: number): { w: Constant; cout: number } {
  const w = c.constant(1);
  const name = `weight '${c.n.inputs[1]}'`;
  if (w.shape.length !== rank || !w.shape.every(isPosInt))
    c.bad(`${name} has shape ${fmt(w.shape)}, expected rank ${rank} with positive sizes`);
  if (w.dtype === 'int32') c.bad(`${name} is int32, expected float32, float16 or int8`);
  const cin = w.shape[rank - 2];
  const cout = w.shape[rank - 1];
  if (x.shape.at(-1) !== cin) c.bad(`input '${c.n.inputs[0]}' has ${x.shape.at(-1)} channels, ${name} expects ${cin}`);
  if (c.n.inputs.length > 2) channelConstant(c, 2, cout, 'bias');
  const a = c.n.attrs as Record<string, unknown>;
  if (!EPILOGUE_FNS.has(a.activation as string))
    c.bad(`attrs.activation ${JSON.stringify(a.activation)} is not one of ${[...EPILOGUE_FNS].join(', ')}`);
  optionalNumber(c, 'alpha');
  if (a.residual !== undefined) {
    const r = typeof a.residual === 'string' && has(c.g.values, a.residual) ? c.g.values[a.residual] : undefined;
    if (!r || has(c.g.constants, a.residual as string))
      c.bad(`attrs.residual ${JSON.stringify(a.residual)} must name a value`);
    if (!same(r.shape, c.out.shape) || r.dtype !== 'float32')
      c.bad(`residual '${a.residual}' is ${r.dtype}${fmt(r.shape)}, expected float32${fmt(c.out.shape)}`);
  }
  if (w.dtype === 'int8') {
    if (w.quant?.scale.length !== cout) c.bad(`int8 ${name} needs ${cout} per-channel scales`);
    expectDtype(c, `input '${c.n.inputs[0]}' of an int8 layer`, x, 'int8');
    if (a.residual !== undefined || (a.activation !== 'none' && a.activation !== 'relu'))
      c.bad('int8 layers support only a ReLU epilogue (no residual)');
    expectDtype(c, `output '${c.n.output}'`, c.out, 'float32', 'int8');
  } else {
    expectDtype(c, `input '${c.n.inputs[0]}'`, x, 'float32');
    expectDtype(c, `output '${c.n.output}'`, c.out, 'float32');
  }
  return { w, cout };
}

/** quantize/dequantize: one input of dtype `from`, an output of the same shape in dtype `to`. */
function conversion(from: string, to: string): OpRule {
  return {
    inputs: [1, 1],
    check(c) {
      const x = c.value(0);
      expectDtype(c, `input '${c.n.inputs[0]}'`, x, from);
      expectShape(c, x.shape);
      expectDtype(c, `output '${c.n.output}'`, c.out, to);
    },
  };
}

/** A value in, the same shape and dtype out (views and elementwise ops). */
function sameAsInput(c: Ctx, ...dtypes: string[]): Value {
  const x = c.value(0);
  expectDtype(c, `input '${c.n.inputs[0]}'`, x, ...dtypes);
  expectShape(c, x.shape);
  if (c.out.dtype !== x.dtype) c.bad(`output '${c.n.output}' is ${c.out.dtype}, its input ${x.dtype}`);
  return x;
}

/** Per-op rules: the shape rule of the runtime's kernel, its inputs and attributes. */
const RULES = {
  conv2d: {
    inputs: [2, 3],
    check(c) {
      const x = c.value(0);
      const { w, cout } = weightedOp(c, x, 4);
      windowOp(c, x, w.shape.slice(0, 2), cout);
    },
  },
  linear: {
    inputs: [2, 3],
    check(c) {
      const x = c.value(0);
      const { cout } = weightedOp(c, x, 2);
      expectShape(c, [...x.shape.slice(0, -1), cout]);
    },
  },
  batchnorm: {
    inputs: [5, 5],
    check(c) {
      const x = sameAsInput(c, 'float32');
      for (let i = 1; i < 5; i++)
        channelConstant(c, i, x.shape.at(-1) as number, ['', 'gamma', 'beta', 'mean', 'var'][i]);
      const eps = (c.n.attrs as { eps?: unknown }).eps;
      if (!isFloat32(eps) || eps < 0)
        c.bad(`attrs.eps must be a non-negative float32 number, got ${JSON.stringify(eps)}`);
    },
  },
  affine: {
    inputs: [3, 3],
    check(c) {
      const x = sameAsInput(c, 'float32');
      channelConstant(c, 1, x.shape.at(-1) as number, 'scale');
      channelConstant(c, 2, x.shape.at(-1) as number, 'shift');
    },
  },
  activation: {
    inputs: [1, 1],
    check(c) {
      sameAsInput(c, 'float32');
      const fn = (c.n.attrs as { fn?: unknown }).fn;
      if (!ACTIVATION_FNS.has(fn as string))
        c.bad(`attrs.fn ${JSON.stringify(fn)} is not one of ${[...ACTIVATION_FNS].join(', ')}`);
      optionalNumber(c, 'alpha');
    },
  },
  add: {
    inputs: [2, 2],
    check(c) {
      const a = sameAsInput(c, 'float32');
      const b = c.value(1);
      if (b.dtype !== 'float32' || !same(a.shape, b.shape))
        c.bad(`adds ${fmt(a.shape)} and ${b.dtype}${fmt(b.shape)}: both must be float32 of one shape`);
    },
  },
  maxpool2d: { inputs: [1, 1], check: (c) => pool(c, 'float32', 'int8') },
  avgpool2d: { inputs: [1, 1], check: (c) => pool(c, 'float32') },
  globalavgpool: {
    inputs: [1, 1],
    check(c) {
      const x = c.value(0);
      expectDtype(c, `input '${c.n.inputs[0]}'`, x, 'float32', 'int8');
      if (x.shape.length !== 4) c.bad(`input '${c.n.inputs[0]}' must be 4-D NHWC, got ${fmt(x.shape)}`);
      expectShape(c, [-1, x.shape[3]]);
      if (c.out.dtype !== x.dtype) c.bad(`output '${c.n.output}' is ${c.out.dtype}, its input ${x.dtype}`);
    },
  },
  flatten: {
    inputs: [1, 1],
    check(c) {
      const x = c.value(0);
      expectShape(c, [-1, numel(x.shape.slice(1))]);
      if (c.out.dtype !== x.dtype) c.bad(`output '${c.n.output}' is ${c.out.dtype}, its input ${x.dtype}`);
    },
  },
  dropout: {
    inputs: [1, 1],
    check(c) {
      sameAsInput(c, 'float32', 'int8');
      const p = (c.n.attrs as { p?: unknown }).p;
      if (!isFloat32(p) || p < 0 || p >= 1) c.bad(`attrs.p must be a number in [0, 1), got ${JSON.stringify(p)}`);
    },
  },
  embeddingbag: {
    inputs: [2, 2],
    check(c) {
      const ids = c.value(0);
      expectDtype(c, `ids '${c.n.inputs[0]}'`, ids, 'int32');
      if (ids.shape.length !== 2) c.bad(`ids '${c.n.inputs[0]}' must be [-1, L], got ${fmt(ids.shape)}`);
      const w = c.constant(1);
      if (w.shape.length !== 2 || (w.dtype !== 'float32' && w.dtype !== 'float16'))
        c.bad(`weight '${c.n.inputs[1]}' must be a float [V, D] table, got ${w.dtype}${fmt(w.shape)}`);
      expectShape(c, [-1, w.shape[1]]);
      expectDtype(c, `output '${c.n.output}'`, c.out, 'float32');
    },
  },
  quantize: conversion('float32', 'int8'),
  dequantize: conversion('int8', 'float32'),
} satisfies Record<OpName, OpRule>;

function pool(c: Ctx, ...dtypes: string[]): void {
  const x = c.value(0);
  expectDtype(c, `input '${c.n.inputs[0]}'`, x, ...dtypes);
  const K = ints(c, 'kernel', 2, isPosInt, 'positive integers');
  windowOp(c, x, K, x.shape[3]);
  const pads = (c.n.attrs as { pads: number[] }).pads;
  if (pads[0] >= K[0] || pads[2] >= K[0] || pads[1] >= K[1] || pads[3] >= K[1])
    c.bad(`pads ${fmt(pads)} must be smaller than the window ${K.join('x')}`);
  if (c.out.dtype !== x.dtype) c.bad(`output '${c.n.output}' is ${c.out.dtype}, its input ${x.dtype}`);
}

/** Quantization parameters: per tensor for values (the kernels use one scale), per channel for weights. */
function checkQuant(q: unknown, what: string, bad: (m: string) => never): QuantParams {
  if (!isRecord(q) || !Array.isArray(q.scale) || !Array.isArray(q.zeroPoint) || q.scale.length === 0)
    return bad(`${what}: quant must hold scale and zeroPoint arrays`);
  if (q.zeroPoint.length !== q.scale.length)
    bad(`${what}: ${q.scale.length} scales but ${q.zeroPoint.length} zero points`);
  // the kernels compute in float32: 1e308 would be Infinity there, 1e-50 zero
  if (!q.scale.every((s) => isFloat32(s) && s >= FLOAT32_MIN_NORMAL))
    bad(`${what}: quant scales must be positive float32 numbers (in [2^-126, 3.4e38])`);
  if (!q.zeroPoint.every((z) => Number.isInteger(z) && z >= -128 && z <= 127))
    bad(`${what}: quant zero points must be integers in [-128, 127]`);
  return q as unknown as QuantParams;
}

function checkValue(name: string, v: unknown, bad: (m: string) => never): void {
  const what = `value '${name}'`;
  if (!isRecord(v) || !Array.isArray(v.shape)) bad(`${what}: malformed (needs shape and dtype)`);
  const s = v.shape as unknown[];
  if (s.length < 2 || s[0] !== -1 || !s.slice(1).every((d) => isPosInt(d) && d <= 2 ** 31))
    bad(`${what}: shape ${JSON.stringify(s)} must be [-1 (batch), positive sizes…]`);
  if (!VALUE_DTYPES.has(v.dtype as string)) bad(`${what}: unknown dtype ${JSON.stringify(v.dtype)}`);
  const bytes = numel(s as number[]) * BYTES[v.dtype as string];
  if (bytes > MEMORY_LIMIT_BYTES)
    bad(
      `${what}: shape ${fmt(s as number[])} needs ${bytes} bytes per sample, more than the engine's memory (${MEMORY_LIMIT_BYTES} bytes)`,
    );
  if (v.quant !== undefined) {
    const q = checkQuant(v.quant, what, bad);
    if (q.scale.length !== 1) bad(`${what}: activations are quantized per tensor (one scale), got ${q.scale.length}`);
  }
  if (v.dtype === 'int8' && v.quant === undefined) bad(`${what}: int8 values need quantization parameters`);
}

function checkConstant(name: string, k: unknown, bad: (m: string) => never): void {
  const what = `constant '${name}'`;
  if (!isRecord(k) || !Array.isArray(k.shape) || !ArrayBuffer.isView(k.data)) bad(`${what}: malformed`);
  if (!CONST_DTYPES.has(k.dtype as string)) bad(`${what}: unknown dtype ${JSON.stringify(k.dtype)}`);
  const s = k.shape as unknown[];
  if (!s.every(isNatural)) bad(`${what}: invalid shape ${JSON.stringify(s)}`);
  if ((k.data as Float32Array).length !== numel(s as number[]))
    bad(`${what}: ${(k.data as Float32Array).length} values for shape ${fmt(s as number[])}`);
  if (k.quant !== undefined) checkQuant(k.quant, what, bad);
  const why = nonFiniteValues(name, k as unknown as Constant);
  if (why) bad(why);
}

/**
 * Why a float constant cannot be computed with — a NaN or ±Infinity (a corrupt or diverged model),
 * or a float16 Infinity (a value beyond ±65504 at conversion) — or undefined. One pass over the data.
 */
export function nonFiniteValues(name: string, c: Constant): string | undefined {
  if (c.dtype === 'float32') {
    const i = firstNonFinite(c.data);
    return i < 0 ? undefined : `constant '${name}' holds ${c.data[i]} at index ${i}`;
  }
  if (c.dtype !== 'float16') return undefined;
  const d = c.data;
  for (let i = 0; i < d.length; i++) {
    if ((d[i] & 0x7c00) !== 0x7c00) continue; // exponent bits all ones: Infinity (mantissa 0) or NaN
    if ((d[i] & 0x3ff) === 0)
      return `constant '${name}' overflows float16 at index ${i} (a value beyond ±65504 became ${d[i] & 0x8000 ? '-' : ''}Infinity)`;
    return `constant '${name}' holds a NaN half float at index ${i}`;
  }
  return undefined;
}

/**
 * The input preparation a model records: an artifact's meta.input, and (through checkpoint.ts) a
 * checkpoint's preprocessing, whose shape field is `inputShape`. One rule for both, checking what
 * the readers rely on: image input (data/image-input.ts, data/images.ts) is [H, W, C] and reads mean[c] and std[c] per channel without broadcasting, so mean and std hold exactly C
 * values (tabular: one per feature, the last dimension too), std > 0 and scale > 0, all finite;
 * text input (data/text.ts encodeText) is [maxTokens] and needs a tokenizer: `lowercase` true or
 * false and either a non-empty vocabulary of strings or 1 to 2^32 hash buckets (FNV-1a is 32-bit).
 * Errors are `FILE: AT.FIELD must be …, got …`.
 */
export function checkInputSpec(raw: unknown, at: string, shapeKey: 'shape' | 'inputShape', fail: FieldFail): InputSpec {
  if (!isRecord(raw)) return fail(at, 'an object', raw);
  const { kind, scale, mean, std, tokenizer } = raw;
  const shape = raw[shapeKey];
  if (kind !== 'image' && kind !== 'tabular' && kind !== 'text')
    fail(`${at}.kind`, "'image', 'tabular' or 'text'", kind);
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every(isPosInt))
    fail(`${at}.${shapeKey}`, 'an array of positive integers', shape);
  if (kind === 'image' && shape.length !== 3)
    fail(`${at}.${shapeKey}`, '[height, width, channels] for image input', shape);
  if (kind === 'text' && shape.length !== 1) fail(`${at}.${shapeKey}`, '[maxTokens] for text input', shape);
  if (scale !== undefined && !(isFloat32(scale) && scale > 0))
    fail(`${at}.scale`, 'a finite float32 number > 0', scale);
  const channels = shape[shape.length - 1];
  for (const [key, a] of [
    ['mean', mean],
    ['std', std],
  ] as const) {
    if (a === undefined) continue;
    if (!Array.isArray(a) || a.length !== channels)
      fail(`${at}.${key}`, `${channels} values (one per channel or feature)`, a);
    a.forEach((v, i) => {
      if (!isFloat32(v)) fail(`${at}.${key}[${i}]`, 'a finite float32 number', v);
      if (key === 'std' && !(v >= FLOAT32_MIN_NORMAL)) fail(`${at}.std[${i}]`, 'positive (at least 2^-126)', v);
    });
  }
  if (kind === 'text') {
    const t = isRecord(tokenizer) ? tokenizer : fail(`${at}.tokenizer`, 'an object (text input needs one)', tokenizer);
    if (typeof t.lowercase !== 'boolean') fail(`${at}.tokenizer.lowercase`, 'true or false', t.lowercase);
    if (t.kind === 'vocab') {
      if (!Array.isArray(t.vocab) || t.vocab.length === 0) fail(`${at}.tokenizer.vocab`, 'a non-empty array', t.vocab);
      t.vocab.forEach((w, i) => {
        if (typeof w !== 'string') fail(`${at}.tokenizer.vocab[${i}]`, 'a string', w);
      });
    } else if (t.kind === 'hash') {
      if (!(isPosInt(t.buckets) && t.buckets <= 2 ** 32))
        fail(`${at}.tokenizer.buckets`, `an integer in [1, ${2 ** 32}]`, t.buckets);
    } else fail(`${at}.tokenizer.kind`, "'vocab' or 'hash'", t.kind);
  }
  return raw as unknown as InputSpec;
}

/** Token ids a text input spec can produce (0 … n-1). */
const tokenIds = (spec: InputSpec) => {
  const t = spec.tokenizer as { kind: 'vocab'; vocab: string[] } | { kind: 'hash'; buckets: number };
  return t.kind === 'vocab' ? t.vocab.length : t.buckets;
};

function checkMeta(g: Graph, source: string, bad: (m: string) => never): void {
  const m = g.meta as unknown;
  if (!isRecord(m)) bad('meta is missing (classNames, input)');
  if (!Array.isArray(m.classNames) || !m.classNames.every((c) => typeof c === 'string'))
    bad('meta.classNames must be an array of strings');
  const inValue = g.values[g.inputs[0]];
  const inShape = inValue.shape.slice(1);
  // a spec of another size first: it is for another model, whatever else it holds
  const shape = isRecord(m.input) && Array.isArray(m.input.shape) ? m.input.shape : [];
  if (shape.every(isPosInt) && shape.length > 0 && numel(shape) !== numel(inShape))
    bad(`meta.input.shape ${fmt(shape)} does not match input '${g.inputs[0]}' ${fmt(inShape)}`);
  const input = checkInputSpec(m.input, 'meta.input', 'shape', fieldsOf(source).fail);
  if (input.kind !== 'text') return;
  // predict and serve feed encodeText's ids: int32, each below the rows of the tables they index
  if (inValue.dtype !== 'int32') bad(`text input '${g.inputs[0]}' is ${inValue.dtype}, expected int32 token ids`);
  const ids = tokenIds(input);
  for (const n of g.nodes) {
    if (n.op !== 'embeddingbag' || n.inputs[0] !== g.inputs[0]) continue;
    const rows = g.constants[n.inputs[1]].shape[0];
    if (ids > rows)
      bad(
        `meta.input.tokenizer makes ${ids} token ids, but the table '${n.inputs[1]}' of node '${n.name}' has ${rows} rows`,
      );
  }
}

/** Throws a FormatError naming `source` if the runtime cannot run `g` as it is (see the file header). */
export function validateGraph(g: Graph, source = '<graph>'): void {
  const bad: (msg: string) => never = (msg) => {
    throw new FormatError(`${source}: ${msg}`);
  };
  if (!isRecord(g)) bad('not a graph');
  if (!Array.isArray(g.inputs) || !Array.isArray(g.outputs) || !Array.isArray(g.nodes))
    bad('graph lacks inputs/outputs/nodes');
  if (!isRecord(g.values) || !isRecord(g.constants)) bad('graph lacks values/constants');
  for (const [name, v] of Object.entries(g.values)) checkValue(name, v, bad);
  let weightBytes = 0;
  for (const [name, k] of Object.entries(g.constants)) {
    checkConstant(name, k, bad);
    weightBytes += k.data.byteLength;
  }
  // what the Session supports
  if (g.inputs.length !== 1 || g.outputs.length !== 1)
    bad(`graphs with one input and one output are supported (got ${g.inputs.length} and ${g.outputs.length})`);
  const [input] = g.inputs;
  if (typeof input !== 'string' || !has(g.values, input)) bad(`input ${JSON.stringify(input)} has no value entry`);
  if (has(g.constants, input)) bad(`input '${input}' is also a constant`);
  if (g.values[input].dtype === 'int8') bad(`input '${input}' is int8: inputs are float32 (or int32 token ids)`);
  const defined = new Set<string>([input, ...Object.keys(g.constants)]);
  const names = new Set<string>();
  for (const [i, n] of g.nodes.entries()) {
    const where = `node ${i} ('${isRecord(n) ? String(n.name) : '?'}'${isRecord(n) && typeof n.op === 'string' ? `, ${n.op}` : ''})`;
    const fail: (msg: string) => never = (msg) => bad(`${where}: ${msg}`);
    if (!isRecord(n)) fail('malformed node');
    const rule = has(RULES, n.op as string) ? RULES[n.op as OpName] : undefined;
    if (!rule) fail(`unknown op ${JSON.stringify(n.op)} (supported: ${Object.keys(RULES).join(', ')})`);
    if (typeof n.name !== 'string' || n.name === '') fail('name must be a non-empty string');
    if (names.has(n.name)) fail(`name '${n.name}' is used by another node`);
    names.add(n.name);
    if (!Array.isArray(n.inputs) || !n.inputs.every((v) => typeof v === 'string') || typeof n.output !== 'string')
      fail('inputs must be names and output a name');
    if (!isRecord(n.attrs)) fail('attrs must be an object');
    const [lo, hi] = rule.inputs;
    if (n.inputs.length < lo || n.inputs.length > hi)
      fail(`${n.inputs.length} inputs, expected ${lo === hi ? lo : `${lo} to ${hi}`}`);
    const res = (n.attrs as { residual?: unknown }).residual;
    for (const v of typeof res === 'string' ? [...n.inputs, res] : n.inputs)
      if (!defined.has(v)) fail(`input '${v}' is not defined before use`);
    if (!has(g.values, n.output)) fail(`output '${n.output}' has no value entry`);
    if (defined.has(n.output)) fail(`output '${n.output}' is defined twice`);
    const ctx: Ctx = {
      g,
      n,
      bad: fail,
      out: g.values[n.output],
      value: (k) =>
        has(g.values, n.inputs[k]) ? g.values[n.inputs[k]] : fail(`input ${k} '${n.inputs[k]}' must be a value`),
      constant: (k) =>
        has(g.constants, n.inputs[k])
          ? g.constants[n.inputs[k]]
          : fail(`input ${k} '${n.inputs[k]}' must be a constant`),
    };
    rule.check(ctx);
    defined.add(n.output);
  }
  const [output] = g.outputs;
  if (typeof output !== 'string' || !defined.has(output) || !has(g.values, output))
    bad(`output ${JSON.stringify(output)} is not produced by any node`);
  if (g.values[output].dtype !== 'float32') bad(`output '${output}' is ${g.values[output].dtype}, expected float32`);
  checkMeta(g, source, bad);
  // the Session's arena holds at least one sample's activations, beside the weights
  const arena = planMemory(g, 1).arenaBytes;
  if (arena + weightBytes > MEMORY_LIMIT_BYTES)
    bad(
      `one sample needs ${arena} bytes of activations (input ${fmt(g.values[input].shape)}) and the weights ${weightBytes}, ` +
        `more than the engine's memory (${MEMORY_LIMIT_BYTES} bytes)`,
    );
}
