/**
 * `--report DIR`'s index.html: one self-contained page (inline CSS and SVG, no scripts) that shows
 * how throughput and latency move with load, where the gateway sent the requests, and what failed —
 * the questions a sweep is run to answer, before anyone opens the JSON.
 */
import type { LevelResult, LoadLevel, LoadResult } from './runner.js';
import { escapeXml, lineChart, stackedBarChart, type Series } from './svg.js';
import { workloadParams } from './workloads.js';

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px auto;max-width:1180px;color:#111827;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#4b5563}.meta code{background:#f3f4f6;padding:1px 4px;border-radius:3px}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:12px}
.charts svg{width:100%;height:auto;border:1px solid #e5e7eb;border-radius:6px;background:#fff}
svg .title{font-weight:600;font-size:13px}svg .tick{font-size:11px;fill:#4b5563}svg .label{font-size:12px;fill:#374151}
svg .legend{font-size:11px;fill:#374151}svg .grid{stroke:#eef0f3}svg .axis{stroke:#9ca3af}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}th,td{padding:4px 8px;border-bottom:1px solid #e5e7eb;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{background:#f9fafb;position:sticky;top:0}
.bad{color:#b91c1c}.note{color:#6b7280;font-size:12px}
`;

function categoryOf(level: LoadLevel): string {
  if (level.kind === 'closed') return String(level.concurrency);
  if (level.kind === 'open') return level.rate === Infinity ? '∞' : String(level.rate);
  return 'trace';
}

function xLabel(levels: readonly LevelResult[]): string {
  if (levels.every((l) => l.level.kind === 'closed')) return 'concurrency (closed loop)';
  if (levels.every((l) => l.level.kind === 'open')) return 'request rate (req/s, open loop)';
  return 'load level';
}

const fmt = (v: number | null | undefined, digits = 1) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));

function charts(result: LoadResult): string[] {
  const levels = result.levels;
  const categories = levels.map((l) => categoryOf(l.level));
  const x = xLabel(levels);
  const m = levels.map((l) => l.metrics);
  const pct = (pick: (l: LevelResult) => Record<string, number>, ps: string[]): Series[] =>
    ps.map((p) => ({ name: p === '50' ? 'p50' : `p${p}`, values: levels.map((l) => pick(l)[p]) }));
  const out = [
    lineChart({ title: 'Output token throughput', categories, xLabel: x, yLabel: 'tokens/s', series: [
      { name: 'mean over run', values: m.map((v) => v.outputThroughput) },
      { name: 'peak 1-s bin', values: m.map((v) => v.maxOutputTokensPerS), dashed: true },
    ] }),
    lineChart({ title: 'Request throughput', categories, xLabel: x, yLabel: 'requests/s', series: [
      { name: 'completed', values: m.map((v) => v.requestThroughput) },
      ...(m.some((v) => v.requestGoodput !== null) ? [{ name: 'goodput (meets SLO)', values: m.map((v) => v.requestGoodput) }] : []),
    ] }),
    lineChart({ title: 'Time to first token', categories, xLabel: x, yLabel: 'ms', series: pct((l) => l.metrics.ttft.percentiles, ['50', '90', '99']) }),
    lineChart({ title: 'Time per output token (excl. 1st)', categories, xLabel: x, yLabel: 'ms', series: pct((l) => l.metrics.tpot.percentiles, ['50', '90', '99']) }),
    lineChart({ title: 'End-to-end latency', categories, xLabel: x, yLabel: 'ms', series: pct((l) => l.metrics.e2el.percentiles, ['50', '90', '99']) }),
  ];
  const backends = [...new Set(m.flatMap((v) => Object.keys(v.backendShare)))].sort();
  if (backends.length > 0) {
    out.push(stackedBarChart({ title: 'Per-backend share of requests (x-switchyard-backend)', categories, xLabel: x, yLabel: 'share', series:
      backends.map((b) => ({ name: b, values: m.map((v) => v.backendShare[b] ?? 0) })) }));
  }
  const total = (v: (typeof m)[number]) => Math.max(1, v.completed + v.failed);
  out.push(stackedBarChart({ title: 'Outcome of requests', categories, xLabel: x, yLabel: 'share', series: [
    { name: 'completed', values: m.map((v) => v.completed / total(v)), color: '#16a34a' },
    { name: 'shed (429/503)', values: m.map((v) => v.shed / total(v)), color: '#ca8a04' },
    { name: 'other failures', values: m.map((v) => (v.failed - v.shed) / total(v)), color: '#dc2626' },
  ] }));
  return out;
}

function levelTable(result: LoadResult): string {
  const head = ['load', 'requests', 'completed', 'failed', 'shed', 'duration s', 'req/s', 'goodput/s', 'out tok/s', 'peak tok/s', 'peak conc.',
    'TTFT p50', 'TTFT p99', 'TPOT p50', 'TPOT p99', 'ITL p50', 'ITL p99', 'E2EL p50', 'E2EL p99', 'KV hit', 'imbalance'];
  const rows = result.levels.map((l) => {
    const m = l.metrics;
    const cells = [categoryOf(l.level), String(l.numPrompts), String(m.completed), String(m.failed), String(m.shed), fmt(m.durationS, 2),
      fmt(m.requestThroughput, 2), fmt(m.requestGoodput, 2), fmt(m.outputThroughput), fmt(m.maxOutputTokensPerS, 0), String(m.maxConcurrentRequests),
      fmt(m.ttft.percentiles['50']), fmt(m.ttft.percentiles['99']), fmt(m.tpot.percentiles['50'], 2), fmt(m.tpot.percentiles['99'], 2),
      fmt(m.itl.percentiles['50'], 2), fmt(m.itl.percentiles['99'], 2), fmt(m.e2el.percentiles['50']), fmt(m.e2el.percentiles['99']),
      m.kvHitRate === null ? '–' : `${(m.kvHitRate * 100).toFixed(1)}%`, fmt(m.imbalance, 2)];
    return `<tr>${cells.map((c, i) => `<td${(i === 3 || i === 4) && c !== '0' ? ' class="bad"' : ''}>${escapeXml(c)}</td>`).join('')}</tr>`;
  });
  return `<table><thead><tr>${head.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>
<p class="note">Latencies in ms, vLLM's definitions: TTFT = first content chunk − request start; TPOT = (E2EL − TTFT)/(output tokens − 1); ITL pooled over all chunk gaps.
Percentiles from an HdrHistogram (1 µs, 3 significant digits). Latency statistics cover completed requests only; shed and failed requests are counted above.</p>`;
}

/** Distinct failure messages per level (the first few), so a failing run says why. */
function failures(result: LoadResult): string {
  const parts: string[] = [];
  for (const l of result.levels) {
    const counts = new Map<string, number>();
    for (const r of l.records) {
      if (r.success) continue;
      const key = `${r.status === 0 ? 'no response' : `HTTP ${r.status}`}: ${r.error.split('\n')[0].slice(0, 200)}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    if (counts.size === 0) continue;
    const items = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, n]) => `<li>${n} × ${escapeXml(k)}</li>`);
    const name = l.level.kind === 'closed' ? `concurrency ${l.level.concurrency}` : l.level.kind === 'open' ? `rate ${categoryOf(l.level)}/s` : 'trace';
    parts.push(`<h3>${escapeXml(name)}</h3><ul>${items.join('')}</ul>`);
  }
  return parts.length === 0 ? '<p>No failed requests.</p>' : parts.join('\n');
}

export function renderHtml(result: LoadResult, entries: ReadonlyArray<Record<string, unknown>>): string {
  const o = result.options;
  const params = Object.entries(workloadParams(o.workload)).map(([k, v]) => `${k}=${v}`).join(', ');
  const slo = o.slo ? Object.entries(o.slo).map(([k, v]) => `${k} ≤ ${v} ms`).join(', ') : 'none';
  const sha = entries[0]?.switchyard_git_sha;
  const meta = [
    ['target', `${o.target.baseUrl} · model ${o.target.model}`],
    ['workload', `${o.workload.kind} (${params})`],
    ['seed', String(result.seed)], ['warm-up requests', String(o.warmup ?? 0)], ['SLO (goodput)', slo],
    ['git', typeof sha === 'string' ? sha : 'unknown'], ['started', result.date.toISOString()],
  ].map(([k, v]) => `<div>${escapeXml(k)}: <code>${escapeXml(v)}</code></div>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Switchyard load report — ${escapeXml(o.workload.kind)}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>${CSS}</style></head>
<body>
<h1>Switchyard load report</h1>
<div class="meta">${meta}</div>
<h2>Throughput and latency vs load</h2>
<div class="charts">${charts(result).join('\n')}</div>
<h2>Per level</h2>
${levelTable(result)}
<h2>Failures</h2>
${failures(result)}
<p class="note">Raw numbers: results.json (vLLM-compatible keys plus switchyard_*).</p>
</body></html>
`;
}
