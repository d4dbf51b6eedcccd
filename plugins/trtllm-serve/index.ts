/**
 * `type: trtllm-serve` — load from trtllm-serve's GET /metrics, a JSON list of iteration stats
 * that drains on every read (tensorrt_llm/serve/openai_server.py). Exactly one reader may poll it:
 * with several gateway workers only the one the host marks `drainingReader` does.
 */
import type { EngineLoad } from '../../core/plugin/engine-load.js';
import type { BackendPlugin, BackendSpec, PluginContext, UpstreamError } from '../../core/plugin/types.js';
import { HttpBackend } from '../openai/http-backend.js';
import { readHttpOptions, validateHttpOptions } from '../openai/options.js';
import { parseTrtllmError } from './errors.js';
import { readTrtllmStats } from './load.js';

export class TrtllmServeBackend extends HttpBackend {
  readonly engine = 'trtllm-serve';
  private last: EngineLoad | undefined;

  constructor(spec: BackendSpec, ctx: PluginContext) {
    super(spec, ctx, readHttpOptions(spec.options, ctx, { loadIntervalMs: ctx.drainingReader ? 500 : 0 }));
  }

  protected async readLoad(): Promise<EngineLoad | undefined> {
    const res = await this.get('/metrics');
    if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
    this.last = readTrtllmStats(JSON.parse(res.body) as unknown, this.last);
    return this.last;
  }

  parseError(status: number, body: string): UpstreamError {
    return parseTrtllmError(status, body);
  }
}

const plugin: BackendPlugin = {
  type: 'trtllm-serve',
  validate: (options) => validateHttpOptions(options),
  create: (spec, ctx) => new TrtllmServeBackend(spec, ctx),
};
export default plugin;
