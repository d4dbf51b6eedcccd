/** `type: vllm` — load from vLLM's Prometheus /metrics (vllm/v1/metrics/loggers.py). */
import type { EngineLoad } from '../../core/plugin/engine-load.js';
import type { BackendPlugin, BackendSpec, PluginContext, UpstreamError } from '../../core/plugin/types.js';
import { HttpBackend } from '../openai/http-backend.js';
import { readHttpOptions, validateHttpOptions } from '../openai/options.js';
import { parseVllmError } from './errors.js';
import { readVllmLoad } from './load.js';

export class VllmBackend extends HttpBackend {
  readonly engine = 'vllm';

  constructor(spec: BackendSpec, ctx: PluginContext) {
    super(spec, ctx, readHttpOptions(spec.options, ctx, { embeddings: true }));
  }

  protected async readLoad(): Promise<EngineLoad | undefined> {
    const res = await this.get('/metrics');
    if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
    const load = readVllmLoad(res.body, this.models()[0]);
    return load;
  }

  parseError(status: number, body: string): UpstreamError {
    return parseVllmError(status, body);
  }
}

const plugin: BackendPlugin = {
  type: 'vllm',
  validate: (options) => validateHttpOptions(options),
  create: (spec, ctx) => new VllmBackend(spec, ctx),
};
export default plugin;
