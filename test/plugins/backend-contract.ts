/**
 * The contract every backend plugin passes, against a real server on loopback: it validates its
 * options, creates a backend that discovers its models, reports health, dispatches streamed and
 * non-streamed requests, aborts on cancel, counts in-flight requests, turns the engine's error
 * bodies into one shape, and closes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import type { Backend, BackendPlugin, PluginContext } from '../../core/plugin/types.js';
import { Cancel } from '../../core/plugin/cancel.js';

export interface ContractTarget {
  /** Start the server the plugin talks to; returns its base URL and how to stop it. */
  start(): Promise<{ url: string; close(): Promise<void> }>;
  /** Whether this engine reports load (running/waiting) the backend should surface. */
  reportsLoad: boolean;
  /** The plugin's own options for the contract's backend (validated first). */
  options?: Record<string, unknown>;
}

const ctx: PluginContext = {
  configDir: process.cwd(),
  log: pino({ level: 'silent' }),
  limits: { connectTimeoutMs: 2000, headersTimeoutMs: 30_000 },
  drainingReader: true,
};

async function readAll(body: AsyncIterable<Buffer | string>): Promise<string> {
  let text = '';
  for await (const chunk of body) text += chunk.toString();
  return text;
}

export function runBackendContract(plugin: BackendPlugin, target: ContractTarget): void {
  describe(`backend plugin contract: ${plugin.type}`, () => {
    let server: { url: string; close(): Promise<void> };
    let backend: Backend;

    beforeAll(async () => {
      server = await target.start();
      backend = plugin.create({ id: `${plugin.type}-1`, type: plugin.type, url: server.url, labels: { zone: 'a' }, options: target.options ?? { load_interval_ms: 50 }, simulated: false }, ctx);
      await backend.start();
    });
    afterAll(async () => {
      await backend?.close();
      await server?.close();
    });

    it('validates options, naming bad keys', () => {
      expect(plugin.validate(target.options ?? {})).toEqual([]);
      expect(plugin.validate({ ...target.options, time_scale: -1, health_interval_ms: -1 }).join(' ')).toMatch(/health_interval_ms|time_scale/);
      expect(plugin.validate({ surely_not_an_option: true }).join(' ')).toContain('surely_not_an_option');
    });

    it('discovers its models and is healthy', () => {
      expect(backend.models().length).toBeGreaterThan(0);
      expect(backend.health().status).toBe('healthy');
      expect(backend.labels).toEqual({ zone: 'a' });
      expect(backend.engine.length).toBeGreaterThan(0);
    });

    it('dispatches a non-streamed chat', async () => {
      const reply = await backend.dispatch({
        endpoint: 'chat', stream: false, cancel: new Cancel(), requestId: 'c1', headers: {},
        body: { model: backend.models()[0], messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 },
      });
      expect(reply.status).toBe(200);
      const body = JSON.parse(await readAll(reply.body)) as { choices: unknown[]; usage: { completion_tokens: number } };
      expect(body.choices.length).toBe(1);
      expect(body.usage.completion_tokens).toBe(3);
    });

    it('dispatches a streamed chat that ends with [DONE]', async () => {
      const reply = await backend.dispatch({
        endpoint: 'chat', stream: true, cancel: new Cancel(), requestId: 'c2', headers: {},
        body: { model: backend.models()[0], messages: [{ role: 'user', content: 'hi' }], max_tokens: 3, stream: true, stream_options: { include_usage: true } },
      });
      expect(reply.status).toBe(200);
      const text = await readAll(reply.body);
      expect(text.trim().endsWith('data: [DONE]')).toBe(true);
      expect(text).toContain('"completion_tokens":3');
    });

    it('counts in-flight requests until the body closes, and aborts on cancel', async () => {
      const cancel = new Cancel();
      const reply = await backend.dispatch({
        endpoint: 'chat', stream: true, cancel, requestId: 'c3', headers: {},
        body: { model: backend.models()[0], messages: [{ role: 'user', content: 'hi' }], max_tokens: 2000, ignore_eos: true, stream: true },
      });
      expect(backend.signals().inFlight).toBe(1);
      cancel.cancel(new Error('client disconnected'));
      await readAll(reply.body).catch(() => '');
      await new Promise((r) => setTimeout(r, 20));
      expect(backend.signals().inFlight).toBe(0);
    });

    it('refuses a call cancelled before dispatch and leaves nothing in flight', async () => {
      const cancel = new Cancel();
      cancel.cancel(new Error('client disconnected'));
      await expect(backend.dispatch({
        endpoint: 'chat', stream: false, cancel, requestId: 'c5', headers: {},
        body: { model: backend.models()[0], messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 },
      })).rejects.toThrow();
      expect(backend.signals().inFlight).toBe(0);
    });

    it('surfaces engine load where the engine reports it', async () => {
      await new Promise((r) => setTimeout(r, 150));
      const s = backend.signals();
      if (target.reportsLoad) {
        expect(typeof s.running).toBe('number');
        expect(typeof s.waiting).toBe('number');
        expect(s.updatedAt).toBeGreaterThan(0);
      } else {
        expect(s.running).toBeUndefined();
      }
    });

    it("turns the engine's error body into one shape", async () => {
      const reply = await backend.dispatch({
        endpoint: 'chat', stream: false, cancel: new Cancel(), requestId: 'c4', headers: {},
        // A body every engine refuses (messages must be a list): 400, or FastAPI's 422.
        body: { model: backend.models()[0], messages: 'not a list', max_tokens: 3 },
      });
      expect(reply.status).toBeGreaterThanOrEqual(400);
      const parsed = backend.parseError(reply.status, await readAll(reply.body));
      expect(parsed.message.length).toBeGreaterThan(0);
      expect(backend.parseError(502, '<html>bad gateway</html>').message).toContain('bad gateway');
      expect(backend.parseError(500, '').message).toMatch(/500/);
    });
  });
}
