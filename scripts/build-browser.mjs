// Builds the browser example into a static folder (default dist-browser/, or the first argument):
//   index.html          the page (examples/browser/index.html)
//   main.js             the page's script (examples/browser/main.ts), importing ./graduate-runtime.js
//   graduate-runtime.js the lean runtime (src/runtime/index.ts) as one ES module
//   worker.js           the kernel worker the runtime starts next to itself (threads)
//   gpu-model.js        the WebGPU model Worker (examples/browser/gpu-model.ts: the WebGPU backend,
//                       importing ./graduate-runtime.js), loaded only when the page picks WebGPU
//   webgpu-worker.js    the WebGPU executor it starts (src/backend/webgpu/worker.js, owns the GPUDevice)
//   wasm/*.wasm         the inference kernel modules, kernels-infer-<isa>-<mem>.wasm (from build/wasm;
//                       `npm run build:wasm` makes them): the runtime's engines load only these
// Any static server serves the folder; send COOP same-origin + COEP require-corp for threads and
// for WebGPU (its synchronous backend waits on shared memory).
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const RUNTIME_ENTRY = join(root, 'src/runtime/index.ts');

/** Builds the page into `outDir`; returns the files written (relative to outDir). */
export async function buildBrowser(outDir = join(root, 'dist-browser')) {
  const wasmDir = join(root, 'build/wasm');
  const wasm = existsSync(wasmDir) ? readdirSync(wasmDir).filter((f) => /^kernels-infer-.*\.wasm$/.test(f)) : [];
  if (wasm.length === 0) {
    throw new Error(
      `no inference kernel modules (kernels-infer-*.wasm) in ${wasmDir}: run \`npm run build:wasm\` first`,
    );
  }
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(join(outDir, 'wasm'), { recursive: true });

  const common = {
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    logLevel: 'warning',
  };
  await build({ ...common, entryPoints: [RUNTIME_ENTRY], outfile: join(outDir, 'graduate-runtime.js') });
  // The page imports the runtime bundle above instead of inlining a second copy of it.
  const runtimeExternal = {
    name: 'graduate-runtime-external',
    setup(b) {
      b.onResolve({ filter: /\/runtime\/index\.js$/ }, (args) =>
        resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts')) === RUNTIME_ENTRY
          ? { path: './graduate-runtime.js', external: true }
          : undefined,
      );
    },
  };
  for (const [entry, out] of [
    ['main.ts', 'main.js'],
    ['gpu-model.ts', 'gpu-model.js'],
  ])
    await build({
      ...common,
      entryPoints: [join(root, 'examples/browser', entry)],
      outfile: join(outDir, out),
      plugins: [runtimeExternal],
    });
  copyFileSync(join(root, 'examples/browser/index.html'), join(outDir, 'index.html'));
  copyFileSync(join(root, 'src/kernels/worker.js'), join(outDir, 'worker.js'));
  copyFileSync(join(root, 'src/backend/webgpu/worker.js'), join(outDir, 'webgpu-worker.js'));
  for (const f of wasm) copyFileSync(join(wasmDir, f), join(outDir, 'wasm', f));
  return [
    'index.html',
    'main.js',
    'graduate-runtime.js',
    'worker.js',
    'gpu-model.js',
    'webgpu-worker.js',
    ...wasm.map((f) => `wasm/${f}`),
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = resolve(process.argv[2] ?? join(root, 'dist-browser'));
  const files = await buildBrowser(out);
  console.log(`browser example → ${out}: ${files.join(', ')}`);
}
