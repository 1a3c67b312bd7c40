// The training report: SVG charts are well-formed XML with one polyline point per (present) data
// point, whose extremes touch the plot's edges; text is escaped; the HTML page carries the charts,
// class names, config and heat map; writeReport leaves exactly its four files.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { History } from '../../src/train/history.js';
import { classificationReport } from '../../src/train/metrics.js';
import { curvesSvg, lineChartSvg, reportHtml, writeReport } from '../../src/train/report.js';

/**
 * Checks well-formedness without a DOM: tags nest and balance, attribute values are quoted, and
 * text holds no raw '<' and no '&' outside an entity. Returns the tags in document order.
 */
function parseXml(doc: string): { name: string; attrs: Record<string, string> }[] {
  const tags: { name: string; attrs: Record<string, string> }[] = [];
  const stack: string[] = [];
  const checkText = (text: string) => {
    for (let i = text.indexOf('&'); i >= 0; i = text.indexOf('&', i + 1)) {
      const end = text.indexOf(';', i);
      const entity = text.slice(i + 1, end);
      if (end < 0 || !['amp', 'lt', 'gt', 'quot', '#39'].includes(entity)) throw new Error(`raw '&' in ${text}`);
    }
    if (text.includes('>')) throw new Error(`raw '>' in text ${text}`);
  };
  let i = 0;
  while (i < doc.length) {
    const open = doc.indexOf('<', i);
    if (open < 0) {
      checkText(doc.slice(i));
      break;
    }
    checkText(doc.slice(i, open));
    // Scan to the closing '>' outside quoted attribute values.
    let j = open + 1;
    let quote = '';
    while (j < doc.length && (quote || doc[j] !== '>')) {
      if (quote && doc[j] === quote) quote = '';
      else if (!quote && (doc[j] === '"' || doc[j] === "'")) quote = doc[j];
      else if (quote && doc[j] === '<') throw new Error(`raw '<' in attribute at ${j}`);
      j++;
    }
    if (j >= doc.length) throw new Error(`unterminated tag at ${open}`);
    const body = doc.slice(open + 1, j);
    i = j + 1;
    if (body.startsWith('?') || body.startsWith('!')) continue; // <?xml ?>, <!DOCTYPE>
    if (body.startsWith('/')) {
      const name = body.slice(1).trim();
      const top = stack.pop();
      if (top !== name) throw new Error(`</${name}> closes <${top}>`);
      continue;
    }
    const selfClosing = body.endsWith('/');
    const inner = selfClosing ? body.slice(0, -1) : body;
    const nameEnd = inner.search(/\s|$/);
    const name = inner.slice(0, nameEnd);
    if (!/^[a-zA-Z][\w:-]*$/.test(name)) throw new Error(`bad tag name '${name}' at ${open}`);
    const attrs: Record<string, string> = {};
    let rest = inner.slice(nameEnd).trim();
    while (rest) {
      const m = /^([\w:-]+)="([^"]*)"\s*/.exec(rest);
      if (!m) throw new Error(`bad attribute syntax in <${name} ${rest}`);
      checkText(m[2]);
      attrs[m[1]] = m[2];
      rest = rest.slice(m[0].length);
    }
    tags.push({ name, attrs });
    if (!selfClosing) stack.push(name);
  }
  if (stack.length) throw new Error(`unclosed <${stack.join('>, <')}>`);
  return tags;
}

/** [[x, y], ...] of a polyline's points attribute. */
function points(tag: { attrs: Record<string, string> }): number[][] {
  const list = tag.attrs.points.trim();
  return list === '' ? [] : list.split(' ').map((p) => p.split(',').map(Number));
}

/** The plot rectangle from the two axis lines (y axis first, then x axis). */
function plotBox(tags: ReturnType<typeof parseXml>) {
  const g = tags.findIndex((t) => t.name === 'g' && t.attrs.class === 'axes');
  const [yAxis, xAxis] = [tags[g + 1].attrs, tags[g + 2].attrs];
  return { left: +yAxis.x1, top: +yAxis.y1, right: +xAxis.x2, bottom: +xAxis.y1 };
}

const history: History = {
  epochs: [
    {
      epoch: 1,
      trainLoss: 0.9,
      trainAccuracy: 0.7,
      valLoss: 0.6,
      valAccuracy: 0.78,
      lr: 1e-3,
      seconds: 10,
      samplesPerSecond: 6000,
    },
    {
      epoch: 2,
      trainLoss: 0.5,
      trainAccuracy: 0.82,
      valLoss: 0.45,
      valAccuracy: 0.84,
      lr: 1e-3,
      seconds: 10,
      samplesPerSecond: 6000,
    },
    {
      epoch: 3,
      trainLoss: 0.4,
      trainAccuracy: 0.86,
      valLoss: 0.41,
      valAccuracy: 0.861,
      lr: 5e-4,
      seconds: 20,
      samplesPerSecond: 3000,
    },
    {
      epoch: 4,
      trainLoss: 0.35,
      trainAccuracy: 0.88,
      valLoss: 0.43,
      valAccuracy: 0.855,
      lr: 5e-4,
      seconds: 10,
      samplesPerSecond: 6000,
    },
  ],
};

describe('lineChartSvg', () => {
  const svg = lineChartSvg({
    title: 'Loss <train> & val',
    xLabel: 'epoch',
    yLabel: 'loss & more',
    series: [
      {
        name: 'train <loss>',
        points: [
          [1, 2],
          [2, 1.5],
          [3, 1.2],
          [4, 1.0],
        ],
      },
      {
        name: 'val',
        points: [
          [1, 2.5],
          [2, 1.8],
          [3, 0.5],
        ],
      },
    ],
  });
  const tags = parseXml(svg);

  it('is one well-formed <svg> element with title, axes, ticks and legend', () => {
    expect(svg.startsWith('<svg ')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(tags.filter((t) => t.name === 'svg')).toHaveLength(1);
    expect(tags[0].attrs.xmlns).toBe('http://www.w3.org/2000/svg');
    expect(tags.filter((t) => t.name === 'text').length).toBeGreaterThan(8); // title, labels, ticks, legend
    expect(svg).toContain('>epoch</text>');
    expect(svg).toContain('>train &lt;loss&gt;</text>');
  });

  it('escapes < and & in the title and labels', () => {
    expect(svg).toContain('<title>Loss &lt;train&gt; &amp; val</title>');
    expect(svg).toContain('loss &amp; more');
    expect(svg).not.toContain('<train>');
  });

  it('draws one polyline per series with one point per data point', () => {
    const lines = tags.filter((t) => t.name === 'polyline');
    expect(lines.map((l) => points(l).length)).toEqual([4, 3]);
    expect(tags.filter((t) => t.name === 'circle')).toHaveLength(7);
  });

  it('maps the extreme points to the edges of the plot', () => {
    const box = plotBox(tags);
    expect(box.right).toBeGreaterThan(box.left);
    expect(box.bottom).toBeGreaterThan(box.top);
    const [train, val] = tags.filter((t) => t.name === 'polyline').map(points);
    expect(train[0][0]).toBeCloseTo(box.left, 1); // x = 1, the smallest
    expect(train[3][0]).toBeCloseTo(box.right, 1); // x = 4, the largest
    expect(val[0][1]).toBeCloseTo(box.top, 1); // y = 2.5, the largest
    expect(val[2][1]).toBeCloseTo(box.bottom, 1); // y = 0.5, the smallest
    // x = 2 lies a third of the way across; y = 1.5 half-way up.
    expect(train[1][0]).toBeCloseTo(box.left + (box.right - box.left) / 3, 1);
    expect(train[1][1]).toBeCloseTo((box.top + box.bottom) / 2, 1);
  });

  it('centres a single epoch and skips missing values', () => {
    const one = parseXml(
      lineChartSvg({
        title: 't',
        xLabel: 'x',
        yLabel: 'y',
        series: [
          { name: 'a', points: [[1, 0.5]] },
          { name: 'b', points: [[1, undefined as unknown as number]] },
        ],
      }),
    );
    const box = plotBox(one);
    const [a, b] = one.filter((t) => t.name === 'polyline').map(points);
    expect(a).toHaveLength(1);
    expect(a[0][0]).toBeCloseTo((box.left + box.right) / 2, 1);
    expect(a[0][1]).toBeCloseTo((box.top + box.bottom) / 2, 1);
    expect(b).toEqual([]); // an empty points attribute, still in the legend
    expect(one.filter((t) => t.name === 'circle')).toHaveLength(1);
  });

  it('renders an empty chart without NaN coordinates', () => {
    const empty = lineChartSvg({ title: 'none', xLabel: 'x', yLabel: 'y', series: [] });
    parseXml(empty);
    expect(empty).not.toContain('NaN');
    expect(empty).toContain('no data');
  });

  it('uses integer ticks on an epoch axis', () => {
    const labels = [...svg.matchAll(/text-anchor="middle" fill="#444">([^<]*)</g)].map((m) => m[1]);
    expect(labels).toEqual(['1', '2', '3', '4']);
  });
});

describe('curvesSvg', () => {
  it('draws train and val series for loss and accuracy', () => {
    const { loss, accuracy } = curvesSvg(history);
    for (const svg of [loss, accuracy]) {
      const lines = parseXml(svg).filter((t) => t.name === 'polyline');
      expect(lines.map((l) => points(l).length)).toEqual([4, 4]);
    }
    expect(loss).toContain('val loss');
    expect(accuracy).toContain('train accuracy');
  });

  it('leaves out the val series when no epoch has one, and skips epochs without it', () => {
    const trainOnly = curvesSvg({ epochs: history.epochs.map(({ valLoss, valAccuracy, ...e }) => e) });
    expect(parseXml(trainOnly.loss).filter((t) => t.name === 'polyline')).toHaveLength(1);
    expect(trainOnly.loss).not.toContain('val loss');
    const partial = curvesSvg({
      epochs: history.epochs.map((e) => (e.epoch === 2 ? { ...e, valLoss: undefined } : e)),
    });
    const lines = parseXml(partial.loss).filter((t) => t.name === 'polyline');
    expect(lines.map((l) => points(l).length)).toEqual([4, 3]);
  });
});

const names = ['T-shirt/<top>', 'Trouser & co', 'Bag'];
const evalReport = classificationReport([0, 0, 0, 0, 1, 1, 2, 2], [0, 0, 0, 1, 1, 1, 2, 0], names);
const options = {
  title: 'Run <1> & friends',
  history,
  report: evalReport,
  config: { model: 'mlp<784-128-10>', lr: 0.001, epochs: 4, augment: false, layers: [784, 128, 10] },
  notes: ['seeded with 0 & deterministic'],
};

describe('reportHtml', () => {
  const html = reportHtml(options);

  it('is a well-formed, self-contained page with both charts inline', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    // <meta> is a void element in HTML; close it for the XML walk.
    const tags = parseXml(html.replace(/<meta ([^>]*)>/g, '<meta $1/>'));
    expect(tags.filter((t) => t.name === 'svg')).toHaveLength(2);
    expect(tags.filter((t) => t.name === 'polyline')).toHaveLength(4);
    expect(html).not.toMatch(/<(script|link|img)\b/);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it('escapes the title, class names, notes and config', () => {
    expect(html).toContain('<title>Run &lt;1&gt; &amp; friends</title>');
    expect(html).toContain('T-shirt/&lt;top&gt;');
    expect(html).toContain('Trouser &amp; co');
    expect(html).not.toContain('<top>');
    expect(html).toContain('seeded with 0 &amp; deterministic');
    expect(html).toContain('mlp&lt;784-128-10&gt;');
    expect(html).toContain('<td>0.001</td>');
    expect(html).toContain('<td>false</td>');
    expect(html).toContain('<td>[784,128,10]</td>');
  });

  it('summarizes the run: best and final val accuracy, total time, samples/s', () => {
    expect(html).toContain('86.10% (epoch 3)');
    expect(html).toContain('<td>85.50%</td>');
    expect(html).toContain('50.0 s');
    // (6000*10 + 6000*10 + 3000*20 + 6000*10) / 50 s
    expect(html).toContain('<td>4,800</td>');
    expect(html).toContain('75.00% on 8 samples');
  });

  it('shades confusion cells by their share of the row', () => {
    // Row T-shirt: [3, 1, 0] of 4 → 0.75, 0.25, 0.
    expect(html).toMatch(/rgba\(31,119,180,0\.750\)[^>]*>3</);
    expect(html).toMatch(/rgba\(31,119,180,0\.250\)[^>]*>1</);
    // Row Bag: [1, 0, 1] of 2 → 0.5 each.
    expect(html.match(/rgba\(31,119,180,0\.500\)/g)).toHaveLength(2);
  });

  it('lists per-class metrics and every epoch', () => {
    expect(html).toContain('<td>0.7500</td>'); // T-shirt recall 3/4
    expect(html).toContain('<td>0.6667</td>'); // Trouser precision 2/3
    for (const e of history.epochs) expect(html).toContain(`<td>${e.trainLoss.toFixed(4)}</td>`);
  });

  it('works without an evaluation report or validation data', () => {
    const bare = reportHtml({ title: 'bare', history: { epochs: [history.epochs[0]] }, config: {} });
    parseXml(bare.replace(/<meta ([^>]*)>/g, '<meta $1/>'));
    expect(bare).not.toContain('Confusion matrix');
    expect(bare).not.toContain('NaN');
  });
});

describe('writeReport', () => {
  const dir = mkdtempSync(join(tmpdir(), 'graduate-report-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the four files, and nothing else, into the directory', () => {
    const out = join(dir, 'run1');
    const paths = writeReport(out, options);
    expect(paths).toEqual({
      html: join(out, 'report.html'),
      lossSvg: join(out, 'loss.svg'),
      accuracySvg: join(out, 'accuracy.svg'),
      metricsJson: join(out, 'metrics.json'),
    });
    expect(readdirSync(out).sort()).toEqual(['accuracy.svg', 'loss.svg', 'metrics.json', 'report.html']);
    expect(readFileSync(paths.html, 'utf8')).toBe(reportHtml(options));
    for (const svg of [paths.lossSvg, paths.accuracySvg]) {
      expect(parseXml(readFileSync(svg, 'utf8')).filter((t) => t.name === 'polyline')).toHaveLength(2);
    }
    const metrics = JSON.parse(readFileSync(paths.metricsJson, 'utf8'));
    expect(metrics.history).toEqual(history);
    expect(metrics.report).toEqual(evalReport);
    expect(metrics.config).toEqual(options.config);
  });

  it('overwrites an earlier report in place', () => {
    const out = join(dir, 'run2');
    writeReport(out, options);
    const paths = writeReport(out, { ...options, report: undefined, config: { big: 2n ** 70n } });
    expect(readdirSync(out)).toHaveLength(4);
    const metrics = JSON.parse(readFileSync(paths.metricsJson, 'utf8'));
    expect(metrics.report).toBeNull();
    expect(metrics.config.big).toBe('1180591620717411303424');
  });
});
