// `graduate import` of general graphs from the command line: --input-shape NAME=D,… (a symbolic
// dimension given; -1 first keeps the batch axis) and --fix-input NAME=V,… (a shape input fixed at
// import) reach the import, the artifact runs as ONNX Runtime runs the file; import and inspect
// list the named inputs and outputs; predict refuses such a model, pointing to serve and
// runNamed; bad flag values are one-line errors naming the flag.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/kernels/engine.js';
import { loadArtifact } from '../../src/runtime/index.js';
import { cli } from '../cli/run.js';
import { symbolicModel, twoInputModel } from './named-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'graduate-named-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, bytes: Uint8Array) => {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
};

describe('graduate import / inspect / predict with named tensors', () => {
  it('import and inspect list the named inputs and outputs; predict refuses, pointing to serve and runNamed', async () => {
    const onnx = file('pair.onnx', twoInputModel());
    const out = join(dir, 'pair.grad');
    const r = await cli('import', onnx, '-o', out);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('inputs: x float32 [-1, 3, 4], ids int64 [-1, 3]');
    expect(r.stdout).toContain('outputs: sum float32 [-1, 3, 4], best int64 [-1, 3], pos bool [-1, 3, 4]');
    const i = await cli('inspect', out);
    expect(i.code).toBe(0);
    expect(i.stdout).toContain('inputs: x float32 [-1, 3, 4], ids int64 [-1, 3]');
    const tensor = file('x.json', new TextEncoder().encode(JSON.stringify([[1, 2, 3, 4]])));
    const p = await cli('predict', out, tensor);
    expect(p.code).toBe(1);
    expect(p.stderr).toContain(
      `graduate: ${out}: takes named tensors (x float32 [-1, 3, 4], ids int64 [-1, 3] → sum float32 [-1, 3, 4], best int64 [-1, 3], pos bool [-1, 3, 4])`,
    );
    expect(p.stderr).toContain(
      'use `graduate serve` (KServe v2: named inputs, every output) or InferenceModel.runNamed',
    );
  });

  it('--input-shape keeps the batch axis (-1) and gives a symbolic dim; --fix-input fixes the shape input', async () => {
    const onnx = file('sym.onnx', symbolicModel());
    const refused = await cli('import', onnx, '-o', join(dir, 'no.grad'));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/input 'x' dimension 1 is symbolic \('len'\): give the input's shape/);

    const out = join(dir, 'sym.grad');
    const r = await cli('import', onnx, '-o', out, '--input-shape', 'x=-1,6', '--fix-input', 'shape=0,2,3');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('inputs: x float32 [-1, 6]');
    expect(r.stdout).toContain('outputs: y float32 [-1, 2, 3]');
    expect(r.stdout).toContain('fixed at import: shape');

    const model = await loadArtifact(out, { engine: Engine.create({ threads: 1 }) });
    const x = Float32Array.from({ length: 18 }, (_, i) => i * 0.5 - 3);
    const y = model.runNamed({ x }).y as Float32Array;
    const s = await ort.InferenceSession.create(readFileSync(onnx));
    const ref = await s.run({
      x: new ort.Tensor('float32', x, [3, 6]),
      shape: new ort.Tensor('int64', BigInt64Array.of(0n, 2n, 3n), [3]),
    });
    await s.release();
    expect([...y]).toEqual([...(ref.y.data as Float32Array)]);
    expect(ref.y.dims).toEqual([3, 2, 3]);
    model.dispose();

    // a fixed shape (no batch axis) instead
    const fixedOut = join(dir, 'sym-fixed.grad');
    const f = await cli('import', onnx, '-o', fixedOut, '--input-shape', 'x=2,6', '--fix-input', 'shape=4,3,1');
    expect(f.code).toBe(0);
    expect(f.stdout).toContain('inputs: x float32 [2, 6]');
    expect(f.stdout).toContain('outputs: y float32 [4, 3, 1]');
  });

  it('bad flag values name the flag and what is wrong', async () => {
    const onnx = file('sym2.onnx', symbolicModel());
    const out = join(dir, 'bad.grad');
    const err = async (...flags: string[]) => {
      const r = await cli('import', onnx, '-o', out, ...flags);
      expect(r.code).toBe(1);
      return r.stderr.trim();
    };
    expect(await err('--input-shape', 'nope=1,2')).toBe(
      `graduate: --input-shape 'nope': ${onnx} has no input 'nope' (its inputs: x, shape)`,
    );
    expect(await err('--input-shape', 'x=2,-1')).toMatch(
      /--input-shape 'x=2,-1': '-1' is not a dimension \(integers ≥ 0; the first may be -1 for a batch axis\)/,
    );
    expect(await err('--input-shape', '2,6')).toMatch(/--input-shape '2,6': expected NAME=D,D,…/);
    expect(await err('--input-shape', 'x=-1,6', '--fix-input', 'shape=a')).toMatch(
      /--fix-input 'shape=a': 'a' is not a number/,
    );
    expect(await err('--input-shape', 'x=-1,6', '--fix-input', 'shape=0,6')).toBe(
      "graduate: --fix-input 'shape': 2 values, but its shape [3] holds 3",
    );
    expect(await err('--input-shape', 'x=-1,6,1')).toBe(
      `graduate: --input-shape x=-1,6,1: rank 3, but ${onnx} declares rank 2`,
    );
  });
});
