// The server under hostile input and at shutdown: values that overflow float32, data nested 200k
// deep, image bombs (refused from their header, others still served), a model whose output
// overflows (a 500 naming it, never a 200 with null logits), and a prompt exit on close() and
// SIGTERM even with a connection that never sends a request.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferenceServer } from '../../src/serve/server.js';
import { pngDeclaring, realPng } from '../data/bombs.js';
import { writeTinyArtifact } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'graduate-serve-limits-'));
const artifact = writeTinyArtifact(dir);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tensor = (data: unknown, shape = [1, 8, 8, 1]) => ({
  inputs: [{ name: 'input', shape, datatype: 'FP32', data }],
});
async function post(url: string, body: string | Uint8Array, type = 'application/json') {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': type },
    body: typeof body === 'string' ? body : Buffer.from(body),
  });
  // biome-ignore lint/suspicious/noExplicitAny: response JSON is inspected field by field
  return { status: res.status, json: (await res.json()) as any };
}

/** A TCP connection to the server that sends nothing (a preconnecting browser, a stalled client). */
async function silentConnection(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const s = connect(Number(port), hostname);
  s.on('error', () => {});
  await new Promise((resolve) => s.once('connect', resolve));
  return s;
}

describe('graduate serve: hostile input', () => {
  let server: InferenceServer;
  let infer: string;
  beforeAll(async () => {
    server = await InferenceServer.start(artifact, { port: 0, workers: 1, maxImagePixels: 1_000_000 });
    infer = `${server.url}/v2/models/tiny/infer`;
  });
  afterAll(() => server.close());

  it('answers 400 naming the input and index for a value beyond float32 (1e39), JSON and binary', async () => {
    const data = new Array(64).fill(0.5);
    data[9] = 1e39;
    const r = await post(infer, JSON.stringify(tensor(data)));
    expect(r).toEqual({
      status: 400,
      json: { error: "input 'input': data[9] = 1e+39 is beyond float32's range (±3.4028235e+38)" },
    });
    data[9] = -1e300;
    expect((await post(infer, JSON.stringify(tensor(data)))).json.error).toMatch(/data\[9\] = -1e\+300 is beyond/);
    const x = new Float32Array(64);
    x[63] = Number.POSITIVE_INFINITY;
    const h = Buffer.from(
      JSON.stringify({ inputs: [{ ...tensor(0).inputs[0], data: undefined, parameters: { binary_data_size: 256 } }] }),
    );
    const res = await fetch(infer, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(h.length) },
      body: Buffer.concat([h, Buffer.from(x.buffer)]),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe(
      "input 'input': data[63] = Infinity is not a finite number",
    );
  });

  it('answers 400 for data nested 200k deep, or deeper than its shape', async () => {
    const deep = `{"inputs":[{"name":"input","shape":[1,8,8,1],"datatype":"FP32","data":${'['.repeat(200_000)}1${']'.repeat(200_000)}}]}`;
    expect(await post(infer, deep)).toEqual({
      status: 400,
      json: { error: `input 'input': data nests deeper than its shape [1, 8, 8, 1] (4 levels)` },
    });
    const five = (await post(infer, JSON.stringify(tensor([[[[[1]]]]])))).json.error;
    expect(five).toMatch(/nests deeper than its shape/);
  });

  it('never answers 200 with non-finite outputs: a model that overflows is a 500 naming it', async () => {
    // finite float32 inputs near the top of the range overflow the convolution's sums
    const r = await post(infer, JSON.stringify(tensor(new Array(64).fill(3e38))));
    expect(r.status).toBe(500);
    expect(r.json.error).toMatch(/^model 'tiny' version 1: output \[\d+\] = (-?Infinity|NaN) is not finite/);
  });

  it('refuses an image bomb from its header (400) and keeps serving others', async () => {
    const bomb = pngDeclaring(12000, 12000);
    const t0 = performance.now();
    const [r, ok] = await Promise.all([
      post(infer, bomb, 'image/png'),
      post(infer, JSON.stringify(tensor(new Array(64).fill(0.5)))),
    ]);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(
      /^uploaded image: image of 12000×12000 = 144000000 pixels, over the limit of 1000000 pixels/,
    );
    expect(ok.status).toBe(200);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect((await post(infer, realPng(1001, 1000), 'image/png')).status).toBe(400);
    expect((await post(infer, realPng(100, 100), 'image/png')).status).toBe(200);
  });
});

describe('graduate serve: exit', () => {
  it('close() returns at once with a silent connection and an idle keep-alive one open', async () => {
    const server = await InferenceServer.start(artifact, { port: 0, workers: 1 });
    const silent = await silentConnection(server.url);
    const ok = await post(`${server.url}/v2/models/tiny/infer`, JSON.stringify(tensor(new Array(64).fill(0))));
    expect(ok.status).toBe(200); // fetch keeps its connection alive
    const t0 = performance.now();
    await server.close();
    expect(performance.now() - t0).toBeLessThan(500);
    expect(silent.destroyed || silent.readableEnded).toBe(true);
  });

  it('graduate serve exits 0 within 0.5 s of SIGTERM, a silent connection open', async () => {
    // the CLI from source: a script importing src/cli/main.ts, run with tsx as vitest does
    const script = join(dir, 'serve.mts');
    const main = join(process.cwd(), 'src/cli/main.ts');
    writeFileSync(
      script,
      `import { main } from ${JSON.stringify(main)};\nprocess.exitCode = await main(${JSON.stringify(['serve', artifact, '--port', '0', '--workers', '1'])});\n`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const url = await new Promise<string>((resolve, reject) => {
      const poll = setInterval(() => {
        const m = /on (http:\/\/\S+) /.exec(out);
        if (m) {
          clearInterval(poll);
          resolve(m[1]);
        }
      }, 20);
      exited.then(() => {
        clearInterval(poll);
        reject(new Error(`serve exited early: ${out}`));
      });
    });
    const silent = await silentConnection(url);
    const t0 = performance.now();
    child.kill('SIGTERM');
    const status = await exited;
    const ms = performance.now() - t0;
    silent.destroy();
    expect(status, out).toBe(0);
    expect(out).toContain('graduate serve: SIGTERM, draining');
    expect(ms).toBeLessThan(500);
  }, 30_000);
});
