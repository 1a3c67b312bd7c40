// Atomic writes: the target holds the old or the new bytes, a killed writer's temporary is removed
// by the next write to the same target, a live writer's is left alone, and a failed write names
// the file and leaves what was there. As with write-file-atomic: a replaced file keeps its mode, a
// new one gets 0o666 less the umask, and a symlink is written through (its target replaced).
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileError } from '../../src/errors.js';
import { removeStaleTemps, writeFileAtomicSync } from '../../src/io/atomic.js';

const dir = mkdtempSync(join(tmpdir(), 'graduate-atomic-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('writeFileAtomicSync', () => {
  it('replaces the file and leaves no temporary', () => {
    const f = join(dir, 'a.grad');
    writeFileAtomicSync(f, 'old');
    writeFileAtomicSync(f, new Uint8Array([1, 2, 3]));
    expect([...readFileSync(f)]).toEqual([1, 2, 3]);
    expect(readdirSync(dir).filter((n) => n.startsWith('a.grad'))).toEqual(['a.grad']);
  });

  it("removes a killed writer's full-size temporary on the next write, keeps a live writer's", () => {
    const f = join(dir, 'out.grad');
    // a process that dies by SIGKILL in the middle of a write: its pid is free afterwards
    const child = spawnSync(process.execPath, ['-e', 'process.kill(process.pid, "SIGKILL")']);
    expect(child.signal).toBe('SIGKILL');
    const dead = `${f}.tmp-${child.pid}-0-0`;
    writeFileSync(dead, new Uint8Array(1 << 20));
    const live = `${f}.tmp-${process.ppid}-0-7`; // our parent runs: not stale
    writeFileSync(live, 'x');
    const other = join(dir, 'other.grad.tmp-1-0-0'); // another target's: not ours to touch
    writeFileSync(other, 'x');
    writeFileAtomicSync(f, 'new');
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(other)).toBe(true);
    expect(readFileSync(f, 'utf8')).toBe('new');
    rmSync(live);
    expect(removeStaleTemps(join(dir, 'nothing-here'))).toEqual([]);
  });

  it('names the file when it cannot write, and keeps the old content', () => {
    const sub = join(dir, 'ro');
    mkdirSync(sub);
    const f = join(sub, 'model.grad');
    writeFileAtomicSync(f, 'kept');
    expect(() => writeFileAtomicSync(join(dir, 'missing-dir', 'x.grad'), 'y')).toThrow(FileError);
    expect(() => writeFileAtomicSync(join(dir, 'missing-dir', 'x.grad'), 'y')).toThrow(
      /missing-dir\/x\.grad: cannot write \(ENOENT\)/,
    );
    // a directory in the way of the rename
    mkdirSync(join(sub, 'blocked'));
    expect(() => writeFileAtomicSync(join(sub, 'blocked'), 'y')).toThrow(/blocked: cannot write/);
    expect(readdirSync(sub).sort()).toEqual(['blocked', 'model.grad']);
    expect(readFileSync(f, 'utf8')).toBe('kept');
  });

  it("keeps a replaced file's mode; a new file gets 0o666 less the umask", () => {
    const f = join(dir, 'mode.grad');
    const umask = process.umask(0o002); // group-writable, as in shared project folders
    try {
      writeFileAtomicSync(f, 'new');
    } finally {
      process.umask(umask);
    }
    expect(statSync(f).mode & 0o777).toBe(0o664);
    for (const mode of [0o600, 0o755, 0o640]) {
      chmodSync(f, mode);
      writeFileAtomicSync(f, `mode ${mode}`);
      expect(statSync(f).mode & 0o777).toBe(mode);
      expect(readFileSync(f, 'utf8')).toBe(`mode ${mode}`);
    }
  });

  it('writes through a symlink: the link stays, the file it points to is replaced beside itself', () => {
    const real = join(dir, 'models');
    const links = join(dir, 'links');
    mkdirSync(real);
    mkdirSync(links);
    const target = join(real, 'model.grad');
    writeFileSync(target, 'old');
    chmodSync(target, 0o640);
    const link = join(links, 'current.grad');
    symlinkSync('../models/model.grad', link); // relative, from another folder
    writeFileAtomicSync(link, 'new');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('../models/model.grad');
    expect(readFileSync(target, 'utf8')).toBe('new');
    expect(statSync(target).mode & 0o777).toBe(0o640);
    expect(readdirSync(real)).toEqual(['model.grad']);
    expect(readdirSync(links)).toEqual(['current.grad']);
    // a dangling link is replaced by the file, as write-file-atomic did
    const dangling = join(links, 'dangling.grad');
    symlinkSync('../models/nothing.grad', dangling);
    writeFileAtomicSync(dangling, 'file');
    expect(lstatSync(dangling).isFile()).toBe(true);
    expect(readFileSync(dangling, 'utf8')).toBe('file');
  });
});
