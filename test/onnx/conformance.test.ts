// ONNX's backend test suite (Debian libonnx-testdata) through Graduate, whole: every test listed in
// conformance-passes.txt must still pass (a regression fails here), and no test may run and give a
// wrong answer or crash — a model Graduate cannot run is refused by name. `npm run conformance`
// prints the full table; refresh the list with `npm run conformance -- --write
// test/onnx/conformance-passes.txt` when more pass.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ConformanceResult, conformanceTests, runConformanceTest } from './conformance.js';

const DATA = '/usr/share/libonnx-testdata/data';
const FOLDERS = ['simple', 'pytorch-converted', 'pytorch-operator', 'node'];
const expected = readFileSync(new URL('./conformance-passes.txt', import.meta.url), 'utf8')
  .split('\n')
  .filter(Boolean);

describe.skipIf(!existsSync(DATA))('ONNX backend test suite', () => {
  const results: ConformanceResult[] = FOLDERS.flatMap((f) =>
    conformanceTests(DATA, f).map((t) => runConformanceTest(join(DATA, f), f, t)),
  );

  it('reads the whole suite (1,072 tests in the four folders)', () => {
    expect(results.length).toBeGreaterThanOrEqual(1000);
  });

  it('passes every test of the committed list', () => {
    const status = new Map(results.map((r) => [`${r.folder}/${r.test}`, r]));
    const regressed = expected.filter((t) => status.get(t)?.status !== 'pass');
    expect(regressed.map((t) => `${t}: ${status.get(t)?.status} ${status.get(t)?.detail ?? ''}`)).toEqual([]);
  });

  it('never answers wrong and never crashes: what it cannot run, it refuses by name', () => {
    const bad = results.filter((r) => r.status === 'fail' || r.status === 'error');
    expect(bad.map((r) => `${r.folder}/${r.test}: ${r.status} ${r.detail}`)).toEqual([]);
  });
});

if (!existsSync(DATA)) console.log(`conformance: ${DATA} missing (apt-get install libonnx-testdata): skipped`);
