// Which import path reads a model. The image path (importer.ts) maps single-input float
// classifiers onto Graduate's NHWC kernels with no transposes (layouts relabelled at import); the
// general path (general.ts) reads any graph with ONNX's semantics and axis order. A model that
// looks like a classifier — one float input of rank ≥ 2 with fixed sizes after the batch, one
// output, an opset and ops the image path knows — goes the image way; if that path refuses it
// (an NCHW output, a Shape of a computed tensor, …) the general path is tried, and when both
// refuse, the image path's reason is reported. Everything else goes the general way.
// Not for: the conversions themselves.
import { GraduateError } from '../../errors.js';
import type { Graph } from '../../graph/ir.js';
import { validateGraph } from '../../graph/validate.js';
import { DT, IMPORT_OPSETS, type ModelProto, num } from '../proto.js';
import { converterFor, MS_DOMAIN } from './converters.js';
import { GeneralImporter, type GeneralOptions } from './general.js';
import { GENERAL_OPS, SEQUENCE_OPS } from './general-ops.js';
import { Importer } from './importer.js';

/** Whether the image path is made for this model (its shape, not its every detail). */
function classifierShaped(model: ModelProto): boolean {
  const graph = model.graph;
  if (!graph) return true; // the image path names the problem
  const inits = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const inputs = (graph.input ?? []).filter((i) => !inits.has(i.name ?? ''));
  if (inputs.length !== 1 || (graph.output ?? []).length !== 1) return false;
  const tt = inputs[0].type?.tensorType;
  const dims = tt?.shape?.dim ?? [];
  if (tt?.elemType !== DT.FLOAT || dims.length < 2 || dims.slice(1).some((d) => !(num(d.dimValue) > 0))) return false;
  let opset = 0;
  for (const o of model.opsetImport ?? []) if (!o.domain || o.domain === 'ai.onnx') opset = num(o.version);
  if (opset < IMPORT_OPSETS[0] || opset > IMPORT_OPSETS[1]) return false;
  return (graph.node ?? []).every((n) => {
    const d = n.domain ?? '';
    return converterFor(d === MS_DOMAIN ? d : '', n.opType ?? '') !== undefined;
  });
}

export interface PathOptions {
  shapes?: GeneralOptions['shapes'];
  constants?: GeneralOptions['constants'];
}

/**
 * The general path, and when it cannot carry the batch axis symbolically (the batch's size read by
 * Shape, or the batch moved or merged by a transpose or reshape), the same graph specialized to
 * one sample (meta.perSample: the runtime runs a batch sample by sample).
 */
function readGeneral(model: ModelProto, source: string, baseDir: string, opts: PathOptions): Graph {
  const read = (batchOne: boolean) =>
    new GeneralImporter(model, source, baseDir, GENERAL_OPS, { ...opts, batchOne }, SEQUENCE_OPS).run();
  try {
    return read(false);
  } catch (e) {
    if (!(e instanceof GraduateError) || !/batch/i.test(e.message)) throw e;
    let g: Graph;
    try {
      g = read(true);
    } catch {
      throw e;
    }
    if (g.meta.perSample !== true) throw e;
    (g.meta.onnx as Record<string, unknown>).perSampleBecause = e.message;
    return g;
  }
}

/** The model as a graph, by the path made for it (see the header). */
export function readModel(model: ModelProto, source: string, baseDir: string, opts: PathOptions = {}): Graph {
  const general = () => readGeneral(model, source, baseDir, opts);
  // the fallback must also be a graph the runtime takes (a NaN weight is refused, not re-read)
  const checkedGeneral = () => {
    const g = general();
    validateGraph(g, source);
    return g;
  };
  if (!classifierShaped(model) || opts.shapes || opts.constants) return general();
  try {
    return new Importer(model, source, baseDir).run();
  } catch (e) {
    if (!(e instanceof GraduateError)) throw e;
    let g: Graph;
    try {
      g = checkedGeneral();
    } catch {
      throw e;
    }
    // why the fast path did not take it (importOnnx tells the user: int8 layers now compute in float)
    (g.meta.onnx as Record<string, unknown>).imagePathRefused = e.message;
    return g;
  }
}
