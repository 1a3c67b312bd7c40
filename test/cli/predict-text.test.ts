// `graduate predict --text / --text-file` on a text model: the top-k equals the runtime's answer on
// InferenceModel.prepareText ids (the model's own tokenizer), files give one text per line or one
// per file (--whole-file), and misuse is named (a non-text model, files mixed with texts, no texts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadArtifact, topClasses } from '../../src/runtime/index.js';
import { TEXTS, writeTinyArtifact, writeTinyTransformerArtifact } from '../serve/fixtures.js';
import { cli } from './run.js';

let dir: string;
let art: string;
/** The runtime's top-2 of each text, as predict --json prints them. */
let expected: { label: string; index: number; score: number }[][];
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'graduate-predict-text-'));
  art = writeTinyTransformerArtifact(dir);
  const model = await loadArtifact(art);
  const logits = model.run(model.prepareText(TEXTS), TEXTS.length);
  const C = logits.length / TEXTS.length;
  expected = TEXTS.map((_, i) => topClasses(logits.subarray(i * C, (i + 1) * C), model.classNames, 2));
  model.dispose();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const json = (stdout: string) => JSON.parse(stdout) as { input: string; top: (typeof expected)[0] }[];
const close = (got: (typeof expected)[0], want: (typeof expected)[0]) => {
  expect(got.map((t) => t.label)).toEqual(want.map((t) => t.label));
  for (const [k, t] of got.entries()) expect(t.score).toBeCloseTo(want[k].score, 5);
};

describe('graduate predict on text', () => {
  it('--text (repeatable) answers as the runtime on the same texts', async () => {
    const r = await cli('predict', art, '--text', TEXTS[0], '--text', TEXTS[3], '--top', '2', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = json(r.stdout);
    expect(out.map((o) => o.input)).toEqual([JSON.stringify(TEXTS[0]), JSON.stringify(`${TEXTS[3].slice(0, 40)}…`)]);
    close(out[0].top, expected[0]);
    close(out[1].top, expected[3]);
    const plain = await cli('predict', art, '--text', TEXTS[1], '-k', '1');
    expect(plain.stdout).toBe(
      `${JSON.stringify(TEXTS[1])}: ${expected[1][0].label} ${(expected[1][0].score * 100).toFixed(1)}%`,
    );
  });

  it('--text-file: one text per non-blank line; --whole-file: the file is one text', async () => {
    const file = join(dir, 'texts.txt');
    writeFileSync(file, `${TEXTS[0]}\n\n${TEXTS[1]}\r\n${TEXTS[2]}\n`);
    const r = await cli('predict', art, '--text-file', file, '--top', '2', '--json');
    expect(r.code).toBe(0);
    const out = json(r.stdout);
    expect(out.map((o) => o.input)).toEqual([`${file}:1`, `${file}:3`, `${file}:4`]);
    for (const i of [0, 1, 2]) close(out[i].top, expected[i]);
    const one = join(dir, 'one.txt');
    writeFileSync(one, TEXTS[3]);
    const w = await cli('predict', art, '--text-file', one, '--whole-file', '--top', '2', '--json');
    expect(json(w.stdout).map((o) => o.input)).toEqual([one]);
    close(json(w.stdout)[0].top, expected[3]);
  });

  it('names misuse: a non-text model, texts mixed with files, a text model given an image, no texts', async () => {
    const image = writeTinyArtifact(dir);
    let r = await cli('predict', image, '--text', 'hello');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${image}: --text/--text-file: text, but the model takes image input [8, 8, 1]`);
    r = await cli('predict', art, 'x.png', '--text', 'hello');
    expect(r.stderr).toContain('--text/--text-file and input files (x.png) cannot be mixed');
    r = await cli('predict', art, join(dir, 'x.png'));
    expect(r.stderr).toContain('the model takes text; give texts with --text or --text-file');
    const blank = join(dir, 'blank.txt');
    writeFileSync(blank, '\n  \n');
    r = await cli('predict', art, '--text-file', blank);
    expect(r.stderr).toContain('--text-file holds no texts');
    r = await cli('predict', art);
    expect(r.stderr).toContain('predict: give input files, or texts with --text / --text-file');
  });
});
