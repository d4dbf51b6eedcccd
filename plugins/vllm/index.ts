/**
 * `type: vllm` — load from vLLM's Prometheus /metrics (vllm/v1/metrics/loggers.py); with
 * `kv_events:`, its KV-cache events over ZMQ for exact prefix routing (kv-events.ts).
 */
import type { EngineLoad } from '../../core/plugin/engine-load.js';
import type { BackendPlugin, BackendSpec, KvCacheView, PluginContext, UpstreamError } from '../../core/plugin/types.js';
import { HttpBackend } from '../openai/http-backend.js';
import { readHttpOptions, validateHttpOptions } from '../openai/options.js';
import { parseVllmError } from './errors.js';
import { readVllmLoad } from './load.js';
import { readVllmKvEvents, validateVllmKvEvents, VllmKvFollower } from './kv-events.js';

export class VllmBackend extends HttpBackend {
  readonly engine = 'vllm';
  /** With `kv_events:`, the engine's KV cache per its ZMQ events (exact prefix routing). */
  private readonly kv?: VllmKvFollower;

  constructor(spec: BackendSpec, ctx: PluginContext) {
    super(spec, ctx, readHttpOptions(spec.options, ctx, { embeddings: true, responses: true }));
    const kv = readVllmKvEvents(spec.options.kv_events);
    if (kv) this.kv = new VllmKvFollower(kv, spec.id, ctx.log);
  }

  get kvCache(): KvCacheView | undefined {
    return this.kv?.view;
  }

  async start(): Promise<void> {
    // Subscribe first: events published while the gateway starts are not lost.
    this.kv?.start();
    await super.start();
  }

  async close(): Promise<void> {
    this.kv?.close();
    await super.close();
  }

  protected async readLoad(): Promise<EngineLoad | undefined> {
    const load = await this.readMetrics();
    // vLLM's block size from its cache config, for a tracker not told one (events carry it too).
    if (load?.blockSize) this.kv?.tracker.learnBlockSize(load.blockSize);
    return load;
  }

  private async readMetrics(): Promise<EngineLoad | undefined> {
    const res = await this.get('/metrics');
    if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
    const load = readVllmLoad(res.body, this.models()[0]);
    return load;
  }

  parseError(status: number, body: string): UpstreamError {
    return parseVllmError(status, body);
  }

  /**
   * vLLM's own ids for a request (vllm/entrypoints/openai/serving_tokenization.py: POST /tokenize
   * takes a chat's messages — template applied, add_generation_prompt true by default, no added
   * special tokens — or a completion's prompt, and answers `{count, max_model_len, tokens}`).
   */
  async tokenize(body: Readonly<Record<string, unknown>>): Promise<number[]> {
    const request = Array.isArray(body.messages)
      ? { model: body.model, messages: body.messages, add_generation_prompt: true, ...(body.tools ? { tools: body.tools } : {}), ...(body.chat_template_kwargs ? { chat_template_kwargs: body.chat_template_kwargs } : {}) }
      : { model: body.model, prompt: body.prompt };
    const res = await this.post('/tokenize', request);
    if (res.status !== 200) throw new Error(`POST /tokenize answered ${res.status}`);
    const tokens = (JSON.parse(res.body) as { tokens?: unknown }).tokens;
    if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'number')) throw new Error('POST /tokenize: no `tokens` list in the answer');
    return tokens as number[];
  }
}

const plugin: BackendPlugin = {
  type: 'vllm',
  validate: (options) => [...validateHttpOptions(options, ['kv_events']), ...validateVllmKvEvents(options.kv_events)],
  create: (spec, ctx) => new VllmBackend(spec, ctx),
};
export default plugin;
