import { defineConfig } from 'vitest/config';

// Tests run in forked Node processes started with relaxed SIMD enabled (Node 20 needs the flag;
// kernel workers inherit it), so both kernel builds are exercised in one run.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    pool: 'forks',
    poolOptions: { forks: { execArgv: ['--experimental-wasm-relaxed-simd'] } },
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
