/**
 * The HTTP text-engine backend against an upstream on loopback that answers set bytes: what the
 * emulated faces do not produce — an engine error event after output, a 200 that is not JSON,
 * Triton's error event before any output.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Cancel } from '../../../core/plugin/cancel.js';
import type { Backend, DispatchCall, PluginContext } from '../../../core/plugin/types.js';
import tgi from '../../../plugins/tgi/index.js';
import tritonTrtllm from '../../../plugins/triton-trtllm/index.js';

const ctx: PluginContext = { configDir: process.cwd(), log: pino({ level: 'silent' }), limits: { connectTimeoutMs: 2000, headersTimeoutMs: 10_000 }, drainingReader: true };

/** What the upstream answers to the next POST: status, content type, body. */
let next: { status: number; type: string; body: string } = { status: 200, type: 'application/json', body: '{}' };
/** The last request body the upstream got. */
let lastBody: Record<string, unknown> = {};
let server: Server;
let url: string;
const backends: Backend[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('');
      return;
    }
    let raw = '';
    req.on('data', (chunk: Buffer) => { raw += chunk.toString(); });
    req.on('end', () => {
      lastBody = JSON.parse(raw) as Record<string, unknown>;
      res.writeHead(next.status, { 'content-type': next.type }).end(next.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const b of backends) await b.close();
  await new Promise((resolve) => server.close(resolve));
});

const started = new Map<string, Promise<Backend>>();

/** One backend per plugin for the file (a tokenizer load each). */
function backendOf(plugin: typeof tgi): Promise<Backend> {
  let b = started.get(plugin.type);
  if (!b) {
    b = startBackend(plugin);
    started.set(plugin.type, b);
  }
  return b;
}

async function startBackend(plugin: typeof tgi): Promise<Backend> {
  const b = plugin.create({ id: plugin.type, type: plugin.type, url, models: ['m'], labels: {}, simulated: false,
    options: { load_interval_ms: 0, tokenizer_parallelism: 0, metrics_url: `${url}/metrics` } }, ctx);
  await b.start();
  backends.push(b);
  return b;
}

const chat = (stream: boolean): DispatchCall => ({
  endpoint: 'chat', stream, cancel: new Cancel(), requestId: 'r', headers: {},
  body: { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8, stream },
});

async function text(body: AsyncIterable<Buffer | string>): Promise<string> {
  let out = '';
  for await (const chunk of body) out += chunk.toString();
  return out;
}

it('ends a TGI stream whose engine fails after output with an error the relay reports, not a clean end', async () => {
  const b = await backendOf(tgi);
  next = { status: 200, type: 'text/event-stream', body: 'data: {"index":1,"token":{"id":1,"text":" hello","logprob":-1,"special":false},"generated_text":null,"details":null}\n\n'
    + 'data: {"error":"Request failed during generation: CUDA error","error_type":"generation"}\n\n' };
  const reply = await b.dispatch(chat(true));
  expect(reply.status).toBe(200);
  await expect(text(reply.body)).rejects.toThrow(/CUDA error/);
  expect(b.signals().inFlight).toBe(0);
});

it('answers a TGI refusal inside its 200 stream with the status /generate would give, mapped for the gateway', async () => {
  const b = await backendOf(tgi);
  next = { status: 200, type: 'text/event-stream', body: 'data: {"error":"Model is overloaded","error_type":"overloaded"}\n\n' };
  const overloaded = await b.dispatch(chat(true));
  expect(overloaded.status).toBe(429);
  expect(b.parseError(429, await text(overloaded.body))).toEqual({ message: 'Model is overloaded', type: 'overloaded' });
  next = { status: 424, type: 'application/json', body: '{"error":"Request failed during generation: boom","error_type":"generation"}' };
  // 424 is the engine's own failure: a 5xx the gateway may retry elsewhere.
  expect((await b.dispatch(chat(false))).status).toBe(500);
});

it('rejects a 200 that is not the engine\'s JSON as the engine\'s failure (an Error, not a SyntaxError)', async () => {
  const b = await backendOf(tgi);
  next = { status: 200, type: 'text/html', body: '<html>proxy page</html>' };
  const failure = await b.dispatch(chat(false)).then(() => undefined, (err: unknown) => err);
  expect(failure).toBeInstanceOf(Error);
  expect(failure).not.toBeInstanceOf(SyntaxError);
  expect(String(failure)).toContain('proxy page');
  expect(b.signals().inFlight).toBe(0);
});

it("answers Triton's error event before any output as an error reply with Triton's message", async () => {
  const b = await backendOf(tritonTrtllm);
  next = { status: 200, type: 'text/event-stream', body: 'data: {"error":"in ensemble \'ensemble\', Executor failed"}\n\n' };
  const reply = await b.dispatch(chat(true));
  expect(reply.status).toBe(500);
  expect(b.parseError(reply.status, await text(reply.body)).message).toBe("in ensemble 'ensemble', Executor failed");
});

it('counts a Triton answer with the tokenizer and tells length from max_tokens', async () => {
  const b = await backendOf(tritonTrtllm);
  next = { status: 200, type: 'application/json', body: '{"model_name":"ensemble","model_version":"1","text_output":" one two three four five six seven eight"}' };
  const body = JSON.parse(await text((await b.dispatch(chat(false))).body)) as { choices: Array<{ finish_reason: string }>; usage: { completion_tokens: number } };
  expect(body.usage.completion_tokens).toBe(8);
  expect(body.choices[0].finish_reason).toBe('length');
  next = { status: 200, type: 'application/json', body: '{"model_name":"ensemble","model_version":"1","text_output":" one two"}' };
  const short = JSON.parse(await text((await b.dispatch(chat(false))).body)) as { choices: Array<{ finish_reason: string }>; usage: { completion_tokens: number } };
  expect(short.usage.completion_tokens).toBe(2);
  expect(short.choices[0].finish_reason).toBe('stop');
});

it("sends Triton the end id, pad id and stop words of the model's generation_config.json, the options overriding", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-genconfig-'));
  const file = path.join(dir, 'generation_config.json');
  // Qwen2.5's: two end-of-sequence tokens, <|im_end|> and <|endoftext|>.
  writeFileSync(file, JSON.stringify({ eos_token_id: [151645, 151643], pad_token_id: 151643 }));
  next = { status: 200, type: 'application/json', body: '{"model_name":"ensemble","model_version":"1","text_output":" fine"}' };
  const create = async (extra: Record<string, unknown>) => {
    const b = tritonTrtllm.create({ id: 't', type: 'triton-trtllm', url, models: ['m'], labels: {}, simulated: false,
      options: { load_interval_ms: 0, tokenizer_parallelism: 0, metrics_url: `${url}/metrics`, generation_config: file, ...extra } }, ctx);
    await b.start();
    backends.push(b);
    return b;
  };
  const fromFile = await create({});
  await text((await fromFile.dispatch({ ...chat(false), body: { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, stop: ['END'] } })).body);
  expect(lastBody).toMatchObject({ end_id: 151645, pad_id: 151643, stop_words: ['END', '<|endoftext|>'], max_tokens: 4, exclude_input_in_output: true, stream: false });
  expect(String(lastBody.text_input)).toContain('<|im_start|>assistant');
  const overridden = await create({ end_id: 7, pad_id: 8, stop_words: ['Observation:'] });
  await text((await overridden.dispatch(chat(false))).body);
  expect(lastBody).toMatchObject({ end_id: 7, pad_id: 8, stop_words: ['<|im_end|>', '<|endoftext|>', 'Observation:'] });
  // ignore_eos: TensorRT-LLM's "no end id".
  await text((await overridden.dispatch({ ...chat(false), body: { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, ignore_eos: true } })).body);
  expect(lastBody.end_id).toBe(-1);
});
