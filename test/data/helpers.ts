// Fixtures for the data tests: temporary folders, small generated IDX files and a local HTTP
// server of in-memory files (what `graduate data fetch` downloads from, in tests).
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll } from 'vitest';

const dirs: string[] = [];
/** A fresh temporary folder, removed after the test file. */
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'graduate-data-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A uint8 IDX file (magic 00 00 08 rank, big-endian dims, data), gzip'd unless plain. */
export function idxU8(shape: readonly number[], data: ArrayLike<number>, plain = false): Buffer {
  const head = Buffer.alloc(4 + 4 * shape.length);
  head.writeUInt8(0x08, 2);
  head.writeUInt8(shape.length, 3);
  for (const [i, d] of shape.entries()) head.writeUInt32BE(d, 4 + 4 * i);
  const bytes = Buffer.concat([head, Buffer.from(Uint8Array.from(data))]);
  return plain ? bytes : gzipSync(bytes);
}

/** n images [n, h, w] whose pixel (i, r, c) is (i + r * w + c) mod 256, with labels i mod 10. */
export function fakeMnist(n: number, h = 4, w = 4): { images: Buffer; labels: Buffer } {
  const px = Uint8Array.from({ length: n * h * w }, (_, k) => {
    const i = Math.floor(k / (h * w));
    return (i + (k % (h * w))) % 256;
  });
  return {
    images: idxU8([n, h, w], px),
    labels: idxU8(
      [n],
      Array.from({ length: n }, (_, i) => i % 10),
    ),
  };
}

/**
 * Serves `files` (URL path → body, read at each request; 404 otherwise) on 127.0.0.1, pushing each
 * requested path to `requests`. Returns its base URL (no trailing slash) and how to close it.
 */
export async function serveFiles(
  files: ReadonlyMap<string, Uint8Array>,
  requests: string[],
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const body = files.get(req.url ?? '');
    if (!body) {
      res.writeHead(404, 'Not Found').end('no such file');
      return;
    }
    res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
