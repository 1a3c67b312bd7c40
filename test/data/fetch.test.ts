// fetchFashionMnist against a local HTTP server: downloads, verification, resuming, HTTP errors.
import { existsSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { fetchFiles } from '../../src/data/fetch.js';
import { fetchFashionMnist, loadFashionMnist } from '../../src/data/index.js';
import { FormatError } from '../../src/errors.js';
import { fakeMnist, serveFiles, tempDir } from './helpers.js';

const files = new Map<string, Buffer>();
const requests: string[] = [];
let closeServer: () => Promise<void>;
let baseUrl: string;

function serveFakeMnist(): void {
  files.clear();
  const train = fakeMnist(12, 6, 6);
  const test = fakeMnist(5, 6, 6);
  files.set('/mnist/train-images-idx3-ubyte.gz', train.images);
  files.set('/mnist/train-labels-idx1-ubyte.gz', train.labels);
  files.set('/mnist/t10k-images-idx3-ubyte.gz', test.images);
  files.set('/mnist/t10k-labels-idx1-ubyte.gz', test.labels);
}

beforeAll(async () => {
  const http = await serveFiles(files, requests);
  baseUrl = `${http.url}/mnist/`;
  closeServer = http.close;
});
afterAll(() => closeServer());
beforeEach(() => {
  serveFakeMnist();
  requests.length = 0;
});

describe('fetchFashionMnist', () => {
  it('downloads the 4 files into dest, where loadFashionMnist finds them', async () => {
    const dest = join(tempDir(), 'fm');
    const lines: string[] = [];
    expect(await fetchFashionMnist({ baseUrl, dest, log: (l) => lines.push(l) })).toBe(dest);
    expect(readdirSync(dest).sort()).toEqual([
      't10k-images-idx3-ubyte.gz',
      't10k-labels-idx1-ubyte.gz',
      'train-images-idx3-ubyte.gz',
      'train-labels-idx1-ubyte.gz',
    ]); // no temporary files left behind
    expect(readFileSync(join(dest, 'train-images-idx3-ubyte.gz'))).toEqual(
      files.get('/mnist/train-images-idx3-ubyte.gz'),
    );
    expect(lines).toContain(`downloading ${baseUrl}train-images-idx3-ubyte.gz`);
    expect(lines.filter((l) => l.startsWith(dest) && l.includes(': saved ('))).toHaveLength(4);
    const ds = loadFashionMnist('train', { dir: dest });
    expect(ds.size).toBe(12);
    expect(ds.sampleShape).toEqual([6, 6, 1]);
    expect(loadFashionMnist('test', { dir: dest }).size).toBe(5);
  });

  it('resumes: keeps valid files, fetches missing and invalid ones', async () => {
    const dest = join(tempDir(), 'fm');
    await fetchFashionMnist({ baseUrl, dest });
    unlinkSync(join(dest, 't10k-labels-idx1-ubyte.gz'));
    writeFileSync(join(dest, 'train-images-idx3-ubyte.gz'), 'half a download');
    requests.length = 0;
    const lines: string[] = [];
    await fetchFashionMnist({ baseUrl, dest, log: (l) => lines.push(l) });
    expect(requests.sort()).toEqual(['/mnist/t10k-labels-idx1-ubyte.gz', '/mnist/train-images-idx3-ubyte.gz']);
    expect(lines).toContain(`${join(dest, 't10k-images-idx3-ubyte.gz')}: present and valid, skipped`);
    expect(lines.some((l) => l.startsWith(`${join(dest, 'train-images-idx3-ubyte.gz')}: invalid`))).toBe(true);
    expect(loadFashionMnist('train', { dir: dest }).size).toBe(12);
    requests.length = 0;
    await fetchFashionMnist({ baseUrl, dest });
    expect(requests).toEqual([]);
  });

  it('an HTTP error names the URL and status', async () => {
    files.delete('/mnist/t10k-images-idx3-ubyte.gz');
    const dest = join(tempDir(), 'fm');
    await expect(fetchFashionMnist({ baseUrl, dest })).rejects.toThrow(
      `GET ${baseUrl}t10k-images-idx3-ubyte.gz: HTTP 404 Not Found`,
    );
    expect(existsSync(join(dest, 'train-images-idx3-ubyte.gz'))).toBe(true); // what came before is kept
    expect(existsSync(join(dest, 't10k-images-idx3-ubyte.gz'))).toBe(false);
  });

  it('takes the base URL from $GRADUATE_FASHION_MNIST_URL', async () => {
    vi.stubEnv('GRADUATE_FASHION_MNIST_URL', baseUrl.slice(0, -1)); // a missing final slash is added
    try {
      const dest = await fetchFashionMnist({ dest: join(tempDir(), 'fm') });
      expect(requests).toHaveLength(4);
      expect(loadFashionMnist('test', { dir: dest }).size).toBe(5);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('rejects files that are not IDX, or whose counts disagree, naming the URL', async () => {
    files.set('/mnist/train-labels-idx1-ubyte.gz', Buffer.from('<html>moved</html>'));
    await expect(fetchFashionMnist({ baseUrl, dest: join(tempDir(), 'fm') })).rejects.toThrow(
      `${baseUrl}train-labels-idx1-ubyte.gz: not an IDX file`,
    );
    serveFakeMnist();
    files.set('/mnist/t10k-labels-idx1-ubyte.gz', fakeMnist(4).labels);
    await expect(fetchFashionMnist({ baseUrl, dest: join(tempDir(), 'fm') })).rejects.toThrow(
      `${baseUrl}t10k-labels-idx1-ubyte.gz: 4 labels for 5 images`,
    );
  });

  it('checks MD5 and shape where they are known (official mirrors)', async () => {
    const dest = tempDir();
    const spec = { name: 't10k-labels-idx1-ubyte.gz', rank: 1 };
    const log = () => {};
    await expect(fetchFiles(baseUrl, dest, [{ ...spec, md5: '0'.repeat(32) }], log)).rejects.toThrow(FormatError);
    await expect(fetchFiles(baseUrl, dest, [{ ...spec, md5: '0'.repeat(32) }], log)).rejects.toThrow(
      `${baseUrl}t10k-labels-idx1-ubyte.gz: MD5`,
    );
    await expect(fetchFiles(baseUrl, dest, [{ ...spec, shape: [10000] }], log)).rejects.toThrow(
      'expected IDX shape [10000], got [5]',
    );
    const { createHash } = await import('node:crypto');
    const md5 = createHash('md5').update(files.get('/mnist/t10k-labels-idx1-ubyte.gz')!).digest('hex');
    const counts = await fetchFiles(baseUrl, dest, [{ ...spec, md5, shape: [5] }], log);
    expect(counts.get(spec.name)).toBe(5);
  });
});
