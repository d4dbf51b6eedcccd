import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import { parseVllmError } from '../../../plugins/vllm/errors.js';
import { MODEL, launch, postJson } from '../../bench/sim/helpers.js';

let sim: SimServer;

beforeAll(async () => {
  sim = await launch('vllm');
});

afterAll(async () => {
  await sim?.close();
});

const chat = (extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, ...extra });

describe('parseVllmError on the vLLM face', () => {
  it('reads the nested 404 for an unknown model', async () => {
    const res = await postJson(`${sim.url}/v1/chat/completions`, chat({ model: 'no-such-model' }));
    expect(res.status).toBe(404);
    expect(parseVllmError(res.status, res.text)).toEqual({
      message: 'The model `no-such-model` does not exist.', type: 'NotFoundError', param: 'model', code: 404,
    });
  });

  it('reads the 400 for a malformed JSON body (pydantic text in the nested message)', async () => {
    const res = await postJson(`${sim.url}/v1/chat/completions`, '{"model": ');
    expect(res.status).toBe(400);
    const error = parseVllmError(res.status, res.text);
    expect(error).toMatchObject({ type: 'Bad Request', param: null, code: 400 });
    expect(error.message).toContain('JSON decode error');
    expect(error.message).toBe(error.message.trim());
  });

  it('reads a context-length refusal and an overload', async () => {
    const long = await postJson(`${sim.url}/v1/chat/completions`, chat({ max_tokens: 100_000 }));
    expect(long.status).toBe(400);
    expect(parseVllmError(long.status, long.text)).toMatchObject({ type: 'BadRequestError', code: 400 });
    expect(parseVllmError(long.status, long.text).message).toMatch(/maximum context length is \d+ tokens/);
    const busy = await postJson(`${sim.url}/v1/chat/completions`, chat(), { 'x-return-error': '503' });
    expect(parseVllmError(busy.status, busy.text)).toMatchObject({ type: 'ServiceUnavailableError', code: 503 });
  });

  it("reads FastAPI's {detail} for an unknown route", async () => {
    const res = await fetch(`${sim.url}/v1/no-such-route`);
    expect(res.status).toBe(404);
    expect(parseVllmError(res.status, await res.text())).toEqual({ message: 'Not Found' });
  });
});

describe('parseVllmError on shapes the face does not write', () => {
  it('reads the flat shape of older releases', () => {
    const body = '{"object":"error","message":"The model `x` does not exist.","type":"NotFoundError","param":null,"code":404}';
    expect(parseVllmError(404, body)).toEqual({ message: 'The model `x` does not exist.', type: 'NotFoundError', param: null, code: 404 });
  });

  it('reads the --api-key 401, whose error is a string', () => {
    expect(parseVllmError(401, '{"error":"Unauthorized"}')).toEqual({ message: 'Unauthorized' });
  });

  it('reads the 422 validation list of old releases', () => {
    const body = JSON.stringify({ detail: [{ loc: ['body', 'messages'], msg: 'field required', type: 'value_error.missing' }] });
    expect(parseVllmError(422, body)).toEqual({ message: 'body.messages: field required', param: 'messages' });
  });

  it('reads an in-stream error event payload', () => {
    const event = '{"error":{"message":"The engine failed while generating.","type":"InternalServerError","param":null,"code":500}}';
    expect(parseVllmError(200, event)).toMatchObject({ message: 'The engine failed while generating.', code: 500 });
  });

  it("falls back to a proxy's HTML page, plain text, or the status", () => {
    const html = '\n<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body><center><h1>502 Bad Gateway</h1></center></body>\r\n</html>\n';
    expect(parseVllmError(502, html)).toEqual({ message: html.trim() });
    expect(parseVllmError(500, 'Internal Server Error')).toEqual({ message: 'Internal Server Error' });
    expect(parseVllmError(503, '')).toEqual({ message: 'HTTP 503' });
    expect(parseVllmError(504, ' \n ')).toEqual({ message: 'HTTP 504' });
  });
});
