// Validation of a graph (from a file, an import or a pass): the one place that decides whether the
// runtime can run it. It checks everything the Session, the memory plan and `graduate inspect`
// rely on — per-op input counts and kinds (value or constant), attribute types and ranges, every
// value's shape against its op's shape rule, dtypes and quantization where int8 is used, meta, one
// input and one output, and that one sample's activations and the weights fit the engine's memory —
// so that a graph that passes here is run without any further structural check. Errors are
// FormatErrors naming the source, the node and the field.
// Not for: runtime arguments (batch sizes, input lengths: Session checks those).
import { type AudioFeatureSpec, checkAudioSpec, featureChannels } from '../audio/features.js';
import { FormatError, fmtShape } from '../errors.js';
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
import { MEMORY_LIMIT_BYTES } from '../limits.js';
import type { CheckCtx, Info, OpDef } from '../ops/op.js';
import { isOpName, OP_NAMES, OPS } from '../ops/registry.js';
import { same } from '../ops/rules.js';
import { checkTextTokenizer, type TextTokenizer, tokenIds as textTokenIds } from '../text/encode.js';
import type { Constant, Graph, InputSpec, Node, QuantParams } from './ir.js';
import { numel, tokenTables } from './ir.js';
import { planMemory } from './plan.js';

export { MEMORY_LIMIT_BYTES };

const VALUE_DTYPES = new Set<string>(['float32', 'int8', 'int32']);
/**
 * Highest rank of a value. The strided kernels walk 6 axes after merging contiguous ones
 * (kernels/broadcast.ts MAX_RANK: a ValueError when a tensor still has more); host loops any.
 */
const MAX_VALUE_RANK = 8;
const CONST_DTYPES = new Set<string>(['float32', 'float16', 'int8', 'int32']);
const BYTES: Record<string, number> = { float32: 4, float16: 2, int8: 1, int32: 4 };
const has = (o: object, k: string) => Object.hasOwn(o, k);

/** Shape and dtype of a node's input as the op's shape rule sees it (float16 weights compute as float32). */
function infoOf(g: Graph, v: string): Info {
  if (has(g.constants, v)) {
    const k = g.constants[v];
    return { shape: k.shape, dtype: k.dtype === 'float16' ? 'float32' : k.dtype };
  }
  return g.values[v];
}

/**
 * Output shape of node n by its op's shape rule (the registry's infer) over the graph's values;
 * throws the rule's error. Used to check stored shapes and to infer shapes of new nodes.
 */
export function inferNode(g: Graph, n: Node): Info {
  return (OPS[n.op] as OpDef<unknown>).infer(
    n.inputs.map((v) => infoOf(g, v)),
    n.attrs,
  );
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
  // batched: [-1, sizes…]; or a fixed shape of any rank (a scalar is []), sizes ≥ 0
  const sizes = s[0] === -1 ? s.slice(1) : s;
  if (!sizes.every((d) => isNatural(d) && d <= 2 ** 31))
    bad(`${what}: shape ${JSON.stringify(s)} must be [-1 (batch), sizes…] or fixed sizes`);
  // the strided kernels (transpose, broadcasting) walk at most 6 axes
  if (s.length > MAX_VALUE_RANK)
    bad(`${what}: shape ${JSON.stringify(s)} has rank ${s.length}, more than ${MAX_VALUE_RANK}`);
  if (!VALUE_DTYPES.has(v.dtype as string)) bad(`${what}: unknown dtype ${JSON.stringify(v.dtype)}`);
  const bytes = numel(s as number[]) * BYTES[v.dtype as string];
  if (bytes > MEMORY_LIMIT_BYTES)
    bad(
      `${what}: shape ${fmtShape(s as number[])} needs ${bytes} bytes per sample, more than the engine's memory (${MEMORY_LIMIT_BYTES} bytes)`,
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
    bad(`${what}: ${(k.data as Float32Array).length} values for shape ${fmtShape(s as number[])}`);
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
 * the readers rely on: image input (runtime/image-input.ts, data/images.ts) is [H, W, C] and reads mean[c] and std[c] per channel without broadcasting, so mean and std hold exactly C
 * values (tabular: one per feature, the last dimension too), std > 0 and scale > 0, all finite;
 * text input (text/encode.ts encodeText) is [maxTokens] and needs a tokenizer (checkTextTokenizer:
 * a vocabulary, 1 to 2^32 hash buckets, or a valid BPE tokenizer).
 * Errors are `FILE: AT.FIELD must be …, got …`.
 */
export function checkInputSpec(raw: unknown, at: string, shapeKey: 'shape' | 'inputShape', fail: FieldFail): InputSpec {
  if (!isRecord(raw)) return fail(at, 'an object', raw);
  const { kind, scale, mean, std, tokenizer } = raw;
  const shape = raw[shapeKey];
  if (kind !== 'image' && kind !== 'tabular' && kind !== 'text' && kind !== 'audio')
    fail(`${at}.kind`, "'image', 'tabular', 'text' or 'audio'", kind);
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every(isPosInt))
    fail(`${at}.${shapeKey}`, 'an array of positive integers', shape);
  if (kind === 'image' && shape.length !== 3)
    fail(`${at}.${shapeKey}`, '[height, width, channels] for image input', shape);
  if (kind === 'text' && shape.length !== 1) fail(`${at}.${shapeKey}`, '[maxTokens] for text input', shape);
  if (kind === 'audio') checkAudioInput(raw.audio, shape, at, shapeKey, fail);
  if (scale !== undefined && !(isFloat32(scale) && scale > 0))
    fail(`${at}.scale`, 'a finite float32 number > 0', scale);
  if (raw.layout !== undefined && (kind !== 'image' || (raw.layout !== 'NHWC' && raw.layout !== 'NCHW')))
    fail(`${at}.layout`, kind === 'image' ? "'NHWC' or 'NCHW'" : 'absent (a layout is for image input)', raw.layout);
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
  if (kind === 'text') checkTextTokenizer(tokenizer, `${at}.tokenizer`, fail);
  return raw as unknown as InputSpec;
}

/** Audio input: a feature spec (audio/features.ts) whose [frames, channels] is the input shape. */
function checkAudioInput(audio: unknown, shape: number[], at: string, shapeKey: string, fail: FieldFail): void {
  if (!isRecord(audio)) fail(`${at}.audio`, 'a feature spec object (audio input needs one)', audio);
  try {
    checkAudioSpec(audio as unknown as AudioFeatureSpec);
  } catch (e) {
    fail(`${at}.audio`, `a valid feature spec (${(e as Error).message})`, audio);
  }
  const spec = audio as unknown as AudioFeatureSpec;
  const want = [spec.frames, featureChannels(spec)];
  if (shape.join() !== want.join())
    fail(`${at}.${shapeKey}`, `[${want.join(', ')}] ([frames, channels] of the audio spec)`, shape);
}

/** Token ids a text input spec can produce (0 … n-1). */
const tokenIds = (spec: InputSpec) => textTokenIds(spec.tokenizer as TextTokenizer);

function checkMeta(g: Graph, source: string, bad: (m: string) => never): void {
  const m = g.meta as unknown;
  if (!isRecord(m)) bad('meta is missing (classNames, input)');
  if (!Array.isArray(m.classNames) || !m.classNames.every((c) => typeof c === 'string'))
    bad('meta.classNames must be an array of strings');
  if (m.perSample !== undefined && typeof m.perSample !== 'boolean') bad('meta.perSample must be true or false');
  if (m.perSample === true && Object.values(g.values).some((v) => v.shape[0] === -1))
    bad('meta.perSample: a graph specialized to one sample has no batched (-1) values');
  if (isRecord(m.input) && m.input.kind === 'tensor') return; // named tensors as they are: nothing to check
  const inValue = g.values[g.inputs[0]];
  const inShape = inValue.shape.slice(1);
  // a spec of another size first: it is for another model, whatever else it holds
  const shape = isRecord(m.input) && Array.isArray(m.input.shape) ? m.input.shape : [];
  if (shape.every(isPosInt) && shape.length > 0 && numel(shape) !== numel(inShape))
    bad(`meta.input.shape ${fmtShape(shape)} does not match input '${g.inputs[0]}' ${fmtShape(inShape)}`);
  const input = checkInputSpec(m.input, 'meta.input', 'shape', fieldsOf(source).fail);
  if (input.kind !== 'text') return;
  // predict and serve feed encodeText's ids: int32, each below the rows of the tables they index
  if (inValue.dtype !== 'int32') bad(`text input '${g.inputs[0]}' is ${inValue.dtype}, expected int32 token ids`);
  const ids = tokenIds(input);
  for (const { node: n, rows } of tokenTables(g)) {
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
  // what the Session supports: named inputs and outputs, float32 or int32
  if (g.outputs.length < 1) bad('a graph needs at least one output');
  for (const input of g.inputs) {
    if (typeof input !== 'string' || !has(g.values, input)) bad(`input ${JSON.stringify(input)} has no value entry`);
    if (has(g.constants, input)) bad(`input '${input}' is also a constant`);
    if (g.values[input].dtype === 'int8') bad(`input '${input}' is int8: inputs are float32 or int32`);
  }
  if (new Set(g.inputs).size !== g.inputs.length) bad('an input is listed twice');
  const [input] = g.inputs;
  const defined = new Set<string>([...g.inputs, ...Object.keys(g.constants)]);
  const names = new Set<string>();
  for (const [i, n] of g.nodes.entries()) {
    const where = `node ${i} ('${isRecord(n) ? String(n.name) : '?'}'${isRecord(n) && typeof n.op === 'string' ? `, ${n.op}` : ''})`;
    const fail: (msg: string) => never = (msg) => bad(`${where}: ${msg}`);
    if (!isRecord(n)) fail('malformed node');
    const rule = isOpName(n.op) ? (OPS[n.op] as OpDef<unknown>) : undefined;
    if (!rule) fail(`unknown op ${JSON.stringify(n.op)} (supported: ${OP_NAMES.join(', ')})`);
    if (typeof n.name !== 'string' || n.name === '') fail('name must be a non-empty string');
    if (names.has(n.name)) fail(`name '${n.name}' is used by another node`);
    names.add(n.name);
    if (!Array.isArray(n.inputs) || !n.inputs.every((v) => typeof v === 'string') || typeof n.output !== 'string')
      fail('inputs must be names and output a name');
    if (!isRecord(n.attrs)) fail('attrs must be an object');
    const [lo, hi] = rule.arity;
    if (n.inputs.length < lo || n.inputs.length > hi)
      fail(`${n.inputs.length} inputs, expected ${lo === hi ? lo : `${lo} to ${hi}`}`);
    const res = (n.attrs as { residual?: unknown }).residual;
    for (const v of typeof res === 'string' ? [...n.inputs, res] : n.inputs)
      if (!defined.has(v)) fail(`input '${v}' is not defined before use`);
    if (!has(g.values, n.output)) fail(`output '${n.output}' has no value entry`);
    if (defined.has(n.output)) fail(`output '${n.output}' is defined twice`);
    const out = g.values[n.output];
    const ctx: CheckCtx<unknown> = {
      n: n as Node,
      bad: fail,
      out,
      value: (k) =>
        has(g.values, n.inputs[k]) ? g.values[n.inputs[k]] : fail(`input ${k} '${n.inputs[k]}' must be a value`),
      constant: (k) =>
        has(g.constants, n.inputs[k])
          ? g.constants[n.inputs[k]]
          : fail(`input ${k} '${n.inputs[k]}' must be a constant`),
      isConstant: (k) => has(g.constants, n.inputs[k]),
      valueNamed: (v) => (has(g.values, v) && !has(g.constants, v) ? g.values[v] : undefined),
    };
    rule.check(ctx);
    // the op's own shape rule decides the output shape (no second copy of it here)
    let want: Info | undefined;
    try {
      want = inferNode(g, n as Node);
    } catch (e) {
      fail((e as Error).message);
    }
    if (!same(out.shape, want.shape))
      fail(`output '${n.output}' has shape ${fmtShape(out.shape)}, the op gives ${fmtShape(want.shape)}`);
    // a float result may be stored int8 only by an op that requantizes in its epilogue (conv2d, linear)
    const requantized = rule.traits.epilogue === true && out.dtype === 'int8' && want.dtype === 'float32';
    if (out.dtype !== want?.dtype && !requantized)
      fail(`output '${n.output}' is ${out.dtype}, the op gives ${want?.dtype}`);
    defined.add(n.output);
  }
  for (const output of g.outputs) {
    if (typeof output !== 'string' || !defined.has(output) || !has(g.values, output) || g.inputs.includes(output))
      bad(`output ${JSON.stringify(output)} is not produced by any node`);
    const dt = g.values[output].dtype;
    if (dt !== 'float32' && dt !== 'int32') bad(`output '${output}' is ${dt}, expected float32 or int32`);
  }
  checkMeta(g, source, bad);
  // the Session's arena holds at least one sample's activations, beside the weights
  const arena = planMemory(g, 1).arenaBytes;
  if (arena + weightBytes > MEMORY_LIMIT_BYTES)
    bad(
      `one sample needs ${arena} bytes of activations (input ${fmtShape(g.values[input].shape)}) and the weights ${weightBytes}, ` +
        `more than the engine's memory (${MEMORY_LIMIT_BYTES} bytes)`,
    );
}
