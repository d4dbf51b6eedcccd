/**
 * The league's tables (text, one per workload) and its HTML report: goodput per workload and
 * profile, and p90 TTFT against rate per workload (bench/load/svg.ts charts).
 */
import { writeFileSync } from 'node:fs';
import { fmt, table } from '../scenarios/common.js';
import { barChart, escapeXml, lineChart } from '../load/svg.js';
import { spread, type LeagueResult, type ProfileResult, type WorkloadResult } from './league.js';

const HEADER = ['profile', 'goodput req/s', 'min–max', '×least-load', '×best peer', 'p90 TTFT ms', '÷least-load', 'hit %', '% of MIN', '% of LRU', 'req/replica max/mean', 'share÷capacity max', 'precision / recall %', 'SLO met @ref'];

function mean(values: readonly number[]): number {
  return values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
}

function refMean(p: ProfileResult, pick: (s: ProfileResult['reference'][number]) => number): number {
  return mean(p.reference.map(pick));
}

/** The rows of one workload's table, with the comparisons the targets are stated in. */
export function workloadRows(w: WorkloadResult): Array<Array<string | number>> {
  const base = w.profiles.find((p) => p.profile === 'least-load');
  const peers = w.profiles.filter((p) => p.peer);
  const bestPeer = peers.reduce<ProfileResult | undefined>((b, p) => (!b || p.goodput.median > b.goodput.median ? p : b), undefined);
  const bound = mean(w.bound.map((b) => b.belady));
  const lru = mean(w.bound.map((b) => b.lru));
  return w.profiles.map((p) => {
    const g = p.goodput;
    const ttft = refMean(p, (s) => s.p90TtftMs);
    const hit = refMean(p, (s) => s.hitRate);
    const atLeast = p.sweeps.some((s) => s.goodput.atLeast) ? '≥' : '';
    return [
      p.profile + (p.peer ? ' (peer)' : ''),
      `${atLeast}${fmt(g.median, 2)}`, `${fmt(g.min, 2)}–${fmt(g.max, 2)}`,
      base && base.goodput.median > 0 ? fmt(g.median / base.goodput.median, 2) : '-',
      bestPeer && bestPeer.goodput.median > 0 ? fmt(g.median / bestPeer.goodput.median, 2) : '-',
      fmt(ttft, 0), base ? fmt(ttft / refMean(base, (s) => s.p90TtftMs), 2) : '-',
      fmt(100 * hit, 1), bound > 0 ? fmt((100 * hit) / bound, 1) : '-', lru > 0 ? fmt((100 * hit) / lru, 1) : '-',
      fmt(refMean(p, (s) => s.imbalance), 2), fmt(refMean(p, (s) => Math.max(...s.capacityShare)), 2),
      `${fmt(100 * refMean(p, (s) => s.precision), 1)} / ${fmt(100 * refMean(p, (s) => s.recall), 1)}`,
      `${fmt(100 * refMean(p, (s) => s.attainment), 1)}%`,
    ];
  });
}

/** The p90 TTFT no router can beat (ttft-floor.ts), and as a share of least-load's at the reference load: the lowest ratio reachable. */
export function ttftFloorLine(w: WorkloadResult): string {
  const f = spread(w.bound.map((x) => x.p90TtftFloorMs));
  const base = w.profiles.find((p) => p.profile === 'least-load');
  const ratio = base ? f.median / refMean(base, (s) => s.p90TtftMs) : NaN;
  return `p90 TTFT floor (compulsory misses prefilled on an idle replica, any router): ${fmt(f.median, 0)} ms (${fmt(f.min, 0)}–${fmt(f.max, 0)})`
    + (base ? `, ${fmt(ratio, 2)} of least-load's p90 at the reference load: no profile's p90 ÷ least-load can be lower` : '');
}

export function workloadText(w: WorkloadResult): string {
  const b = spread(w.bound.map((x) => 100 * x.belady));
  const l = spread(w.bound.map((x) => 100 * x.lru));
  return [
    `${w.name} — ${w.title}: ${w.notes}`,
    `SLO TTFT ≤ ${w.slo.ttftMs} ms, TPOT ≤ ${w.slo.tpotMs} ms; rates ${w.rates.join(', ')} req/s; reference load ${w.referenceRate} req/s (80% of ${w.referenceBase}'s goodput)`,
    `capacity-aware bound (pooled KV, same order): Belady MIN ${fmt(b.median, 1)}% (${fmt(b.min, 1)}–${fmt(b.max, 1)}), pooled LRU ${fmt(l.median, 1)}% (${fmt(l.min, 1)}–${fmt(l.max, 1)})`,
    ttftFloorLine(w),
    table(HEADER, workloadRows(w)),
    `wall ${fmt(w.wallMs / 1000, 1)} s`,
  ].join('\n');
}

export function leagueText(r: LeagueResult): string {
  return [
    `League (${r.quick ? 'quick' : 'full'}, ${r.seeds} seed${r.seeds > 1 ? 's' : ''}${r.gateways > 1 ? `, ${r.gateways} gateways sharing a store` : ''}; virtual time, engine model; goodput = highest rate with ≥ 95% of requests meeting both SLOs, median over seeds; reference columns are means over seeds at the reference load)`,
    ...r.workloads.map(workloadText),
    `total wall time ${fmt(r.wallMs / 1000, 1)} s`,
  ].join('\n\n');
}

const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1180px;padding:0 16px;color:#111827}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:12px}
.charts svg{width:100%;height:auto;border:1px solid #e5e7eb;border-radius:6px}svg .title{font-weight:600;font-size:13px}svg .tick{font-size:11px;fill:#4b5563}
svg .label{font-size:12px}svg .legend{font-size:10px}svg .grid{stroke:#eef0f3}svg .axis{stroke:#9ca3af}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}td,th{padding:3px 8px;border-bottom:1px solid #e5e7eb;text-align:right}td:first-child,th:first-child{text-align:left}
.note{color:#6b7280;font-size:12px}`;

/** p90 TTFT (median over seeds) at each ladder rate a profile's sweeps reached (bisections left out). */
function ttftChart(w: WorkloadResult): string {
  const reached = new Set(w.profiles.flatMap((p) => p.sweeps.flatMap((s) => s.points.map((x) => x.rate))));
  const rates = [...w.rates].filter((r) => reached.has(r)).sort((a, b) => a - b);
  return lineChart({
    title: `${w.name}: TTFT p90 against rate`, categories: rates.map(String), xLabel: 'request rate (req/s, open loop)', yLabel: 'ms', width: 760, height: 340,
    series: w.profiles.map((p) => ({
      name: p.profile,
      dashed: p.peer,
      values: rates.map((rate) => {
        const v = p.sweeps.flatMap((s) => s.points.filter((x) => x.rate === rate).map((x) => x.p90TtftMs));
        return v.length > 0 ? spread(v).median : null;
      }),
    })),
  });
}

function goodputChart(r: LeagueResult): string {
  const profiles = [...new Set(r.workloads.flatMap((w) => w.profiles.map((p) => p.profile)))];
  return barChart({
    title: 'Goodput per workload and profile (median over seeds)', categories: r.workloads.map((w) => w.name), xLabel: 'workload', yLabel: 'req/s',
    width: 1100, height: 380,
    series: profiles.map((name) => ({ name, values: r.workloads.map((w) => w.profiles.find((p) => p.profile === name)?.goodput.median ?? null) })),
  });
}

function htmlTable(w: WorkloadResult): string {
  const rows = workloadRows(w).map((row) => `<tr>${row.map((c) => `<td>${escapeXml(String(c))}</td>`).join('')}</tr>`).join('');
  return `<table><thead><tr>${HEADER.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr></thead><tbody>${rows}</tbody></table>`;
}

export function leagueHtml(r: LeagueResult): string {
  const sections = r.workloads.map((w) => `<h2>${escapeXml(`${w.name} — ${w.title}`)}</h2>
<p class="note">${escapeXml(workloadText(w).split('\n').slice(0, 4).join(' · '))}</p>
${htmlTable(w)}
<div class="charts">${ttftChart(w)}</div>`).join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Switchyard routing league</title><style>${CSS}</style></head><body>
<h1>Switchyard routing league</h1>
<p class="note">${r.quick ? 'Quick' : 'Full'} league, ${r.seeds} seed(s)${r.gateways > 1 ? `, ${r.gateways} gateways sharing a store` : ''}, total wall ${fmt(r.wallMs / 1000, 1)} s. Engines are the engine model (SIMULATED) in virtual time; routing is Switchyard's own code. Peers dashed.</p>
<div class="charts">${goodputChart(r)}</div>
${sections}
<details><summary>results (JSON)</summary><pre>${escapeXml(JSON.stringify(r, null, 1))}</pre></details>
</body></html>`;
}

export function writeLeagueHtml(file: string, r: LeagueResult): void {
  writeFileSync(file, leagueHtml(r));
}
