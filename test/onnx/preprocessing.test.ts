// Declared preprocessing and the one input contract (docs/inputs.md). `graduate import` records the
// preparation a model was trained with (--input-scale, --mean, --std, --layout, --labels) and says
// what it assumes when an image model declares none; Graduate's own exports round-trip silently.
// The same tensor goes to InferenceModel.run, to serve's FP32 input and to the ONNX export under
// ONNX Runtime, with the same outputs, and GET /v2/models/{name} states the preparation. Fixtures:
// test/onnx/fixtures/pixels-{cnn,mlp}.onnx, PyTorch models trained on NCHW pixels / 255
// (scripts/make-pixel-models.py).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadFashionMnist } from '../../src/data/fashion-mnist.js';
import { readArtifact } from '../../src/graph/artifact.js';
import { Engine } from '../../src/kernels/engine.js';
import { exportOnnx } from '../../src/onnx/index.js';
import { transposeImages } from '../../src/runtime/image-input.js';
import { type InferenceModel, loadArtifact } from '../../src/runtime/index.js';
import { InferenceServer } from '../../src/serve/server.js';
import { cli } from '../cli/run.js';
import { CLASSES, writeTinyArtifact } from '../serve/fixtures.js';
import { maxAbsDiff, runOrt } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'graduate-prep-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CNN = join(import.meta.dirname, 'fixtures', 'pixels-cnn.onnx');
const MLP = join(import.meta.dirname, 'fixtures', 'pixels-mlp.onnx');
const FASHION = ['T-shirt', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Boot'];
const labels = (n: number) => {
  const file = join(dir, `labels-${n}.txt`);
  writeFileSync(file, `${FASHION.slice(0, n).join('\n')}\n`);
  return file;
};
const haveData = existsSync('/usr/share/datasets/fashion-mnist');

/** n samples [n, 28, 28] of smooth pixel values 0..255 (one channel, so NCHW and NHWC agree). */
const pixels = (n: number) => Float32Array.from({ length: n * 784 }, (_, i) => 127.5 + 127.5 * Math.sin(i * 0.071));

async function infer(server: InferenceServer, model: string, shape: number[], data: Float32Array) {
  const res = await fetch(`${server.url}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: 'input', shape, datatype: 'FP32', data: Array.from(data) }] }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: response JSON is inspected field by field
  const json = (await res.json()) as any;
  expect(res.status, JSON.stringify(json)).toBe(200);
  return Float32Array.from(json.outputs[0].data as number[]);
}

describe('graduate import: declared preprocessing', () => {
  it('records --input-scale, --mean, --std, --layout and --labels; inspect shows them; no warning', async () => {
    const art = join(dir, 'declared.grad');
    const r = await cli(
      'import',
      CNN,
      '-o',
      art,
      '--input-scale',
      '1/255',
      '--mean',
      '0.5',
      '--std',
      '0.25',
      '--layout',
      'nchw',
      '--labels',
      labels(10),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/warning/);
    expect(r.stdout).toContain('input: NCHW [1, 28, 28] = (pixel (0..255) × 1/255 − mean) ÷ std');
    const g = readArtifact(readFileSync(art), art);
    expect(g.meta.input).toEqual({
      kind: 'image',
      shape: [28, 28, 1],
      scale: 1 / 255,
      mean: [0.5],
      std: [0.25],
      layout: 'NCHW',
    });
    expect(g.meta.classNames).toEqual(FASHION);
    const i = await cli('inspect', art);
    expect(i.code, i.stderr).toBe(0);
    expect(i.stdout).toContain(
      'input tensor: NCHW [1, 28, 28] = (pixel (0..255) × 1/255 − mean) ÷ std, mean [0.5], std [0.25]',
    );
  });

  it('an image model declaring nothing: prints what is assumed and how to change it', async () => {
    const r = await cli('import', MLP, '-o', join(dir, 'assumed.grad'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /warning: .*pixels-mlp\.onnx: no input preprocessing declared; assuming inputs are raw 0–255 pixels fed unscaled/,
    );
    expect(r.stderr).toMatch(/pass --input-scale 1\/255 and --mean … --std …/);
    expect(readArtifact(readFileSync(join(dir, 'assumed.grad')), 'a').meta.input).toMatchObject({ scale: 1 });
  });

  it("Graduate's own export round-trips with no flags and no warning, NCHW layout included", async () => {
    const art = join(dir, 'declared.grad'); // from the first test
    const onnxFile = join(dir, 'again.onnx');
    expect((await cli('export', art, '-o', onnxFile)).code).toBe(0);
    const r = await cli('import', onnxFile, '-o', join(dir, 'again.grad'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/warning/);
    const back = readArtifact(readFileSync(join(dir, 'again.grad')), 'again');
    expect(back.meta.input).toEqual(readArtifact(readFileSync(art), art).meta.input);
    expect(back.meta.classNames).toEqual(FASHION);
  });

  it.each([
    [['--input-scale', 'abc'], /--input-scale 'abc': expected a positive number or fraction, e.g. 1\/255/],
    [['--input-scale', '0'], /--input-scale '0': expected a positive number/],
    [['--input-scale', '1/0'], /--input-scale '1\/0': expected a positive number/],
    [['--input-scale', '-1/255'], /--input-scale '-1\/255'/],
    [['--mean', '0.5,x'], /--mean '0.5,x': 'x' is not a number \(expected one value, or one per channel/],
    [['--std', '0'], /--std '0': 0 is not positive/],
    [
      ['--mean', '0.4,0.5,0.6'],
      /--mean 0.4,0.5,0.6: 3 values, but the input \[28, 28, 1\] has 1 channels \(give 1 or 1\)/,
    ],
    [['--layout', 'nhcw'], /--layout 'nhcw': expected nchw or nhwc/],
    [['--labels', 'LABELS9'], /--labels: 9 labels, but .*pixels-cnn\.onnx's output \[10\] has 10 values/],
    [['--labels', join(dir, 'none.txt')], /none\.txt/],
  ])('refuses %j naming the flag and the value', async (flags, message) => {
    const args = flags.map((f) => (f === 'LABELS9' ? labels(9) : f));
    const r = await cli('import', CNN, '-o', join(dir, 'bad.grad'), ...args);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(existsSync(join(dir, 'bad.grad'))).toBe(false);
  });

  it.skipIf(!haveData)(
    'a PyTorch CNN trained on pixels / 255: low without --input-scale, equal to ONNX Runtime with it',
    async () => {
      const n = 500;
      const eval_ = async (flags: string[]) => {
        const art = join(dir, `fm-${flags.length}.grad`);
        expect((await cli('import', CNN, '-o', art, ...flags)).code).toBe(0);
        const r = await cli('eval', art, '--data', 'fashion-mnist', '--limit', String(n));
        expect(r.code, r.stderr).toBe(0);
        return Number(/accuracy: ([0-9.]+)/.exec(r.stdout)?.[1]);
      };
      const ds = loadFashionMnist('test', { limit: n, prep: { scale: 1 / 255, mean: 0, std: 1 } });
      const logits = await runOrt(CNN, ds.x as Float32Array, [n, 1, 28, 28]);
      let right = 0;
      for (let i = 0; i < n; i++) {
        const row = Array.from(logits.subarray(i * 10, i * 10 + 10));
        if (row.indexOf(Math.max(...row)) === ds.y[i]) right++;
      }
      const declared = await eval_(['--input-scale', '1/255']);
      expect(declared).toBeCloseTo(right / n, 3);
      expect(await eval_([])).toBeLessThan(declared - 0.02);
    },
  );
});

describe('one input contract: run, serve and the ONNX export take the same tensor', () => {
  const engine = Engine.create({ threads: 1 });
  const check = async (art: string, name: string, shape: number[], onnxFiles: string[]) => {
    const model: InferenceModel = await loadArtifact(art, { engine, maxBatch: 8 });
    const n = shape[0];
    const x = Float32Array.from({ length: shape.reduce((a, d) => a * d, 1) }, (_, i) => Math.sin(i * 0.37));
    const want = model.run(x, n);
    const server = await InferenceServer.start(art, { port: 0, workers: 1, maxBatch: 8, maxDelayMs: 1 });
    try {
      expect(maxAbsDiff(await infer(server, name, shape, x), want)).toBeLessThan(1e-4);
      const meta = (await (await fetch(`${server.url}/v2/models/${name}`)).json()) as {
        inputs: { shape: number[] }[];
        parameters: Record<string, unknown>;
      };
      expect(meta.inputs[0].shape).toEqual([-1, ...shape.slice(1)]);
      const onnxFile = join(dir, `${name}.onnx`);
      writeFileSync(onnxFile, exportOnnx(readArtifact(readFileSync(art), art)));
      for (const f of [onnxFile, ...onnxFiles]) expect(maxAbsDiff(await runOrt(f, x, shape), want)).toBeLessThan(1e-4);
      return { model, want, x, parameters: meta.parameters };
    } finally {
      await server.close();
    }
  };

  it('a Graduate model (NHWC, scale, mean, std): same outputs; metadata states the preparation', async () => {
    const art = writeTinyArtifact(dir, 'tiny.grad');
    const { model, parameters } = await check(art, 'tiny', [3, 8, 8, 1], []);
    expect(parameters).toMatchObject({
      input_kind: 'image',
      class_names: CLASSES,
      input_scale: 1 / 255,
      input_mean: [0.5],
      input_std: [0.25],
      input_layout: 'NHWC',
    });
    expect(parameters.input_preprocessing).toBe(
      'tensors are prepared: NHWC [8, 8, 1] = (pixel (0..255) × 1/255 − mean) ÷ std, mean [0.5], std [0.25]',
    );
    // the image path prepares pixels into that same tensor
    const px = pixels(1).subarray(0, 64);
    expect(Array.from(model.prepareImage(px))).toEqual(Array.from(px, (p) => Math.fround((p / 255 - 0.5) / 0.25)));
    model.dispose();
  });

  it('an imported PyTorch model with --layout nchw: run, serve, its export and the original file agree', async () => {
    const art = join(dir, 'torch.grad');
    expect((await cli('import', CNN, '-o', art, '--input-scale', '1/255', '--layout', 'nchw')).code).toBe(0);
    const { model, parameters } = await check(art, 'torch', [2, 1, 28, 28], [CNN]);
    expect(parameters).toMatchObject({ input_layout: 'NCHW', input_scale: 1 / 255 });
    expect(parameters.input_mean).toBeUndefined();
    // pixels → prepareImage (predict, serve's uploads, the browser page) = the file on pixels / 255
    const px = pixels(1);
    const got = model.run(model.prepareImage(px), 1);
    expect(
      maxAbsDiff(
        got,
        await runOrt(
          CNN,
          px.map((p) => p / 255),
          [1, 1, 28, 28],
        ),
      ),
    ).toBeLessThan(1e-4);
    model.dispose();
  });

  it('transposeImages: [C, H, W] → [H, W, C] and back', () => {
    const x = Float32Array.from({ length: 2 * 24 }, (_, i) => i);
    const hwc = transposeImages(x, [3, 4, 2]);
    expect(hwc[1]).toBe(x[12]); // h0 w0 c1 = c1 h0 w0
    expect(Array.from(transposeImages(hwc, [3, 4, 2], true))).toEqual(Array.from(x));
  });
});
