// `graduate compile RUN --data …` for a recommendation checkpoint (compile.ts dispatches here):
// the graph of recsys/graduate.ts with the --quantize tables, the metric gate on the recorded
// test split (--max-metric-drop, % of the parent's RMSE or HR@10), the artifact written atomically
// and the report (FILE.report.txt / .json beside it, as the image compile writes them).
import { loadInteractionData } from '../data/interactions.js';
import { ValueError } from '../errors.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { loadRecsysModel } from '../recsys/checkpoint.js';
import { compileRecsys, formatRecsysReport, type RecsysQuantize } from '../recsys/graduate.js';
import { engine, init } from '../tensor/context.js';

/** The compile flags a recommendation checkpoint reads. */
export interface RecsysCompileFlags {
  data: string;
  quantize: RecsysQuantize;
  maxMetricDrop?: number;
  k?: number;
  threads?: number;
  output: string;
}

/** Writes FLAGS.output (and its report) from the recommendation checkpoint at `path`. */
export function runRecsysCompile(path: string, f: RecsysCompileFlags): void {
  init({ threads: f.threads });
  const t0 = performance.now();
  if (f.k !== undefined && !(Number.isInteger(f.k) && f.k >= 1))
    throw new ValueError(`--k must be a positive integer, got ${f.k}`);
  const loaded = loadRecsysModel(path);
  try {
    const data = loadInteractionData(f.data);
    const { bytes, report } = compileRecsys(loaded, data, {
      quantize: f.quantize,
      maxMetricDrop: f.maxMetricDrop,
      k: f.k,
      engine: engine(),
      log: (l) => console.log(l),
    });
    writeFileAtomicSync(f.output, bytes);
    const text = formatRecsysReport(report);
    writeFileAtomicSync(`${f.output}.report.txt`, `${text}\n`);
    writeFileAtomicSync(`${f.output}.report.json`, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\n${text}`);
    console.log(
      `\nwrote ${f.output} (${bytes.length} bytes) and its report in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  } finally {
    loaded.model.dispose();
  }
}
