// The browser example on WebGPU: Chromium headless with WebGPU on (--enable-unsafe-webgpu; its
// adapter here is SwiftShader, a software Vulkan built into Chromium) runs the same artifact on the
// WebGPU backend in the page's model Worker (examples/browser/gpu-model.ts, the executor one Worker
// further) and must give the answers of the wasm kernels: Node's runtime and the same page asked for
// ?device=wasm. And the fallbacks: a page that is not cross-origin isolated, auto with only a
// software adapter, a browser without WebGPU, or a device that fails to open runs on wasm and says why.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBrowser } from '../../scripts/build-browser.mjs';
import { prepareImageFile } from '../../src/cli/predict.js';
import { type InferenceModel, loadArtifact, type Prediction } from '../../src/runtime/index.js';
import { TEXTS, writeTinyTransformerArtifact } from '../serve/fixtures.js';
import { CHROMIUM, CHROMIUM_ARGS, expectSamePrediction, haveChromium, serve, testImage, tinyArtifact } from './site.js';

type Shown = { label: string; score: number }[];
interface PageView {
  graduatePage: {
    device?: { device: string; reason: string; adapter?: string };
    input: Float32Array | Int32Array;
    prediction: Prediction;
    classifyRgba(img: { width: number; height: number; data: Uint8ClampedArray }): Promise<Prediction>;
    classifyText(text: string): Promise<Prediction>;
  };
}

describe.skipIf(!haveChromium)('browser example on WebGPU (Chromium headless)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'graduate-webgpu-page-'));
  const site = join(tmp, 'site');
  const imageFile = join(tmp, 'input.png');
  let nodeModel: InferenceModel;
  let nodeText: InferenceModel;
  let gpuContext: BrowserContext;
  let noGpuContext: BrowserContext;
  let noAdapter: string | undefined;
  const servers: Server[] = [];
  const urls: Record<'isolated' | 'plain' | 'broken', string> = { isolated: '', plain: '', broken: '' };

  beforeAll(async () => {
    await buildBrowser(site);
    writeFileSync(join(site, 'model.grad'), tinyArtifact());
    writeFileSync(imageFile, testImage());
    nodeModel = await loadArtifact(join(site, 'model.grad'), { maxBatch: 1 });
    writeTinyTransformerArtifact(site, 'spam.grad');
    nodeText = await loadArtifact(join(site, 'spam.grad'), { maxBatch: 1 });
    for (const isolated of [true, false]) {
      const { server, url } = await serve(site, isolated);
      servers.push(server);
      urls[isolated ? 'isolated' : 'plain'] = url;
    }
    // the site without its WebGPU executor script: opening the device fails in the model Worker
    const broken = join(tmp, 'broken');
    cpSync(site, broken, { recursive: true });
    rmSync(join(broken, 'webgpu-worker.js'));
    const { server, url } = await serve(broken, true);
    servers.push(server);
    urls.broken = url;
    const { chromium } = await import('playwright-core');
    const launch = (name: string, args: string[]) => {
      const profile = join(tmp, name);
      mkdirSync(profile);
      return chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: [...CHROMIUM_ARGS, ...args],
      });
    };
    gpuContext = await launch('gpu', ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader']);
    noGpuContext = await launch('no-gpu', ['--disable-gpu', '--disable-features=WebGPU']);
    // the WebGPU cases need an adapter in this Chromium: without one they skip saying why
    const probe = await gpuContext.newPage();
    await probe.goto(urls.isolated);
    noAdapter = await probe.evaluate(async () => {
      const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
      if (!gpu) return 'navigator.gpu is missing';
      return (await gpu.requestAdapter()) ? undefined : 'navigator.gpu gave no adapter';
    });
    await probe.close();
    if (noAdapter) {
      if (process.env.GRADUATE_REQUIRE_WEBGPU === '1')
        throw new Error(`GRADUATE_REQUIRE_WEBGPU=1 but Chromium (--enable-unsafe-webgpu) has no WebGPU: ${noAdapter}`);
      console.warn(`test/browser/webgpu: the WebGPU cases skipped: Chromium ${noAdapter}`);
    }
  }, 120_000);

  afterAll(async () => {
    await gpuContext?.close();
    await noGpuContext?.close();
    for (const s of servers) s.close();
    nodeModel?.dispose();
    nodeText?.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** Opens the page on `query` and waits until the model is loaded; the errors the page logs. */
  async function open(context: BrowserContext, url: string, query: string): Promise<{ page: Page; errors: string[] }> {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`${url}?${query}`);
    await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 120_000 });
    const status = await page.textContent('#status');
    expect(await page.getAttribute('body', 'data-state'), `${status}; ${errors.join('; ')}`).toBe('ready');
    return { page, errors };
  }

  const device = (page: Page) =>
    page.evaluate(() => (globalThis as unknown as PageView).graduatePage.device as { device: string; reason: string });

  async function uploadImage(page: Page): Promise<Shown> {
    await page.setInputFiles('#image-file', imageFile);
    await page.waitForFunction(() => document.getElementById('status')?.textContent?.startsWith('input.png'));
    return page.$$eval('#top li', (lis) =>
      lis.map((li) => ({ label: li.dataset.label as string, score: Number(li.dataset.score) })),
    );
  }

  /** Images the page classifies through classifyRgba: stripes and a gradient of several sizes. */
  async function classifyImages(page: Page): Promise<{ input: number[]; top: Prediction['top'] }[]> {
    return page.evaluate(async () => {
      const p = (globalThis as unknown as PageView).graduatePage;
      const out: { input: number[]; top: Prediction['top'] }[] = [];
      for (const [w, h, k] of [
        [28, 28, 3],
        [19, 33, 5],
        [64, 40, 7],
      ]) {
        const data = new Uint8ClampedArray(w * h * 4);
        for (let i = 0; i < w * h; i++) {
          const x = i % w;
          const y = Math.floor(i / w);
          data.set([((x * k) ^ y) & 255, (y * 255) / h, ((x + y) * k) & 255, 255], i * 4);
        }
        const r = await p.classifyRgba({ width: w, height: h, data });
        out.push({ input: Array.from(p.input), top: r.top });
      }
      return out;
    });
  }

  it('cross-origin isolated, ?device=webgpu: the image model runs on WebGPU and answers as wasm and Node', async (ctx) => {
    if (noAdapter) ctx.skip();
    const gpu = await open(gpuContext, urls.isolated, 'model=model.grad&device=webgpu');
    const d = await device(gpu.page);
    expect(d.device, d.reason).toBe('webgpu');
    expect(await gpu.page.getAttribute('body', 'data-device')).toBe('webgpu');
    expect(await gpu.page.textContent('#device')).toMatch(/^Device: WebGPU on .+ \(asked for\)$/);

    const want = nodeModel.classify(prepareImageFile(nodeModel, imageFile), 1, 5)[0];
    const shownGpu = await uploadImage(gpu.page);
    expect(shownGpu).toHaveLength(5);
    expectSamePrediction(shownGpu, want);
    const gpuImages = await classifyImages(gpu.page);

    // the same page on the wasm kernels gives the same answers
    const wasm = await open(gpuContext, urls.isolated, 'model=model.grad&device=wasm');
    expect(await device(wasm.page)).toEqual({ device: 'wasm', reason: 'asked for' });
    const shownWasm = await uploadImage(wasm.page);
    expect(shownWasm.map((t) => t.label)).toEqual(shownGpu.map((t) => t.label));
    for (let i = 0; i < 5; i++) expect(Math.abs(shownWasm[i].score - shownGpu[i].score)).toBeLessThan(1e-4);
    const wasmImages = await classifyImages(wasm.page);
    for (let i = 0; i < gpuImages.length; i++) {
      expect(gpuImages[i].input).toEqual(wasmImages[i].input);
      expectSamePrediction(gpuImages[i].top, { top: wasmImages[i].top });
      expectSamePrediction(gpuImages[i].top, nodeModel.classify(Float32Array.from(gpuImages[i].input), 1, 5)[0]);
    }
    expect(gpu.errors).toEqual([]);
    expect(wasm.errors).toEqual([]);
    await gpu.page.close();
    await wasm.page.close();
  }, 240_000);

  it('cross-origin isolated, ?device=webgpu: a text transformer on WebGPU answers as Node', async (ctx) => {
    if (noAdapter) ctx.skip();
    const { page, errors } = await open(gpuContext, urls.isolated, 'model=spam.grad&device=webgpu');
    expect((await device(page)).device).toBe('webgpu');
    for (const text of TEXTS) {
      const got = await page.evaluate(async (t) => {
        const p = (globalThis as unknown as PageView).graduatePage;
        const r = await p.classifyText(t);
        return { input: Array.from(p.input), top: r.top };
      }, text);
      const ids = nodeText.prepareText([text]);
      expect(got.input).toEqual(Array.from(ids));
      expectSamePrediction(got.top, nodeText.classify(ids, 1, 2)[0]);
    }
    expect(errors).toEqual([]);
    await page.close();
  }, 240_000);

  it('falls back to wasm and says why: not isolated, auto on a software adapter, no WebGPU, no executor', async () => {
    const want = nodeModel.classify(prepareImageFile(nodeModel, imageFile), 1, 5)[0];
    const cases: [BrowserContext, string, string, RegExp][] = [
      [gpuContext, urls.plain, 'device=webgpu', /cross-origin-isolated page/],
      [gpuContext, urls.isolated, 'device=auto', /software one .*\?device=webgpu uses it/],
      [noGpuContext, urls.isolated, 'device=webgpu', /no WebGPU|no adapter/],
      [gpuContext, urls.broken, 'device=webgpu', /^WebGPU failed: the WebGPU worker failed to start/],
    ];
    for (const [context, url, query, why] of cases) {
      if (noAdapter && context === gpuContext && url !== urls.plain) continue; // these need the adapter
      const { page, errors } = await open(context, url, `model=model.grad&${query}`);
      const d = await device(page);
      expect(d.device, `${query} at ${url}`).toBe('wasm');
      expect(d.reason).toMatch(why);
      expect(await page.textContent('#device')).toBe(`Device: wasm kernels (${d.reason})`);
      expectSamePrediction(await uploadImage(page), want);
      expect(errors).toEqual([]);
      await page.close();
    }
  }, 240_000);

  it('auto times the model on both devices and keeps the faster (?software=1 lets it time SwiftShader)', async (ctx) => {
    if (noAdapter) ctx.skip();
    const want = nodeModel.classify(prepareImageFile(nodeModel, imageFile), 1, 5)[0];
    const { page, errors } = await open(gpuContext, urls.isolated, 'model=model.grad&device=auto&software=1');
    const d = await device(page);
    const m = d.reason.match(/([\d.]+) ms a sample on WebGPU, ([\d.]+) ms on wasm/);
    expect(m, d.reason).not.toBeNull();
    const [gpuMs, wasmMs] = [Number(m?.[1]), Number(m?.[2])];
    expect(d.device).toBe(gpuMs < wasmMs ? 'webgpu' : 'wasm');
    if (d.device === 'wasm') expect(d.reason).toMatch(/^faster here: /);
    expectSamePrediction(await uploadImage(page), want);
    expect(errors).toEqual([]);
    await page.close();
  }, 240_000);
});
