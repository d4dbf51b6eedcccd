import { setTimeout as sleep } from 'node:timers/promises';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import { MODEL, launch, metric, postJson, scrape, waitFor } from './helpers.js';
import type { Json } from './helpers.js';

const chat = (extra: Json = {}): Json => ({ model: MODEL, messages: [{ role: 'user', content: 'fault test' }], ...extra });

async function setFaults(url: string, body: Json): Promise<void> {
  const res = await postJson(`${url}/sim/faults`, body);
  expect(res.status).toBe(200);
}

/** Opens a stream and reads it until `frames` data frames have arrived; returns the reader. */
async function openStream(url: string, body: Json): Promise<{ reader: ReadableStreamDefaultReader<Uint8Array>; text: () => string; abort: () => void }> {
  const controller = new AbortController();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: controller.signal,
  });
  expect(res.status).toBe(200);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let received = '';
  const decoder = new TextDecoder();
  const wrapped = {
    read: async () => {
      const r = await reader.read();
      if (!r.done) received += decoder.decode(r.value, { stream: true });
      return r;
    },
  };
  return { reader: wrapped as unknown as ReadableStreamDefaultReader<Uint8Array>, text: () => received, abort: () => controller.abort() };
}

describe('faults (vLLM face)', () => {
  let sim: SimServer;
  beforeAll(async () => {
    sim = await launch('vllm', { faults: { errorRates: [{ status: 503, probability: 1 }], stallAfter: null, crashAfter: null, errorAfter: null, slowStartMs: 0, failHealth: false } });
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('--error-rate 503:1 answers 503 in the engine shape; 429 carries Retry-After; X-Return-Error forces a status', async () => {
    const res = await postJson(`${sim.url}/v1/chat/completions`, chat());
    expect(res.status).toBe(503);
    expect(res.json).toMatchObject({ error: { code: 503, type: 'ServiceUnavailableError' } });
    expect(String(((res.json as Json).error as Json).message)).toContain('Simulated fault');

    await setFaults(sim.url, { 'error-rate': '429:1' });
    const limited = await postJson(`${sim.url}/v1/chat/completions`, chat());
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');

    await setFaults(sim.url, { 'error-rate': null });
    expect((await postJson(`${sim.url}/v1/chat/completions`, chat({ max_tokens: 2 }))).status).toBe(200);
    const forced = await postJson(`${sim.url}/v1/chat/completions`, chat({ max_tokens: 2 }), { 'x-return-error': '500' });
    expect(forced.status).toBe(500);
    expect(forced.json).toMatchObject({ error: { code: 500 } });
  });

  it('--crash-after cuts the stream: no [DONE], and the engine request ends', async () => {
    await setFaults(sim.url, { 'crash-after': 5 });
    const stream = await openStream(sim.url, chat({ stream: true, max_tokens: 200, ignore_eos: true }));
    let failed = false;
    try {
      for (;;) if ((await stream.reader.read()).done) break;
    } catch {
      failed = true;
    }
    expect(failed || !stream.text().includes('[DONE]')).toBe(true);
    expect(stream.text()).not.toContain('[DONE]');
    expect(stream.text().split('\n\n').filter((f) => f.includes('"content"')).length).toBeLessThanOrEqual(1 + 5);
    await waitFor(async () => metric(await scrape(sim.url), 'vllm:num_requests_running') === 0);
    await setFaults(sim.url, { 'crash-after': null });
  });

  it('--stall-after stops the bytes but keeps the socket open, with the engine request cancelled', async () => {
    await setFaults(sim.url, { 'stall-after': 4 });
    const stream = await openStream(sim.url, chat({ stream: true, max_tokens: 500, ignore_eos: true }));
    // Role chunk + 4 one-token chunks, then silence.
    while (stream.text().split('\n\n').filter((f) => f.startsWith('data: ')).length < 5) await stream.reader.read();
    await waitFor(async () => metric(await scrape(sim.url), 'vllm:num_requests_running') === 0);
    const next = await Promise.race([stream.reader.read().then(() => 'bytes'), sleep(500).then(() => 'silence')]);
    expect(next).toBe('silence');
    expect(stream.text()).not.toContain('[DONE]');
    stream.abort();
    await setFaults(sim.url, { 'stall-after': null });
  });

  it('--fail-health makes /health 503, and clears at runtime', async () => {
    await setFaults(sim.url, { 'fail-health': true });
    expect((await fetch(`${sim.url}/health`)).status).toBe(503);
    await setFaults(sim.url, { failHealth: false });
    expect((await fetch(`${sim.url}/health`)).status).toBe(200);
    const bad = await postJson(`${sim.url}/sim/faults`, { 'error-rate': '700:2' });
    expect(bad.status).toBe(400);
  });
});

describe('faults at start', () => {
  it('--slow-start: /health is 503 and completions wait until the window ends', async () => {
    const slowStartMs = 1500;
    const startedAt = Date.now();
    const sim = await launch('lmdeploy', { faults: { errorRates: [], stallAfter: null, crashAfter: null, errorAfter: null, slowStartMs, failHealth: false } });
    try {
      const health = await fetch(`${sim.url}/health`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ status: 'initializing' });
      const res = await postJson(`${sim.url}/v1/chat/completions`, chat({ max_tokens: 2 }));
      expect(res.status).toBe(200);
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(slowStartMs);
      expect((await fetch(`${sim.url}/health`)).status).toBe(200);
    } finally {
      await sim.close();
    }
  });

  it('--fail-health on trtllm-serve: 503 with its text body', async () => {
    const sim = await launch('trtllm-serve', { faults: { errorRates: [{ status: 429, probability: 1 }], stallAfter: null, crashAfter: null, errorAfter: null, slowStartMs: 0, failHealth: true } });
    try {
      const health = await fetch(`${sim.url}/health`);
      expect(health.status).toBe(503);
      expect(await health.text()).toContain('LLM is unavailable');
      const limited = await postJson(`${sim.url}/v1/chat/completions`, chat({ max_tokens: 2 }));
      expect(limited.status).toBe(429);
      expect(limited.json).toMatchObject({ object: 'error', code: 429 });
    } finally {
      await sim.close();
    }
  });
});
