// ONNX export of a recommendation model's towers (src/recsys/export-onnx.ts), checked by ONNX
// Runtime: small two-towers (the preset's shared item table + item bias + normalisation; an own
// history table, no bias, no normalisation) and an mf trained on the synthetic fixture (with an
// item that never trains: the towers, from the parent's weights, keep it unpruned) are
// exported, both towers run in onnxruntime-node on int64 ids, and user_vector · item_vectorᵀ must
// equal the parent model's own scores (two-tower: score(userVectors, itemVectors); mf: the
// unclipped prediction) within 1e-4 — on histories of every length from empty to full, -1 padded,
// and for an unknown user (-1). The graphs use only standard ONNX ops. Also the CLI: export
// --towers writes both files and the id maps, and refuses what it cannot export.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { onnx } from '../../src/onnx/proto.js';
import type { LoadedRecsys } from '../../src/recsys/checkpoint.js';
import { exportTowers, type TowersIndex, towersIndex } from '../../src/recsys/export-onnx.js';
import { fromArray, type MatrixFactorization, type TwoTower } from '../../src/recsys/models.js';
import type { RecsysTrainConfig } from '../../src/recsys/train.js';
import { init, shutdown } from '../../src/tensor/context.js';
import { manualSeed, Rng } from '../../src/tensor/random.js';
import { tidy } from '../../src/tensor/scope.js';
import { cli } from '../cli/run.js';
import { fixtureWithUntrainedItem, trainedFixture } from './trained-fixture.js';

const tmp = mkdtempSync(join(tmpdir(), 'graduate-recsys-onnx-'));
const DATA = join(tmp, 'data');
const loadedRuns: LoadedRecsys[] = [];
beforeAll(() => {
  init({ threads: 1 });
  manualSeed(3);
  fixtureWithUntrainedItem(DATA);
});
afterAll(() => {
  for (const l of loadedRuns) l.model.dispose();
  shutdown();
  rmSync(tmp, { recursive: true, force: true });
});

/** A few epochs on the fixture (trained-fixture.ts: leave-last-out, dim 8), checkpointed to tmp/name and reloaded. */
function trained(name: string, preset: 'mf' | 'two-tower', over: Partial<RecsysTrainConfig> = {}): LoadedRecsys {
  const l = trainedFixture(DATA, join(tmp, name), preset, over);
  loadedRuns.push(l);
  return l;
}

const f32 = (t: { data(): unknown }) => t.data() as Float32Array;
const int64 = (a: ArrayLike<number>, dims: number[]) =>
  new ort.Tensor(
    'int64',
    BigInt64Array.from(Array.from(a), (v) => BigInt(v)),
    dims,
  );

/** Runs an ONNX model on named int64 inputs; the one output and its dims. */
async function ortRun(bytes: Uint8Array, feeds: Record<string, ort.Tensor>) {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  try {
    expect([...s.inputNames].sort()).toEqual(Object.keys(feeds).sort());
    const out = await s.run(feeds);
    const y = out[s.outputNames[0]];
    return { name: s.outputNames[0], data: y.data as Float32Array, dims: y.dims.map(Number) };
  } finally {
    await s.release();
  }
}

/** a [B, W] · b [N, W]ᵀ in float64. [B, N] */
function dots(a: Float32Array, b: Float32Array, W: number): Float64Array {
  const B = a.length / W;
  const N = b.length / W;
  const out = new Float64Array(B * N);
  for (let i = 0; i < B; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let c = 0; c < W; c++) s += a[i * W + c] * b[j * W + c];
      out[i * N + j] = s;
    }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const opTypes = (bytes: Uint8Array) => {
  const nodes = onnx.ModelProto.decode(bytes).graph?.node ?? [];
  expect(nodes.every((n) => !n.domain)).toBe(true); // the default (ai.onnx) domain only
  return new Set(nodes.map((n) => n.opType ?? ''));
};
const STANDARD = new Set([
  'Cast',
  'Max',
  'Gather',
  'Greater',
  'GreaterOrEqual',
  'Add',
  'Mul',
  'Div',
  'Sqrt',
  'Unsqueeze',
  'ReduceSum',
  'Concat',
  'MatMul',
  'Gemm',
  'Reshape',
  'Identity',
]);

/**
 * B users with histories of every fill from empty to full (random trained items, -1 padded at the
 * end or the start; row H, full, reads items 0 and I − 1), the last user unknown (-1) with a
 * non-empty history.
 */
function requests(l: LoadedRecsys, H: number, rng: Rng) {
  const { numUsers: U, numItems: I } = l.config.model;
  const B = H + 2;
  const users = Int32Array.from({ length: B }, (_, b) => (b === B - 1 ? -1 : rng.int(U)));
  const history = new Int32Array(B * H).fill(-1);
  for (let b = 0; b < B; b++) {
    const n = b === B - 1 ? Math.max(1, H >> 1) : Math.min(b, H);
    const start = b % 2 ? H - n : 0; // odd rows: padding first
    for (let k = 0; k < n; k++) history[b * H + start + k] = rng.int(I);
  }
  // the first and last rows of the table in a full history
  history[H * H] = 0;
  history[H * H + H - 1] = I - 1;
  return { users, history, B };
}

describe.each([
  ['the preset (shared item table, item bias, normalised, temperature 0.1)', {}],
  [
    'own history table, no item bias, not normalised, temperature 0.5',
    { shareItemTable: false, itemBias: false, normalize: false, temperature: 0.5 },
  ],
] as const)('two-tower towers: %s', (_name, over) => {
  let l: LoadedRecsys;
  let bytes: { user: Uint8Array; item: Uint8Array };
  let index: TowersIndex;
  beforeAll(() => {
    l = trained(`tt-${Object.keys(over).length}`, 'two-tower', { historyLength: 6, ...over });
    bytes = exportTowers(l);
    index = towersIndex(l);
  }, 60_000);

  it('user_vector · item_vectorᵀ from ONNX Runtime = the model’s scores (1e-4), cold and empty histories included', async () => {
    const m = l.model as TwoTower;
    const s = m.recsysSpec;
    const H = s.historyLength;
    const { users, history, B } = requests(l, H, new Rng(9));
    const I = s.numItems;
    const items = Int32Array.from({ length: I }, (_, i) => i);
    const G = index.genres?.length ?? 0;
    expect(G).toBe(s.genreLength);
    const genres = Int32Array.from((index.genres?.items ?? []).flat());
    const u = await ortRun(bytes.user, { user: int64(users, [B]), history: int64(history, [B, H]) });
    const v = await ortRun(bytes.item, { item: int64(items, [I]), genres: int64(genres, [I, G]) });
    const W = s.itemBias ? s.dim + 1 : s.dim;
    expect([u.name, u.dims]).toEqual(['user_vector', [B, W]]);
    expect([v.name, v.dims]).toEqual(['item_vector', [I, W]]);
    const want = noGrad(() => tidy(() => f32(m.score(m.userVectors(users, history), m.itemVectors(items))).slice()));
    const got = dots(u.data, v.data, W);
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
    // the scores are not all alike: the check would see a broken tower
    expect(Math.max(...want) - Math.min(...want)).toBeGreaterThan(0.1);
    // the empty history (row 0) and the cold user (last row) differ from a full history's row
    expect(maxAbsDiff(got.subarray(0, I), got.subarray(H * I, (H + 1) * I))).toBeGreaterThan(1e-3);
    if (s.normalize) {
      const norm = Math.hypot(...u.data.subarray(0, s.dim));
      expect(norm).toBeCloseTo(1, 5);
    }
    if (s.itemBias) for (let b = 0; b < B; b++) expect(u.data[b * W + s.dim]).toBe(1);
  });

  it('the graphs use standard ONNX ops only: Gather for the tables, MatMul/Gemm for the projections', () => {
    for (const b of [bytes.user, bytes.item]) {
      const ops = opTypes(b);
      for (const op of ops) expect(STANDARD, `op ${op}`).toContain(op);
      expect(ops.has('Gather')).toBe(true);
      expect(ops.has('MatMul') || ops.has('Gemm')).toBe(true);
      expect(ops.has('ReduceSum')).toBe(true); // the bags' masked mean
    }
    const meta = onnx.ModelProto.decode(bytes.user).metadataProps?.find((p) => p.key === 'recsys')?.value;
    expect(JSON.parse(meta ?? '{}')).toMatchObject({ preset: 'two-tower', tower: 'user' });
  });
});

describe('mf towers', () => {
  let l: LoadedRecsys;
  beforeAll(() => {
    l = trained('mf', 'mf', { epochs: 3, lr: 0.1 });
  }, 60_000);

  it('[p_u, b_u + mean, 1] · [q_i, 1, b_i] = the model’s prediction before clipping, an unknown user’s = mean + b_i', async () => {
    const m = l.model as MatrixFactorization;
    const { numUsers: U, numItems: I, dim: d } = m.recsysSpec;
    const users = Int32Array.from({ length: U + 1 }, (_, k) => (k === U ? -1 : k));
    const items = Int32Array.from({ length: I }, (_, i) => i);
    const bytes = exportTowers(l);
    const u = await ortRun(bytes.user, { user: int64(users, [U + 1]) });
    const v = await ortRun(bytes.item, { item: int64(items, [I]) });
    expect(u.dims).toEqual([U + 1, d + 2]);
    expect(v.dims).toEqual([I, d + 2]);
    const pairsU = Int32Array.from({ length: (U + 1) * I }, (_, k) => users[Math.floor(k / I)]);
    const pairsI = Int32Array.from({ length: (U + 1) * I }, (_, k) => k % I);
    const want = noGrad(() =>
      tidy(() => {
        const parts = m.parts(fromArray(pairsU, [pairsU.length]), fromArray(pairsI, [pairsI.length]));
        return f32(parts.pred).slice();
      }),
    );
    const got = dots(u.data, v.data, d + 2);
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
    // the unknown user: the mean plus the item's bias
    const bi = f32(m.itemBias.weight);
    const cold = Array.from(got.subarray(U * I), (x, i) => x - bi[i]);
    for (const x of cold) expect(x).toBeCloseTo(m.recsysSpec.globalMean, 4);
    expect(Math.max(...want) - Math.min(...want)).toBeGreaterThan(0.1);
    for (const b of [bytes.user, bytes.item]) {
      const ops = opTypes(b);
      for (const op of ops) expect(STANDARD, `op ${op}`).toContain(op);
      expect(ops.has('Gather')).toBe(true);
    }
  });
});

describe('graduate export --towers', () => {
  let run: string;
  beforeAll(() => {
    run = join(tmp, 'cli-tt');
    trained('cli-tt', 'two-tower', { historyLength: 5 });
  }, 60_000);

  it('writes user_tower.onnx, item_tower.onnx and towers.json, and prints what they take', async () => {
    const dir = join(tmp, 'towers');
    const r = await cli('export', run, '--towers', '-o', dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /user_tower\.onnx \(\d+ bytes\): user int64 \[N\], history int64 \[N, 5\] → user_vector float32 \[N, 9\]/,
    );
    expect(r.stdout).toMatch(
      /item_tower\.onnx \(\d+ bytes\): item int64 \[N\], genres int64 \[N, \d+\] → item_vector float32 \[N, 9\]/,
    );
    expect(r.stdout).toMatch(/score: /);
    const l = loadedRuns[loadedRuns.length - 1];
    const bytes = exportTowers(l);
    for (const t of ['user', 'item'] as const)
      expect(Buffer.compare(readFileSync(join(dir, `${t}_tower.onnx`)), bytes[t])).toBe(0);
    const index = JSON.parse(readFileSync(join(dir, 'towers.json'), 'utf8')) as TowersIndex;
    expect(index.userIds).toEqual(l.config.userIds);
    expect(index.itemIds).toEqual(l.config.itemIds);
    expect(index.historyLength).toBe(5);
  });

  it('refuses a recommendation checkpoint without --towers, and --towers on anything else', async () => {
    const plain = await cli('export', run, '-o', join(tmp, 'x.onnx'));
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(
      /is a recommendation checkpoint: it exports as two towers \(graduate export .* --towers -o DIR\)/,
    );
    const other = await cli('export', join(tmp, 'nowhere'), '--towers', '-o', join(tmp, 'y'));
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/--towers: .*nowhere is not a recommendation checkpoint/);
    expect(existsSync(join(tmp, 'y'))).toBe(false);
  });
});
