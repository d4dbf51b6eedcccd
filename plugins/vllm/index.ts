/**
 * `type: vllm` — load from vLLM's Prometheus /metrics (vllm/v1/metrics/loggers.py); with
 * `kv_events:`, its KV-cache events over ZMQ for exact prefix routing (kv-events.ts).
 */
import { defineHttpEngine } from '../http/define.js';
import { metricsPage } from '../http/load.js';
import { parseVllmError } from './errors.js';
import { readVllmKvEvents, validateVllmKvEvents, VllmKvFollower } from './kv-events.js';
import { readVllmLoad } from './load.js';

export default defineHttpEngine({
  type: 'vllm',
  engine: 'vllm',
  defaults: { embeddings: true, responses: true },
  options: { keys: ['kv_events'], validate: (options) => validateVllmKvEvents(options.kv_events) },
  load: metricsPage('/metrics', (text, engine) => readVllmLoad(text, engine.models()[0])),
  parseError: parseVllmError,
  kvEvents: (engine) => {
    const kv = readVllmKvEvents(engine.spec.options.kv_events);
    return kv && new VllmKvFollower(kv, engine.id, engine.ctx.log);
  },

  /**
   * vLLM's own ids for a request (vllm/entrypoints/openai/serving_tokenization.py: POST /tokenize
   * takes a chat's messages — template applied, add_generation_prompt true by default, no added
   * special tokens — or a completion's prompt, and answers `{count, max_model_len, tokens}`).
   */
  tokenize: async (engine, body) => {
    const request = Array.isArray(body.messages)
      ? { model: body.model, messages: body.messages, add_generation_prompt: true, ...(body.tools ? { tools: body.tools } : {}), ...(body.chat_template_kwargs ? { chat_template_kwargs: body.chat_template_kwargs } : {}) }
      : { model: body.model, prompt: body.prompt };
    const res = await engine.client.post('/tokenize', request);
    if (res.status !== 200) throw new Error(`POST /tokenize answered ${res.status}`);
    const tokens = (JSON.parse(res.body) as { tokens?: unknown }).tokens;
    if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'number')) throw new Error('POST /tokenize: no `tokens` list in the answer');
    return tokens as number[];
  },
});
