import { describe, expect, it } from 'vitest';
import { MAX_TEXT_MESSAGE, fastApiDetailShape, flatErrorShape, nestedErrorShape, parseErrorBody, parseOpenAiError,
  stringErrorShape } from '../../../plugins/http/errors.js';

describe('parseOpenAiError', () => {
  it("reads OpenAI's nested shape with every field", () => {
    const body = '{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}';
    expect(parseOpenAiError(401, body)).toEqual({ message: 'Incorrect API key provided.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' });
  });

  it('keeps only fields of a usable type', () => {
    const body = JSON.stringify({ error: { message: ' spaced ', type: 7, param: ['x'], code: { n: 1 } } });
    expect(parseOpenAiError(400, body)).toEqual({ message: 'spaced' });
  });

  it('reads the flat shape, with or without "object"', () => {
    expect(parseOpenAiError(400, '{"object":"error","message":"m","type":"t","param":"p","code":400}'))
      .toEqual({ message: 'm', type: 't', param: 'p', code: 400 });
    expect(parseOpenAiError(400, '{"message":"only a message"}')).toEqual({ message: 'only a message' });
  });

  it('reads {"error": "<string>"}, with TGI\'s error_type as the type', () => {
    expect(parseOpenAiError(401, '{"error":"Unauthorized"}')).toEqual({ message: 'Unauthorized' });
    expect(parseOpenAiError(422, '{"error":"Input validation error: `inputs` must not be empty","error_type":"validation"}'))
      .toEqual({ message: 'Input validation error: `inputs` must not be empty', type: 'validation' });
  });

  it("reads FastAPI's detail string and validation list", () => {
    expect(parseOpenAiError(404, '{"detail":"Not Found"}')).toEqual({ message: 'Not Found' });
    const list = JSON.stringify({ detail: [{ loc: ['body', 'messages', 0, 'role'], msg: 'Input should be a valid string', type: 'string_type' }] });
    expect(parseOpenAiError(422, list)).toEqual({ message: 'body.messages.0.role: Input should be a valid string', param: 'messages.0.role' });
    expect(parseOpenAiError(422, '{"detail":[{"msg":"no loc"},"a bare string",{"loc":["query"]}]}')).toEqual({ message: 'no loc; a bare string' });
  });

  it('prefers the nested shape to the flat one when a body has both', () => {
    expect(parseOpenAiError(400, '{"error":{"message":"nested"},"message":"flat"}').message).toBe('nested');
  });

  it('falls through shapes with blank or non-string messages to the raw text', () => {
    const body = '{"error":{"message":""},"detail":[]}';
    expect(parseOpenAiError(500, body)).toEqual({ message: body });
    expect(parseOpenAiError(500, '{"message":42}')).toEqual({ message: '{"message":42}' });
  });

  it('takes a JSON string body as the message, and other JSON as text', () => {
    expect(parseOpenAiError(500, '"Internal Server Error"')).toEqual({ message: 'Internal Server Error' });
    expect(parseOpenAiError(500, '["a"]')).toEqual({ message: '["a"]' });
    expect(parseOpenAiError(500, 'null')).toEqual({ message: 'null' });
  });

  it('reads an HTML page, plain text, broken JSON and an empty body as trimmed text or the status', () => {
    const html = '<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>\n';
    expect(parseOpenAiError(502, html)).toEqual({ message: html.trim() });
    expect(parseOpenAiError(500, '\tupstream connect error or disconnect/reset before headers\n'))
      .toEqual({ message: 'upstream connect error or disconnect/reset before headers' });
    expect(parseOpenAiError(500, '{"error": {"message": "cut')).toEqual({ message: '{"error": {"message": "cut' });
    expect(parseOpenAiError(503, '')).toEqual({ message: 'HTTP 503' });
  });

  it(`keeps at most ${MAX_TEXT_MESSAGE} characters of a text body, never half a surrogate pair`, () => {
    expect(parseOpenAiError(502, 'x'.repeat(5000)).message).toHaveLength(MAX_TEXT_MESSAGE);
    const emoji = `${'x'.repeat(MAX_TEXT_MESSAGE - 1)}😀tail`;
    const cut = parseOpenAiError(502, emoji).message;
    expect(cut).toBe('x'.repeat(MAX_TEXT_MESSAGE - 1));
    // No lone surrogate (String.prototype.isWellFormed, which ES2022's typings lack).
    expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(cut)).toBe(false);
  });
});

describe('parseErrorBody with a chosen list of shapes', () => {
  it('tries only the shapes it is given, in order', () => {
    const body = '{"detail":"from detail","message":"from flat"}';
    expect(parseErrorBody(400, body, [fastApiDetailShape, flatErrorShape]).message).toBe('from detail');
    expect(parseErrorBody(400, body, [flatErrorShape, fastApiDetailShape]).message).toBe('from flat');
    expect(parseErrorBody(400, '{"error":"x"}', [nestedErrorShape])).toEqual({ message: '{"error":"x"}' });
    expect(parseErrorBody(400, '{"error":"x"}', [nestedErrorShape, stringErrorShape])).toEqual({ message: 'x' });
  });
});
