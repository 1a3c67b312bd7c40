// Reading a data file whole as text (CSV, JSONL, TXT, JSON tensors), with its size checked against
// limits.textBytes before it is read: parsed, a text file takes several times its size in memory.
import { readFileSync, statSync } from 'node:fs';
import { FileError } from '../errors.js';
import { checkLimit, type InputLimits, inputLimits } from '../limits.js';

/** The file's UTF-8 text; `what` names the kind of file in messages ("CSV file"). */
export function readTextFile(file: string, what: string, limits: InputLimits = inputLimits()): string {
  try {
    const st = statSync(file);
    if (st.isDirectory()) throw new FileError(`${file}: is a folder, expected a ${what}`);
    checkLimit(file, `${what} of`, st.size, 'textBytes', limits);
    return readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof Error && 'code' in e)
      throw new FileError(`${file}: cannot read ${what} (${(e as NodeJS.ErrnoException).code})`);
    throw e;
  }
}

/** Throws when one line or record is over limits.recordChars (it is named by `where`, e.g. file:line). */
export function checkRecord(where: string, chars: number, limits: InputLimits = inputLimits()): void {
  checkLimit(where, 'a line of', chars, 'recordChars', limits);
}
