/**
 * The dialect contract: every plugin's parsing — load, errors, usage, cached tokens — and the
 * relay run over every fixture of the engine releases the plugin claims (test/fixtures/dialects,
 * each file written from that engine's own serialisation code). Streams go end to end: the
 * official openai client, through a gateway, to an upstream on loopback that replays the
 * fixture's bytes exactly; every token must arrive, usage must appear exactly when the client
 * asked, and the gateway's TTFT, token and cached-token metrics must count the answer.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineLoad } from '../../core/plugin/engine-load.js';
import type { UpstreamError } from '../../core/plugin/types.js';
import { readUsage } from '../../core/server/answer-usage.js';
import type { Gateway } from '../../core/server/gateway.js';
import { parseLmdeployError } from '../../plugins/lmdeploy/errors.js';
import { readLmdeployLoad } from '../../plugins/lmdeploy/load.js';
import { parseOpenAiError } from '../../plugins/http/errors.js';
import { parseTrtllmError } from '../../plugins/trtllm-serve/errors.js';
import { readTrtllmPrometheus, readTrtllmStats } from '../../plugins/trtllm-serve/load.js';
import { parseVllmError } from '../../plugins/vllm/errors.js';
import { readVllmLoad } from '../../plugins/vllm/load.js';
import { startTestGateway } from '../core/server/gateway-helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../fixtures/dialects');

interface AnswerFixture {
  name: string;
  file: string;
  endpoint: 'chat' | 'completions';
  stream: boolean;
  status: number;
  request?: Record<string, unknown>;
  expect: {
    text?: string;
    content_events?: number;
    finish_reason?: string | null;
    usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
    cached_tokens?: number | 'absent';
    usage_event?: boolean;
    error_event?: boolean;
    error?: Partial<UpstreamError>;
  };
}

interface MetricsFixture {
  name: string;
  file: string;
  path: string;
  expect: EngineLoad;
}

interface Manifest {
  engine: string;
  release: string;
  plugin: 'vllm' | 'lmdeploy' | 'trtllm-serve' | 'openai';
  sources: string[];
  answers: AnswerFixture[];
  metrics?: MetricsFixture[];
}

const PARSE_ERROR: Record<Manifest['plugin'], (status: number, body: string) => UpstreamError> = {
  vllm: parseVllmError, lmdeploy: parseLmdeployError, 'trtllm-serve': parseTrtllmError, openai: parseOpenAiError,
};

function readLoad(plugin: Manifest['plugin'], fixture: MetricsFixture, text: string): EngineLoad | undefined {
  switch (plugin) {
    case 'vllm': return readVllmLoad(text);
    case 'lmdeploy': return readLmdeployLoad(text);
    case 'trtllm-serve': return fixture.path === '/prometheus/metrics' ? readTrtllmPrometheus(text).load : readTrtllmStats(JSON.parse(text) as unknown);
    default: return undefined;
  }
}

const folders = existsSync(ROOT)
  ? readdirSync(ROOT, { withFileTypes: true }).filter((d) => d.isDirectory() && existsSync(path.join(ROOT, d.name, 'manifest.json'))).map((d) => d.name).sort()
  : [];

function manifestOf(folder: string): Manifest {
  return JSON.parse(readFileSync(path.join(ROOT, folder, 'manifest.json'), 'utf8')) as Manifest;
}

it('has fixtures for the engines the plugins claim', () => {
  const engines = new Set(folders.map((f) => manifestOf(f).engine));
  for (const engine of ['vllm', 'lmdeploy', 'trtllm-serve']) expect(engines, `a fixture folder for ${engine}`).toContain(engine);
  // Two vLLM releases that differ (metric names, error shapes, usage rules).
  expect(folders.filter((f) => manifestOf(f).engine === 'vllm').length).toBeGreaterThanOrEqual(2);
});

for (const folder of folders) {
  const manifest = manifestOf(folder);
  const bytes = (file: string) => readFileSync(path.join(ROOT, folder, file));

  describe(`${manifest.engine} ${manifest.release} (plugin ${manifest.plugin})`, () => {
    it('cites the engine source its fixtures follow', () => {
      expect(manifest.sources.length).toBeGreaterThan(0);
    });

    for (const a of manifest.answers.filter((x) => x.status >= 400)) {
      it(`parses the error body ${a.name}`, () => {
        const parsed = PARSE_ERROR[manifest.plugin](a.status, bytes(a.file).toString('utf8'));
        expect(parsed).toMatchObject(a.expect.error ?? {});
        expect(parsed.message.length).toBeGreaterThan(0);
      });
    }

    for (const a of manifest.answers.filter((x) => x.status < 400 && !x.stream)) {
      it(`reads usage and cached tokens of the answer ${a.name}`, () => {
        const usage = readUsage(bytes(a.file).toString('utf8'));
        // The relay reads it from the answer's bytes, undecoded: the same usage.
        expect(readUsage(bytes(a.file))).toEqual(usage);
        if (a.expect.usage === null) expect(usage).toBeUndefined();
        else if (a.expect.usage) expect(usage).toMatchObject(a.expect.usage);
        const cached = usage?.prompt_tokens_details?.cached_tokens;
        expect(cached ?? 'absent').toEqual(a.expect.cached_tokens ?? 'absent');
      });
    }

    // Only engines whose load a plugin reads (the openai plugin reads none).
    for (const m of manifest.plugin === 'openai' ? [] : manifest.metrics ?? []) {
      it(`reads the load page ${m.name} (${m.path})`, () => {
        const load = readLoad(manifest.plugin, m, bytes(m.file).toString('utf8'));
        expect(load).toEqual(m.expect);
      });
    }

    const streams = manifest.answers.filter((x) => x.status < 400 && x.stream);
    if (streams.length > 0) describeStreams(folder, manifest, streams);
  });
}

/** The answers, end to end through a gateway, replayed byte for byte by a loopback upstream. */
function describeStreams(folder: string, manifest: Manifest, streams: AnswerFixture[]): void {
  let upstream: Server;
  let gw: Gateway;
  let client: OpenAI;
  const model = 'fixture-model';

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [{ id: model, object: 'model' }] }));
        return;
      }
      if (req.method === 'GET') {
        // Health passes; load pages are another test's business here.
        res.writeHead(req.url === '/health' || req.url === '/v1/health' ? 200 : 404).end();
        return;
      }
      const name = req.headers['x-fixture'];
      const fixture = streams.find((s) => s.name === name);
      req.resume();
      if (!fixture) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // Delivered in small pieces, cut wherever they fall: the relay must not depend on chunking.
      const body = readFileSync(path.join(ROOT, folder, fixture.file));
      for (let i = 0; i < body.length; i += 37) res.write(body.subarray(i, i + 37));
      res.end();
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gw = await startTestGateway({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [{ id: 'fx', type: manifest.plugin, url, models: [model], health_path: '/health', load_interval_ms: 0, forward_headers: ['x-fixture'] }],
      routes: [{ model, backends: ['fx'], policy: { type: 'round-robin' }, retries: 0 }],
    });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await gw?.drain();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const m = new RegExp(`^${name}\\{[^}]*backend="fx"[^}]*\\} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };

  for (const a of streams) {
    for (const includeUsage of [false, true]) {
      it(`relays the stream ${a.name} to the openai client (include_usage: ${includeUsage})`, async () => {
        const [ttftBefore, completionBefore, cachedBefore] = await Promise.all([
          metric('switchyard_time_to_first_token_seconds_count'), metric('switchyard_completion_tokens_total'), metric('switchyard_cached_prompt_tokens_total'),
        ]);
        const headers = { 'x-fixture': a.name };
        let text = '';
        const usages: unknown[] = [];
        let usageOnly = 0;
        let failed: unknown;
        try {
          if (a.endpoint === 'chat') {
            const stream = await client.chat.completions.create({
              model, messages: [{ role: 'user', content: 'hi' }], stream: true, ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
            }, { headers });
            for await (const chunk of stream) {
              for (const c of chunk.choices) text += c.delta?.content ?? '';
              if (chunk.usage) usages.push(chunk.usage);
              if (chunk.choices.length === 0 && chunk.usage) usageOnly++;
            }
          } else {
            const stream = await client.completions.create({
              model, prompt: 'hi', stream: true, ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
            }, { headers });
            for await (const chunk of stream) {
              for (const c of chunk.choices) text += c.text ?? '';
              if (chunk.usage) usages.push(chunk.usage);
              if (chunk.choices.length === 0 && chunk.usage) usageOnly++;
            }
          }
        } catch (err) {
          failed = err;
        }
        // An engine's own mid-stream error reaches the client as an error (the openai client throws
        // on it), and so does a stream the engine ended without `[DONE]`: never a silent truncation.
        const truncated = !readFileSync(path.join(ROOT, folder, a.file)).includes('[DONE]');
        if (a.expect.error_event || truncated) expect(failed).toBeDefined();
        else expect(failed).toBeUndefined();
        if (a.expect.text !== undefined) expect(text).toBe(a.expect.text);
        // The usage-only event appears exactly when the client asked for it (and the engine sent it).
        expect(usageOnly).toBe(includeUsage && a.expect.usage_event ? 1 : 0);
        if (a.expect.error_event || truncated) return;

        const [ttftAfter, completionAfter, cachedAfter] = await Promise.all([
          metric('switchyard_time_to_first_token_seconds_count'), metric('switchyard_completion_tokens_total'), metric('switchyard_cached_prompt_tokens_total'),
        ]);
        if ((a.expect.content_events ?? 0) > 0) expect(ttftAfter - ttftBefore).toBe(1);
        if (a.expect.usage?.completion_tokens !== undefined) expect(completionAfter - completionBefore).toBe(a.expect.usage.completion_tokens);
        const cached = a.expect.cached_tokens;
        expect(cachedAfter - cachedBefore).toBe(typeof cached === 'number' ? cached : 0);
      });
    }
  }
}
