// Graduating a text transformer (issue 18): a text-transformer trained on a toy task (label:
// whether token 5 appears), captured, then each step the pipeline takes on it — layer-norm
// affines folded into the next linears, bias/GELU/residual epilogues on [N, L, d] values, int8 for
// every linear and the embedding table, attention heads and FFN units pruned — checked against the
// float graph it came from.
import { beforeAll, describe, expect, it } from 'vitest';
import { backward } from '../../src/autograd/backward.js';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { captureGraph } from '../../src/compile/capture.js';
import { runPasses } from '../../src/compile/passes/index.js';
import { compile } from '../../src/compile/pipeline.js';
import { pruneChannels } from '../../src/compile/prune.js';
import { applyHeadKeep, findHeadGroups } from '../../src/compile/prune-heads.js';
import { quantizeGraph, quantizeRows } from '../../src/compile/quantize.js';
import { evaluateGraph } from '../../src/compile/verify.js';
import type { ArrayDataset } from '../../src/data/dataset.js';
import type { Graph } from '../../src/graph/ir.js';
import { validateGraph } from '../../src/graph/validate.js';
import { buildModel } from '../../src/nn/build.js';
import { crossEntropy } from '../../src/nn/losses.js';
import { TEXT_TRANSFORMER_SIZE_V1, textPresetSpec } from '../../src/nn/presets.js';
import { gatherInt8 } from '../../src/ops/gather.js';
import { createOptimizer } from '../../src/optim/index.js';
import { Session } from '../../src/runtime/session.js';
import { manualSeed, Rng } from '../../src/tensor/random.js';
import { tidy } from '../../src/tensor/scope.js';
import { tensor } from '../../src/tensor/tensor.js';
import { engine } from './prune-fixtures.js';

const T = 16;
const V = 40;
type Node = Graph['nodes'][number];
const node = (g: Graph, name: string) => g.nodes.find((n) => n.name === name) as Node;

/** Ids of 2–16 real tokens from 1…39 (then 0, [PAD]); label 1 when token 5 appears (half the samples). */
function toy(n: number, seed: number, name: string): ArrayDataset {
  const rng = new Rng(seed);
  const x = new Int32Array(n * T);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const len = 2 + rng.int(T - 1);
    for (let t = 0; t < len; t++) {
      let v = 1 + rng.int(V - 1);
      while (v === 5) v = 1 + rng.int(V - 1);
      x[i * T + t] = v;
    }
    if (rng.next() < 0.5) {
      x[i * T + rng.int(len)] = 5;
      y[i] = 1;
    }
  }
  const tokenizer = { kind: 'vocab' as const, vocab: Array.from({ length: V }, (_, i) => `w${i}`), lowercase: true };
  return {
    x,
    y,
    sampleShape: [T],
    classNames: ['no', 'yes'],
    size: n,
    preprocessing: { kind: 'text', inputShape: [T], tokenizer },
    name,
  };
}

/** The text-transformer preset at L 16, vocabulary 40, trained 2 epochs on `train`, captured and through the early passes. */
function trained(train: ArrayDataset): Graph {
  manualSeed(1);
  const { model } = buildModel(textPresetSpec('text-transformer', T, 2, V, TEXT_TRANSFORMER_SIZE_V1));
  const opt = createOptimizer('adam', model.parameters(), { lr: 1e-3 });
  for (let e = 0; e < 2; e++)
    for (let s = 0; s < train.size; s += 32)
      tidy(() => {
        const x = tensor(train.x.subarray(s * T, (s + 32) * T) as Int32Array, [32, T], 'int32');
        backward(crossEntropy(model.forward(x), tensor(train.y.subarray(s, s + 32), [32], 'int32')));
        opt.step();
        opt.zeroGrad();
      });
  model.eval();
  const { tokenizer } = train.preprocessing;
  const g = noGrad(() =>
    captureGraph(model, { kind: 'text', shape: [T], tokenizer }, ['no', 'yes'], { inputDType: 'int32' }),
  );
  model.dispose();
  return runPasses(g, ['eliminate', 'reshapes', 'fold-bn']).graph;
}

function run(g: Graph, x: Int32Array, n: number): Float32Array {
  const s = new Session(g, { engine: engine, maxBatch: n });
  try {
    return s.run(x, n).slice();
  } finally {
    s.dispose();
  }
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('graduating a text transformer', () => {
  let train: ArrayDataset;
  let test: ArrayDataset;
  let parent: Graph;
  beforeAll(() => {
    train = toy(512, 3, 'toy/train');
    test = toy(256, 4, 'toy/test');
    parent = trained(train);
    // a trained norm's gamma and beta move little in 2 epochs: give them real spread, so folding is tested
    const rng = new Rng(9);
    for (const [name, c] of Object.entries(parent.constants))
      if (/norm\d\.(weight|bias)$/.test(name))
        c.data = (c.data as Float32Array).map((v) => v + (name.endsWith('weight') ? 0.5 : 0.2) * (rng.next() - 0.5));
  }, 120_000);

  it('the parent learnt the task (≥ 95% held out)', () => {
    expect(evaluateGraph(parent, test, engine).accuracy).toBeGreaterThanOrEqual(0.95);
  });

  it('fold-ln moves every pre-norm affine into the QKV and FFN linears; the outputs stay the same', () => {
    const folded = runPasses(parent, ['fold-ln']).graph;
    const norms = folded.nodes.filter((n) => n.op === 'layernorm');
    expect(norms.map((n) => n.name)).toEqual([
      '0.layers.1.norm1',
      '0.layers.1.norm2',
      '0.layers.2.norm1',
      '0.layers.2.norm2',
      '0.layers.3',
    ]);
    for (const n of norms.slice(0, 4)) {
      expect([...(folded.constants[n.inputs[1]].data as Float32Array)].every((v) => v === 1)).toBe(true);
      expect([...(folded.constants[n.inputs[2]].data as Float32Array)].every((v) => v === 0)).toBe(true);
    }
    // the final norm feeds the masked mean pooling (a mul), not a linear: it keeps its affine
    expect(folded.constants[node(folded, '0.layers.3').inputs[1]]).toBe(folded.constants['0.layers.3.weight']);
    const x = test.x.subarray(0, 64 * T) as Int32Array;
    expect(maxDiff(run(folded, x, 64), run(parent, x, 64))).toBeLessThan(1e-4);
  });

  it('fuse: QKV bias, FFN bias + GELU and both residual adds are GEMM epilogues on [N, L, d] values', () => {
    const g = runPasses(parent).graph;
    const at = (name: string) => node(g, name) as Extract<Node, { op: 'linear' }>;
    expect(at('0.layers.1.attn.qkv').inputs).toHaveLength(3);
    expect(at('0.layers.1.ffn1').attrs.activation).toBe('gelu');
    for (const l of [1, 2]) {
      expect(at(`0.layers.${l}.attn.out`).attrs.residual).toBeDefined();
      expect(at(`0.layers.${l}.ffn2`).attrs.residual).toBeDefined();
      expect(g.values[at(`0.layers.${l}.ffn2`).output].shape).toEqual([-1, T, 128]);
    }
    // left: the positions' add (after the embedding) and the attention's mask bias
    expect(g.nodes.filter((n) => n.op === 'unary' || n.op === 'add').map((n) => n.name)).toEqual([
      '0.add',
      '0.layers.1.attn.add',
      '0.layers.2.attn.add',
    ]);
  });

  it('int8: every linear (GELU and residual epilogues after the int8 GEMM) and the embedding rows; accuracy kept', () => {
    const g = runPasses(parent).graph;
    const calib = train.x.subarray(0, 256 * T) as unknown as Float32Array;
    const q = quantizeGraph(g, calib, 256, { mode: 'int8', method: 'percentile', engine: engine, test });
    validateGraph(q.graph, 'int8 transformer');
    const linears = g.nodes.filter((n) => n.op === 'linear').map((n) => n.name);
    expect(linears).toHaveLength(9);
    expect(new Set(q.report.int8Layers)).toEqual(new Set([...linears, '0.embed']));
    for (const name of [...linears, '0.embed'])
      expect(q.graph.constants[node(q.graph, name).inputs[1]].dtype).toBe('int8');
    const before = evaluateGraph(g, test, engine).accuracy;
    const after = evaluateGraph(q.graph, test, engine).accuracy;
    expect((before - after) * 100).toBeLessThanOrEqual(0.5);
    const x = test.x.subarray(0, 64 * T) as Int32Array;
    const [a, b] = [run(q.graph, x, 64), run(g, x, 64)];
    expect(maxDiff(a, b)).toBeLessThan(0.05 * Math.max(...b.map(Math.abs)));
  });

  it('finds both attention blocks (4 heads of 32) and removes a head exactly: equal to the parent with its output rows zeroed', () => {
    const groups = findHeadGroups(parent);
    expect(groups.map((h) => [h.qkv.name, h.out.name, h.heads, h.dh])).toEqual([
      ['0.layers.1.attn.qkv', '0.layers.1.attn.out', 4, 32],
      ['0.layers.2.attn.qkv', '0.layers.2.attn.out', 4, 32],
    ]);
    // head 2 of block 1 removed vs kept with W_out rows 64…95 at 0 (its output then adds nothing)
    const ref = structuredClone(parent);
    const wout = ref.constants['0.layers.1.attn.out.weight'].data as Float32Array;
    wout.fill(0, 64 * 128, 96 * 128);
    const pruned = structuredClone(parent);
    applyHeadKeep(pruned, findHeadGroups(pruned)[0], [0, 1, 3]);
    validateGraph(pruned, 'one head removed');
    expect(pruned.constants['0.layers.1.attn.qkv.weight'].shape).toEqual([128, 288]);
    expect(pruned.constants['0.layers.1.attn.out.weight'].shape).toEqual([96, 128]);
    expect(pruned.values[node(pruned, '0.layers.1.attn.softmax').output].shape).toEqual([-1, 3, T, T]);
    const x = test.x.subarray(0, 64 * T) as Int32Array;
    expect(maxDiff(run(pruned, x, 64), run(ref, x, 64))).toBeLessThan(1e-5);
  });

  it('pruneChannels ranks heads beside FFN units and reaches the MAC budget', () => {
    const r = pruneChannels(parent, { fraction: 0.4, criterion: 'l2', align: 8 });
    validateGraph(r.graph, 'pruned transformer');
    expect(r.reached).toBe(true);
    const heads = r.layers.filter((l) => l.op === 'attention');
    const ffn = r.layers.filter((l) => /ffn1$/.test(l.layer));
    expect(heads.map((l) => l.channels[0])).toEqual([4, 4]);
    expect(heads.some((l) => l.channels[1] < 4)).toBe(true);
    expect(ffn.some((l) => l.channels[1] < 256 && l.channels[1] % 8 === 0)).toBe(true);
    const x = test.x.subarray(0, 8 * T) as Int32Array;
    expect(run(r.graph, x, 8).every(Number.isFinite)).toBe(true);
  });

  it('compile: heads and FFN units pruned, fine-tuned, int8 — within the gate, smaller and faster', () => {
    const { graph, report } = compile(
      { parent, calib: train, test, engine },
      { prune: 0.4, quantize: 'int8', finetuneEpochs: 2, maxAccuracyDrop: 0.5 },
    );
    validateGraph(graph, 'graduated transformer');
    const t = report.totals;
    expect((t.accuracy[0] - t.accuracy[1]) * 100).toBeLessThanOrEqual(0.5);
    expect(t.macs[1]).toBeLessThan(0.65 * t.macs[0]);
    expect(t.fileBytes[1]).toBeLessThan(t.fileBytes[0] / 3);
    expect(report.pruning?.channels?.some((l) => l.op === 'attention' && l.channels[1] < 4)).toBe(true);
  }, 120_000);
});

describe('int8 embedding tables', () => {
  it('one scale per row (max |row| / 127, rounded up to 4 digits): every value within half a step', () => {
    const data = Float32Array.from({ length: 3 * 4 }, (_, i) => Math.sin(i) * [1, 1e-3, 30][Math.floor(i / 4)]);
    const q = quantizeRows({ shape: [3, 4], dtype: 'float32', data });
    expect(q.quant?.axis).toBe(0);
    for (let r = 0; r < 3; r++) {
      const s = q.quant?.scale[r] as number;
      const max = Math.max(...data.subarray(r * 4, r * 4 + 4).map(Math.abs));
      expect(s).toBeGreaterThanOrEqual(max / 127);
      expect(s).toBeLessThan((max / 127) * 1.001);
      expect(Number(s.toPrecision(4))).toBe(s);
      for (let d = 0; d < 4; d++) expect(Math.abs(q.data[r * 4 + d] * s - data[r * 4 + d])).toBeLessThanOrEqual(s / 2);
    }
  });

  it('gathers dequantized rows, zeros for -1, and refuses an id past the table', () => {
    const table = Int8Array.of(1, -2, 127, 3);
    const out = new Float32Array(6);
    gatherInt8(table, [0.5, 2], 2, Int32Array.of(1, -1, 0), out);
    expect([...out]).toEqual([254, 6, 0, 0, 0.5, -1]);
    expect(() => gatherInt8(table, [0.5, 2], 2, Int32Array.of(0, 2), out)).toThrow(
      /token id 2 at index 1 is outside \[-1, 2\)/,
    );
  });
});
