import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

// Tests run in forked Node processes started with relaxed SIMD enabled (Node 20 needs the flag;
// kernel workers inherit it), so both kernel builds are exercised in one run.
// The WebGPU tests use lavapipe (software Vulkan) where scripts/lavapipe.sh unpacked it into
// .cache/lavapipe (CI does): the forks inherit these variables, which must be set before a process
// starts (the dynamic loader reads LD_LIBRARY_PATH once).
const lavapipe = resolve(process.env.GRADUATE_LAVAPIPE ?? '.cache/lavapipe');
if (!process.env.VK_ICD_FILENAMES && existsSync(`${lavapipe}/lvp_icd.json`)) {
  process.env.VK_ICD_FILENAMES = `${lavapipe}/lvp_icd.json`;
  const lib = `${lavapipe}/root/usr/lib/x86_64-linux-gnu`;
  process.env.LD_LIBRARY_PATH = process.env.LD_LIBRARY_PATH ? `${lib}:${process.env.LD_LIBRARY_PATH}` : lib;
}

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
