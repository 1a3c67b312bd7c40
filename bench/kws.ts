// The kws sections of bench:train and bench:infer (`--only kws` runs them alone): the kws preset
// (conv1d 64 stride 2 → batchnorm → relu → GRU 64 → linear 10 on log-mel [98, 40]) beside PyTorch
// CPU running the same architecture (bench/torch_kws.py, a JSON-lines subprocess under
// /usr/bin/python3 or $GRADUATE_BENCH_PYTHON; skipped with a note when it or torch is missing).
// - train: samples/s of full training steps (batch gather, forward, backward, Adam 3e-3, batch 32)
//   at 1 and 2 threads on both sides (Graduate's engine rebuilt per count, torch.set_num_threads);
// - infer: batch-1 latency and batch 32/256 throughput of the captured checkpoint as a float
//   Session and graduated to int8, of PyTorch eager (no_grad) and traced (torch.jit), both with the
//   checkpoint's weights (their logits are compared), and onnxruntime-node when the model exports.
// FSDD's log-mel features when $GRADUATE_DATA_DIR (or the cache) has FSDD, else synthetic ones.
// Graduate and PyTorch run in turn, round by round, so load from other processes falls on both;
// ratios are taken per round (Graduate's speed over PyTorch's at equal threads) and the median kept.
// Not for: the Fashion-MNIST sections (bench/train.ts, bench/infer.ts).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { graphFromSource } from '../src/cli/source.js';
import { captureGraph } from '../src/compile/capture.js';
import { runPasses } from '../src/compile/passes/index.js';
import { AccuracyGateError, compile } from '../src/compile/pipeline.js';
import { evaluateGraph, preprocessingOf } from '../src/compile/verify.js';
import { findFsdd, loadAudioSplits } from '../src/data/audio.js';
import { type ArrayDataset, limitDataset, type Preprocessing } from '../src/data/dataset.js';
import { readArtifact, writeArtifact } from '../src/graph/artifact.js';
import { type Graph, graphMacs } from '../src/graph/ir.js';
import { encodeSafetensors, type NamedArray } from '../src/io/safetensors.js';
import { Engine } from '../src/kernels/engine.js';
import { buildModel } from '../src/nn/build.js';
import { presetSpec } from '../src/nn/presets.js';
import { exportOnnx } from '../src/onnx/index.js';
import { Session } from '../src/runtime/session.js';
import { init, shutdown } from '../src/tensor/context.js';
import { manualSeed, Rng } from '../src/tensor/random.js';
import { fit } from '../src/train/fit.js';
import { argmaxRows } from '../src/train/metrics.js';
import { type MeasureSettings, measureAll, type Runner } from './measure.js';
import {
  median,
  type OrtPeer,
  ortNodeSession,
  ortVersions,
  type PeerRounds,
  peerRoundsJson,
  peerRoundsLine,
} from './peers.js';

const THREADS = [1, 2] as const;
const BATCH = 32; // the preset's training batch
const LR = 3e-3;
const PYTHON = process.env.GRADUATE_BENCH_PYTHON ?? '/usr/bin/python3';
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'torch_kws.py');

/** A section's printed lines and its JSON record. */
export interface KwsSection {
  lines: string[];
  json: Record<string, unknown>;
}

const th = (t: number) => `${t} thread${t > 1 ? 's' : ''}`;

// ---- data -----------------------------------------------------------------------------------------

interface KwsData {
  train: ArrayDataset;
  test: ArrayDataset;
  source: string;
}

/** FSDD's conventional split as the model records its features, else synthetic [98, 40] (timing only). */
function kwsData(like?: Preprocessing, classNames?: readonly string[]): KwsData {
  let dir: string | undefined;
  try {
    dir = findFsdd();
  } catch {
    // no FSDD here: synthetic features of its shape
  }
  if (dir) {
    const { train, test } = loadAudioSplits(dir, 'fsdd', { like, classNames: classNames && [...classNames] });
    return { train, test, source: `FSDD ${dir} (conventional split: ${train.size} train / ${test.size} test clips)` };
  }
  const shape = like?.inputShape ?? [98, 40];
  const names = classNames ?? Array.from({ length: 10 }, (_, i) => String(i));
  const synth = (n: number, seed: number, name: string): ArrayDataset => {
    const rng = new Rng(seed);
    const x = Float32Array.from({ length: n * shape[0] * shape[1] }, () => rng.normal());
    const y = Int32Array.from({ length: n }, (_, i) => i % names.length);
    const preprocessing: Preprocessing = like ?? { kind: 'tabular', inputShape: [...shape] };
    return { x, y, sampleShape: shape, classNames: names, size: n, preprocessing, name };
  };
  return {
    train: synth(2250, 1, 'synthetic/train'),
    test: synth(250, 2, 'synthetic/test'),
    source: 'synthetic N(0, 1) features [98, 40] (no FSDD found: timing only, accuracies meaningless)',
  };
}

/** `n` samples of `ds` from sample 0, repeating it when it has fewer (batch 256 of 250 test clips). */
function samplePool(ds: ArrayDataset, n: number): Float32Array {
  const per = ds.x.length / ds.size;
  const out = new Float32Array(Math.max(n, ds.size) * per);
  for (let i = 0; i < out.length; i += ds.x.length) out.set(ds.x.subarray(0, Math.min(ds.x.length, out.length - i)), i);
  return out;
}

// ---- PyTorch, in a subprocess ------------------------------------------------------------------

/** bench/torch_kws.py as a JSON-lines server: one command out, one answer back. */
class TorchKws {
  private constructor(
    private readonly child: ReturnType<typeof spawn>,
    private readonly lines: AsyncIterator<string>,
    readonly version: string,
    /** Which BLAS its GEMMs run on, and how fast (its libraries, a 256³ torch.mm on one thread). */
    readonly blas: string,
  ) {}

  /** The server, or why PyTorch is skipped. */
  static async start(): Promise<TorchKws | string> {
    if (!existsSync(PYTHON)) return `${PYTHON} not found (set GRADUATE_BENCH_PYTHON to a Python with torch)`;
    const child = spawn(PYTHON, [SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
    const spawnError = new Promise<string>((resolve) => child.on('error', (e) => resolve(e.message)));
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
    const first = await Promise.race([lines.next(), spawnError]);
    if (typeof first === 'string' || first.done) {
      child.kill();
      return `${PYTHON} ${SCRIPT} did not start${typeof first === 'string' ? `: ${first}` : ''}`;
    }
    const hello = JSON.parse(first.value) as {
      ready: boolean;
      torch?: string;
      error?: string;
      blas?: { libraries: string[]; mkl: boolean; mm256Gflops: number };
    };
    if (!hello.ready) return `${PYTHON} has no PyTorch (import failed: ${hello.error})`;
    const b = hello.blas;
    const blas = b
      ? `BLAS ${b.libraries.map((l) => l.split('/').pop()).join(', ') || '(none loaded)'}, MKL ${b.mkl ? 'yes' : 'no'}, 256³ torch.mm ${b.mm256Gflops.toFixed(1)} GFLOP/s on 1 thread`
      : '';
    return new TorchKws(child, lines, hello.torch ?? '?', blas);
  }

  async call<T>(cmd: Record<string, unknown>): Promise<T> {
    (this.child.stdin as NodeJS.WritableStream).write(`${JSON.stringify(cmd)}\n`);
    const r = await this.lines.next();
    if (r.done) throw new Error(`torch_kws.py exited during '${cmd.cmd}'`);
    const out = JSON.parse(r.value) as T & { error?: string };
    if (out.error) throw new Error(`torch_kws.py '${cmd.cmd}': ${out.error}`);
    return out;
  }

  /** Sends `ds`'s features and labels (through files in `dir`). */
  async data(ds: ArrayDataset, x: Float32Array, dir: string): Promise<void> {
    const n = x.length / (ds.sampleShape[0] * ds.sampleShape[1]);
    const y = Int32Array.from({ length: n }, (_, i) => ds.y[i % ds.size]);
    writeFileSync(join(dir, 'x.f32'), x);
    writeFileSync(join(dir, 'y.i32'), y);
    const [T, C] = ds.sampleShape;
    await this.call({ cmd: 'data', x: join(dir, 'x.f32'), y: join(dir, 'y.i32'), n, T, C });
  }

  async close(): Promise<void> {
    (this.child.stdin as NodeJS.WritableStream).write('{"cmd": "quit"}\n');
    await new Promise((resolve) => this.child.once('exit', resolve));
  }
}

// ---- bench:train ----------------------------------------------------------------------------------

/**
 * Training samples/s of the kws preset on Graduate (fit, as `graduate train --preset kws` trains)
 * and on PyTorch, at 1 and 2 threads, interleaved round by round. Rebuilds the default engine per
 * thread count (every tensor made before becomes invalid) and shuts it down at the end.
 */
export async function benchKwsTrain(o: { quick: boolean; log: (l: string) => void }): Promise<KwsSection> {
  const { log } = o;
  const rounds = o.quick ? 2 : 5;
  const batches = o.quick ? 15 : 40;
  const data = kwsData();
  const train = limitDataset(data.train, batches * BATCH);
  const spec = presetSpec('kws', train.sampleShape, train.classNames.length);
  const torch = await TorchKws.start();
  const tmp = mkdtempSync(join(tmpdir(), 'graduate-bench-kws-'));
  if (typeof torch !== 'string') await torch.data(train, train.x as Float32Array, tmp);
  else log(`PyTorch skipped: ${torch}`);
  const config = { epochs: 1, batchSize: BATCH, lr: LR, optimizer: 'adam' as const, seed: 0 };
  const rows: PeerRounds[] = [];
  for (const t of THREADS) {
    shutdown();
    init({ threads: t });
    manualSeed(0);
    const { model } = buildModel(spec);
    const run = (ds: ArrayDataset) => {
      const r = fit({ model, modelSpec: spec, train: ds, config, log: () => {}, progress: false });
      r.optimizer.dispose();
      return r.history.epochs[0].samplesPerSecond;
    };
    run(limitDataset(train, 5 * BATCH)); // warm-up: V8 tiers the loop up, the engine's heap grows
    const row: PeerRounds = { threads: t, graduate: [], torch: [], ratios: [] };
    for (let r = 0; r < rounds; r++) {
      row.graduate.push(run(train));
      if (typeof torch !== 'string') {
        const p = await torch.call<{ samplesPerSecond: number }>({
          cmd: 'train',
          threads: t,
          batches,
          batch: BATCH,
          lr: LR,
          warmup: 3,
        });
        row.torch.push(p.samplesPerSecond);
        row.ratios.push(row.graduate[r] / p.samplesPerSecond);
      }
      log(`kws train, ${th(t)}, round ${r + 1}/${rounds}`);
    }
    model.dispose();
    rows.push(row);
  }
  shutdown();
  if (typeof torch !== 'string') await torch.close();
  rmSync(tmp, { recursive: true, force: true });

  const lines = [
    `\nkws preset training (conv1d 64 stride 2 → batchnorm → relu → GRU 64 → linear ${train.classNames.length}; Adam ${LR}, batch ${BATCH}) on ${data.source}`,
    `full steps (batch gather, forward, backward, Adam, loss and argmax read back); ${rounds} rounds of ${batches} batches per side and thread count, Graduate and PyTorch in turn; median of rounds`,
  ];
  const torchNote =
    typeof torch === 'string'
      ? `PyTorch skipped: ${torch}`
      : `PyTorch ${torch.version} CPU (${PYTHON}; torch.set_num_threads; ${torch.blas})`;
  lines.push(
    `  ${'threads'.padEnd(9)}${'Graduate'.padStart(10)}${'PyTorch'.padStart(10)}   Graduate / PyTorch (per round)`,
  );
  for (const r of rows) lines.push(peerRoundsLine(r, 0));
  lines.push(`  samples/s; ${torchNote}`);
  return {
    lines,
    json: {
      data: data.source,
      batch: BATCH,
      batches,
      rounds,
      torch: torchNote,
      samplesPerSecond: peerRoundsJson(rows),
    },
  };
}

// ---- bench:infer ----------------------------------------------------------------------------------

export interface KwsInferOptions {
  /** A kws checkpoint folder (default runs/kws, else the preset trained here briefly). */
  checkpoint?: string;
  /** A graduated artifact of it (default: compiled here, int8, as `graduate compile DIR --data fsdd`). */
  artifact?: string;
  quick: boolean;
  /** Timing of each round (its batch is set per measurement). */
  settings: Pick<MeasureSettings, 'trial' | 'latRuns' | 'latWarmup'> & { rounds: number };
  log: (line: string) => void;
}

interface Timing {
  /** samples/s at batch 32 and 256 */
  perSecond: Record<string, number>;
  p50: number;
  p99: number;
}

/** The parent model: the checkpoint's (or runs/kws), else the preset trained here for a few epochs. */
function kwsParent(o: KwsInferOptions): { graph: Graph; data: KwsData; source: string; dispose(): void } {
  const dir = o.checkpoint ?? (existsSync(join('runs', 'kws', 'checkpoint.json')) ? join('runs', 'kws') : undefined);
  if (dir) {
    const src = graphFromSource(dir);
    return {
      graph: src.graph,
      dispose: src.dispose,
      data: kwsData(preprocessingOf(src.graph), src.graph.meta.classNames),
      source: `checkpoint ${dir}${o.checkpoint ? ' (--kws-checkpoint)' : ' (reused)'}`,
    };
  }
  const data = kwsData();
  const epochs = o.quick ? 2 : 8;
  const spec = presetSpec('kws', data.train.sampleShape, data.train.classNames.length);
  manualSeed(0);
  const { model } = buildModel(spec);
  const t0 = performance.now();
  fit({
    model,
    modelSpec: spec,
    train: data.train,
    config: { epochs, batchSize: BATCH, lr: LR, optimizer: 'adam', schedule: 'cosine', seed: 0 },
    log: () => {},
    progress: false,
  }).optimizer.dispose();
  const pre = data.train.preprocessing;
  const graph = captureGraph(
    model,
    { kind: pre.kind, shape: pre.inputShape, mean: pre.mean, std: pre.std, audio: pre.audio },
    data.train.classNames,
  );
  return {
    graph,
    dispose: () => model.dispose(),
    data,
    source: `kws preset trained here, ${epochs} epochs (${((performance.now() - t0) / 1000).toFixed(1)} s; no --kws-checkpoint and no runs/kws)`,
  };
}

/** How far two runners' logits of the first n samples are apart: max |Δ| and argmax agreement. */
function compareLogits(a: Float32Array, b: Float32Array, n: number, classes: number): string {
  let maxDiff = 0;
  for (let i = 0; i < n * classes; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
  const pa = argmaxRows(a, n, classes);
  const pb = argmaxRows(b, n, classes);
  const same = pa.filter((v, i) => v === pb[i]).length;
  return `logits within ${maxDiff.toExponential(1)} of Graduate's f32 Session, argmax agrees on ${same}/${n} test clips`;
}

/** The captured graph's weights under their parameter names, as safetensors (for PyTorch to load). */
function weightsFile(g: Graph, path: string): void {
  const named: Record<string, NamedArray> = {};
  for (const [name, c] of Object.entries(g.constants))
    if (/^\d+\./.test(name) && c.data instanceof Float32Array)
      named[name] = { dtype: 'F32', shape: [...c.shape], data: c.data };
  writeFileSync(path, encodeSafetensors(named));
}

/**
 * Batch-1 latency and batch 32/256 throughput of the kws model on Graduate (float and int8
 * Sessions, 1 and 2 threads), onnxruntime-node when the model exports, and PyTorch eager and traced.
 */
export async function benchKwsInfer(o: KwsInferOptions): Promise<KwsSection> {
  const { log, settings } = o;
  const parent = kwsParent(o);
  const { test, train } = parent.data;
  const classes = parent.graph.meta.classNames.length;
  const per = test.x.length / test.size;
  const pool = samplePool(test, 256);
  const poolSize = pool.length / per;
  log(`kws parent: ${parent.source}`);

  const e1 = Engine.create({ threads: 1 });
  const e2 = Engine.create({ threads: 2 });
  const engines = { 1: e1, 2: e2 } as const;
  const f32 = runPasses(parent.graph).graph;
  let int8: Graph;
  let how: string;
  let accuracy: [number, number];
  const synthetic = parent.data.source.startsWith('synthetic');
  if (o.artifact) {
    int8 = readArtifact(new Uint8Array(readFileSync(o.artifact)), o.artifact);
    how = `${o.artifact} (--kws-artifact)`;
    accuracy = [evaluateGraph(f32, test, e2).accuracy, evaluateGraph(int8, test, e2).accuracy];
  } else {
    const calib = limitDataset(train, 1000);
    const opts = { quantize: 'int8' as const, calibration: 'percentile' as const, allowNearChance: synthetic };
    const inputs = { parent: parent.graph, calib, test, engine: e2 };
    how = 'compiled here: int8, percentile calibration on 1,000 training clips (as `graduate compile DIR --data fsdd`)';
    log(`kws: ${how}…`);
    let r: ReturnType<typeof compile>;
    try {
      r = compile(inputs, { ...opts, maxAccuracyDrop: synthetic ? 100 : 0.5 });
      how += synthetic ? '' : '; gate passed (0.5 pp)';
    } catch (e) {
      if (!(e instanceof AccuracyGateError)) throw e;
      how += `; gate REFUSED at 0.5 pp (${e.message.split(';')[0]}), measured with the gate off`;
      r = compile(inputs, { ...opts, maxAccuracyDrop: 100 });
    }
    int8 = r.graph;
    accuracy = r.report.totals.accuracy;
  }

  // ---- Graduate's runners and onnxruntime-node's ---------------------------------------------------
  const sessions: Session[] = [];
  const on = (g: Graph, e: Engine): Runner => {
    const s = new Session(g, { engine: e, maxBatch: 256 });
    sessions.push(s);
    return (i, n) => s.run(pool.subarray(i * per, (i + n) * per), n);
  };
  const F32 = (t: number) => `Graduate f32 Session (${th(t)})`;
  const INT8 = (t: number) => `Graduate int8 (${th(t)})`;
  const ORT = (t: number) => `onnxruntime-node f32 (${th(t)})`;
  const EAGER = (t: number) => `PyTorch eager (${th(t)})`;
  const JIT = (t: number) => `PyTorch jit.trace (${th(t)})`;
  const runners: [string, Runner][] = [];
  for (const t of THREADS) runners.push([F32(t), on(f32, engines[t])]);
  for (const t of THREADS) runners.push([INT8(t), on(int8, engines[t])]);
  const notes: string[] = [];
  const peers: OrtPeer[] = [];
  let onnx: Uint8Array | undefined;
  try {
    onnx = exportOnnx(parent.graph);
  } catch (e) {
    notes.push(`onnxruntime-node skipped: exportOnnx failed (${(e as Error).message.split('\n')[0]})`);
  }
  if (onnx)
    for (const t of THREADS)
      try {
        const p = await ortNodeSession(onnx, t, [...test.sampleShape]);
        peers.push(p);
        runners.push([ORT(t), (i, n) => p.run(pool.subarray(i * per, (i + n) * per), n)]);
      } catch (e) {
        notes.push(`${ORT(t)} failed: ${(e as Error).message.split('\n')[0]}`);
      }
  for (const n of notes) log(n);
  const checkN = Math.min(test.size, 256);
  const ours = await runners[0][1](0, checkN);
  const ortChecks = await Promise.all(
    runners
      .filter(([name]) => name.startsWith('onnxruntime'))
      .map(async ([name, run]) => `${name}: ${compareLogits(ours, await run(0, checkN), checkN, classes)}`),
  );

  // ---- PyTorch with the same weights: its logits against Graduate's --------------------------------
  const torch = await TorchKws.start();
  const tmp = mkdtempSync(join(tmpdir(), 'graduate-bench-kws-'));
  let torchCheck = '';
  if (typeof torch === 'string') notes.push(`PyTorch skipped: ${torch}`);
  else {
    await torch.data(test, pool, tmp);
    weightsFile(parent.graph, join(tmp, 'model.safetensors'));
    await torch.call({ cmd: 'weights', file: join(tmp, 'model.safetensors') });
    const theirs = Float32Array.from((await torch.call<{ logits: number[] }>({ cmd: 'logits', n: checkN })).logits);
    torchCheck = `PyTorch ${torch.version} (${PYTHON}; ${torch.blas}) with the same weights: ${compareLogits(ours, theirs, checkN, classes)}`;
    log(torchCheck);
  }

  // ---- rounds: Graduate's runners (and ONNX Runtime's) interleaved, then PyTorch at 1 and 2 threads ----
  const timings = new Map<string, Timing[]>();
  const keep = (name: string, t: Timing) => timings.set(name, [...(timings.get(name) ?? []), t]);
  for (let r = 0; r < settings.rounds; r++) {
    const at: Record<string, Timing> = Object.fromEntries(
      runners.map(([name]) => [name, { perSecond: {}, p50: 0, p99: 0 }]),
    );
    for (const batch of [32, 256]) {
      // batch-1 latency from the batch-32 pass (measureAll times both; the second pass's is dropped)
      const latRuns = batch === 32 ? settings.latRuns : 1;
      const res = await measureAll(runners, { ...settings, batch, latRuns, samples: poolSize });
      for (const [name, x] of Object.entries(res)) {
        at[name].perSecond[batch] = x.perSecond;
        if (batch === 32) Object.assign(at[name], { p50: x.p50, p99: x.p99 });
      }
    }
    for (const [name, t] of Object.entries(at)) keep(name, t);
    if (typeof torch !== 'string')
      for (const t of THREADS) {
        const p = await torch.call<{ eager: Timing; jit: Timing }>({
          cmd: 'infer',
          threads: t,
          batches: [32, 256],
          minTrialMs: settings.trial.minTrialMs,
          trials: settings.trial.trials,
          warmup: settings.trial.warmup,
          latRuns: settings.latRuns,
          latWarmup: settings.latWarmup,
          jit: true,
        });
        keep(EAGER(t), p.eager);
        keep(JIT(t), p.jit);
      }
    log(`kws infer, round ${r + 1}/${settings.rounds}`);
  }
  for (const s of sessions) s.dispose();
  for (const p of peers) await p.release();
  if (typeof torch !== 'string') await torch.close();
  rmSync(tmp, { recursive: true, force: true });
  parent.dispose();
  e1.dispose();
  e2.dispose();

  // ---- report: medians of rounds; ratios per round against PyTorch eager at the same threads ------
  const metrics = [
    ['b1', (x: Timing) => 1 / x.p50],
    ['b32', (x: Timing) => x.perSecond[32]],
    ['b256', (x: Timing) => x.perSecond[256]],
  ] as const;
  const threadsOf = (name: string) => (name.includes('(2 threads)') ? 2 : 1);
  const summary = [...timings].map(([name, ts]) => {
    const ref = timings.get(EAGER(threadsOf(name)));
    const vsTorch = Object.fromEntries(
      metrics.map(([k, speed]) => [k, ref ? median(ts.map((x, r) => speed(x) / speed(ref[r]))) : null]),
    );
    return {
      name,
      p50: median(ts.map((x) => x.p50)),
      p99: median(ts.map((x) => x.p99)),
      perSecond32: median(ts.map((x) => x.perSecond[32])),
      perSecond256: median(ts.map((x) => x.perSecond[256])),
      vsTorchEager: vsTorch,
    };
  });
  summary.sort((a, b) => threadsOf(a.name) - threadsOf(b.name));
  const lines: string[] = [];
  const col = (s: string, n: number) => s.padStart(n);
  const x = (v: number | null) => (v === null ? '-' : `${v.toFixed(2)}×`);
  lines.push(
    `\nkws model inference (${parent.source}; ${graphMacs(f32).toLocaleString()} MACs/sample) on ${parent.data.source}`,
  );
  lines.push(
    `batch 32 / 256: median of ${settings.rounds} round(s) × ${settings.trial.trials} trials; batch 1: ${settings.latRuns} single-clip runs per round, round-robin within each side; Graduate (and ONNX Runtime) and PyTorch in turn each round`,
  );
  lines.push(
    `${'runner'.padEnd(34)}${col('p50 ms', 8)}${col('p99 ms', 8)}${col('b32 /s', 9)}${col('b256 /s', 9)}   vs PyTorch eager, same threads: b1  b32  b256`,
  );
  for (const s of summary)
    lines.push(
      `${s.name.padEnd(34)}${col(s.p50.toFixed(3), 8)}${col(s.p99.toFixed(3), 8)}${col(s.perSecond32.toFixed(0), 9)}${col(s.perSecond256.toFixed(0), 9)}   ${x(s.vsTorchEager.b1)} ${x(s.vsTorchEager.b32)} ${x(s.vsTorchEager.b256)}`,
    );
  lines.push(
    '(ratios: Graduate speed / PyTorch eager speed, i.e. its p50 over ours at batch 1 and our samples/s over its at 32 and 256, per round, median; > 1: faster than PyTorch)',
  );
  lines.push(
    `int8: ${how}; ${(writeArtifact(f32).length / 1024).toFixed(1)} KiB f32 → ${(writeArtifact(int8).length / 1024).toFixed(1)} KiB; test accuracy ${(accuracy[0] * 100).toFixed(1)}% → ${(accuracy[1] * 100).toFixed(1)}%`,
  );
  if (torchCheck) lines.push(torchCheck);
  if (onnx)
    lines.push(
      `onnxruntime-node ${ortVersions().node} (CPU, interOpNumThreads 1) on the exported parent (f32, ${(onnx.length / 1024).toFixed(1)} KiB); ${ortChecks.join('; ')}`,
    );
  for (const n of notes) lines.push(n);
  return {
    lines,
    json: {
      parent: parent.source,
      data: parent.data.source,
      int8: how,
      accuracy,
      torch: torchCheck || null,
      onnxruntime: ortChecks,
      notes,
      results: summary,
      rounds: Object.fromEntries(timings),
    },
  };
}
