/** `type: lmdeploy` — load from LMDeploy's Prometheus /metrics (lmdeploy/metrics/loggers.py, on by default from v0.12). */
import type { EngineLoad } from '../../core/plugin/engine-load.js';
import type { BackendPlugin, BackendSpec, PluginContext, UpstreamError } from '../../core/plugin/types.js';
import { HttpBackend } from '../openai/http-backend.js';
import { readHttpOptions, validateHttpOptions } from '../openai/options.js';
import { parseLmdeployError } from './errors.js';
import { readLmdeployLoad } from './load.js';

export class LmdeployBackend extends HttpBackend {
  readonly engine = 'lmdeploy';

  constructor(spec: BackendSpec, ctx: PluginContext) {
    super(spec, ctx, readHttpOptions(spec.options, ctx));
  }

  protected async readLoad(): Promise<EngineLoad | undefined> {
    const res = await this.get('/metrics');
    // LMDeploy before v0.12 serves /metrics only with --enable-metrics: no load, not an error.
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
    return readLmdeployLoad(res.body);
  }

  parseError(status: number, body: string): UpstreamError {
    return parseLmdeployError(status, body);
  }
}

const plugin: BackendPlugin = {
  type: 'lmdeploy',
  validate: (options) => validateHttpOptions(options),
  create: (spec, ctx) => new LmdeployBackend(spec, ctx),
};
export default plugin;
