// loadData: the CLI's --data spec picks the loader by name, extension or folder.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { loadData } from '../../src/data/index.js';
import { FormatError } from '../../src/errors.js';
import { tempDir } from './helpers.js';

describe('loadData', () => {
  it.skipIf(!existsSync('/usr/share/datasets/fashion-mnist'))('fashion-mnist has train and test splits', () => {
    const ds = loadData('fashion-mnist', 'test', { limit: 10 });
    expect(ds.name).toBe('fashion-mnist/test');
    expect(ds.size).toBe(10);
  });

  it('dispatches files by extension and content, applies limit, and gives the same file for test', () => {
    const dir = tempDir();
    const tab = join(dir, 'tab.csv');
    writeFileSync(tab, 'a,b,label\n1,2,x\n3,4,y\n5,6,x\n');
    expect(loadData(tab, 'train').preprocessing.kind).toBe('tabular');
    expect(loadData(tab, 'train', { limit: 2 }).size).toBe(2);
    expect(Array.from(loadData(tab, 'test').y)).toEqual(Array.from(loadData(tab, 'train').y));
    const textCsv = join(dir, 'text.csv');
    writeFileSync(textCsv, 'text,label\nhello there,greeting\nbye,farewell\n');
    expect(loadData(textCsv, 'train').preprocessing.kind).toBe('text');
    const jsonl = join(dir, 'text.jsonl');
    writeFileSync(jsonl, '{"text":"hi","label":"a"}\n');
    expect(loadData(jsonl, 'train').x).toBeInstanceOf(Int32Array);
    const images = join(dir, 'images');
    mkdirSync(join(images, 'one'), { recursive: true });
    writeFileSync(join(images, 'one', 'x.png'), PNG.sync.write(new PNG({ width: 3, height: 2 })));
    expect(loadData(images, 'train').sampleShape).toEqual([2, 3, 1]);
  });

  it('prepares data like the training data with opts.like and classNames', () => {
    const dir = tempDir();
    const train = join(dir, 'train.csv');
    writeFileSync(train, 'a,label\n0,x\n10,y\n');
    const test = join(dir, 'test.csv');
    writeFileSync(test, 'a,label\n15,y\n');
    const trained = loadData(train, 'train');
    const ds = loadData(test, 'test', { like: trained.preprocessing, classNames: trained.classNames });
    expect(Array.from(ds.x)).toEqual([2]); // (15 - 5) / 5
    expect(Array.from(ds.y)).toEqual([1]);
    const texts = join(dir, 'a.jsonl');
    writeFileSync(texts, '{"text":"b a a","label":"p"}\n');
    const tok = loadData(texts, 'train').preprocessing;
    const other = join(dir, 'b.jsonl');
    writeFileSync(other, '{"text":"a c","label":"p"}\n');
    expect(Array.from(loadData(other, 'test', { like: tok }).x.subarray(0, 3))).toEqual([1, 0, -1]);
    const images = join(dir, 'images');
    mkdirSync(join(images, 'one'), { recursive: true });
    writeFileSync(join(images, 'one', 'x.png'), PNG.sync.write(new PNG({ width: 3, height: 2 })));
    const like = { kind: 'image' as const, inputShape: [4, 4, 3], scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] };
    expect(loadData(images, 'test', { like }).sampleShape).toEqual([4, 4, 3]);
    expect(() => loadData(test, 'test', { like })).toThrow(/tabular data, but the model was trained on image data/);
  });

  it('unknown specs are FormatErrors naming them', () => {
    const dir = tempDir();
    expect(() => loadData(join(dir, 'nope.csv'), 'train')).toThrow(FormatError);
    expect(() => loadData(join(dir, 'nope.csv'), 'train')).toThrow(`--data ${join(dir, 'nope.csv')}: no such file`);
    writeFileSync(join(dir, 'model.bin'), 'x');
    expect(() => loadData(join(dir, 'model.bin'), 'train')).toThrow(/unknown file type '\.bin'/);
  });
});
