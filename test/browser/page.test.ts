// The browser example end to end: build dist-browser (into a temporary folder), serve it on
// loopback, drive Debian's Chromium headless (playwright-core) and check that the page's prediction
// for an uploaded image, and for a drawing, equals what the Node runtime computes for the same input;
// for an audio model, that an uploaded WAV file (8 kHz, and 44.1 kHz stereo: resampled in the page)
// and a clip from Chromium's fake microphone (--use-fake-device-for-media-stream: a beep at the
// device's rate) give Node's features and top-k; for a text model (a text transformer over BPE), that
// text typed into the text box gives Node's token ids (prepareText) and top-k. Two variants: a cross-origin-isolated page
// (COOP/COEP: shared memory, kernel worker pool) and a plain one (single thread, the 'plain' wasm build).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBrowser } from '../../scripts/build-browser.mjs';
import { resample } from '../../src/audio/resample.js';
import { decodeWav, encodeWav } from '../../src/audio/wav.js';
import { prepareImageFile, prepareWavFile } from '../../src/cli/predict.js';
import { type InferenceModel, loadArtifact, type Prediction } from '../../src/runtime/index.js';
import { TEXTS, writeTinyAudioArtifact, writeTinyTransformerArtifact } from '../serve/fixtures.js';
import { CHROMIUM, CHROMIUM_ARGS, expectSamePrediction, haveChromium, serve, testImage, tinyArtifact } from './site.js';

const CLIP = join(import.meta.dirname, '../fixtures/audio/3_theo_7.wav'); // FSDD, 8 kHz 16-bit mono

describe.skipIf(!haveChromium)('browser example (Chromium headless)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'graduate-browser-'));
  const site = join(tmp, 'site');
  const imageFile = join(tmp, 'input.png');
  const stereoFile = join(tmp, 'stereo-44k.wav');
  let nodeModel: InferenceModel;
  let nodeAudio: InferenceModel;
  let nodeText: InferenceModel;
  let context: BrowserContext;
  const servers: Server[] = [];

  beforeAll(async () => {
    await buildBrowser(site);
    writeFileSync(join(site, 'model.grad'), tinyArtifact());
    writeFileSync(imageFile, testImage());
    nodeModel = await loadArtifact(join(site, 'model.grad'), { maxBatch: 1 });
    writeTinyAudioArtifact(site, 'kws.grad');
    nodeAudio = await loadArtifact(join(site, 'kws.grad'), { maxBatch: 1 });
    writeTinyTransformerArtifact(site, 'spam.grad');
    nodeText = await loadArtifact(join(site, 'spam.grad'), { maxBatch: 1 });
    // the clip at 44.1 kHz in stereo (the right channel at half gain): the page decodes and resamples it
    const clip = resample(decodeWav(readFileSync(CLIP), CLIP).samples, 8000, 44100);
    const lr = Array.from({ length: clip.length * 2 }, (_, i) => clip[i >> 1] * (i & 1 ? 0.5 : 1));
    writeFileSync(stereoFile, encodeWav(lr, { sampleRate: 44100, channels: 2 }));
    const { chromium } = await import('playwright-core');
    const profile = join(tmp, 'profile');
    mkdirSync(profile);
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        ...CHROMIUM_ARGS,
        '--disable-gpu',
        // a fake microphone (a beep) that needs no permission prompt, and audio without a gesture
        '--use-fake-device-for-media-stream',
        '--use-fake-ui-for-media-stream',
        '--autoplay-policy=no-user-gesture-required',
      ],
    });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    for (const s of servers) s.close();
    nodeModel?.dispose();
    nodeAudio?.dispose();
    nodeText?.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  for (const isolated of [true, false]) {
    it(`${isolated ? 'cross-origin isolated (2 threads)' : 'not isolated (1 thread)'}: page = Node`, async () => {
      const { server, url } = await serve(site, isolated);
      servers.push(server);
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      if (isolated) await page.goto(`${url}?model=model.grad&threads=2`);
      else {
        // no ?model: the page waits for an artifact from the file picker
        await page.goto(url);
        await page.waitForSelector('body[data-state="idle"]');
        await page.setInputFiles('#model-file', join(site, 'model.grad'));
      }
      await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 60_000 });
      const status = await page.textContent('#status');
      expect(await page.getAttribute('body', 'data-state'), `${status}; ${errors.join('; ')}`).toBe('ready');
      const engine = await page.evaluate(
        () => (globalThis as unknown as { graduatePage: { engine: unknown } }).graduatePage.engine,
      );
      expect(engine).toMatchObject(
        isolated ? { crossOriginIsolated: true, threads: 2 } : { crossOriginIsolated: false, threads: 1 },
      );
      // the default device (auto) with Chromium's GPU off: the wasm kernels, and the page says why
      expect(await page.getAttribute('body', 'data-device')).toBe('wasm');
      expect(await page.textContent('#device')).toMatch(/^Device: wasm kernels \(.+\)$/);

      // An uploaded image: the page's top-k equals `graduate predict`'s preprocessing + the Node runtime.
      const want = nodeModel.classify(prepareImageFile(nodeModel, imageFile), 1, 5)[0];
      await page.setInputFiles('#image-file', imageFile);
      await page.waitForFunction(() => document.getElementById('status')?.textContent?.startsWith('input.png'));
      const shown = await page.$$eval('#top li', (lis) =>
        lis.map((li) => ({ label: li.dataset.label as string, score: Number(li.dataset.score) })),
      );
      expect(shown).toHaveLength(5);
      expect(shown[0].label).toBe(want.top[0].label);
      expectSamePrediction(shown, want);

      // A drawing: the page's input tensor, classified by Node, gives the page's top-k.
      const count = Number(await page.getAttribute('#top', 'data-count'));
      await page.click('#clear');
      const box = (await page.locator('#pad').boundingBox()) as { x: number; y: number; width: number };
      await page.mouse.move(box.x + 90, box.y + 60);
      await page.mouse.down();
      await page.mouse.move(box.x + 190, box.y + 120, { steps: 8 });
      await page.mouse.move(box.x + 120, box.y + 220, { steps: 8 });
      await page.mouse.up();
      await page.waitForFunction((n) => Number(document.getElementById('top')?.dataset.count) > n + 1, count);
      await page.waitForTimeout(100); // let a pending animation-frame classification land
      const drawn = await page.evaluate(() => {
        const p = (globalThis as unknown as { graduatePage: { input: Float32Array; prediction: Prediction } })
          .graduatePage;
        return { input: Array.from(p.input), top: p.prediction.top };
      });
      expect(drawn.input.some((v) => v > 0)).toBe(true);
      expectSamePrediction(drawn.top, nodeModel.classify(Float32Array.from(drawn.input), 1, 5)[0]);
      if (isolated) {
        // the kernel worker pool did run jobs (slot 0's done counter; see src/kernels/threads.ts)
        const jobs = await page.evaluate(() => {
          type Pool = { ctl: Int32Array };
          const g = globalThis as unknown as { graduatePage: { model: { session: { engine: { pool?: Pool } } } } };
          return g.graduatePage.model.session.engine.pool?.ctl[1] ?? 0;
        });
        expect(jobs).toBeGreaterThan(0);
      }
      expect(errors).toEqual([]);
      await page.close();
    });

    it(`${isolated ? 'cross-origin isolated' : 'not isolated'}: an audio model's WAV files and microphone clip = Node`, async () => {
      const { server, url } = await serve(site, isolated);
      servers.push(server);
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      await page.goto(`${url}?model=kws.grad${isolated ? '&threads=2' : ''}`);
      await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 60_000 });
      const status = await page.textContent('#status');
      expect(await page.getAttribute('body', 'data-state'), `${status}; ${errors.join('; ')}`).toBe('ready');
      expect(await page.textContent('#model-info')).toMatch(
        /kws.grad: audio, logmel \[98, 40\] of 1\.00 s at 8000 Hz, 10 classes/,
      );
      expect(await page.isVisible('#record')).toBe(true);
      expect(await page.isVisible('#wav-file')).toBe(true);
      expect(await page.isVisible('#pad')).toBe(false);
      type Shown = { input: number[]; top: Prediction['top']; recording?: { samples: number[]; rate: number } };
      const pageState = () =>
        page.evaluate(() => {
          const p = (
            globalThis as unknown as {
              graduatePage: {
                input: Float32Array;
                prediction: Prediction;
                recording?: { samples: Float32Array; rate: number };
              };
            }
          ).graduatePage;
          const r = p.recording;
          return {
            input: Array.from(p.input),
            top: p.prediction.top,
            recording: r && { samples: Array.from(r.samples), rate: r.rate },
          } as Shown;
        });
      const expectSameInput = (got: number[], want: Float32Array) => {
        expect(got).toHaveLength(want.length);
        let diff = 0;
        for (let i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs(got[i] - want[i]));
        expect(diff).toBeLessThan(1e-4);
      };

      // WAV files: the page's features and top-k are `graduate predict`'s preparation + the Node runtime's
      for (const file of [CLIP, stereoFile]) {
        const features = prepareWavFile(nodeAudio, file);
        const want = nodeAudio.classify(features, 1, 5)[0];
        await page.setInputFiles('#wav-file', file);
        await page.waitForFunction(
          (name) => document.getElementById('status')?.textContent?.startsWith(name),
          basename(file),
        );
        const shown = await page.$$eval('#top li', (lis) =>
          lis.map((li) => ({ label: li.dataset.label as string, score: Number(li.dataset.score) })),
        );
        expect(shown).toHaveLength(5);
        expectSamePrediction(shown, want);
        expectSameInput((await pageState()).input, features);
      }

      // the fake microphone: the samples the page captured at the device's rate, prepared by Node, give its answer
      await page.click('#record');
      await page.waitForFunction(
        () =>
          document.getElementById('status')?.textContent?.startsWith('microphone') ||
          document.getElementById('mic-status')?.textContent?.startsWith('Microphone:'),
        undefined,
        { timeout: 30_000 },
      );
      expect(await page.textContent('#mic-status')).toMatch(/^recorded \d+ samples at \d+ Hz$/);
      const mic = await pageState();
      const rec = mic.recording as { samples: number[]; rate: number };
      expect(rec.rate).not.toBe(8000); // the device's rate: the page resampled it
      expect(rec.samples).toHaveLength(Math.ceil(((97 * 80 + 256) / 8000) * rec.rate));
      expect(rec.samples.some((v) => v !== 0)).toBe(true); // the beep
      const features = nodeAudio.prepareAudio(Float32Array.from(rec.samples), rec.rate);
      expectSameInput(mic.input, features);
      expectSamePrediction(mic.top, nodeAudio.classify(features, 1, 5)[0]);
      expect(errors).toEqual([]);
      await page.close();
    });

    it(`${isolated ? 'cross-origin isolated' : 'not isolated'}: a text model's text box = Node`, async () => {
      const { server, url } = await serve(site, isolated);
      servers.push(server);
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      await page.goto(`${url}?model=spam.grad${isolated ? '&threads=2' : ''}`);
      await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 60_000 });
      const status = await page.textContent('#status');
      expect(await page.getAttribute('body', 'data-state'), `${status}; ${errors.join('; ')}`).toBe('ready');
      expect(await page.textContent('#model-info')).toBe(
        'spam.grad: text, bpe tokenizer, 24 tokens, 2 classes (ham, spam)',
      );
      expect(await page.isVisible('#text')).toBe(true);
      expect(await page.isVisible('#pad')).toBe(false);
      expect(await page.isVisible('#preview')).toBe(false);
      const answers: string[] = [];
      for (const text of TEXTS) {
        const count = Number(await page.getAttribute('#top', 'data-count'));
        await page.fill('#text', text); // the 'input' event classifies it
        await page.waitForFunction((n) => Number(document.getElementById('top')?.dataset.count) > n, count);
        const got = await page.evaluate(() => {
          const p = (globalThis as unknown as { graduatePage: { input: Int32Array; prediction: Prediction } })
            .graduatePage;
          return { input: Array.from(p.input), top: p.prediction.top };
        });
        const ids = nodeText.prepareText([text]);
        expect(got.input).toEqual(Array.from(ids));
        const shown = await page.$$eval('#top li', (lis) =>
          lis.map((li) => ({ label: li.dataset.label as string, score: Number(li.dataset.score) })),
        );
        const want = nodeText.classify(ids, 1, 2)[0];
        expectSamePrediction(shown, want);
        expectSamePrediction(got.top, want);
        answers.push(want.top.map((t) => t.score.toFixed(4)).join());
      }
      expect(new Set(answers).size).toBeGreaterThan(1); // the texts get different answers
      expect(await page.textContent('#tokens')).toMatch(/^24 of 24 token ids: 2 /); // [CLS] first, truncated
      expect(errors).toEqual([]);
      await page.close();
    });
  }
});
