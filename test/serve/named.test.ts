// `graduate serve` with 'tensor' models (general ONNX graphs imported as `graduate import` writes
// them): GET /v2/models/{name} lists every named input and output with its datatype and shape (-1:
// batch); an infer request with several named inputs of several datatypes (FP32, INT64, INT32,
// BOOL; JSON and binary data) gets every output (or those asked for) in its declared datatype,
// equal to InferenceModel.runNamed, as JSON or binary data; requests of a batched graph are
// stacked, those of a fixed-shape graph run one by one; bad requests get a 400 naming the input.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPasses } from '../../src/compile/passes/index.js';
import { writeArtifact } from '../../src/graph/artifact.js';
import { Engine } from '../../src/kernels/engine.js';
import { importOnnx } from '../../src/onnx/import.js';
import { loadArtifact } from '../../src/runtime/index.js';
import { InferenceServer } from '../../src/serve/server.js';
import { constantModel, fixedModel, mixedModel, twoInputModel } from '../onnx/named-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'graduate-serve-named-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An ONNX model as `graduate import` writes it, at dir/name.grad. */
function artifact(name: string, onnx: Uint8Array): string {
  const file = join(dir, `${name}.grad`);
  writeFileSync(file, writeArtifact(runPasses(importOnnx(onnx, `${name}.onnx`)).graph, 'test'));
  return file;
}

// biome-ignore lint/suspicious/noExplicitAny: response JSON is inspected field by field
type Json = any;

async function post(url: string, body: unknown): Promise<{ status: number; json: Json }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

/** A binary-data request: the JSON header, then the tensors' bytes; the response split the same way. */
async function postBinary(url: string, header: unknown, parts: Uint8Array[]) {
  const h = Buffer.from(JSON.stringify(header));
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(h.length) },
    body: Buffer.concat([h, ...parts]),
  });
  const body = new Uint8Array(await res.arrayBuffer());
  const n = Number(res.headers.get('inference-header-content-length') ?? body.length);
  return {
    status: res.status,
    json: JSON.parse(Buffer.from(body.subarray(0, n)).toString()) as Json,
    rest: body.slice(n),
  };
}

const N = 2;
const x = Array.from({ length: N * 12 }, (_, i) => Math.round(Math.sin(i * 0.9) * 300) / 100);
const ids = [3, 1, 4, 1, 5, 9];
const xIn = { name: 'x', datatype: 'FP32', shape: [N, 3, 4], data: x };
const idsIn = { name: 'ids', datatype: 'INT64', shape: [N, 3], data: ids };

describe('graduate serve: tensor models', () => {
  let server: InferenceServer;
  let expected: Record<string, ArrayLike<number | bigint>>;
  beforeAll(async () => {
    artifact('pair', twoInputModel());
    artifact('fixed', fixedModel());
    artifact('mixed', mixedModel());
    artifact('const', constantModel());
    const model = await loadArtifact(join(dir, 'pair.grad'), { engine: Engine.create({ threads: 1 }) });
    expected = model.runNamed({ x: Float32Array.from(x), ids: BigInt64Array.from(ids, BigInt) });
    model.dispose();
    server = await InferenceServer.start(dir, { port: 0, workers: 1, maxBatch: 16, maxDelayMs: 20 });
  });
  afterAll(() => server?.close());

  it('GET /v2/models/{name} lists the named inputs and outputs with datatypes and shapes', async () => {
    const meta = await (await fetch(`${server.url}/v2/models/pair`)).json();
    expect(meta.inputs).toEqual([
      { name: 'x', datatype: 'FP32', shape: [-1, 3, 4] },
      { name: 'ids', datatype: 'INT64', shape: [-1, 3] },
    ]);
    expect(meta.outputs).toEqual([
      { name: 'sum', datatype: 'FP32', shape: [-1, 3, 4] },
      { name: 'best', datatype: 'INT64', shape: [-1, 3] },
      { name: 'pos', datatype: 'BOOL', shape: [-1, 3, 4] },
    ]);
    expect(meta.parameters).toMatchObject({ input_kind: 'tensor', dynamic_batching: true });
    const fixed = await (await fetch(`${server.url}/v2/models/fixed`)).json();
    expect(fixed.inputs).toEqual([
      { name: 'a', datatype: 'FP32', shape: [2, 3] },
      { name: 'b', datatype: 'INT32', shape: [3] },
    ]);
    expect(fixed.outputs[1]).toEqual({ name: 'total', datatype: 'INT32', shape: [] });
    expect(fixed.parameters.dynamic_batching).toBe(false);
  });

  it('JSON: several named inputs in, every output in its datatype out, equal to runNamed', async () => {
    const r = await post(`${server.url}/v2/models/pair/infer`, { id: 'q1', inputs: [idsIn, xIn] });
    expect(r.status).toBe(200);
    expect(r.json.id).toBe('q1');
    expect(r.json.outputs.map((o: Json) => [o.name, o.datatype, o.shape])).toEqual([
      ['sum', 'FP32', [N, 3, 4]],
      ['best', 'INT64', [N, 3]],
      ['pos', 'BOOL', [N, 3, 4]],
    ]);
    const [sum, best, pos] = r.json.outputs;
    expect(sum.data).toEqual([...(expected.sum as Float32Array)]);
    expect(best.data).toEqual([...(expected.best as BigInt64Array)].map(Number));
    expect(pos.data).toEqual([...(expected.pos as Uint8Array)].map((v) => v === 1));
    // only the outputs asked for; INT32 is accepted for an INT64 input; nested data as the shape
    const some = await post(`${server.url}/v2/models/pair/infer`, {
      inputs: [
        { ...xIn, data: [x.slice(0, 12), x.slice(12)] },
        { ...idsIn, datatype: 'INT32' },
      ],
      outputs: [{ name: 'best' }],
    });
    expect(some.json.outputs.map((o: Json) => o.name)).toEqual(['best']);
    expect(some.json.outputs[0].data).toEqual(best.data);
  });

  it('binary tensor data: several binary inputs in, binary and JSON outputs out', async () => {
    const xb = new Uint8Array(Float32Array.from(x).buffer);
    const ib = new Uint8Array(BigInt64Array.from(ids, BigInt).buffer);
    const r = await postBinary(
      `${server.url}/v2/models/pair/infer`,
      {
        inputs: [
          { name: 'x', datatype: 'FP32', shape: [N, 3, 4], parameters: { binary_data_size: xb.length } },
          { name: 'ids', datatype: 'INT64', shape: [N, 3], parameters: { binary_data_size: ib.length } },
        ],
        outputs: [
          { name: 'best', parameters: { binary_data: true } },
          { name: 'pos', parameters: { binary_data: true } },
          { name: 'sum' },
        ],
      },
      [xb, ib],
    );
    expect(r.status).toBe(200);
    const [best, pos, sum] = r.json.outputs;
    expect(best).toEqual({ name: 'best', datatype: 'INT64', shape: [N, 3], parameters: { binary_data_size: 48 } });
    expect(pos.parameters).toEqual({ binary_data_size: 24 });
    expect(sum.data).toEqual([...(expected.sum as Float32Array)]);
    expect(r.rest.length).toBe(48 + 24);
    expect([...new BigInt64Array(r.rest.slice(0, 48).buffer)]).toEqual([...(expected.best as BigInt64Array)]);
    expect([...r.rest.slice(48)]).toEqual([...(expected.pos as Uint8Array)]);
    // parameters.binary_data_output: every output binary
    const all = await postBinary(
      `${server.url}/v2/models/pair/infer`,
      {
        inputs: [xIn, { ...idsIn, parameters: { binary_data_size: ib.length }, data: undefined }],
        parameters: { binary_data_output: true },
      },
      [ib],
    );
    expect(all.json.outputs.map((o: Json) => o.parameters.binary_data_size)).toEqual([96, 48, 24]);
    expect([...new Float32Array(all.rest.slice(0, 96).buffer)]).toEqual([...(expected.sum as Float32Array)]);
  });

  it('stacks concurrent requests of a batched graph; each gets its own rows', async () => {
    const one = (k: number) =>
      post(`${server.url}/v2/models/pair/infer`, {
        inputs: [
          { ...xIn, shape: [1, 3, 4], data: x.slice(k * 12, (k + 1) * 12) },
          { ...idsIn, shape: [1, 3], data: ids.slice(k * 3, (k + 1) * 3) },
        ],
        outputs: [{ name: 'best' }],
      });
    const batches = async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      return Number(/graduate_batches_total\{model="pair",version="1"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    const before = await batches();
    const rs = await Promise.all([one(0), one(1), one(0), one(1)]);
    const best = [...(expected.best as BigInt64Array)].map(Number);
    expect(rs.map((r) => r.json.outputs[0].data)).toEqual([
      best.slice(0, 3),
      best.slice(3),
      best.slice(0, 3),
      best.slice(3),
    ]);
    expect((await batches()) - before).toBeLessThan(4); // stacked: fewer batches than requests
  });

  it('a fixed-shape graph runs request by request, whole tensors in and out', async () => {
    const req = (k: number) => ({
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6].map((v) => v * k) },
        { name: 'b', datatype: 'INT32', shape: [3], data: [1, -2, k] },
      ],
    });
    const rs = await Promise.all([1, 2, 3].map((k) => post(`${server.url}/v2/models/fixed/infer`, req(k))));
    rs.forEach((r, i) => {
      const k = i + 1;
      expect(r.status).toBe(200);
      expect(r.json.outputs[0]).toEqual({
        name: 'prod',
        datatype: 'FP32',
        shape: [2, 3],
        data: [1 * k, -4 * k, 3 * k * k, 4 * k, -10 * k, 6 * k * k],
      });
      expect(r.json.outputs[1]).toEqual({ name: 'total', datatype: 'INT32', shape: [], data: [k - 1] });
    });
  });

  it('a batched input beside a fixed one: requests are not stacked (each its own bias); no inputs: "inputs": []', async () => {
    const req = (k: number) => ({
      inputs: [
        { name: 'x', datatype: 'FP32', shape: [k, 4], data: Array.from({ length: 4 * k }, () => k) },
        { name: 'bias', datatype: 'FP32', shape: [4], data: [k, 0, 0, -k] },
      ],
    });
    const rs = await Promise.all([1, 2].map((k) => post(`${server.url}/v2/models/mixed/infer`, req(k))));
    expect(rs[0].json.outputs[0]).toMatchObject({ shape: [1, 4], data: [2, 1, 1, 0] });
    expect(rs[1].json.outputs[0]).toMatchObject({ shape: [2, 4], data: [4, 2, 2, 0, 4, 2, 2, 0] });
    const c = await post(`${server.url}/v2/models/const/infer`, { inputs: [] });
    expect(c.json.outputs).toEqual([{ name: 'k', datatype: 'INT64', shape: [2], data: [7, 8] }]);
  });

  it('bad requests: 400 naming the input', async () => {
    const url = `${server.url}/v2/models/pair/infer`;
    const error = async (body: unknown) => {
      const r = await post(url, body);
      expect(r.status).toBe(400);
      return r.json.error as string;
    };
    expect(await error({ inputs: [xIn] })).toBe(
      "missing input 'ids' INT64 [-1, 3]: model 'pair' takes 'x' FP32 [-1, 3, 4], 'ids' INT64 [-1, 3]",
    );
    expect(await error({ inputs: [xIn, idsIn, { ...xIn, name: 'y' }] })).toMatch(
      /^unknown input 'y': model 'pair' takes/,
    );
    expect(await error({ inputs: [xIn, { ...idsIn, datatype: 'FP32' }] })).toBe(
      'input \'ids\': datatype "FP32" is not accepted; the model takes INT64 or INT32 [-1, 3]',
    );
    expect(await error({ inputs: [{ ...xIn, shape: [N, 4, 3] }, idsIn] })).toBe(
      "input 'x': shape [2, 4, 3] does not match the model's [-1, 3, 4]",
    );
    expect(await error({ inputs: [xIn, { ...idsIn, shape: [1, 3], data: ids.slice(3) }] })).toBe(
      "input 'ids': batch 1 differs from input 'x''s batch 2",
    );
    expect(await error({ inputs: [xIn, { ...idsIn, data: ids.slice(1) }] })).toBe(
      'input \'ids\': "data" has 5 values; shape [2, 3] needs 6',
    );
    expect(await error({ inputs: [xIn, { ...idsIn, data: [1, 2, 3, 4, 5, 2 ** 40] }] })).toMatch(
      /^input 'ids': data\[5\] = 1099511627776 is not an int32 integer/,
    );
    expect(await error({ inputs: [xIn, idsIn], outputs: [{ name: 'nope' }] })).toMatch(/^unknown output "nope"/);
    // an index past the table: the graph refuses it, the request gets a 400 (and no other request fails)
    const [badOne, good] = await Promise.all([
      post(url, { inputs: [xIn, { ...idsIn, data: [1, 2, 3, 4, 5, 10] }] }),
      post(url, { inputs: [xIn, idsIn] }),
    ]);
    expect(badOne.status).toBe(400);
    expect(badOne.json.error).toMatch(/index 10 is out of range for an axis of size 10/);
    expect(good.status).toBe(200);
    // binary sizes must add up
    const ib = new Uint8Array(BigInt64Array.from(ids, BigInt).buffer);
    const r = await postBinary(
      url,
      { inputs: [xIn, { name: 'ids', datatype: 'INT64', shape: [N, 3], parameters: { binary_data_size: 24 } }] },
      [ib],
    );
    expect(r.status).toBe(400);
    expect(r.json.error).toBe("input 'ids': binary_data_size 24; shape [2, 3] of INT64 needs 48 bytes");
  });
});
