// The inference kernel module (kernels-infer-<isa>-<mem>.wasm, entry src/kernels/as/index-infer.ts),
// which the runtime's engines load: it lacks the optimizer and backward kernels, it holds every
// kernel the runtime bundle can call, Sessions on it give exactly the outputs they give on the
// training module (float and int8 graphs), and a training kernel called on it is a KernelError.
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { captureGraph } from '../../src/compile/capture.js';
import { runPasses } from '../../src/compile/passes/index.js';
import { quantizeGraph } from '../../src/compile/quantize.js';
import { KernelError } from '../../src/errors.js';
import { writeArtifact } from '../../src/graph/artifact.js';
import type { Graph } from '../../src/graph/ir.js';
import * as G from '../../src/index.js';
import { Engine, type EngineOptions } from '../../src/kernels/engine.js';
import { INFER_KERNEL_NAMES, KERNEL_NAMES } from '../../src/kernels/exports.js';
import { sgdStep } from '../../src/kernels/optim.js';
import { buildModel } from '../../src/nn/build.js';
import type { LayerSpec } from '../../src/nn/spec.js';
import { loadArtifact, Session } from '../../src/runtime/index.js';
import { engineConfigs, engineFor, rand } from '../helpers.js';

/** Function exports of build/wasm/<file>. */
function moduleFunctions(file: string): string[] {
  const module = new WebAssembly.Module(readFileSync(new URL(`../../build/wasm/${file}`, import.meta.url)));
  return WebAssembly.Module.exports(module)
    .filter((e) => e.kind === 'function')
    .map((e) => e.name);
}

/** A float graph of `layers` on [H, W, C] images (eval mode, captured without passes). */
function graphOf(shape: [number, number, number], layers: LayerSpec[]): Graph {
  const { model } = buildModel({ inputShape: shape, layers });
  model.eval();
  const g = captureGraph(model, { kind: 'image', shape }, ['a', 'b', 'c', 'd']);
  model.dispose();
  return g;
}

/** Graphs that between them call every kernel of the inference module but pack_bt (unused by Session). */
function graphs(): Record<string, { graph: Graph; sample: number }> {
  G.manualSeed(3);
  const float = graphOf(
    [12, 12, 3],
    [
      { type: 'conv2d', out: 8, kernel: 3, padding: 'same' },
      { type: 'batchnorm' },
      { type: 'gelu' },
      { type: 'maxpool2d', kernel: 2 },
      {
        type: 'residual',
        layers: [{ type: 'conv2d', out: 8, kernel: 3, padding: 'same' }, { type: 'tanh' }],
        activation: 'relu',
      },
      { type: 'avgpool2d', kernel: 2 },
      { type: 'conv2d', out: 16, kernel: 1 },
      { type: 'sigmoid' },
      { type: 'globalavgpool' },
      { type: 'linear', out: 4 },
      { type: 'softmax' },
    ],
  );
  const int8Source = (shape: [number, number, number]) =>
    runPasses(
      graphOf(shape, [
        { type: 'conv2d', out: 8, kernel: 3, padding: 'same' }, // C=1: conv_c1_i8; C=3: conv_pool_i8
        { type: 'relu' },
        { type: 'maxpool2d', kernel: 2 },
        { type: 'conv2d', out: 8, kernel: 3, padding: 'same' }, // Winograd
        { type: 'relu' },
        { type: 'maxpool2d', kernel: 2, stride: 1 }, // not fused: maxpool2d_i8
        { type: 'conv2d', out: 16, kernel: 3, stride: 2 }, // im2col + int8 GEMM
        { type: 'relu' },
        { type: 'globalavgpool' },
        { type: 'gelu' }, // float: dequantize first
        { type: 'linear', out: 4 },
      ]),
    ).graph;
  const quantized = (g: Graph) => {
    const sample = g.values[g.inputs[0]].shape.slice(1).reduce((a, b) => a * b, 1);
    return quantizeGraph(g, rand(32 * sample, 7), 32, { mode: 'int8', method: 'minmax', engine: G.engine() }).graph;
  };
  const out: Record<string, { graph: Graph; sample: number }> = {};
  for (const [name, graph] of Object.entries({
    float,
    'int8 gray': quantized(int8Source([10, 10, 1])),
    'int8 rgb': quantized(int8Source([12, 12, 3])),
  })) {
    out[name] = { graph, sample: graph.values[graph.inputs[0]].shape.slice(1).reduce((a, b) => a * b, 1) };
  }
  return out;
}

const inferEngines = new Map<string, Engine>();
function inferEngine(cfg: EngineOptions): Engine {
  const key = `${cfg.isa}/${cfg.threads}`;
  let e = inferEngines.get(key);
  if (!e) {
    e = Engine.create({ ...cfg, profile: 'infer' });
    inferEngines.set(key, e);
  }
  return e;
}
afterAll(() => {
  for (const e of inferEngines.values()) e.dispose();
});

describe('the inference kernel module', () => {
  it('lacks the optimizer and backward kernels, in every flavour', () => {
    for (const isa of ['simd', 'relaxed']) {
      for (const mem of ['shared', 'plain']) {
        const names = moduleFunctions(`kernels-infer-${isa}-${mem}.wasm`);
        expect(names.sort()).toEqual([...INFER_KERNEL_NAMES].sort());
        for (const optimizer of ['sgd_step', 'adam_step', 'sum_squares']) expect(names).not.toContain(optimizer);
        expect(names.filter((n) => /backward|xent|col2im|flip/.test(n))).toEqual([]);
        // and the training module has them
        expect(moduleFunctions(`kernels-${isa}-${mem}.wasm`)).toContain('adam_step');
      }
    }
  });

  it('holds every kernel the runtime bundle (graduate/runtime) names', async () => {
    // the generated name lists stay out: they name every kernel
    const r = await build({
      entryPoints: ['src/runtime/index.ts'],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      logLevel: 'silent',
      plugins: [
        {
          name: 'no-name-lists',
          setup(b) {
            b.onResolve({ filter: /exports\.generated\.js$/ }, (a) => ({ path: a.path, external: true }));
          },
        },
      ],
    });
    const js = r.outputFiles[0].text;
    const named = KERNEL_NAMES.filter((n) => new RegExp(`[^\\w$]${n}[^\\w$]`).test(js));
    expect(named.length).toBeGreaterThan(10);
    expect(named.filter((n) => !INFER_KERNEL_NAMES.includes(n))).toEqual([]);
  });

  const cases = graphs();
  describe.each(engineConfigs())('Sessions (%j)', (cfg) => {
    it.each(Object.keys(cases))('%s: the same outputs as on the training module', (name) => {
      const { graph, sample } = cases[name];
      const infer = inferEngine(cfg);
      expect(infer.profile).toBe('infer');
      const x = rand(5 * sample, 11);
      const a = new Session(graph, { engine: engineFor(cfg), maxBatch: 5 });
      const b = new Session(graph, { engine: infer, maxBatch: 5 });
      const ya = a.run(x, 5);
      expect(ya.every(Number.isFinite)).toBe(true);
      expect(Array.from(b.run(x, 5))).toEqual(Array.from(ya));
      a.dispose();
      b.dispose();
    });

    it('a training kernel is a KernelError naming it, and the engine still runs', () => {
      const e = inferEngine(cfg);
      expect(() => e.k.adam_step(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0)).toThrow(KernelError);
      const n = 1 << 18; // enough for split to use every thread
      const p = e.alloc(n * 4);
      const args = { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, firstStep: true };
      // through split, as the kernel wrappers call kernels
      expect(() => sgdStep(e, p, p, 0, n, args)).toThrow(
        /kernel 'sgd_step' is not in the inference module kernels-infer-.*profile 'train'/,
      );
      e.free(p);
      const { graph, sample } = cases.float;
      const s = new Session(graph, { engine: e, maxBatch: 2 });
      expect(s.run(rand(2 * sample, 1), 2).every(Number.isFinite)).toBe(true);
      s.dispose();
    });
  });

  it("is what the runtime's default engines load", async () => {
    const { graph } = cases.float;
    const s = new Session(graph, { maxBatch: 1 });
    expect(s.engine.profile).toBe('infer');
    s.dispose();
    const model = await loadArtifact(writeArtifact(graph), { maxBatch: 1 });
    expect(model.session.engine.profile).toBe('infer');
    model.dispose();
  });
});
