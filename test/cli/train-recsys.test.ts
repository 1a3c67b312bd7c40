// `graduate train --preset mf|two-tower` and `graduate eval` end to end on a small synthetic
// MovieLens-layout fixture (test/fixtures/recsys): train → checkpoint + metrics.json + charts →
// eval prints the same metrics (and the popularity baseline for two-tower); a ratings file works
// as --data too; bad flags and data give one-line errors.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './run.js';

const FIXTURE = join(__dirname, '..', 'fixtures', 'recsys');
const tmp = mkdtempSync(join(tmpdir(), 'graduate-recsys-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const train = (...args: string[]) => cli('train', '--data', FIXTURE, '--no-progress', '--threads', '1', ...args);

describe('graduate train / eval, recommendation presets', () => {
  it('mf: trains on the random split, writes checkpoint and metrics.json per epoch; eval prints the same RMSE', async () => {
    const out = join(tmp, 'mf');
    const r = await train('--preset', 'mf', '--epochs', '3', '--dim', '8', '--batch', '64', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /training mf on .*377 interactions, 40 users, 60 items; random split: 302 train, 75 test rows/,
    );
    const rmse = /test \(random split, 75 ratings\): rmse ([\d.]+)\s+mae ([\d.]+)/.exec(r.stdout);
    expect(rmse).not.toBeNull();
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(metrics.history.epochs.map((e: { epoch: number }) => e.epoch)).toEqual([1, 2, 3]);
    expect(metrics.history.epochs[2].metrics.rmse.toFixed(4)).toBe(rmse?.[1]);
    expect(metrics.config).toMatchObject({ preset: 'mf', dim: 8, batchSize: 64, epochs: 3, split: { kind: 'random' } });
    for (const f of ['checkpoint.json', 'loss.svg', 'metrics.svg']) expect(existsSync(join(out, f))).toBe(true);
    const ev = await cli('eval', out, '--data', FIXTURE, '--threads', '1');
    expect(ev.code, ev.stderr).toBe(0);
    expect(ev.stdout).toContain(`rmse ${rmse?.[1]}  mae ${rmse?.[2]}`);
  }, 60_000);

  it('two-tower: leave-last-out by default; prints HR@10 / NDCG@10 beside the popularity baseline; eval the same', async () => {
    const out = join(tmp, 'tt');
    const r = await train('--preset', 'two-tower', '--epochs', '2', '--dim', '8', '--batch', '32', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/leave-last-out split: 337 train, 40 test rows/);
    const tower = /two-tower {3}hr@10 ([\d.]+) {2}ndcg@10 ([\d.]+)/.exec(r.stdout);
    const pop = /popularity {2}hr@10 ([\d.]+) {2}ndcg@10 ([\d.]+)/.exec(r.stdout);
    expect(tower).not.toBeNull();
    expect(pop).not.toBeNull();
    expect(r.stdout).toMatch(/full ranking/);
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(Object.keys(metrics.history.epochs[1].metrics)).toEqual(['hr@10', 'ndcg@10', 'rows', 'candidates']);
    expect(metrics.baseline['hr@10'].toFixed(4)).toBe(pop?.[1]);
    const ev = await cli('eval', out, '--data', FIXTURE, '--threads', '1');
    expect(ev.code, ev.stderr).toBe(0);
    expect(ev.stdout).toContain(`two-tower   hr@10 ${tower?.[1]}  ndcg@10 ${tower?.[2]}`);
    expect(ev.stdout).toContain(`popularity  hr@10 ${pop?.[1]}  ndcg@10 ${pop?.[2]}`);
  }, 60_000);

  it('a ratings file is data too; --split leave-last-out for mf', async () => {
    const out = join(tmp, 'file');
    const r = await cli(
      'train',
      '--preset',
      'mf',
      '--data',
      join(FIXTURE, 'ratings.csv'),
      '--split',
      'leave-last-out',
      '--epochs',
      '1',
      '--no-progress',
      '--out',
      out,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/leave-last-out split: 337 train, 40 test rows/);
  }, 60_000);

  it('bad flags and data: one-line errors naming the flag, file or value', async () => {
    const out = join(tmp, 'bad');
    const bad = async (args: string[], message: RegExp) => {
      const r = await cli('train', '--no-progress', '--out', out, ...args);
      expect(r.code, r.stdout).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    };
    await bad(
      ['--preset', 'mf', '--data', FIXTURE, '--split', 'fsdd'],
      /--split fsdd: a recommendation model takes 'random'/,
    );
    await bad(
      ['--preset', 'mf', '--data', FIXTURE, '--augment', 'crop'],
      /--augment does not apply to a recommendation model/,
    );
    await bad(
      ['--preset', 'two-tower', '--data', FIXTURE, '--dim', '0'],
      /two-tower: dim must be a positive integer, got 0/,
    );
    await bad(
      ['--preset', 'mf', '--data', FIXTURE, '--resume'],
      /--resume is not supported for recommendation models yet/,
    );
    await bad(['--preset', 'mf', '--data', join(tmp, 'nowhere.csv')], /nowhere\.csv/);
    const implicit = join(tmp, 'implicit.csv');
    writeFileSync(implicit, 'user,item\na,x\na,y\nb,x\nb,y\nc,z\n');
    await bad(['--preset', 'mf', '--data', implicit], /mf learns explicit ratings, and the data have no rating column/);
    const broken = join(tmp, 'broken.csv');
    writeFileSync(broken, 'userId,movieId,rating,timestamp\n1,10,4,100\n1,11,x,200\n');
    await bad(['--preset', 'mf', '--data', broken], /broken\.csv:3: column 'rating' is not a number \('x'\)/);
    // eval on other data than the model's
    const other = join(tmp, 'other');
    mkdirSync(other);
    copyFileSync(join(FIXTURE, 'movies.csv'), join(other, 'movies.csv'));
    writeFileSync(
      join(other, 'ratings.csv'),
      readFileSync(join(FIXTURE, 'ratings.csv'), 'utf8').split('\n').slice(0, 200).join('\n'),
    );
    const ev = await cli('eval', join(tmp, 'mf'), '--data', other);
    expect(ev.code).toBe(1);
    expect(ev.stderr).toMatch(/are not the \d+ the model was trained on/);
  }, 60_000);
});
