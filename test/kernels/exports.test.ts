// The TypeScript view of the kernel modules is generated, never hand-edited: exports.generated.ts
// is what scripts/gen-exports.mjs makes from src/kernels/as today, and each built module exports
// exactly the names it lists (KERNEL_NAMES: kernels-*.wasm, INFER_KERNEL_NAMES: kernels-infer-*).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OUTPUT, renderExports } from '../../scripts/gen-exports.mjs';
import { INFER_KERNEL_NAMES, KERNEL_NAMES } from '../../src/kernels/exports.js';

const root = new URL('../../', import.meta.url);

/** Function exports of build/wasm/<file>. */
function moduleFunctions(file: string): string[] {
  const module = new WebAssembly.Module(readFileSync(new URL(`build/wasm/${file}`, root)));
  return WebAssembly.Module.exports(module)
    .filter((e) => e.kind === 'function')
    .map((e) => e.name);
}

describe('kernel exports', () => {
  it(`${OUTPUT} is up to date with src/kernels/as`, () => {
    const current = readFileSync(new URL(OUTPUT, root), 'utf8');
    expect(current === renderExports(), `${OUTPUT} is stale: run \`node scripts/gen-exports.mjs\``).toBe(true);
  });

  it.each([
    ['kernels', KERNEL_NAMES],
    ['kernels-infer', INFER_KERNEL_NAMES],
  ] as const)('%s-<isa>-<mem>.wasm export exactly the generated names', (prefix, names) => {
    for (const isa of ['simd', 'relaxed']) {
      for (const mem of ['shared', 'plain']) {
        expect(moduleFunctions(`${prefix}-${isa}-${mem}.wasm`).sort(), `${prefix}-${isa}-${mem}`).toEqual(
          [...names].sort(),
        );
      }
    }
  });
});
