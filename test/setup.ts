// Every test ends with one macrotask turn. Tests here are synchronous compute, and a file of them
// otherwise runs as one long chain of microtasks. Vitest's worker could then not read the main
// process's RPC replies until the file ended ("Timeout calling onTaskUpdate" once the int8 kernel
// file passed 60 s in CI).
import { afterEach } from 'vitest';

afterEach(() => new Promise<void>((resolve) => setImmediate(resolve)));

// Opt-in sweep (GRADUATE_TEST_DEFAULT_WEBGPU=1): tensors created on the default backend live on
// WebGPU, so the ops' eager paths (host loops included) run over the device. Not the normal run.
if (process.env.GRADUATE_TEST_DEFAULT_WEBGPU === '1') {
  const { openWebGpu } = await import('../src/backend/select.js');
  const { useBackend } = await import('../src/tensor/context.js');
  const { backend, reason } = openWebGpu();
  if (!backend) throw new Error(`GRADUATE_TEST_DEFAULT_WEBGPU=1 but no WebGPU adapter: ${reason}`);
  useBackend(backend);
}
