// User–item interactions for recommendation (ratings, clicks, purchases): a CSV/TSV/`::` file of
// user, item, optional rating, optional timestamp, read into typed columns with external ids mapped
// to dense 0-based indices (and back), plus optional item side features (a title and a multi-hot
// bag such as MovieLens' genres, in CSR form), and the MovieLens folder layout (ratings.csv +
// movies.csv) behind `--data movielens-small` or `--data <folder>`.
// Not for: splits and seen-item lists (interaction-splits.ts), negative sampling
// (negative-sampling.ts), downloading (fetch-movielens.ts).
import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { FormatError, ValueError } from '../errors.js';
import { BEYOND_FLOAT32 } from '../io/values.js';
import { type InputLimits, inputLimits } from '../limits.js';
import { parseCsv } from './csv.js';
import { checkRecord, readTextFile } from './text-file.js';

/**
 * Interactions in columns (N rows, U users, I items). Row r says user `userIds[users[r]]` met item
 * `itemIds[items[r]]` (with `ratings[r]` at `timestamps[r]` when the file has those columns).
 */
export interface Interactions {
  /** The file(s) the rows came from, for messages. */
  name: string;
  /** N, the number of interactions. */
  size: number;
  numUsers: number;
  numItems: number;
  /** Dense user index of each row, in [0, numUsers). [N] */
  users: Int32Array;
  /** Dense item index of each row, in [0, numItems). [N] */
  items: Int32Array;
  /** The rating column, when there is one. [N] */
  ratings?: Float32Array;
  /** The timestamp column (as written in the file, e.g. Unix seconds), when there is one. [N] */
  timestamps?: Float64Array;
  /** Index → the original id string. [U] */
  userIds: readonly string[];
  /** Index → the original id string. [I] */
  itemIds: readonly string[];
  /** Original id string → index. */
  userIndex: ReadonlyMap<string, number>;
  itemIndex: ReadonlyMap<string, number>;
  /** Side features of every item (withItemFeatures / loadMovieLens). */
  itemFeatures?: ItemFeatures;
}

/**
 * Multi-hot bags in CSR form: row i holds `vocab[indices[j]]` for j in [offsets[i], offsets[i+1]),
 * indices ascending and distinct within a row; an empty row is an empty bag.
 */
export interface Bags {
  /** [rows + 1], offsets[0] = 0 */
  offsets: Int32Array;
  /** [nnz] indices into vocab */
  indices: Int32Array;
  /** The labels, sorted. */
  vocab: readonly string[];
}

/** Side features aligned with the item indices of an Interactions. */
export interface ItemFeatures {
  /** [I] the title of each item; '' for an item the features file has no row for. */
  titles: readonly string[];
  /** [I] rows: each item's genres (or other tags). */
  genres: Bags;
}

/** A column given by its header name or its 0-based position. */
export type Column = string | number;

export interface LoadInteractionsOptions {
  /** The user column (default: a header named user, userId, user_id or uid; else the 1st column). */
  user?: Column;
  /** The item column (default: item, itemId, item_id, iid, movieId, productId; else the 2nd column). */
  item?: Column;
  /** The rating column (default: rating or score; else the 3rd column of a headerless file); null: none. */
  rating?: Column | null;
  /** The timestamp column (default: timestamp, time or ts; else the 4th of a headerless file); null: none. */
  timestamp?: Column | null;
  /** Field separator (default: '::' if the first line has it, else a tab if it has one, else ','). */
  delimiter?: string;
  /**
   * Whether the first line is a header (default: it is when it names a known or given column, or
   * when none of its fields is a number).
   */
  header?: boolean;
}

const KNOWN: Record<'user' | 'item' | 'rating' | 'timestamp', readonly string[]> = {
  user: ['user', 'userid', 'uid'],
  item: ['item', 'itemid', 'iid', 'movieid', 'productid'],
  rating: ['rating', 'score'],
  timestamp: ['timestamp', 'time', 'ts'],
};
const normalize = (name: string) => name.toLowerCase().replace(/[_\-\s]/g, '');

/** Reads an interactions file (see LoadInteractionsOptions for the columns it looks for). */
export function loadInteractions(file: string, opts: LoadInteractionsOptions = {}): Interactions {
  return parseInteractions(readTextFile(file, 'interactions file'), file, opts);
}

/** parseInteractions: loadInteractions on text already read; `name` stands for the file in errors. */
export function parseInteractions(text: string, name: string, opts: LoadInteractionsOptions = {}): Interactions {
  const table = readTable(text, name, opts);
  const cols = {
    user: pickColumn(table, 'user', opts.user, 0),
    item: pickColumn(table, 'item', opts.item, 1),
    rating: opts.rating === null ? -1 : pickColumn(table, 'rating', opts.rating, 2, true),
    timestamp: opts.timestamp === null ? -1 : pickColumn(table, 'timestamp', opts.timestamp, 3, true),
  };
  const { rows, lines } = table;
  const N = rows.length;
  if (N === 0) throw new FormatError(`${name}: no interactions${table.header ? ' after the header line' : ''}`);
  const ratings = cols.rating >= 0 ? new Float32Array(N) : undefined;
  const timestamps = cols.timestamp >= 0 ? new Float64Array(N) : undefined;
  const userOf = new Map<string, number>();
  const itemOf = new Map<string, number>();
  const users = new Int32Array(N);
  const items = new Int32Array(N);
  const headerLine = table.header?.join('\u0000');
  for (let r = 0; r < N; r++) {
    const row = rows[r];
    if (row.length !== table.width) {
      if (headerLine !== undefined && row.join('\u0000') === headerLine)
        throw new FormatError(`${name}:${lines[r]}: the header line again ('${row.join(',')}'): are two files joined?`);
      throw new FormatError(
        `${name}:${lines[r]}: ${row.length} fields, expected ${table.width} as on line ${table.firstLine}`,
      );
    }
    users[r] = idOf(userOf, table, r, cols.user);
    items[r] = idOf(itemOf, table, r, cols.item);
    if (ratings) {
      ratings[r] = numberIn(table, r, cols.rating, headerLine);
      if (!Number.isFinite(ratings[r]))
        throw new FormatError(
          `${name}:${lines[r]}: column '${table.columnName(cols.rating)}' ${BEYOND_FLOAT32} ('${row[cols.rating]}')`,
        );
    }
    if (timestamps) timestamps[r] = numberIn(table, r, cols.timestamp, headerLine);
  }
  const u = denseIds(userOf, users);
  const i = denseIds(itemOf, items);
  return {
    name,
    size: N,
    numUsers: u.ids.length,
    numItems: i.ids.length,
    users,
    items,
    ratings,
    timestamps,
    userIds: u.ids,
    itemIds: i.ids,
    userIndex: u.index,
    itemIndex: i.index,
  };
}

export interface ItemFeaturesOptions {
  /** The item id column (default: as LoadInteractionsOptions.item). */
  item?: Column;
  /** The title column (default 'title' when the header has it); null: none. */
  title?: Column | null;
  /** The bag column (default 'genres' when the header has it); null: none. */
  genres?: Column | null;
  /** Separator of the labels in the bag column (default '|'). */
  separator?: string;
  /** A bag label that means "no labels" (default MovieLens' '(no genres listed)'). */
  noneLabel?: string;
  /** Field separator (default: sniffed as for interactions). */
  delimiter?: string;
  /**
   * Items the features file lists but no interaction has: appended after the existing items (their
   * indices follow numItems, so the rated items keep theirs) when true; dropped by default.
   */
  addItems?: boolean;
}

/** `data` with item features read from `file` (MovieLens' movies.csv: movieId,title,genres). */
export function withItemFeatures(data: Interactions, file: string, opts: ItemFeaturesOptions = {}): Interactions {
  return parseItemFeatures(data, readTextFile(file, 'item features file'), file, opts);
}

/** withItemFeatures on text already read; `name` stands for the file in errors. */
export function parseItemFeatures(
  data: Interactions,
  text: string,
  name: string,
  opts: ItemFeaturesOptions = {},
): Interactions {
  const table = readTable(text, name, { delimiter: opts.delimiter, header: true });
  const itemCol = pickColumn(table, 'item', opts.item, 0);
  const named = (given: Column | null | undefined, header: string) =>
    given === null ? -1 : given === undefined ? (table.header?.indexOf(header) ?? -1) : resolveColumn(table, given);
  const titleCol = named(opts.title, 'title');
  const genreCol = named(opts.genres, 'genres');
  const separator = opts.separator ?? '|';
  const noneLabel = opts.noneLabel ?? '(no genres listed)';
  const itemIds = [...data.itemIds];
  const itemIndex = new Map(data.itemIndex);
  const rowOf = new Map<number, number>(); // item index -> table row
  const { rows, lines } = table;
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    const at = `${name}:${lines[r]}`;
    if (row.length !== table.width)
      throw new FormatError(`${at}: ${row.length} fields, expected ${table.width} as on line ${table.firstLine}`);
    const id = row[itemCol];
    if (id === '') throw new FormatError(`${at}: column '${table.columnName(itemCol)}' is empty`);
    let index = itemIndex.get(id);
    if (index === undefined) {
      if (!opts.addItems) continue;
      index = itemIds.push(id) - 1;
      itemIndex.set(id, index);
    }
    const first = rowOf.get(index);
    if (first !== undefined) throw new FormatError(`${at}: item '${id}' again (first on line ${lines[first]})`);
    rowOf.set(index, r);
  }
  const I = itemIds.length;
  const titles: string[] = new Array(I).fill('');
  const labels: string[][] = new Array(I);
  const vocabSet = new Set<string>();
  let nnz = 0;
  for (let i = 0; i < I; i++) {
    const r = rowOf.get(i);
    const bag = new Set<string>();
    if (r !== undefined && titleCol >= 0) titles[i] = rows[r][titleCol];
    if (r !== undefined && genreCol >= 0)
      for (const raw of rows[r][genreCol].split(separator)) {
        const g = raw.trim();
        if (g !== '' && g !== noneLabel) bag.add(g);
      }
    labels[i] = [...bag];
    for (const g of bag) vocabSet.add(g);
    nnz += bag.size;
  }
  const vocab = [...vocabSet].sort();
  const code = new Map<string, number>();
  for (let j = 0; j < vocab.length; j++) code.set(vocab[j], j);
  const offsets = new Int32Array(I + 1);
  const indices = new Int32Array(nnz);
  for (let i = 0; i < I; i++) {
    const at = offsets[i];
    for (let j = 0; j < labels[i].length; j++) indices[at + j] = code.get(labels[i][j]) as number;
    offsets[i + 1] = at + labels[i].length;
    indices.subarray(at, offsets[i + 1]).sort();
  }
  return {
    ...data,
    name: `${data.name} + ${name}`,
    numItems: I,
    itemIds,
    itemIndex,
    itemFeatures: { titles, genres: { offsets, indices, vocab } },
  };
}

/** The ratings file of a MovieLens folder: ratings.csv (ml-latest*, ml-25m) or ratings.dat (ml-1m, ml-10m). */
export function movieLensRatingsFile(dir: string): string | undefined {
  return ['ratings.csv', 'ratings.dat'].map((f) => join(dir, f)).find((f) => existsSync(f));
}

/**
 * A MovieLens folder: ratings.csv (userId,movieId,rating,timestamp) or the headerless
 * UserID::MovieID::Rating::Timestamp ratings.dat, with titles and genres from movies.csv when it
 * is there (movies.dat, Latin-1, is not read). opts.addItems keeps movies nobody rated.
 */
export function loadMovieLens(dir: string, opts: { addItems?: boolean } = {}): Interactions {
  const ratings = movieLensRatingsFile(dir);
  if (!ratings) throw new FormatError(`${dir}: no ratings.csv or ratings.dat (is it a MovieLens folder?)`);
  const movies = join(dir, 'movies.csv');
  return parseMovieLens(
    {
      ratings: readTextFile(ratings, 'ratings file'),
      movies: existsSync(movies) ? readTextFile(movies, 'movies file') : undefined,
    },
    { ratings, movies },
    opts,
  );
}

/** loadMovieLens on texts already read (the fetch checks an archive's content with it); names for errors. */
export function parseMovieLens(
  texts: { ratings: string; movies?: string },
  names: { ratings: string; movies: string },
  opts: { addItems?: boolean } = {},
): Interactions {
  const data = parseInteractions(texts.ratings, names.ratings, {
    user: 'userId',
    item: 'movieId',
    rating: 'rating',
    timestamp: 'timestamp',
    ...(names.ratings.endsWith('.dat') && { user: 0, item: 1, rating: 2, timestamp: 3, header: false }),
  });
  if (texts.movies === undefined) return data;
  return parseItemFeatures(data, texts.movies, names.movies, {
    item: 'movieId',
    title: 'title',
    genres: 'genres',
    addItems: opts.addItems,
  });
}

/** ~/.cache/graduate/movielens-small: where fetchMovieLens() puts ml-latest-small by default. */
export function movieLensCacheDir(): string {
  return join(homedir(), '.cache', 'graduate', 'movielens-small');
}

/**
 * The ml-latest-small folder: $GRADUATE_DATA_DIR/movielens-small, then the cache's; a FormatError
 * that says how to fetch it when neither has a ratings.csv.
 */
export function findMovieLens(): string {
  const dirs: string[] = [];
  if (process.env.GRADUATE_DATA_DIR) dirs.push(join(process.env.GRADUATE_DATA_DIR, 'movielens-small'));
  dirs.push(movieLensCacheDir());
  const found = dirs.find((d) => existsSync(join(d, 'ratings.csv')));
  if (found) return found;
  throw new FormatError(
    `MovieLens (ml-latest-small) not found; tried:\n  ${dirs.join('\n  ')}\nRun \`graduate data fetch movielens-small\` to download it, or pass --data <folder with ratings.csv> or <interactions file>.`,
  );
}

/**
 * A --data spec for recommendation: 'movielens-small' (findMovieLens), a MovieLens folder
 * (loadMovieLens) or an interactions file (loadInteractions with opts).
 */
export function loadInteractionData(spec: string, opts: LoadInteractionsOptions = {}): Interactions {
  if (spec === 'movielens-small') return loadMovieLens(findMovieLens());
  if (existsSync(spec) && statSync(spec).isDirectory()) return loadMovieLens(spec);
  return loadInteractions(spec, opts);
}

/** The rows `rows` of `data` (row indices, any order), with the same users, items and id mapping. */
export function subsetInteractions(data: Interactions, rows: Int32Array): Interactions {
  const pick = <T extends Int32Array | Float32Array | Float64Array>(a: T, out: T): T => {
    for (let j = 0; j < rows.length; j++) out[j] = a[rows[j]];
    return out;
  };
  for (const r of rows)
    if (!(r >= 0 && r < data.size)) throw new ValueError(`subsetInteractions: row ${r} outside [0, ${data.size})`);
  const n = rows.length;
  return {
    ...data,
    size: n,
    users: pick(data.users, new Int32Array(n)),
    items: pick(data.items, new Int32Array(n)),
    ratings: data.ratings && pick(data.ratings, new Float32Array(n)),
    timestamps: data.timestamps && pick(data.timestamps, new Float64Array(n)),
  };
}

// ---- reading the table ----

interface Table {
  name: string;
  header?: string[];
  rows: string[][];
  lines: number[];
  /** Fields per row (the header's, else the first row's). */
  width: number;
  firstLine: number;
  columnName(c: number): string;
}

/**
 * The records of `text` split on the delimiter. Text without a double quote (or with `::`, which
 * MovieLens never quotes) is split by lines directly, 5× faster than csv-parse on 100k ratings;
 * anything quoted goes through csv-parse (RFC 4180).
 */
function readTable(text: string, name: string, opts: LoadInteractionsOptions): Table {
  const limits = inputLimits();
  const delimiter = opts.delimiter ?? sniffDelimiter(text);
  const { records, lines } =
    delimiter === '::' || !text.includes('"')
      ? splitLines(text, name, delimiter, limits)
      : parseCsv(text, name, { delimiter, limits });
  if (records.length === 0) throw new FormatError(`${name}: empty (expected interactions, one a line)`);
  const first = records[0];
  const given = [opts.user, opts.item, opts.rating, opts.timestamp].filter((c): c is string => typeof c === 'string');
  const known = new Set(Object.values(KNOWN).flat());
  const isHeader =
    opts.header ??
    (first.some((f) => known.has(normalize(f)) || given.includes(f)) ||
      first.every((f) => f === '' || !Number.isFinite(Number(f))));
  const header = isHeader ? first : undefined;
  if (header)
    header.forEach((h, j) => {
      const k = header.indexOf(h);
      if (k !== j)
        throw new FormatError(`${name}:${lines[0]}: the header names column '${h}' twice (${k + 1} and ${j + 1})`);
    });
  const table: Table = {
    name,
    header,
    rows: isHeader ? records.slice(1) : records,
    lines: isHeader ? lines.slice(1) : lines,
    width: first.length,
    firstLine: lines[0],
    columnName: (c) => header?.[c] ?? `#${c + 1}`,
  };
  return table;
}

function sniffDelimiter(text: string): string {
  const end = text.indexOf('\n');
  const line = end < 0 ? text : text.slice(0, end);
  return line.includes('::') ? '::' : line.includes('\t') ? '\t' : ',';
}

/** Non-empty lines of `text` split on `delimiter`, fields trimmed, with their 1-based line numbers. */
function splitLines(
  text: string,
  name: string,
  delimiter: string,
  limits: InputLimits,
): { records: string[][]; lines: number[] } {
  const records: string[][] = [];
  const lines: number[] = [];
  let start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (let line = 1; start <= text.length; line++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const stop = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    if (stop - start > limits.recordChars) checkRecord(`${name}:${line}`, stop - start, limits);
    const s = text.slice(start, stop);
    if (s.trim() !== '') {
      const fields = s.split(delimiter);
      for (let j = 0; j < fields.length; j++) fields[j] = fields[j].trim();
      records.push(fields);
      lines.push(line);
    }
    start = end + 1;
  }
  return { records, lines };
}

/** The column index for `role`: as given (name or position), else a known header name, else `position`. */
function pickColumn(
  table: Table,
  role: keyof typeof KNOWN,
  given: Column | undefined,
  position: number,
  optional = false,
): number {
  if (given !== undefined) return resolveColumn(table, given);
  if (table.header) {
    const j = table.header.findIndex((h) => KNOWN[role].includes(normalize(h)));
    if (j >= 0 || optional) return j;
    throw new FormatError(
      `${table.name}: no ${role} column in the header [${table.header.join(', ')}] (looked for ${KNOWN[role].join(', ')}; name it with the ${role} option)`,
    );
  }
  if (position < table.width) return position;
  if (optional) return -1;
  throw new FormatError(`${table.name}:${table.firstLine}: ${table.width} field(s), no ${role} column`);
}

function resolveColumn(table: Table, given: Column): number {
  if (typeof given === 'number') {
    if (!Number.isInteger(given) || given < 0 || given >= table.width)
      throw new ValueError(`${table.name}: column ${given} outside the ${table.width} of line ${table.firstLine}`);
    return given;
  }
  if (!table.header) throw new ValueError(`${table.name}: column '${given}' named, but the file has no header line`);
  const j = table.header.indexOf(given);
  if (j < 0) throw new FormatError(`${table.name}: no column '${given}' in the header [${table.header.join(', ')}]`);
  return j;
}

function idOf(map: Map<string, number>, table: Table, r: number, c: number): number {
  const id = table.rows[r][c];
  let k = map.get(id);
  if (k === undefined) {
    if (id === '') throw new FormatError(`${table.name}:${table.lines[r]}: column '${table.columnName(c)}' is empty`);
    k = map.size;
    map.set(id, k);
  }
  return k;
}

function numberIn(table: Table, r: number, c: number, headerLine: string | undefined): number {
  const row = table.rows[r];
  const cell = row[c];
  const v = Number(cell);
  if (cell === '' || !Number.isFinite(v)) {
    const at = `${table.name}:${table.lines[r]}`;
    if (headerLine !== undefined && row.join('\u0000') === headerLine)
      throw new FormatError(`${at}: the header line again ('${row.join(',')}'): are two files joined?`);
    throw new FormatError(`${at}: column '${table.columnName(c)}' is not a number ('${cell}')`);
  }
  return v;
}

/**
 * Renumbers ids (numbered by first appearance in `first`) so that index order is id order: numeric
 * when every id is an integer, else by string; `codes` is rewritten in place.
 */
function denseIds(first: Map<string, number>, codes: Int32Array): { ids: string[]; index: Map<string, number> } {
  const ids = [...first.keys()];
  const numeric = ids.every((id) => /^-?\d{1,15}$/.test(id));
  if (numeric) ids.sort((a, b) => Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0));
  else ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const index = new Map(ids.map((id, k) => [id, k]));
  const remap = new Int32Array(ids.length);
  for (const [id, k] of first) remap[k] = index.get(id) as number;
  for (let r = 0; r < codes.length; r++) codes[r] = remap[codes[r]];
  return { ids, index };
}
