// `--device auto|cpu|webgpu` for the commands that compute: the option itself, and applying the
// choice (tensors created afterwards live on the chosen device; sessions get its backend).
// The default is cpu, or $GRADUATE_DEVICE. Not for: how the choice is made (backend/select.ts).
import type { Command } from 'commander';
import type { InferenceBackend } from '../backend/backend.js';
import { type DeviceSelection, parseDevice, selectDevice } from '../backend/select.js';
import { ValueError } from '../errors.js';
import { engine, useBackend } from '../tensor/context.js';

export const DEVICE_HELP =
  'compute device: cpu (wasm), webgpu (the first WebGPU adapter; refused where there is none) or auto (WebGPU only where a hardware adapter is faster on a start-up GEMM); default cpu or $GRADUATE_DEVICE';

export function addDeviceOption(c: Command): Command {
  return c.option('--device <device>', DEVICE_HELP, parseDevice);
}

/**
 * Resolves the option (after init()), makes a WebGPU device the default tensor backend, and says on
 * stderr which device runs and why. Returns the backend sessions should run on (undefined: cpu).
 */
export function applyDevice(
  choice: string | undefined,
  log = (s: string) => process.stderr.write(`${s}\n`),
): DeviceSelection & { backend?: InferenceBackend } {
  const wanted = parseDevice(choice ?? process.env.GRADUATE_DEVICE ?? 'cpu');
  const sel = selectDevice(wanted, wanted === 'auto' ? engine() : undefined);
  if (wanted !== 'cpu' || sel.device !== 'cpu') log(`device: ${sel.device} (${sel.reason})`);
  useBackend(sel.gpu);
  return { ...sel, backend: sel.gpu };
}

/** For commands that compute on the cpu only: refuses --device webgpu, says where auto runs. */
export function cpuOnlyDevice(
  choice: string | undefined,
  what: string,
  log = (s: string) => process.stderr.write(`${s}\n`),
): void {
  const wanted = parseDevice(choice ?? process.env.GRADUATE_DEVICE ?? 'cpu');
  if (wanted === 'webgpu')
    throw new ValueError(`--device webgpu: ${what} run on the cpu only (use --device cpu or auto)`);
  if (wanted === 'auto') log(`device: cpu (${what} run on the cpu only)`);
}
