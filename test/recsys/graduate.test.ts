// Graduation of recommendation models (src/recsys/graduate.ts) on small models trained on the
// synthetic fixture: the float graph scores as the parent (mf ⟨p, q⟩ + b_i from the weights;
// two-tower the parent's own towers), its top-K is a brute-force sort of those scores less the
// training items; cold users are scored from their history as the parent would; rows never trained
// are pruned and never returned; int8 stays within the gate, and the gate sees a broken graph.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { loadInteractionData } from '../../src/data/interactions.js';
import type { Graph } from '../../src/graph/ir.js';
import type { LoadedRecsys } from '../../src/recsys/checkpoint.js';
import {
  compileRecsys,
  gateMetrics,
  quantizeRecommendGraph,
  type RecommendMeta,
  recommendGraph,
  recordedSplit,
  requestInputs,
  scoringGraph,
  userVectorRange,
} from '../../src/recsys/graduate.js';
import { MatrixFactorization, type TwoTower } from '../../src/recsys/models.js';
import type { RecsysTrainConfig } from '../../src/recsys/train.js';
import { Session } from '../../src/runtime/session.js';
import { engine, init, shutdown } from '../../src/tensor/context.js';
import { manualSeed } from '../../src/tensor/random.js';
import { tidy } from '../../src/tensor/scope.js';
import { FIXTURE, fixtureWithUntrainedItem, trainedFixture } from './trained-fixture.js';

const tmp = mkdtempSync(join(tmpdir(), 'graduate-recsys-grad-'));
const DATA = join(tmp, 'data');

beforeAll(() => {
  init({ threads: 1 });
  manualSeed(5);
  fixtureWithUntrainedItem(DATA);
});
afterAll(() => {
  shutdown();
  rmSync(tmp, { recursive: true, force: true });
});

const loadedRuns: LoadedRecsys[] = [];
afterAll(() => {
  for (const l of loadedRuns) l.model.dispose();
});

function trained(name: string, preset: 'mf' | 'two-tower', over: Partial<RecsysTrainConfig> = {}): LoadedRecsys {
  const l = trainedFixture(DATA, join(tmp, name), preset, over);
  loadedRuns.push(l);
  return l;
}

const f32 = (t: { data(): unknown }) => t.data() as Float32Array;

/** The parent's scores of (parent) users over all items: mf ⟨p, q⟩ + b_i; two-tower its towers. [B, I] */
function parentScores(l: LoadedRecsys, users: Int32Array, history?: Int32Array): Float32Array {
  const m = l.model;
  const I = l.config.model.numItems;
  if (m instanceof MatrixFactorization) {
    const d = m.recsysSpec.dim;
    const [P, Q, b] = [f32(m.user.weight), f32(m.item.weight), f32(m.itemBias.weight)];
    const out = new Float32Array(users.length * I);
    users.forEach((u, r) => {
      for (let i = 0; i < I; i++) {
        let s = b[i];
        for (let c = 0; c < d; c++) s += P[u * d + c] * Q[i * d + c];
        out[r * I + i] = s;
      }
    });
    return out;
  }
  const t = m as TwoTower;
  const all = Int32Array.from({ length: I }, (_, i) => i);
  return noGrad(() => tidy(() => f32(t.score(t.userVectors(users, history), t.itemVectors(all))).slice()));
}

/** The graph's full scores (scoringGraph) for kept users, as parent item columns (pruned: NaN). */
function graphScores(l: LoadedRecsys, g: Graph, rg: ReturnType<typeof recommendGraph>, users: Int32Array) {
  const meta = g.meta.recommend as RecommendMeta;
  const s = new Session(scoringGraph(g), { engine: engine() });
  const x = requestInputs(
    meta,
    Int32Array.from(users, (u) => rg.userMap[u]),
  );
  const [y] = s.runAll([x.user, x.history], users.length);
  s.dispose();
  const I = l.config.model.numItems;
  const Ik = meta.itemIds.length;
  return Float32Array.from({ length: users.length * I }, (_, k) => {
    const j = rg.itemMap[k % I];
    return j < 0 ? Number.NaN : y[Math.floor(k / I) * Ik + j];
  });
}

/** Brute force: the k best kept items of a score row, leaving out `skip`, ties to the lower index. */
function bruteTopK(row: ArrayLike<number>, skip: Set<number>, k: number): number[] {
  return Array.from({ length: row.length }, (_, i) => i)
    .filter((i) => !skip.has(i) && !Number.isNaN(row[i]))
    .sort((a, b) => row[b] - row[a] || a - b)
    .slice(0, k);
}

const allUsers = (l: LoadedRecsys) => Int32Array.from({ length: l.config.model.numUsers }, (_, u) => u);

describe.each([
  ['mf', 'mf', {}],
  ['two-tower (shared item table, item bias)', 'two-tower', {}],
  ['two-tower (own history table)', 'two-tower', { shareItemTable: false, itemBias: false, sequential: false }],
] as const)('graduated %s', (name, preset, over) => {
  let l: LoadedRecsys;
  let rg: ReturnType<typeof recommendGraph>;
  beforeAll(() => {
    l = trained(name.replace(/\W+/g, '-'), preset, over as Partial<RecsysTrainConfig>);
    rg = recommendGraph(l, { k: 5 });
  });

  it('float graph: the parent scores of every kept item, for every user', () => {
    const users = allUsers(l);
    const want = parentScores(l, users);
    const got = graphScores(l, rg.graph, rg, users);
    let checked = 0;
    for (let k = 0; k < want.length; k++) {
      if (Number.isNaN(got[k])) continue;
      expect(Math.abs(got[k] - want[k])).toBeLessThan(1e-4 * Math.max(1, Math.abs(want[k])));
      checked++;
    }
    expect(checked).toBe(users.length * rg.pruned.items.kept);
  });

  it("top-K: the parent's ranking less the training items; exactly a brute-force sort of the graph's scores", () => {
    const meta = rg.graph.meta.recommend as RecommendMeta;
    const users = allUsers(l);
    const x = requestInputs(
      meta,
      Int32Array.from(users, (u) => rg.userMap[u]),
    );
    const s = new Session(rg.graph, { engine: engine() });
    const [items, scores] = s.runAll([x.user, x.history, x.exclude], users.length);
    s.dispose();
    const full = graphScores(l, rg.graph, rg, users);
    const parent = parentScores(l, users);
    const I = l.config.model.numItems;
    const kept = Array.from(rg.itemMap.keys()).filter((i) => rg.itemMap[i] >= 0);
    for (const u of users) {
      const seen = new Set(l.history.items.subarray(l.history.offsets[u], l.history.offsets[u + 1]));
      const got = Array.from(items.subarray(u * 5, u * 5 + 5), (j) => kept[j]);
      // the graph's own scores: exact
      expect(got).toEqual(bruteTopK(full.subarray(u * I, (u + 1) * I), seen, 5));
      expect(Array.from(scores.subarray(u * 5, u * 5 + 5))).toEqual(got.map((i) => full[u * I + i]));
      // the parent's: the same scores position by position (a near-tie may swap two items)
      const pruned = new Set(kept.length === I ? [] : [...Array(I).keys()].filter((i) => rg.itemMap[i] < 0));
      const ref = bruteTopK(parent.subarray(u * I, (u + 1) * I), new Set([...seen, ...pruned]), 5);
      ref.forEach((i, j) => {
        expect(Math.abs(parent[u * I + got[j]] - parent[u * I + i])).toBeLessThan(1e-4);
      });
      for (const i of got) expect(seen.has(i)).toBe(false);
    }
  });

  it('prunes the item never trained: not in the graph, never returned, listed in the meta', () => {
    const meta = rg.graph.meta.recommend as RecommendMeta;
    const untrained = l.config.itemIds.indexOf('999999');
    expect(rg.itemMap[untrained]).toBe(-1);
    expect(rg.pruned.items.of - rg.pruned.items.kept).toBeGreaterThanOrEqual(1);
    expect(meta.itemIds).not.toContain('999999');
    expect(meta.prunedItemIds).toContain('999999');
    expect(rg.graph.constants['items.weight'].shape).toEqual([rg.pruned.items.kept, l.config.model.dim]);
  });

  it('the scan reads the item matrix [I, d] by rows (transB); mf holds its item table once, for scan and bag', () => {
    const scan = rg.graph.nodes.find((n) => n.name === 'scores.all');
    expect(scan?.op === 'linear' && scan.attrs.transB).toBe(true);
    expect(scan?.inputs[1]).toBe('items.weight');
    const readers = rg.graph.nodes.filter((n) => n.inputs.includes('items.weight')).map((n) => n.op);
    // mf: the cold start's bag and the scan; two-tower: the scan alone (its bag reads the raw item table)
    expect(readers.sort()).toEqual(preset === 'mf' ? ['embeddingbag', 'linear'] : ['linear']);
    if (preset === 'mf') {
      const d = l.config.model.dim;
      const itemTables = Object.values(rg.graph.constants).filter(
        (c) => c.shape.join() === `${rg.pruned.items.kept},${d}`,
      );
      expect(itemTables).toHaveLength(1);
    }
  });

  it('a cold user (unknown, with a history) is scored from the history as the parent would', () => {
    const meta = rg.graph.meta.recommend as RecommendMeta;
    const I = l.config.model.numItems;
    const H = meta.historyLength;
    // user 3's most recent training items, then its oldest, as the history of an unknown user
    for (const oldest of [false, true]) {
      const [from, to] = [l.history.offsets[3], l.history.offsets[4]];
      const h = oldest
        ? l.history.items.subarray(from, Math.min(to, from + H))
        : l.history.items.subarray(Math.max(from, to - H), to);
      const row = new Int32Array(H).fill(-1);
      row.set(h);
      let want: Float32Array;
      if (l.model instanceof MatrixFactorization) {
        const d = l.config.model.dim;
        const [Q, b] = [f32(l.model.item.weight), f32(l.model.itemBias.weight)];
        const p = new Float64Array(d);
        for (const i of h) for (let c = 0; c < d; c++) p[c] += Q[i * d + c] / h.length;
        want = Float32Array.from({ length: I }, (_, i) => p.reduce((s, v, c) => s + v * Q[i * d + c], b[i]));
      } else want = parentScores(l, Int32Array.of(-1), row);
      const s = new Session(scoringGraph(rg.graph), { engine: engine() });
      const [y] = s.runAll([Int32Array.of(-1), Int32Array.from(row, (i) => (i < 0 ? -1 : rg.itemMap[i]))], 1);
      s.dispose();
      for (let i = 0; i < I; i++) {
        const j = rg.itemMap[i];
        if (j >= 0) expect(Math.abs(y[j] - want[i])).toBeLessThan(1e-4 * Math.max(1, Math.abs(want[i])));
      }
    }
  });

  it('int8: tables int8 per row, the scan int8 per item; within the gate; the gate sees a broken graph', () => {
    const data = loadInteractionData(DATA);
    const { graph, report } = compileRecsys(l, data, { quantize: 'int8', k: 5, maxMetricDrop: 50, engine: engine() });
    expect(graph.constants['items.weight'].dtype).toBe('int8');
    // one scale per item = per row: the record the int8 bag (mf) and the transB scan both read
    expect(graph.constants['items.weight'].quant?.scale).toHaveLength(rg.pruned.items.kept);
    expect(graph.constants['items.weight'].quant?.axis).toBe(0);
    if (preset === 'mf') expect(graph.constants['history.table']).toBeUndefined();
    expect(graph.constants['user.table'].dtype).toBe('int8');
    expect(report.modelBytes).toBeLessThan(report.parentBytes);
    expect(report.metric.dropPercent).toBeLessThanOrEqual(50);
    const d = recordedSplit(l, data);
    const sane = gateMetrics(l, rg, rg.graph, d, engine());
    // float32: the parent's metric but for the test row of the pruned item (the parent scores it
    // with its untrained initial row, the graph not at all)
    expect(Math.abs(sane.dropPercent)).toBeLessThan(0.5);
    // the scan turned around and magnified: the worst items first, ratings far off
    const broken = quantizeRecommendGraph(rg.graph, 'none', [0, 0]);
    broken.constants = { ...broken.constants };
    for (const name of ['items.weight', 'items.bias']) {
      const c = broken.constants[name];
      if (c) broken.constants[name] = { ...c, data: (c.data as Float32Array).map((v) => -5 * v) };
    }
    expect(gateMetrics(l, rg, broken, d, engine()).dropPercent).toBeGreaterThan(2);
  });

  it('fp16: half-float tables, the same top-K scores within half precision', () => {
    const g = quantizeRecommendGraph(rg.graph, 'fp16', userVectorRange(rg.graph, engine()));
    expect(g.constants['items.weight'].dtype).toBe('float16');
    const users = allUsers(l);
    const a = graphScores(l, rg.graph, rg, users);
    const b = graphScores(l, g, rg, users);
    // half precision of the tables: errors of about 2^-11 of the scores' scale
    const scale = a.reduce((m, v) => (Number.isNaN(v) ? m : Math.max(m, Math.abs(v))), 0);
    for (let k = 0; k < a.length; k++)
      if (!Number.isNaN(a[k])) expect(Math.abs(a[k] - b[k])).toBeLessThan(0.005 * scale);
  });
});

describe('graduation errors', () => {
  it('refuses data whose split is not the one the model was trained on, and a drop over the gate', () => {
    const l = trained('mf-gate', 'mf', { epochs: 1 });
    expect(() => recordedSplit(l, loadInteractionData(FIXTURE))).toThrow(/items \(60\) are not the 61/);
    expect(() => recommendGraph(l, { k: 0 })).toThrow(/k must be an integer in \[1, 60\]/);
    expect(() => recommendGraph(l, { excludeLength: 1 })).toThrow(/shorter than the longest training history/);
    expect(() =>
      compileRecsys(l, loadInteractionData(DATA), { quantize: 'int8', maxMetricDrop: -1, engine: engine() }),
    ).toThrow(/--max-metric-drop must be a number ≥ 0/);
  });
});

describe('graduated two-tower with its own history table, trained sequentially', () => {
  it("keeps the bag row of every item some training window read, not only users' last H", () => {
    // sequential training's bag reads the H items before each training row, so every training
    // item but a user's latest is read; keeping only the rows of the last H (a review's find) lost
    // rows a cold user's older items need
    const l = trained('own-table-sequential', 'two-tower', {
      shareItemTable: false,
      itemBias: false,
      historyLength: 3,
    });
    const rg = recommendGraph(l, { k: 5 });
    const kept = new Set(
      Array.from({ length: l.config.model.numItems }, (_, i) => i).filter((i) => rg.itemMap[i] >= 0),
    );
    const trainedItems = new Set(Array.from(l.history.items).filter((i) => kept.has(i)));
    expect(rg.pruned.bagRows?.kept).toBe(trainedItems.size);
    // and a cold user whose history is user 3's OLDEST items scores as the parent does
    const H = 3;
    const [from, to] = [l.history.offsets[3], l.history.offsets[4]];
    expect(to - from).toBeGreaterThan(H);
    const row = Int32Array.from(l.history.items.subarray(from, from + H));
    const want = parentScores(l, Int32Array.of(-1), row);
    const s = new Session(scoringGraph(rg.graph), { engine: engine() });
    const [y] = s.runAll([Int32Array.of(-1), Int32Array.from(row, (i) => rg.itemMap[i])], 1);
    s.dispose();
    for (let i = 0; i < l.config.model.numItems; i++) {
      const j = rg.itemMap[i];
      if (j >= 0) expect(Math.abs(y[j] - want[i])).toBeLessThan(1e-4 * Math.max(1, Math.abs(want[i])));
    }
  });
});
