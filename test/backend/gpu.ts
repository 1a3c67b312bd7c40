// The WebGPU backend for tests: one device per test file, opened once. Where no adapter exists the
// tests that use it say so on stderr and run on the other backends only; with
// GRADUATE_REQUIRE_WEBGPU=1 (CI, which installs lavapipe: docs/webgpu.md) a missing adapter fails.
import { openWebGpu } from '../../src/backend/select.js';
import type { WebGpuBackend } from '../../src/backend/webgpu/backend.js';

let opened: { backend?: WebGpuBackend; reason?: string } | undefined;

/** The shared WebGPU backend, or undefined (reason printed once, naming `what` is skipped). */
export function gpuBackend(what: string): WebGpuBackend | undefined {
  // the process's one device (backend/select.ts), which --device and the CLI tests open too
  opened ??= process.env.GRADUATE_TEST_WEBGPU === '0' ? { reason: 'GRADUATE_TEST_WEBGPU=0' } : openWebGpu();
  if (!opened.backend) {
    if (process.env.GRADUATE_REQUIRE_WEBGPU === '1')
      throw new Error(`GRADUATE_REQUIRE_WEBGPU=1 but there is no WebGPU adapter: ${opened.reason}`);
    process.stderr.write(`webgpu: ${what} run without WebGPU: ${opened.reason}\n`);
  }
  return opened.backend;
}

/** [the WebGPU backend] or [] (for lists of backends under test). */
export function testGpu(what: string): WebGpuBackend[] {
  const b = gpuBackend(what);
  return b ? [b] : [];
}
