// Tabular CSV: features standardized with this file's (or the given) statistics, labels mapped to
// classes, and bad cells reported by file, line and column.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCsv } from '../../src/data/index.js';
import { FormatError } from '../../src/errors.js';
import { tempDir } from './helpers.js';

function csvFile(name: string, text: string): string {
  const f = join(tempDir(), name);
  writeFileSync(f, text);
  return f;
}

describe('loadCsv', () => {
  it("takes the last column as the label when none is named 'label', even if an earlier column shares its name", () => {
    const f = csvFile('dup.csv', 'a,kind,kind\n1,2,x\n3,4,y\n');
    const ds = loadCsv(f, { stats: { mean: [0, 0], std: [1, 1] } });
    expect(ds.classNames).toEqual(['x', 'y']);
    expect(Array.from(ds.x)).toEqual([1, 2, 3, 4]);
  });

  it('maps string labels to sorted class names and standardizes features', () => {
    const f = csvFile('iris.csv', 'a,b,label\n1,10,setosa\n2,10,virginica\n3,10,setosa\n\n6,10,versicolor\n');
    const ds = loadCsv(f);
    expect(ds.size).toBe(4);
    expect(ds.sampleShape).toEqual([2]);
    expect(ds.classNames).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(Array.from(ds.y)).toEqual([0, 2, 0, 1]);
    // column a: mean 3, population std sqrt(3.5); column b is constant: std taken as 1
    const sd = Math.sqrt(3.5);
    expect(ds.preprocessing).toEqual({ kind: 'tabular', inputShape: [2], mean: [3, 10], std: [sd, 1] });
    const expected = [(1 - 3) / sd, 0, (2 - 3) / sd, 0, 0, 0, (6 - 3) / sd, 0];
    for (const [i, v] of expected.entries()) expect(ds.x[i]).toBeCloseTo(v, 5);
    expect(ds.name).toBe(f);
  });

  it('uses the last column without a label column, keeps integer labels, and applies given stats', () => {
    const f = csvFile('nums.csv', 'x,y,class\n1,2,2\n3,4,0\n');
    const ds = loadCsv(f, { stats: { mean: [1, 2], std: [2, 2] } });
    expect(ds.classNames).toEqual(['0', '1', '2']);
    expect(Array.from(ds.y)).toEqual([2, 0]);
    expect(Array.from(ds.x)).toEqual([0, 0, 1, 1]);
    const byName = loadCsv(f, { labelColumn: 'x' });
    expect(byName.sampleShape).toEqual([2]);
    expect(Array.from(byName.y)).toEqual([1, 3]);
  });

  it('numbers a test file like the training file with classNames', () => {
    const f = csvFile('test.csv', 'a,label\n1,virginica\n');
    expect(Array.from(loadCsv(f, { classNames: ['setosa', 'versicolor', 'virginica'] }).y)).toEqual([2]);
    expect(() => loadCsv(f, { classNames: ['setosa'] })).toThrow(`${f}:2: label 'virginica' is not one of the classes`);
  });

  it('a non-numeric feature is a FormatError naming file, line and column', () => {
    const f = csvFile('bad.csv', 'a,b,label\n1,2,x\n\n3,oops,y\n');
    expect(() => loadCsv(f)).toThrow(FormatError);
    expect(() => loadCsv(f)).toThrow(`${f}:4: column 'b' is not a number ('oops')`);
    const empty = csvFile('empty-cell.csv', 'a,b,label\n1,,x\n');
    expect(() => loadCsv(empty)).toThrow(`${empty}:2: column 'b' is not a number ('')`);
    const ragged = csvFile('ragged.csv', 'a,b,label\n1,2\n');
    expect(() => loadCsv(ragged)).toThrow(new RegExp(`${ragged}: invalid CSV`));
    expect(() => loadCsv(f, { labelColumn: 'nope' })).toThrow(`${f}: no label column 'nope'`);
    expect(() => loadCsv(join(tempDir(), 'missing.csv'))).toThrow(/missing\.csv: cannot read CSV file \(ENOENT\)/);
  });
});
