// The WebGPU device's transport (device.ts ↔ worker.js): replies come back through shared memory,
// the area grown by the caller before a read that needs more (doubling up to 16 MiB, a one-off area
// past that); errors on the device come back as text at the next read. These are the paths a
// browser Worker uses too (test/browser/webgpu.test.ts runs them in Chromium).
import { describe, expect, it } from 'vitest';
import { gpuBackend } from './gpu.js';

const gpu = gpuBackend('webgpu-device');

/** Bytes that differ at every position within 2^24 (so a shifted or stale copy shows). */
function pattern(n: number, salt: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 2654435761 + salt + (i >>> 8) * 31 + (i >>> 16) * 7) & 255;
  return b;
}

describe('WebGPU device transport', () => {
  it.skipIf(!gpu)('reads of growing and shrinking sizes return exactly what was written', () => {
    const dev = (gpu as NonNullable<typeof gpu>).device;
    // below the first area, past it (growth), past the kept size (one-off), then small again
    for (const [n, salt] of [
      [12, 1],
      [(1 << 16) + 4, 2],
      [3 << 20, 3],
      [(20 << 20) + 8, 4],
      [40, 5],
      [1 << 20, 6],
    ]) {
      const buf = dev.alloc(n + 8);
      const want = pattern(n, salt);
      dev.write(buf + 8, want);
      const got = new Uint8Array(dev.read(buf + 8, n));
      expect(got.length).toBe(n);
      let bad = -1;
      for (let i = 0; i < n && bad < 0; i++) if (got[i] !== want[i]) bad = i;
      expect(bad, `read of ${n} bytes differs at byte ${bad}`).toBe(-1);
      // a read at an odd offset and length (the executor copies the covering words)
      const part = new Uint8Array(dev.read(buf + 8 + 5, Math.min(n - 5, 7)));
      expect(Array.from(part)).toEqual(Array.from(want.subarray(5, 5 + part.length)));
      dev.free(buf);
    }
  });

  it.skipIf(!gpu)('a failed command surfaces at the next sync as a WebGpuError naming it; the device goes on', () => {
    const dev = (gpu as NonNullable<typeof gpu>).device;
    const buf = dev.alloc(16);
    dev.run('never-registered-kernel', [{ buf, bytes: 16 }], [], [1, 1, 1]);
    expect(() => dev.sync()).toThrow(/webgpu: .*never-registered-kernel was never registered/);
    dev.write(buf, new Uint8Array([1, 2, 3, 4]));
    expect(Array.from(new Uint8Array(dev.read(buf, 4)))).toEqual([1, 2, 3, 4]);
    dev.free(buf);
  });
});
