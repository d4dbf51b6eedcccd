/**
 * What the overhead benchmark puts load on, each in its own process: the zero upstream, nginx as
 * a reverse proxy in front of it, Switchyard (compiled) and @portkey-ai/gateway. A target is ready
 * when a real POST through it answers 200 — not when its port opens.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { which } from './load.js';
import { NotRetryable, waitForOutput, waitUntilReady, type ProcessGroup, type Spawned } from './processes.js';

/** A checkout's compiled CLI entry: dist/bin/main.js, or dist/core/cli/main.js in checkouts from before the CLI moved to bin/. */
export function cliEntry(root: string): string {
  const entry = path.join(root, 'dist', 'bin', 'main.js');
  const before = path.join(root, 'dist', 'core', 'cli', 'main.js');
  return existsSync(entry) || !existsSync(before) ? entry : before;
}

export interface Target {
  name: string;
  /** Full URL of the chat-completions endpoint. */
  url: string;
  /** Headers every request to this target carries (besides content-type). */
  headers: Record<string, string>;
  /** The process whose CPU (with its children) is charged to this target. */
  process?: Spawned;
  stop(): Promise<void>;
}

export const MODEL = 'zero-model';
export const CHAT_PATH = '/v1/chat/completions';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** POST once; true when the answer is a 200 chat completion (and passes `check`). */
export async function probe(t: Pick<Target, 'url' | 'headers'>, body: string, check?: (headers: Record<string, unknown>) => boolean): Promise<boolean> {
  const res = await request(t.url, { method: 'POST', headers: { 'content-type': 'application/json', ...t.headers }, body, headersTimeout: 2000, bodyTimeout: 2000 });
  const text = await res.body.text();
  if (res.statusCode >= 400 && res.statusCode < 500) throw new NotRetryable(`answered ${res.statusCode}: ${text.slice(0, 300)}`);
  if (res.statusCode !== 200) throw new Error(`answered ${res.statusCode}: ${text.slice(0, 300)}`);
  return text.includes('"choices"') && (check === undefined || check(res.headers));
}

/** node with this file's sibling: the compiled .js when running from dist, else the .ts via tsx. */
function siblingScript(name: string): { command: string; args: string[] } {
  const here = fileURLToPath(import.meta.url);
  const fromSource = here.endsWith('.ts');
  const file = path.join(path.dirname(here), `${name}${fromSource ? '.ts' : '.js'}`);
  return { command: process.execPath, args: fromSource ? ['--import', 'tsx', file] : [file] };
}

export async function startZero(group: ProcessGroup, opts: { itlMs?: number; chunks?: number; stamp?: boolean } = {}): Promise<Target & { base: string }> {
  const { command, args } = siblingScript('zero-upstream');
  const p = group.spawn('zero upstream', command, [
    ...args, '--port', '0', '--itl-ms', String(opts.itlMs ?? 0), '--chunks', String(opts.chunks ?? 16), '--models', MODEL,
    ...(opts.stamp ? ['--stamp'] : []),
  ]);
  const [, base] = await waitForOutput(p, /listening on (http:\/\/\S+)/, 30_000);
  return { name: 'direct', base, url: `${base}${CHAT_PATH}`, headers: {}, process: p, stop: () => p.stop() };
}

export function nginxBinary(): string | undefined {
  return which('nginx');
}

/**
 * The config a careful operator would use for an LLM proxy: a keep-alive pool to the upstream
 * (`keepalive` + HTTP/1.1 + an empty Connection header, else nginx opens a connection per
 * request), no response buffering (SSE must pass as it comes), no access log (Switchyard has no
 * per-request log line either).
 */
export function nginxConfig(o: { prefix: string; port: number; upstream: string; workers: string }): string {
  const up = new URL(o.upstream);
  const tmp = (name: string) => path.join(o.prefix, 'tmp', name);
  return `worker_processes ${o.workers};
pid ${path.join(o.prefix, 'nginx.pid')};
error_log ${path.join(o.prefix, 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${tmp('body')};
  proxy_temp_path ${tmp('proxy')};
  fastcgi_temp_path ${tmp('fastcgi')};
  uwsgi_temp_path ${tmp('uwsgi')};
  scgi_temp_path ${tmp('scgi')};
  keepalive_requests 1000000;
  keepalive_timeout 65s;
  upstream zero {
    server ${up.host};
    keepalive 256;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${o.port};
    location / {
      proxy_pass http://zero;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
`;
}

export async function startNginx(group: ProcessGroup, o: { bin: string; dir: string; upstream: string; workers: string; body: string }): Promise<Target> {
  const prefix = path.join(o.dir, `nginx-${o.workers}`);
  mkdirSync(path.join(prefix, 'tmp'), { recursive: true });
  const port = await freePort();
  const conf = path.join(prefix, 'nginx.conf');
  writeFileSync(conf, nginxConfig({ prefix, port, upstream: o.upstream, workers: o.workers }));
  const p = group.spawn('nginx', o.bin, ['-c', conf, '-p', prefix, '-g', 'daemon off;']);
  const t: Target = { name: `nginx (worker_processes ${o.workers})`, url: `http://127.0.0.1:${port}${CHAT_PATH}`, headers: {}, process: p, stop: () => p.stop() };
  await waitUntilReady(p, () => probe(t, o.body), 15_000);
  return t;
}

/**
 * How a Switchyard row is configured. `plain`: no keys, least-load. `tenants`: what a production
 * deployment runs — a tenant key checked on every request with rpm, tpm and concurrency limits
 * (set far above what the run reaches, so every request is counted and none refused), an admin
 * key, prefix-affinity routing, metrics, and the access log at its default (failures only) — with
 * the limits in process memory, or in a Redis (`redis`: the URL of a redis-server).
 */
export type SwitchyardSetup = { kind: 'plain' } | { kind: 'tenants'; redis?: string };

/** The tenant key the `tenants` rows (and the essentials floor) are sent with. */
export const BENCH_KEY = 'sk-overhead-bench-tenant';

/** A Switchyard row's name: plain, or with tenants whose limits live in memory or in Redis. */
export function switchyardRowName(workers: number, limits?: 'memory' | 'redis'): string {
  if (!limits) return `switchyard (workers: ${workers})`;
  return `switchyard + key, limits (${limits}), prefix-affinity (workers: ${workers})`;
}

export function switchyardConfig(o: { port: number; workers: number; upstream: string; setup?: SwitchyardSetup }): string {
  const setup = o.setup ?? { kind: 'plain' };
  const lines = [
    `listen: { host: 127.0.0.1, port: ${o.port} }`,
    `workers: ${o.workers}`,
    'backends:',
    `  - { id: zero, type: openai, url: "${o.upstream}", models: [${MODEL}] }`,
    'routes:',
    `  - { model: ${MODEL}, backends: [zero], policy: { type: ${setup.kind === 'plain' ? 'least-load' : 'prefix-affinity'} } }`,
  ];
  if (setup.kind === 'tenants') {
    lines.push(
      'auth:',
      '  keys:',
      `    - { id: bench, key: ${BENCH_KEY}, limits: { rpm: 1000000000, tpm: 1000000000000, concurrency: 1000000 } }`,
      '  admin_keys: [sk-overhead-bench-admin]',
      'access_log: { sample_rate: 0 }',
    );
    if (setup.redis) lines.push(`store: { type: redis, url: "${setup.redis}" }`);
  }
  return `${lines.join('\n')}\n`;
}

export async function startSwitchyard(
  group: ProcessGroup, o: { root: string; dir: string; upstream: string; workers: number; body: string; nodeArgs?: string[]; setup?: SwitchyardSetup },
): Promise<Target> {
  const port = await freePort();
  const setup = o.setup ?? { kind: 'plain' };
  const name = switchyardRowName(o.workers, setup.kind === 'plain' ? undefined : setup.redis ? 'redis' : 'memory');
  const config = path.join(o.dir, `switchyard-${o.workers}w-${setup.kind}${setup.kind === 'tenants' && setup.redis ? '-redis' : ''}.yaml`);
  writeFileSync(config, switchyardConfig({ port, workers: o.workers, upstream: o.upstream, setup }));
  const entry = cliEntry(o.root);
  const p = group.spawn(name, process.execPath, [...(o.nodeArgs ?? []), entry, 'serve', '--config', config], { cwd: o.root });
  const t: Target = {
    name, url: `http://127.0.0.1:${port}${CHAT_PATH}`, headers: setup.kind === 'tenants' ? { authorization: `Bearer ${BENCH_KEY}` } : {}, process: p, stop: () => p.stop(),
  };
  await waitUntilReady(p, () => probe(t, o.body, (h) => h['x-switchyard-backend'] === 'zero'), 30_000);
  return t;
}

export function portkeyPackage(peersDir: string): { dir: string; version: string; bin: string } | undefined {
  const dir = path.join(peersDir, 'node_modules', '@portkey-ai', 'gateway');
  const file = path.join(dir, 'package.json');
  if (!existsSync(file)) return undefined;
  const pkg = JSON.parse(readFileSync(file, 'utf8')) as { version: string; bin?: string | Record<string, string> };
  const bin = typeof pkg.bin === 'string' ? pkg.bin : Object.values(pkg.bin ?? {})[0];
  if (!bin) return undefined;
  return { dir, version: pkg.version, bin: path.join(dir, bin) };
}

/**
 * Portkey's node server (`build/start-server.js`: `--port=N`; `--headless` skips its log UI).
 * It proxies to any OpenAI-compatible server named per request by `x-portkey-custom-host`;
 * loopback hosts are on its default trusted list.
 */
export async function startPortkey(group: ProcessGroup, o: { bin: string; upstream: string; body: string }): Promise<Target> {
  const port = await freePort();
  const p = group.spawn('portkey', process.execPath, [o.bin, `--port=${port}`, '--headless']);
  const t: Target = {
    name: 'portkey gateway',
    url: `http://127.0.0.1:${port}${CHAT_PATH}`,
    headers: { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${o.upstream}/v1`, authorization: 'Bearer sk-zero' },
    process: p,
    stop: () => p.stop(),
  };
  await waitUntilReady(p, () => probe(t, o.body), 30_000);
  return t;
}

/** A redis-server of the run's own on a free port, without persistence (the `tenants` rows' Redis store). */
export async function startRedis(group: ProcessGroup): Promise<{ url: string; process: Spawned }> {
  const bin = which('redis-server');
  if (!bin) throw new NotRetryable('redis-server is not installed (apt-get install redis-server)');
  const port = await freePort();
  const p = group.spawn('redis-server', bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  await waitForOutput(p, /Ready to accept connections/, 15_000);
  return { url: `redis://127.0.0.1:${port}`, process: p };
}

/** The floor row's name; a Switchyard row with as many workers is compared with it. */
export function floorName(workers: number): string {
  return `node floor (${workers} process${workers > 1 ? 'es' : ''})`;
}

/** The fastify floor row's name (the same proxy in fastify). */
export function fastifyFloorName(workers: number): string {
  return `fastify floor (${workers} process${workers > 1 ? 'es' : ''})`;
}

/** The essentials floor's row name (essentials.ts: the floor plus a key, limits, routing and metrics at their least). */
export function essentialsFloorName(workers: number): string {
  return `node floor + key, limits, prefix-affinity, metrics (${workers} process${workers > 1 ? 'es' : ''})`;
}

/**
 * The bare node:http + undici proxy (floor-proxy.ts): how fast any Node gateway could be here;
 * with `fastify`, the same in fastify: what the framework alone costs; with `essentials`, the
 * floor plus what a gateway with keys, limits, routing and metrics must do (essentials.ts).
 */
export async function startFloor(
  group: ProcessGroup, o: { upstream: string; workers: number; body: string; fastify?: boolean; essentials?: boolean; nodeArgs?: string[] },
): Promise<Target> {
  const { command, args } = siblingScript('floor-proxy');
  const name = o.essentials ? essentialsFloorName(o.workers) : o.fastify ? fastifyFloorName(o.workers) : floorName(o.workers);
  const variant = o.essentials ? ['--essentials', BENCH_KEY] : o.fastify ? ['--fastify'] : [];
  const p = group.spawn(name, command, [...(o.nodeArgs ?? []), ...args, '--upstream', o.upstream, '--workers', String(o.workers), ...variant]);
  const [, base] = await waitForOutput(p, /listening on (http:\/\/\S+)/, 30_000);
  const headers: Record<string, string> = o.essentials ? { authorization: `Bearer ${BENCH_KEY}` } : {};
  const t: Target = { name, url: `${base}${CHAT_PATH}`, headers, process: p, stop: () => p.stop() };
  await waitUntilReady(p, () => probe(t, o.body), 30_000);
  return t;
}
