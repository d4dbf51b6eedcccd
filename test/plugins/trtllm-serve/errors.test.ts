import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import { parseTrtllmError } from '../../../plugins/trtllm-serve/errors.js';
import { MODEL, launch, postJson } from '../../bench/sim/helpers.js';

let sim: SimServer;

beforeAll(async () => {
  sim = await launch('trtllm-serve');
});

afterAll(async () => {
  await sim?.close();
});

const chat = (extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, ...extra });

describe('parseTrtllmError on the trtllm-serve face', () => {
  it('reads the {"error": str(exc)} 400 for a malformed JSON body and an unknown field', async () => {
    const malformed = await postJson(`${sim.url}/v1/chat/completions`, '{"model": ');
    expect(malformed.status).toBe(400);
    const error = parseTrtllmError(malformed.status, malformed.text);
    expect(Object.keys(error)).toEqual(['message']);
    expect(error.message).toMatch(/^1 validation error:\n/);
    expect(error.message).toContain('JSON decode error');
    expect(error.message).toBe(error.message.trim());

    const extra = await postJson(`${sim.url}/v1/chat/completions`, chat({ not_a_field: 1 }));
    expect(parseTrtllmError(extra.status, extra.text).message).toContain('Extra inputs are not permitted');
  });

  it('reads the flat ErrorResponse of a context-length refusal and of an overload', async () => {
    const long = await postJson(`${sim.url}/v1/chat/completions`, chat({ max_tokens: 100_000 }));
    expect(long.status).toBe(400);
    const error = parseTrtllmError(long.status, long.text);
    expect(error).toMatchObject({ type: 'BadRequestError', param: null, code: 400 });
    expect(error.message).toContain('should not exceed max_seq_len');
    const busy = await postJson(`${sim.url}/v1/chat/completions`, chat(), { 'x-return-error': '503' });
    expect(parseTrtllmError(busy.status, busy.text)).toMatchObject({ type: 'ServiceUnavailableError', code: 503 });
  });

  it("reads FastAPI's {detail} for an unknown route", async () => {
    const res = await fetch(`${sim.url}/v1/no-such-route`);
    expect(parseTrtllmError(res.status, await res.text())).toEqual({ message: 'Not Found' });
  });
});

describe('parseTrtllmError on shapes the face does not write', () => {
  it('reads a flat 404 for a model mismatch', () => {
    const body = '{"object":"error","message":"Model x not found","type":"NotFoundError","param":null,"code":404}';
    expect(parseTrtllmError(404, body)).toEqual({ message: 'Model x not found', type: 'NotFoundError', param: null, code: 404 });
  });

  it('reads the nested shape, in case a release moves to it', () => {
    expect(parseTrtllmError(400, '{"error":{"message":"bad request","type":"BadRequestError","code":400}}'))
      .toEqual({ message: 'bad request', type: 'BadRequestError', code: 400 });
  });

  it("falls back to a proxy's HTML page, plain text, or the status", () => {
    expect(parseTrtllmError(502, '<html><title>502</title></html>')).toEqual({ message: '<html><title>502</title></html>' });
    expect(parseTrtllmError(500, 'Generation health check failed')).toEqual({ message: 'Generation health check failed' });
    expect(parseTrtllmError(500, '')).toEqual({ message: 'HTTP 500' });
  });
});
