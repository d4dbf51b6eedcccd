import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { spawnSelf } from '../../../core/cli/self.js';

// `npm start` = `switchyard serve` with conf/gateway.yaml: it starts its own simulated replicas.
describe('the embedded default (npm start)', () => {
  it('lists its models and streams a chat to the official openai client, then stops everything', async () => {
    // It starts its simulated replicas first: ~13 s from TypeScript sources on this machine, more
    // when other test files load it too.
    const { url, child } = await spawnSelf(['serve', '--port', '0'], { env: { SWITCHYARD_LOG_LEVEL: 'warn' }, timeoutMs: 90_000 });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const models = await client.models.list();
      expect(models.data.map((m) => m.id)).toEqual(expect.arrayContaining(['qwen2.5-7b-instruct', 'qwen2.5-7b-instruct-vllm', 'llama-3-8b-instruct']));
      expect(models.data.every((m) => m.owned_by.includes('(simulated)'))).toBe(true);
      const stream = await client.chat.completions.create({
        model: 'qwen2.5-7b-instruct', messages: [{ role: 'user', content: 'Hello!' }], max_tokens: 8, stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let completionTokens = 0;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? '';
        completionTokens = chunk.usage?.completion_tokens ?? completionTokens;
      }
      expect(text.length).toBeGreaterThan(0);
      expect(completionTokens).toBe(8);
      const viaVllm = await client.chat.completions.create({ model: 'qwen2.5-7b-instruct-vllm', messages: [{ role: 'user', content: 'Hello!' }], max_tokens: 4 });
      expect(viaVllm.usage?.completion_tokens).toBe(4);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    // The simulated replicas went with it.
    await expect(fetch('http://127.0.0.1:18101/health')).rejects.toThrow();
  }, 150_000);
});
