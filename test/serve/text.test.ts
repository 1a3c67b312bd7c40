// `graduate serve` with a text model (the text-transformer preset over a small BPE, random
// weights): strings as a KServe v2 BYTES tensor (JSON, or binary length-prefixed elements) under
// 'text' or the model's input name answer the logits and top-k of the runtime on prepareText ids;
// the int32 token-id tensor still works; texts of different lengths in one batch answer as each
// alone at full length (a batch runs padded to its longest text, 16 or 24 tokens here, and the
// model masks padding: runtime/sequence-buckets.ts); concurrent text
// requests share batches; metadata lists the BYTES input; bad texts are 400s naming the problem.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/kernels/engine.js';
import { type InferenceModel, loadArtifact, topClasses } from '../../src/runtime/index.js';
import { longestRow } from '../../src/runtime/sequence-buckets.js';
import { InferenceServer } from '../../src/serve/server.js';
import { maxDiff, metric, TEXT_TOKENS, TEXTS, writeTinyArtifact, writeTinyTransformerArtifact } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'graduate-serve-text-'));
const artifact = writeTinyTransformerArtifact(dir);
writeTinyArtifact(dir); // 'tiny', an image model beside it

type Json = {
  // biome-ignore lint/suspicious/noExplicitAny: response JSON is inspected field by field
  [k: string]: any;
};
async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: body instanceof Uint8Array ? Buffer.from(body) : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Json };
}

describe('graduate serve: a text model', () => {
  let server: InferenceServer;
  let local: InferenceModel;
  let engine: Engine;
  let infer: string;
  /** The runtime's logits of each text alone, padded to maxTokens (the full-length graph). */
  const alone = (t: string) => local.session.run(local.prepareText([t]), 1);
  const bytes = (texts: string[], name = 'text') => ({
    inputs: [{ name, datatype: 'BYTES', shape: [texts.length], data: texts }],
  });

  beforeAll(async () => {
    server = await InferenceServer.start(dir, { port: 0, workers: 1, maxBatch: 16, maxDelayMs: 40, maxTextBytes: 200 });
    infer = `${server.url}/v2/models/spam/infer`;
    engine = Engine.create({ threads: 1 });
    local = await loadArtifact(artifact, { engine, maxBatch: 16 });
  });
  afterAll(async () => {
    await server?.close();
    local?.dispose();
    engine?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('metadata lists the BYTES input beside the token ids, with the tokenizer and the bounds', async () => {
    const meta = (await (await fetch(`${server.url}/v2/models/spam`)).json()) as Json;
    expect(meta.inputs).toEqual([
      { name: 'input', datatype: 'INT32', shape: [-1, TEXT_TOKENS] },
      { name: 'text', datatype: 'BYTES', shape: [-1] },
    ]);
    expect(meta.parameters).toMatchObject({
      input_kind: 'text',
      text_tokenizer: 'bpe',
      text_max_tokens: TEXT_TOKENS,
      text_max_bytes: 200,
    });
    expect(meta.parameters.text_inputs.join('\n')).toMatch(
      /input 'text' \(or 'input'\) BYTES \[texts\]: UTF-8 strings/,
    );
  });

  it('the model runs a batch at its longest text: 16 tokens for short texts, 24 for the long one', () => {
    expect(local.sequences?.refusal).toBeUndefined();
    const lengths = TEXTS.map((t) => longestRow(local.prepareText([t]), 1, TEXT_TOKENS));
    expect(lengths.map((n) => local.sequences?.lengthFor(n))).toEqual(lengths.map((n) => (n <= 16 ? 16 : 24)));
    expect(lengths.some((n) => n <= 16) && lengths.some((n) => n > 16)).toBe(true);
  });

  it('BYTES texts (JSON; under either name) answer the runtime on each text alone, in one batch', async () => {
    for (const name of ['text', 'input']) {
      const r = await post(infer, { id: 'q', ...bytes(TEXTS, name), parameters: { top_k: 2 } });
      expect(r.status, JSON.stringify(r.json).slice(0, 300)).toBe(200);
      const [logits, labels] = r.json.outputs;
      expect(logits).toMatchObject({ name: 'logits', datatype: 'FP32', shape: [TEXTS.length, 2] });
      const want = TEXTS.map(alone);
      expect(maxDiff(logits.data, Float32Array.from(want.flatMap((w) => Array.from(w))))).toBeLessThan(1e-5);
      expect(labels.data).toEqual(
        want.flatMap((w) =>
          topClasses(w, ['ham', 'spam'], 2).map((t) => `${t.score.toFixed(6)}:${t.index}:${t.label}`),
        ),
      );
    }
    // [texts, 1] with one string per row, too
    const r = await post(infer, {
      inputs: [{ name: 'text', datatype: 'BYTES', shape: [2, 1], data: [[TEXTS[2]], [TEXTS[0]]] }],
    });
    expect(r.status).toBe(200);
    expect(maxDiff(r.json.outputs[0].data, Float32Array.from([...alone(TEXTS[2]), ...alone(TEXTS[0])]))).toBeLessThan(
      1e-5,
    );
  });

  it('binary BYTES data (uint32 length + UTF-8 per element) and the int32 token-id tensor answer the same', async () => {
    const parts = TEXTS.slice(0, 3).flatMap((t) => {
      const b = Buffer.from(t, 'utf8');
      const n = Buffer.alloc(4);
      n.writeUInt32LE(b.length);
      return [n, b];
    });
    const data = Buffer.concat(parts);
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'text', datatype: 'BYTES', shape: [3], parameters: { binary_data_size: data.length } }],
      }),
    );
    const r = await post(infer, new Uint8Array(Buffer.concat([header, data])), {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(header.length),
    });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const want = Float32Array.from(TEXTS.slice(0, 3).flatMap((t) => Array.from(alone(t))));
    expect(maxDiff(r.json.outputs[0].data, want)).toBeLessThan(1e-5);
    const ids = Array.from(local.prepareText(TEXTS.slice(0, 3)));
    const t = await post(infer, { inputs: [{ name: 'input', datatype: 'INT32', shape: [3, TEXT_TOKENS], data: ids }] });
    expect(t.status).toBe(200);
    expect(maxDiff(t.json.outputs[0].data, want)).toBeLessThan(1e-5);
  });

  it('concurrent requests of short and long texts share batches and each answers as alone', async () => {
    const batches = () => metric(server, 'graduate_batches_total{model="spam",version="1"}');
    const before = await batches();
    const rs = await Promise.all(TEXTS.map((t) => post(infer, bytes([t]))));
    const after = await batches();
    expect(before).toBeGreaterThan(0); // the earlier tests' batches: the metric is there
    expect(after - before).toBeGreaterThan(0);
    expect(after - before).toBeLessThan(TEXTS.length);
    rs.forEach((r, i) => {
      expect(r.status).toBe(200);
      expect(maxDiff(r.json.outputs[0].data, alone(TEXTS[i]))).toBeLessThan(1e-5);
    });
  });

  it('bad texts are 400s naming the problem', async () => {
    const cases: [unknown, RegExp][] = [
      [bytes(['ok', 7 as unknown as string]), /input 'text': data\[1\] is 7, not a string/],
      [
        bytes(['é'.repeat(101)]),
        /input 'text': data\[0\]: 202 bytes of UTF-8, over the limit of 200 bytes per text \(--max-text-bytes raises it\)/,
      ],
      [
        { inputs: [{ name: 'text', datatype: 'BYTES', shape: [3], data: ['a', 'b'] }] },
        /"data" has 2 values; shape \[3\] needs 3 strings/,
      ],
      [
        { inputs: [{ name: 'text', datatype: 'BYTES', shape: [2, 2], data: ['a', 'b', 'c', 'd'] }] },
        /shape \[2, 2\] is not \[texts\] or \[texts, 1\]/,
      ],
      [
        { inputs: [{ name: 'text', datatype: 'FP32', shape: [1], data: [1] }] },
        /datatype "FP32" is not accepted; texts are BYTES/,
      ],
      [
        { inputs: [{ name: 'words', datatype: 'BYTES', shape: [1], data: ['a'] }] },
        /unknown input 'words'.*or 'text' BYTES \[texts\]: strings/,
      ],
    ];
    for (const [body, message] of cases) {
      const r = await post(infer, body);
      expect(r.status, JSON.stringify(r.json)).toBe(400);
      expect(r.json.error).toMatch(message);
    }
    // an image model takes no texts
    const r = await post(`${server.url}/v2/models/tiny/infer`, bytes(['hi']));
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/unknown input 'text'/);
  });
});
