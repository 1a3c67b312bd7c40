// npm run conformance [-- --data DIR] [--folders a,b] [--write FILE] [--json FILE] — ONNX's own
// backend test suite (Debian libonnx-testdata: /usr/share/libonnx-testdata/data/{node,
// pytorch-converted,pytorch-operator,simple}/<test>/model.onnx + test_data_set_*/{input,output}_*.pb)
// through Graduate: import → Session → compare with the expected outputs (the suite's tolerance:
// |got − want| ≤ atol + rtol·|want|, rtol 1e-3, atol 1e-7). Each test is pass, fail (ran, wrong
// numbers — the worst kind), unsupported (refused at import or at load, with the reason) or error
// (anything else: a crash is a defect). Prints counts per folder and per op, the refusal reasons
// by frequency, and with --write the list of passing tests (test/onnx/conformance-passes.txt is
// that list, committed: test/onnx/conformance.test.ts fails when one of them stops passing).
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type ConformanceResult, conformanceTests, runConformanceTest } from '../test/onnx/conformance.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: '/usr/share/libonnx-testdata/data' },
    folders: { type: 'string', default: 'simple,pytorch-converted,pytorch-operator,node' },
    write: { type: 'string' },
    json: { type: 'string' },
  },
});
if (!existsSync(values.data)) {
  console.log(`conformance: ${values.data} is missing (apt-get install libonnx-testdata); nothing to run`);
  process.exit(0);
}
const results: ConformanceResult[] = [];
const t0 = performance.now();
for (const folder of values.folders.split(',')) {
  for (const test of conformanceTests(values.data, folder))
    results.push(runConformanceTest(join(values.data, folder), folder, test));
}
const secs = ((performance.now() - t0) / 1000).toFixed(1);

const count = (rs: ConformanceResult[]) => {
  const c = { pass: 0, fail: 0, unsupported: 0, error: 0 };
  for (const r of rs) c[r.status]++;
  return c;
};
const pct = (a: number, n: number) => (n ? `${((100 * a) / n).toFixed(1)}%` : '-');
console.log(`ONNX backend test suite (${values.data}), ${results.length} tests in ${secs} s`);
console.log('folder                 tests   pass   fail  unsupp  error   pass%');
for (const folder of values.folders.split(',')) {
  const rs = results.filter((r) => r.folder === folder);
  const c = count(rs);
  console.log(
    `${folder.padEnd(20)} ${String(rs.length).padStart(7)} ${String(c.pass).padStart(6)} ${String(c.fail).padStart(6)} ${String(c.unsupported).padStart(7)} ${String(c.error).padStart(6)} ${pct(c.pass, rs.length).padStart(7)}`,
  );
}
const all = count(results);
const frozen = results.filter((r) => r.status === 'pass' && r.frozen);
console.log(
  `${'all'.padEnd(20)} ${String(results.length).padStart(7)} ${String(all.pass).padStart(6)} ${String(all.fail).padStart(6)} ${String(all.unsupported).padStart(7)} ${String(all.error).padStart(6)} ${pct(all.pass, results.length).padStart(7)}`,
);

console.log(
  `(of the passes, ${frozen.length} ran with shape/axes inputs fixed at import to the test data's values — ImportOptions.constants, as a static graph needs them)`,
);

// per op (node tests: the ops of each model)
const perOp = new Map<string, ConformanceResult[]>();
for (const r of results.filter((r) => r.folder === 'node'))
  for (const op of r.ops) perOp.set(op, [...(perOp.get(op) ?? []), r]);
const opRows = [...perOp.entries()].map(([op, rs]) => [op, count(rs), rs.length] as const);
console.log('\nnode tests by op (ops with a pass or a fail; the rest are refused whole):');
for (const [op, c, n] of opRows.filter(([, c]) => c.pass + c.fail + c.error > 0).sort()) {
  console.log(
    `  ${op.padEnd(28)} ${c.pass}/${n} pass${c.fail ? `, ${c.fail} FAIL` : ''}${c.error ? `, ${c.error} error` : ''}`,
  );
}
// why tests are refused, most frequent first (the reason with its file and node names cut)
const reasons = new Map<string, number>();
for (const r of results.filter((r) => r.status !== 'pass'))
  reasons.set(r.reason ?? '', (reasons.get(r.reason ?? '') ?? 0) + 1);
console.log('\nreasons (most frequent first):');
for (const [why, n] of [...reasons.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25))
  console.log(`  ${String(n).padStart(4)}  ${why}`);
const bad = results.filter((r) => r.status === 'fail' || r.status === 'error');
if (bad.length) {
  console.log('\nwrong answers and crashes (defects):');
  for (const r of bad) console.log(`  ${r.status.toUpperCase()} ${r.folder}/${r.test}: ${r.detail ?? r.reason}`);
}
if (values.write) {
  const passes = results.filter((r) => r.status === 'pass').map((r) => `${r.folder}/${r.test}`);
  writeFileSync(values.write, `${passes.join('\n')}\n`);
  console.log(`\nwrote ${passes.length} passing tests to ${values.write}`);
}
if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 1));
