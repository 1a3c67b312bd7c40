// `graduate train` refuses training data of a single class, whatever its kind: a classifier of one
// class is 100% accurate and useless (FSDD's folder read as one sub-folder per class, 'recordings',
// trained exactly that and reported 100%). The audio folders' case is in kws.test.ts.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './run.js';

const tmp = mkdtempSync(join(tmpdir(), 'graduate-one-class-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A 4×4 gray PNG of one value. */
function png(v: number): Buffer {
  const img = new PNG({ width: 4, height: 4 });
  img.data.fill(v);
  for (let i = 3; i < img.data.length; i += 4) img.data[i] = 255;
  return PNG.sync.write(img);
}

describe('train on one class', () => {
  it('an image folder with one class sub-folder is refused, naming the folder and the class; two classes train', async () => {
    const one = join(tmp, 'one');
    mkdirSync(join(one, 'cats'), { recursive: true });
    for (let i = 0; i < 4; i++) writeFileSync(join(one, 'cats', `${i}.png`), png(40 * i));
    const r = await cli('train', '--preset', 'mlp', '--data', one, '--epochs', '1', '--out', join(tmp, 'r1'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`--data ${one}: only one class \\('cats'\\) in 4 training samples; a classifier needs at least 2`),
    );
    mkdirSync(join(one, 'dogs'));
    for (let i = 0; i < 4; i++) writeFileSync(join(one, 'dogs', `${i}.png`), png(200 - 40 * i));
    const ok = await cli(
      'train',
      '--preset',
      'mlp',
      '--data',
      one,
      '--epochs',
      '1',
      '--val-fraction',
      '0',
      '--no-progress',
      '--out',
      join(tmp, 'r2'),
    );
    expect(ok.code, ok.stderr).toBe(0);
  }, 30_000);
});
