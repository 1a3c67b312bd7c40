// The training report: hand-written SVG line charts of the learning curves, a self-contained HTML
// page (summary, config, charts, per-class metrics, heat-mapped confusion matrix, per-epoch table),
// and writing all of it plus metrics.json into a run directory. Pure string building; not for
// computing metrics (see metrics.ts) and not for training itself.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../io/atomic.js';
import type { EpochRecord, History } from './history.js';
import type { ClassificationReport } from './metrics.js';

/** Escapes text for XML and HTML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": '#39' }[c]};`);
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

/** Coordinates rounded to 0.01 px keep the SVG short. */
function px(v: number): string {
  return String(Math.round(v * 100) / 100);
}

/** A 1-2-5 step that puts about `target` ticks over `span`. */
function niceStep(span: number, target: number): number {
  const raw = span / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

/** Tick values inside [lo, hi] and their labels, with as many decimals as the step needs. */
function ticks(lo: number, hi: number, target: number, integers: boolean): { value: number; label: string }[] {
  let step = niceStep(hi - lo, target);
  if (integers) step = Math.max(1, Math.round(step));
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const out: { value: number; label: string }[] = [];
  const eps = step * 1e-9;
  for (let i = Math.ceil((lo - eps) / step); i * step <= hi + eps; i++) {
    const value = i * step;
    out.push({ value, label: (Object.is(value, -0) ? 0 : value).toFixed(decimals) });
  }
  return out;
}

/** [lo, hi] of the values, widened around a single value so that it sits mid-axis. */
function domain(values: number[]): [number, number] {
  if (values.length === 0) return [0, 1];
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  return [lo, hi];
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Points are [x, y]; points with a missing (undefined or non-finite) coordinate are skipped. */
  series: { name: string; points: [number, number][] }[];
  width?: number;
  height?: number;
}

/**
 * An SVG line chart as a string: x and y span exactly the data's range (the extreme points touch the
 * plot's edges; a single value is centred), one polyline plus point markers per series, axes with
 * ticks, grid, axis labels, legend and title. All text is escaped.
 */
export function lineChartSvg(opts: LineChartOptions): string {
  const width = opts.width ?? 640;
  const height = opts.height ?? 360;
  const m = { left: 64, right: 20, top: 56, bottom: 48 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const series = opts.series.map((s) => ({
    name: s.name,
    points: s.points.filter((p) => p !== undefined && Number.isFinite(p[0]) && Number.isFinite(p[1])),
  }));
  const all = series.flatMap((s) => s.points);
  const [x0, x1] = domain(all.map((p) => p[0]));
  const [y0, y1] = domain(all.map((p) => p[1]));
  const sx = (x: number) => m.left + ((x - x0) / (x1 - x0)) * plotW;
  const sy = (y: number) => m.top + plotH - ((y - y0) / (y1 - y0)) * plotH;
  const xInts = all.every((p) => Number.isInteger(p[0]));

  const parts: string[] = [];
  const title = escapeXml(opts.title);
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${title}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="12">`,
    `<title>${title}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${px(width / 2)}" y="22" text-anchor="middle" font-size="15" font-weight="600" fill="#222">${title}</text>`,
  );

  // Grid and tick labels.
  const grid: string[] = [];
  for (const t of ticks(x0, x1, Math.max(2, Math.floor(plotW / 80)), xInts)) {
    const x = px(sx(t.value));
    grid.push(`<line x1="${x}" y1="${px(m.top)}" x2="${x}" y2="${px(m.top + plotH + 5)}" stroke="#e5e5e5"/>`);
    grid.push(`<text x="${x}" y="${px(m.top + plotH + 18)}" text-anchor="middle" fill="#444">${t.label}</text>`);
  }
  for (const t of ticks(y0, y1, Math.max(2, Math.floor(plotH / 50)), false)) {
    const y = px(sy(t.value));
    grid.push(`<line x1="${px(m.left - 5)}" y1="${y}" x2="${px(m.left + plotW)}" y2="${y}" stroke="#e5e5e5"/>`);
    grid.push(`<text x="${px(m.left - 8)}" y="${y}" dy="0.32em" text-anchor="end" fill="#444">${t.label}</text>`);
  }
  parts.push(`<g class="grid">${grid.join('')}</g>`);

  // Axes and their labels.
  const bottom = px(m.top + plotH);
  parts.push(
    `<g class="axes" stroke="#444"><line x1="${m.left}" y1="${px(m.top)}" x2="${m.left}" y2="${bottom}"/><line x1="${m.left}" y1="${bottom}" x2="${px(m.left + plotW)}" y2="${bottom}"/></g>`,
    `<text x="${px(m.left + plotW / 2)}" y="${px(height - 10)}" text-anchor="middle" fill="#222">${escapeXml(opts.xLabel)}</text>`,
    `<text transform="translate(16 ${px(m.top + plotH / 2)}) rotate(-90)" text-anchor="middle" fill="#222">${escapeXml(opts.yLabel)}</text>`,
  );
  if (all.length === 0) {
    parts.push(
      `<text x="${px(m.left + plotW / 2)}" y="${px(m.top + plotH / 2)}" text-anchor="middle" fill="#888">no data</text>`,
    );
  }

  // One polyline and its markers per series.
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const name = escapeXml(s.name);
    const pts = s.points.map((p) => `${px(sx(p[0]))},${px(sy(p[1]))}`);
    const marks = s.points.map((p) => `<circle cx="${px(sx(p[0]))}" cy="${px(sy(p[1]))}" r="2.5"/>`).join('');
    parts.push(
      `<g class="series" data-name="${name}"><polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2" stroke-linejoin="round"/><g fill="${color}">${marks}</g></g>`,
    );
  });

  // Legend: one row under the title.
  const legend: string[] = [];
  let lx = m.left;
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    legend.push(
      `<line x1="${px(lx)}" y1="40" x2="${px(lx + 18)}" y2="40" stroke="${color}" stroke-width="2"/>`,
      `<text x="${px(lx + 24)}" y="40" dy="0.32em" fill="#222">${escapeXml(s.name)}</text>`,
    );
    lx += 24 + s.name.length * 7 + 20; // about 7 px per character at 12 px
  });
  parts.push(`<g class="legend">${legend.join('')}</g>`, '</svg>');
  return parts.join('\n');
}

type Pick = (e: EpochRecord) => number | undefined;

/** One learning-curve chart: the train series, plus the val series where any epoch has it. */
function curveSvg(history: History, title: string, yLabel: string, train: Pick, val: Pick): string {
  const points = (pick: Pick) =>
    history.epochs.flatMap((e): [number, number][] => {
      const v = pick(e);
      return v === undefined ? [] : [[e.epoch, v]];
    });
  const series = [{ name: `train ${yLabel}`, points: points(train) }];
  const valPoints = points(val);
  if (valPoints.length > 0) series.push({ name: `val ${yLabel}`, points: valPoints });
  return lineChartSvg({ title, xLabel: 'epoch', yLabel, series });
}

/** Loss curves (train/val loss) and accuracy curves (train/val accuracy) as two SVGs. */
export function curvesSvg(history: History): { loss: string; accuracy: string } {
  return {
    loss: curveSvg(
      history,
      'Loss',
      'loss',
      (e) => e.trainLoss,
      (e) => e.valLoss,
    ),
    accuracy: curveSvg(
      history,
      'Accuracy',
      'accuracy',
      (e) => e.trainAccuracy,
      (e) => e.valAccuracy,
    ),
  };
}

/** A number with `digits` decimals; '–' where missing. */
function num(x: number | undefined, digits = 4): string {
  if (x === undefined) return '–';
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}

/** A fraction as a percentage; '–' where missing. */
function pct(x: number | undefined): string {
  return x === undefined ? '–' : Number.isFinite(x) ? `${(x * 100).toFixed(2)}%` : String(x);
}

/** Seconds as "12.3 s", "4 m 05 s" or "1 h 02 m 03 s". */
function duration(seconds: number): string {
  if (!(seconds >= 60)) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h} h ${mm} m ${ss} s` : `${Number(mm)} m ${ss} s`;
}

/** JSON.stringify that also takes bigints (as strings) and typed arrays (as arrays). */
function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v === 'bigint') return v.toString();
      if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number>);
      return v;
    },
    indent,
  );
}

/** A config value as display text: strings as they are, everything else as JSON. */
function configText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined) return '';
  return toJson(v) ?? String(v);
}

/** An HTML table from a header row (none if empty) and body rows of already-escaped cell HTML. */
function htmlTable(className: string, head: readonly string[], body: readonly (readonly string[])[]): string {
  const thead = head.length ? `<thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead>\n` : '';
  const tr = body.map((row) => `<tr>${row.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  return `<table class="${className}">\n${thead}<tbody>\n${tr}\n</tbody>\n</table>`;
}

/** Best and final validation accuracy, total time and overall throughput of a run. */
function summaryRows(history: History, report: ClassificationReport | undefined): [string, string][] {
  const ep = history.epochs;
  const rows: [string, string][] = [['epochs', String(ep.length)]];
  const last = ep.at(-1);
  if (last) rows.push(['final train loss', num(last.trainLoss)], ['final train accuracy', pct(last.trainAccuracy)]);
  const withVal = ep.filter((e) => e.valAccuracy !== undefined);
  if (withVal.length > 0) {
    const best = withVal.reduce((b, e) => (e.valAccuracy! > b.valAccuracy! ? e : b));
    rows.push(
      ['best val accuracy', `${pct(best.valAccuracy)} (epoch ${best.epoch})`],
      ['final val accuracy', pct(withVal.at(-1)!.valAccuracy)],
    );
  }
  if (report) {
    rows.push(
      ['evaluation accuracy', `${pct(report.accuracy)} on ${report.samples} samples`],
      ['evaluation macro F1', num(report.macroF1)],
    );
  }
  const seconds = ep.reduce((s, e) => s + e.seconds, 0);
  const samples = ep.reduce((s, e) => s + e.samplesPerSecond * e.seconds, 0);
  rows.push(['total time', duration(seconds)]);
  if (seconds > 0) rows.push(['samples/s', Math.round(samples / seconds).toLocaleString('en-US')]);
  return rows;
}

/** The confusion matrix as a table whose cells are shaded by their share of the actual class's row. */
function confusionHtml(r: ClassificationReport): string {
  const names = r.classNames.map(escapeXml);
  const head = ['actual \\ predicted', ...names.map((n) => `<span>${n}</span>`)];
  const body = r.confusion.map((row, i) => {
    const total = row.reduce((s, c) => s + c, 0);
    const cells = row.map((count, j) => {
      const share = total === 0 ? 0 : count / total;
      const style = `background:rgba(31,119,180,${share.toFixed(3)});color:${share > 0.5 ? '#fff' : '#222'}`;
      const tip = `actual ${names[i]}, predicted ${names[j]}: ${count} (${(share * 100).toFixed(1)}% of row)`;
      return `<td class="${i === j ? 'diag' : ''}" style="${style}" title="${tip}">${count}</td>`;
    });
    return `<tr><th>${names[i]}</th>${cells.join('')}</tr>`;
  });
  const th = head.map((h) => `<th>${h}</th>`).join('');
  return `<table class="confusion">\n<thead><tr>${th}</tr></thead>\n<tbody>\n${body.join('\n')}\n</tbody>\n</table>`;
}

const CSS = `
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: #222; margin: 0; background: #fafafa; }
main { max-width: 1320px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 24px; margin: 0 0 16px; }
h2 { font-size: 18px; margin: 32px 0 10px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.row { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.row section { flex: 1 1 360px; min-width: 0; }
.row section.fit { flex: 0 1 auto; min-width: auto; max-width: 100%; }
table { border-collapse: collapse; background: #fff; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border: 1px solid #e3e3e3; }
th { background: #f2f2f2; font-weight: 600; text-align: left; }
td { text-align: right; }
table.kv td { text-align: left; word-break: break-word; }
table.metrics td:first-child { text-align: left; }
table.kv td:first-child { color: #555; white-space: nowrap; }
table.confusion td { min-width: 44px; text-align: center; }
table.confusion td.diag { font-weight: 700; }
table.confusion thead th { vertical-align: bottom; text-align: center; font-size: 12px; white-space: nowrap; }
table.confusion tbody th { white-space: nowrap; }
figure { margin: 0; background: #fff; border: 1px solid #e3e3e3; }
figure svg { display: block; width: 100%; height: auto; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
.scroll { overflow-x: auto; }
ul.notes { margin: 0 0 8px; padding-left: 20px; color: #444; }
`;

export interface ReportOptions {
  title: string;
  history: History;
  /** Evaluation of the final model (usually on the test set). */
  report?: ClassificationReport;
  config: Record<string, unknown>;
  notes?: string[];
}

/**
 * A self-contained HTML page: title, notes, run summary and config tables, both learning-curve
 * charts inline, per-class metrics, the confusion matrix heat-mapped by row-normalized count, and a
 * per-epoch table. All text is HTML-escaped.
 */
export function reportHtml(opts: ReportOptions): string {
  const { history, report } = opts;
  const title = escapeXml(opts.title);
  const charts = curvesSvg(history);
  const summary = summaryRows(history, report).map(([k, v]) => [escapeXml(k), escapeXml(v)]);
  const config = Object.entries(opts.config).map(([k, v]) => [escapeXml(k), escapeXml(configText(v))]);
  const notes = opts.notes?.length
    ? `<ul class="notes">${opts.notes.map((n) => `<li>${escapeXml(n)}</li>`).join('')}</ul>`
    : '';

  const sections: string[] = [
    `<div class="row">\n<section><h2>Summary</h2>\n${htmlTable('kv', [], summary)}</section>\n<section><h2>Config</h2>\n${htmlTable('kv', ['key', 'value'], config)}</section>\n</div>`,
    `<h2>Learning curves</h2>\n<div class="charts"><figure>${charts.loss}</figure><figure>${charts.accuracy}</figure></div>`,
  ];
  if (report) {
    const perClass = report.perClass.map((m) => [
      `<span class="name">${escapeXml(m.name)}</span>`,
      num(m.precision),
      num(m.recall),
      num(m.f1),
      String(m.support),
    ]);
    perClass.push(
      ['<b>accuracy</b>', '', '', num(report.accuracy), String(report.samples)],
      ['<b>macro F1</b>', '', '', num(report.macroF1), String(report.samples)],
      ['<b>weighted F1</b>', '', '', num(report.weightedF1), String(report.samples)],
    );
    sections.push(
      `<div class="row">\n<section class="fit"><h2>Per-class metrics</h2>\n${htmlTable('metrics', ['class', 'precision', 'recall', 'F1', 'support'], perClass)}</section>\n<section class="fit"><h2>Confusion matrix</h2>\n<p>Rows: actual class; columns: predicted class; shading: share of the row.</p>\n<div class="scroll">${confusionHtml(report)}</div></section>\n</div>`,
    );
  }
  const epochs = history.epochs.map((e) => [
    String(e.epoch),
    num(e.trainLoss),
    pct(e.trainAccuracy),
    num(e.valLoss),
    pct(e.valAccuracy),
    e.lr.toPrecision(3),
    num(e.seconds, 1),
    Math.round(e.samplesPerSecond).toLocaleString('en-US'),
  ]);
  sections.push(
    `<h2>Epochs</h2>\n<div class="scroll">${htmlTable('epochs', ['epoch', 'train loss', 'train acc', 'val loss', 'val acc', 'lr', 'seconds', 'samples/s'], epochs)}</div>`,
  );

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<h1>${title}</h1>
${notes}
${sections.join('\n')}
</main>
</body>
</html>
`;
}

/** Paths writeReport wrote. */
export interface ReportPaths {
  html: string;
  lossSvg: string;
  accuracySvg: string;
  metricsJson: string;
}

/** Writes report.html, loss.svg, accuracy.svg and metrics.json ({history, report, config}) into dir (created if missing), each atomically; returns the paths. */
export function writeReport(dir: string, opts: ReportOptions): ReportPaths {
  mkdirSync(dir, { recursive: true });
  const paths: ReportPaths = {
    html: join(dir, 'report.html'),
    lossSvg: join(dir, 'loss.svg'),
    accuracySvg: join(dir, 'accuracy.svg'),
    metricsJson: join(dir, 'metrics.json'),
  };
  const charts = curvesSvg(opts.history);
  const metrics = { history: opts.history, report: opts.report ?? null, config: opts.config };
  writeFileAtomicSync(paths.lossSvg, `<?xml version="1.0" encoding="UTF-8"?>\n${charts.loss}\n`);
  writeFileAtomicSync(paths.accuracySvg, `<?xml version="1.0" encoding="UTF-8"?>\n${charts.accuracy}\n`);
  writeFileAtomicSync(paths.metricsJson, `${toJson(metrics, 2)}\n`);
  writeFileAtomicSync(paths.html, reportHtml(opts));
  return paths;
}
