// What the browser tests share: Chromium (Debian's, driven by playwright-core), a static server
// over the built page (optionally cross-origin isolated), the tiny image model and a test image,
// and the comparison of the page's top-k with the Node runtime's.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { PNG } from 'pngjs';
import { expect } from 'vitest';
import { captureGraph } from '../../src/compile/capture.js';
import { writeArtifact } from '../../src/graph/artifact.js';
import * as G from '../../src/index.js';
import { buildModel } from '../../src/nn/build.js';
import type { Prediction } from '../../src/runtime/index.js';

/** Flags of every Chromium these tests start (headless, no network chatter). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export const CHROMIUM = process.env.GRADUATE_CHROMIUM ?? '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) {
  throw new Error(`${CHROMIUM} not found: CI must install Debian's chromium (see .ci/run)`);
}
if (!haveChromium) console.warn(`test/browser skipped: ${CHROMIUM} not found (apt-get install chromium)`);

export const CLASSES = ['T-shirt', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Boot'];
export const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.grad': 'application/octet-stream',
  '.png': 'image/png',
};

/** A tiny static server over `root`; `isolated` adds the headers that make pages cross-origin isolated. */
export function serve(root: string, isolated: boolean): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    const file = join(root, path.endsWith('/') ? `${path}index.html` : path);
    if (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    const headers: Record<string, string> = { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' };
    if (isolated) {
      headers['cross-origin-opener-policy'] = 'same-origin';
      headers['cross-origin-embedder-policy'] = 'require-corp';
    }
    res.writeHead(200, headers).end(readFileSync(file));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` }),
    ),
  );
}

/** A small random-weight CNN for 28×28×1 images, captured and written as an artifact. */
export function tinyArtifact(): Uint8Array {
  G.manualSeed(11);
  const { model } = buildModel({
    inputShape: [28, 28, 1],
    layers: [
      { type: 'conv2d', out: 16, kernel: 3, padding: 'same' },
      { type: 'relu' },
      { type: 'maxpool2d', kernel: 2 },
      // 196 × 144 × 32: big enough that the GEMM is split across two threads
      { type: 'conv2d', out: 32, kernel: 3, padding: 'same' },
      { type: 'relu' },
      { type: 'maxpool2d', kernel: 2 },
      { type: 'flatten' },
      { type: 'linear', out: 10 },
    ],
  });
  model.eval();
  const graph = captureGraph(
    model,
    { kind: 'image', shape: [28, 28, 1], scale: 1 / 255, mean: [0.29], std: [0.35] },
    CLASSES,
  );
  model.dispose();
  return writeArtifact(graph);
}

/** A colour PNG that is not the model's size (exercises the resize and the luma conversion). */
export function testImage(): Buffer {
  const png = new PNG({ width: 41, height: 37 });
  for (let y = 0; y < png.height; y++)
    for (let x = 0; x < png.width; x++) {
      const i = (y * png.width + x) * 4;
      const inside = (x - 20) ** 2 / 200 + (y - 18) ** 2 / 90 < 1;
      png.data[i] = inside ? 230 : (x * 5) % 60;
      png.data[i + 1] = inside ? 180 + (x % 7) * 9 : (y * 3) % 40;
      png.data[i + 2] = inside ? 90 : 20;
      png.data[i + 3] = 255;
    }
  return PNG.sync.write(png);
}

export function expectSamePrediction(got: { label: string; score: number }[], want: Prediction): void {
  expect(got.map((t) => t.label)).toEqual(want.top.map((t) => t.label));
  for (let i = 0; i < got.length; i++) expect(Math.abs(got[i].score - want.top[i].score)).toBeLessThan(1e-4);
}
