// InferenceModel.prepareImage (pixels 0..255 already at the model's size) agrees with the image
// preparation `graduate predict`, `serve` and the browser page use (runtime/image-input.ts), with the
// artifact's normalization and with the default scale when an artifact leaves it out.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readArtifact, writeArtifact } from '../../src/graph/artifact.js';
import { Engine } from '../../src/kernels/engine.js';
import { imageInput } from '../../src/runtime/image-input.js';
import { loadArtifact } from '../../src/runtime/index.js';
import { writeTinyArtifact } from '../serve/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'graduate-prepare-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const engine = Engine.create({ threads: 1 });

describe('InferenceModel.prepareImage', () => {
  it.each([
    ['the artifact’s scale 1/255', false],
    ['no scale in the artifact (default 1/255)', true],
  ])('equals imageInput for a gray image of the model’s size: %s', async (_what, dropScale) => {
    const graph = readArtifact(new Uint8Array(readFileSync(writeTinyArtifact(dir))));
    if (dropScale) delete graph.meta.input.scale;
    const model = await loadArtifact(writeArtifact(graph), { engine, maxBatch: 1 });
    const gray = Uint8Array.from({ length: 64 }, (_, i) => (i * 37) % 256);
    const rgba = new Uint8Array(64 * 4);
    for (const [i, v] of gray.entries()) rgba.set([v, v, v, 255], i * 4);
    const want = imageInput(model.input, { width: 8, height: 8, data: rgba }, 'test image');
    const got = model.prepareImage(gray);
    for (let i = 0; i < 64; i++) expect(got[i]).toBeCloseTo(want[i], 4);
    expect(got[5]).toBeCloseTo((gray[5] / 255 - 0.5) / 0.25, 4);
    expect(() => model.prepareImage(gray.subarray(1))).toThrow(/63 pixel values, the model expects \[8, 8, 1\] = 64/);
    model.dispose();
  });
});
