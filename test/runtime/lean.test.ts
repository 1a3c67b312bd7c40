// The runtime entry point must stay lean: bundling `graduate/runtime` takes only files of the
// folders the dependency rule lets it reach (RUNTIME_REACH: no training code, no compiler, no
// packages) and fits a size budget. test/architecture/dependencies.test.ts checks the same list
// import by import, type-only imports included (the bundle drops those).
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { folderOf, RUNTIME_REACH } from '../architecture/dependencies.js';

/**
 * Bundle size budget for src/runtime/index.ts (minified JS, without the .wasm files): 150 KiB since
 * the runtime runs general ONNX graphs (the host-loop ops of ops/math, movement, window-nd and
 * recurrent: 131 KiB measured, from 110); 162 KiB since audio models take WAV files and raw samples
 * in the runtime (the WAV reader, resampler and log-mel/MFCC front end of audio/: 10.4 KiB, 153.1 →
 * 163.6 KB measured); 184 KiB since text models tokenise in the runtime (text/encode.ts, the
 * byte-level BPE of text/bpe.ts with its pre-tokenizer and heap, reached by graph/validate.ts's
 * tokenizer check and InferenceModel.prepareText; runtime/text-input.ts, with the e-mail cut of
 * encode.ts: 14.4 KiB of the bundle, 183.9 KB measured); 188 KiB since a text model runs a batch
 * padded to its longest text (graph/sequence.ts specializing the graph to a shorter length,
 * runtime/sequence-buckets.ts: 2.7 KiB, 186.7 KiB measured); 196 KiB since recommendation models
 * run in the runtime (runtime/recommend.ts: external ids ↔ rows, exclusions, cold users: 3.6 KiB)
 * and the embedding kernels' wrappers (kernels/gather.ts): 193.2 KiB measured).
 */
const BUDGET_BYTES = 196 * 1024;

describe('graduate/runtime', () => {
  it('imports no training code and stays within its size budget', async () => {
    const r = await build({
      entryPoints: ['src/runtime/index.ts'],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(r.metafile.inputs);
    const allowed: readonly string[] = RUNTIME_REACH;
    const forbidden = inputs.filter((f) => !allowed.includes(folderOf(f)));
    expect(forbidden).toEqual([]);
    const size = r.outputFiles[0].contents.length;
    expect(size).toBeLessThan(BUDGET_BYTES);
  });
});
