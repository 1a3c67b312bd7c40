// `graduate compile`: checkpoint → graph → passes → pruning (+ fine-tuning) → quantization →
// accuracy gate → artifact and report. Each stage is a function of the previous graph; the
// pipeline only sequences them, measures, and refuses to emit a model that lost too much.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { InferenceBackend } from '../backend/backend.js';
import type { Augment } from '../data/augment.js';
import type { ArrayDataset } from '../data/dataset.js';
import { GraduateError, ValueError } from '../errors.js';
import { writeArtifact } from '../graph/artifact.js';
import { type Graph, graphMacs, graphParams, nodeMacs } from '../graph/ir.js';
import { nonFiniteValues, validateGraph } from '../graph/validate.js';
import type { Engine } from '../kernels/engine.js';
import { graphModel } from '../nn/graph-module.js';
import { Session } from '../runtime/session.js';
import { manualSeed } from '../tensor/random.js';
import type { Checkpoint } from '../train/checkpoint.js';
import { fit, type TrainConfig } from '../train/fit.js';
import { captureGraph } from './capture.js';
import { fuseConvPool } from './passes/fuse-pool.js';
import { PASS_NAMES, type PassReport, runPasses } from './passes/index.js';
import { type PruneResult, pruneChannels, pruneDeadUnits } from './prune.js';
import { type QuantizeOptions, quantizeGraph } from './quantize.js';
import { evaluateGraph } from './verify.js';

/** Thrown when the graduated model loses more accuracy than allowed (nothing is written). */
export class AccuracyGateError extends GraduateError {
  override name = 'AccuracyGateError';
}

/**
 * Thrown, whatever --max-accuracy-drop allows, when the graduated model is no better than guessing
 * or a graph holds non-finite weights (nothing is written): the drop gate only compares with the
 * parent, and a broken parent (a NaN weight) makes a broken child with no drop at all.
 */
export class SanityGateError extends GraduateError {
  override name = 'SanityGateError';
}

/**
 * Accuracy of guessing on labels `y` of `classes` classes: the better of a uniform guess
 * (1/classes) and always answering the most frequent test label.
 */
export function chanceAccuracy(y: ArrayLike<number>, classes: number): number {
  const counts = new Map<number, number>();
  let top = 0;
  for (let i = 0; i < y.length; i++) {
    const c = (counts.get(y[i]) ?? 0) + 1;
    counts.set(y[i], c);
    top = Math.max(top, c);
  }
  return Math.max(1 / Math.max(1, classes), top / Math.max(1, y.length));
}

/**
 * The least accuracy that is not "near chance" on n test samples: chance plus the larger of
 * - 10% of the way from chance to perfect (10 balanced classes: 19%; two: 55%), so a model that
 *   barely beats guessing on a large test set is still refused, and
 * - two standard errors of a guesser's accuracy, 2·sqrt(c(1-c)/n), so a small test set's luck
 *   does not pass a guesser (30 samples, 3 classes: 50.5%).
 */
export function sanityThreshold(chance: number, n: number): number {
  return chance + Math.max(0.1 * (1 - chance), 2 * Math.sqrt((chance * (1 - chance)) / Math.max(1, n)));
}

/** The first non-finite value among a graph's constants ('name' at index i), or undefined. */
export function nonFiniteConstant(g: Graph): string | undefined {
  for (const [name, c] of Object.entries(g.constants)) {
    const why = nonFiniteValues(name, c);
    if (why) return why;
    for (const v of [...(c.quant?.scale ?? []), ...(c.quant?.zeroPoint ?? [])])
      if (!Number.isFinite(v)) return `constant '${name}' has a non-finite quantization parameter ${v}`;
  }
  return undefined;
}

export interface CompileOptions {
  /** Fraction of MACs to remove by structured channel pruning (0 = only dead units). */
  prune?: number;
  /** Kept channels of each pruned layer rounded to a multiple of this (default 8; 1 = exact). */
  pruneAlign?: number;
  quantize?: 'int8' | 'fp16' | 'none';
  calibration?: QuantizeOptions['method'];
  /** Percentage points of test accuracy the graduated model may lose. */
  maxAccuracyDrop?: number;
  /**
   * Emit a model whose accuracy is near chance (e.g. imbalanced data, where always answering the
   * majority class scores 95%). Non-finite weights are refused all the same.
   */
  allowNearChance?: boolean;
  /** The artifact's file, for messages (validation names it). */
  output?: string;
  finetuneEpochs?: number;
  /** Peak learning rate of fine-tuning (cosine decay, Adam). */
  finetuneLr?: number;
  passes?: readonly string[];
  dumpAfter?: string;
  log?: (line: string) => void;
}

export interface LayerRow {
  name: string;
  op: string;
  shapeBefore: string;
  shapeAfter: string;
  paramsBefore: number;
  paramsAfter: number;
  macsBefore: number;
  macsAfter: number;
  precision: string;
  ms: number;
}

export interface CompileReport {
  layers: LayerRow[];
  passes: PassReport[];
  pruning?: { dead: PruneResult['layers']; channels?: PruneResult['layers'] };
  quantization?: unknown;
  totals: {
    fileBytes: [number, number];
    macs: [number, number];
    params: [number, number];
    peakBytes: [number, number];
    batch1LatencyMs: [number, number];
    batch256PerSecond: [number, number];
    accuracy: [number, number];
  };
  dump?: string;
}

const paramsOf = (g: Graph, n: Graph['nodes'][number]) =>
  n.inputs.slice(1).reduce((s, c) => s + (g.constants[c]?.data.length ?? 0), 0);

/** Batch-1 p50 latency (ms) and batch-256 throughput (samples/s) of a graph on `x`. */
export function measureGraph(
  g: Graph,
  x: Float32Array | Int32Array,
  engine: Engine,
  backend?: InferenceBackend,
): { latencyMs: number; perSecond: number; peakBytes: number; perNodeMs: Map<string, number> } {
  const per = x.length / 256;
  const s = new Session(g, backend ? { backend, maxBatch: 256 } : { engine, maxBatch: 256 });
  try {
    const one = x.subarray(0, per);
    for (let i = 0; i < 20; i++) s.run(one, 1);
    const lat: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      s.run(one, 1);
      lat.push(performance.now() - t0);
    }
    lat.sort((a, b) => a - b);
    for (let i = 0; i < 3; i++) s.run(x, 256);
    const t0 = performance.now();
    const reps = 10;
    for (let i = 0; i < reps; i++) s.run(x, 256);
    const perSecond = (256 * reps) / ((performance.now() - t0) / 1000);
    return {
      latencyMs: lat[Math.floor(lat.length / 2)],
      perSecond,
      peakBytes: s.plan.arenaBytes,
      perNodeMs: s.profile(x, 256, 5),
    };
  } finally {
    s.dispose();
  }
}

export interface CompileInputs {
  parent: Graph;
  /** The checkpoint's model (for fine-tuning and the parent's file size). */
  checkpoint?: Checkpoint;
  calib: ArrayDataset;
  test: ArrayDataset;
  engine: Engine;
  /** Where the accuracy gate and the speed report run (--device; default the wasm engine). */
  backend?: InferenceBackend;
}

/** Runs the whole pipeline; returns the graduated graph, its artifact bytes and the report. */
export function compile(
  inputs: CompileInputs,
  opts: CompileOptions = {},
): { graph: Graph; bytes: Uint8Array; report: CompileReport } {
  const log = opts.log ?? (() => {});
  const { parent, calib, test, engine } = inputs;
  const corruptParent = nonFiniteConstant(parent);
  if (corruptParent)
    throw new SanityGateError(`the model to compile is corrupt: ${corruptParent}; no artifact written`);
  const selected = opts.passes ?? PASS_NAMES;
  for (const p of selected)
    if (!(PASS_NAMES as readonly string[]).includes(p))
      throw new ValueError(`--passes: unknown pass '${p}' (valid: ${PASS_NAMES.join(', ')})`);
  // before pruning: what only training needs goes, and batch norms fold (after reshapes that keep channels move out of the way)
  const early: readonly string[] = ['eliminate', 'reshapes', 'fold-bn'];
  const pre = selected.filter((p) => early.includes(p));
  const post = selected.filter((p) => !early.includes(p));
  const dumps: string[] = [];
  const dumpAfter = (names: readonly string[]) =>
    opts.dumpAfter && names.includes(opts.dumpAfter) ? opts.dumpAfter : undefined;

  const a = runPasses(parent, pre, { dumpAfter: dumpAfter(pre), log });
  if (a.dump) dumps.push(a.dump);
  let g = a.graph;
  const nCalib = calib.size;
  const calibX = calib.x as Float32Array;

  const dead = pruneDeadUnits(g, calibX, nCalib, { engine });
  g = dead.graph;
  log(`prune dead units: MACs ${dead.macs.before.toLocaleString()} → ${dead.macs.after.toLocaleString()}`);
  let channels: PruneResult | undefined;
  if (opts.prune) {
    channels = pruneChannels(g, { fraction: opts.prune, criterion: 'l1', align: opts.pruneAlign ?? 8 });
    g = channels.graph;
    log(
      `prune channels (${opts.prune}): MACs → ${channels.macs.after.toLocaleString()} (target ${channels.macs.target?.toLocaleString()})`,
    );
    // layers pruning cannot shrink (e.g. channels read by a recurrent scan) are named, not skipped silently
    if (channels.macs.after > (channels.macs.target ?? 0)) {
      // a QKV linear's channels are blocked, its heads are not (pruned whole: op 'attention')
      const byHeads = new Set(channels.layers.filter((l) => l.op === 'attention').map((l) => l.layer));
      const kept = channels.layers
        .filter((l) => l.blocked && !byHeads.has(l.layer))
        .map((l) => `${l.layer} (${l.blocked})`);
      log(`prune channels: target not reached; channels kept whole: ${kept.join('; ') || 'none'}`);
    }
  }
  if (opts.finetuneEpochs && opts.finetuneEpochs > 0)
    g = finetune(g, calib, opts.finetuneEpochs, opts.finetuneLr ?? 1e-3, log, inputs.checkpoint?.config.train);

  const b = runPasses(g, post, { dumpAfter: dumpAfter(post), log });
  if (b.dump) dumps.push(b.dump);
  g = b.graph;

  let quantization: unknown;
  if (opts.quantize && opts.quantize !== 'none') {
    const q = quantizeGraph(g, calibX, nCalib, {
      mode: opts.quantize,
      method: opts.calibration ?? 'percentile',
      engine,
      test,
      maxAccuracyDrop: opts.maxAccuracyDrop ?? 0.5,
      log,
    });
    // int8 conv → 2×2 max pool pairs become one kernel (the runtime no longer fuses on load)
    g = fuseConvPool(q.graph);
    quantization = q.report;
  }

  // non-finite weights first: the validator refuses them too, without the gate's advice
  const corrupt = nonFiniteConstant(g);
  if (corrupt?.includes('overflows float16'))
    throw new SanityGateError(
      `the compiled model is unusable: ${corrupt}; compile with --quantize int8 or none; no artifact written`,
    );
  if (corrupt) throw new SanityGateError(`the compiled model is corrupt: ${corrupt}; no artifact written`);
  // pruning, fine-tuning and quantization rebuild the graph: what is written must be what readArtifact accepts
  validateGraph(g, `${opts.output ?? 'the compiled graph'} (before writing)`);

  // the accuracy gate
  const before = evaluateGraph(parent, test, engine, 256, inputs.backend).accuracy;
  const after = evaluateGraph(g, test, engine, 256, inputs.backend).accuracy;
  const drop = (before - after) * 100;
  const budget = opts.maxAccuracyDrop ?? 0.5;
  sanityGate(after, test, parent.meta.classNames.length, opts.allowNearChance ?? false, log);
  log(`accuracy ${before.toFixed(4)} → ${after.toFixed(4)} (drop ${drop.toFixed(2)} pp, budget ${budget} pp)`);
  if (drop > budget) {
    throw new AccuracyGateError(
      `accuracy dropped by ${drop.toFixed(2)} percentage points (${(before * 100).toFixed(2)}% → ${(after * 100).toFixed(2)}%), more than --max-accuracy-drop ${budget}; no artifact written`,
    );
  }

  const bytes = writeArtifact(g);
  const sample = new Float32Array(256 * (test.x.length / test.size));
  for (let i = 0; i < sample.length; i++) sample[i] = test.x[i % test.x.length];
  const mBefore = measureGraph(parent, sample, engine, inputs.backend);
  const mAfter = measureGraph(g, sample, engine, inputs.backend);
  const parentFile = inputs.checkpoint
    ? statSync(join(inputs.checkpoint.dir, 'model.safetensors')).size
    : writeArtifact(parent).length;
  const byName = new Map(parent.nodes.map((n) => [n.name, n]));
  const layers: LayerRow[] = g.nodes.map((n) => {
    const p = byName.get(n.name);
    const w = n.inputs[1] ? g.constants[n.inputs[1]] : undefined;
    return {
      name: n.name,
      op:
        n.op +
        ((n.attrs as { activation?: string }).activation && (n.attrs as { activation?: string }).activation !== 'none'
          ? `+${(n.attrs as { activation: string }).activation}`
          : '') +
        ((n.attrs as { residual?: string }).residual ? '+residual' : ''),
      shapeBefore: p ? `[${parent.values[p.output].shape.slice(1).join(', ')}]` : '-',
      shapeAfter: `[${g.values[n.output].shape.slice(1).join(', ')}]`,
      paramsBefore: p ? paramsOf(parent, p) : 0,
      paramsAfter: paramsOf(g, n),
      macsBefore: p ? nodeMacs(parent, p) : 0,
      macsAfter: nodeMacs(g, n),
      precision: w?.dtype ?? g.values[n.output].dtype,
      ms: mAfter.perNodeMs.get(n.name) ?? 0,
    };
  });
  const report: CompileReport = {
    layers,
    passes: [...a.report, ...b.report],
    pruning: { dead: dead.layers, channels: channels?.layers },
    quantization,
    totals: {
      fileBytes: [parentFile, bytes.length],
      macs: [graphMacs(parent), graphMacs(g)],
      params: [graphParams(parent), graphParams(g)],
      peakBytes: [mBefore.peakBytes, mAfter.peakBytes],
      batch1LatencyMs: [mBefore.latencyMs, mAfter.latencyMs],
      batch256PerSecond: [mBefore.perSecond, mAfter.perSecond],
      accuracy: [before, after],
    },
    dump: dumps.join('\n\n') || undefined,
  };
  return { graph: g, bytes, report };
}

/** Refuses a compiled graph with near-chance accuracy (see sanityThreshold; unless allowNearChance, then it only warns). */
function sanityGate(
  accuracy: number,
  test: ArrayDataset,
  classes: number,
  allowNearChance: boolean,
  log: (line: string) => void,
): void {
  const chance = chanceAccuracy(test.y, classes);
  const floor = sanityThreshold(chance, test.size);
  if (accuracy >= floor) return;
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const what =
    `test accuracy ${pct(accuracy)} on ${test.size} samples of ${test.name} is near chance: chance level ${pct(chance)} ` +
    `(the better of 1/${classes} and the most frequent label's share), refused below ${pct(floor)}`;
  if (allowNearChance) {
    log(`warning: ${what}; written anyway (--allow-near-chance)`);
    return;
  }
  throw new SanityGateError(
    `${what}, whatever --max-accuracy-drop allows; no artifact written (pass --allow-near-chance if that is expected, e.g. for imbalanced data)`,
  );
}

/**
 * Fine-tunes a (pruned) graph on `data` with the training loop; returns the new graph. Any float
 * graph trains — a captured checkpoint, an imported ONNX model, an artifact — through a graph
 * module (nn/graph-module.ts), and captures back under its node names.
 * The parent's regularization (label smoothing, weight decay, augmentation, from the checkpoint's
 * training config) carries over: without it the pruned net overfits the few epochs (measured on
 * the cnn preset trained with label smoothing 0.1: see docs/compile.md).
 */
function finetune(
  g: Graph,
  data: ArrayDataset,
  epochs: number,
  lr: number,
  log: (l: string) => void,
  parentTrain: Record<string, unknown> = {},
): Graph {
  manualSeed(0);
  const { model, spec } = graphModel(g);
  const inherited: Partial<TrainConfig> = {};
  if (typeof parentTrain.labelSmoothing === 'number') inherited.labelSmoothing = parentTrain.labelSmoothing;
  if (typeof parentTrain.weightDecay === 'number') inherited.weightDecay = parentTrain.weightDecay;
  if (parentTrain.augment && typeof parentTrain.augment === 'object')
    inherited.augment = parentTrain.augment as Augment;
  try {
    const r = fit({
      model,
      modelSpec: spec,
      train: data,
      config: { epochs, batchSize: 64, lr, optimizer: 'adam', seed: 0, schedule: 'cosine', ...inherited },
      log,
      progress: false,
    });
    r.optimizer.dispose();
    // the graph module itself (not its Sequential): constants keep the graph's names
    const inputDType = g.values[g.inputs[0]].dtype === 'int32' ? 'int32' : 'float32';
    const tuned = captureGraph(model.layers[0], g.meta.input, g.meta.classNames, { inputDType });
    tuned.meta = { ...g.meta };
    return runPasses(tuned, ['eliminate', 'reshapes', 'fold-bn']).graph;
  } finally {
    model.dispose();
  }
}

/** Human-readable report. */
export function formatCompileReport(r: CompileReport): string {
  const t = r.totals;
  const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
  const row = (cells: string[], w: number[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  const w = [16, 22, 16, 16, 18, 22, 9, 8];
  const lines = [row(['layer', 'op', 'shape before', 'shape after', 'params', 'MACs', 'precision', 'ms'], w)];
  for (const l of r.layers) {
    lines.push(
      row(
        [
          l.name,
          l.op,
          l.shapeBefore,
          l.shapeAfter,
          `${l.paramsBefore}→${l.paramsAfter}`,
          `${l.macsBefore}→${l.macsAfter}`,
          l.precision,
          l.ms.toFixed(2),
        ],
        w,
      ),
    );
  }
  const pct = (x: [number, number]) => `${((1 - x[1] / Math.max(1, x[0])) * 100).toFixed(1)}% less`;
  lines.push(
    '',
    `file size       ${kib(t.fileBytes[0])} → ${kib(t.fileBytes[1])} (${(t.fileBytes[0] / t.fileBytes[1]).toFixed(2)}× smaller)`,
    `MACs/sample     ${t.macs[0].toLocaleString()} → ${t.macs[1].toLocaleString()} (${pct(t.macs)})`,
    `parameters      ${t.params[0].toLocaleString()} → ${t.params[1].toLocaleString()} (${pct(t.params)})`,
    `peak memory     ${kib(t.peakBytes[0])} → ${kib(t.peakBytes[1])} (activations of one pass: the session runs batches in cache-sized tiles)`,
    `batch-1 p50     ${t.batch1LatencyMs[0].toFixed(3)} ms → ${t.batch1LatencyMs[1].toFixed(3)} ms`,
    `batch-256       ${t.batch256PerSecond[0].toFixed(0)} → ${t.batch256PerSecond[1].toFixed(0)} samples/s (${(t.batch256PerSecond[1] / t.batch256PerSecond[0]).toFixed(2)}×)`,
    `accuracy        ${(t.accuracy[0] * 100).toFixed(2)}% → ${(t.accuracy[1] * 100).toFixed(2)}% (${((t.accuracy[1] - t.accuracy[0]) * 100).toFixed(2)} pp)`,
  );
  return lines.join('\n');
}
