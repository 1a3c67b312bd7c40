// One validator for inspect and the runtime: artifacts crafted to break each rule the Session,
// the memory plan, the kernels or `graduate inspect` rely on are refused when read, with a
// FormatError naming the file, the node and the field — before, inspect printed them and predict
// then failed (or crashed with a stack). Valid artifacts still load, run and inspect. The CLI
// names missing files, directories and out-of-memory inputs on one line, and exits 2 on bugs.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { lastResort } from '../../src/cli/main.js';
import { FormatError } from '../../src/errors.js';
import { readArtifact, writeArtifact } from '../../src/graph/artifact.js';
import type { Graph } from '../../src/graph/ir.js';
import * as G from '../../src/index.js';
import { Session } from '../../src/runtime/session.js';
import { cli } from '../cli/run.js';
import { craftedHeaders, floatGraph, INPUT, int8Graph, rewriteHeader } from './craft.js';

const dir = mkdtempSync(join(tmpdir(), 'graduate-validate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const float = writeArtifact(floatGraph());
const int8 = writeArtifact(int8Graph());
const CRAFTED = craftedHeaders(float, int8);

describe('validateGraph through readArtifact: crafted artifacts', () => {
  it.each(CRAFTED)('%s: a FormatError naming the file and the field', (_, bytes, edit, message) => {
    const crafted = rewriteHeader(bytes, edit);
    expect(() => readArtifact(crafted, 'crafted.grad')).toThrow(FormatError);
    expect(() => readArtifact(crafted, 'crafted.grad')).toThrow(new RegExp(`^crafted\\.grad: ${message.source}`));
  });

  it('activations that fit one by one but not together: the bytes needed, naming the input shape', () => {
    const shape = [-1, 6000, 6000, 4]; // 576 MB per value; input and output are live at once
    const g: Graph = {
      inputs: ['x'],
      outputs: ['y'],
      values: { x: { shape, dtype: 'float32' }, y: { shape, dtype: 'float32' } },
      constants: {},
      nodes: [{ name: 'act', op: 'unary', inputs: ['x'], output: 'y', attrs: { fn: 'relu' } }],
      meta: { classNames: [], input: { kind: 'image', shape: shape.slice(1) }, producer: 'test' },
    };
    expect(() => readArtifact(writeArtifact(g), 'big.grad')).toThrow(
      /^big\.grad: one sample needs 1152000000 bytes of activations \(input \[-1, 6000, 6000, 4\]\) .* more than the engine's memory \(1073741824 bytes\)/,
    );
  });

  it('a NaN or infinite weight (float32, or a float16 overflow) is refused naming the constant and index', () => {
    const g = floatGraph();
    const [name, c] = Object.entries(g.constants).find(([, k]) => k.dtype === 'float32' && k.data.length > 3) ?? [];
    if (!name || !c) throw new Error('the float graph has no float32 weight');
    const data = Float32Array.from(c.data as Float32Array);
    data[3] = Number.NaN;
    const nan = { ...g, constants: { ...g.constants, [name]: { ...c, data } } };
    expect(() => readArtifact(writeArtifact(nan), 'nan.grad')).toThrow(
      new RegExp(`^nan\\.grad: constant '${name.replace(/\./g, '\\.')}' holds NaN at index 3`),
    );
    const half = Uint16Array.from(data, () => 0x3c00); // 1.0
    half[2] = 0xfc00; // -Infinity: a value below -65504 at conversion
    const f16 = { ...g, constants: { ...g.constants, [name]: { ...c, dtype: 'float16' as const, data: half } } };
    expect(() => readArtifact(writeArtifact(f16), 'f16.grad')).toThrow(/overflows float16 at index 2 .*-Infinity/);
  });

  it.each([
    ['float32', float],
    ['int8', int8],
  ])('the %s artifact still reads, runs and inspects', async (_, bytes) => {
    const g = readArtifact(bytes, 'ok.grad');
    const s = new Session(g, { engine: G.engine(), maxBatch: 2 });
    const out = s.run(
      Float32Array.from({ length: 2 * 128 }, (_, i) => Math.cos(i)),
      2,
    );
    expect(out.every(Number.isFinite)).toBe(true);
    s.dispose();
    const file = join(dir, `ok-${_}.grad`);
    writeFileSync(file, bytes);
    const r = await cli('inspect', file);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`input: {"kind":"image","shape":[${INPUT.join(',')}]`);
  });
});

describe('graduate inspect: one-line errors, exit codes', () => {
  it('a missing file and a directory: one line naming the path (io/read.ts readFileChecked), exit 1', async () => {
    const missing = join(dir, 'missing.grad');
    expect(await cli('inspect', missing)).toMatchObject({
      code: 1,
      stderr: `graduate: ${missing}: cannot read artifact (ENOENT)`,
    });
    const folder = join(dir, 'folder.grad');
    mkdirSync(folder);
    const r = await cli('inspect', folder);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^graduate: .*folder\.grad: is a folder, expected an? artifact$/);
    expect(r.stderr).toContain(folder);
  });

  it('a crafted artifact: exit 1 naming the file and field, no stack', async () => {
    const file = join(dir, 'nometa.grad');
    writeFileSync(
      file,
      rewriteHeader(float, (h) => {
        delete h.graph.meta;
      }),
    );
    const r = await cli('inspect', file);
    expect(r).toMatchObject({ code: 1, stderr: `graduate: ${file}: meta is missing (classNames, input)` });
    expect(await cli('inspect', file.replace('nometa', 'x'), '--max-batch', '0')).toMatchObject({
      code: 1,
      stderr: 'graduate: --max-batch must be a positive integer, got 0',
    });
  });

  it('last resort: system errors and allocation failures exit 1 on one line; bugs exit 2, the stack only with GRADUATE_DEBUG', () => {
    const err: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
    try {
      const enoent = Object.assign(new Error('ENOENT: no such file'), {
        code: 'ENOENT',
        path: 'a.json',
        syscall: 'open',
      });
      expect(lastResort(enoent)).toBe(1);
      expect(lastResort(new RangeError('Array buffer allocation failed'))).toBe(1);
      expect(err.splice(0)).toEqual([
        'graduate: a.json: cannot open (ENOENT)',
        'graduate: out of memory: Array buffer allocation failed',
      ]);
      const bug = new TypeError("Cannot read properties of undefined (reading 'shape')");
      vi.stubEnv('GRADUATE_DEBUG', '');
      expect(lastResort(bug)).toBe(2);
      expect(err.splice(0)).toEqual([
        "graduate: internal error: Cannot read properties of undefined (reading 'shape') (please report it; GRADUATE_DEBUG=1 prints the stack)",
      ]);
      vi.stubEnv('GRADUATE_DEBUG', '1');
      expect(lastResort(bug)).toBe(2);
      expect(err[1]).toContain('TypeError: Cannot read properties');
    } finally {
      vi.unstubAllEnvs();
      spy.mockRestore();
    }
  });
});
