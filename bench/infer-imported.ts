// bench:infer's imported-model sections (`npm run bench:infer -- --only imported` runs them alone):
// a PyTorch-exported Fashion-MNIST CNN (test/fixtures/onnx/fashion-cnn.onnx, or --onnx FILE) run
// (a) in fp32 as `graduate import` writes it (importOnnx, then the graph passes: epilogues fused)
//     on Graduate's Session, against onnxruntime-web (wasm) on the original .onnx, same thread count;
// (b) graduated as `graduate compile model.onnx --data fashion-mnist --prune 0.4 --quantize int8
//     --finetune-epochs 1 --finetune-samples N` does it (compile() on the imported graph), against
//     onnxruntime-node (native CPU) on the original .onnx, at batch 1 and batch 256.
// Both sides take the same raw pixels 0..255 (the model normalizes inside); Graduate's tensor is
// NHWC and ONNX Runtime's NCHW (the same bytes for one channel). Interleaved as bench/measure.ts
// does; onnxruntime-web with 2 threads runs in a worker thread afterwards (its thread count is
// fixed per process). Per-node times (Session.profile) show where Graduate's time goes.
// Not for: the parent-checkpoint sections (bench/infer.ts).
import { readFileSync } from 'node:fs';
import { runPasses } from '../src/compile/passes/index.js';
import { AccuracyGateError, compile } from '../src/compile/pipeline.js';
import { preprocessingOf } from '../src/compile/verify.js';
import type { ArrayDataset } from '../src/data/dataset.js';
import { limitDataset } from '../src/data/dataset.js';
import { loadData } from '../src/data/load.js';
import { readArtifact, writeArtifact } from '../src/graph/artifact.js';
import { type Graph, graphMacs } from '../src/graph/ir.js';
import { Engine } from '../src/kernels/engine.js';
import { importOnnx } from '../src/onnx/import.js';
import { Session } from '../src/runtime/session.js';
import { argmaxRows } from '../src/train/metrics.js';
import { agreement, type MeasureSettings, measureAll, type Result, type Runner, summarize } from './measure.js';
import { type OrtPeer, OrtWebWorker, ortNodeSession, ortVersions, ortWebSession } from './peers.js';

export const DEFAULT_IMPORTED_ONNX = 'test/fixtures/onnx/fashion-cnn.onnx';

export interface ImportedBenchOptions {
  onnxPath: string;
  /** A graduated artifact to measure instead of compiling one here (`graduate compile model.onnx …`). */
  graduatedPath?: string;
  quick: boolean;
  /** Timing settings (batch, rounds, …) without `samples`: the test images set it. */
  settings: Omit<MeasureSettings, 'samples'>;
  log: (line: string) => void;
}

export interface Target {
  name: string;
  value: number;
  goal: number;
  met: boolean;
}

export interface ImportedBenchReport {
  /** What to print (the table, notes, profile, targets). */
  lines: string[];
  targets: Target[];
  json: Record<string, unknown>;
}

const PRUNE = 0.4;
const RUN_THREADS = [1, 2] as const;

/** Runs sections (a) and (b); returns the printed lines and the JSON record. */
export async function benchImported(o: ImportedBenchOptions): Promise<ImportedBenchReport> {
  const { log, settings } = o;
  const batch = settings.batch;
  const bytes = new Uint8Array(readFileSync(o.onnxPath));
  const warnings: string[] = [];
  const imported = importOnnx(bytes, o.onnxPath, { warn: (m) => warnings.push(m) });
  const onnxMeta = (imported.meta.onnx ?? {}) as { path?: string; inputLayout?: string; inputName?: string };
  // the general path marks itself; the image path (NHWC kernels, layouts relabelled) does not
  const importPath = onnxMeta.path === 'general' ? 'general' : 'image';
  const f32 = runPasses(imported).graph; // what `graduate import` writes
  const pre = preprocessingOf(imported);
  const like = { like: pre, classNames: imported.meta.classNames };
  const test = loadData('fashion-mnist', 'test', { ...like, limit: o.quick ? 2000 : undefined });
  const per = test.x.length / test.size;
  const nhwc = test.x as Float32Array;
  // ONNX Runtime's input: the same samples in the ONNX file's layout
  const [H, W, C] = pre.inputShape;
  const onnxShape = onnxMeta.inputLayout === 'NCHW' ? [C, H, W] : [...pre.inputShape];
  const nchw = onnxMeta.inputLayout === 'NCHW' && C > 1 ? toNchw(nhwc, test.size, H, W, C) : nhwc;
  log(`imported ${o.onnxPath} (${importPath} path): ${imported.nodes.length} nodes, ${f32.nodes.length} after passes`);

  // ---- (b)'s model: graduated from the imported graph --------------------------------------------
  const e1 = Engine.create({ threads: 1 });
  const e2 = Engine.create({ threads: 2 });
  let graduated: Graph;
  let gate: string;
  let accuracy: [number, number] | undefined;
  let how: string;
  if (o.graduatedPath) {
    graduated = readArtifact(new Uint8Array(readFileSync(o.graduatedPath)), o.graduatedPath);
    gate = 'not run here (--graduated)';
    how = `${o.graduatedPath} (--graduated)`;
  } else {
    const n = o.quick ? 3000 : 10000;
    const train = limitDataset(loadData('fashion-mnist', 'train', like), n);
    const opts = { prune: PRUNE, quantize: 'int8' as const, finetuneEpochs: 1, calibration: 'percentile' as const };
    how = `compile(): prune ${PRUNE} (channels aligned to 8), fine-tune 1 epoch on the first ${n} training images, int8 (percentile), as \`graduate compile ${o.onnxPath} --data fashion-mnist --prune ${PRUNE} --quantize int8 --finetune-epochs 1 --finetune-samples ${n}\``;
    log(`graduating: ${how}…`);
    const inputs = { parent: imported, calib: train, test, engine: e2 };
    try {
      const r = compile(inputs, { ...opts, maxAccuracyDrop: 0.5 });
      graduated = r.graph;
      accuracy = r.report.totals.accuracy;
      gate = 'passed (budget 0.5 pp)';
    } catch (e) {
      if (!(e instanceof AccuracyGateError)) throw e;
      gate = `REFUSED at 0.5 pp (${e.message.split(';')[0]}); measured with the gate off`;
      log('accuracy gate refused; compiling again with the gate off…');
      const r = compile(inputs, { ...opts, maxAccuracyDrop: 100 });
      graduated = r.graph;
      accuracy = r.report.totals.accuracy;
    }
  }
  const gradBytes = writeArtifact(graduated).length;

  // ---- runners ------------------------------------------------------------------------------------
  const sessions: Session[] = [];
  const session = (g: Graph, e: Engine) => {
    const s = new Session(g, { engine: e, maxBatch: batch });
    sessions.push(s);
    return s;
  };
  const engines = { 1: e1, 2: e2 } as const;
  const x = (i: number, n: number) => nhwc.subarray(i * per, (i + n) * per);
  const on =
    (s: Session): Runner =>
    (i, n) =>
      s.run(x(i, n), n);
  const F32 = (t: number) => `imported f32 (${t} thread${t > 1 ? 's' : ''})`;
  const INT8 = (t: number) => `graduated int8+pruned (${t} thread${t > 1 ? 's' : ''})`;
  const ORT_NODE = (t: number) => `onnxruntime-node (${t} thread${t > 1 ? 's' : ''})`;
  const ORT_WEB = (t: number) => `onnxruntime-web wasm (${t} thread${t > 1 ? 's' : ''})`;
  const runners: [string, Runner][] = [];
  for (const t of RUN_THREADS) runners.push([F32(t), on(session(f32, engines[t]))]);
  for (const t of RUN_THREADS) runners.push([INT8(t), on(session(graduated, engines[t]))]);
  const notes: string[] = [];
  const peers: OrtPeer[] = [];
  const ortX = (i: number, n: number) => nchw.subarray(i * per, (i + n) * per);
  for (const [name, open] of [
    [ORT_NODE(1), () => ortNodeSession(bytes, 1, onnxShape)],
    [ORT_NODE(2), () => ortNodeSession(bytes, 2, onnxShape)],
    // in this process onnxruntime-web has one thread (the first session fixes it; bench/infer.ts's is 1 too)
    [ORT_WEB(1), () => ortWebSession(bytes, 1, onnxShape)],
  ] as [string, () => Promise<OrtPeer>][]) {
    try {
      const p = await open();
      peers.push(p);
      runners.push([name, (i, n) => p.run(ortX(i, n), n)]);
    } catch (e) {
      notes.push(`${name} failed: ${(e as Error).message.split('\n')[0]}`);
      log(notes[notes.length - 1]);
    }
  }
  const byName = new Map(runners);
  const reference = byName.get(ORT_NODE(1));
  const classes = imported.meta.classNames.length;
  const agree: Record<string, number> = {};
  const agreeN = Math.min(1000, test.size);
  if (reference)
    for (const [name, run] of runners)
      if (name !== ORT_NODE(1)) agree[name] = await agreement(run, reference, agreeN, classes);
  const acc: Record<string, number> = {};
  for (const name of [F32(1), ORT_NODE(1), INT8(1)]) {
    const run = byName.get(name);
    if (run) acc[name] = await accuracyOf(run, test, classes, batch);
  }

  log(`measuring ${runners.length} runners (imported model)…`);
  const results = await measureAll(runners, { ...settings, samples: test.size, log });
  try {
    const w = await OrtWebWorker.start(bytes, 2, onnxShape, nchw.slice());
    if (reference) agree[ORT_WEB(2)] = await agreement((i, n) => w.logits(i, n), reference, agreeN, classes);
    log(`measuring ${ORT_WEB(2)} in a worker thread (imported model)…`);
    const m = await w.measure({ ...settings });
    results[ORT_WEB(2)] = summarize(batch, m.ms, m.lat);
    await w.close();
  } catch (e) {
    notes.push(`${ORT_WEB(2)} failed: ${(e as Error).message.split('\n')[0]}`);
    log(notes[notes.length - 1]);
  }
  for (const p of peers) await p.release();

  // ---- where Graduate's time goes ------------------------------------------------------------------
  const profiles: Record<string, Record<string, number>> = {};
  const xb = nhwc.subarray(0, batch * per);
  for (const [name, g] of [
    [F32(1), f32],
    [INT8(1), graduated],
  ] as [string, Graph][]) {
    const s = session(g, e1);
    for (const n of [batch, 1])
      profiles[`${name}, batch ${n}`] = Object.fromEntries(s.profile(xb.subarray(0, n * per), n, n === 1 ? 50 : 5));
  }

  // ---- report --------------------------------------------------------------------------------------
  const v = ortVersions();
  const lines: string[] = [];
  const col = (s: string, n: number) => s.padStart(n);
  lines.push(
    `\nimported PyTorch CNN: ${o.onnxPath} (${(bytes.length / 1024).toFixed(1)} KiB; imported by the ${importPath} path, ONNX input '${onnxMeta.inputName}' ${onnxMeta.inputLayout ?? ''}; ${graphMacs(f32).toLocaleString()} MACs/sample)`,
  );
  lines.push(
    `graduated: ${how}; gate ${gate}; ${graphMacs(graduated).toLocaleString()} MACs/sample, artifact ${(gradBytes / 1024).toFixed(1)} KiB`,
  );
  lines.push(
    `onnxruntime-node ${v.node} (CPU EP, graph optimization 'all'), onnxruntime-web ${v.web} (wasm EP under Node)`,
  );
  lines.push(`${'model'.padEnd(36)}${col('samples/s', 11)}${col('p50 ms', 9)}${col('p99 ms', 9)}${col('agree', 8)}`);
  for (const [name, r] of Object.entries(results))
    lines.push(
      `${name.padEnd(36)}${col(r.perSecond.toFixed(0), 11)}${col(r.p50.toFixed(3), 9)}${col(r.p99.toFixed(3), 9)}${col(agree[name] === undefined ? '-' : `${(agree[name] * 100).toFixed(1)}%`, 8)}`,
    );
  lines.push(`agree: argmax agreement with ${ORT_NODE(1)} on the first ${agreeN} test images`);
  lines.push(
    `accuracy (${test.size} test images): ${Object.entries(acc)
      .map(([k, a]) => `${k} ${(a * 100).toFixed(2)}%`)
      .join(
        ', ',
      )}${accuracy ? `; compile's gate: ${(accuracy[0] * 100).toFixed(2)}% → ${(accuracy[1] * 100).toFixed(2)}%` : ''}`,
  );
  if (warnings.length)
    lines.push(`import warning (expected: the model normalizes raw pixels inside): ${warnings[0].split(';')[0]}`);
  for (const n of notes) lines.push(n);
  for (const [name, p] of Object.entries(profiles)) {
    const total = Object.values(p).reduce((a, b) => a + b, 0);
    const top = Object.entries(p)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([k, ms]) => `${k.replace(/^\/(features|classifier)\//, '')} ${ms.toFixed(3)}`)
      .join(', ');
    lines.push(`profile ${name}: ${total.toFixed(3)} ms per run; slowest ms: ${top}`);
  }

  const targets: Target[] = [];
  const push = (name: string, value: number, goal: number) => targets.push({ name, value, goal, met: value >= goal });
  for (const t of RUN_THREADS) {
    const ours = results[F32(t)];
    const web = results[ORT_WEB(t)];
    const peer = (r: Result | undefined, f: (r: Result) => number) => (r ? f(r) : 0);
    push(
      `(a) imported f32 ≥ 1.3× onnxruntime-web at batch ${batch}, ${t} thread(s) each`,
      peer(web, (w) => ours.perSecond / w.perSecond),
      1.3,
    );
    push(
      `(a) imported f32 batch-1 p50 ≥ 1.3× faster than onnxruntime-web, ${t} thread(s) each (web p50 / ours)`,
      peer(web, (w) => w.p50 / ours.p50),
      1.3,
    );
  }
  for (const t of RUN_THREADS) {
    const ours = results[INT8(t)];
    const node = results[ORT_NODE(t)];
    push(
      `(b) graduated ≥ 1.0× onnxruntime-node (original file) at batch ${batch}, ${t} thread(s) each`,
      node ? ours.perSecond / node.perSecond : 0,
      1,
    );
    push(
      `(b) graduated batch-1 p50 ≥ 1.0× onnxruntime-node's, ${t} thread(s) each (node p50 / ours)`,
      node ? node.p50 / ours.p50 : 0,
      1,
    );
  }
  lines.push('\ntargets (imported model)');
  for (const t of targets) lines.push(`  ${t.met ? 'MET ' : 'MISS'} ${t.name}: ${t.value.toFixed(2)}×`);

  for (const s of sessions) s.dispose();
  e1.dispose();
  e2.dispose();
  return {
    lines,
    targets,
    json: {
      onnx: o.onnxPath,
      importPath,
      graduated: how,
      gate,
      macs: [graphMacs(f32), graphMacs(graduated)],
      artifactBytes: gradBytes,
      versions: v,
      results,
      agreement: { images: agreeN, reference: ORT_NODE(1), ...agree },
      accuracy: acc,
      profiles,
      notes,
      targets,
    },
  };
}

/** Top-1 accuracy of a runner over a dataset. */
async function accuracyOf(run: Runner, ds: ArrayDataset, classes: number, batch: number): Promise<number> {
  let right = 0;
  for (let i = 0; i < ds.size; i += batch) {
    const m = Math.min(batch, ds.size - i);
    const p = argmaxRows(await run(i, m), m, classes);
    for (let r = 0; r < m; r++) if (p[r] === ds.y[i + r]) right++;
  }
  return right / ds.size;
}

/** NHWC samples → NCHW. */
function toNchw(x: Float32Array, n: number, H: number, W: number, C: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let s = 0; s < n; s++)
    for (let c = 0; c < C; c++)
      for (let p = 0; p < H * W; p++) out[s * H * W * C + c * H * W + p] = x[s * H * W * C + p * C + c];
  return out;
}
