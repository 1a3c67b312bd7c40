// Classification metrics over integer labels and predictions: confusion matrix, per-class
// precision/recall/F1, accuracy, macro and support-weighted F1, and a plain-text table of them.
// Plain numbers only: no tensors, no engine. Not for rendering HTML or charts (see report.ts).
import { ShapeError, ValueError } from '../errors.js';

/** Checks that `v` (element `i` of `what`) is an integer class index in [0, numClasses). */
function checkClass(what: string, i: number, v: number, numClasses: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
    throw new ValueError(`${what}[${i}] = ${v} is not a class index in [0, ${numClasses})`);
  }
}

/** Confusion matrix counts[actual][predicted] ([numClasses, numClasses]). Labels/preds outside [0, numClasses) → ValueError naming the index and value. */
export function confusionMatrix(labels: ArrayLike<number>, preds: ArrayLike<number>, numClasses: number): number[][] {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new ValueError(`confusionMatrix: numClasses must be a positive integer, got ${numClasses}`);
  }
  if (labels.length !== preds.length) {
    throw new ShapeError(`confusionMatrix: labels has ${labels.length} entries but preds has ${preds.length}`);
  }
  const counts = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < labels.length; i++) {
    checkClass('labels', i, labels[i], numClasses);
    checkClass('preds', i, preds[i], numClasses);
    counts[labels[i]][preds[i]]++;
  }
  return counts;
}

/** One class's row of a classification report. */
export interface ClassMetrics {
  name: string;
  precision: number;
  recall: number;
  f1: number;
  /** Number of samples whose actual class is this one. */
  support: number;
}

/** Everything classificationReport computes; plain data (JSON round-trips it). */
export interface ClassificationReport {
  accuracy: number;
  macroF1: number;
  weightedF1: number;
  perClass: ClassMetrics[];
  /** counts[actual][predicted], [classes, classes]. */
  confusion: number[][];
  classNames: string[];
  samples: number;
}

/** a / b, or 0 where b is 0 (sklearn's zero_division=0). */
function ratio(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

/**
 * Accuracy, per-class precision/recall/F1 (0 when undefined, like sklearn zero_division=0), macro and
 * support-weighted F1. Every class in `classNames` counts towards the macro average, also one that
 * neither occurs nor is predicted (like sklearn given `labels=`).
 */
export function classificationReport(
  labels: ArrayLike<number>,
  preds: ArrayLike<number>,
  classNames: readonly string[],
): ClassificationReport {
  const k = classNames.length;
  const confusion = confusionMatrix(labels, preds, k);
  const samples = labels.length;
  let correct = 0;
  const perClass: ClassMetrics[] = classNames.map((name, c) => {
    const tp = confusion[c][c];
    let support = 0; // row sum: actually c
    let predicted = 0; // column sum: predicted c
    for (let j = 0; j < k; j++) {
      support += confusion[c][j];
      predicted += confusion[j][c];
    }
    correct += tp;
    // 2tp / (2tp + fp + fn) is the harmonic mean of precision and recall, and 0 where both are 0.
    const f1 = ratio(2 * tp, support + predicted);
    return { name, precision: ratio(tp, predicted), recall: ratio(tp, support), f1, support };
  });
  let macro = 0;
  let weighted = 0;
  for (const m of perClass) {
    macro += m.f1;
    weighted += m.f1 * m.support;
  }
  return {
    accuracy: ratio(correct, samples),
    macroF1: ratio(macro, k),
    weightedF1: ratio(weighted, samples),
    perClass,
    confusion,
    classNames: [...classNames],
    samples,
  };
}

/** Argmax per row of logits [rows, cols] → [rows] (first index on ties; a NaN wins, as in numpy). */
export function argmaxRows(logits: ArrayLike<number>, rows: number, cols: number): Int32Array {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 1) {
    throw new ValueError(`argmaxRows: need rows >= 0 and cols >= 1, got rows=${rows}, cols=${cols}`);
  }
  if (logits.length !== rows * cols) {
    throw new ShapeError(
      `argmaxRows: logits has ${logits.length} values, expected [${rows}, ${cols}] = ${rows * cols}`,
    );
  }
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let best = 0;
    let bestValue = logits[base];
    for (let c = 1; c < cols && !Number.isNaN(bestValue); c++) {
      const v = logits[base + c];
      if (v > bestValue || Number.isNaN(v)) {
        best = c;
        bestValue = v;
      }
    }
    out[r] = best;
  }
  return out;
}

/**
 * Short, unique column headers for class names: the first `width` characters; names that collide
 * after cutting get their class index as suffix ("class~10").
 */
export function abbreviateNames(names: readonly string[], width: number): string[] {
  const cut = names.map((n) => n.trim().slice(0, width));
  const seen = new Map<string, number>();
  for (const c of cut) seen.set(c, (seen.get(c) ?? 0) + 1);
  return cut.map((c, i) => {
    if (seen.get(c) === 1 && c !== '') return c;
    const suffix = `~${i}`;
    return names[i].trim().slice(0, Math.max(0, width - suffix.length)) + suffix;
  });
}

const DIGITS = 4;

/** Lays out rows of cells as text, every column right-aligned to its widest cell. */
function table(rows: readonly (readonly string[])[], gap = 2): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (let j = 0; j < row.length; j++) widths[j] = Math.max(widths[j] ?? 0, row[j].length);
  }
  const sep = ' '.repeat(gap);
  return rows
    .map((row) =>
      row
        .map((cell, j) => cell.padStart(widths[j]))
        .join(sep)
        .trimEnd(),
    )
    .join('\n');
}

/**
 * Plain-text table like sklearn's classification_report: per-class precision/recall/F1/support,
 * then accuracy, macro and weighted averages, then the confusion matrix (rows actual, columns
 * predicted, headed by abbreviated class names).
 */
export function formatReport(r: ClassificationReport): string {
  const f = (x: number) => x.toFixed(DIGITS);
  const mean = (pick: (m: ClassMetrics) => number) =>
    ratio(
      r.perClass.reduce((s, m) => s + pick(m), 0),
      r.perClass.length,
    );
  const weighted = (pick: (m: ClassMetrics) => number) =>
    ratio(
      r.perClass.reduce((s, m) => s + pick(m) * m.support, 0),
      r.samples,
    );
  const n = String(r.samples);
  const metricRows: string[][] = [
    ['', 'precision', 'recall', 'f1-score', 'support'],
    ...r.perClass.map((m) => [m.name, f(m.precision), f(m.recall), f(m.f1), String(m.support)]),
    [],
    ['accuracy', '', '', f(r.accuracy), n],
    ['macro avg', f(mean((m) => m.precision)), f(mean((m) => m.recall)), f(r.macroF1), n],
    ['weighted avg', f(weighted((m) => m.precision)), f(weighted((m) => m.recall)), f(r.weightedF1), n],
  ];

  const maxCount = Math.max(0, ...r.confusion.flat());
  const width = Math.max(5, String(maxCount).length);
  const abbr = abbreviateNames(r.classNames, width).map((a) => a.padStart(width)); // equal columns
  const confusionRows: string[][] = [
    ['actual \\ predicted', ...abbr],
    ...r.confusion.map((row, i) => [r.classNames[i], ...row.map(String)]),
  ];
  // Blank separator rows are laid out as empty strings, not padded lines.
  const metrics = table(metricRows.map((row) => (row.length ? row : [''])));
  return `${metrics}\n\nconfusion matrix (rows: actual, columns: predicted)\n${table(confusionRows)}\n`;
}
