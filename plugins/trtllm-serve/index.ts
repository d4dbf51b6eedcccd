/**
 * `type: trtllm-serve` — load from trtllm-serve's Prometheus page `GET /prometheus/metrics` where
 * the release serves it (non-destructive: every gateway process reads it), else from `GET
 * /metrics`, a JSON list of iteration stats that drains on every read
 * (tensorrt_llm/serve/openai_server.py). Exactly one reader may poll the drained one: with several
 * gateway workers only the one the host marks `drainingReader` does.
 */
import type { EngineLoad } from '../../core/plugin/engine-load.js';
import type { BackendPlugin, BackendSpec, PluginContext, UpstreamError } from '../../core/plugin/types.js';
import { HttpBackend } from '../openai/http-backend.js';
import { readHttpOptions, validateHttpOptions } from '../openai/options.js';
import { parseTrtllmError } from './errors.js';
import { readTrtllmPrometheus, readTrtllmStats } from './load.js';

export class TrtllmServeBackend extends HttpBackend {
  readonly engine = 'trtllm-serve';
  private last: EngineLoad | undefined;
  /** Which page the load comes from, settled by the first read. */
  private source: 'prometheus' | 'drained' | undefined;
  private progress: string | undefined;

  constructor(spec: BackendSpec, ctx: PluginContext) {
    super(spec, ctx, readHttpOptions(spec.options, ctx));
  }

  protected async readLoad(): Promise<EngineLoad | undefined> {
    if (this.source !== 'drained') {
      const res = await this.get('/prometheus/metrics');
      if (res.status === 200) {
        this.source = 'prometheus';
        return this.readPrometheus(res.body);
      }
      if (this.source === 'prometheus') throw new Error(`GET /prometheus/metrics answered ${res.status}`);
      this.source = 'drained';
    }
    // The drained JSON page: one reader only, or iterations are stolen from each other.
    if (!this.ctx.drainingReader) return undefined;
    const res = await this.get('/metrics');
    if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
    this.last = readTrtllmStats(JSON.parse(res.body) as unknown, this.last, this.inFlightHere === 0);
    return this.last;
  }

  private readPrometheus(text: string): EngineLoad {
    const { load, progress } = readTrtllmPrometheus(text);
    // The gauges hold the last iteration's values; no iteration since the last read while
    // nothing of ours is in flight there means the engine is idle (other gateways' requests
    // would have made it iterate).
    const stalled = progress !== undefined && progress === this.progress;
    this.progress = progress;
    return stalled && this.inFlightHere === 0 ? { ...load, running: 0, waiting: 0 } : load;
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
