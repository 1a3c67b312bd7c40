// The `graduate` command line (bin/graduate.js sets V8 flags, then calls main()).
// Each subcommand parses its options with commander and calls the public API.
// Exit codes: 0 success; 1 the input or environment was refused with a one-line
// `graduate: WHAT: why` (a GraduateError, a usage error, a file the system cannot read, out of
// memory); 2 an internal error — a bug: one line saying so, the stack with GRADUATE_DEBUG=1.
import { Command, CommanderError } from 'commander';
import { describeWebGpu } from '../backend/select.js';
import { GraduateError } from '../errors.js';
import { Engine } from '../kernels/engine.js';
import { detectFeatures } from '../kernels/features.js';
import { cpuCount } from '../kernels/host.js';
import { compileCommand } from './compile.js';
import { dataCommand } from './data.js';
import { inspectCommand } from './inspect.js';
import { exportCommand, importCommand } from './onnx.js';
import { predictCommand } from './predict.js';
import { recommendCommand } from './recommend.js';
import { serveCommand } from './serve.js';
import { trainCommands } from './train.js';

function infoCommand(): Command {
  return new Command('info')
    .description(
      'show the compute devices this machine has: wasm features, instruction set, threads; WebGPU adapters, features and limits',
    )
    .option('--threads <n>', 'threads to use (default: GRADUATE_THREADS or all cores)', Number)
    .option('--no-webgpu', 'do not look for a WebGPU adapter')
    .action((opts: { threads?: number; webgpu: boolean }) => {
      const f = detectFeatures();
      const e = Engine.create({ threads: opts.threads });
      console.log(`node ${process.version}, ${cpuCount()} cores`);
      console.log(
        `wasm: simd128 ${f.simd ? 'yes' : 'no'}, relaxed-simd ${f.relaxedSimd ? 'yes' : 'no'}, threads ${f.threads ? 'yes' : 'no'}`,
      );
      console.log(`engine: isa ${e.isa} (${e.isa === 'relaxed' ? 'FMA' : 'mul+add'}), ${e.threads} thread(s)`);
      e.dispose();
      if (opts.webgpu) for (const line of describeWebGpu()) console.log(line);
    });
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command('graduate')
    .description('Train, graduate (compile) and serve neural networks on a WebAssembly SIMD engine')
    .exitOverride()
    .addCommand(infoCommand());
  for (const make of trainCommands) program.addCommand(make());
  program.addCommand(dataCommand());
  program.addCommand(inspectCommand());
  program.addCommand(compileCommand());
  program.addCommand(exportCommand()).addCommand(importCommand());
  program.addCommand(predictCommand());
  program.addCommand(recommendCommand());
  program.addCommand(serveCommand());
  // subcommands added with addCommand() do not inherit exitOverride: errors must return here
  const override = (c: Command) => {
    c.exitOverride();
    for (const sub of c.commands) override(sub);
  };
  override(program);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof GraduateError) {
      console.error(`graduate: ${e.message}`);
      return 1;
    }
    return lastResort(e);
  }
}

/** Errors no command turned into a GraduateError: system file errors, memory, and bugs; returns the exit code. */
export function lastResort(e: unknown): number {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code === 'string' && typeof err.path === 'string' && typeof err.syscall === 'string') {
    console.error(`graduate: ${err.path}: cannot ${err.syscall} (${err.code})`);
    return 1;
  }
  // V8's and the heap's allocation failures: too large an input for this machine, not a bug
  if (
    e instanceof RangeError &&
    /allocation failed|out of (wasm )?memory|Invalid (typed )?array length/i.test(e.message)
  ) {
    console.error(`graduate: out of memory: ${e.message}`);
    return 1;
  }
  const debug = process.env.GRADUATE_DEBUG;
  console.error(
    `graduate: internal error: ${(e as Error)?.message ?? String(e)} (please report it${debug ? '' : '; GRADUATE_DEBUG=1 prints the stack'})`,
  );
  if (debug) console.error((e as Error)?.stack ?? String(e));
  return 2;
}
