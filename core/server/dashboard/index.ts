/**
 * The live dashboard at /dashboard: a self-contained page (plain JS and uPlot, both served by the
 * gateway from disk, nothing fetched from the network) fed by an SSE stream of snapshots.
 *
 * - GET  /dashboard                 the page; with auth on and no session, the login form
 * - POST /dashboard/login           {"key": admin key} → a session cookie (HttpOnly, SameSite=Strict)
 * - POST /dashboard/logout          ends the session
 * - GET  /dashboard/events          SSE: one `snapshot` event per second (snapshot.ts)
 * - GET  /dashboard/assets/<file>   the page's scripts and styles
 *
 * With an `auth:` section the data needs an admin key: the session cookie, or the key itself as
 * on /admin (Bearer or x-api-key). Without one the dashboard is open, like /admin.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { OutgoingHttpHeaders } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Tenants } from '../../auth/tenants.js';
import { presentedKey } from '../../auth/keys.js';
import { packageRoot } from '../../util/package-root.js';
import { GatewayError } from '../errors.js';
import { SnapshotFeed } from './feed.js';
import { DashboardSessions, clearedCookie, sessionToken } from './sessions.js';
import { SnapshotBuilder, type SnapshotSources } from './snapshot.js';

export interface DashboardDeps extends SnapshotSources {
  tenants?: Tenants;
  /** How often a snapshot is pushed (default 1000 ms). */
  intervalMs?: number;
}

// The page runs only what the gateway serves: no inline script or style, no other origin.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

interface Asset {
  body: Buffer;
  type: string;
}

/** The page's files, read once at startup from the sources' folder (found from dist/ too) and uPlot's package. */
function loadAssets(): { page: Buffer; login: Buffer; assets: Map<string, Asset> } {
  const dir = path.join(packageRoot(import.meta.url), 'core', 'server', 'dashboard', 'public');
  const uplot = path.dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'));
  const js = 'text/javascript; charset=utf-8';
  const css = 'text/css; charset=utf-8';
  const files: Array<[string, string, string]> = [
    ['dashboard.js', path.join(dir, 'dashboard.js'), js],
    ['charts.js', path.join(dir, 'charts.js'), js],
    ['login.js', path.join(dir, 'login.js'), js],
    ['dashboard.css', path.join(dir, 'dashboard.css'), css],
    ['uPlot.iife.min.js', path.join(uplot, 'uPlot.iife.min.js'), js],
    ['uPlot.min.css', path.join(uplot, 'uPlot.min.css'), css],
  ];
  return {
    page: readFileSync(path.join(dir, 'index.html')),
    login: readFileSync(path.join(dir, 'login.html')),
    assets: new Map(files.map(([name, file, type]) => [name, { body: readFileSync(file), type }])),
  };
}

export function registerDashboard(app: FastifyInstance, deps: DashboardDeps): void {
  const { page, login, assets } = loadAssets();
  const tenants = deps.tenants?.guarding ? deps.tenants : undefined;
  const sessions = new DashboardSessions(tenants?.adminSecret('switchyard dashboard sessions') ?? randomBytes(32));
  const snapshots = new SnapshotBuilder(deps);
  const feed = new SnapshotFeed({ intervalMs: deps.intervalMs ?? 1000, build: async () => ({ ...(await snapshots.build()), auth: tenants !== undefined }), onStart: () => snapshots.reset(), log: app.log });
  // SSE streams would hold app.close() open: they end before the server stops.
  app.addHook('preClose', (done) => {
    feed.close();
    done();
  });

  const admitted = (req: FastifyRequest): boolean =>
    !tenants || sessions.valid(sessionToken(req.headers)) || tenants.isAdminKey(presentedKey(req.headers));
  const requireAdmin = (req: FastifyRequest): void => {
    if (admitted(req)) return;
    throw new GatewayError('SY_ERR_INVALID_API_KEY', 'the dashboard needs an admin key (auth.admin_keys): log in at /dashboard, or send it as `Authorization: Bearer <key>`', { headers: { 'www-authenticate': 'Bearer' } });
  };
  const html = (reply: FastifyReply, body: Buffer) => reply
    .header('content-type', 'text/html; charset=utf-8').header('content-security-policy', CSP)
    .header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').header('x-frame-options', 'DENY')
    .send(body);

  app.get('/dashboard', async (req, reply) => html(reply, admitted(req) ? page : login));

  app.get<{ Params: { name: string } }>('/dashboard/assets/:name', async (req, reply) => {
    const asset = assets.get(req.params.name);
    if (!asset) throw new GatewayError('SY_ERR_ROUTE_NOT_FOUND', `no route for GET ${req.url.split('?')[0]}`);
    return reply.header('content-type', asset.type).header('cache-control', 'no-cache').send(asset.body);
  });

  app.post<{ Body: { key: string } }>('/dashboard/login', { schema: { body: loginBodySchema } }, async (req, reply) => {
    if (!tenants) return reply.code(204).send();
    if (!tenants.isAdminKey(req.body.key)) {
      req.log.info({ code: 'SY_ERR_INVALID_API_KEY' }, 'dashboard login with a key that is not an admin key');
      throw new GatewayError('SY_ERR_INVALID_API_KEY', 'Incorrect admin key provided.');
    }
    sessions.close(sessionToken(req.headers));
    return reply.code(204).header('set-cookie', sessions.cookie(sessions.open(), req.protocol === 'https')).send();
  });

  app.post('/dashboard/logout', async (req, reply) => {
    sessions.close(sessionToken(req.headers));
    return reply.code(204).header('set-cookie', clearedCookie()).send();
  });

  app.get('/dashboard/events', async (req, reply) => {
    requireAdmin(req);
    reply.hijack();
    const res = reply.raw;
    // The stream is the connection's whole life: once it ends (the server closing) the socket goes
    // too, rather than idling in keep-alive while a drain waits for it.
    res.writeHead(200, {
      ...(reply.getHeaders() as OutgoingHttpHeaders),
      'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'close',
    });
    // A dropped connection is retried by the browser after this long.
    res.write('retry: 2000\n\n');
    feed.subscribe(res);
  });
}

const loginBodySchema = {
  type: 'object',
  required: ['key'],
  additionalProperties: false,
  properties: { key: { type: 'string', minLength: 1, maxLength: 4096 } },
} as const;
