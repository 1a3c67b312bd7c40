// The dependency rule, checked on src/ file by file (type-only and dynamic imports included):
//   a. runtime/, graph/ and serve/ never reach data/, tensor/, nn/, train/, optim/ or autograd/;
//   b. onnx/ never reaches compile/ or train/;
//   c. no cycles between folders (src/index.ts and cli/ may import everything; nothing imports cli/,
//      nothing but cli/ imports src/index.ts);
//   d. src/runtime/index.ts reaches only runtime/, graph/, kernels/, backend/, ops/, io/, shape/, audio/, text/ and
//      the root files (its bundle's contents and size: test/runtime/lean.test.ts).
// First each rule on small synthetic maps with a violation, so that a rule that cannot fail fails here.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ENTRY,
  folderCycles,
  folderOf,
  forbiddenReach,
  type ImportMap,
  REPO,
  ROOT,
  RUNTIME_REACH,
  reachOutside,
  scanImports,
  TRAINING,
} from './dependencies.js';

describe('dependency rules on synthetic import maps', () => {
  it('folderOf: the top-level folder under src/; files directly in src/ are the root, src/index.ts the entry', () => {
    expect(folderOf('src/serve/protocol.ts')).toBe('serve');
    expect(folderOf('src/compile/passes/fuse.ts')).toBe('compile');
    expect(folderOf('src/errors.ts')).toBe(ROOT);
    expect(folderOf('src/index.ts')).toBe(ENTRY);
  });

  it('forbiddenReach names the folder, and the shortest chain to where it first enters forbidden ground', () => {
    const map: ImportMap = {
      'src/serve/worker.ts': ['src/runtime/index.ts', 'src/errors.ts'],
      'src/runtime/index.ts': ['src/runtime/session.ts'],
      'src/runtime/session.ts': ['src/tensor/tensor.ts', 'src/graph/ir.ts'],
      'src/tensor/tensor.ts': ['src/autograd/apply.ts'],
      'src/graph/ir.ts': [],
      'src/errors.ts': [],
    };
    expect(forbiddenReach(map, ['serve'], TRAINING)).toEqual([
      'serve/ reaches tensor/: src/serve/worker.ts → src/runtime/index.ts → src/runtime/session.ts → src/tensor/tensor.ts',
    ]);
    expect(forbiddenReach(map, ['runtime', 'graph'], TRAINING)).toEqual([
      'runtime/ reaches tensor/: src/runtime/session.ts → src/tensor/tensor.ts',
    ]);
    expect(forbiddenReach(map, ['graph'], TRAINING)).toEqual([]);
    // rule b: through the folder's index
    const onnx: ImportMap = {
      'src/onnx/index.ts': ['src/onnx/import.ts', 'src/compile/capture.ts'],
      'src/onnx/import.ts': ['src/graph/ir.ts'],
      'src/compile/capture.ts': ['src/nn/module.ts'],
    };
    expect(forbiddenReach(onnx, ['onnx'], ['compile', 'train'])).toEqual([
      'onnx/ reaches compile/: src/onnx/index.ts → src/compile/capture.ts',
    ]);
  });

  it('folderCycles reports a cycle with one file edge per arc, and any import of cli/ or src/index.ts', () => {
    const map: ImportMap = {
      'src/io/image.ts': ['src/graph/ir.ts', 'src/errors.ts'],
      'src/graph/artifact.ts': ['src/io/fields.ts'],
      'src/graph/ir.ts': [],
      'src/io/fields.ts': [],
      'src/errors.ts': [],
      // sinks: may import anything, so no cycle through them
      'src/cli/main.ts': ['src/serve/server.ts', 'src/index.ts'],
      'src/index.ts': ['src/serve/server.ts', 'src/graph/ir.ts'],
      'src/serve/server.ts': ['src/graph/ir.ts'],
    };
    expect(folderCycles(map)).toEqual([
      'cycle between folders graph, io: graph → io (src/graph/artifact.ts → src/io/fields.ts); io → graph (src/io/image.ts → src/graph/ir.ts)',
    ]);
    expect(folderCycles({ ...map, 'src/serve/server.ts': ['src/cli/main.ts'] })).toEqual([
      'nothing may import cli/: src/serve/server.ts → src/cli/main.ts',
      'cycle between folders graph, io: graph → io (src/graph/artifact.ts → src/io/fields.ts); io → graph (src/io/image.ts → src/graph/ir.ts)',
    ]);
    const acyclic: ImportMap = { ...map, 'src/io/image.ts': ['src/errors.ts'] };
    expect(folderCycles(acyclic)).toEqual([]);
    expect(folderCycles({ ...acyclic, 'src/serve/server.ts': ['src/index.ts'] })).toEqual([
      'nothing may import src/index.ts: src/serve/server.ts → src/index.ts',
    ]);
    expect(folderCycles({ ...acyclic, 'src/index.ts': ['src/cli/main.ts'] })).toEqual([
      'nothing may import cli/: src/index.ts → src/cli/main.ts',
    ]);
    // three folders around: one component
    const ring: ImportMap = {
      'src/a/x.ts': ['src/b/y.ts'],
      'src/b/y.ts': ['src/c/z.ts'],
      'src/c/z.ts': ['src/a/x.ts', 'src/errors.ts'],
    };
    expect(folderCycles(ring)).toEqual([
      'cycle between folders a, b, c: a → b (src/a/x.ts → src/b/y.ts); b → c (src/b/y.ts → src/c/z.ts); c → a (src/c/z.ts → src/a/x.ts)',
    ]);
  });

  it('reachOutside names each file where a chain from the entry first leaves the allowed folders', () => {
    const map: ImportMap = {
      'src/runtime/index.ts': ['src/runtime/session.ts', 'src/errors.ts'],
      'src/runtime/session.ts': ['src/graph/ir.ts', 'src/kernels/gemm.ts'],
      'src/graph/ir.ts': ['src/nn/spec.ts'],
      'src/kernels/gemm.ts': [],
      'src/nn/spec.ts': ['src/tensor/tensor.ts'],
    };
    expect(reachOutside(map, 'src/runtime/index.ts', RUNTIME_REACH)).toEqual([
      `src/runtime/index.ts reaches nn/ (allowed: ${RUNTIME_REACH.join(', ')}): src/runtime/index.ts → src/runtime/session.ts → src/graph/ir.ts → src/nn/spec.ts`,
    ]);
    expect(reachOutside({ ...map, 'src/graph/ir.ts': [] }, 'src/runtime/index.ts', RUNTIME_REACH)).toEqual([]);
  });
});

describe('scanImports', () => {
  const repo = mkdtempSync(join(tmpdir(), 'graduate-deps-'));
  afterAll(() => rmSync(repo, { recursive: true, force: true }));
  const write = (file: string, text: string) => {
    mkdirSync(dirname(join(repo, file)), { recursive: true });
    writeFileSync(join(repo, file), text);
  };

  it('finds static, type-only, re-export, side-effect and dynamic imports; not comments or strings', () => {
    write(
      'src/serve/a.ts',
      [
        "import { x } from '../io/x.js';",
        "import type { T } from '../graph/ir.js';",
        "export { y } from './b.js';",
        "import '../errors.js';",
        "const m = await import('../runtime/index.js');",
        "type P = typeof import('../ops/table.js');",
        "import {\n  z,\n} from '../io/z.js';",
        "import { readFileSync } from 'node:fs';",
        "import ts from 'typescript';",
        "// import { c } from '../data/comment.js';",
        'const s = "import { d } from \'../data/string.js\'";',
        "import { gone } from './missing.js';",
      ].join('\n'),
    );
    for (const f of ['src/io/x.ts', 'src/graph/ir.ts', 'src/serve/b.ts', 'src/errors.ts', 'src/io/z.ts'])
      write(f, 'export {};\n');
    write('src/runtime/index.ts', "export * from './session.js';\n");
    write('src/runtime/session.ts', 'export {};\n');
    write('src/ops/table.ts', 'export {};\n');
    write('src/serve/worker-entry.js', "await import('./a.js');\n");
    write('src/kernels/as/gemm.ts', "import { micro } from './generated/micro';\n");
    const { imports, unresolved } = scanImports(repo);
    expect(imports['src/serve/a.ts']).toEqual(
      [
        'src/errors.ts',
        'src/graph/ir.ts',
        'src/io/x.ts',
        'src/io/z.ts',
        'src/ops/table.ts',
        'src/runtime/index.ts',
        'src/serve/b.ts',
      ].sort(),
    );
    expect(imports['src/runtime/index.ts']).toEqual(['src/runtime/session.ts']);
    expect(imports['src/serve/worker-entry.js']).toEqual(['src/serve/a.ts']);
    expect(unresolved).toEqual(['src/serve/a.ts: ./missing.js']);
    // AssemblyScript (NOT_MODULES) is not part of the module graph
    expect(Object.keys(imports).filter((f) => f.startsWith('src/kernels/as/'))).toEqual([]);
  });
});

describe('the dependency rule on src/', () => {
  const { imports, unresolved } = scanImports(REPO);

  it('scans the tree, and every relative import names a file', () => {
    expect(Object.keys(imports).length).toBeGreaterThan(50);
    expect(imports['src/runtime/index.ts']).toContain('src/runtime/session.ts');
    expect(unresolved).toEqual([]);
  });

  it('a. runtime/, graph/ and serve/ never reach data/, tensor/, nn/, train/, optim/ or autograd/', () => {
    expect(forbiddenReach(imports, ['runtime', 'graph', 'serve'], TRAINING)).toEqual([]);
  });

  it('b. onnx/ never reaches compile/ or train/', () => {
    expect(forbiddenReach(imports, ['onnx'], ['compile', 'train'])).toEqual([]);
  });

  it('c. no cycles between folders; nothing imports cli/, nothing but cli/ imports src/index.ts', () => {
    expect(folderCycles(imports)).toEqual([]);
  });

  it('d. src/runtime/index.ts reaches only the runtime side', () => {
    expect(reachOutside(imports, 'src/runtime/index.ts', RUNTIME_REACH)).toEqual([]);
  });
});
