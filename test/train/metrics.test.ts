// Classification metrics on a hand-worked 3-class example (class 2 is never predicted, so its
// precision is the zero-division case), argmax ties, bad input, and the text table's numbers and
// alignment.
import { describe, expect, it } from 'vitest';
import { ShapeError, ValueError } from '../../src/errors.js';
import {
  abbreviateNames,
  argmaxRows,
  classificationReport,
  confusionMatrix,
  formatReport,
} from '../../src/train/metrics.js';

// actual 0: predicted 0,0,1,0   actual 1: predicted 1,1,0   actual 2: predicted 1,0,1
const labels = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2];
const preds = [0, 0, 1, 0, 1, 1, 0, 1, 0, 1];
const names = ['cat', 'dog', 'bird'];

describe('confusionMatrix', () => {
  it('counts [actual][predicted]', () => {
    expect(confusionMatrix(labels, preds, 3)).toEqual([
      [3, 1, 0],
      [1, 2, 0],
      [1, 2, 0],
    ]);
  });

  it('accepts typed arrays and empty input', () => {
    expect(confusionMatrix(Int32Array.from(labels), Uint8Array.from(preds), 3)[0]).toEqual([3, 1, 0]);
    expect(confusionMatrix([], [], 2)).toEqual([
      [0, 0],
      [0, 0],
    ]);
  });

  it('names the index and value of an out-of-range label or prediction', () => {
    expect(() => confusionMatrix([0, 3], [0, 0], 3)).toThrow(ValueError);
    expect(() => confusionMatrix([0, 3], [0, 0], 3)).toThrow('labels[1] = 3');
    expect(() => confusionMatrix([0, 1], [0, -1], 3)).toThrow('preds[1] = -1');
    expect(() => confusionMatrix([0.5], [0], 3)).toThrow('labels[0] = 0.5');
  });

  it('rejects mismatched lengths and a bad class count', () => {
    expect(() => confusionMatrix([0, 1], [0], 2)).toThrow(ShapeError);
    expect(() => confusionMatrix([0], [0], 0)).toThrow(ValueError);
  });
});

describe('classificationReport', () => {
  const r = classificationReport(labels, preds, names);

  it('computes accuracy and per-class precision/recall/F1/support', () => {
    expect(r.samples).toBe(10);
    expect(r.accuracy).toBeCloseTo(0.5, 12);
    const [cat, dog, bird] = r.perClass;
    // cat: tp 3, predicted 5, actual 4
    expect(cat).toMatchObject({ name: 'cat', support: 4 });
    expect(cat.precision).toBeCloseTo(0.6, 12);
    expect(cat.recall).toBeCloseTo(0.75, 12);
    expect(cat.f1).toBeCloseTo(2 / 3, 12);
    // dog: tp 2, predicted 5, actual 3
    expect(dog.precision).toBeCloseTo(0.4, 12);
    expect(dog.recall).toBeCloseTo(2 / 3, 12);
    expect(dog.f1).toBeCloseTo(0.5, 12);
    expect(dog.support).toBe(3);
    // bird: never predicted → precision 0/0 = 0 (zero_division=0), recall 0, F1 0
    expect(bird).toEqual({ name: 'bird', precision: 0, recall: 0, f1: 0, support: 3 });
  });

  it('averages F1 over classes (macro) and by support (weighted)', () => {
    expect(r.macroF1).toBeCloseTo((2 / 3 + 0.5 + 0) / 3, 12);
    expect(r.weightedF1).toBeCloseTo(((2 / 3) * 4 + 0.5 * 3 + 0 * 3) / 10, 12);
    expect(r.confusion).toEqual(confusionMatrix(labels, preds, 3));
    expect(r.classNames).toEqual(names);
  });

  it('gives 0, not NaN, for a class that neither occurs nor is predicted, and for no samples', () => {
    const absent = classificationReport([0, 1], [0, 1], ['a', 'b', 'c']);
    expect(absent.perClass[2]).toEqual({ name: 'c', precision: 0, recall: 0, f1: 0, support: 0 });
    expect(absent.macroF1).toBeCloseTo(2 / 3, 12); // sklearn with labels=[0, 1, 2]
    expect(absent.weightedF1).toBe(1);
    const empty = classificationReport([], [], ['a']);
    expect(empty).toMatchObject({ accuracy: 0, macroF1: 0, weightedF1: 0, samples: 0 });
  });

  it('is perfect on perfect predictions', () => {
    const p = classificationReport([0, 1, 2, 1], [0, 1, 2, 1], names);
    expect(p.accuracy).toBe(1);
    expect(p.macroF1).toBe(1);
    expect(p.perClass.map((m) => m.f1)).toEqual([1, 1, 1]);
  });
});

describe('argmaxRows', () => {
  it('takes the largest column of each row, the first one on ties', () => {
    const rows = [
      [0.1, 0.7, 0.2], // → 1
      [5, 5, 1], // tie → 0
      [-3, -1, -1], // tie → 1
      [2, 2, 2], // all tied → 0
    ];
    const logits = Float32Array.from(rows.flat());
    expect(Array.from(argmaxRows(logits, 4, 3))).toEqual([1, 0, 1, 0]);
  });

  it('handles -Infinity, NaN (wins, as in numpy) and a single column', () => {
    expect(Array.from(argmaxRows([Number.NEGATIVE_INFINITY, -1e30], 1, 2))).toEqual([1]);
    expect(Array.from(argmaxRows([1, Number.NaN, 3], 1, 3))).toEqual([1]);
    expect(Array.from(argmaxRows([4, 2, 9], 3, 1))).toEqual([0, 0, 0]);
    expect(argmaxRows([], 0, 10)).toHaveLength(0);
  });

  it('rejects logits that do not have rows * cols values', () => {
    expect(() => argmaxRows([1, 2, 3], 2, 2)).toThrow(ShapeError);
    expect(() => argmaxRows([1, 2, 3], 2, 2)).toThrow('[2, 2]');
  });
});

describe('formatReport', () => {
  const text = formatReport(classificationReport(labels, preds, names));
  const lines = text.split('\n');

  it('lists per-class precision/recall/F1/support, accuracy and the averages', () => {
    const row = (name: string) =>
      lines
        .find((l) => l.trim().startsWith(`${name} `))!
        .trim()
        .split(/\s+/);
    expect(row('cat')).toEqual(['cat', '0.6000', '0.7500', '0.6667', '4']);
    expect(row('dog')).toEqual(['dog', '0.4000', '0.6667', '0.5000', '3']);
    expect(row('bird')).toEqual(['bird', '0.0000', '0.0000', '0.0000', '3']);
    expect(row('accuracy')).toEqual(['accuracy', '0.5000', '10']);
    expect(lines.find((l) => l.includes('macro avg'))).toContain('0.3889');
    expect(lines.find((l) => l.includes('weighted avg'))).toContain('0.4167');
  });

  it('aligns the columns: every metric row ends where the header does, names right-aligned', () => {
    const header = lines[0];
    expect(header.trim().split(/\s+/)).toEqual(['precision', 'recall', 'f1-score', 'support']);
    const metricRows = lines.slice(1, lines.indexOf('confusion matrix (rows: actual, columns: predicted)'));
    const filled = metricRows.filter((l) => l.trim() !== '');
    expect(filled).toHaveLength(6);
    for (const l of filled) expect(l.length).toBe(header.length);
    const f1End = header.indexOf('f1-score') + 'f1-score'.length;
    for (const l of filled) expect(l.slice(f1End - 6, f1End)).toMatch(/^\d\.\d{4}$/);
    const nameEnd = lines[1].indexOf('cat') + 3;
    expect(lines[2].indexOf('dog') + 3).toBe(nameEnd);
    expect(lines[3].indexOf('bird') + 4).toBe(nameEnd);
  });

  it('ends with the confusion matrix, one aligned row per actual class', () => {
    const start = lines.indexOf('confusion matrix (rows: actual, columns: predicted)');
    expect(start).toBeGreaterThan(0);
    const [head, ...rows] = lines.slice(start + 1).filter((l) => l !== '');
    expect(head.trim().split(/\s+/).slice(-3)).toEqual(['cat', 'dog', 'bird']);
    expect(rows.map((l) => l.trim().split(/\s+/))).toEqual([
      ['cat', '3', '1', '0'],
      ['dog', '1', '2', '0'],
      ['bird', '1', '2', '0'],
    ]);
    for (const l of rows) expect(l.length).toBe(head.length);
  });

  it('abbreviates long class names in the confusion header, keeping them unique', () => {
    const long = ['T-shirt/top', 'Trouser', 'Ankle boot'];
    const t = formatReport(classificationReport([0, 1, 2], [0, 1, 2], long));
    const head = t.split('\n').find((l) => l.includes('actual \\ predicted'))!;
    expect(head.trim().split(/\s+/).slice(-3)).toEqual(['T-shi', 'Trous', 'Ankle']);
    expect(abbreviateNames(['class10', 'class11', 'other'], 5)).toEqual(['cla~0', 'cla~1', 'other']);
  });
});
