// Builds the wasm kernel modules, each in four flavours: {simd, relaxed} x {shared, plain}.
// relaxed = relaxed-SIMD FMA (f32x4.relaxed_madd); shared = imports a shared WebAssembly.Memory
// so a worker pool can run kernels over it (plain: for hosts without SharedArrayBuffer).
// Modules: the training module (entry as/index.ts, every kernel) and the inference module (entry
// as/index-infer.ts, what the runtime's Session runs; for the runtime and the browser bundle).
// Output: build/wasm/kernels-<isa>-<mem>.wasm and kernels-infer-<isa>-<mem>.wasm (git-ignored,
// made by `npm run build`). Regenerates src/kernels/exports.generated.ts first (checked in).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
execFileSync(process.execPath, [join(root, 'scripts/gen-kernels.mjs')], { stdio: 'inherit' });
execFileSync(process.execPath, [join(root, 'scripts/gen-int8-kernels.mjs')], { stdio: 'inherit' });
execFileSync(process.execPath, [join(root, 'scripts/gen-exports.mjs')], { stdio: 'inherit' });
const outDir = join(root, 'build/wasm');
mkdirSync(outDir, { recursive: true });

/** Entry per module, by the prefix of its file names. */
const modules = [
  { prefix: 'kernels', entry: 'src/kernels/as/index.ts' },
  { prefix: 'kernels-infer', entry: 'src/kernels/as/index-infer.ts' },
];
const common = [
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
for (const { prefix, entry } of modules) {
  for (const isa of ['simd', 'relaxed']) {
    for (const mem of ['shared', 'plain']) flavours.push({ name: `${prefix}-${isa}-${mem}`, entry, isa, mem });
  }
}
await Promise.all(
  flavours.map(async ({ name, entry, isa, mem }) => {
    const args = [entry, ...common, '--enable', 'simd'];
    if (isa === 'relaxed') args.push('--enable', 'relaxed-simd');
    if (mem === 'shared') args.push('--enable', 'threads', '--sharedMemory');
    args.push('-o', join(outDir, `${name}.wasm`));
    const { error, stderr } = await asc.main(args, { stdout: process.stdout, stderr: process.stderr });
    if (error) {
      console.error(stderr.toString());
      throw new Error(`asc failed for ${name}: ${error.message}`);
    }
  }),
);
console.log(`built ${flavours.length} kernel modules in build/wasm`);
