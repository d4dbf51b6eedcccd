import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import { parseLmdeployError } from '../../../plugins/lmdeploy/errors.js';
import { MODEL, launch, postJson } from '../../bench/sim/helpers.js';

let sim: SimServer;

beforeAll(async () => {
  sim = await launch('lmdeploy');
});

afterAll(async () => {
  await sim?.close();
});

const chat = (extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, ...extra });

describe('parseLmdeployError on the LMDeploy face', () => {
  it('reads the flat 404 for an unknown model', async () => {
    const res = await postJson(`${sim.url}/v1/chat/completions`, chat({ model: 'no-such-model' }));
    expect(res.status).toBe(404);
    expect(parseLmdeployError(res.status, res.text)).toEqual({
      // v0.16 sets the type by status (lmdeploy/serve/openai/errors.py).
      message: "The model 'no-such-model' does not exist.", type: 'not_found_error', param: null, code: 404,
    });
  });

  it('reads the flat 400 for a bad sampling value', async () => {
    const res = await postJson(`${sim.url}/v1/chat/completions`, chat({ top_p: 5 }));
    expect(res.status).toBe(400);
    expect(parseLmdeployError(res.status, res.text)).toMatchObject({ message: 'The top_p 5 must be in (0, 1].', code: 400 });
  });

  it('reads the flat 400 v0.16 answers for a malformed body and a missing field (its own validation handler, not FastAPI\'s 422)', async () => {
    const malformed = await postJson(`${sim.url}/v1/chat/completions`, '{"model": ');
    expect(malformed.status).toBe(400);
    expect(parseLmdeployError(malformed.status, malformed.text)).toEqual({ message: '0: JSON decode error', type: 'invalid_request_error', param: null, code: 400 });

    const missing = await postJson(`${sim.url}/v1/chat/completions`, { model: MODEL });
    expect(missing.status).toBe(400);
    expect(parseLmdeployError(missing.status, missing.text)).toMatchObject({ message: 'messages: Field required', param: null });

    const mediaType = await postJson(`${sim.url}/v1/chat/completions`, 'hi', { 'content-type': 'text/plain' });
    expect(parseLmdeployError(mediaType.status, mediaType.text).message).toBe("Unsupported Media Type: Only 'application/json' is allowed");
  });

  it("reads FastAPI's {detail} for an unknown route", async () => {
    const res = await fetch(`${sim.url}/v1/no-such-route`);
    expect(parseLmdeployError(res.status, await res.text())).toEqual({ message: 'Not Found' });
  });
});

describe('parseLmdeployError on shapes the face does not write', () => {
  it('reads the --api-keys 401, whose error is a string', () => {
    expect(parseLmdeployError(401, '{"error":"Unauthorized"}')).toEqual({ message: 'Unauthorized' });
  });

  it('joins several validation errors', () => {
    const body = JSON.stringify({
      detail: [
        { type: 'missing', loc: ['body', 'messages'], msg: 'Field required', input: null },
        { type: 'float_type', loc: ['body', 'temperature'], msg: 'Input should be a valid number', input: 'hot' },
      ],
      body: { model: 'm', temperature: 'hot' },
    });
    // Two errors name no single param.
    expect(parseLmdeployError(422, body)).toEqual({ message: 'body.messages: Field required; body.temperature: Input should be a valid number' });
  });

  it('reads a detail string (HTTPException) and the nested shape', () => {
    expect(parseLmdeployError(503, '{"detail":"Service Unavailable"}')).toEqual({ message: 'Service Unavailable' });
    expect(parseLmdeployError(400, '{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":400}}'))
      .toEqual({ message: 'bad', type: 'invalid_request_error', param: null, code: 400 });
  });

  it("falls back to a proxy's HTML page, plain text, or the status", () => {
    expect(parseLmdeployError(502, '<html><body>502 Bad Gateway</body></html>')).toEqual({ message: '<html><body>502 Bad Gateway</body></html>' });
    expect(parseLmdeployError(500, '  Internal Server Error\n')).toEqual({ message: 'Internal Server Error' });
    expect(parseLmdeployError(502, '')).toEqual({ message: 'HTTP 502' });
  });
});
