// `graduate serve` in-process on 127.0.0.1 (port 0) with a tiny image artifact: the KServe v2
// endpoints, infer equal to a local Session, image upload, 400s that name the problem, dynamic
// batching, 429 on a full queue, and a drain that answers every accepted request.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { Engine } from '../../src/kernels/engine.js';
import { loadArtifact } from '../../src/runtime/index.js';
import { InferenceServer } from '../../src/serve/server.js';
import { CLASSES, maxDiff, metric, writeTinyArtifact } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'graduate-serve-'));
const artifact = writeTinyArtifact(dir);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** n samples of the tiny model's input [8, 8, 1]. */
const samples = (n: number, seed = 0) => Array.from({ length: n * 64 }, (_, i) => Math.sin(i * 0.37 + seed));
const tensor = (n: number, seed = 0) => ({
  name: 'input',
  shape: [n, 8, 8, 1],
  datatype: 'FP32',
  data: samples(n, seed),
});

async function post(url: string, body: unknown, type = 'application/json') {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': type },
    body: typeof body === 'string' ? body : body instanceof Uint8Array ? Buffer.from(body) : JSON.stringify(body),
  });
  // biome-ignore lint/suspicious/noExplicitAny: response JSON is inspected field by field
  return { status: res.status, json: (await res.json()) as any };
}
const get = async (url: string) => {
  const res = await fetch(url);
  // biome-ignore lint/suspicious/noExplicitAny: response JSON is inspected field by field
  return { status: res.status, json: (await res.json()) as any };
};

describe('graduate serve: one artifact', () => {
  let server: InferenceServer;
  let infer: string;
  beforeAll(async () => {
    server = await InferenceServer.start(artifact, {
      port: 0,
      workers: 1,
      maxBatch: 64,
      maxDelayMs: 20,
      bodyLimit: 64 * 1024,
    });
    infer = `${server.url}/v2/models/tiny/infer`;
  });
  afterAll(() => server.close());

  it('answers health, server metadata, the model list and model metadata', async () => {
    expect(await get(`${server.url}/v2/health/live`)).toEqual({ status: 200, json: { live: true } });
    expect(await get(`${server.url}/v2/health/ready`)).toEqual({ status: 200, json: { ready: true } });
    expect((await get(`${server.url}/v2`)).json.name).toBe('graduate');
    expect((await get(`${server.url}/v2/models`)).json.models).toEqual([
      { name: 'tiny', versions: ['1'], state: 'READY' },
    ]);
    const meta = await get(`${server.url}/v2/models/tiny`);
    expect(meta.status).toBe(200);
    expect(meta.json).toMatchObject({
      name: 'tiny',
      versions: ['1'],
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 8, 8, 1] }],
      outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, 3] }],
    });
    expect((await get(`${server.url}/v2/models/tiny/versions/1`)).json).toEqual(meta.json);
    expect(await get(`${server.url}/v2/models/tiny/versions/1/ready`)).toEqual({
      status: 200,
      json: { name: 'tiny', version: '1', ready: true },
    });
  });

  it('infers JSON tensors: the same logits as a local Session, and top-k labels', async () => {
    const engine = Engine.create({ threads: 1 });
    const local = await loadArtifact(artifact, { engine, maxBatch: 4 });
    const want = local.run(Float32Array.from(samples(3)), 3);
    local.dispose();
    engine.dispose();
    const r = await post(infer, { id: 'r1', inputs: [tensor(3)], parameters: { top_k: 2 } });
    expect(r.status).toBe(200);
    expect(r.json.model_name).toBe('tiny');
    expect(r.json.model_version).toBe('1');
    expect(r.json.id).toBe('r1');
    const [logits, labels] = r.json.outputs;
    expect(logits).toMatchObject({ name: 'logits', datatype: 'FP32', shape: [3, 3] });
    expect(maxDiff(logits.data, want)).toBeLessThan(1e-5);
    expect(labels).toMatchObject({ name: 'labels', datatype: 'BYTES', shape: [3, 2] });
    const best = want.subarray(0, 3).indexOf(Math.max(...want.subarray(0, 3)));
    expect(labels.data[0]).toMatch(new RegExp(`^0\\.\\d{6}:${best}:${CLASSES[best]}$`));
    // nested data and the versioned route give the same answer
    const nested = { ...tensor(1), data: [[samples(1)]] };
    const v = await post(`${server.url}/v2/models/tiny/versions/1/infer`, { inputs: [nested] });
    expect(v.status).toBe(200);
    expect(maxDiff(v.json.outputs[0].data, want.subarray(0, 3))).toBeLessThan(1e-5);
  });

  it('infers binary tensor data (Inference-Header-Content-Length) like JSON, and names a bad size', async () => {
    const binaryPost = async (header: unknown, data: Uint8Array, length?: string) => {
      const h = Buffer.from(JSON.stringify(header));
      const res = await fetch(infer, {
        method: 'POST',
        headers: {
          'content-type': 'application/octet-stream',
          'inference-header-content-length': length ?? String(h.length),
        },
        body: Buffer.concat([h, data]),
      });
      // biome-ignore lint/suspicious/noExplicitAny: response JSON is inspected field by field
      return { status: res.status, json: (await res.json()) as any };
    };
    const x = Float32Array.from(samples(2, 5));
    const bytes = new Uint8Array(x.buffer);
    const input = (size: number) => ({
      name: 'input',
      shape: [2, 8, 8, 1],
      datatype: 'FP32',
      parameters: { binary_data_size: size },
    });
    const viaJson = await post(infer, { inputs: [{ ...tensor(2, 5), data: Array.from(x) }] });
    const r = await binaryPost({ inputs: [input(x.byteLength)] }, bytes);
    expect(r.status).toBe(200);
    expect(r.json.outputs[0].data).toEqual(viaJson.json.outputs[0].data);
    const short = await binaryPost({ inputs: [input(x.byteLength)] }, bytes.subarray(4));
    expect(short.status).toBe(400);
    expect(short.json.error).toMatch(/508 bytes of tensor data after the header, expected 512/);
    const wrongSize = await binaryPost({ inputs: [input(100)] }, bytes);
    expect(wrongSize.json.error).toMatch(/binary_data_size 100; shape \[2, 8, 8, 1\] of FP32 needs 512 bytes/);
    const nan = new Float32Array(x);
    nan[7] = Number.NaN;
    expect((await binaryPost({ inputs: [input(512)] }, new Uint8Array(nan.buffer))).json.error).toMatch(
      /data\[7\] = NaN/,
    );
    const badLength = await binaryPost({ inputs: [input(512)] }, bytes, '99999');
    expect(badLength.status).toBe(400);
    expect(badLength.json.error).toMatch(/Inference-Header-Content-Length: expected an integer in \[0, \d+\]/);
    expect((await binaryPost({ inputs: [input(512)] }, bytes, '3')).json.error).toMatch(/not JSON/);
  });

  it('classifies an uploaded PNG image', async () => {
    const png = new PNG({ width: 16, height: 16 });
    for (let p = 0; p < 256; p++) png.data.set([p, 255 - p, p % 16, 255], p * 4);
    const r = await post(`${infer}?top_k=3`, new Uint8Array(PNG.sync.write(png)), 'image/png');
    expect(r.status).toBe(200);
    expect(r.json.predictions).toHaveLength(3);
    expect(CLASSES).toContain(r.json.predictions[0].label);
    expect(r.json.predictions[0].score).toBeGreaterThanOrEqual(r.json.predictions[1].score);
    const junk = await post(infer, new Uint8Array([1, 2, 3, 4]), 'image/png');
    expect(junk.status).toBe(400);
    expect(junk.json.error).toMatch(/uploaded image: not a PNG or JPEG image/);
  });

  it('answers bad requests with 400/404/413 and a message naming the tensor, shape or datatype', async () => {
    const cases: [unknown, RegExp][] = [
      [
        { inputs: [{ ...tensor(1), shape: [1, 8, 8] }] },
        /input 'input': shape \[1, 8, 8\] does not match the model's \[-1, 8, 8, 1\]/,
      ],
      [
        { inputs: [{ ...tensor(1), datatype: 'INT64' }] },
        /input 'input': datatype "INT64" is not accepted; the model takes FP32/,
      ],
      [{ inputs: [] }, /missing input 'input' \(FP32 \[-1, 8, 8, 1\]\)/],
      [{ inputs: [{ ...tensor(1), name: 'pixels' }] }, /unknown input 'pixels'/],
      [
        { inputs: [{ ...tensor(1), data: samples(1).slice(1) }] },
        /"data" has 63 values; shape \[1, 8, 8, 1\] needs 64/,
      ],
      [{ inputs: [{ ...tensor(1), data: ['x', ...samples(1).slice(1)] }] }, /data\[0\] = "x" is not a number/],
      [{ inputs: [tensor(1)], parameters: { top_k: 9 } }, /parameters.top_k: expected an integer in \[1, 3\]/],
      [{ nothing: 1 }, /expected a JSON object with an "inputs" array/],
    ];
    for (const [body, message] of cases) {
      const r = await post(infer, body);
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(r.json.error).toMatch(message);
    }
    expect((await post(infer, '{"inputs": [', 'application/json')).status).toBe(400);
    const unknown = await post(`${server.url}/v2/models/nope/infer`, { inputs: [tensor(1)] });
    expect(unknown).toEqual({ status: 404, json: { error: "unknown model 'nope'" } });
    expect((await get(`${server.url}/v2/models/tiny/versions/7`)).status).toBe(404);
    const big = await post(infer, { inputs: [tensor(80)] }); // ~100 KiB > bodyLimit 64 KiB
    expect(big.status).toBe(413);
    expect(big.json.error).toMatch(/too large/i);
    expect(
      await metric(server, 'graduate_requests_total{model="tiny",version="1",outcome="bad_request"}'),
    ).toBeGreaterThan(8);
  });

  it('batches concurrent requests dynamically (32 requests, max-delay 20 ms)', async () => {
    const before = await metric(server, 'graduate_batches_total{model="tiny",version="1"}');
    const rs = await Promise.all(Array.from({ length: 32 }, (_, i) => post(infer, { inputs: [tensor(1, i)] })));
    expect(rs.every((r) => r.status === 200)).toBe(true);
    const batches = (await metric(server, 'graduate_batches_total{model="tiny",version="1"}')) - before;
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThan(16); // 32 requests in at most half as many batches: batches of 2+ samples
    expect(await metric(server, 'graduate_batch_size_bucket{le="1",model="tiny",version="1"}')).toBeLessThan(
      await metric(server, 'graduate_batch_size_count{model="tiny",version="1"}'),
    );
    // each request still got its own sample's logits
    const single = await post(infer, { inputs: [tensor(1, 5)] });
    expect(rs[5].json.outputs[0].data).toEqual(single.json.outputs[0].data);
    expect(await metric(server, 'graduate_inflight_requests')).toBe(0);
  });
});

describe('graduate serve: batching disabled (max-batch 1)', () => {
  it('runs 24 concurrent requests one by one on one worker, each with its own logits', async () => {
    const server = await InferenceServer.start(artifact, { port: 0, workers: 1, maxBatch: 1, maxDelayMs: 0 });
    try {
      const infer = `${server.url}/v2/models/tiny/infer`;
      const rs = await Promise.all(Array.from({ length: 24 }, (_, i) => post(infer, { inputs: [tensor(1, i)] })));
      expect(rs.every((r) => r.status === 200)).toBe(true);
      const model = await loadArtifact(artifact, { engine: Engine.create({ threads: 1 }) });
      for (const [i, r] of rs.entries())
        expect(maxDiff(r.json.outputs[0].data, model.run(Float32Array.from(samples(1, i)), 1))).toBeLessThan(1e-5);
      expect(await metric(server, 'graduate_batch_size_count{model="tiny",version="1"}')).toBe(24);
      expect(await metric(server, 'graduate_batch_size_sum{model="tiny",version="1"}')).toBe(24);
    } finally {
      await server.close();
    }
  });
});

describe('graduate serve: overload and shutdown', () => {
  it('answers 429 beyond --max-queue and keeps serving', async () => {
    // a long delay keeps the first requests queued: the queue fills deterministically
    const server = await InferenceServer.start(artifact, {
      port: 0,
      workers: 1,
      maxBatch: 64,
      maxDelayMs: 400,
      maxQueue: 4,
    });
    try {
      const infer = `${server.url}/v2/models/tiny/infer`;
      const rs = await Promise.all(Array.from({ length: 12 }, () => post(infer, { inputs: [tensor(1)] })));
      const codes = rs.map((r) => r.status).sort();
      expect(codes.filter((c) => c === 200)).toHaveLength(4);
      expect(codes.filter((c) => c === 429)).toHaveLength(8);
      expect(rs.find((r) => r.status === 429)?.json.error).toMatch(/queue full \(4 samples queued, limit 4\)/);
      expect(await metric(server, 'graduate_requests_total{model="tiny",version="1",outcome="overloaded"}')).toBe(8);
      expect((await post(infer, { inputs: [tensor(1)] })).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('close() refuses new requests and answers every accepted one', async () => {
    const server = await InferenceServer.start(artifact, { port: 0, workers: 1, maxBatch: 64, maxDelayMs: 300 });
    const url = server.url;
    const infer = `${url}/v2/models/tiny/infer`;
    const pending = Array.from({ length: 10 }, (_, i) => post(infer, { inputs: [tensor(1, i)] }));
    await vi.waitFor(() => expect(server.stats.accepted).toBe(10), { timeout: 5000, interval: 5 });
    const closing = server.close();
    expect(server.ready).toBe(false);
    const late = await post(infer, { inputs: [tensor(1)] }).catch(() => ({ status: 'refused' }));
    expect([503, 'refused']).toContain(late.status);
    const rs = await Promise.all(pending);
    expect(rs.map((r) => r.status)).toEqual(Array(10).fill(200));
    await closing;
    expect(server.stats).toEqual({ accepted: 10, answered: 10, ok: 10 });
  });
});

describe('graduate serve: a model repository folder', () => {
  it('serves DIR/<model>/<version>/model.grad and DIR/<model>.grad, latest version by default', async () => {
    const repo = join(dir, 'repo');
    for (const v of ['1', '2']) {
      mkdirSync(join(repo, 'fmnist', v), { recursive: true });
      writeTinyArtifact(join(repo, 'fmnist', v), 'model.grad', Number(v));
    }
    writeTinyArtifact(repo, 'other.grad', 3);
    const server = await InferenceServer.start(repo, { port: 0, workers: 1, maxDelayMs: 0 });
    try {
      expect((await get(`${server.url}/v2/models`)).json.models).toEqual([
        { name: 'fmnist', versions: ['1', '2'], state: 'READY' },
        { name: 'other', versions: ['1'], state: 'READY' },
      ]);
      const v1 = await post(`${server.url}/v2/models/fmnist/versions/1/infer`, { inputs: [tensor(1)] });
      const v2 = await post(`${server.url}/v2/models/fmnist/versions/2/infer`, { inputs: [tensor(1)] });
      const latest = await post(`${server.url}/v2/models/fmnist/infer`, { inputs: [tensor(1)] });
      expect(v1.json.outputs[0].data).not.toEqual(v2.json.outputs[0].data);
      expect(latest.json.model_version).toBe('2');
      expect(latest.json.outputs[0].data).toEqual(v2.json.outputs[0].data);
      expect((await post(`${server.url}/v2/models/other/infer`, { inputs: [tensor(1)] })).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('runs batches on multi-threaded worker engines (--threads 2): the same logits', async () => {
    const server = await InferenceServer.start(artifact, { port: 0, workers: 1, threads: 2, maxBatch: 16 });
    try {
      const infer = `${server.url}/v2/models/tiny/infer`;
      const rs = await Promise.all(Array.from({ length: 16 }, (_, i) => post(infer, { inputs: [tensor(1, i)] })));
      expect(rs.every((r) => r.status === 200)).toBe(true);
      const engine = Engine.create({ threads: 1 });
      const local = await loadArtifact(artifact, { engine, maxBatch: 4 });
      const want = local.run(Float32Array.from(samples(1, 7)), 1);
      local.dispose();
      engine.dispose();
      expect(maxDiff(rs[7].json.outputs[0].data, want)).toBeLessThan(1e-5);
    } finally {
      await server.close();
    }
    await expect(InferenceServer.start(artifact, { port: 0, threads: 0 })).rejects.toThrow(
      /--threads: expected an integer ≥ 1, got 0/,
    );
  });

  it('the CLI names a missing path and a bad option', async () => {
    const err: string[] = [];
    const e = vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
    try {
      expect(await main(['serve', join(dir, 'missing')])).toBe(1);
      expect(await main(['serve', artifact, '--max-batch', 'x'])).toBe(1);
    } finally {
      e.mockRestore();
    }
    expect(err[0]).toMatch(/graduate: .*missing: no such artifact file or model repository folder/);
    expect(err[1]).toMatch(/--max-batch: expected an integer, got 'x'/);
    expect(readFileSync(artifact).length).toBeGreaterThan(0);
  });
});
