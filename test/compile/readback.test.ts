// What compile writes is what readArtifact accepts and a Session runs: artifacts of an fp16, an
// int8, a residual and a text (embeddingbag) model are read back through the one validator and
// run, answering as the compiled graph did. And the input spec a text artifact records (its
// tokenizer) is validated on read, so that inspect never accepts what predict or eval then
// cannot use.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { captureGraph } from '../../src/compile/capture.js';
import { type CompileOptions, compile } from '../../src/compile/pipeline.js';
import { evaluateGraph, preprocessingOf } from '../../src/compile/verify.js';
import type { ArrayDataset } from '../../src/data/dataset.js';
import { loadText } from '../../src/data/text.js';
import { FormatError } from '../../src/errors.js';
import { readArtifact } from '../../src/graph/artifact.js';
import type { Graph, InputSpec } from '../../src/graph/ir.js';
import { buildModel } from '../../src/nn/build.js';
import type { ModelSpec } from '../../src/nn/spec.js';
import { Session } from '../../src/runtime/session.js';
import { manualSeed } from '../../src/tensor/random.js';
import { fit } from '../../src/train/fit.js';
import { rewriteHeader } from '../graph/craft.js';
import { engineConfigs, engineFor, expectClose } from '../helpers.js';
import { tempDirs, tinyData } from '../train/tiny.js';

const engine = engineFor(engineConfigs()[0]);
const tmp = tempDirs('graduate-readback-');
afterAll(tmp.cleanup);

/** Trains `spec` on `train` and captures its graph (what compile gets from a checkpoint). */
function trainedGraph(spec: ModelSpec, train: ArrayDataset, epochs: number, input: InputSpec): Graph {
  manualSeed(1);
  const { model } = buildModel(spec);
  const r = fit({
    model,
    modelSpec: spec,
    train,
    config: { epochs, batchSize: 16, lr: 0.02, optimizer: 'adam', seed: 1 },
    log: () => {},
  });
  r.optimizer.dispose();
  model.eval();
  const g = captureGraph(model, input, train.classNames, { inputDType: spec.inputDType });
  model.dispose();
  return g;
}

/**
 * Compiles, reads the artifact back (validateGraph runs in readArtifact) and runs it in a fresh
 * Session: same answers as the compiled graph, the accuracy the report claims.
 */
function readBack(name: string, parent: Graph, train: ArrayDataset, test: ArrayDataset, opts: CompileOptions) {
  const r = compile({ parent, calib: train, test, engine }, { maxAccuracyDrop: 100, ...opts });
  const g = readArtifact(r.bytes, `${name}.grad`);
  const n = Math.min(test.size, 32);
  const x = test.x.subarray(0, n * (test.x.length / test.size));
  const read = new Session(g);
  const compiled = new Session(r.graph, { engine });
  try {
    const out = read.run(x, n);
    expect(out.every(Number.isFinite)).toBe(true);
    expectClose(out, compiled.run(x, n), 1e-4, 1e-4); // another engine: summation order may differ
  } finally {
    read.dispose();
    compiled.dispose();
  }
  expect(evaluateGraph(g, test, engine).accuracy).toBe(r.report.totals.accuracy[1]);
  expect(r.report.totals.accuracy[1]).toBeGreaterThan(0.9);
  return { graph: g, bytes: r.bytes };
}

const TABULAR: InputSpec = { kind: 'tabular', shape: [2], mean: [0, 0], std: [1, 1] };
const MLP: ModelSpec = {
  inputShape: [2],
  layers: [{ type: 'linear', out: 16 }, { type: 'relu' }, { type: 'linear', out: 3 }],
};
const RESIDUAL: ModelSpec = {
  inputShape: [2],
  layers: [
    { type: 'linear', out: 16 },
    { type: 'relu' },
    {
      type: 'residual',
      layers: [{ type: 'linear', out: 16 }, { type: 'relu' }, { type: 'linear', out: 16 }],
    },
    { type: 'relu' },
    { type: 'linear', out: 3 },
  ],
};

/** Two classes told apart by their words; texts of 3 to 6 words, some unknown to the vocabulary. */
function textData(file: string, n: number, seed: number): string {
  const words = { pos: ['good', 'great', 'fine', 'nice'], neg: ['bad', 'awful', 'poor', 'sad'] };
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 2 ? 'pos' : 'neg';
    const len = 3 + ((i * seed) % 4);
    const text = Array.from({ length: len }, (_, k) => words[label][(i + k * seed) % 4]);
    if (i % 5 === 0) text.push(`rare${i}`);
    lines.push(JSON.stringify({ text: text.join(' '), label }));
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

describe('compiled artifacts read back and run', () => {
  const train = tinyData(96);
  const test = tinyData(90, 2);
  const mlp = trainedGraph(MLP, train, 20, TABULAR);

  it('fp16: float16 weights', () => {
    const { graph } = readBack('fp16', mlp, train, test, { quantize: 'fp16' });
    expect(Object.values(graph.constants).some((c) => c.dtype === 'float16')).toBe(true);
  });

  it('int8: int8 weights and quantized activations', () => {
    const { graph } = readBack('int8', mlp, train, test, { quantize: 'int8' });
    expect(Object.values(graph.constants).some((c) => c.dtype === 'int8')).toBe(true);
  });

  it('a residual model, as int8 (residual layers stay float)', () => {
    const parent = trainedGraph(RESIDUAL, train, 20, TABULAR);
    expect(parent.nodes.some((n) => n.op === 'add')).toBe(true);
    const { graph } = readBack('residual', parent, train, test, { quantize: 'int8' });
    // the fusion pass folds the add into the second linear of the block as its residual
    expect(graph.nodes.some((n) => (n.attrs as { residual?: string }).residual)).toBe(true);
  });

  describe('a text model (embeddingbag) and its tokenizer', () => {
    const dir = tmp.make();
    const textTrain = loadText(textData(join(dir, 'train.jsonl'), 120, 3), { vocabSize: 16, maxTokens: 8 });
    const textTest = loadText(textData(join(dir, 'test.jsonl'), 60, 5), {
      reuse: textTrain.preprocessing.tokenizer,
      maxTokens: 8,
      classNames: textTrain.classNames,
    });
    const vocab = (textTrain.preprocessing.tokenizer as { vocab: string[] }).vocab.length;
    const spec: ModelSpec = {
      inputShape: [8],
      inputDType: 'int32',
      layers: [
        { type: 'embeddingbag', vocab, dim: 8 },
        { type: 'linear', out: 2 },
      ],
    };
    const pre = textTrain.preprocessing;
    const input: InputSpec = { kind: 'text', shape: pre.inputShape, tokenizer: pre.tokenizer };
    const parent = trainedGraph(spec, textTrain, 30, input);
    let bytes: Uint8Array;

    it('reads back and runs (int8 compile of an embeddingbag model)', () => {
      ({ bytes } = readBack('text', parent, textTrain, textTest, { quantize: 'int8' }));
      const g = readArtifact(bytes, 'text.grad');
      expect(g.nodes[0].op).toBe('embeddingbag');
      expect(preprocessingOf(g).tokenizer).toEqual(pre.tokenizer);
    });

    it('a malformed tokenizer is refused on read, naming the field (before: inspect passed it, eval crashed)', () => {
      const cases: [(t: Record<string, unknown>) => unknown, string][] = [
        [() => undefined, 'meta.input.tokenizer must be an object (text input needs one), got undefined'],
        [(t) => ({ ...t, vocab: 'good bad' }), 'meta.input.tokenizer.vocab must be a non-empty array, got "good bad"'],
        [(t) => ({ ...t, vocab: ['<unk>', 7] }), 'meta.input.tokenizer.vocab[1] must be a string, got 7'],
        [(t) => ({ ...t, lowercase: 'yes' }), 'meta.input.tokenizer.lowercase must be true or false, got "yes"'],
        [(t) => ({ ...t, kind: 'words' }), "meta.input.tokenizer.kind must be 'vocab', 'hash' or 'bpe', got \"words\""],
        [(t) => ({ ...t, kind: 'bpe' }), 'meta.input.tokenizer.cls must be true or false, got undefined'],
        [() => ({ kind: 'hash', buckets: 0, lowercase: true }), 'meta.input.tokenizer.buckets must be an integer in'],
        // ids the embedding table does not have: read beyond the table, silently
        [
          () => ({ kind: 'hash', buckets: 1000, lowercase: true }),
          `meta.input.tokenizer makes 1000 token ids, but the table '${parent.nodes[0].inputs[1]}' of node '${parent.nodes[0].name}' has ${vocab} rows`,
        ],
        [
          (t) => ({ ...t, vocab: [...(t.vocab as string[]), 'extra'] }),
          `meta.input.tokenizer makes ${vocab + 1} token ids`,
        ],
      ];
      for (const [edit, message] of cases) {
        const crafted = rewriteHeader(bytes, (h) => {
          h.graph.meta.input.tokenizer = edit(h.graph.meta.input.tokenizer);
        });
        expect(() => readArtifact(crafted, 'text.grad')).toThrow(FormatError);
        expect(() => readArtifact(crafted, 'text.grad')).toThrow(`text.grad: ${message}`);
      }
      const asFloat = rewriteHeader(bytes, (h) => {
        h.graph.meta.input.kind = 'tabular';
        delete h.graph.meta.input.tokenizer;
      });
      expect(() => readArtifact(asFloat, 'text.grad')).not.toThrow();
    });
  });

  it('image and tabular input specs: mean/std one per channel (image-input.ts does not broadcast), std > 0, scale > 0', () => {
    const bytes = readBack('spec', mlp, train, test, { quantize: 'none' }).bytes;
    const cases: [Record<string, unknown>, string][] = [
      [{ mean: [0] }, 'meta.input.mean must be 2 values (one per channel or feature), got [0]'],
      [{ std: [1, 0] }, 'meta.input.std[1] must be positive (at least 2^-126), got 0'],
      [{ std: [1, -2] }, 'meta.input.std[1] must be positive (at least 2^-126), got -2'],
      [{ scale: 0 }, 'meta.input.scale must be a finite float32 number > 0, got 0'],
      [{ mean: [0, 'x'] }, 'meta.input.mean[1] must be a finite float32 number, got "x"'],
      [{ kind: 'image' }, 'meta.input.shape must be [height, width, channels] for image input, got [2]'],
    ];
    for (const [edit, message] of cases) {
      const crafted = rewriteHeader(bytes, (h) => {
        Object.assign(h.graph.meta.input, edit);
      });
      expect(() => readArtifact(crafted, 'spec.grad')).toThrow(`spec.grad: ${message}`);
    }
  });
});
