// The sanity gate of compile: a model no better than guessing, or one holding non-finite weights,
// is refused whatever --max-accuracy-drop allows (the drop gate only compares with the parent,
// and a broken parent gives a broken child with no drop at all).
import { describe, expect, it } from 'vitest';
import { captureGraph } from '../../src/compile/capture.js';
import {
  chanceAccuracy,
  compile,
  nonFiniteConstant,
  SanityGateError,
  sanityThreshold,
} from '../../src/compile/pipeline.js';
import type { Graph } from '../../src/graph/ir.js';
import { buildModel } from '../../src/nn/build.js';
import type { Sequential } from '../../src/nn/layers.js';
import { manualSeed } from '../../src/tensor/random.js';
import { write } from '../../src/tensor/tensor.js';
import { fit } from '../../src/train/fit.js';
import { engineConfigs, engineFor } from '../helpers.js';
import { TINY_CLASSES, TINY_CONFIG, TINY_SPEC, tinyData } from '../train/tiny.js';

const engine = engineFor(engineConfigs()[0]);
const data = tinyData(96);
const test = tinyData(90, 2);

function graphOf(train: boolean, edit?: (m: Sequential) => void): Graph {
  manualSeed(1);
  const { model } = buildModel(TINY_SPEC);
  if (train) {
    const r = fit({ model, modelSpec: TINY_SPEC, train: data, config: { ...TINY_CONFIG, epochs: 20 }, log: () => {} });
    r.optimizer.dispose();
  }
  edit?.(model);
  model.eval();
  const g = captureGraph(model, { kind: 'tabular', shape: [2], mean: [0, 0], std: [1, 1] }, TINY_CLASSES);
  model.dispose();
  return g;
}

const run = (parent: Graph, maxAccuracyDrop = 100) =>
  compile({ parent, calib: data, test, engine }, { quantize: 'none', maxAccuracyDrop });

describe('compile sanity gate', () => {
  it('chance is the better of 1/classes and the majority share; near chance has a documented margin', () => {
    expect(chanceAccuracy([0, 1, 2, 0, 1, 2], 3)).toBeCloseTo(1 / 3);
    expect(chanceAccuracy([1, 1, 1, 0], 10)).toBe(0.75);
    expect(sanityThreshold(0.1, 10_000)).toBeCloseTo(0.19); // 10% of the way to perfect
    expect(sanityThreshold(0.5, 100)).toBeCloseTo(0.6); // two standard errors: 2·0.05
  });

  it('a trained model passes', () => {
    const r = run(graphOf(true), 0.5);
    expect(r.report.totals.accuracy[1]).toBeGreaterThan(0.9);
  });

  it('a model at chance is refused even with --max-accuracy-drop 100, saying accuracy and chance level', () => {
    // zero output weights and bias: every logit equal, the argmax always class 0 (1/3 of the labels)
    const flat = graphOf(false, (m) => {
      for (const [name, p] of m.namedParameters()) if (name.startsWith('2.')) write(p, new Float32Array(p.size));
    });
    expect(() => run(flat)).toThrow(SanityGateError);
    expect(() => run(flat)).toThrow(
      "test accuracy 33.33% on 90 samples of tiny is near chance: chance level 33.33% (the better of 1/3 and the most frequent label's share), refused below 43.27%, whatever --max-accuracy-drop allows; no artifact written",
    );
  });

  it('a parent with a NaN weight is refused before anything is compiled', () => {
    const g = graphOf(true);
    const name = Object.keys(g.constants)[0];
    (g.constants[name].data as Float32Array)[1] = Number.NaN;
    expect(nonFiniteConstant(g)).toBe(`constant '${name}' holds NaN at index 1`);
    expect(() => run(g)).toThrow(`the model to compile is corrupt: constant '${name}' holds NaN at index 1`);
    const h = graphOf(true);
    h.constants[name] = {
      ...h.constants[name],
      dtype: 'float16',
      data: new Uint16Array(h.constants[name].data.length).fill(0x7c00),
    };
    expect(nonFiniteConstant(h)).toMatch(/overflows float16 at index 0/);
    h.constants[name].data.fill(0x7e00);
    expect(nonFiniteConstant(h)).toMatch(/holds a NaN half float at index 0/);
  });

  it('a weight beyond float16 says it overflows float16 (not "corrupt") when compiling to fp16', () => {
    const g = graphOf(true);
    const name = Object.keys(g.constants)[0];
    (g.constants[name].data as Float32Array)[2] = 1e5; // finite in float32, Infinity in float16
    const fp16 = () => compile({ parent: g, calib: data, test, engine }, { quantize: 'fp16', maxAccuracyDrop: 100 });
    expect(fp16).toThrow(SanityGateError);
    // before: "the compiled model is corrupt: constant … holds a non-finite half float"
    expect(fp16).toThrow(
      `the compiled model is unusable: constant '${name}' overflows float16 at index 2 (a value beyond ±65504 became Infinity); compile with --quantize int8 or none`,
    );
  });

  it('--allow-near-chance writes a near-chance model (e.g. imbalanced data), never one with non-finite weights', () => {
    // 95/5 imbalance: chance is 95%; a model at 96% is "near chance" on 1000 samples
    expect(sanityThreshold(chanceAccuracy([...Array(950).fill(0), ...Array(50).fill(1)], 2), 1000)).toBeCloseTo(
      0.9638,
      3,
    );
    const flat = graphOf(false, (m) => {
      for (const [name, p] of m.namedParameters()) if (name.startsWith('2.')) write(p, new Float32Array(p.size));
    });
    const lines: string[] = [];
    const opts = {
      quantize: 'none' as const,
      maxAccuracyDrop: 100,
      allowNearChance: true,
      log: (l: string) => lines.push(l),
    };
    const r = compile({ parent: flat, calib: data, test, engine }, opts);
    expect(r.report.totals.accuracy[1]).toBeCloseTo(1 / 3);
    expect(lines.join('\n')).toContain('warning: test accuracy 33.33% on 90 samples of tiny is near chance');
    const nan = graphOf(true);
    (nan.constants[Object.keys(nan.constants)[0]].data as Float32Array)[0] = Number.NaN;
    expect(() => compile({ parent: nan, calib: data, test, engine }, opts)).toThrow(SanityGateError);
  });
});
