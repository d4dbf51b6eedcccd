/**
 * The `backends:` section: core's keys by the schema, everything else for the plugin to check.
 * Each backend is read apart from the others, so one with a mistake does not hide the next one's.
 */
import { resolvePlugin } from '../plugin/registry.js';
import type { BackendPlugin, BackendSpec } from '../plugin/types.js';
import { readDiscover, SAMPLE_HOST, withHost, type DiscoveredBackend } from './discover.js';
import { TOP_LEVEL } from './fields.js';
import type { ConfigReader, Obj } from './reader.js';
import { BACKEND, SIM_FACES, TOP } from './schema.js';
import type { SimulatedEngine } from './types.js';

export interface Backends {
  backends: BackendSpec[];
  simulated: SimulatedEngine[];
  discovered: DiscoveredBackend[];
}

/** The backends that read without a mistake; the mistakes are kept in `r`. */
export async function readBackends(r: ConfigReader, doc: Obj, configDir: string): Promise<Backends> {
  const out: Backends = { backends: [], simulated: [], discovered: [] };
  const list = r.attempt(() => TOP.backends.read(r, doc, 'backends', TOP_LEVEL)) ?? [];
  const ids = new Set<string>();
  for (const [i, item] of list.entries()) {
    const at = `backends[${i}]`;
    const id = item && typeof item === 'object' ? (item as Obj).id : undefined;
    if (typeof id === 'string' && ids.has(id)) r.report(r.issue(`${at}.id`, 'a unique backend id', id));
    if (typeof id === 'string') ids.add(id);
    await r.attemptAsync(() => readBackend(r, item, at, configDir, out));
  }
  return out;
}

async function readBackend(r: ConfigReader, item: unknown, at: string, configDir: string, out: Backends): Promise<void> {
  const o = r.obj(item, at);
  const b = r.attempt(() => r.fields(o, at, BACKEND, true));
  // The plugin checks its options even when core's keys have mistakes: both kinds are reported.
  let plugin: BackendPlugin | undefined;
  if (typeof o.type === 'string' && o.type !== '') {
    try {
      plugin = await resolvePlugin(o.type, configDir);
    } catch (err) {
      r.report(r.issue(`${at}.type`, err instanceof Error ? err.message : 'a known backend type', o.type));
    }
  }
  const options = Object.fromEntries(Object.entries(o).filter(([k]) => !(k in BACKEND)));
  // A discovered backend's options may name its replica's address as {host}.
  const problems = plugin?.validate(o.discover === undefined ? options : withHost(options, SAMPLE_HOST)) ?? [];
  if (problems.length > 0) r.attempt(() => { throw r.problems(at, problems); });
  if (!b || !plugin || problems.length > 0) return r.abort();
  const { id, type, models, labels } = b;
  if (b.discover !== undefined) {
    if (b.url !== undefined) r.fail(`${at}.url`, 'no url beside discover: (each replica\'s comes from DNS)', b.url);
    if (b.sim !== undefined) r.fail(`${at}.sim`, 'no sim: beside discover:', o.sim);
    if (plugin.inProcess) r.fail(`${at}.discover`, `no discover: on a ${type} backend (it runs inside the gateway)`, o.discover);
    out.discovered.push({ template: { id, type, url: '', models, labels, options, simulated: false }, discover: readDiscover(r, o.discover, `${at}.discover`) });
    return;
  }
  if (b.sim !== undefined) {
    if (!(type in SIM_FACES)) r.fail(`${at}.type`, `one of ${Object.keys(SIM_FACES).join(', ')} for a simulated backend`, type);
    if (b.url !== undefined) r.fail(`${at}.url`, 'no url on a simulated backend (the gateway starts it)', b.url);
    const { profile, port, time_scale: timeScale, args } = b.sim;
    out.simulated.push({ backendId: id, face: SIM_FACES[type as keyof typeof SIM_FACES], profile, port, timeScale, model: models?.[0], args: args ?? [] });
    out.backends.push({ id, type, url: `http://127.0.0.1:${port}`, models, labels, options, simulated: true });
    return;
  }
  let url: string;
  if (plugin.inProcess) {
    if (b.url !== undefined) r.fail(`${at}.url`, `no url: a ${type} backend runs inside the gateway`, b.url);
    url = `inprocess:${id}`;
  } else {
    url = r.str(o, 'url', at);
    if (!isHttpUrl(url)) r.fail(`${at}.url`, 'an http:// or https:// URL', url);
  }
  out.backends.push({ id, type, url, models, labels, options, simulated: false });
}

function isHttpUrl(text: string): boolean {
  try {
    return /^https?:$/.test(new URL(text).protocol);
  } catch {
    return false;
  }
}
