// Reading a data file whole as text (CSV, JSONL, TXT, JSON tensors), with its size checked against
// limits.textBytes before it is read: parsed, a text file takes several times its size in memory.
import { readTextChecked } from '../io/read.js';
import { checkLimit, type InputLimits, inputLimits } from '../limits.js';

/** The file's UTF-8 text; `what` names the kind of file in messages ("CSV file"). */
export function readTextFile(file: string, what: string, limits: InputLimits = inputLimits()): string {
  return readTextChecked(file, what, { key: 'textBytes', limits });
}

/** Throws when one line or record is over limits.recordChars (it is named by `where`, e.g. file:line). */
export function checkRecord(where: string, chars: number, limits: InputLimits = inputLimits()): void {
  checkLimit(where, 'a line of', chars, 'recordChars', limits);
}
