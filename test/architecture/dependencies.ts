// The dependency rule between the folders of src/ as functions over an import map {file → the
// files it imports}: which folders may reach which (the lean side never reaches training code),
// no cycles between folders, and what the lean runtime entry may reach. Each rule returns
// messages naming the offending files and the import chain, empty when the rule holds, so that
// the tests can feed a synthetic map and check that a violation is caught. scanImports builds the
// map of src/. Not for: bundle contents and size (test/runtime/lean.test.ts bundles the runtime).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** file → the files it imports, as repo-relative paths with '/' ('src/serve/protocol.ts'). */
export type ImportMap = Readonly<Record<string, readonly string[]>>;

/** The folder name of files directly in src/ (errors.ts, limits.ts). */
export const ROOT = '(root)';
/** The folder name of src/index.ts, the public entry: it may import anything. */
export const ENTRY = '(entry)';
/** The folder name of files outside src/. */
export const OUTSIDE = '(outside)';

/** Training-side folders the lean side never reaches. */
export const TRAINING = ['data', 'tensor', 'nn', 'train', 'optim', 'autograd'] as const;

/**
 * What the runtime's public entry (src/runtime/index.ts) may reach, file by file: the executor,
 * the IR, the kernels and the backend over them, the op table, io/ readers, the root files, and
 * shape/ (window geometry and broadcasting, split out of kernels/ for every layer to use).
 * test/runtime/lean.test.ts checks its bundle against the same list.
 */
export const RUNTIME_REACH = [
  'runtime',
  'graph',
  'kernels',
  'backend',
  'ops',
  'io',
  'shape',
  'audio',
  'text',
  ROOT,
] as const;

/** The top-level folder under src/ that holds `file`: 'serve', ROOT, ENTRY or OUTSIDE. */
export function folderOf(file: string): string {
  const parts = file.split('/');
  if (parts[0] !== 'src' || parts.length < 2) return OUTSIDE;
  if (parts.length === 2) return file === 'src/index.ts' ? ENTRY : ROOT;
  return parts[1];
}

/**
 * AssemblyScript, compiled to .wasm by its own compiler (npm run build:wasm), never loaded as a JS
 * module; tsconfig.json leaves it out too, and its generated/ files exist only after a build.
 */
export const NOT_MODULES = ['src/kernels/as'];

/** Source files (.ts, .js, .mjs) under `dir`, repo-relative, sorted; folders in `skip` left out. */
function sourceFiles(repo: string, dir: string, skip: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(join(repo, d)).sort()) {
      const p = `${d}/${name}`;
      if (skip.includes(p)) continue;
      if (statSync(join(repo, p)).isDirectory()) walk(p);
      else if (/\.(ts|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** The file a relative specifier names ('./x.js' is x.ts under NodeNext), or undefined. */
function resolveRelative(repo: string, from: string, spec: string): string | undefined {
  const base = posix.normalize(posix.join(posix.dirname(from), spec));
  const candidates = [
    base.replace(/\.js$/, '.ts'),
    base.replace(/\.mjs$/, '.mts'),
    base,
    `${base}.ts`,
    `${base}/index.ts`,
  ];
  return candidates.find((c) => existsSync(join(repo, c)) && statSync(join(repo, c)).isFile());
}

/**
 * Every static (`import … from`, `export … from`, `import type`, side-effect `import '…'`) and
 * dynamic (`import('…')`, also in types) relative import of every source file under `dir` but
 * those in `skip`, resolved to files. Package and `node:` imports are left out; relative imports
 * that name no file are returned in `unresolved` ("FILE: SPEC").
 */
export function scanImports(
  repo: string,
  dir = 'src',
  skip: readonly string[] = NOT_MODULES,
): { imports: ImportMap; unresolved: string[] } {
  const imports: Record<string, string[]> = {};
  const unresolved: string[] = [];
  for (const file of sourceFiles(repo, dir, skip)) {
    const info = ts.preProcessFile(readFileSync(join(repo, file), 'utf8'), true, true);
    const targets = new Set<string>();
    for (const { fileName: spec } of info.importedFiles) {
      if (!spec.startsWith('.')) continue;
      const target = resolveRelative(repo, file, spec);
      if (target) targets.add(target);
      else unresolved.push(`${file}: ${spec}`);
    }
    imports[file] = [...targets].sort();
  }
  return { imports, unresolved };
}

/** The repository root (two levels above this file). */
export const REPO = fileURLToPath(new URL('../../', import.meta.url));

const chainText = (chain: readonly string[]) => chain.join(' → ');

/**
 * Breadth-first from `starts` over file imports, not going past files for which `stop` holds;
 * for every such file reached, the shortest chain from a start file to it.
 */
function chainsTo(map: ImportMap, starts: readonly string[], stop: (file: string) => boolean): string[][] {
  const parent = new Map<string, string | null>();
  const queue: string[] = [];
  for (const s of [...starts].sort()) {
    parent.set(s, null);
    queue.push(s);
  }
  const hits: string[] = [];
  for (let i = 0; i < queue.length; i++) {
    const f = queue[i];
    if (stop(f)) {
      hits.push(f);
      continue;
    }
    for (const t of map[f] ?? []) {
      if (parent.has(t)) continue;
      parent.set(t, f);
      queue.push(t);
    }
  }
  return hits.map((hit) => {
    const chain = [hit];
    for (let p = parent.get(hit); p; p = parent.get(p)) chain.unshift(p);
    return chain;
  });
}

/**
 * Rules a and b: no file of a folder in `from` reaches, through any chain of imports, a file of a
 * folder in `forbidden`. One message per forbidden file where a chain first enters forbidden
 * ground, with the shortest such chain.
 */
export function forbiddenReach(map: ImportMap, from: readonly string[], forbidden: readonly string[]): string[] {
  const out: string[] = [];
  for (const folder of from) {
    const starts = Object.keys(map).filter((f) => folderOf(f) === folder);
    for (const chain of chainsTo(map, starts, (f) => forbidden.includes(folderOf(f)))) {
      out.push(`${folder}/ reaches ${folderOf(chain[chain.length - 1])}/: ${chainText(chain)}`);
    }
  }
  return out;
}

/**
 * Rule d: `entry` reaches no file outside the `allowed` folders. One message per file where a
 * chain first leaves them, with the shortest chain.
 */
export function reachOutside(map: ImportMap, entry: string, allowed: readonly string[]): string[] {
  return chainsTo(map, [entry], (f) => !allowed.includes(folderOf(f))).map(
    (chain) =>
      `${entry} reaches ${folderOf(chain[chain.length - 1])}/ (allowed: ${allowed.join(', ')}): ${chainText(chain)}`,
  );
}

/**
 * Rule c: no cycles between folders. `sinks` (the public entry, cli/) may import every folder, so
 * their imports are left out of the folder graph; but nothing may import a sink (one message per
 * importing file), except the folders `mayImportSink` names for it (the CLI may use the public
 * entry). Each strongly connected component of more than one folder is one message, with one
 * example file edge for each arc inside it.
 */
export function folderCycles(
  map: ImportMap,
  sinks: readonly string[] = [ENTRY, 'cli'],
  mayImportSink: Readonly<Record<string, readonly string[]>> = { [ENTRY]: ['cli'] },
): string[] {
  const out: string[] = [];
  // arc "a\0b" → the first file edge (sorted) that makes it
  const example = new Map<string, string>();
  const next = new Map<string, Set<string>>();
  for (const file of Object.keys(map).sort()) {
    const a = folderOf(file);
    for (const target of map[file]) {
      const b = folderOf(target);
      if (a === b) continue;
      if (sinks.includes(b)) {
        if (mayImportSink[b]?.includes(a)) continue;
        out.push(`nothing may import ${b === ENTRY ? 'src/index.ts' : `${b}/`}: ${file} → ${target}`);
        continue;
      }
      if (sinks.includes(a)) continue;
      if (!next.has(a)) next.set(a, new Set());
      next.get(a)!.add(b);
      const arc = `${a}\0${b}`;
      if (!example.has(arc)) example.set(arc, `${file} → ${target}`);
    }
  }
  for (const scc of stronglyConnected(next)) {
    if (scc.length < 2) continue;
    const arcs = [...example.entries()]
      .map(([arc, edge]) => [...arc.split('\0'), edge])
      .filter(([a, b]) => scc.includes(a) && scc.includes(b))
      .map(([a, b, edge]) => `${a} → ${b} (${edge})`);
    out.push(`cycle between folders ${scc.join(', ')}: ${arcs.join('; ')}`);
  }
  return out;
}

/** Tarjan's strongly connected components of a directed graph, each sorted, in sorted order. */
function stronglyConnected(next: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const nodes = [...new Set([...next.keys(), ...[...next.values()].flatMap((s) => [...s])])].sort();
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of [...(next.get(v) ?? [])].sort()) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      out.push(scc.sort());
    }
  };
  for (const v of nodes) if (!index.has(v)) visit(v);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}
