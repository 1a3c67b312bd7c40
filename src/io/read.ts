// Reading a whole file with a clear error: a missing file, a folder or an unreadable one is a
// FileError naming the path, and where a size limit applies (src/limits.ts) the file's size is
// checked before a byte is read. Node-only: the runtime reads through fetch or its own loader.
import { readFileSync, statSync } from 'node:fs';
import { FileError } from '../errors.js';
import { checkLimit, type InputLimits, inputLimits } from '../limits.js';

/** Which input limit bounds the file's size, if any. */
export interface ReadLimit {
  key: keyof InputLimits;
  limits?: InputLimits;
}

/** The bytes of `file`; `what` names the kind of file in messages ("artifact", "CSV file"). */
export function readFileChecked(file: string, what: string, limit?: ReadLimit): Buffer {
  try {
    const st = statSync(file);
    if (st.isDirectory()) throw new FileError(`${file}: is a folder, expected a ${what}`);
    if (limit) checkLimit(file, `${what} of`, st.size, limit.key, limit.limits ?? inputLimits());
    return readFileSync(file);
  } catch (e) {
    if (e instanceof Error && 'code' in e)
      throw new FileError(`${file}: cannot read ${what} (${(e as NodeJS.ErrnoException).code})`);
    throw e;
  }
}

/** The UTF-8 text of `file` (see readFileChecked). */
export function readTextChecked(file: string, what: string, limit?: ReadLimit): string {
  return readFileChecked(file, what, limit).toString('utf8');
}
