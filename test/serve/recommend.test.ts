// `graduate serve` with recommendation models (graduated mf and two-tower fixtures): BYTES user ids
// and/or histories in, item ids, titles and scores out — equal to the runtime's recommend() on the
// same requests; concurrent requests share batches; a cold user with a history gets items, one with
// nothing the labelled fallback; metadata says what the model takes; bad requests are 400s naming
// the problem (unknown item ids, shapes, k).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InferenceModel, loadArtifact } from '../../src/runtime/index.js';
import { recommendBatch, recommendMeta } from '../../src/runtime/recommend.js';
import { InferenceServer } from '../../src/serve/server.js';
import { init } from '../../src/tensor/context.js';
import { manualSeed } from '../../src/tensor/random.js';
import { fixtureWithUntrainedItem, graduatedFixture } from '../recsys/trained-fixture.js';
import { metric } from './fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'graduate-serve-recommend-'));
const repo = join(tmp, 'models');
const local: Record<string, InferenceModel> = {};

type Json = {
  // biome-ignore lint/suspicious/noExplicitAny: response JSON is inspected field by field
  [k: string]: any;
};
async function post(url: string, body: unknown) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Json };
}
const users = (ids: string[]) => ({ name: 'user_id', datatype: 'BYTES', shape: [ids.length], data: ids });
const histories = (rows: string[][]) => {
  const M = Math.max(1, ...rows.map((r) => r.length));
  return {
    name: 'history',
    datatype: 'BYTES',
    shape: [rows.length, M],
    data: rows.map((r) => [...r, ...Array(M - r.length).fill('')]),
  };
};

let server: InferenceServer;
beforeAll(async () => {
  init({ threads: 1 });
  manualSeed(3);
  const data = fixtureWithUntrainedItem(join(tmp, 'data'));
  mkdirSync(repo);
  for (const preset of ['mf', 'two-tower'] as const) {
    const { bytes, loaded } = graduatedFixture(data, join(tmp, preset), preset);
    loaded.model.dispose();
    writeFileSync(join(repo, `${preset}.grad`), bytes);
    local[preset] = await loadArtifact(bytes);
  }
  server = await InferenceServer.start(repo, { port: 0, workers: 1, maxBatch: 16, maxDelayMs: 30 });
}, 120_000);
afterAll(async () => {
  await server?.close();
  for (const m of Object.values(local)) m.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

describe.each(['mf', 'two-tower'])('serve a recommendation model (%s)', (preset) => {
  const infer = () => `${server.url}/v2/models/${preset}/infer`;

  it('metadata: BYTES user ids and histories in; item ids, titles, scores out', async () => {
    const meta = (await (await fetch(`${server.url}/v2/models/${preset}`)).json()) as Json;
    const k = recommendMeta(local[preset].graph).k;
    expect(meta.inputs).toEqual([
      { name: 'user_id', datatype: 'BYTES', shape: [-1] },
      { name: 'history', datatype: 'BYTES', shape: [-1, -1] },
    ]);
    expect(meta.outputs.map((o: Json) => [o.name, o.datatype, o.shape])).toEqual([
      ['item_ids', 'BYTES', [-1, k]],
      ['titles', 'BYTES', [-1, k]],
      ['scores', 'FP32', [-1, k]],
    ]);
    expect(meta.parameters).toMatchObject({ input_kind: 'recommend', recommend_preset: preset, recommend_k: k });
  });

  it('known users, a cold user with a history and one with nothing: as recommend() gives them', async () => {
    const meta = recommendMeta(local[preset].graph);
    const [u0, u1] = meta.userIds;
    const liked = meta.itemIds.slice(0, 3);
    const r = await post(infer(), {
      id: 'req-1',
      inputs: [users([u0, 'nobody-1', u1, 'nobody-2']), histories([[], liked, [], []])],
      parameters: { k: 4 },
    });
    expect(r.status).toBe(200);
    const want = recommendBatch(local[preset], [
      { user: u0, history: [], k: 4 },
      { user: 'nobody-1', history: liked, k: 4 },
      { user: u1, history: [], k: 4 },
      { user: 'nobody-2', history: [], k: 4 },
    ]);
    expect(r.json.id).toBe('req-1');
    const out = Object.fromEntries(r.json.outputs.map((o: Json) => [o.name, o]));
    expect(out.item_ids.shape).toEqual([4, 4]);
    expect(out.item_ids.data).toEqual(want.flatMap((w) => w.items.map((i) => i.id)));
    expect(out.titles.data).toEqual(want.flatMap((w) => w.items.map((i) => i.title ?? '')));
    expect(out.scores.data).toEqual(want.flatMap((w) => w.items.map((i) => i.score)));
    expect(r.json.parameters.basis).toEqual(['user', 'history', 'user', 'fallback']);
    expect(r.json.parameters.fallback).toBe(meta.fallback);
    // the cold user's liked items are not recommended back
    for (const id of out.item_ids.data.slice(4, 8)) expect(liked).not.toContain(id);
  });

  it('concurrent single-user requests share batches and each answers as alone', async () => {
    const ids = recommendMeta(local[preset].graph).userIds.slice(0, 6);
    const batches = () => metric(server, `graduate_batches_total{model="${preset}",version="1"}`);
    const before = await batches();
    const rs = await Promise.all(ids.map((u) => post(infer(), { inputs: [users([u])] })));
    const after = await batches();
    expect(after - before).toBeGreaterThan(0);
    expect(after - before).toBeLessThan(ids.length);
    rs.forEach((r, i) => {
      expect(r.status).toBe(200);
      const [want] = recommendBatch(local[preset], [{ user: ids[i] }]);
      expect(r.json.outputs[0].data).toEqual(want.items.map((x) => x.id));
    });
  });

  it('bad requests are 400s naming the problem', async () => {
    const cases: [unknown, RegExp][] = [
      [{ inputs: [histories([['no-such-item']])] }, /unknown item id 'no-such-item'/],
      [{ inputs: [{ name: 'user_id', datatype: 'INT32', shape: [1], data: [1] }] }, /ids are BYTES/],
      [{ inputs: [users(['1'])], parameters: { k: 99 } }, /k must be an integer in \[1, 5\]/],
      [{ inputs: [{ name: 'items', datatype: 'BYTES', shape: [1], data: ['1'] }] }, /unknown input 'items'/],
      [{ inputs: [users(['1', '2']), histories([[]])] }, /'history' has 1 rows for 2 users/],
      [{ inputs: [] }, /missing input/],
    ];
    for (const [body, message] of cases) {
      const r = await post(infer(), body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error).toMatch(message);
    }
  });
});
