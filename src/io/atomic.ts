// Atomic file writes: the bytes go to a temporary file beside the target, are flushed to disk,
// then renamed over it, so a reader (or a crash) sees the old file or the new one, never a mix.
// Temporaries are named `TARGET.tmp-PID-N`; a writer that is killed (kill -9) leaves one behind,
// and the next write to the same target removes those of processes that no longer run (or that
// are older than a day, in case the pid was reused). Node-only: the runtime never writes files.
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { FileError } from '../errors.js';

let counter = 0;
const STALE_MS = 24 * 3600 * 1000;

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/** Removes `file`'s temporaries left by writers that died (see the header). Returns their names. */
export function removeStaleTemps(file: string): string[] {
  const dir = dirname(file);
  const prefix = `${basename(file)}.tmp-`;
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)-\d+-\d+$/.exec(name.slice(prefix.length));
    if (!m) continue;
    const path = join(dir, name);
    try {
      if (alive(Number(m[1])) && Date.now() - statSync(path).mtimeMs < STALE_MS) continue;
      rmSync(path, { force: true });
      removed.push(path);
    } catch {
      // raced with its owner's rename or another cleaner: nothing to do
    }
  }
  return removed;
}

/** Writes `data` to `file` atomically (see the header); errors are FileErrors naming `file`. */
export function writeFileAtomicSync(file: string, data: string | Uint8Array): void {
  removeStaleTemps(file);
  const tmp = `${file}.tmp-${process.pid}-${threadId}-${counter++}`;
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', 0o644);
    for (let off = 0; off < bytes.byteLength; ) off += writeSync(fd, bytes, off, bytes.byteLength - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, file);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw new FileError(`${file}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const dfd = openSync(dirname(file), 'r'); // make the rename itself durable
    fsyncSync(dfd);
    closeSync(dfd);
  } catch {
    // some file systems cannot fsync a directory; the rename is still atomic
  }
}
