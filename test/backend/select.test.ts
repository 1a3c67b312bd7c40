// --device: parsing, what each choice resolves to with and without a WebGPU adapter, and
// `graduate info`'s WebGPU lines. Without an adapter (a child process with no Vulkan driver) webgpu
// is refused naming the reason and auto falls back to the cpu saying why; with lavapipe (a software
// adapter) auto stays on the cpu and webgpu opens it.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseDevice, selectDevice } from '../../src/backend/select.js';
import { ValueError } from '../../src/errors.js';
import { engine } from '../../src/tensor/context.js';
import { cli } from '../cli/run.js';
import { gpuBackend } from './gpu.js';

const gpu = gpuBackend('the device selection tests with an adapter');

/** Runs a snippet in a fresh Node with no Vulkan driver on its paths; returns its stdout. */
function withoutVulkan(code: string): string {
  const env = { ...process.env };
  delete env.VK_ICD_FILENAMES;
  delete env.LD_LIBRARY_PATH;
  env.VK_ICD_FILENAMES = '/nonexistent/icd.json';
  return execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
}

describe('--device', () => {
  it('parses auto, cpu and webgpu and refuses anything else by name', () => {
    for (const d of ['auto', 'cpu', 'webgpu']) expect(parseDevice(d)).toBe(d);
    expect(() => parseDevice('cuda')).toThrow(ValueError);
    expect(() => parseDevice('cuda')).toThrow(/'cuda' is not a device \(auto, cpu or webgpu\)/);
  });

  it('cpu never opens a GPU', () => {
    expect(selectDevice('cpu')).toEqual({ device: 'cpu', reason: 'asked for' });
  });

  it('without an adapter: webgpu is refused with the reason, auto falls back to the cpu saying why', () => {
    const out = withoutVulkan(`
      import { selectDevice } from '${new URL('../../src/backend/select.ts', import.meta.url).pathname}';
      let refused = '';
      try { selectDevice('webgpu'); } catch (e) { refused = e.message; }
      const auto = selectDevice('auto');
      console.log(JSON.stringify({ refused, auto }));
      process.exit(0);
    `);
    const r = JSON.parse(out.trim().split('\n').pop() as string);
    expect(r.refused).toMatch(/^--device webgpu: no WebGPU adapter/);
    expect(r.auto.device).toBe('cpu');
    expect(r.auto.reason).toMatch(/^no WebGPU: no WebGPU adapter/);
  });

  it('graduate info says there is no WebGPU adapter, and why, where there is none', () => {
    const out = withoutVulkan(`
      import { main } from '${new URL('../../src/cli/main.ts', import.meta.url).pathname}';
      process.exit(await main(['info', '--threads', '1']));
    `);
    expect(out).toMatch(/^webgpu: none \(no WebGPU adapter/m);
  });

  it.skipIf(!gpu)('with a software adapter: webgpu opens it, auto stays on the cpu saying why', () => {
    const w = selectDevice('webgpu');
    expect(w.device).toBe('webgpu');
    expect(w.gpu?.name).toBe('webgpu');
    const a = selectDevice('auto', engine());
    if (gpu?.adapter.isFallbackAdapter) {
      expect(a.device).toBe('cpu');
      expect(a.reason).toMatch(/software/);
    } else expect(a.reason).toMatch(/GEMM .* ms on the cpu vs .* ms on/);
  });

  it.skipIf(!gpu)('graduate info lists the adapter, its features and limits', async () => {
    const r = await cli('info', '--threads', '1');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^webgpu: \S+/m);
    expect(r.stdout).toMatch(/^ {2}features: .*shader-f16/m);
    expect(r.stdout).toMatch(/^ {2}limits: storage buffer \d+ MiB/m);
  });

  it('recommendation models refuse --device webgpu (they run on the cpu only)', async () => {
    const r = await cli(
      'train',
      '--preset',
      'mf',
      '--data',
      'movielens-small',
      '--device',
      'webgpu',
      '--out',
      '/nonexistent/x',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--device webgpu: recommendation models run on the cpu only/);
  });

  it('a bad --device value is a one-line error, exit 1', async () => {
    const r = await cli('predict', 'model.grad', 'x.png', '--device', 'tpu');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--device/);
  });
});
