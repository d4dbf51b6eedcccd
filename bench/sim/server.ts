/**
 * One emulated engine replica: an Engine on a real clock, a tokenizer pool, and a fastify server
 * that speaks one engine's HTTP dialect. Everything visible says it is simulated: every response
 * carries `x-sim-replica`, and `/sim/info` describes the replica: which engine and release it
 * mirrors, and the profile it models.
 */
import Fastify from 'fastify';
import type { FastifyError, FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { VllmFaceEvents } from './kv-events/vllm-face-events.js';
import { drainAcceptQueue } from '../../core/server/accept-queue.js';
import { loadAcceptPending } from '../../native/accept.js';
import type { Engine } from '../../native/engine.js';
import { loadProfile } from '../../native/profiles.js';
import type { SimProfile } from '../../native/profiles.js';
import { TokenizerPool } from '../../core/tokenizer/pool.js';
import { buildOutputTokenPool } from '../../native/word-pool.js';
import { BodyParseError, pyJson, unixNow } from './faces/common.js';
import type { Face, FaceContext } from './faces/common.js';
import { createDeepspeedMiiFace } from './faces/deepspeed-mii.js';
import { createLmdeployFace } from './faces/lmdeploy.js';
import { SIM_RELEASES } from './faces/releases.js';
import { createTgiFace } from './faces/tgi.js';
import { createTritonTrtllmFace } from './faces/triton-trtllm.js';
import { createTrtllmServeFace } from './faces/trtllm-serve.js';
import { createVllmFace } from './faces/vllm.js';
import { FaultConfigError, FaultController } from './faults.js';
import { GenerationService } from './generation.js';
import type { SimEngine, SimOptions } from './options.js';

export interface SimServer {
  url: string;
  port: number;
  engine: Engine;
  /** Where a face with a metrics listener of its own (Triton) serves it: `http://host:port/metrics`. */
  metricsUrl?: string;
  /** Where the vLLM face publishes its KV events (with --kv-events-config). */
  kvEvents?: { endpoint: string; replayEndpoint: string | null };
  /** Closes the server (dropping open connections), then the engine (joining its threads) and the tokenizer pool. */
  close(): Promise<void>;
}

const FACES: Record<SimEngine, (ctx: FaceContext) => Face> = {
  vllm: createVllmFace,
  lmdeploy: createLmdeployFace,
  'trtllm-serve': createTrtllmServeFace,
  'triton-trtllm': createTritonTrtllmFace,
  tgi: createTgiFace,
  'deepspeed-mii': createDeepspeedMiiFace,
};

/** Large enough for long-context prompts (a 128k-token prompt is ~0.5 MB of text). */
const BODY_LIMIT = 64 * 1024 * 1024;

function installBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new BodyParseError('json', 'JSON decode error', text), undefined);
    }
  });
  // Any other media type reaches the route as a BodyParseError, which the face renders its way.
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_req, body, done) => {
    done(null, new BodyParseError('media-type', "Unsupported Media Type: Only 'application/json' is allowed", String(body)));
  });
}

function registerSimRoutes(app: FastifyInstance, ctx: FaceContext): void {
  const info = (): Record<string, unknown> => ({
    engine: ctx.options.engine,
    release: ctx.options.release,
    simulated: true,
    replica: ctx.replicaName,
    profile: ctx.profile.name,
    profileEngine: ctx.profile.engine,
    model: ctx.servedModel,
    profileModel: ctx.profile.model,
    gpu: ctx.profile.gpu,
    timeScale: ctx.options.timeScale,
    blockSize: ctx.profile.engineProfile.blockSize,
    numBlocks: ctx.profile.engineProfile.numBlocks,
    maxModelLen: ctx.profile.engineProfile.maxModelLen,
    frontendOverheadMs: ctx.profile.frontendOverheadMs,
    calibrationOverhead: ctx.options.calibrationOverhead,
    startedAt: ctx.startedAt,
    faults: ctx.faults.config,
    kvEvents: ctx.kvEventEndpoints ?? null,
  });
  app.get('/sim/info', async (_req, reply) => reply.type('application/json').send(pyJson(info())));
  app.get('/sim/faults', async (_req, reply) => reply.type('application/json').send(pyJson(ctx.faults.config)));
  // Sim-only: queue scripted answers, {"answers": ["text", …]}; each is the next request's output.
  app.post('/sim/script', async (request, reply) => {
    const body = request.body as { answers?: unknown } | undefined;
    const answers = body?.answers;
    if (!Array.isArray(answers) || !answers.every((a) => typeof a === 'string')) {
      return reply.code(400).type('application/json').send(pyJson({ error: 'expected {"answers": ["text", ...]} (sim-only scripted answers)' }));
    }
    return reply.type('application/json').send(pyJson({ queued: ctx.generation.script(answers), simulated: true }));
  });
  app.post('/sim/faults', async (request, reply) => {
    if (request.body instanceof BodyParseError) throw new FaultConfigError(`the fault settings must be JSON: ${request.body.message}`);
    return reply.type('application/json').send(pyJson(ctx.faults.update(request.body ?? {})));
  });
}

/**
 * The API-server cost a replica sleeps per request: none unless asked for. A profile's
 * `frontend_overhead_ms` is fitted to published tables measured through another front end
 * (xinference, grps), not the engine's own server, so it applies only with --calibration-overhead.
 */
function frontendOverhead(options: SimOptions, profile: SimProfile): number {
  if (options.frontendOverheadMs !== undefined) return options.frontendOverheadMs;
  return options.calibrationOverhead ? profile.frontendOverheadMs : 0;
}

/** Starts one emulated replica; resolves once it listens. */
export async function startSim(options: SimOptions): Promise<SimServer> {
  if (!SIM_RELEASES[options.engine].includes(options.release)) {
    throw new Error(`sim: ${options.engine} releases are ${SIM_RELEASES[options.engine].join(', ')}, not "${options.release}"`);
  }
  const loaded = loadProfile(options.profile, options.profileFile);
  const profile = {
    ...loaded,
    frontendOverheadMs: frontendOverhead(options, loaded),
    engineProfile: {
      ...loaded.engineProfile,
      numBlocks: options.numGpuBlocks ?? loaded.engineProfile.numBlocks,
      enablePrefixCaching: options.prefixCaching ?? loaded.engineProfile.enablePrefixCaching,
    },
  };
  const pool = new TokenizerPool({ threads: options.tokenizerThreads });
  let generation: GenerationService;
  try {
    await pool.ready();
    const drains = options.engine === 'trtllm-serve';
    generation = new GenerationService({
      profile,
      pool,
      timeScale: options.timeScale,
      outputTokenPool: buildOutputTokenPool(pool.tokenizer),
      kvEventBufferSize: drains || options.kvEvents ? 10_000 : 0,
      iterStatsBufferSize: drains ? 1_000 : 0,
      // Engine block hashes differ per process (vLLM's without PYTHONHASHSEED): never Switchyard's.
      blockHashSeed: BigInt.asUintN(64, BigInt(`0x${randomBytes(8).toString('hex')}`)),
    });
  } catch (err) {
    await pool.close();
    throw err;
  }

  const ctx: FaceContext = {
    generation,
    engine: generation.engine,
    profile,
    options,
    servedModel: options.model ?? profile.model,
    replicaName: options.replicaName ?? `${options.engine}-${options.port}`,
    faults: new FaultController(options.faults),
    pool,
    startedAt: unixNow(),
  };
  const app = Fastify({ logger: options.logger, forceCloseConnections: true, bodyLimit: BODY_LIMIT });
  const face = FACES[options.engine](ctx);
  installBodyParsers(app);
  // On the raw response, so hijacked (SSE) replies carry it too.
  app.addHook('onRequest', async (_req, reply) => {
    reply.raw.setHeader('x-sim-replica', ctx.replicaName);
  });
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    if (error instanceof BodyParseError) return face.sendBodyError(reply, error);
    if (error instanceof FaultConfigError) return reply.code(400).type('application/json').send(pyJson({ error: error.message }));
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 ? error.statusCode : 500;
    return face.sendError(reply, status, error.message);
  });
  // FastAPI's default for unknown routes, shared by all three engines.
  app.setNotFoundHandler((_request, reply) => reply.code(404).type('application/json').send(pyJson({ detail: 'Not Found' })));
  registerSimRoutes(app, ctx);
  face.register(app);

  let kvEvents: VllmFaceEvents | undefined;
  // Triton serves its metrics on their own port (8002 by default).
  const metricsApp = face.registerMetrics ? Fastify({ logger: options.logger, forceCloseConnections: true }) : undefined;
  try {
    // The engines' HTTP servers are uvicorn's (vLLM, LMDeploy, trtllm-serve), with a listen backlog
    // of 2048 (uvicorn's --backlog default). Node alone takes one waiting connection per turn
    // (core/server/accept-queue.ts), so a face under 5,000 streams reset the gateway's new upstream
    // connections (79 of 5,000 streams answered 504); the face takes them in batches, as asyncio's
    // accept does (up to the backlog per wake-up). Whether an engine on uvloop accepts faster or
    // slower than that is not modelled.
    const acceptPending = loadAcceptPending();
    if (acceptPending) drainAcceptQueue(app.server, acceptPending);
    await app.listen({ port: options.port, host: options.host, backlog: 2048 });
    if (metricsApp && face.registerMetrics) {
      metricsApp.addHook('onRequest', async (_req, reply) => {
        reply.raw.setHeader('x-sim-replica', ctx.replicaName);
      });
      face.registerMetrics(metricsApp);
      await metricsApp.listen({ port: options.metricsPort ?? 0, host: options.host });
    }
    if (options.kvEvents) {
      kvEvents = await VllmFaceEvents.start(generation.engine, options.kvEvents, options.host, vllmKvLayoutOf(options.release));
      ctx.kvEventEndpoints = { endpoint: kvEvents.publisher.endpoint, replayEndpoint: kvEvents.publisher.replayEndpoint };
    }
  } catch (err) {
    await app.close();
    await metricsApp?.close();
    generation.close();
    await pool.close();
    throw err;
  }
  const port = (app.server.address() as AddressInfo).port;
  if (options.replicaName === undefined) ctx.replicaName = `${options.engine}-${port}`;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  let closing: Promise<void> | undefined;
  const base = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}`;
  return {
    url: `${base}:${port}`,
    port,
    metricsUrl: metricsApp ? `${base}:${(metricsApp.server.address() as AddressInfo).port}/metrics` : undefined,
    engine: generation.engine,
    kvEvents: ctx.kvEventEndpoints,
    close() {
      closing ??= (async () => {
        await app.close();
        await metricsApp?.close();
        await kvEvents?.close();
        generation.close();
        await pool.close();
      })();
      return closing;
    },
  };
}

/** The KV-event wire layout of the vLLM release a face mirrors. */
function vllmKvLayoutOf(release: string): string {
  return release.startsWith('0.10') ? '0.10' : '0.19';
}
