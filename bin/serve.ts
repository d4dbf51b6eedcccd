/**
 * `switchyard serve [--config FILE] [--port N]` and `switchyard check-config FILE`.
 *
 * With `workers: N > 1` the primary process starts the simulated replicas (if any) and forks N
 * workers sharing the port (node:cluster); each worker is a whole gateway with its own backends
 * and metrics. SIGTERM drains: stop accepting, let in-flight requests finish up to
 * `limits.drain_timeout_ms`, exit 0. SIGHUP reloads the config's backends and routes; the primary
 * passes it to every worker, and a worker that POST /admin/reload reloaded asks the primary to
 * reload the others. Simulated replicas (`sim:`) are started once: a reload does not start or stop
 * them (it says so in its `not_reloaded` and logs a warning).
 */
import cluster from 'node:cluster';
import path from 'node:path';
import { ConfigError, loadConfig } from '../core/config/load.js';
import { servedModelWarnings } from '../core/config/served-models.js';
import type { GatewayConfig } from '../core/config/types.js';
import { startGateway } from '../core/server/gateway.js';
import { loadAcceptPending } from '../native/accept.js';
import { registerBuiltinPlugins } from './plugins.js';
import { startSimulated } from './simulated.js';
import { packageRoot } from '../core/util/package-root.js';
import { defineCommand, parseCommandLine, usageFailure } from '../core/cli/args.js';
import { watchParent } from '../core/cli/self.js';

export const DEFAULT_CONFIG = path.join(packageRoot(import.meta.url), 'conf', 'gateway.yaml');

const SERVE = defineCommand({
  command: 'switchyard serve',
  usage: `usage: switchyard serve [--config FILE] [--port N]

Runs the gateway until SIGTERM or SIGINT, then drains (limits.drain_timeout_ms). SIGHUP (or
POST /admin/reload) re-reads the config file and swaps its backends and routes.

options:
  --config FILE    the gateway config (default: the embedded conf/gateway.yaml, all engines simulated)
  --port N         listen on port N instead of the config's listen.port (also: PORT=N)
  -h, --help       this text

From npm: npm start -- --port N (npm keeps flags before the -- for itself).`,
  options: { config: { type: 'string' }, port: { type: 'string' } },
});

const CHECK_CONFIG = defineCommand({
  command: 'switchyard check-config',
  usage: `usage: switchyard check-config FILE

Loads and validates a gateway config as serve would, without starting anything, and prints its
backends and routes. Exit 1 with every error (file, path in it, what was expected) if it is invalid.
Warns (exit 0) when a backend's GET /v1/models does not list the model a route sends it; a
backend that does not answer within 2 s is not checked.

options:
  -h, --help       this text`,
  options: {},
  positionals: { min: 1, max: 1, name: 'FILE' },
});

function portOverride(flag: string | undefined): number | undefined {
  const raw = flag ?? process.env.PORT;
  if (raw === undefined || raw === '') return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port/PORT: expected a port number, got ${raw}`);
  return port;
}

function onSignals(handler: (signal: NodeJS.Signals) => void): void {
  process.once('SIGTERM', handler);
  process.once('SIGINT', handler);
  // A gateway started by a benchmark drains when that benchmark goes away.
  if (!cluster.isWorker) watchParent(() => process.kill(process.pid, 'SIGTERM'));
}

export async function runServe(argv: string[]): Promise<number> {
  registerBuiltinPlugins();
  // `npm start --port N`: npm takes --port as its own (npm_config_port=true) and passes N alone.
  if (process.env.npm_config_port !== undefined && argv.length === 1 && /^\d+$/.test(argv[0])) {
    return usageFailure(SERVE, `Unexpected argument '${argv[0]}': npm kept --port for itself; use npm start -- --port ${argv[0]}`);
  }
  const parsed = parseCommandLine(SERVE, argv);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  // From here on SIGHUP reloads (its default would end the process while it starts).
  const hup = onReloadSignal();
  const file = values.config ?? DEFAULT_CONFIG;
  const config = await loadConfig(file);
  const port = portOverride(values.port);
  if (cluster.isWorker) return runWorker(config, port, Number(process.env.SWITCHYARD_WORKER_INDEX ?? 0), hup);
  const sims = await startSimulated(config.simulated);
  if (config.workers === 1) {
    const code = await runWorker(config, port, 0, hup);
    await sims.stop();
    return code;
  }
  return runPrimary(config, sims.stop, hup);
}

/** A reload asked for while the gateway starts happens once it has started (the file may have changed since it was read). */
interface ReloadSignal {
  started(reload: () => unknown): void;
}

function onReloadSignal(): ReloadSignal {
  let reload: (() => unknown) | undefined;
  let asked = false;
  process.on('SIGHUP', () => { if (reload) reload(); else asked = true; });
  return {
    started(fn) {
      reload = fn;
      if (asked) fn();
    },
  };
}

async function runWorker(config: GatewayConfig, port: number | undefined, index: number, hup: ReloadSignal): Promise<number> {
  const gateway = await startGateway(config, {
    port, drainingReader: index === 0, acceptPending: loadAcceptPending(),
    onReloadRequested: cluster.isWorker ? () => process.send?.({ switchyard: 'reload' }) : undefined,
  });
  // The outcome is logged (and answered to POST /admin/reload).
  hup.started(() => void gateway.reload());
  if (!cluster.isWorker) process.stdout.write(`switchyard listening on ${gateway.url} (config ${config.file})\n`);
  await new Promise<void>((resolve) => onSignals(() => { gateway.drain().then(resolve, resolve); }));
  // A cluster worker's IPC channel to the primary would keep it alive after the drain.
  if (cluster.isWorker) cluster.worker?.disconnect();
  return 0;
}

async function runPrimary(config: GatewayConfig, stopSims: () => Promise<void>, hup: ReloadSignal): Promise<number> {
  let stopping = false;
  const reloadWorkers = (except?: number) => {
    for (const w of Object.values(cluster.workers ?? {})) if (w && w.id !== except && !w.isDead()) w.process.kill('SIGHUP');
  };
  hup.started(() => reloadWorkers());
  const fork = (index: number) => {
    const worker = cluster.fork({ SWITCHYARD_WORKER_INDEX: String(index) });
    worker.on('message', (msg: unknown) => {
      if (typeof msg === 'object' && msg !== null && (msg as { switchyard?: unknown }).switchyard === 'reload') reloadWorkers(worker.id);
    });
    worker.on('exit', (code, signal) => {
      if (stopping) return;
      process.stderr.write(`switchyard: worker ${index} exited (${signal ?? code}); starting a new one\n`);
      fork(index);
    });
    return worker;
  };
  const workers = Array.from({ length: config.workers }, (_, i) => fork(i));
  const addresses = await Promise.all(workers.map((w) => new Promise<{ address: string; port: number }>((resolve) => {
    w.once('listening', (address) => resolve({ address: address.address ?? '127.0.0.1', port: address.port }));
  })));
  const { address, port } = addresses[0];
  const host = address === '0.0.0.0' || address === '::' || address === '' ? '127.0.0.1' : address;
  process.stdout.write(`switchyard listening on http://${host}:${port} with ${config.workers} workers (config ${config.file})\n`);
  await new Promise<void>((resolve) => onSignals(() => resolve()));
  stopping = true;
  const live = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
  await Promise.all(live.map((w) => new Promise<void>((resolve) => {
    w.once('exit', () => resolve());
    w.process.kill('SIGTERM');
  })));
  await stopSims();
  return 0;
}

export async function runCheckConfig(argv: string[]): Promise<number> {
  registerBuiltinPlugins();
  const parsed = parseCommandLine(CHECK_CONFIG, argv);
  if (typeof parsed === 'number') return parsed;
  const file = parsed.positionals[0];
  let config: GatewayConfig;
  try {
    config = await loadConfig(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // Every mistake, one a line, so that one run shows all that needs fixing.
    process.stderr.write(`switchyard: ${file}: ${err.errors.length} error${err.errors.length === 1 ? '' : 's'}\n${err.errors.map((e) => `  ${e.message}\n`).join('')}`);
    return 1;
  }
  // A model a backend does not serve is worth knowing, not a reason to refuse the config.
  for (const warning of await servedModelWarnings(config)) process.stderr.write(`switchyard: warning: ${warning}\n`);
  process.stdout.write(
    `${file}: ok — ${config.backends.length} backends (${config.simulated.length} simulated), ` +
      (config.discovered.length > 0 ? `${config.discovered.length} discovered by DNS (${config.discovered.map((d) => `${d.template.id}: ${d.discover.dns}`).join(', ')}), ` : '') +
      `${config.routes.length} routes: ${config.routes.map((r) => `${r.model} → ${r.backends.join(', ')} (${r.policy.type})`).join('; ')}\n`,
  );
  return 0;
}
