// The ONNX importer's model-level steps: opset and graph checks, the one graph input (NCHW becomes
// NHWC; an input whose first layout op is Transpose to NCHW is taken as NHWC), Graduate's own
// export's input normalization (recognised and turned back into meta.input), each node converted
// by looking its op up in the converter table (converters.ts) — int8 tensors through the int8
// converters first (convert-quant.ts), every other op reading a DequantizeLinear as float — and the
// graph output (a quantized model's requantizations fused into its int8 layers, int8-epilogue.ts).
// Not for: what an op means (convert-*.ts), layouts (layout.ts) or constants (fold.ts).
import type { Graph, InputSpec } from '../../graph/ir.js';
import { MEMORY_LIMIT_BYTES } from '../../graph/validate.js';
import { INPUT_NAME, type OnnxInputMeta } from '../export.js';
import { DT, IMPORT_OPSETS, type ModelProto, type NodeProto, num } from '../proto.js';
import { attrs } from './attrs.js';
import { Context } from './context.js';
import { INT8_INPUT, INT8_MOVES, int8Move, QUANT } from './convert-quant.js';
import { converterFor, MS_DOMAIN, SUPPORTED_MS_OPS, SUPPORTED_OPS } from './converters.js';
import { fuseInt8Epilogues } from './int8-epilogue.js';
import { type Entry, perSample, type Val } from './layout.js';

export class Importer extends Context {
  constructor(
    private readonly model: ModelProto,
    source: string,
    baseDir: string,
  ) {
    super(source, baseDir);
  }

  run(): Graph {
    const { model, bad, g } = this;
    const graph = model.graph ?? bad('the model has no graph (is this an ONNX file?)');
    for (const o of model.opsetImport ?? []) {
      if (!o.domain || o.domain === 'ai.onnx') this.opset = num(o.version);
    }
    const [lo, hi] = IMPORT_OPSETS;
    if (this.opset < lo || this.opset > hi)
      bad(`opset ${this.opset || '(none)'} of the default domain is not supported (supported: ${lo}–${hi})`);
    const props = new Map((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
    const json = <T>(key: string): T | undefined => {
      const s = props.get(key);
      if (s === undefined) return undefined;
      try {
        return JSON.parse(s) as T;
      } catch {
        return bad(`metadata_props '${key}' is not valid JSON`);
      }
    };
    for (const t of graph.initializer ?? []) this.env.set(t.name ?? '', this.tensor(t));
    for (const n of graph.node ?? []) for (const i of n.input ?? []) this.uses.set(i, (this.uses.get(i) ?? 0) + 1);

    // the one graph input (initializers listed as inputs by old exporters are not inputs)
    const inputs = (graph.input ?? []).filter((i) => !this.env.has(i.name ?? ''));
    if (inputs.length !== 1) bad(`expected one graph input, found ${inputs.length}`);
    const outputs = graph.output ?? [];
    if (outputs.length !== 1) bad(`expected one graph output, found ${outputs.length}`);
    const input = inputs[0];
    const tt = input.type?.tensorType;
    if (!tt || tt.elemType !== DT.FLOAT)
      bad(`input '${input.name}' must be a float32 tensor (elem_type ${tt?.elemType ?? 'none'})`);
    const dims = (tt?.shape?.dim ?? []).map((d, i) => {
      if (i === 0) return -1;
      const v = num(d.dimValue);
      if (!(v > 0)) bad(`input '${input.name}' dimension ${i} is not a fixed size (${d.dimParam || v})`);
      return v;
    });
    if (dims.length < 2) bad(`input '${input.name}' must have a batch and a feature dimension`);
    if (perSample(dims) * 4 > MEMORY_LIMIT_BYTES)
      bad(
        `input '${input.name}' [${dims.join(', ')}] needs ${perSample(dims) * 4} bytes per sample, more than the engine's memory (${MEMORY_LIMIT_BYTES} bytes)`,
      );
    const meta = json<OnnxInputMeta>('input');
    const nhwc = dims.length === 4 && (meta?.layout === 'NHWC' || this.inputIsNhwc(input.name ?? ''));
    const shape = dims.length === 4 && !nhwc ? [-1, dims[2], dims[3], dims[1]] : dims;
    g.inputs = ['input'];
    g.values.input = { shape, dtype: 'float32' };
    const inEntry: Val = { kind: 'value', v: 'input', dims, layout: dims.length === 4 && !nhwc ? 'nchw' : 'flat' };
    this.env.set(input.name ?? '', inEntry);

    // Graduate's own export: its normalization nodes become meta.input again
    let nodes = [...(graph.node ?? [])];
    let spec: InputSpec = { kind: dims.length === 4 ? 'image' : 'tabular', shape: shape.slice(1), scale: 1 };
    const norm = meta && input.name === INPUT_NAME ? this.normalization(meta, nodes, outputs[0].name ?? '') : undefined;
    if (norm && meta) {
      nodes = nodes.slice(norm.count);
      this.env.set(norm.output, inEntry);
      const { scale, mean, std } = meta.normalization;
      // one value for every channel broadcasts (ONNX's Sub/Div did); the runtime reads one per channel
      const C = shape[shape.length - 1];
      const perChannel = (a?: number[]) => (a?.length === 1 ? new Array<number>(C).fill(a[0]) : a);
      spec = { kind: meta.kind, shape: shape.slice(1), scale, mean: perChannel(mean), std: perChannel(std) };
    }
    const classNames = json<unknown>('classNames');
    g.meta = {
      classNames: Array.isArray(classNames) ? classNames.map(String) : [],
      input: spec,
      producer: `onnx:${model.producerName || 'unknown'}${model.producerVersion ? ` ${model.producerVersion}` : ''}`,
      onnx: {
        inputName: input.name,
        inputLayout: dims.length === 4 ? (nhwc ? 'NHWC' : 'NCHW') : 'NC',
        opset: this.opset,
      },
    };

    for (const [i, n] of nodes.entries()) {
      this.node = n;
      this.nodeName = n.name || `${n.opType}_${i}`;
      const e = this.convert(n);
      const name = n.output?.[0];
      if (name) this.env.set(name, e);
    }

    const outName = outputs[0].name ?? '';
    const out = this.env.get(outName);
    if (!out) bad(`output '${outName}' is not produced by any node`);
    let o = this.materialize(out as Entry, 'graph output');
    if (o.order) bad(`output '${outName}' is a flattened NCHW tensor in NCHW order: Graduate keeps NHWC order`);
    if (o.layout === 'nchw' && perSample(o.dims) !== o.dims[1])
      bad(`output '${outName}' is a 4-D NCHW tensor: Graduate's output would be NHWC`);
    if (this.g.values[o.v].shape.length > 2 && o.dims.length === 2) o = this.flatten2d(o);
    if (g.inputs.includes(o.v)) bad(`output '${outName}' is the input itself`);
    g.outputs = [o.v];
    this.int8Summary();
    const C = perSample(o.dims);
    if (g.meta.classNames.length !== C) g.meta.classNames = Array.from({ length: C }, (_, i) => String(i));
    return g;
  }

  /**
   * The normalization exportOnnx writes, recognised by what it computes, not by node names: the
   * first nodes are exactly Mul by meta's scale, Sub of its mean, Div by its std (each present iff
   * meta has it), chained from the input through default-domain ops, with initializers equal to
   * meta's values and each intermediate read by the next node only. Anything else is left to the
   * ordinary import (which maps Mul/Sub/Div to affine nodes, so the model stays correct).
   */
  private normalization(
    meta: OnnxInputMeta,
    nodes: NodeProto[],
    graphOutput: string,
  ): { count: number; output: string } | undefined {
    const n = meta.normalization;
    if (typeof n !== 'object' || n === null) return undefined;
    const steps: [string, number[]][] = [];
    if (n.scale !== undefined && n.scale !== 1) steps.push(['Mul', [n.scale]]);
    if (n.mean) steps.push(['Sub', n.mean]);
    if (n.std) steps.push(['Div', n.std]);
    if (steps.length === 0) return undefined;
    let last = INPUT_NAME;
    for (const [i, [op, want]] of steps.entries()) {
      const node = nodes[i];
      if (!node || node.opType !== op || (node.domain && node.domain !== 'ai.onnx')) return undefined;
      if (node.input?.length !== 2 || node.input[0] !== last || node.output?.length !== 1) return undefined;
      if ((node.attribute ?? []).length) return undefined;
      const c = this.env.get(node.input[1]);
      const values = Array.isArray(want) ? want : [];
      if (c?.kind !== 'const' || c.data.length !== values.length) return undefined;
      if (c.dims.length > 1 || values.some((v, j) => typeof v !== 'number' || Math.fround(v) !== c.data[j]))
        return undefined;
      // the input itself and every intermediate feed only the next step
      if (this.used(last) !== 1 || last === graphOutput) return undefined;
      last = node.output[0];
    }
    return { count: steps.length, output: last };
  }

  /** NHWC when the first layout-relevant op after the input (through elementwise ops and Q/DQ) is Transpose to NCHW. */
  private inputIsNhwc(name: string): boolean {
    const nodes = this.model.graph?.node ?? [];
    let frontier = [name];
    for (let depth = 0; depth < 8 && frontier.length; depth++) {
      const next: string[] = [];
      for (const n of nodes) {
        if (!n.input?.some((i) => frontier.includes(i))) continue;
        const op = n.opType ?? '';
        if (op === 'Transpose') return attrs(n).ints('perm')?.join() === '0,3,1,2';
        if (!['Mul', 'Sub', 'Div', 'Add', 'Identity', 'Cast', 'QuantizeLinear', 'DequantizeLinear'].includes(op))
          return false;
        next.push(...(n.output ?? []));
      }
      frontier = next;
    }
    return false;
  }

  /**
   * A quantized model's record (meta.onnx.int8): the layers computing in int8, and those in float32
   * with the reason; the requantizations fused into the int8 layers first (int8-epilogue.ts).
   */
  private int8Summary(): void {
    const g = this.g;
    const quantized = Object.values(g.values).some((v) => v.dtype === 'int8');
    if (!quantized && this.floatLayers.length === 0) return;
    fuseInt8Epilogues(g);
    const int8Layers = g.nodes
      .filter((n) => (n.op === 'conv2d' || n.op === 'linear') && g.constants[n.inputs[1]]?.dtype === 'int8')
      .map((n) => n.name);
    const float32Layers = this.floatLayers.map((f) => ({ name: f.node, reason: f.reason }));
    g.meta.onnx = { ...(g.meta.onnx as object), int8: { int8Layers, float32Layers } };
  }

  /** The entry node n's first output becomes: its op's converter, looked up by domain and type. */
  private convert(n: NodeProto): Entry {
    const op = n.opType ?? '';
    const domain = n.domain ?? '';
    const A = attrs(n);
    if (domain === MS_DOMAIN) {
      const ms = converterFor(domain, op);
      if (!ms) return this.fail(`com.microsoft op is not supported (supported: ${SUPPORTED_MS_OPS.join(', ')})`);
      return this.withFloatInputs(n, () => ms(this, n, A));
    }
    if (domain && domain !== 'ai.onnx')
      this.fail(
        `domain '${domain}' is not supported (supported: the default domain; com.microsoft ${SUPPORTED_MS_OPS.join(', ')})`,
      );
    const convert = converterFor('', op);
    if (!convert)
      return this.fail(
        `op is not supported by Graduate's ONNX import (supported: ${SUPPORTED_OPS.join(', ')}; com.microsoft: ${SUPPORTED_MS_OPS.join(', ')})`,
      );
    // quantized tensors: their own converters, int8 layers and moves (convert-quant.ts)
    if (Object.hasOwn(QUANT, op)) return convert(this, n, A);
    const x0 = this.input(0);
    if (x0?.kind === 'quant' || x0?.kind === 'dq') {
      if (Object.hasOwn(INT8_INPUT, op)) return INT8_INPUT[op](this, n, A);
      if (INT8_MOVES.has(op)) return int8Move(this, n, () => convert(this, n, A));
    }
    const w = n.input?.[1] ? this.env.get(n.input[1]) : undefined;
    if ((op === 'Conv' || op === 'Gemm' || op === 'MatMul') && w?.kind === 'const' && this.qweights.has(w))
      this.floatLayers.push({
        node: this.nodeName,
        reason: 'its input is float32, not the DequantizeLinear of an int8 tensor',
      });
    return this.withFloatInputs(n, () => convert(this, n, A));
  }

  /** convert() with every DequantizeLinear input read as float (its dequantize node, made once). */
  private withFloatInputs(n: NodeProto, convert: () => Entry): Entry {
    const saved = new Map<string, Entry>();
    for (const name of n.input ?? []) {
      const e = name ? this.env.get(name) : undefined;
      if (e?.kind === 'dq' && !saved.has(name)) {
        saved.set(name, e);
        this.env.set(name, this.materialize(e, 'input'));
      }
    }
    try {
      return convert();
    } finally {
      for (const [name, e] of saved) this.env.set(name, e);
    }
  }
}
