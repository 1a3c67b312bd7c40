// A recommendation run's report files: metrics.json ({ history: { epochs }, metrics, baseline,
// config }, as the image path's metrics.json has history and config) and two SVG charts, the
// training loss and the held-out metrics per epoch (the popularity baseline as a flat line).
// Written atomically. Not for: computing the metrics (metrics.ts, train.ts).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../io/atomic.js';
import { lineChartSvg } from '../train/report.js';
import type { RecsysEpoch } from './train.js';

export interface RecsysReport {
  title: string;
  epochs: RecsysEpoch[];
  /** The final held-out metrics. */
  metrics: Record<string, number>;
  baseline?: Record<string, number>;
  config: Record<string, unknown>;
}

/** Writes metrics.json, loss.svg and metrics.svg into dir; returns their paths. */
export function writeRecsysReport(dir: string, r: RecsysReport): { metricsJson: string; charts: string[] } {
  mkdirSync(dir, { recursive: true });
  const metricsJson = join(dir, 'metrics.json');
  const json = { history: { epochs: r.epochs }, metrics: r.metrics, baseline: r.baseline ?? null, config: r.config };
  writeFileAtomicSync(metricsJson, `${JSON.stringify(json, null, 2)}\n`);
  const x = (e: RecsysEpoch) => e.epoch;
  const loss = lineChartSvg({
    title: `${r.title}: training loss`,
    xLabel: 'epoch',
    yLabel: 'loss',
    series: [{ name: 'train loss', points: r.epochs.map((e) => [x(e), e.trainLoss]) }],
  });
  const names = Object.keys(r.epochs[0]?.metrics ?? {}).filter((k) => k !== 'rows' && k !== 'candidates');
  const metrics = lineChartSvg({
    title: `${r.title}: held-out metrics`,
    xLabel: 'epoch',
    yLabel: names.join(', '),
    series: [
      ...names.map((k) => ({ name: k, points: r.epochs.map((e): [number, number] => [x(e), e.metrics[k]]) })),
      ...names
        .filter((k) => r.baseline?.[k] !== undefined)
        .map((k) => ({
          name: `${k} popularity`,
          points: r.epochs.map((e): [number, number] => [x(e), r.baseline?.[k] as number]),
        })),
    ],
  });
  const charts = [join(dir, 'loss.svg'), join(dir, 'metrics.svg')];
  writeFileAtomicSync(charts[0], loss);
  writeFileAtomicSync(charts[1], metrics);
  return { metricsJson, charts };
}
