// runtime/recommend.ts on graduated artifacts of small fixture models (mf and two-tower), loaded as
// a client would (loadArtifact): external ids in and out, a known user's training items and the
// given history never returned, cold users answered from their history, the fallback labelled,
// batch = one by one, and bad requests / artifacts refused with messages that name the problem.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError, ValueError } from '../../src/errors.js';
import { readArtifact, writeArtifact } from '../../src/graph/artifact.js';
import { type InferenceModel, loadArtifact } from '../../src/runtime/index.js';
import { recommend, recommendBatch, recommendMeta } from '../../src/runtime/recommend.js';
import { init, shutdown } from '../../src/tensor/context.js';
import { manualSeed } from '../../src/tensor/random.js';
import { fixtureWithUntrainedItem, graduatedFixture } from '../recsys/trained-fixture.js';

const tmp = mkdtempSync(join(tmpdir(), 'graduate-recommend-'));
const models: Record<string, InferenceModel> = {};
/** Each fixture user's training items (external ids), from the checkpoint. */
const seen: Record<string, Map<string, Set<string>>> = {};

beforeAll(async () => {
  init({ threads: 1 });
  manualSeed(7);
  const data = fixtureWithUntrainedItem(join(tmp, 'data'));
  for (const preset of ['mf', 'two-tower'] as const) {
    const { bytes, loaded: l } = graduatedFixture(data, join(tmp, preset), preset);
    const { config, history } = l;
    seen[preset] = new Map(
      config.userIds.map((id, u) => [
        id,
        new Set(
          Array.from(history.items.subarray(history.offsets[u], history.offsets[u + 1]), (i) => config.itemIds[i]),
        ),
      ]),
    );
    l.model.dispose();
    models[preset] = await loadArtifact(bytes);
  }
});
afterAll(() => {
  for (const m of Object.values(models)) m.dispose();
  shutdown();
  rmSync(tmp, { recursive: true, force: true });
});

describe.each(['mf', 'two-tower'])('recommend (%s)', (preset) => {
  it("a known user: K distinct catalogue items, best first, none of the user's training items", () => {
    const m = models[preset];
    const meta = recommendMeta(m.graph);
    for (const [user, items] of seen[preset]) {
      const r = recommend(m, { user });
      expect(r.basis).toBe('user');
      expect(r.items).toHaveLength(5);
      const ids = r.items.map((it) => it.id);
      expect(new Set(ids).size).toBe(5);
      for (const id of ids) {
        expect(items.has(id)).toBe(false);
        expect(meta.itemIds).toContain(id);
        expect(id).not.toBe('999999'); // pruned: never trained, never returned
      }
      const scores = r.items.map((it) => it.score);
      expect(scores).toEqual([...scores].sort((a, b) => b - a));
      expect(r.items[0].title).toMatch(/\(\d{4}\)$/); // a MovieLens-style title
    }
  });

  it('the given history is left out too; k takes the first k', () => {
    const m = models[preset];
    const all = recommend(m, { user: '1' });
    const given = [all.items[0].id, all.items[2].id];
    const r = recommend(m, { user: '1', history: given, k: 3 });
    expect(r.items).toHaveLength(3);
    for (const it of r.items) expect(given).not.toContain(it.id);
    expect(recommend(m, { user: '1', k: 2 }).items).toEqual(all.items.slice(0, 2));
  });

  it('a cold user (unknown id, a history) gets recommendations from the history, not an error', () => {
    const m = models[preset];
    const history = [...(seen[preset].get('2') as Set<string>)].slice(0, 4);
    const r = recommend(m, { user: 'someone-new', history });
    expect(r.basis).toBe('history');
    expect(r.user).toBe('someone-new');
    expect(r.items).toHaveLength(5);
    for (const it of r.items) expect(history).not.toContain(it.id);
    // the answer depends on the history: another user's items give another list
    const other = recommend(m, { history: [...(seen[preset].get('30') as Set<string>)].slice(0, 4) });
    expect(other.items.map((it) => it.id)).not.toEqual(r.items.map((it) => it.id));
  });

  it('nothing known: the fallback, labelled; a pruned item in a history is reported and left out', () => {
    const m = models[preset];
    const r = recommend(m, { user: 'nobody' });
    expect(r.basis).toBe('fallback');
    expect(r.note).toMatch(/no known user and no history/);
    expect(r.items).toHaveLength(5);
    const p = recommend(m, { history: ['999999'] });
    expect(p.basis).toBe('fallback');
    expect(p.ignored).toEqual(['999999']);
  });

  it('a batch answers as one request at a time', () => {
    const m = models[preset];
    const reqs = [{ user: '1' }, { user: 'x', history: ['10', '20'] }, {}, { user: '5', k: 1 }];
    expect(recommendBatch(m, reqs)).toEqual(reqs.map((q) => recommend(m, q)));
    expect(recommendBatch(m, [])).toEqual([]);
  });

  it('refuses unknown history ids (named), k out of range, too many items to leave out', () => {
    const m = models[preset];
    expect(() => recommend(m, { user: '1', history: ['10', 'no-such', '777'] })).toThrow(
      /history: unknown item ids 'no-such', '777' \(not in the model's catalogue\)/,
    );
    expect(() => recommend(m, { user: '1', k: 6 })).toThrow(/k must be an integer in \[1, 5\]/);
    expect(() => recommend(m, { user: '1', k: 0 })).toThrow(ValueError);
    expect(() => recommendBatch(m, [{}, { k: 1.5 }])).toThrow(/request 1: k must be an integer/);
    const meta = recommendMeta(m.graph);
    const many = meta.itemIds.slice(0, meta.excludeLength + 1);
    expect(() => recommend(m, { history: many })).toThrow(/more than the \d+ this model takes/);
  });
});

describe('recommendation artifacts', () => {
  it('a graph without meta.recommend is not a recommendation model; a damaged meta is named', () => {
    const g = readArtifact(writeArtifact(models.mf.graph));
    expect(() => recommendMeta({ ...g, meta: { ...g.meta, recommend: undefined } }, 'm.grad')).toThrow(
      /m.grad: not a recommendation model/,
    );
    const rec = g.meta.recommend as Record<string, unknown>;
    const bad = (over: Record<string, unknown>) => ({ ...g, meta: { ...g.meta, recommend: { ...rec, ...over } } });
    expect(() => recommendMeta(bad({ itemIds: ['1'] }), 'm.grad')).toThrow(FormatError);
    expect(() => recommendMeta(bad({ k: 3 }), 'm.grad')).toThrow(/meta.recommend: k must be an integer in \[5, 5\]/);
    expect(() => recommendMeta(bad({ history: { offsets: [0], items: [] } }), 'm.grad')).toThrow(/history.offsets/);
  });
});
