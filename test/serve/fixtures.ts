// A tiny image classifier artifact for the server tests: random weights (no training), captured
// and written like a compiled model, 8×8 gray images → 3 classes.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { captureGraph } from '../../src/compile/capture.js';
import { writeArtifact } from '../../src/graph/artifact.js';
import * as G from '../../src/index.js';
import { buildModel } from '../../src/nn/build.js';

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
