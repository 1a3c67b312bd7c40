// The text sections of bench:train and bench:infer (`--only text` runs them alone): the
// text-transformer preset at its current size (TEXT_TRANSFORMER_SIZE: embedding + learned
// positions, pre-norm encoder layers, layer norm, masked mean, linear) over L token ids (L = 128, or
// the checkpoint's).
// - train: samples/s of full training steps (batch gather, forward, backward, Adam, batch 32) at 1
//   and 2 threads (the default engine rebuilt per count), median of rounds;
// - infer: batch-1 p50/p99 and batch-32 throughput of the float parent Session, the graduated model
//   (compiled here as `graduate compile --quantize int8` with the 0.5 pp accuracy gate, or
//   --text-artifact FILE), and onnxruntime-node on exportOnnx of the parent (int64 ids [N, L], its
//   logits checked against the Session's first), 1 and 2 threads each, interleaved round by round;
//   ratios graduated / ORT and parent / ORT taken per round at equal threads, median kept.
// Data: SpamAssassin (~/.cache/graduate/spamassassin, `graduate data fetch spamassassin`) tokenised
// by the checkpoint's tokenizer when a checkpoint is given (--text-checkpoint DIR, else
// runs/text-transformer or /tmp/tt*/ when they hold one), otherwise random token ids (timing only).
// Training also runs PyTorch CPU (bench/torch_text.py under /usr/bin/python3 or
// $GRADUATE_BENCH_PYTHON: nn.TransformerEncoderLayer pre-norm, exact GELU) on the same ids, one
// subprocess per round after Graduate's (its import untimed); skipped with a note without torch.
// Not for: the Fashion-MNIST and kws sections (bench/train.ts, bench/infer.ts, bench/kws.ts).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { graphFromSource } from '../src/cli/source.js';
import { captureGraph } from '../src/compile/capture.js';
import { AccuracyGateError, compile } from '../src/compile/pipeline.js';
import { evaluateGraph, preprocessingOf } from '../src/compile/verify.js';
import { type ArrayDataset, limitDataset, type Preprocessing, subset } from '../src/data/dataset.js';
import { spamAssassinCacheDir } from '../src/data/fetch-spamassassin.js';
import { loadText } from '../src/data/text.js';
import { readArtifact, writeArtifact } from '../src/graph/artifact.js';
import { type Graph, graphMacs } from '../src/graph/ir.js';
import { Engine } from '../src/kernels/engine.js';
import { buildModel } from '../src/nn/build.js';
import { TEXT_TRANSFORMER_SIZE as SIZE, textPresetSpec } from '../src/nn/presets.js';
import type { ModelSpec } from '../src/nn/spec.js';
import { exportOnnx } from '../src/onnx/index.js';
import { isRecsysCheckpoint } from '../src/recsys/checkpoint.js';
import { Session } from '../src/runtime/session.js';
import { init, shutdown } from '../src/tensor/context.js';
import { manualSeed, Rng } from '../src/tensor/random.js';
import { tokenIds } from '../src/text/encode.js';
import { fit } from '../src/train/fit.js';
import { argmaxRows } from '../src/train/metrics.js';
import { type MeasureSettings, measureAll, type Runner } from './measure.js';
import { median, ortNodeCpu, ortVersions, type PeerRounds, peerRoundsJson, peerRoundsLine } from './peers.js';

const THREADS = [1, 2] as const;
const BATCH = 32; // the preset's training batch
const LR = 1e-3;
const L_DEFAULT = 128; // MAX_BPE_TOKENS: what a BPE text-transformer reads
const VOCAB_DEFAULT = 8000; // loadText's BPE vocabulary
const PYTHON = process.env.GRADUATE_BENCH_PYTHON ?? '/usr/bin/python3';
const TORCH_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'torch_text.py');

/** A section's printed lines and its JSON record. */
export interface TextSection {
  lines: string[];
  json: Record<string, unknown>;
}

const th = (t: number) => `${t} thread${t > 1 ? 's' : ''}`;
/** n samples spread evenly over ds (the corpus files are grouped by label: a prefix would be one class). */
const spread = (ds: ArrayDataset, n: number): ArrayDataset =>
  n >= ds.size
    ? ds
    : subset(
        ds,
        Int32Array.from({ length: n }, (_, i) => Math.floor((i * ds.size) / n)),
      );

// ---- the checkpoint and the data ----------------------------------------------------------------

/** --text-checkpoint, else runs/text-transformer, else the newest /tmp/tt*\/ holding checkpoint.json. */
function findCheckpoint(given?: string): { dir: string; how: string } | undefined {
  if (given) return { dir: given, how: '--text-checkpoint' };
  const runs = join('runs', 'text-transformer');
  if (existsSync(join(runs, 'checkpoint.json'))) return { dir: runs, how: 'reused' };
  // the newest /tmp/tt*/ checkpoint of a layer-stack model (a recommendation run there is no text model)
  const tmp = readdirSync('/tmp')
    .filter((d) => d.startsWith('tt'))
    .map((d) => join('/tmp', d))
    .filter((d) => existsSync(join(d, 'checkpoint.json')) && !isRecsysCheckpoint(d))
    .sort((a, b) => statSync(join(a, 'checkpoint.json')).mtimeMs - statSync(join(b, 'checkpoint.json')).mtimeMs);
  return tmp.length ? { dir: tmp[tmp.length - 1], how: 'reused' } : undefined;
}

interface TextData {
  train: ArrayDataset;
  test: ArrayDataset;
  /** Token ids the model reads (its embedding's rows). */
  vocab: number;
  source: string;
  real: boolean;
}

/**
 * SpamAssassin's train.csv/test.csv tokenised by `like`'s tokenizer (its L, its class order), else
 * by a BPE of 8,000 tokens learnt here from train.csv (as `graduate train --preset text-transformer
 * --data spamassassin` learns it, ~10 s), else (no corpus) random ids: each text a uniform length
 * in [L/2, L] of uniform ids in [1, vocab), padded with −1.
 */
function textData(like?: Preprocessing, classNames?: readonly string[]): TextData {
  const dir = spamAssassinCacheDir();
  const trainCsv = join(dir, 'train.csv');
  const testCsv = join(dir, 'test.csv');
  const corpus = existsSync(trainCsv) && existsSync(testCsv);
  if (like?.tokenizer && !corpus)
    throw new Error(
      `bench text: the checkpoint is a text model but ${trainCsv} / ${testCsv} are missing (run \`graduate data fetch spamassassin\`)`,
    );
  if (corpus && (like?.tokenizer || !like)) {
    const train = like?.tokenizer
      ? loadText(trainCsv, { reuse: like.tokenizer, maxTokens: like.inputShape[0], classNames })
      : loadText(trainCsv, { tokenizer: 'bpe', vocabSize: VOCAB_DEFAULT });
    const pre = train.preprocessing;
    const tokenizer = pre.tokenizer as NonNullable<Preprocessing['tokenizer']>;
    const test = loadText(testCsv, { reuse: tokenizer, maxTokens: pre.inputShape[0], classNames: train.classNames });
    return {
      train,
      test,
      vocab: tokenIds(tokenizer),
      real: true,
      source: `SpamAssassin ${dir} (${train.size} train / ${test.size} test mails; ${like ? "the checkpoint's" : 'a BPE learnt here from train.csv:'} ${tokenizer.kind} tokenizer, ${tokenIds(tokenizer)} ids, L ${pre.inputShape[0]})`,
    };
  }
  const L = like?.inputShape[0] ?? L_DEFAULT;
  const vocab = VOCAB_DEFAULT;
  const names = classNames ?? ['ham', 'spam'];
  const synth = (n: number, seed: number, name: string): ArrayDataset => {
    const rng = new Rng(seed);
    const x = new Int32Array(n * L).fill(-1);
    for (let i = 0; i < n; i++) {
      const len = Math.ceil(L / 2) + rng.int(L - Math.ceil(L / 2) + 1);
      for (let j = 0; j < len; j++) x[i * L + j] = 1 + rng.int(vocab - 1);
    }
    const y = Int32Array.from({ length: n }, (_, i) => i % names.length);
    // a text input needs a tokenizer: hashing into `vocab` buckets (never used: the ids are given)
    const preprocessing: Preprocessing = {
      kind: 'text',
      inputShape: [L],
      tokenizer: { kind: 'hash', buckets: vocab, lowercase: true },
    };
    return { x, y, sampleShape: [L], classNames: names, size: n, preprocessing, name };
  };
  return {
    train: synth(1024, 1, 'random/train'),
    test: synth(256, 2, 'random/test'),
    vocab,
    real: false,
    source: `random token ids (L ${L}, vocabulary ${vocab}, lengths uniform in [${Math.ceil(L / 2)}, ${L}], padded with −1; no SpamAssassin corpus in ${dir}: timing only)`,
  };
}

const specOf = (data: TextData): ModelSpec =>
  textPresetSpec('text-transformer', data.train.sampleShape[0], data.train.classNames.length, data.vocab);

// ---- bench:train ----------------------------------------------------------------------------------

/**
 * Training samples/s of the text-transformer preset (fit, as `graduate train --preset
 * text-transformer` trains) at 1 and 2 threads. Rebuilds the default engine per thread count
 * (every tensor made before becomes invalid) and shuts it down at the end.
 */
export async function benchTextTrain(o: {
  checkpoint?: string;
  quick: boolean;
  log: (l: string) => void;
}): Promise<TextSection> {
  const { log } = o;
  const rounds = o.quick ? 2 : 3;
  const batches = o.quick ? 4 : 10;
  const ck = findCheckpoint(o.checkpoint);
  let data: TextData;
  if (ck) {
    const src = graphFromSource(ck.dir);
    data = textData(preprocessingOf(src.graph), src.graph.meta.classNames);
    src.dispose();
  } else data = textData();
  const train = limitDataset(data.train, batches * BATCH);
  const spec = specOf(data);
  const config = { epochs: 1, batchSize: BATCH, lr: LR, optimizer: 'adam' as const, seed: 0 };
  const tmp = mkdtempSync(join(tmpdir(), 'graduate-bench-text-'));
  writeFileSync(join(tmp, 'ids.i32'), train.x);
  writeFileSync(join(tmp, 'y.i32'), train.y);
  let torchNote = '';
  let torchVersion = '';
  /** PyTorch's samples/s over the same batches, or undefined (torchNote says why). */
  const torch = (t: number): number | undefined => {
    if (torchNote) return undefined;
    const args = [join(tmp, 'ids.i32'), join(tmp, 'y.i32'), train.sampleShape[0], data.vocab]
      .concat([train.classNames.length, t, batches, BATCH, LR])
      .concat([SIZE.dim, SIZE.layers, SIZE.heads, SIZE.ffn])
      .map(String);
    try {
      const out = execFileSync(PYTHON, [TORCH_SCRIPT, ...args], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const r = JSON.parse(out.trim().split('\n').pop() as string) as { samplesPerSecond: number; torch: string };
      torchVersion = r.torch;
      return r.samplesPerSecond;
    } catch (e) {
      torchNote = `PyTorch skipped: ${PYTHON} ${TORCH_SCRIPT} failed (${String((e as { stderr?: string }).stderr ?? e)
        .trim()
        .split('\n')
        .pop()})`;
      log(torchNote);
      return undefined;
    }
  };
  const rows: PeerRounds[] = [];
  let macs = 0;
  for (const t of THREADS) {
    shutdown();
    init({ threads: t });
    manualSeed(0);
    const built = buildModel(spec);
    macs = built.macs;
    const run = (ds: ArrayDataset) => {
      const r = fit({ model: built.model, modelSpec: spec, train: ds, config, log: () => {}, progress: false });
      r.optimizer.dispose();
      return r.history.epochs[0].samplesPerSecond;
    };
    run(limitDataset(train, 2 * BATCH)); // warm-up: V8 tiers the loop up, the engine's heap grows
    const row: PeerRounds = { threads: t, graduate: [], torch: [], ratios: [] };
    for (let r = 0; r < rounds; r++) {
      row.graduate.push(run(train));
      const p = torch(t);
      if (p !== undefined) {
        row.torch.push(p);
        row.ratios.push(row.graduate[r] / p);
      }
      log(
        `text train, ${th(t)}, round ${r + 1}/${rounds}: ${row.graduate[r].toFixed(1)} samples/s${p ? `, PyTorch ${p.toFixed(1)}` : ''}`,
      );
    }
    built.model.dispose();
    rows.push(row);
  }
  shutdown();
  rmSync(tmp, { recursive: true, force: true });
  torchNote ||= `PyTorch ${torchVersion} CPU (${PYTHON}, bench/torch_text.py: nn.TransformerEncoderLayer norm_first, exact GELU, key padding mask; torch.set_num_threads; the same ids, labels and batch order; its import and 2 warm-up steps untimed)`;
  const L = train.sampleShape[0];
  const lines = [
    `\ntext-transformer preset training (vocab ${data.vocab}, L ${L}, d ${SIZE.dim}, ${SIZE.layers} pre-norm layer(s) × ${SIZE.heads} heads, FFN ${SIZE.ffn}; ${(macs / 1e6).toFixed(1)} MMAC/sample forward; Adam ${LR}, batch ${BATCH}) on ${data.source}`,
    `full steps (batch gather, forward, backward, Adam, loss and argmax read back); ${rounds} rounds of ${batches} batches per side and thread count, Graduate and PyTorch in turn; median of rounds`,
    `  ${'threads'.padEnd(9)}${'Graduate'.padStart(10)}${'PyTorch'.padStart(10)}   Graduate / PyTorch (per round)   Graduate GFLOP/s (≈ 3 × forward)`,
  ];
  for (const r of rows) lines.push(`${peerRoundsLine(r, 1)}   ${((median(r.graduate) * macs * 6) / 1e9).toFixed(1)}`);
  lines.push(`  samples/s; ${torchNote}`);
  return {
    lines,
    json: {
      data: data.source,
      checkpoint: ck?.dir ?? null,
      batch: BATCH,
      batches,
      rounds,
      macsPerSample: macs,
      torch: torchNote,
      samplesPerSecond: peerRoundsJson(rows),
    },
  };
}

// ---- bench:infer ----------------------------------------------------------------------------------

export interface TextInferOptions {
  /** A text-transformer checkpoint folder (default runs/text-transformer or /tmp/tt*, else random weights). */
  checkpoint?: string;
  /** A graduated artifact of it (default: compiled here, int8, with the accuracy gate). */
  artifact?: string;
  quick: boolean;
  /** Timing of each round (batch 32; single-text latency runs). */
  settings: Pick<MeasureSettings, 'trial' | 'latRuns' | 'latWarmup'> & { rounds: number };
  log: (line: string) => void;
}

interface Timing {
  perSecond: number;
  p50: number;
  p99: number;
}

/** The parent: the checkpoint's graph, else the preset with its initial (random) weights. */
function textParent(o: TextInferOptions): {
  graph: Graph;
  data: TextData;
  source: string;
  trained: boolean;
  dispose(): void;
} {
  const ck = findCheckpoint(o.checkpoint);
  if (ck) {
    const src = graphFromSource(ck.dir);
    const pre = preprocessingOf(src.graph);
    if (pre.kind !== 'text') throw new Error(`bench text: ${ck.dir} is not a text model (its input is ${pre.kind})`);
    return {
      graph: src.graph,
      dispose: src.dispose,
      data: textData(pre, src.graph.meta.classNames),
      source: `checkpoint ${ck.dir} (${ck.how})`,
      trained: true,
    };
  }
  const data = textData();
  const spec = specOf(data);
  manualSeed(0);
  const { model } = buildModel(spec);
  const pre = data.train.preprocessing;
  const graph = captureGraph(
    model,
    { kind: 'text', shape: [...pre.inputShape], tokenizer: pre.tokenizer },
    data.train.classNames,
    { inputDType: 'int32' },
  );
  return {
    graph,
    dispose: () => model.dispose(),
    data,
    source:
      'text-transformer preset with its initial random weights (no --text-checkpoint, runs/text-transformer or /tmp/tt*: timing only, accuracies meaningless)',
    trained: false,
  };
}

/** How far two runners' logits of the first n samples are apart: max |Δ| and argmax agreement. */
function compareLogits(a: Float32Array, b: Float32Array, n: number, classes: number): string {
  let maxDiff = 0;
  for (let i = 0; i < n * classes; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
  const pa = argmaxRows(a, n, classes);
  const pb = argmaxRows(b, n, classes);
  const same = pa.filter((v, i) => v === pb[i]).length;
  return `logits within ${maxDiff.toExponential(1)} of the parent Session's, argmax agrees on ${same}/${n}`;
}

/** Node ops of a graph, counted, with the int8 ones marked ("linear 10 (int8 10)"). */
function opCounts(g: Graph): string {
  const counts = new Map<string, [number, number]>();
  for (const n of g.nodes) {
    const int8 = n.inputs.some((c) => g.constants[c]?.data instanceof Int8Array);
    const [all, q] = counts.get(n.op) ?? [0, 0];
    counts.set(n.op, [all + 1, q + (int8 ? 1 : 0)]);
  }
  return [...counts]
    .sort((a, b) => b[1][0] - a[1][0])
    .map(([op, [all, q]]) => `${op} ${all}${q ? ` (int8 ${q})` : ''}`)
    .join(', ');
}

/** An onnxruntime-node CPU session on int64 ids [n, L] (intraOpNumThreads = threads, sequential). */
async function ortIds(
  model: Uint8Array,
  threads: number,
  ids: BigInt64Array,
  L: number,
): Promise<{ run: Runner; release(): Promise<void> }> {
  const { ort, session: s } = await ortNodeCpu(model, threads);
  const [input] = s.inputNames;
  const [output] = s.outputNames;
  return {
    run: async (i, n) =>
      (await s.run({ [input]: new ort.Tensor('int64', ids.subarray(i * L, (i + n) * L), [n, L]) }))[output]
        .data as Float32Array,
    release: () => s.release(),
  };
}

/**
 * Batch-1 latency and batch-32 throughput of the text-transformer as the float parent Session,
 * graduated, and on onnxruntime-node (the exported parent), 1 and 2 threads each, interleaved.
 */
export async function benchTextInfer(o: TextInferOptions): Promise<TextSection> {
  const { log, settings } = o;
  const parent = textParent(o);
  const { test, train } = parent.data;
  const classes = parent.graph.meta.classNames.length;
  const L = test.sampleShape[0];
  const poolSize = Math.min(test.size, 256);
  const pool = spread(test, poolSize).x as Int32Array;
  log(`text parent: ${parent.source}`);

  const e1 = Engine.create({ threads: 1 });
  const e2 = Engine.create({ threads: 2 });
  const engines = { 1: e1, 2: e2 } as const;
  let grad: Graph;
  let how: string;
  let accuracy: [number, number];
  const compileLog: string[] = [];
  const real = parent.data.real;
  const gate = parent.trained && real;
  const evalTest = spread(test, real && !o.quick ? test.size : 256);
  if (o.artifact) {
    grad = readArtifact(new Uint8Array(readFileSync(o.artifact)), o.artifact);
    how = `${o.artifact} (--text-artifact)`;
    accuracy = [evaluateGraph(parent.graph, evalTest, e2).accuracy, evaluateGraph(grad, evalTest, e2).accuracy];
  } else {
    const calib = spread(train, real && !o.quick ? 1000 : 256);
    const opts = {
      quantize: 'int8' as const,
      calibration: 'percentile' as const,
      allowNearChance: !gate,
      log: (l: string) => compileLog.push(l),
    };
    const inputs = { parent: parent.graph, calib, test: evalTest, engine: e2 };
    how = `compiled here: int8, percentile calibration on ${calib.size} training texts (as \`graduate compile DIR --quantize int8\`)`;
    log(`text: ${how}…`);
    const t0 = performance.now();
    let r: ReturnType<typeof compile>;
    try {
      r = compile(inputs, { ...opts, maxAccuracyDrop: gate ? 0.5 : 100 });
      how += gate ? '; gate passed (0.5 pp)' : '; accuracy gate off (random weights or data)';
    } catch (e) {
      if (!(e instanceof AccuracyGateError)) throw e;
      how += `; gate REFUSED at 0.5 pp (${e.message.split(';')[0]}), measured with the gate off`;
      compileLog.length = 0;
      r = compile(inputs, { ...opts, maxAccuracyDrop: 100 });
    }
    how += ` (${((performance.now() - t0) / 1000).toFixed(1)} s)`;
    grad = r.graph;
    accuracy = r.report.totals.accuracy;
  }

  // ---- runners: Graduate's Sessions and onnxruntime-node's -----------------------------------------
  const sessions: Session[] = [];
  const on = (g: Graph, e: Engine): Runner => {
    const s = new Session(g, { engine: e, maxBatch: BATCH });
    sessions.push(s);
    return (i, n) => s.run(pool.subarray(i * L, (i + n) * L), n);
  };
  const PARENT = (t: number) => `Graduate parent f32 Session (${th(t)})`;
  const GRAD = (t: number) => `Graduate graduated (${th(t)})`;
  const ORT = (t: number) => `onnxruntime-node f32 (${th(t)})`;
  const runners: [string, Runner][] = [];
  for (const t of THREADS) runners.push([PARENT(t), on(parent.graph, engines[t])]);
  for (const t of THREADS) runners.push([GRAD(t), on(grad, engines[t])]);
  const notes: string[] = [];
  const peers: { release(): Promise<void> }[] = [];
  let onnx: Uint8Array | undefined;
  try {
    onnx = exportOnnx(parent.graph);
  } catch (e) {
    notes.push(`onnxruntime-node skipped: exportOnnx failed (${(e as Error).message.split('\n')[0]})`);
  }
  if (onnx) {
    const ids = BigInt64Array.from(pool, (v) => BigInt(v));
    for (const t of THREADS)
      try {
        const p = await ortIds(onnx, t, ids, L);
        peers.push(p);
        runners.push([ORT(t), p.run]);
      } catch (e) {
        notes.push(`${ORT(t)} failed: ${(e as Error).message.split('\n')[0]}`);
      }
  }
  for (const n of notes) log(n);
  const checkN = Math.min(poolSize, BATCH);
  const ours = await runners[0][1](0, checkN);
  const checks = await Promise.all(
    runners
      .slice(1)
      .map(async ([name, run]) => `${name}: ${compareLogits(ours, await run(0, checkN), checkN, classes)}`),
  );
  for (const c of checks) log(c);

  // ---- rounds: every runner in turn within each round; ratios per round --------------------------
  const timings = new Map<string, Timing[]>();
  for (let r = 0; r < settings.rounds; r++) {
    const res = await measureAll(runners, { ...settings, rounds: 1, batch: BATCH, samples: poolSize });
    for (const [name, x] of Object.entries(res)) timings.set(name, [...(timings.get(name) ?? []), x]);
    log(`text infer, round ${r + 1}/${settings.rounds}`);
  }
  for (const s of sessions) s.dispose();
  for (const p of peers) await p.release();
  parent.dispose();
  e1.dispose();
  e2.dispose();

  // ---- report: medians of rounds; ratios per round against ONNX Runtime at the same threads -------
  const threadsOf = (name: string) => (name.includes('(2 threads)') ? 2 : 1);
  const summary = [...timings].map(([name, ts]) => {
    const ref = timings.get(ORT(threadsOf(name)));
    const vs = (speed: (x: Timing) => number) => (ref ? median(ts.map((x, r) => speed(x) / speed(ref[r]))) : null);
    return {
      name,
      p50: median(ts.map((x) => x.p50)),
      p99: median(ts.map((x) => x.p99)),
      perSecond32: median(ts.map((x) => x.perSecond)),
      vsOrt: { b1: vs((x) => 1 / x.p50), b32: vs((x) => x.perSecond) },
    };
  });
  summary.sort((a, b) => threadsOf(a.name) - threadsOf(b.name));
  const col = (s: string, n: number) => s.padStart(n);
  const x = (v: number | null) => (v === null ? '-' : `${v.toFixed(2)}×`);
  const lines: string[] = [
    `\ntext-transformer inference (${parent.source}; L ${L}; ${(graphMacs(parent.graph) / 1e6).toFixed(1)} MMAC/text parent, ${(graphMacs(grad) / 1e6).toFixed(1)} graduated) on ${parent.data.source}`,
    `batch 32: ${settings.trial.trials} trials per round; batch 1: ${settings.latRuns} single-text runs per round, round-robin over the runners; median of ${settings.rounds} round(s)`,
    `${'runner'.padEnd(36)}${col('p50 ms', 8)}${col('p99 ms', 8)}${col('b32 /s', 9)}   vs ORT, same threads: b1  b32`,
  ];
  for (const s of summary)
    lines.push(
      `${s.name.padEnd(36)}${col(s.p50.toFixed(2), 8)}${col(s.p99.toFixed(2), 8)}${col(s.perSecond32.toFixed(0), 9)}   ${x(s.vsOrt.b1)} ${x(s.vsOrt.b32)}`,
    );
  lines.push(
    "(ratios: Graduate's speed / onnxruntime-node's at the same threads — its p50 over ours at batch 1, our texts/s over its at 32 — per round, median; > 1: faster than ONNX Runtime)",
  );
  lines.push(
    `graduated: ${how}; ${(writeArtifact(parent.graph).length / 1024).toFixed(1)} KiB parent → ${(writeArtifact(grad).length / 1024).toFixed(1)} KiB; test accuracy ${(accuracy[0] * 100).toFixed(1)}% → ${(accuracy[1] * 100).toFixed(1)}% (${evalTest.size} texts)`,
  );
  lines.push(`graduated graph: ${opCounts(grad)}`);
  for (const l of compileLog) lines.push(`  compile: ${l}`);
  if (onnx)
    lines.push(
      `onnxruntime-node ${ortVersions().node} (CPU, interOpNumThreads 1, graph optimisation 'all') on exportOnnx(parent) (f32, int64 ids [N, ${L}], ${(onnx.length / 1024).toFixed(1)} KiB)`,
    );
  for (const c of checks) lines.push(`check: ${c}`);
  for (const n of notes) lines.push(n);
  return {
    lines,
    json: {
      parent: parent.source,
      data: parent.data.source,
      graduated: how,
      graduatedOps: opCounts(grad),
      compileLog,
      accuracy,
      checks,
      notes,
      results: summary,
      rounds: Object.fromEntries(timings),
    },
  };
}
