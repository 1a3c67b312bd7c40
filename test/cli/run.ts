// Runs the `graduate` command in-process for tests: exit code and what it printed (console and
// stderr writes). The engine is reset before each run, as a fresh process would have it.
import { vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { shutdown } from '../../src/tensor/context.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `graduate ...argv`; never throws for a GraduateError (that is exit 1 with its message). */
export async function cli(...argv: string[]): Promise<CliResult> {
  const log: string[] = [];
  const err: string[] = [];
  const l = vi.spyOn(console, 'log').mockImplementation((...a) => void log.push(a.join(' ')));
  const e = vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
  const w = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err.push(String(s));
    return true;
  });
  try {
    shutdown();
    const code = await main(argv);
    return { code, stdout: log.join('\n'), stderr: err.join('\n') };
  } finally {
    l.mockRestore();
    e.mockRestore();
    w.mockRestore();
  }
}
