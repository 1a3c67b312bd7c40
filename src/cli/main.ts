// The `graduate` command line (bin/graduate.js sets V8 flags, then calls main()).
// Each subcommand parses its options with commander and calls the public API.
import { Command, CommanderError } from 'commander';
import { GraduateError } from '../errors.js';
import { Engine } from '../kernels/engine.js';
import { detectFeatures } from '../kernels/features.js';
import { cpuCount } from '../kernels/host.js';
import { compileCommand } from './compile.js';
import { dataCommand } from './data.js';
import { inspectCommand } from './inspect.js';
import { exportCommand, importCommand } from './onnx.js';
import { predictCommand } from './predict.js';
import { serveCommand } from './serve.js';
import { trainCommands } from './train.js';

function infoCommand(): Command {
  return new Command('info')
    .description('show the compute engine this machine gets: wasm features, instruction set, threads')
    .option('--threads <n>', 'threads to use (default: GRADUATE_THREADS or all cores)', Number)
    .action((opts: { threads?: number }) => {
      const f = detectFeatures();
      const e = Engine.create({ threads: opts.threads });
      console.log(`node ${process.version}, ${cpuCount()} cores`);
      console.log(
        `wasm: simd128 ${f.simd ? 'yes' : 'no'}, relaxed-simd ${f.relaxedSimd ? 'yes' : 'no'}, threads ${f.threads ? 'yes' : 'no'}`,
      );
      console.log(`engine: isa ${e.isa} (${e.isa === 'relaxed' ? 'FMA' : 'mul+add'}), ${e.threads} thread(s)`);
      e.dispose();
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
    throw e;
  }
}
