// The runtime entry point must stay lean: bundling `graduate/runtime` reaches no training code
// (nn, autograd, optim, train, data, tensor) and fits a size budget.
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

/** Bundle size budget for src/runtime/index.ts (minified JS, without the .wasm files). */
const BUDGET_BYTES = 120 * 1024;

describe('graduate/runtime', () => {
  it('imports no training code and stays within its size budget', async () => {
    const r = await build({
      entryPoints: ['src/runtime/index.ts'],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(r.metafile.inputs);
    const forbidden = inputs.filter(
      (f) => /src\/(nn|autograd|optim|train|data|tensor|ops|compile|cli)\//.test(f) || f.includes('node_modules'),
    );
    expect(forbidden).toEqual([]);
    const size = r.outputFiles[0].contents.length;
    expect(size).toBeLessThan(BUDGET_BYTES);
  });
});
