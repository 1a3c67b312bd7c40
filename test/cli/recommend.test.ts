// `graduate compile` on a recommendation checkpoint and `graduate recommend` end to end: train
// (the CLI) → compile with the metric gate and report → recommend with titles, --json, cold users,
// the fallback; one-line errors for unknown ids, --k out of range, a non-recommendation artifact,
// and a gate the model cannot meet (nothing written).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeArtifact } from '../../src/graph/artifact.js';
import type { Graph } from '../../src/graph/ir.js';
import { FIXTURE } from '../recsys/trained-fixture.js';
import { cli } from './run.js';

const tmp = mkdtempSync(join(tmpdir(), 'graduate-recommend-cli-'));
const run = join(tmp, 'mf');
const model = join(tmp, 'mf.grad');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

beforeAll(async () => {
  const r = await cli(
    'train',
    '--preset',
    'mf',
    '--data',
    FIXTURE,
    '--epochs',
    '3',
    '--dim',
    '8',
    '--no-progress',
    '--threads',
    '1',
    '--out',
    run,
  );
  expect(r.code, r.stderr).toBe(0);
}, 60_000);

describe('graduate compile + recommend (mf on the fixture)', () => {
  it('compile writes the artifact and a report: sizes, pruned rows, RMSE before/after, latency', async () => {
    const r = await cli('compile', run, '--data', FIXTURE, '--quantize', 'int8', '--max-metric-drop', '5', '-o', model);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/graduated mf \(--quantize int8\): top-10 by an exact scan over \d+ items/);
    expect(r.stdout).toMatch(/size\s+parent [\d.]+ KiB .* → [\d.]+ KiB \([\d.]+× smaller\)/);
    expect(r.stdout).toMatch(/pruned\s+items \d+ of 60/);
    expect(r.stdout).toMatch(/rmse\s+parent [\d.]+ → [\d.]+ \((worse|better) by [\d.]+%; gate 5%\)/);
    expect(r.stdout).toMatch(/latency\s+top-10 p50 [\d.]+ ms at batch 1/);
    const report = JSON.parse(readFileSync(`${model}.report.json`, 'utf8'));
    expect(report).toMatchObject({ preset: 'mf', quantize: 'int8', k: 10, maxMetricDrop: 5 });
    expect(report.metric.dropPercent).toBeLessThanOrEqual(5);
    expect(readFileSync(`${model}.report.txt`, 'utf8')).toContain('graduated mf');
  }, 60_000);

  it('recommend prints K titles for a known user, none of its rated films', async () => {
    const r = await cli('recommend', model, '--user', '1');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe("user 1: from the user's own profile, items it rated left out");
    expect(lines.slice(1)).toHaveLength(10);
    const rated = new Set(
      readFileSync(join(FIXTURE, 'ratings.csv'), 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('1,'))
        .map((l) => l.split(',')[1]),
    );
    for (const [j, line] of lines.slice(1).entries()) {
      const m = /^\s*(\d+)\. (.+) \((\d+)\) {2}(-?[\d.]+)$/.exec(line);
      expect(m, line).not.toBeNull();
      expect(Number(m?.[1])).toBe(j + 1);
      expect(rated.has(m?.[3] as string)).toBe(false);
    }
  });

  it('--json, a cold user with --history, the labelled fallback, --k', async () => {
    const j = await cli('recommend', model, '--user', 'new-user', '--history', '10, 20,30', '--k', '3', '--json');
    expect(j.code, j.stderr).toBe(0);
    const r = JSON.parse(j.stdout);
    expect(r).toMatchObject({ user: 'new-user', basis: 'history', ignored: [] });
    expect(r.items).toHaveLength(3);
    for (const it of r.items) expect(['10', '20', '30']).not.toContain(it.id);
    const f = await cli('recommend', model, '--k', '2');
    expect(f.code, f.stderr).toBe(0);
    expect(f.stdout).toMatch(
      /^no user and no history: FALLBACK — no known user and no history: items ranked by their learnt item bias/,
    );
  });

  it('errors: unknown history ids named, --k out of range, not a recommendation model, a missing file', async () => {
    const u = await cli('recommend', model, '--user', '1', '--history', '10,nope,12345678');
    expect(u.code).toBe(1);
    expect(u.stderr).toContain("history: unknown item ids 'nope', '12345678' (not in the model's catalogue)");
    const k = await cli('recommend', model, '--user', '1', '--k', '11');
    expect(k.code).toBe(1);
    expect(k.stderr).toContain('k must be an integer in [1, 10]');
    const kf = await cli('recommend', model, '--k', 'two');
    expect(kf.stderr).toContain("--k must be an integer, got 'two'");
    const other: Graph = {
      inputs: ['x'],
      outputs: ['y'],
      values: { x: { shape: [-1, 2], dtype: 'float32' }, y: { shape: [-1, 2], dtype: 'float32' } },
      constants: {},
      nodes: [{ name: 'y', op: 'unary', inputs: ['x'], output: 'y', attrs: { fn: 'relu' } }],
      meta: { classNames: [], input: { kind: 'tensor', shape: [] }, producer: 'test' },
    };
    const plain = join(tmp, 'plain.grad');
    writeFileSync(plain, writeArtifact(other));
    const n = await cli('recommend', plain, '--user', '1');
    expect(n.code).toBe(1);
    expect(n.stderr, n.stderr).toContain(`${plain}: not a recommendation model`);
    const missing = await cli('recommend', join(tmp, 'none.grad'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/none.grad: cannot read artifact/);
  });

  it('compile refuses to write when the gate cannot be met (--quantize int8 --max-metric-drop 0 on a drop), and bad data', async () => {
    const out = join(tmp, 'refused.grad');
    // two runs of the gate: whichever way int8 moves RMSE, a gate below the drop refuses
    const first = await cli('compile', run, '--data', FIXTURE, '--quantize', 'int8', '-o', out);
    expect(first.code, first.stderr).toBe(0);
    const drop = JSON.parse(readFileSync(`${out}.report.json`, 'utf8')).metric.dropPercent;
    rmSync(out);
    if (drop > 0) {
      const r = await cli(
        'compile',
        run,
        '--data',
        FIXTURE,
        '--quantize',
        'int8',
        '--max-metric-drop',
        String(drop / 2),
        '-o',
        out,
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/rmse is [\d.]+% worse than the parent's .* more than --max-metric-drop/);
      expect(existsSync(out)).toBe(false);
    }
    const bad = await cli('compile', run, '--data', join(tmp, 'nowhere'), '-o', out);
    expect(bad.code).toBe(1);
    expect(existsSync(out)).toBe(false);
  }, 60_000);
});
