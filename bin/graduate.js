#!/usr/bin/env node
// The `graduate` command. Node 20 only runs relaxed-SIMD (FMA) wasm behind a V8 flag; the flag is
// process-wide (worker threads inherit it), so it is set here before any module is compiled.
// Without it the library still works on its baseline SIMD build.
import v8 from 'node:v8';

const major = Number(process.versions.node.split('.')[0]);
if (major < 22 && !process.execArgv.includes('--experimental-wasm-relaxed-simd') && process.env.GRADUATE_ISA !== 'simd') {
  v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
}
const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
