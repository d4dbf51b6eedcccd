// The live dashboard: one EventSource on /dashboard/events; each `snapshot` event updates the
// tables and appends a point to every chart (the browser keeps the history, the gateway none).
import { LiveChart, drawForest } from './charts.js';

const $ = (id) => document.getElementById(id);
const charts = {
  load: new LiveChart($('chart-load')),
  kv: new LiveChart($('chart-kv'), { unit: '%' }),
  decisions: new LiveChart($('chart-decisions'), { unit: '/s' }),
  usage: new LiveChart($('chart-usage'), { unit: '/s' }),
};
/** Per route: its element and its two charts. */
const routeViews = new Map();
let previous;
let snapshots = 0;

function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

const pct = (v) => (v == null ? '–' : `${(v * 100).toFixed(1)}%`);
const ms = (v) => (v == null ? '–' : `${v < 10 ? v.toFixed(2) : v.toFixed(0)} ms`);

function bar(share) {
  const cell = el('td');
  const outer = el('span', undefined, 'bar');
  const inner = el('span');
  inner.style.width = `${Math.max(0, Math.min(1, share ?? 0)) * 100}%`;
  outer.append(inner);
  cell.append(outer, pct(share));
  return cell;
}

function renderBackends(backends) {
  const body = $('backends').tBodies[0];
  body.replaceChildren(...backends.map((b) => {
    const tr = el('tr');
    tr.dataset.backend = b.id;
    const precision = b.routing_precision;
    tr.append(
      el('td', b.simulated ? `${b.id} (simulated)` : b.id),
      el('td', b.engine),
      el('td', b.health.status + (b.health.reason ? `: ${b.health.reason}` : ''), b.health.status),
      el('td', b.breaker, b.breaker),
      el('td', String(b.in_flight)),
      el('td', b.running == null ? '–' : `${b.running} / ${b.waiting ?? '–'}`),
      bar(b.kv_usage),
      el('td', `${b.prefix_index.chunks.toLocaleString()} / ${b.prefix_index.capacity.toLocaleString()} chunks`),
      el('td', precision.answers > 0 ? `${pct(precision.precision)} (recall ${pct(precision.recall)}, ${precision.answers} answers)` : '–'),
    );
    return tr;
  }));
}

function routeView(route) {
  let view = routeViews.get(route.model);
  if (view) return view;
  const root = el('div', undefined, 'route');
  root.dataset.route = route.model;
  const stats = el('div', undefined, 'stats');
  const grid = el('div', undefined, 'grid');
  const figure = (caption) => {
    const f = el('figure');
    const chart = el('div', undefined, 'chart');
    f.append(el('figcaption', caption), chart);
    grid.append(f);
    return chart;
  };
  const dashed = { stroke: '#98a2b3', dash: [6, 4] };
  const ttft = new LiveChart(figure('Time to first token'), { unit: ' ms', styles: { 'SLO target': dashed } });
  const tpot = new LiveChart(figure('Time per output token'), { unit: ' ms', styles: { 'SLO target': dashed } });
  root.append(el('h3', `${route.model} · ${route.policy} · ${route.backends.join(', ')}`), stats, grid);
  $('routes').append(root);
  view = { root, stats, ttft, tpot };
  routeViews.set(route.model, view);
  return view;
}

function renderRoute(t, route) {
  const view = routeView(route);
  const stat = (label, value, className) => {
    const s = el('span', `${label} `);
    s.append(el('b', value, className));
    return s;
  };
  const items = [stat('requests', String(route.requests)), stat('TTFT p50', ms(route.ttft_ms?.p50)), stat('p99', ms(route.ttft_ms?.p99)),
    stat('TPOT p50', ms(route.tpot_ms?.p50)), stat('p99', ms(route.tpot_ms?.p99))];
  const met = (share) => (share == null ? undefined : share >= 0.95 ? 'met' : 'missed');
  if (route.slo?.ttft_ms !== undefined) items.push(stat(`TTFT ≤ ${route.slo.ttft_ms} ms`, pct(route.slo_attainment?.ttft), met(route.slo_attainment?.ttft)));
  if (route.slo?.tpot_ms !== undefined) items.push(stat(`TPOT ≤ ${route.slo.tpot_ms} ms`, pct(route.slo_attainment?.tpot), met(route.slo_attainment?.tpot)));
  view.stats.replaceChildren(...items);
  view.stats.dataset.requests = String(route.requests);
  const points = (p, target) => ({ p50: p?.p50, p99: p?.p99, ...(target !== undefined ? { 'SLO target': target } : {}) });
  view.ttft.push(t, points(route.ttft_ms, route.slo?.ttft_ms));
  view.tpot.push(t, points(route.tpot_ms, route.slo?.tpot_ms));
}

function renderUsage(t, usage, dt) {
  $('usage-empty').hidden = usage.length > 0;
  $('usage').hidden = usage.length === 0;
  $('usage-figure').hidden = usage.length === 0;
  $('usage').tBodies[0].replaceChildren(...usage.map((u) => {
    const tr = el('tr');
    for (const v of [u.key, u.model, u.requests, u.prompt_tokens, u.completion_tokens, u.cached_tokens]) tr.append(el('td', v.toLocaleString()));
    return tr;
  }));
  if (usage.length === 0) return;
  const tokens = (rows) => {
    const byKey = {};
    for (const u of rows ?? []) byKey[u.key] = (byKey[u.key] ?? 0) + u.prompt_tokens + u.completion_tokens;
    return byKey;
  };
  const now = tokens(usage);
  const before = tokens(previous?.usage);
  const rates = {};
  for (const key of Object.keys(now)) rates[key] = previous && dt > 0 ? (now[key] - (before[key] ?? 0)) / dt : 0;
  charts.usage.push(t, rates);
}

function renderAb(ab) {
  $('ab-empty').hidden = ab.length > 0;
  $('ab').replaceChildren(...ab.map((route) => {
    const box = el('div', undefined, 'route');
    box.append(el('h3', route.model));
    const table = el('table');
    const head = el('tr');
    for (const h of ['Arm', 'Weight', 'Requests', 'Error rate', 'TTFT mean', 'TTFT p99', 'TPOT mean', 'Output tok/s']) head.append(el('th', h));
    table.append(head);
    for (const a of route.arms) {
      const tr = el('tr');
      for (const v of [a.name, String(a.weight), String(a.requests), pct(a.error_rate), ms(a.ttft_ms?.mean), ms(a.ttft_ms?.p99), ms(a.tpot_ms?.mean), a.output_tokens_per_s.toFixed(1)]) tr.append(el('td', v));
      table.append(tr);
    }
    box.append(table);
    for (const c of route.comparisons) {
      const f = el('figure');
      f.append(el('figcaption', `${c.arm} − ${c.baseline}: difference of means with its 95% confidence interval (red: ${c.arm} slower, green: faster)`));
      const canvas = el('canvas', undefined, 'forest');
      f.append(canvas);
      box.append(f);
      requestAnimationFrame(() => drawForest(canvas, [
        { label: 'TTFT', ...c.ttft_ms }, { label: 'TPOT', ...c.tpot_ms }, { label: 'End to end', ...c.e2e_ms },
      ].map((r) => ({ label: r.label, diff: r.diff, ci: r.ci95 }))));
    }
    return box;
  }));
}

function render(s) {
  const t = s.at / 1000;
  const dt = previous ? (s.at - previous.at) / 1000 : 0;
  snapshots++;
  document.body.dataset.snapshots = String(snapshots);
  $('updated').textContent = `updated ${new Date(s.at).toLocaleTimeString()}`;
  $('window').textContent = String(Math.round(s.window_ms / 1000));
  $('logout').hidden = !s.auth;
  renderBackends(s.backends);
  charts.load.push(t, Object.fromEntries(s.backends.map((b) => [b.id, b.in_flight])));
  charts.kv.push(t, Object.fromEntries(s.backends.filter((b) => b.kv_usage != null).map((b) => [b.id, b.kv_usage * 100])));
  const rates = {};
  for (const [reason, n] of Object.entries(s.decisions)) rates[reason] = dt > 0 ? n / dt : 0;
  charts.decisions.push(t, rates);
  for (const route of s.routes) renderRoute(t, route);
  // A reloaded config may drop a route: its charts go with it.
  for (const [model, view] of routeViews) {
    if (s.routes.some((r) => r.model === model)) continue;
    view.root.remove();
    routeViews.delete(model);
  }
  renderUsage(t, s.usage, dt);
  renderAb(s.ab);
  previous = s;
}

function connect() {
  const status = $('status');
  const events = new EventSource('/dashboard/events');
  events.addEventListener('open', () => {
    status.textContent = 'live';
    status.className = 'pill live';
  });
  events.addEventListener('snapshot', (e) => render(JSON.parse(e.data)));
  events.addEventListener('error', () => {
    // EventSource retries by itself; once CLOSED (e.g. the session expired: 401) it has given up.
    status.textContent = events.readyState === EventSource.CLOSED ? 'disconnected: reload to log in again' : 'reconnecting…';
    status.className = 'pill down';
  });
}

$('logout').addEventListener('click', async () => {
  await fetch('/dashboard/logout', { method: 'POST', credentials: 'same-origin' });
  location.assign('/dashboard');
});

connect();
