// Generates src/kernels/exports.generated.ts, the TypeScript view of the wasm kernel modules'
// exports, from the AssemblyScript sources: the exported functions of the training entry
// (src/kernels/as/index.ts) and of every module it re-exports (`export *` or `export { … } from`),
// one interface per module, and the export names of both entries (the inference entry,
// as/index-infer.ts, must be a subset). The file is checked in, so `npm run typecheck` works
// before any build; build-wasm.mjs regenerates it, test/kernels/exports.test.ts fails when stale.
// Usage: node scripts/gen-exports.mjs [--check]   (--check: exit 1 if the file is stale)
// Not for: the hand-written constants (EPI, ACT) and helper types (src/kernels/exports.ts).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const AS_DIR = 'src/kernels/as';
export const TRAIN_ENTRY = `${AS_DIR}/index.ts`;
export const INFER_ENTRY = `${AS_DIR}/index-infer.ts`;
export const OUTPUT = 'src/kernels/exports.generated.ts';
const LINE_WIDTH = 120; // biome.json's formatter.lineWidth: the output must pass `biome check` as is

/** AssemblyScript types allowed at the wasm boundary → the JS value they take. */
const JS_TYPES = {
  i8: 'number',
  i16: 'number',
  i32: 'number',
  u8: 'number',
  u16: 'number',
  u32: 'number',
  isize: 'number',
  usize: 'number',
  bool: 'number',
  f32: 'number',
  f64: 'number',
  i64: 'bigint',
  u64: 'bigint',
};

/**
 * `src` with comments and string contents blanked to spaces (newlines kept), so that positions
 * match the original and nothing inside a comment or string reads as code.
 */
function maskCode(src) {
  const out = src.split('');
  let i = 0;
  const blank = (from, to) => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  while (i < src.length) {
    const c = src[i];
    if (c === '/' && src[i + 1] === '/') {
      const end = src.indexOf('\n', i);
      const stop = end < 0 ? src.length : end;
      blank(i, stop);
      i = stop;
    } else if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === "'" || c === '"' || c === '`') {
      let k = i + 1;
      while (k < src.length && src[k] !== c) k += src[k] === '\\' ? 2 : 1;
      blank(i + 1, k);
      i = k + 1;
    } else i++;
  }
  return out.join('');
}

/** The JSDoc block right before position `at` (only blank lines, `//` lines and decorators between). */
function docBefore(src, at) {
  const m = /\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*(?:\/\/[^\n]*\s*|@\w+\s*)*$/.exec(src.slice(0, at));
  if (!m) return [];
  const lines = m[1].split('\n').map((l) => l.replace(/^\s*\*? ?/, '').trimEnd());
  while (lines.length && lines[0].trim() === '') lines.shift();
  while (lines.length && lines[lines.length - 1].trim() === '') lines.pop();
  return lines;
}

/** Index just past the bracket that closes the one at `open` (in masked code). */
function closing(code, open) {
  const pairs = { '(': ')', '{': '}', '[': ']', '<': '>' };
  const stack = [];
  for (let i = open; i < code.length; i++) {
    const c = code[i];
    if (c in pairs) stack.push(pairs[c]);
    else if (c === stack[stack.length - 1]) {
      stack.pop();
      if (stack.length === 0) return i + 1;
    }
  }
  throw new Error('unbalanced brackets');
}

function typeOf(asType, where, isReturn) {
  const t = asType.trim();
  if (isReturn && t === 'void') return 'void';
  if (!(t in JS_TYPES)) {
    throw new Error(`${where}: type '${t}' cannot cross the wasm boundary (expected one of ${Object.keys(JS_TYPES)})`);
  }
  return t;
}

/**
 * The top-level exports of one AssemblyScript file, in source order: functions ({ fn: name,
 * params, result, doc }) and re-exports ({ from, names: null for `export *` }). Anything else
 * exported is an error: it would become a wasm export this generator does not know how to type.
 */
export function parseModule(file) {
  const src = readFileSync(join(root, file), 'utf8');
  const code = maskCode(src);
  const items = [];
  let depth = 0;
  for (let i = 0; i < code.length; i++) {
    const c = code[i];
    if (c === '{') depth++;
    else if (c === '}') depth--;
    if (depth !== 0 || !/^export\b/.test(code.slice(i, i + 7)) || /[\w$.]/.test(code[i - 1] ?? '')) continue;
    const where = `${file}:${src.slice(0, i).split('\n').length}`;
    const rest = code.slice(i);
    const star = /^export\s*\*\s*from\s*(['"])/.exec(rest);
    const named = /^export\s*\{/.exec(rest);
    const fn = /^export\s+function\s+(\w+)\s*\(/.exec(rest);
    if (star) {
      const q = i + star[0].length;
      items.push({ from: src.slice(q, code.indexOf(star[1], q)), names: null, where });
      i = q;
    } else if (named) {
      const close = code.indexOf('}', i);
      const tail = /^\s*from\s*(['"])/.exec(code.slice(close + 1));
      if (!tail) throw new Error(`${where}: only \`export { … } from '…'\` is supported, not local export lists`);
      const names = code
        .slice(i + named[0].length, close)
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .map((s) => {
          const m = /^(\w+)(?:\s+as\s+(\w+))?$/.exec(s);
          if (!m) throw new Error(`${where}: cannot read re-export '${s}'`);
          return { name: m[1], as: m[2] ?? m[1] };
        });
      const q = close + 1 + tail[0].length;
      items.push({ from: src.slice(q, code.indexOf(tail[1], q)), names, where });
      i = q;
    } else if (fn) {
      const name = fn[1];
      const open = i + fn[0].length - 1;
      const end = closing(code, open);
      const params = code
        .slice(open + 1, end - 1)
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .map((p) => {
          const m = /^(\w+)(\?)?\s*:\s*(\w+)\s*(=.*)?$/s.exec(p);
          if (!m) throw new Error(`${where}: cannot read parameter '${p}' of ${name}`);
          return { name: m[1], type: typeOf(m[3], `${where} ${name}(${m[1]})`), optional: !!(m[2] || m[4]) };
        });
      const result = /^\s*:\s*(\w+)\s*\{/.exec(code.slice(end));
      if (!result) throw new Error(`${where}: ${name} needs an explicit return type`);
      items.push({ fn: name, params, result: typeOf(result[1], `${where} ${name}()`, true), doc: docBefore(src, i) });
      i = end;
    } else {
      const what = /^export\s+(\w+(?:\s+\w+)?)/.exec(rest)?.[1] ?? rest.slice(0, 30);
      throw new Error(
        `${where}: unsupported export '${what}': only functions and re-exports become typed wasm exports`,
      );
    }
  }
  return items;
}

/**
 * What a module exports, in order: [{ name, module (the file declaring it), fn }], following
 * re-exports recursively. For an entry file these are the wasm module's function exports.
 */
export function moduleExports(file) {
  if (!existsSync(join(root, file))) {
    throw new Error(`${file} does not exist${file.includes('/generated/') ? ' (run `npm run build:wasm`)' : ''}`);
  }
  const out = new Map();
  const add = (item, where) => {
    const prev = out.get(item.name);
    if (prev && prev.fn !== item.fn) throw new Error(`${where}: '${item.name}' is exported twice`);
    out.set(item.name, item);
  };
  for (const item of parseModule(file)) {
    if (item.fn) {
      add({ name: item.fn, module: file, fn: item }, file);
      continue;
    }
    const target = join(dirname(file), `${item.from}.ts`);
    const sub = moduleExports(target);
    if (item.names === null) for (const e of sub) add(e, item.where);
    for (const { name, as } of item.names ?? []) {
      const e = sub.find((x) => x.name === name);
      if (!e) throw new Error(`${item.where}: ${target} exports no function '${name}'`);
      add({ ...e, name: as }, item.where);
    }
  }
  return [...out.values()];
}

/** `FileName` for `as/winograd_i8.ts` → `WinogradI8`. */
function interfaceName(file) {
  const base = basename(file, '.ts').replace(/(^|[_-])(\w)/g, (_, __, ch) => ch.toUpperCase());
  return `${base}Exports`;
}

function docLines(doc, indent) {
  if (doc.length === 0) return [];
  if (doc.length === 1) return [`${indent}/** ${doc[0]} */`];
  return [`${indent}/**`, ...doc.map((l) => (l ? `${indent} * ${l}` : `${indent} *`)), `${indent} */`];
}

function method(name, fn) {
  const params = fn.params.map((p) => `${p.name}${p.optional ? '?' : ''}: ${p.type}`);
  const one = `  ${name}(${params.join(', ')}): ${fn.result};`;
  if (one.length <= LINE_WIDTH) return [one];
  return [`  ${name}(`, ...params.map((p) => `    ${p},`), `  ): ${fn.result};`];
}

function nameList(name, type, doc, names) {
  const one = `export const ${name}: ${type} = [${names.map((n) => `'${n}'`).join(', ')}];`;
  if (one.length <= LINE_WIDTH) return [`/** ${doc} */`, one];
  return [`/** ${doc} */`, `export const ${name}: ${type} = [`, ...names.map((n) => `  '${n}',`), '];'];
}

/** The text of src/kernels/exports.generated.ts. */
export function renderExports() {
  const train = moduleExports(TRAIN_ENTRY);
  const infer = moduleExports(INFER_ENTRY);
  const trainNames = new Set(train.map((e) => e.name));
  const extra = infer.filter((e) => !trainNames.has(e.name)).map((e) => e.name);
  if (extra.length) throw new Error(`${INFER_ENTRY} exports ${extra.join(', ')}, which ${TRAIN_ENTRY} does not`);

  const modules = [...new Set(train.map((e) => e.module))];
  const used = new Set(train.flatMap((e) => [...e.fn.params.map((p) => p.type), e.fn.result]));
  const lines = [
    '// GENERATED by scripts/gen-exports.mjs from the AssemblyScript kernel sources: do not edit.',
    `// Entries: ${TRAIN_ENTRY} (training module), ${INFER_ENTRY} (inference module).`,
    '// Regenerate with `node scripts/gen-exports.mjs` (`npm run build:wasm` runs it; a test fails when stale).',
    '// The TypeScript view of the wasm kernel modules: one interface per AssemblyScript module, with',
    "// AssemblyScript's parameter types kept as aliases of the JS values they take (pointers and",
    '// sizes are byte addresses / element counts in the engine memory). Kernels the pool can split end',
    '// with (start, end, scratch); see engine.ts `split`.',
    '',
  ];
  for (const t of Object.keys(JS_TYPES).filter((k) => used.has(k))) lines.push(`type ${t} = ${JS_TYPES[t]};`);
  for (const file of modules) {
    lines.push('', `// ${relative(AS_DIR, file)}`, `export interface ${interfaceName(file)} {`);
    for (const e of train.filter((x) => x.module === file)) {
      lines.push(...docLines(e.fn.doc, '  '), ...method(e.name, e.fn));
    }
    lines.push('}');
  }
  const families = modules.map(interfaceName);
  const head = `export interface KernelExports extends ${families.join(', ')} {}`;
  lines.push('', `/** Every export of the training module, kernels-<isa>-<mem>.wasm (${TRAIN_ENTRY}). */`);
  if (head.length <= LINE_WIDTH) lines.push(head);
  else {
    lines.push('export interface KernelExports');
    families.forEach((f, i) => {
      const last = i === families.length - 1;
      lines.push(`${i === 0 ? '  extends ' : '    '}${f}${last ? ' {}' : ','}`);
    });
  }
  const type = 'readonly (keyof KernelExports)[]';
  lines.push('', ...nameList('KERNEL_NAMES', type, 'Names of KernelExports, in module order.', [...trainNames]));
  lines.push(
    '',
    ...nameList(
      'INFER_KERNEL_NAMES',
      type,
      `Exports of the inference module, kernels-infer-<isa>-<mem>.wasm (${INFER_ENTRY}).`,
      infer.map((e) => e.name),
    ),
  );
  return `${lines.join('\n')}\n`;
}

/** Writes the file when its content changed; returns true if it did. */
export function writeExports() {
  const text = renderExports();
  const path = join(root, OUTPUT);
  if (existsSync(path) && readFileSync(path, 'utf8') === text) return false;
  writeFileSync(path, text);
  return true;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv.includes('--check')) {
    const path = join(root, OUTPUT);
    if (!existsSync(path) || readFileSync(path, 'utf8') !== renderExports()) {
      console.error(`${OUTPUT} is stale: run \`node scripts/gen-exports.mjs\``);
      process.exit(1);
    }
  } else if (writeExports()) console.log(`wrote ${OUTPUT}`);
}
