// Builds the wasm kernel module in its four flavours: {simd, relaxed} x {shared, plain}.
// relaxed = relaxed-SIMD FMA (f32x4.relaxed_madd); shared = imports a shared WebAssembly.Memory
// so a worker pool can run kernels over it (plain: for hosts without SharedArrayBuffer).
// Output: build/wasm/kernels-<isa>-<mem>.wasm (git-ignored, made by `npm run build`).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
execFileSync(process.execPath, [join(root, 'scripts/gen-kernels.mjs')], { stdio: 'inherit' });
execFileSync(process.execPath, [join(root, 'scripts/gen-int8-kernels.mjs')], { stdio: 'inherit' });
const outDir = join(root, 'build/wasm');
mkdirSync(outDir, { recursive: true });

const common = [
  'src/kernels/as/index.ts',
  '-O3',
  '--runtime',
  'stub',
  '--noAssert',
  '--use',
  'abort=',
  '--importMemory',
  '--initialMemory',
  '256',
  '--maximumMemory',
  '16384',
];
const flavours = [];
for (const isa of ['simd', 'relaxed']) {
  for (const mem of ['shared', 'plain']) flavours.push({ isa, mem });
}
await Promise.all(
  flavours.map(async ({ isa, mem }) => {
    const args = [...common, '--enable', 'simd'];
    if (isa === 'relaxed') args.push('--enable', 'relaxed-simd');
    if (mem === 'shared') args.push('--enable', 'threads', '--sharedMemory');
    args.push('-o', join(outDir, `kernels-${isa}-${mem}.wasm`));
    const { error, stderr } = await asc.main(args, { stdout: process.stdout, stderr: process.stderr });
    if (error) {
      console.error(stderr.toString());
      throw new Error(`asc failed for kernels-${isa}-${mem}: ${error.message}`);
    }
  }),
);
console.log(`built ${flavours.length} kernel modules in build/wasm`);
