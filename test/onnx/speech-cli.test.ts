// `graduate export` of a keyword-spotting checkpoint (the kws preset: conv1d → batchnorm → relu →
// GRU → linear, on log-mel input) and `graduate import` of the file it writes: the ONNX graph holds
// one GRU node, runs in ONNX Runtime within 1e-4 of the checkpoint's graph on the prepared
// features, declares the audio front end in metadata 'input', and imports back to equal outputs.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AudioFeatureSpec } from '../../src/audio/features.js';
import { captureGraph } from '../../src/compile/capture.js';
import { readArtifact } from '../../src/graph/artifact.js';
import * as G from '../../src/index.js';
import { buildModel } from '../../src/nn/build.js';
import { presetSpec } from '../../src/nn/presets.js';
import { onnx } from '../../src/onnx/proto.js';
import { CHECKPOINT_FORMAT, CHECKPOINT_VERSION, saveCheckpoint } from '../../src/train/checkpoint.js';
import { cli } from '../cli/run.js';
import { maxAbsDiff, runGraph, runOrt } from './fixtures.js';

const out = mkdtempSync(join(tmpdir(), 'graduate-speech-cli-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const T = 20;
const C = 8;
const audio: AudioFeatureSpec = {
  kind: 'logmel',
  sampleRate: 8000,
  nFft: 256,
  winLength: 200,
  hopLength: 80,
  nMels: C,
  fMin: 0,
  fMax: 4000,
  melScale: 'slaney',
  melNorm: 'slaney',
  logFloor: 1e-10,
  nMfcc: 13,
  frames: T,
  fit: 'center',
};
const mean = Array.from({ length: C }, (_, i) => -70 + i);
const std = Array.from({ length: C }, (_, i) => 30 - i);
const classes = ['zero', 'one', 'two', 'three'];

/** A kws checkpoint with random weights and BatchNorm statistics, as train --out writes it; its graph. */
function checkpoint(dir: string) {
  G.manualSeed(9);
  const spec = presetSpec('kws', [T, C], classes.length);
  const { model } = buildModel(spec);
  G.tidy(() => {
    for (let i = 0; i < 3; i++) model.forward(G.add(G.mul(G.randn([8, T, C]), 2), 0.5));
  });
  model.eval();
  saveCheckpoint(
    dir,
    model,
    {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      model: spec,
      classNames: classes,
      preprocessing: { kind: 'audio', inputShape: [T, C], mean, std, audio },
      train: {},
      data: 'test',
      producer: 'test',
    },
    {
      epoch: 1,
      history: { epochs: [] },
      optimizer: { name: 'adam', scalars: {} },
      rng: [1, 2, 3, 4],
      bestValAccuracy: 0,
      epochsWithoutImprovement: 0,
    },
    {},
  );
  const graph = captureGraph(model, { kind: 'audio', shape: [T, C], mean, std, audio }, classes);
  model.dispose();
  return graph;
}

describe('graduate export / import of a speech model', () => {
  it('a kws checkpoint exports with one GRU node, runs in ONNX Runtime within 1e-4, and imports back', async () => {
    const ckpt = join(out, 'kws');
    const graph = checkpoint(ckpt);
    const file = join(out, 'kws.onnx');
    let r = await cli('export', ckpt, '-o', file);
    expect(r.code, r.stderr).toBe(0);
    const m = onnx.ModelProto.decode(readFileSync(file));
    const ops = m.graph?.node?.map((n) => n.opType) ?? [];
    expect(ops.filter((o) => o === 'GRU')).toHaveLength(1);
    expect(ops).not.toContain('BatchNormalization'); // folded by the passes export runs on checkpoints
    const meta = JSON.parse(m.metadataProps.find((p) => p.key === 'input')?.value ?? '{}');
    expect(meta).toMatchObject({ kind: 'audio', shape: [T, C], preprocessing: { mean, std }, audio });

    const N = 6;
    const x = Float32Array.from({ length: N * T * C }, (_, i) => Math.sin(i * 0.37) * 1.2);
    const want = runGraph(graph, x, N);
    expect(maxAbsDiff(await runOrt(file, x, [N, T, C]), want)).toBeLessThan(1e-4);

    const artifact = join(out, 'kws.grad');
    r = await cli('import', file, '-o', artifact);
    expect(r.code, r.stderr).toBe(0);
    const back = readArtifact(readFileSync(artifact), artifact);
    expect(back.meta.classNames).toEqual(classes);
    expect(maxAbsDiff(runGraph(back, x, N), want)).toBeLessThan(1e-4);
  });
});
