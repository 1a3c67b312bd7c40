// Reading a file with a clear error: a missing file, a folder or an unreadable one is a FileError
// naming the path, and where a size limit applies (src/limits.ts) the file's size is checked
// before a byte is read. readFileHead reads only the first bytes, for formats whose header says
// how big the rest must be. Node-only: the runtime reads through fetch or its own loader.
import { closeSync, fstatSync, openSync, readFileSync, readSync, type Stats } from 'node:fs';
import { FileError } from '../errors.js';
import { checkLimit, type InputLimits, inputLimits, type LimitName } from '../limits.js';

/** Which input limit bounds the file's size, if any. */
export interface ReadLimit {
  key: LimitName;
  limits?: InputLimits;
}

/** The bytes of `file`; `what` names the kind of file in messages ("artifact", "CSV file"). */
export function readFileChecked(file: string, what: string, limit?: ReadLimit): Buffer {
  return withFile(file, what, limit, (fd, st) => {
    if (st.isFile() && st.size > 0) return readAll(fd, st.size); // what fstat saw, even if the file grows
    // a pipe, a device or a /proc file has no size to check first: read up to the limit
    const bytes = limit ? readUpTo(fd, limitOf(limit) + 1) : readFileSync(fd);
    if (limit) checkLimit(file, `${what} of at least`, bytes.length, limit.key, limit.limits ?? inputLimits());
    return bytes;
  });
}

/** The UTF-8 text of `file` (see readFileChecked). */
export function readTextChecked(file: string, what: string, limit?: ReadLimit): string {
  return readFileChecked(file, what, limit).toString('utf8');
}

/** The first `n` bytes of `file` (fewer if it is shorter) and its size, checked as readFileChecked checks. */
export function readFileHead(file: string, what: string, n: number, limit?: ReadLimit): { head: Buffer; size: number } {
  return withFile(file, what, limit, (fd, st) => ({ head: readAll(fd, Math.min(n, st.size)), size: st.size }));
}

/** Opens `file`, refuses a folder or a size over the limit, runs `read`; system errors become FileErrors. */
function withFile<T>(file: string, what: string, limit: ReadLimit | undefined, read: (fd: number, st: Stats) => T): T {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const st = fstatSync(fd);
    if (st.isDirectory())
      throw new FileError(`${file}: is a folder, expected ${/^[aeiou]/i.test(what) ? 'an' : 'a'} ${what}`);
    if (limit) checkLimit(file, `${what} of`, st.size, limit.key, limit.limits ?? inputLimits());
    return read(fd, st);
  } catch (e) {
    if (e instanceof Error && 'code' in e)
      throw new FileError(`${file}: cannot read ${what} (${(e as NodeJS.ErrnoException).code})`);
    throw e;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

const limitOf = (limit: ReadLimit) => (limit.limits ?? inputLimits())[limit.key];

/** Up to `n` bytes from the start of the open file (fewer if it ends first). */
function readAll(fd: number, n: number): Buffer {
  const out = Buffer.allocUnsafeSlow(n); // not a slice of the shared pool: callers may keep views of it
  let at = 0;
  while (at < n) {
    const got = readSync(fd, out, at, n - at, null);
    if (got === 0) break;
    at += got;
  }
  return at === n ? out : out.subarray(0, at);
}

/** Sequential reads of 64 KiB until the end or `cap` bytes, for files whose size is unknown. */
function readUpTo(fd: number, cap: number): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  while (total < cap) {
    const chunk = Buffer.allocUnsafe(Math.min(1 << 16, cap - total));
    const got = readSync(fd, chunk, 0, chunk.length, null);
    if (got === 0) break;
    chunks.push(chunk.subarray(0, got));
    total += got;
  }
  return Buffer.concat(chunks, total);
}
