// Atomic file writes: the bytes go to a temporary file beside the target, are flushed to disk,
// then renamed over it, so a reader (or a crash) sees the old file or the new one, never a mix.
// As write-file-atomic did, which this replaces: a target that is a symlink is written through
// (the file it points to is replaced, the link kept), and a replaced file keeps its permission
// bits (and, where the process may, its owner); a new file gets 0o666 less the umask.
// Temporaries are named `TARGET.tmp-PID-THREAD-N`; a writer that is killed (kill -9) leaves one
// behind, and the next write to the same target removes those of processes that no longer run (or
// that are older than a day, in case the pid was reused). write-file-atomic's own temporaries,
// `TARGET.<number>`, are left alone: they cannot be told from user files such as
// model.grad.20261204. Node-only: the runtime never writes files.
import {
  closeSync,
  fchmodSync,
  fchownSync,
  fsyncSync,
  openSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  writeSync,
} from 'node:fs';
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

/** The file a write to `file` replaces: `file` itself, or what it links to (see the header). */
function resolveTarget(file: string): { path: string; stat?: Stats } {
  try {
    const path = realpathSync(file);
    return { path, stat: statSync(path) };
  } catch {
    return { path: file }; // not there yet (or a dangling link, which is replaced like a file)
  }
}

/** Writes `data` to `file` atomically (see the header); errors are FileErrors naming `file`. */
export function writeFileAtomicSync(file: string, data: string | Uint8Array): void {
  const { path: target, stat } = resolveTarget(file);
  removeStaleTemps(target);
  const tmp = `${target}.tmp-${process.pid}-${threadId}-${counter++}`;
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', 0o666);
    if (stat) {
      try {
        if (stat.uid !== process.getuid?.() || stat.gid !== process.getgid?.()) fchownSync(fd, stat.uid, stat.gid);
      } catch {
        // only root may give a file away: it then belongs to the writer, as with any new file
      }
      fchmodSync(fd, stat.mode & 0o7777); // after chown, which clears set-id bits
    }
    for (let off = 0; off < bytes.byteLength; ) off += writeSync(fd, bytes, off, bytes.byteLength - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw new FileError(`${file}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const dfd = openSync(dirname(target), 'r'); // make the rename itself durable
    fsyncSync(dfd);
    closeSync(dfd);
  } catch {
    // some file systems cannot fsync a directory; the rename is still atomic
  }
}
