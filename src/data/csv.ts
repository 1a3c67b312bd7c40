// Tabular classification data from CSV: numeric feature columns and one label column,
// standardized per feature. Text in CSV (columns text,label) is text.ts's business.
import { parse } from 'csv-parse/sync';
import { FormatError } from '../errors.js';
import { firstNonFinite } from '../io/fields.js';
import { BEYOND_FLOAT32 } from '../io/values.js';
import { type InputLimits, inputLimits, overThe } from '../limits.js';
import { type ArrayDataset, channelStats, indexLabels, standardize } from './dataset.js';
import { readTextFile } from './text-file.js';

/** The header of a CSV file (its first record). */
export function csvHeader(file: string): string[] {
  return readCsv(file, 1).header;
}

/**
 * Parsed CSV: header and rows with the file line each starts on (the first `toLine` lines only, if given).
 * The file's size and each record's length are checked against the input limits before parsing.
 */
export function readCsv(file: string, toLine?: number): { header: string[]; rows: string[][]; lines: number[] } {
  const limits = inputLimits();
  const { records, lines } = parseCsv(readTextFile(file, 'CSV file', limits), file, { toLine, limits });
  if (records.length === 0) throw new FormatError(`${file}: empty CSV (expected a header line)`);
  const [header, ...rows] = records;
  return { header, rows, lines: lines.slice(1) };
}

/**
 * Every record of CSV `text` (fields trimmed, empty lines skipped) with the line each starts on;
 * `file` names it in errors. opts.delimiter: ',' by default ('\t' for TSV).
 */
export function parseCsv(
  text: string,
  file: string,
  opts: { toLine?: number; delimiter?: string; limits?: InputLimits } = {},
): { records: string[][]; lines: number[] } {
  const { toLine, limits = inputLimits() } = opts;
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, {
      info: true,
      skip_empty_lines: true,
      trim: true,
      bom: true,
      max_record_size: limits.recordChars,
      ...(opts.delimiter !== undefined && { delimiter: opts.delimiter }),
      ...(toLine !== undefined && { to_line: toLine, relax_column_count: true }),
    }) as unknown as typeof records;
  } catch (e) {
    const err = e as Error & { code?: string; lines?: number };
    if (err.code === 'CSV_MAX_RECORD_SIZE')
      throw new FormatError(`${file}:${err.lines}: a record longer than allowed, ${overThe('recordChars', limits)}`);
    throw new FormatError(`${file}: invalid CSV (${err.message})`);
  }
  return { records: records.map((r) => r.record), lines: records.map((r) => r.info.lines) };
}

/**
 * CSV with a header: numeric features x float32 [N, F], standardized with this file's mean/std
 * (or opts.stats, the training set's), and a label column ('label', else the last; opts.labelColumn).
 * opts.classNames (the training set's) fixes the label numbering of a validation/test file.
 */
export function loadCsv(
  file: string,
  opts: { labelColumn?: string; stats?: { mean: number[]; std: number[] }; classNames?: readonly string[] } = {},
): ArrayDataset {
  const { header, rows, lines } = readCsv(file);
  const labelName = opts.labelColumn ?? (header.includes('label') ? 'label' : header[header.length - 1]);
  // the last column is the label when none is named: not an earlier column of the same name
  const labelCol = labelName === header[header.length - 1] ? header.length - 1 : header.indexOf(labelName);
  if (labelCol < 0) throw new FormatError(`${file}: no label column '${labelName}' in header [${header.join(', ')}]`);
  if (header.length < 2) throw new FormatError(`${file}: needs at least one feature column besides '${labelName}'`);
  const featureCols = header.map((_, i) => i).filter((i) => i !== labelCol);
  const F = featureCols.length;
  const x = new Float32Array(rows.length * F);
  const labels: string[] = [];
  rows.forEach((row, r) => {
    const values = x.subarray(r * F, (r + 1) * F);
    for (let f = 0; f < F; f++) {
      const cell = row[featureCols[f]];
      values[f] = cell === '' ? Number.NaN : Number(cell);
    }
    const f = firstNonFinite(values); // checked as float32: '1e39' is finite as a double
    if (f >= 0) {
      const cell = row[featureCols[f]];
      const why = cell !== '' && Number.isFinite(Number(cell)) ? BEYOND_FLOAT32 : 'is not a number';
      throw new FormatError(`${file}:${lines[r]}: column '${header[featureCols[f]]}' ${why} ('${cell}')`);
    }
    labels.push(row[labelCol]);
  });
  const { y, classNames } = indexLabels(labels, (i) => `${file}:${lines[i]}`, opts.classNames);
  const stats = opts.stats ?? channelStats(x, F);
  if (stats.mean.length !== F || stats.std.length !== F)
    throw new FormatError(`${file}: has ${F} feature columns, the given stats have ${stats.mean.length}`);
  standardize(x, stats.mean, stats.std);
  return {
    x,
    y,
    sampleShape: [F],
    classNames,
    size: rows.length,
    preprocessing: { kind: 'tabular', inputShape: [F], mean: [...stats.mean], std: [...stats.std] },
    name: file,
  };
}
