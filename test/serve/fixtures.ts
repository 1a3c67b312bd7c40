// Tiny artifacts for the server tests: random weights (no training), captured and written like a
// compiled model. An image classifier (8×8 gray images → 3 classes), a text one (token ids) and an
// audio one (1 s of 8 kHz speech as log-mel [98, 40] → 10 digits), and a text transformer over
// a small byte-level BPE (the text-transformer preset, [CLS] first).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultAudioSpec } from '../../src/audio/features.js';
import { captureGraph } from '../../src/compile/capture.js';
import { writeArtifact } from '../../src/graph/artifact.js';
import type { Graph } from '../../src/graph/ir.js';
import * as G from '../../src/index.js';
import { buildModel } from '../../src/nn/build.js';
import { textPresetSpec } from '../../src/nn/presets.js';
import type { TextTokenizer } from '../../src/text/encode.js';
import { trainBpe } from '../../src/text/train-bpe.js';

export const CLASSES = ['cat', 'dog', 'bird'];

/** Writes the artifact to dir/name and returns its path. */
export function writeTinyArtifact(dir: string, name = 'tiny.grad', seed = 1): string {
  G.manualSeed(seed);
  const { model } = buildModel({
    inputShape: [8, 8, 1],
    layers: [
      { type: 'conv2d', out: 4, kernel: 3, padding: 'same' },
      { type: 'relu' },
      { type: 'maxpool2d', kernel: 2 },
      { type: 'flatten' },
      { type: 'linear', out: 3 },
    ],
  });
  model.eval();
  const graph = captureGraph(
    model,
    { kind: 'image', shape: [8, 8, 1], scale: 1 / 255, mean: [0.5], std: [0.25] },
    CLASSES,
  );
  const file = join(dir, name);
  writeFileSync(file, writeArtifact(graph));
  model.dispose();
  return file;
}

/**
 * A tiny text classifier by hand: 4 token ids → embedding bag over a 5-row table [5, 3] → linear
 * → 2 classes. Its token ids lie in [-1, 5).
 */
export function tinyTextGraph(): Graph {
  const table = Float32Array.from({ length: 15 }, (_, i) => Math.sin(i));
  return {
    inputs: ['ids'],
    outputs: ['y'],
    values: {
      ids: { shape: [-1, 4], dtype: 'int32' },
      bag: { shape: [-1, 3], dtype: 'float32' },
      y: { shape: [-1, 2], dtype: 'float32' },
    },
    constants: {
      table: { shape: [5, 3], dtype: 'float32', data: table },
      w: { shape: [3, 2], dtype: 'float32', data: Float32Array.of(1, -1, 0.5, 0.25, -0.5, 2) },
    },
    nodes: [
      { name: 'embed', op: 'embeddingbag', inputs: ['ids', 'table'], output: 'bag', attrs: {} },
      { name: 'fc', op: 'linear', inputs: ['bag', 'w'], output: 'y', attrs: { activation: 'none' } },
    ],
    meta: {
      classNames: ['ham', 'spam'],
      input: {
        kind: 'text',
        shape: [4],
        tokenizer: { kind: 'vocab', vocab: ['a', 'b', 'c', 'd', 'e'], lowercase: true },
      },
      producer: 'test',
    },
  };
}

/** Writes tinyTextGraph() to dir/name and returns its path. */
export function writeTinyTextArtifact(dir: string, name = 'text.grad'): string {
  const file = join(dir, name);
  writeFileSync(file, writeArtifact(tinyTextGraph()));
  return file;
}

export const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/**
 * A tiny keyword model over FSDD's front end (defaultAudioSpec: log-mel [98, 40] of 1 s at 8 kHz,
 * standardised by plausible per-channel statistics): conv1d 8 → relu → max over time → linear 10.
 * Writes it to dir/name and returns its path.
 */
export function writeTinyAudioArtifact(dir: string, name = 'kws.grad', seed = 3): string {
  G.manualSeed(seed);
  const { model } = buildModel({
    inputShape: [98, 40],
    layers: [
      { type: 'conv1d', out: 8, kernel: 3, padding: 'same' },
      { type: 'relu' },
      { type: 'temporalpool', kind: 'max' },
      { type: 'linear', out: 10 },
    ],
  });
  model.eval();
  const mean = Array.from({ length: 40 }, (_, c) => -60 + c / 2);
  const std = Array.from({ length: 40 }, (_, c) => 25 + (c % 5));
  const graph = captureGraph(model, { kind: 'audio', shape: [98, 40], mean, std, audio: defaultAudioSpec() }, DIGITS);
  const file = join(dir, name);
  writeFileSync(file, writeArtifact(graph));
  model.dispose();
  return file;
}

/** Texts of the text fixtures: short and long, ASCII and not, one past TEXT_TOKENS tokens. */
export const TEXTS = [
  'Win a FREE prize now!!! Click here',
  'Meeting moved to 3pm, see you in the lab',
  'ok',
  'Ünïcödé naïve café — résumé attached; please review the numbers before Friday and reply to all of us, thanks again for the help with the quarterly report',
];

/** Token ids per text of the transformer fixture. */
export const TEXT_TOKENS = 24;

/**
 * A text transformer (the text-transformer preset, random weights, eval mode) over a byte-level
 * BPE of 300 tokens trained on TEXTS, [CLS] first, L = TEXT_TOKENS; writes it to dir/name and
 * returns its path.
 */
export function writeTinyTransformerArtifact(dir: string, name = 'spam.grad', seed = 5): string {
  const bpe = trainBpe(TEXTS, { vocabSize: 300 }).tokenizer;
  const tokenizer: TextTokenizer = { kind: 'bpe', bpe: bpe.toJSON(), cls: true };
  G.manualSeed(seed);
  const { model } = buildModel(textPresetSpec('text-transformer', TEXT_TOKENS, 2, bpe.vocabSize));
  model.eval();
  const graph = captureGraph(model, { kind: 'text', shape: [TEXT_TOKENS], tokenizer }, ['ham', 'spam'], {
    inputDType: 'int32',
  });
  const file = join(dir, name);
  writeFileSync(file, writeArtifact(graph));
  model.dispose();
  return file;
}

/** Largest |a[i] - b[i]| (1 when the lengths differ): a response's numbers against local logits. */
export const maxDiff = (a: number[], b: Float32Array) =>
  Math.max(a.length === b.length ? 0 : 1, ...a.map((v, i) => Math.abs(v - b[i])));

/** Value of a Prometheus sample line of a server's /metrics (labels as prom-client writes them; 0 if absent). */
export async function metric(server: { url: string }, line: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const hit = text.split('\n').find((l) => l.startsWith(`${line} `));
  return hit ? Number(hit.split(' ').at(-1)) : 0;
}
