// The compiler pipeline: passes in their order, run by name with a per-pass report (nodes,
// constants, MACs before → after) and the text dump after one chosen pass (`--dump-after`). Each
// output is validated, so a broken pass is named where it breaks the graph.
import { ValueError } from '../../errors.js';
import { dumpGraph } from '../../graph/dump.js';
import { type Graph, graphMacs } from '../../graph/ir.js';
import { validateGraph } from '../../graph/validate.js';
import { eliminateDeadCode } from './dce.js';
import { eliminateTrainingOps } from './eliminate.js';
import { foldBatchNorm } from './fold-bn.js';
import { foldConstants } from './fold-constants.js';
import { foldLayerNorm } from './fold-ln.js';
import { fuseEpilogues } from './fuse.js';
import { sinkReshapes } from './reshapes.js';
import { sinkTransposes } from './transposes.js';

export {
  eliminateDeadCode,
  eliminateTrainingOps,
  foldBatchNorm,
  foldConstants,
  foldLayerNorm,
  fuseEpilogues,
  sinkReshapes,
  sinkTransposes,
};

export type Pass = (g: Graph) => Graph;

/** Every pass by name, in pipeline order. */
export const PASSES = {
  eliminate: eliminateTrainingOps,
  reshapes: sinkReshapes,
  'fold-bn': foldBatchNorm,
  'fold-ln': foldLayerNorm,
  transposes: sinkTransposes,
  fuse: fuseEpilogues,
  'fold-constants': foldConstants,
  dce: eliminateDeadCode,
} as const satisfies Record<string, Pass>;

export type PassName = keyof typeof PASSES;
export const PASS_NAMES = Object.keys(PASSES) as PassName[];

/** Size of a graph as the report counts it. */
export interface GraphStats {
  nodes: number;
  constants: number;
  macs: number;
}

export interface PassReport {
  pass: PassName;
  before: GraphStats;
  after: GraphStats;
  ms: number;
}

export interface RunPassesOptions {
  /** Name of a pass in `names`: the result's `dump` is the graph's text right after it. */
  dumpAfter?: string;
  /** Receives one line per pass: "fuse: nodes 14 → 9, constants 13 → 13, MACs 1.2M → 1.2M (3 ms)". */
  log?: (line: string) => void;
}

export interface RunPassesResult {
  graph: Graph;
  report: PassReport[];
  dump?: string;
}

export function graphStats(g: Graph): GraphStats {
  return { nodes: g.nodes.length, constants: Object.keys(g.constants).length, macs: graphMacs(g) };
}

function checkName(name: string, what: string): PassName {
  if (!Object.hasOwn(PASSES, name))
    throw new ValueError(`${what}: unknown pass '${name}' (valid: ${PASS_NAMES.join(', ')})`);
  return name as PassName;
}

/** Runs the named passes in the given order on `g` (not modified); returns the result, a report per pass and the optional dump. */
export function runPasses(
  g: Graph,
  names: readonly string[] = PASS_NAMES,
  opts: RunPassesOptions = {},
): RunPassesResult {
  const passes = names.map((n) => checkName(n, 'runPasses'));
  if (opts.dumpAfter !== undefined) {
    checkName(opts.dumpAfter, 'runPasses dumpAfter');
    if (!passes.includes(opts.dumpAfter as PassName))
      throw new ValueError(
        `runPasses dumpAfter: pass '${opts.dumpAfter}' is not among the passes run (${passes.join(', ')})`,
      );
  }
  const report: PassReport[] = [];
  let dump: string | undefined;
  let graph = g;
  for (const pass of passes) {
    const before = graphStats(graph);
    const t0 = performance.now();
    graph = PASSES[pass](graph);
    const ms = performance.now() - t0;
    validateGraph(graph, `after pass '${pass}'`);
    const after = graphStats(graph);
    report.push({ pass, before, after, ms });
    opts.log?.(
      `${pass}: nodes ${before.nodes} → ${after.nodes}, constants ${before.constants} → ${after.constants}, ` +
        `MACs ${before.macs} → ${after.macs} (${ms.toFixed(1)} ms)`,
    );
    if (pass === opts.dumpAfter) dump = dumpGraph(graph);
  }
  return { graph, report, dump };
}
