// Peer frameworks measured in the same run as Graduate: TensorFlow.js with its wasm backend
// (XNNPACK, SIMD; single-threaded under Node).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type Tf = typeof import('@tensorflow/tfjs');

/** Loads @tensorflow/tfjs on the wasm backend (silencing its console banner). */
export async function loadTfWasm(): Promise<Tf> {
  const tf = await import('@tensorflow/tfjs');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const require = createRequire(import.meta.url);
  wasm.setWasmPaths(`${join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist')}/`);
  await tf.setBackend('wasm');
  await tf.ready();
  return tf;
}
