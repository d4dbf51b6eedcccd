/**
 * `type: openai` — any OpenAI-compatible server (SGLang, TGI, llama.cpp, Ollama, xinference…).
 * No load reader: its load is what this gateway has in flight there.
 */
import type { EngineLoad } from '../../core/plugin/engine-load.js';
import type { BackendPlugin, BackendSpec, PluginContext, UpstreamError } from '../../core/plugin/types.js';
import { parseOpenAiError } from './errors.js';
import { HttpBackend } from './http-backend.js';
import { readHttpOptions, validateHttpOptions } from './options.js';

export class OpenAiBackend extends HttpBackend {
  readonly engine: string;

  constructor(spec: BackendSpec, ctx: PluginContext) {
    super(spec, ctx, readHttpOptions(spec.options, ctx, { loadIntervalMs: 0, healthPath: '/v1/models' }));
    this.engine = typeof spec.options.engine === 'string' ? spec.options.engine : 'openai';
  }

  protected async readLoad(): Promise<EngineLoad | undefined> {
    return undefined;
  }

  parseError(status: number, body: string): UpstreamError {
    return parseOpenAiError(status, body);
  }
}

const plugin: BackendPlugin = {
  type: 'openai',
  validate: (options) => [
    ...validateHttpOptions(options, ['engine']),
    ...(options.engine !== undefined && typeof options.engine !== 'string' ? ['engine: expected a string naming the server (sglang, tgi, …)'] : []),
  ],
  create: (spec, ctx) => new OpenAiBackend(spec, ctx),
};
export default plugin;
