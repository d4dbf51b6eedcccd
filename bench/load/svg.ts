/**
 * Two chart kinds drawn as inline SVG strings — a line chart over load levels and a stacked bar
 * per level — so the HTML report is one self-contained file: no CDN, no dependency, opens offline.
 * Load levels are categories spaced evenly: sweeps are usually geometric (1, 2, 4, 8 …), and even
 * spacing reads better than a linear axis squeezing the low end.
 */

export interface Series {
  name: string;
  /** One value per category; null leaves a gap. */
  values: Array<number | null>;
  dashed?: boolean;
  /** Default: the palette, by series position. */
  color?: string;
}

export interface ChartOptions {
  title: string;
  categories: string[];
  xLabel: string;
  yLabel: string;
  series: Series[];
  width?: number;
  height?: number;
}

export const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d'];

/** The title takes the first row, the legend the second, then the plot. */
const colorOf = (s: Series, k: number) => s.color ?? PALETTE[k % PALETTE.length];

const MARGIN = { top: 50, right: 16, bottom: 48, left: 64 };

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Round tick steps (1, 2, 5 × 10^k) from 0 to at least `max`. */
export function niceTicks(max: number, target = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = 0; v < max + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1] < max) ticks.push(ticks[ticks.length - 1] + step);
  return ticks;
}

function formatTick(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 10_000) return `${(v / 1000).toFixed(0)}k`;
  if (Math.abs(v) >= 100) return v.toFixed(0);
  return Number(v.toPrecision(3)).toString();
}

interface Frame {
  svg: string[];
  x: (i: number) => number;
  y: (v: number) => number;
  plotRight: number;
}

/** Axes, grid, labels and legend; returns the coordinate maps for the marks. */
function frame(o: ChartOptions, yMax: number, band: boolean, yFormat: (v: number) => string = formatTick): Frame {
  const width = o.width ?? 560;
  const height = o.height ?? 300;
  const left = MARGIN.left;
  const right = width - MARGIN.right;
  const top = MARGIN.top;
  const bottom = height - MARGIN.bottom;
  const n = Math.max(o.categories.length, 1);
  const slot = (right - left) / n;
  const x = (i: number) => (band || n === 1 ? left + slot * (i + 0.5) : left + ((right - left) * i) / (n - 1));
  const ticks = niceTicks(yMax);
  const top_ = ticks[ticks.length - 1];
  const y = (v: number) => bottom - ((bottom - top) * v) / top_;
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(o.title)}">`,
    `<text x="${width / 2}" y="18" text-anchor="middle" class="title">${escapeXml(o.title)}</text>`,
  ];
  for (const t of ticks) {
    svg.push(`<line x1="${left}" x2="${right}" y1="${y(t)}" y2="${y(t)}" class="grid"/>`);
    svg.push(`<text x="${left - 6}" y="${y(t) + 4}" text-anchor="end" class="tick">${escapeXml(yFormat(t))}</text>`);
  }
  o.categories.forEach((c, i) => svg.push(`<text x="${x(i)}" y="${bottom + 16}" text-anchor="middle" class="tick">${escapeXml(c)}</text>`));
  svg.push(`<line x1="${left}" x2="${right}" y1="${bottom}" y2="${bottom}" class="axis"/>`);
  svg.push(`<text x="${(left + right) / 2}" y="${height - 8}" text-anchor="middle" class="label">${escapeXml(o.xLabel)}</text>`);
  svg.push(`<text transform="translate(14 ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle" class="label">${escapeXml(o.yLabel)}</text>`);
  // Legend on its own row under the title, right-aligned, one entry per series.
  let lx = right;
  for (let s = o.series.length - 1; s >= 0; s--) {
    const name = o.series[s].name;
    lx -= name.length * 6.5 + 22;
    svg.push(`<rect x="${lx}" y="${top - 22}" width="10" height="10" fill="${colorOf(o.series[s], s)}"/>`);
    svg.push(`<text x="${lx + 14}" y="${top - 13}" class="legend">${escapeXml(name)}</text>`);
  }
  return { svg, x, y, plotRight: right };
}

export function lineChart(o: ChartOptions): string {
  const all = o.series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const f = frame(o, Math.max(0, ...all), false);
  o.series.forEach((s, k) => {
    const color = colorOf(s, k);
    const points = s.values.map((v, i) => (v === null || !Number.isFinite(v) ? null : `${f.x(i).toFixed(1)},${f.y(v).toFixed(1)}`));
    const runs: string[][] = [[]];
    for (const p of points) {
      if (p === null) runs.push([]);
      else runs[runs.length - 1].push(p);
    }
    for (const run of runs) {
      if (run.length > 1) f.svg.push(`<polyline points="${run.join(' ')}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`);
    }
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) return;
      f.svg.push(`<circle cx="${f.x(i).toFixed(1)}" cy="${f.y(v).toFixed(1)}" r="3.5" fill="${color}"><title>${escapeXml(`${s.name} @ ${o.categories[i]}: ${formatTick(v)}`)}</title></circle>`);
    });
  });
  f.svg.push('</svg>');
  return f.svg.join('\n');
}

/** Bars of absolute values on a scale from 0, one group per category, series side by side. */
export function barChart(o: ChartOptions): string {
  const all = o.series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const f = frame(o, Math.max(0, ...all), true);
  const slot = (f.plotRight - MARGIN.left) / Math.max(o.categories.length, 1);
  const groupWidth = Math.min(60 * o.series.length, slot * 0.7);
  const barWidth = groupWidth / Math.max(o.series.length, 1);
  o.categories.forEach((c, i) => {
    o.series.forEach((s, k) => {
      const v = s.values[i];
      if (v === null || v === undefined || !Number.isFinite(v) || v <= 0) return;
      const x = f.x(i) - groupWidth / 2 + k * barWidth;
      f.svg.push(`<rect x="${x.toFixed(1)}" y="${f.y(v).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${Math.max(0, f.y(0) - f.y(v)).toFixed(1)}" fill="${colorOf(s, k)}"><title>${escapeXml(`${s.name} @ ${c}: ${formatTick(v)}`)}</title></rect>`);
    });
  });
  f.svg.push('</svg>');
  return f.svg.join('\n');
}

/** One bar per category, segments stacked in series order; values are fractions of the bar. */
export function stackedBarChart(o: ChartOptions): string {
  const f = frame(o, 1, true, (v) => `${Math.round(v * 100)}%`);
  const slot = (f.plotRight - MARGIN.left) / Math.max(o.categories.length, 1);
  const barWidth = Math.min(60, slot * 0.6);
  o.categories.forEach((c, i) => {
    let base = 0;
    o.series.forEach((s, k) => {
      const v = s.values[i] ?? 0;
      if (!(v > 0)) return;
      const y0 = f.y(base);
      const y1 = f.y(base + v);
      base += v;
      f.svg.push(`<rect x="${(f.x(i) - barWidth / 2).toFixed(1)}" y="${y1.toFixed(1)}" width="${barWidth.toFixed(1)}" height="${Math.max(0, y0 - y1).toFixed(1)}" fill="${colorOf(s, k)}"><title>${escapeXml(`${s.name} @ ${c}: ${(v * 100).toFixed(1)}%`)}</title></rect>`);
    });
  });
  f.svg.push('</svg>');
  return f.svg.join('\n');
}
