// npm run bench:train [-- --json FILE] [--quick] [--only kws|text] [--text-checkpoint DIR] — training throughput on Fashion-MNIST in one run:
// Graduate vs TensorFlow.js wasm on the MLP, Graduate vs TensorFlow.js cpu on the CNN (tfjs-wasm
// cannot train convolutions), the CNN's achieved GFLOP/s as a fraction of the 512³ GEMM measured
// here at the same thread count, and the CNN's seconds per epoch. Then the kws section
// (bench/kws.ts): the kws preset's training samples/s beside PyTorch CPU, 1 and 2 threads;
// `--only kws` runs it alone. Then the text section (bench/text.ts): the text-transformer preset's
// training samples/s at 1 and 2 threads beside PyTorch CPU (--text-checkpoint DIR for its tokenizer and SpamAssassin,
// else random ids); `--only text` runs it alone.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type ArrayDataset, subset } from '../src/data/dataset.js';
import { loadFashionMnist } from '../src/data/fashion-mnist.js';
import { freePacked, gemmPacked, packB } from '../src/kernels/gemm.js';
import { buildModel } from '../src/nn/build.js';
import { presetSpec } from '../src/nn/presets.js';
import { engine } from '../src/tensor/context.js';
import { manualSeed } from '../src/tensor/random.js';
import { fit } from '../src/train/fit.js';
import { benchKwsTrain } from './kws.js';
import { loadTfWasm, type Tf } from './peers.js';
import { benchTextTrain } from './text.js';
import { timeMs } from './timing.js';

const { values } = parseArgs({
  options: {
    json: { type: 'string' },
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'text-checkpoint': { type: 'string' },
  },
});
if (values.only !== undefined && values.only !== 'kws' && values.only !== 'text')
  throw new Error(`--only ${values.only}: the sections are 'kws' and 'text' (or all, without --only)`);
const quick = values.quick;
/** The kws section (it rebuilds the default engine per thread count: run it after the rest). */
const kwsSection = async () => {
  const kws = await benchKwsTrain({ quick, log: (l) => console.error(l) });
  for (const l of kws.lines) console.log(l);
  return kws.json;
};
/** The text section (it too rebuilds the default engine per thread count). */
const textSection = async () => {
  const text = await benchTextTrain({ checkpoint: values['text-checkpoint'], quick, log: (l) => console.error(l) });
  for (const l of text.lines) console.log(l);
  return text.json;
};
if (values.only === 'text') {
  const text = await textSection();
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ date: new Date().toISOString(), text }, null, 2)}\n`);
  process.exit(0);
}
if (values.only === 'kws') {
  const kws = await kwsSection();
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ date: new Date().toISOString(), kws }, null, 2)}\n`);
  process.exit(0);
}
const BATCH = 64;
const train = loadFashionMnist('train');
const first = (ds: ArrayDataset, n: number) =>
  subset(
    ds,
    Int32Array.from({ length: n }, (_, i) => i),
  );

/**
 * Samples/s of Graduate's fit loop (data loading, forward, backward, Adam) over `batches` batches,
 * in `rounds` rounds; `between` runs after each round (the 512³ GEMM, so that the CNN/GEMM ratio
 * compares figures taken moments apart on this shared, noisy host). Returns the median round.
 */
function graduate(
  preset: 'mlp' | 'cnn',
  batches: number,
  rounds = 1,
  between?: () => number,
): { samplesPerSecond: number; macs: number; ratios: number[] } {
  const spec = presetSpec(preset, [28, 28, 1], 10);
  manualSeed(0);
  const { model, macs } = buildModel(spec);
  const warm = first(train, BATCH * 5);
  const cfg = { epochs: 1, batchSize: BATCH, lr: 1e-3, optimizer: 'adam' as const, seed: 0 };
  fit({ model, modelSpec: spec, train: warm, config: cfg, log: () => {}, progress: false }).optimizer.dispose();
  const rates: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const r = fit({
      model,
      modelSpec: spec,
      train: first(train, BATCH * Math.ceil(batches / rounds)),
      config: cfg,
      log: () => {},
      progress: false,
    });
    r.optimizer.dispose();
    const rate = r.history.epochs[0].samplesPerSecond;
    rates.push(rate);
    if (between) ratios.push((rate * macs * 2 * 3) / 1e9 / between());
  }
  model.dispose();
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
  return { samplesPerSecond: median(rates), macs, ratios: ratios.length ? [median(ratios), ...ratios] : [] };
}

/** The preset as a TensorFlow.js model, layer for layer (so the peer trains the same network). */
function tfModel(tf: Tf, preset: 'mlp' | 'cnn') {
  const L = tf.layers;
  const spec = presetSpec(preset, [28, 28, 1], 10);
  const layers = spec.layers.map((l, i) => {
    const first = i === 0 ? { inputShape: spec.inputShape } : {};
    switch (l.type) {
      case 'conv2d':
        if (l.padding !== 'same' || (l.stride ?? 1) !== 1) throw new Error('bench: only stride-1 same convs mapped');
        return L.conv2d({ ...first, filters: l.out, kernelSize: l.kernel, padding: 'same', useBias: l.bias ?? true });
      case 'batchnorm':
        return L.batchNormalization(first);
      case 'relu':
        return L.reLU(first);
      case 'maxpool2d':
        return L.maxPooling2d({ ...first, poolSize: l.kernel });
      case 'flatten':
        return L.flatten(first);
      case 'linear':
        return L.dense({ ...first, units: l.out });
      case 'dropout':
        return L.dropout({ ...first, rate: l.p });
      default:
        throw new Error(`bench: preset layer '${l.type}' has no tfjs mapping`);
    }
  });
  return tf.sequential({ layers });
}

/** Samples/s of a TensorFlow.js training loop (same data, same batch size, Adam). */
function tfjs(tf: Tf, preset: 'mlp' | 'cnn', batches: number, warmup = 3): number {
  const model = tfModel(tf, preset);
  const opt = tf.train.adam(1e-3);
  const step = (b: number) => {
    const i0 = (b * BATCH) % (train.size - BATCH);
    tf.tidy(() => {
      const x = tf.tensor4d(train.x.subarray(i0 * 784, (i0 + BATCH) * 784) as Float32Array, [BATCH, 28, 28, 1]);
      const y = tf.oneHot(tf.tensor1d(train.y.subarray(i0, i0 + BATCH), 'int32'), 10);
      const loss = opt.minimize(
        () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as never) as never,
        true,
      );
      loss?.dataSync();
    });
  };
  for (let b = 0; b < warmup; b++) step(b);
  const t0 = performance.now();
  for (let b = 0; b < batches; b++) step(b);
  const s = (performance.now() - t0) / 1000;
  model.dispose();
  return (batches * BATCH) / s;
}

function gemm512(): number {
  const e = engine();
  const n = 512;
  const a = e.alloc(n * n * 4);
  const b = e.alloc(n * n * 4);
  const c = e.alloc(n * n * 4);
  e.f32.fill(0.5, a >> 2, (a >> 2) + n * n);
  e.f32.fill(0.25, b >> 2, (b >> 2) + n * n);
  const p = packB(e, b, n, n);
  const ms = timeMs(() => gemmPacked(e, a, n, p, c), quick ? { minTrialMs: 20, trials: 3 } : {});
  freePacked(e, p);
  for (const q of [a, b, c]) e.free(q);
  return (2 * n ** 3) / ms / 1e6;
}

const threads = engine().threads;
console.error(`measuring (threads ${threads}, isa ${engine().isa})…`);
const gMlp = graduate('mlp', quick ? 50 : 300);
const gemms: number[] = [];
const gCnn = graduate('cnn', quick ? 10 : 60, quick ? 1 : 3, () => {
  const g = gemm512();
  gemms.push(g);
  return g;
});
const gemm = [...gemms].sort((a, b) => a - b)[gemms.length >> 1];
const tf = await loadTfWasm();
const tMlp = tfjs(tf, 'mlp', quick ? 20 : 100);
let tfWasmCnn = 'trains';
try {
  tfjs(tf, 'cnn', 1);
} catch (e) {
  tfWasmCnn = `cannot train: ${(e as Error).message.split('\n')[0].slice(0, 90)}`;
}
await tf.setBackend('cpu');
// tfjs's cpu backend convolves in plain JavaScript (minutes per batch of 64 on the 14.8-MMAC cnn
// preset): one warm-up and two measured batches
console.error('measuring tfjs-cpu on the CNN (slow: several minutes)…');
const tCnn = tfjs(tf, 'cnn', quick ? 1 : 2, 1);

const cnnGflops = (gCnn.samplesPerSecond * gCnn.macs * 2 * 3) / 1e9; // training ≈ 3× forward FLOPs
const rows = [
  ['MLP 784-256-128-10', 'Graduate', gMlp.samplesPerSecond],
  ['MLP 784-256-128-10', 'tfjs-wasm', tMlp],
  ['CNN (preset cnn)', 'Graduate', gCnn.samplesPerSecond],
  ['CNN (preset cnn)', 'tfjs-cpu', tCnn],
] as const;
console.log(
  `\ntraining throughput, Fashion-MNIST, batch ${BATCH}, Adam — Graduate ${threads} thread(s), ${engine().isa}; ${new Date().toISOString()}`,
);
for (const [m, who, v] of rows)
  console.log(`  ${m.padEnd(20)} ${who.padEnd(10)} ${v.toFixed(0).padStart(8)} samples/s`);
console.log(`  tfjs-wasm on the CNN: ${tfWasmCnn}`);
console.log(
  `\nCNN: ${(gCnn.macs / 1e6).toFixed(2)} MMAC/sample forward → ${cnnGflops.toFixed(1)} GFLOP/s achieved in training; 512³ GEMM here: ${gemm.toFixed(1)} GFLOP/s (median of ${gemms.map((g) => g.toFixed(1)).join(', ')}); per-round ratios ${gCnn.ratios
    .slice(1)
    .map((r) => r.toFixed(2))
    .join(', ')}`,
);
console.log(
  `CNN seconds per epoch (60000 samples): ${(60000 / gCnn.samplesPerSecond).toFixed(1)} s; MLP: ${(60000 / gMlp.samplesPerSecond).toFixed(1)} s`,
);
const targets = [
  ['MLP: Graduate ≥ 8× tfjs-wasm', gMlp.samplesPerSecond / tMlp, 8],
  ['CNN: Graduate vs tfjs-cpu (ratio)', gCnn.samplesPerSecond / tCnn, 1],
  [
    'CNN training GFLOP/s ≥ 0.5× 512³ GEMM GFLOP/s (median of rounds, each against the GEMM right after it)',
    gCnn.ratios[0],
    0.5,
  ],
] as const;
console.log('\ntargets');
for (const [name, v, goal] of targets) console.log(`  ${v >= goal ? 'MET ' : 'MISS'} ${name}: ${v.toFixed(2)}×`);
const isa = engine().isa;
const kws = await kwsSection();
const text = await textSection();
if (values.json) {
  writeFileSync(
    values.json,
    `${JSON.stringify({ date: new Date().toISOString(), threads, isa, samplesPerSecond: Object.fromEntries(rows.map(([m, w, v]) => [`${m} ${w}`, v])), cnnGflops, gemm512Gflops: gemm, cnnSecondsPerEpoch: 60000 / gCnn.samplesPerSecond, tfWasmCnn, targets: targets.map(([name, value, goal]) => ({ name, value, goal, met: value >= goal })), kws, text }, null, 2)}\n`,
  );
  console.log(`wrote ${values.json}`);
}
