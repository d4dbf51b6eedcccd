import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, chatUrl, createAgent, sendChat } from '../../../bench/load/client.js';
import { startFixedUpstream, type FixedUpstream } from '../../../bench/load/fixed-upstream.js';
import type { WorkloadRequest } from '../../../bench/load/source.js';

const REQUEST: WorkloadRequest = { messages: [{ role: 'user', content: 'hello' }], maxTokens: 8 };

describe('sendChat against a fixed-latency upstream', () => {
  let upstream: FixedUpstream;
  let failing: FixedUpstream;
  const bodies: Array<Record<string, unknown>> = [];
  const agent = createAgent(4);

  beforeAll(async () => {
    // TTFT 100 ms, then 6 content chunks 20 ms apart; a role-only chunk goes out at once.
    upstream = await startFixedUpstream({
      ttftMs: 100, itlMs: 20, chunks: 6, backends: ['replica-a'], promptTokens: 42, cachedTokens: 16,
      plan: (_i, body) => { bodies.push(body); return {}; },
    });
    failing = await startFixedUpstream({ ttftMs: 0, itlMs: 0, chunks: 1, plan: (i) => ({ status: i % 2 === 0 ? 503 : 429 }) });
  });
  afterAll(async () => {
    await agent.close();
    await Promise.all([upstream?.close(), failing?.close()]);
  });

  it('measures TTFT from just before the POST to the first content chunk, not the role chunk', async () => {
    const o = await sendChat(agent, { baseUrl: upstream.url, model: 'm' }, REQUEST);
    expect(o.success).toBe(true);
    expect(o.ttftMs).toBeGreaterThanOrEqual(90);
    expect(o.ttftMs).toBeLessThanOrEqual(250);
  });

  it('keeps one gap per pair of consecutive content chunks, and E2EL ends at the last one', async () => {
    const o = await sendChat(agent, { baseUrl: upstream.url, model: 'm' }, REQUEST);
    // Six content chunks: five gaps, each measured (no timing bounds: two chunks may share one
    // read on a busy machine, and a timer may fire late).
    expect(o.itlMs).toHaveLength(5);
    for (const gap of o.itlMs) expect(gap).toBeGreaterThanOrEqual(0);
    const sum = o.itlMs.reduce((a, b) => a + b, 0);
    expect(sum).toBeGreaterThan(0);
    expect(o.e2elMs).toBeCloseTo(o.ttftMs + sum, 6);
    // TPOT excludes the first token: (E2EL − TTFT)/(out − 1) is the mean gap.
    expect((o.e2elMs - o.ttftMs) / (6 - 1)).toBeCloseTo(sum / 5, 6);
  });

  it('reads token counts from usage and the backend from x-switchyard-backend', async () => {
    const o = await sendChat(agent, { baseUrl: upstream.url, model: 'm' }, REQUEST);
    expect(o).toMatchObject({ status: 200, usageCompletionTokens: 6, usagePromptTokens: 42, cachedTokens: 16, backend: 'replica-a', text: ' tok'.repeat(6) });
  });

  it('sends a streamed, greedy request asking for usage, with ignore_eos only when asked', async () => {
    bodies.length = 0;
    await sendChat(agent, { baseUrl: upstream.url, model: 'the-model' }, { ...REQUEST, ignoreEos: true });
    await sendChat(agent, { baseUrl: `${upstream.url}/v1/`, model: 'the-model' }, REQUEST);
    expect(bodies[0]).toMatchObject({ model: 'the-model', max_tokens: 8, temperature: 0, stream: true, stream_options: { include_usage: true }, ignore_eos: true });
    expect(bodies[1]).not.toHaveProperty('ignore_eos');
    expect(JSON.parse(chatBody({ baseUrl: '', model: 'x' }, REQUEST)).messages).toEqual(REQUEST.messages);
  });

  it('returns non-200 answers as failures with their status and error message', async () => {
    const a = await sendChat(agent, { baseUrl: failing.url, model: 'm' }, REQUEST);
    const b = await sendChat(agent, { baseUrl: failing.url, model: 'm' }, REQUEST);
    expect([a.status, b.status].sort()).toEqual([429, 503]);
    expect(a.success || b.success).toBe(false);
    expect(a.error).toMatch(/fixed upstream answers (429|503)/);
  });

  it('reports a refused connection as status 0 instead of throwing', async () => {
    const o = await sendChat(agent, { baseUrl: 'http://127.0.0.1:9', model: 'm' }, REQUEST);
    expect(o).toMatchObject({ success: false, status: 0 });
    expect(o.error).not.toBe('');
  });

  it('builds the endpoint from a base URL with or without /v1', () => {
    expect(chatUrl('http://h:1').pathname).toBe('/v1/chat/completions');
    expect(chatUrl('http://h:1/v1').pathname).toBe('/v1/chat/completions');
    expect(chatUrl('http://h:1/prefix/').pathname).toBe('/prefix/v1/chat/completions');
  });
});
