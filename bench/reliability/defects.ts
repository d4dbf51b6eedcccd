/**
 * Measures each reliability defect of the review (issue 14) against a real gateway process, real
 * emulated vLLM replicas and tiny node:http upstreams (each a process of its own), and prints one
 * table: defect, what was measured, figure. Every wait is bounded (10–20 s), so one run takes
 * about two minutes.
 *
 *   node --import tsx bench/reliability/defects.ts [--gateway-root DIR]
 *
 * `--gateway-root DIR` runs the gateway from another built checkout (`DIR/bin/switchyard.js`, so
 * an old commit can be measured); the engines and the client always come from this one. Config
 * keys an old build does not know (`limits.request_timeout_ms`, route `timeouts:`) are only used
 * when that build's `check-config` accepts them, and the row says which config was measured.
 * The template-render freeze has its own script, bench/reliability/event-loop-block.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { spawnSim, type SpawnedSim } from '../sim/spawn.js';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const rootFlag = process.argv.indexOf('--gateway-root');
const gatewayRoot = path.resolve(rootFlag >= 0 ? process.argv[rootFlag + 1] ?? '' : here);
const cli = path.join(gatewayRoot, 'bin/switchyard.js');
if (!existsSync(path.join(gatewayRoot, 'dist'))) throw new Error(`${gatewayRoot}: not built (run \`npx tsc -p tsconfig.json\` there)`);

interface Row { defect: string; measure: string; figure: string }
const rows: Row[] = [];
const row = (defect: string, measure: string, figure: string) => {
  rows.push({ defect, measure, figure });
  process.stderr.write(`  ${defect} | ${measure} | ${figure}\n`);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
/** JSON text of a value nested `depth` arrays deep. */
const nested = (depth: number) => `${'['.repeat(depth)}"x"${']'.repeat(depth)}`;
const chatBody = (model: string, extra = '') => `{"model":"${model}","max_tokens":2,"messages":[{"role":"user","content":"hi"}]${extra}}`;

// ---- processes ------------------------------------------------------------------------------

interface Gateway { url: string; child: ChildProcess; stop(): Promise<void> }

function writeConfig(doc: unknown): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'switchyard-defects-')), 'gateway.yaml');
  writeFileSync(file, yaml.dump(doc));
  return file;
}

/** Whether the measured build accepts this config (`switchyard check-config`). */
async function accepts(doc: unknown): Promise<boolean> {
  const child = spawn(process.execPath, [cli, 'check-config', writeConfig(doc)], { stdio: 'ignore' });
  const [code] = (await once(child, 'exit')) as [number | null];
  return code === 0;
}

/** `switchyard serve` from the measured build; resolves with the URL of its "listening on" line. */
async function startGateway(doc: unknown): Promise<Gateway> {
  const child = spawn(process.execPath, [cli, 'serve', '--config', writeConfig(doc)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SWITCHYARD_LOG_LEVEL: 'fatal', SWITCHYARD_PARENT_PID: String(process.pid) },
  });
  let output = '';
  child.stderr!.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-4000); });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`gateway did not start in 60 s\n${output}`)); }, 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      output = (output + d.toString()).slice(-4000);
      const m = /listening on (http:\/\/\S+)/.exec(output);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`gateway exited with ${code}\n${output}`)); });
  });
  child.removeAllListeners('exit');
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = once(child, 'exit');
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 3000);
    await gone;
    clearTimeout(force);
  };
  return { url, child, stop };
}

/**
 * An OpenAI-compatible upstream in a process of its own. A POST for model `hung` is never
 * answered when not streamed; streamed, it gets headers and one event, then nothing. Any other
 * POST is answered at once. GET /seen returns the headers of the last POST.
 */
async function startUpstream(): Promise<{ url: string; child: ChildProcess }> {
  const code = `
    const http = require('node:http');
    let seen = {};
    const completion = JSON.stringify({ id: 'x', object: 'chat.completion', created: 0, model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
    const chunk = JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 0, model: 'hung',
      choices: [{ index: 0, delta: { role: 'assistant', content: 'a' }, finish_reason: null }] });
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        if (req.method !== 'POST') {
          res.setHeader('content-type', 'application/json');
          if (req.url === '/seen') return res.end(JSON.stringify(seen));
          return res.end(JSON.stringify({ object: 'list', data: [{ id: 'm', object: 'model' }, { id: 'hung', object: 'model' }] }));
        }
        seen = req.headers;
        const parsed = JSON.parse(body);
        if (parsed.model !== 'hung') return res.writeHead(200, { 'content-type': 'application/json' }).end(completion);
        if (parsed.stream) res.writeHead(200, { 'content-type': 'text/event-stream' }).write('data: ' + chunk + '\\n\\n');
      });
    });
    server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return { url: `http://127.0.0.1:${Number(line.toString().trim())}`, child };
}

// ---- client ---------------------------------------------------------------------------------

/** An answer; `cut` says how its body ended early: at the wait's bound, or how the connection broke. */
interface Answer { status: number; text: string; headers: Headers; ms: number; cut?: string }

async function post(url: string, body: string, headers: Record<string, string> = {}, timeoutMs = 20_000): Promise<Answer | { failed: string; ms: number }> {
  const t0 = performance.now();
  const bound = new AbortController();
  const timer = setTimeout(() => bound.abort(), timeoutMs);
  const why = (err: unknown) => (bound.signal.aborted ? `bound` : ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message));
  try {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, signal: bound.signal,
    });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    let cut: string | undefined;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    } catch (err) {
      cut = why(err);
    }
    return { status: res.status, text, headers: res.headers, ms: performance.now() - t0, cut };
  } catch (err) {
    const cause = why(err);
    return { failed: cause === 'bound' ? `no answer after ${secs(timeoutMs)}` : cause, ms: performance.now() - t0 };
  } finally {
    clearTimeout(timer);
  }
}

/** The error code of an OpenAI-shaped error body, or undefined. */
function errorCode(text: string): string | undefined {
  try {
    const e = (JSON.parse(text) as { error?: Record<string, unknown> }).error;
    const shaped = e && typeof e === 'object' && ['message', 'type', 'param', 'code'].every((k) => k in e);
    return shaped ? String(e.code) : undefined;
  } catch {
    return undefined;
  }
}

function describe(a: Answer | { failed: string }): string {
  if ('failed' in a) return a.failed;
  if (a.cut !== undefined) return `${a.status}, then the body ${a.cut === 'bound' ? 'stopped: nothing more within the bound' : `broke (${a.cut})`}`;
  if (a.status === 200) return '200';
  const code = errorCode(a.text);
  return code === undefined ? `${a.status} not OpenAI-shaped: ${JSON.stringify(a.text.slice(0, 80))}` : `${a.status} ${code}`;
}

/** "3× 503 no_healthy_backend, 1× 200" */
function tally(outcomes: string[]): string {
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(o, (counts.get(o) ?? 0) + 1);
  return [...counts].map(([o, n]) => `${n}× ${o}`).join(', ');
}

/** Writes raw bytes on a new connection; resolves with what came back when it closes (or at `waitMs`). */
function raw(url: string, bytes: string, waitMs = 3000): Promise<{ status: string; body: string }> {
  return new Promise((resolve) => {
    const s = connect(Number(new URL(url).port), '127.0.0.1', () => s.write(bytes));
    let out = '';
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      const status = /^HTTP\/1\.1 (\d{3})/.exec(out)?.[1] ?? (out === '' ? 'no answer' : 'garbled');
      resolve({ status, body: out.slice(out.indexOf('\r\n\r\n') + 4) });
    };
    const timer = setTimeout(done, waitMs);
    s.on('data', (d: Buffer) => { out += d.toString(); });
    s.on('close', done);
    s.on('error', () => {});
  });
}

function rawDescribe(r: { status: string; body: string }): string {
  if (!/^\d+$/.test(r.status)) return r.status;
  const code = errorCode(r.body);
  return code === undefined ? `${r.status}, not OpenAI-shaped (${JSON.stringify(r.body.slice(0, 60))})` : `${r.status} ${code}, OpenAI-shaped`;
}

// ---- measurements ---------------------------------------------------------------------------

const newLimits = await accepts({
  limits: { request_timeout_ms: 5000 }, backends: [{ id: 'o', type: 'openai', url: 'http://127.0.0.1:9', models: ['m'] }], routes: [{ model: 'm', backends: ['o'] }],
});
const simArgs = ['--engine', 'vllm', '--profile', 'a10-qwen2.5-7b-vllm', '--port', '0', '--model', 'qwen'];
const [simA, simB, simSlow, upstream] = await Promise.all([
  spawnSim([...simArgs, '--time-scale', '50'], 120_000), spawnSim([...simArgs, '--time-scale', '50'], 120_000), spawnSim([...simArgs, '--time-scale', '1'], 120_000), startUpstream(),
]);
const sims: SpawnedSim[] = [simA, simB, simSlow];
const listen = { host: '127.0.0.1', port: 0 };
// Builds that forward client headers by an allowlist pass the emulator's fault header only when
// the backend names it; older ones forwarded every header.
const namesHeaders = await accepts({
  backends: [{ id: 'o', type: 'openai', url: 'http://127.0.0.1:9', models: ['m'], forward_headers: ['x-return-error'] }], routes: [{ model: 'm', backends: ['o'] }],
});
const faultHeader = namesHeaders ? { forward_headers: ['x-return-error'] } : {};
const pair = [{ id: 'a', type: 'vllm', url: simA.url, ...faultHeader }, { id: 'b', type: 'vllm', url: simB.url, ...faultHeader }];
process.stderr.write(`gateway from ${gatewayRoot} (limits.request_timeout_ms: ${newLimits ? 'known' : 'unknown'})\n`);

try {
  await breakerDos();
  await slowClients();
  await generalErrors();
  await hungEngine();
  await drain();
} finally {
  upstream.child.kill('SIGTERM');
  await Promise.all(sims.map((s) => s.stop()));
}

process.stdout.write(`\nGateway: ${gatewayRoot}\n\n| defect | measure | figure |\n|---|---|---|\n`);
for (const r of rows) process.stdout.write(`| ${r.defect} | ${r.measure} | ${r.figure} |\n`);

/** D1: requests that fail by their own fault must not open the backends' breakers. */
async function breakerDos(): Promise<void> {
  const cases: Array<{ what: string; policy: string; n: number; body: string; headers: Record<string, string> }> = [
    { what: '6 bodies nested 5,000 deep (prefix-affinity, retries 1)', policy: 'prefix-affinity', n: 6, body: chatBody('qwen', `,"extra":${nested(5000)}`), headers: {} },
    { what: '5 requests with X-Return-Error: 500 (round-robin, retries 1)', policy: 'round-robin', n: 5, body: chatBody('qwen'), headers: { 'x-return-error': '500' } },
  ];
  for (const c of cases) {
    const gw = await startGateway({ listen, backends: pair, routes: [{ model: 'qwen', backends: ['a', 'b'], policy: { type: c.policy }, retries: 1 }] });
    try {
      const bad: string[] = [];
      for (let i = 0; i < c.n; i++) bad.push(describe(await post(gw.url, c.body, c.headers)));
      const good: string[] = [];
      for (let i = 0; i < 20; i++) good.push(describe(await post(gw.url, chatBody('qwen'))));
      const failed = good.filter((g) => g !== '200');
      row('1 breaker DoS', `2 vLLM sims; ${c.what}, then 20 good requests`,
        `**${failed.length}/20 good failed**${failed.length > 0 ? ` (${tally(failed)})` : ''}; the bad ones: ${tally(bad)}`);
    } finally {
      await gw.stop();
    }
  }
}

/** D2: connections that send headers and no body, and a body trickled at 1 byte a second. */
async function slowClients(): Promise<void> {
  const config = newLimits ? 'limits.request_timeout_ms: 5000' : 'default limits (the build has no request_timeout_ms)';
  const gw = await startGateway({ listen, ...(newLimits ? { limits: { request_timeout_ms: 5000 } } : {}), backends: [pair[0]], routes: [{ model: 'qwen', backends: ['a'] }] });
  const port = Number(new URL(gw.url).port);
  const head = (length: number) => `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
  try {
    const held = await Promise.all(Array.from({ length: 200 }, () => new Promise<{ s: Socket; closed: boolean; got: string }>((resolve) => {
      const h = { s: connect(port, '127.0.0.1', () => { h.s.write(head(100)); resolve(h); }), closed: false, got: '' };
      h.s.on('data', (d: Buffer) => { h.got += d.toString(); });
      h.s.on('close', () => { h.closed = true; });
      h.s.on('error', () => {});
    })));
    // The trickle runs during the same window: one byte a second of a 100-byte body, for 20 s at most.
    const trickle = new Promise<string>((resolve) => {
      const t0 = performance.now();
      let got = '';
      let sent = 0;
      const s = connect(port, '127.0.0.1', () => s.write(head(100)));
      const tick = setInterval(() => {
        if (performance.now() - t0 >= 20_000) finish(`still open after 20 s, ${sent} bytes accepted, no answer`);
        else if (!s.destroyed) { s.write('x'); sent++; }
      }, 1000);
      const finish = (what: string) => { clearInterval(tick); s.destroy(); resolve(what); };
      s.on('data', (d: Buffer) => { got += d.toString(); });
      s.on('close', () => finish(`${rawDescribe({ status: /^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 'closed, no answer', body: got.slice(got.indexOf('\r\n\r\n') + 4) })} after ${secs(performance.now() - t0)} (${sent} bytes sent)`));
      s.on('error', () => {});
    });
    await sleep(10_000);
    const open = held.filter((h) => !h.closed).length;
    const answers = held.filter((h) => h.closed).map((h) => rawDescribe({ status: /^HTTP\/1\.1 (\d{3})/.exec(h.got)?.[1] ?? 'closed, no answer', body: h.got.slice(h.got.indexOf('\r\n\r\n') + 4) }));
    for (const h of held) h.s.destroy();
    row('2 slow clients', `200 sockets send headers (Content-Length: 100) and no body; ${config}`, `**${open}/200 still open after 10 s**${answers.length > 0 ? `; closed ones got ${tally(answers)}` : ''}`);
    row('2 slow clients', `body trickled at 1 byte/s, bounded at 20 s; ${config}`, await trickle);
  } finally {
    await gw.stop();
  }
}

/** D3, D4, D7 on one gateway: nesting in content, headers the engine gets, errors before the handler, an address in an error. */
async function generalErrors(): Promise<void> {
  // `gone` is healthy at start and then refuses connections, so a request meets the refusal itself.
  const gone = await startUpstream();
  const goneUrl = gone.url;
  const gw = await startGateway({
    listen,
    backends: [
      pair[0],
      { id: 'echo', type: 'openai', url: upstream.url, models: ['m'], health_path: '/v1/models', load_interval_ms: 0 },
      { id: 'gone', type: 'openai', url: goneUrl, models: ['m'], health_path: '/v1/models', load_interval_ms: 0, health_interval_ms: 60_000 },
    ],
    routes: [
      { model: 'qwen', backends: ['a'], policy: { type: 'prefix-affinity' } },
      { model: 'm', backends: ['echo'] },
      { model: 'gone', backends: ['gone'], retries: 0 },
    ],
  });
  try {
    for (const depth of [200, 5000]) {
      const body = `{"model":"qwen","max_tokens":2,"messages":[{"role":"user","content":[${nested(depth)}]}]}`;
      row('3 nesting in content', `prefix-affinity route, message content nested ${depth.toLocaleString('en')} deep`, describe(await post(gw.url, body)));
    }

    const sent = { cookie: 'session=secret', 'proxy-authorization': 'Basic abc', 'x-forwarded-for': '10.0.0.1' };
    const fwd = await post(gw.url, chatBody('m'), sent);
    const seen = (await (await fetch(`${upstream.url}/seen`)).json()) as Record<string, string>;
    const reached = Object.keys(sent).filter((h) => seen[h] !== undefined);
    row('4 headers', 'Cookie, Proxy-Authorization, X-Forwarded-For sent by the client: which reach the engine', `${describe(fwd)}; reached: **${reached.length > 0 ? reached.join(', ') : 'none'}**`);
    const longId = 'r'.repeat(8192);
    const idAnswer = await post(gw.url, chatBody('m'), { 'x-request-id': longId });
    const echoed = 'failed' in idAnswer ? undefined : idAnswer.headers.get('x-request-id');
    row('4 headers', '8 KB X-Request-Id: adopted (echoed in x-request-id)?', echoed === longId ? '**adopted** (echoed whole)' : `replaced (${echoed?.slice(0, 40) ?? 'none'})`);

    row('7 errors before the handler', 'raw socket `GARBAGE / HTTP/1.1`', rawDescribe(await raw(gw.url, 'GARBAGE / HTTP/1.1\r\n\r\n')));
    row('7 errors before the handler', 'GET /health with a 20 KB header', rawDescribe(await raw(gw.url, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)));
    row('7 errors before the handler', 'POST chat, empty body, no Content-Type', rawDescribe(await raw(gw.url, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')));
    const json = chatBody('qwen');
    row('7 errors before the handler', 'POST chat, JSON body sent as text/plain', rawDescribe(await raw(gw.url, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${json.length}\r\nConnection: close\r\n\r\n${json}`)));

    gone.child.kill('SIGKILL');
    await once(gone.child, 'exit');
    const refused = await post(gw.url, chatBody('gone'));
    const address = new URL(goneUrl).host;
    const leaks = !('failed' in refused) && refused.text.includes(address);
    row('7 errors before the handler', 'backend refuses the connection: does the answer name its address?',
      `${describe(refused)}; ${leaks ? `**leaks \`${address}\`**` : 'no address'}${'failed' in refused ? '' : ` (${JSON.stringify(refused.text.slice(0, 120))})`}`);
  } finally {
    await gw.stop();
    gone.child.kill('SIGKILL');
  }
}

/** D5: an engine that never answers, and a stream that stalls after one event. */
async function hungEngine(): Promise<void> {
  const backend = { id: 'hung', type: 'openai', url: upstream.url, models: ['hung'], health_path: '/v1/models', load_interval_ms: 0 };
  const route = { model: 'hung', backends: ['hung'], retries: 0 };
  const configs = [
    { what: 'default config', doc: { listen, backends: [backend], routes: [route] } },
    {
      what: 'limits.upstream_headers_timeout_ms 5000, backend body_timeout_ms 5000',
      doc: { listen, limits: { upstream_headers_timeout_ms: 5000 }, backends: [{ ...backend, body_timeout_ms: 5000 }], routes: [route] },
    },
    {
      what: 'route timeouts { first_token_ms: 5000, stall_ms: 5000, total_ms: 10000 }',
      doc: { listen, backends: [backend], routes: [{ ...route, timeouts: { first_token_ms: 5000, stall_ms: 5000, total_ms: 10_000 } }] },
    },
  ];
  const usable: typeof configs = [];
  const refused: typeof configs = [];
  for (const c of configs) (await accepts(c.doc) ? usable : refused).push(c);
  const gateways = await Promise.all(usable.map((c) => startGateway(c.doc)));
  try {
    // Every request at once: the whole measurement takes the 20 s bound once.
    const measured = await Promise.all(gateways.flatMap((gw) => [
      post(gw.url, '{"model":"hung","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}'),
      post(gw.url, '{"model":"hung","stream":true,"max_tokens":50,"messages":[{"role":"user","content":"hi"}]}'),
    ]));
    usable.forEach((c, i) => {
      const [plain, streamed] = [measured[2 * i], measured[2 * i + 1]];
      const after = (a: Answer) => (a.cut === 'bound' ? '**> 20 s**' : `after **${secs(a.ms)}**`);
      row('5 hung engine', `non-streamed, engine never answers; ${c.what}; bounded 20 s`, 'failed' in plain ? `**${plain.failed}**` : `${describe(plain)} ${after(plain)}`);
      row('5 hung engine', `streamed, engine sends one event then stalls; ${c.what}; bounded 20 s`,
        'failed' in streamed ? `**${streamed.failed}**` : `${streamed.status}: ${streamEnd(streamed.text)} ${after(streamed)}`);
    });
    for (const c of refused) row('5 hung engine', `non-streamed and streamed; ${c.what}`, 'n/a: this build refuses the config');
  } finally {
    await Promise.all(gateways.map((gw) => gw.stop()));
  }
}

/** How an SSE body ended: its last error event's code (if any) and whether [DONE] came last. */
function streamEnd(text: string): string {
  const events = text.split('\n\n').map((e) => e.trim().replace(/^data: ?/, '')).filter(Boolean);
  const errors = events.filter((e) => e.startsWith('{"error"')).map((e) => errorCode(e) ?? 'error (not OpenAI-shaped)');
  const done = events.at(-1) === '[DONE]';
  const data = events.length - errors.length - (done ? 1 : 0);
  return `${data} data event${data === 1 ? '' : 's'}, ${errors.length > 0 ? `error event ${errors.at(-1)}` : 'no error event'}, ${done ? '[DONE]' : 'no [DONE]'}`;
}

/** D6: SIGTERM with a stream and a non-streamed request in flight, drain deadline 3 s. */
async function drain(): Promise<void> {
  const gw = await startGateway({ listen, limits: { drain_timeout_ms: 3000 }, backends: [{ id: 's', type: 'vllm', url: simSlow.url }], routes: [{ model: 'qwen', backends: ['s'] }] });
  const long = (stream: boolean) => JSON.stringify({ model: 'qwen', stream, max_tokens: 4000, ignore_eos: true, messages: [{ role: 'user', content: 'talk for a long time' }] });
  try {
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: long(true) });
    const reader = res.body!.getReader();
    let text = new TextDecoder().decode((await reader.read()).value);
    const waiting = post(gw.url, long(false), {}, 20_000);
    await sleep(300);
    const exited = once(gw.child, 'exit') as Promise<[number | null]>;
    const t0 = performance.now();
    gw.child.kill('SIGTERM');
    await sleep(200);
    row('6 SIGTERM', 'new request on a new connection 200 ms after SIGTERM', await freshPost(gw.url, long(false)));
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    row('6 SIGTERM', 'stream in flight at the drain deadline (drain_timeout_ms 3000): how it ends', `${streamEnd(text)}, at ${secs(performance.now() - t0)}`);
    row('6 SIGTERM', 'non-streamed request in flight at the drain deadline', describe(await waiting));
    const [code] = await exited;
    row('6 SIGTERM', 'gateway exit', `code ${code} at ${secs(performance.now() - t0)} after SIGTERM`);
  } finally {
    await gw.stop();
  }
}

/** A POST on a connection of its own (no pooled keep-alive socket): its status, or the socket error. */
function freshPost(url: string, body: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request(`${url}/v1/chat/completions`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => resolve(describe({ status: res.statusCode ?? 0, text, headers: new Headers(), ms: 0 })));
      res.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer after 10 s')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.end(body);
  });
}

