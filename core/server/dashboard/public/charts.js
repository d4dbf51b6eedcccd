// Charts for the dashboard: LiveChart keeps a rolling history of named series and draws it with
// uPlot (a global from uPlot.iife.min.js); drawForest draws A/B differences with their 95%
// confidence intervals on a canvas.

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#475569', '#ea580c'];

export function color(i) {
  return PALETTE[i % PALETTE.length];
}

/** A number short enough for an axis: 1500 ms → 1.5 s, 52000/s → 52k/s. */
export function compact(v, unit = '') {
  if (v == null) return '–';
  if (unit === ' ms' && Math.abs(v) >= 1000) return `${+(v / 1000).toFixed(2)} s`;
  if (Math.abs(v) >= 1e6) return `${+(v / 1e6).toFixed(1)}M${unit}`;
  if (Math.abs(v) >= 1e4) return `${+(v / 1e3).toFixed(1)}k${unit}`;
  return `${+v.toFixed(2)}${unit}`;
}

/** A time-series chart whose series appear as their names first show up in `push`. */
export class LiveChart {
  constructor(container, { maxPoints = 300, height = 200, unit = '', styles = {} } = {}) {
    this.container = container;
    this.maxPoints = maxPoints;
    this.height = height;
    this.unit = unit;
    // name → { stroke, dash } overrides (e.g. an SLO target drawn dashed)
    this.styles = styles;
    this.times = [];
    this.series = new Map();
    this.plot = undefined;
    this.drawnNames = '';
    new ResizeObserver(() => this.plot?.setSize(this.size())).observe(container);
  }

  /** One point in time (seconds) with a value per series name; a series missing here gets a gap. */
  push(t, values) {
    for (const name of Object.keys(values)) {
      if (!this.series.has(name)) this.series.set(name, this.times.map(() => null));
    }
    this.times.push(t);
    for (const [name, points] of this.series) points.push(values[name] ?? null);
    if (this.times.length > this.maxPoints) {
      this.times.shift();
      for (const points of this.series.values()) points.shift();
    }
    this.container.dataset.points = String(this.times.length);
    this.draw();
  }

  size() {
    return { width: Math.max(200, this.container.clientWidth), height: this.height };
  }

  draw() {
    const names = [...this.series.keys()];
    const data = [this.times, ...names.map((n) => this.series.get(n))];
    // uPlot fixes its series when it is made: a new series name makes a new plot.
    if (this.plot && this.drawnNames === names.join('\u0000')) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    this.drawnNames = names.join('\u0000');
    const unit = this.unit;
    this.plot = new uPlot({
      ...this.size(),
      scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min ?? 0), Math.max(1, max ?? 1) * 1.1] } },
      axes: [{}, { size: 64, values: (_u, ticks) => ticks.map((v) => compact(v, unit)) }],
      series: [{}, ...names.map((name, i) => ({
        label: name, stroke: this.styles[name]?.stroke ?? color(i), width: 2, dash: this.styles[name]?.dash,
        value: (_u, v) => compact(v, unit),
      }))],
    }, data, this.container);
  }
}

/**
 * A forest plot: one row per metric, a dot at the difference (arm − baseline) and a line across
 * its 95% confidence interval; a row whose interval excludes 0 is drawn in colour.
 */
export function drawForest(canvas, rows) {
  const dpr = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  canvas.width = width * dpr;
  canvas.height = height * dpr;
  const g = canvas.getContext('2d');
  g.scale(dpr, dpr);
  g.clearRect(0, 0, width, height);
  g.font = '12px system-ui, sans-serif';
  g.textBaseline = 'middle';
  const known = rows.filter((r) => r.ci);
  const extent = Math.max(1e-9, ...known.flatMap((r) => [Math.abs(r.ci[0]), Math.abs(r.ci[1])]));
  const left = 150;
  const right = width - 60;
  const x = (v) => left + ((v / extent + 1) / 2) * (right - left);
  const rowH = (height - 24) / Math.max(1, rows.length);
  g.strokeStyle = '#98a2b3';
  g.setLineDash([4, 3]);
  g.beginPath();
  g.moveTo(x(0), 4);
  g.lineTo(x(0), height - 20);
  g.stroke();
  g.setLineDash([]);
  g.fillStyle = '#667085';
  g.textAlign = 'center';
  g.fillText(`−${extent.toFixed(1)} ms`, left, height - 8);
  g.fillText('0', x(0), height - 8);
  g.fillText(`+${extent.toFixed(1)} ms`, right, height - 8);
  rows.forEach((r, i) => {
    const y = 4 + rowH * (i + 0.5);
    g.textAlign = 'left';
    g.fillStyle = '#1d232b';
    g.fillText(r.label, 4, y);
    if (!r.ci) {
      g.fillStyle = '#667085';
      g.fillText('not enough samples', left + 8, y);
      return;
    }
    const significant = r.ci[0] > 0 || r.ci[1] < 0;
    const ink = !significant ? '#475569' : r.diff > 0 ? '#dc2626' : '#16a34a';
    g.strokeStyle = ink;
    g.fillStyle = ink;
    g.lineWidth = 2;
    g.beginPath();
    g.moveTo(x(r.ci[0]), y);
    g.lineTo(x(r.ci[1]), y);
    for (const end of r.ci) {
      g.moveTo(x(end), y - 5);
      g.lineTo(x(end), y + 5);
    }
    g.stroke();
    g.beginPath();
    g.arc(x(r.diff), y, 4, 0, 2 * Math.PI);
    g.fill();
  });
}
