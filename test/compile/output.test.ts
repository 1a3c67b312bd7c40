// compile validates the graph it is about to write, after the stages that rebuild it (pruning,
// fine-tuning, quantization): a stage that produced something readArtifact would refuse is an
// error naming the output file, and nothing is written. Simulated here by a quantizer whose
// result breaks one rule of the validator.
import { describe, expect, it, vi } from 'vitest';
import { captureGraph } from '../../src/compile/capture.js';
import { compile } from '../../src/compile/pipeline.js';
import { FormatError } from '../../src/errors.js';
import { buildModel } from '../../src/nn/build.js';
import { manualSeed } from '../../src/tensor/random.js';
import { fit } from '../../src/train/fit.js';
import { engineConfigs, engineFor } from '../helpers.js';
import { TINY_CLASSES, TINY_CONFIG, TINY_SPEC, tinyData } from '../train/tiny.js';

const broken = vi.hoisted(() => ({ on: false }));
vi.mock('../../src/compile/quantize.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/compile/quantize.js')>();
  return {
    ...real,
    quantizeGraph: (...args: Parameters<typeof real.quantizeGraph>) => {
      const r = real.quantizeGraph(...args);
      if (broken.on) r.graph.meta = { ...r.graph.meta, input: { ...r.graph.meta.input, std: [1, 0] } };
      return r;
    },
  };
});

const engine = engineFor(engineConfigs()[0]);

describe('compile validates what it writes', () => {
  manualSeed(1);
  const { model } = buildModel(TINY_SPEC);
  const data = tinyData(96);
  fit({
    model,
    modelSpec: TINY_SPEC,
    train: data,
    config: { ...TINY_CONFIG, epochs: 20 },
    log: () => {},
  }).optimizer.dispose();
  model.eval();
  const parent = captureGraph(model, { kind: 'tabular', shape: [2], mean: [0, 0], std: [1, 1] }, TINY_CLASSES);
  model.dispose();
  const run = () =>
    compile({ parent, calib: data, test: tinyData(90, 2), engine }, { quantize: 'fp16', output: 'out.grad' });

  it('a valid result is returned', () => {
    broken.on = false;
    expect(run().bytes.length).toBeGreaterThan(0);
  });

  it('a stage that breaks a rule of the validator: an error naming the output, before anything runs it', () => {
    broken.on = true;
    // before: the bytes were returned (and written); readArtifact refused the file afterwards
    expect(run).toThrow(FormatError);
    expect(run).toThrow('out.grad (before writing): meta.input.std[1] must be positive (at least 2^-126), got 0');
  });
});
