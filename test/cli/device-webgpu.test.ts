// --device webgpu at work: `graduate predict` and `graduate serve` run a compiled artifact on the
// WebGPU adapter (lavapipe in CI) and answer what they answer on the CPU; `graduate train --device
// webgpu` trains and its checkpoint evaluates alike on both devices. Skipped, saying so, where no
// adapter exists.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InferenceServer } from '../../src/serve/server.js';
import { gpuBackend } from '../backend/gpu.js';
import { writeTinyArtifact } from '../serve/fixtures.js';
import { cli } from './run.js';

const gpu = gpuBackend('the --device webgpu command tests');
const dir = mkdtempSync(join(tmpdir(), 'graduate-device-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const haveData = existsSync('/usr/share/datasets/fashion-mnist');

const samples = (n: number) => Array.from({ length: n * 64 }, (_, i) => Math.round(127 + 120 * Math.sin(i * 0.37)));

describe.skipIf(!gpu)('--device webgpu', () => {
  const artifact = gpu ? writeTinyArtifact(dir) : '';

  it('predict prints the same labels and scores on webgpu as on the cpu', async () => {
    const input = join(dir, 'x.json');
    writeFileSync(input, JSON.stringify(samples(3)));
    const cpu = await cli('predict', artifact, input, '--json', '--threads', '1');
    const onGpu = await cli('predict', artifact, input, '--json', '--device', 'webgpu');
    expect(cpu.code).toBe(0);
    expect(onGpu.code).toBe(0);
    expect(onGpu.stderr).toMatch(/device: webgpu \(asked for; /);
    const [a, b] = [JSON.parse(cpu.stdout), JSON.parse(onGpu.stdout)];
    expect(b.length).toBe(a.length);
    for (let i = 0; i < a.length; i++) {
      expect(b[i].top.map((t: { label: string }) => t.label)).toEqual(a[i].top.map((t: { label: string }) => t.label));
      for (let j = 0; j < a[i].top.length; j++) expect(b[i].top[j].score).toBeCloseTo(a[i].top[j].score, 5);
    }
  });

  it('serve --device webgpu answers KServe v2 requests as the cpu server does', async () => {
    const body = {
      inputs: [{ name: 'input', shape: [2, 8, 8, 1], datatype: 'FP32', data: samples(2).map((v) => v / 255) }],
    };
    const answers: number[][] = [];
    for (const device of ['cpu', 'webgpu']) {
      const server = await InferenceServer.start(artifact, { port: 0, device, maxBatch: 8, maxDelayMs: 1 });
      try {
        const res = await fetch(`${server.url}/v2/models/tiny/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        expect(res.status).toBe(200);
        const json = (await res.json()) as { outputs: { data: number[] }[] };
        answers.push(json.outputs[0].data);
      } finally {
        await server.close();
      }
    }
    expect(answers[1].length).toBe(6);
    for (let i = 0; i < 6; i++) expect(answers[1][i]).toBeCloseTo(answers[0][i], 5);
  });

  it.runIf(haveData)(
    'train --device webgpu writes a checkpoint that eval reads on the cpu with the same accuracy',
    async () => {
      const out = join(dir, 'run');
      const t = await cli(
        'train',
        '--preset',
        'mlp',
        '--data',
        'fashion-mnist',
        '--epochs',
        '1',
        '--limit',
        '512',
        '--batch',
        '64',
        '--out',
        out,
        '--no-progress',
        '--device',
        'webgpu',
      );
      expect(t.code).toBe(0);
      expect(t.stderr).toMatch(/device: webgpu/);
      const onCpu = await cli('eval', out, '--data', 'fashion-mnist', '--limit', '500', '--threads', '1');
      const onGpu = await cli('eval', out, '--data', 'fashion-mnist', '--limit', '500', '--device', 'webgpu');
      expect(onCpu.code).toBe(0);
      const acc = (s: string) => s.match(/accuracy:? (0\.\d+)/)?.[1];
      expect(acc(onGpu.stdout)).toBeDefined();
      expect(acc(onGpu.stdout)).toBe(acc(onCpu.stdout));
    },
    240_000,
  );

  it.runIf(haveData)(
    'compile --device webgpu fine-tunes, gates and times the graduated model on the GPU',
    async () => {
      const out = join(dir, 'run');
      const c = await cli(
        'compile',
        out,
        '--data',
        'fashion-mnist',
        '--quantize',
        'int8',
        '--test-limit',
        '300',
        '--calib-samples',
        '256',
        '-o',
        join(dir, 'run.grad'),
        '--device',
        'webgpu',
      );
      expect(c.code, c.stderr).toBe(0);
      expect(c.stderr).toMatch(/device: webgpu/);
      expect(existsSync(join(dir, 'run.grad'))).toBe(true);
      // the artifact answers alike on both devices
      const input = join(dir, 'img.json');
      writeFileSync(input, JSON.stringify(Array.from({ length: 784 }, (_, i) => (i * 37) % 256)));
      const [a, b] = [
        await cli('predict', join(dir, 'run.grad'), input, '--json', '--threads', '1'),
        await cli('predict', join(dir, 'run.grad'), input, '--json', '--device', 'webgpu'),
      ];
      expect(JSON.parse(b.stdout)[0].top[0].label).toBe(JSON.parse(a.stdout)[0].top[0].label);
    },
    240_000,
  );
});
