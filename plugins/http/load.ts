/**
 * An engine's own load, read on an interval: the last read kept with its time, the prefix hit
 * rate taken over the interval, and the KV block size and capacity the engine reports (which win
 * over the options'). Plus `metricsPage`, the load reader most engines need.
 */
import { intervalHitRate, type EngineLoad } from '../../core/plugin/engine-load.js';
import type { BackendCapabilities, LoadSignals, PluginLogger } from '../../core/plugin/types.js';
import type { EngineHandle, LoadReader } from './define.js';

export class LoadPoll {
  private load: EngineLoad = {};
  private loadAt = 0;
  /** The last read failed: the next failure is not logged again, the next success is. */
  private failing = false;

  constructor(
    private readonly read: LoadReader,
    private readonly capabilities: BackendCapabilities,
    private readonly backendId: string,
    private readonly log: PluginLogger,
  ) {}

  async refresh(): Promise<void> {
    try {
      const load = await this.read();
      if (load) {
        // Engines with hit/query counters (vLLM, trtllm-serve, LMDeploy ≥ 0.14) give a rate over
        // the interval since the previous read; older LMDeploy only a lifetime gauge.
        this.load = { ...load, prefixHitRate: load.prefixHitRate ?? intervalHitRate(this.load, load) ?? this.load.prefixHitRate };
        this.loadAt = Date.now();
        if (load.blockSize) this.capabilities.blockSize = load.blockSize;
        if (load.numBlocks && load.blockSize) this.capabilities.kvCapacityTokens = load.numBlocks * load.blockSize;
      }
      if (this.failing) this.log.info({ backend: this.backendId }, 'engine load read recovered');
      this.failing = false;
    } catch (err) {
      // Logged once per change, not on every interval: a dead engine would write a line each 500 ms.
      if (!this.failing) this.log.warn({ backend: this.backendId, err: err instanceof Error ? err.message : String(err) }, 'engine load read failed');
      this.failing = true;
    }
  }

  /** The engine's numbers as LoadSignals, with what this process has in flight there. */
  signals(inFlight: number): LoadSignals {
    return {
      inFlight,
      running: this.load.running,
      waiting: this.load.waiting,
      kvUsage: this.load.kvUsage,
      prefixHitRate: this.load.prefixHitRate,
      updatedAt: this.loadAt,
    };
  }
}

/**
 * Load from a page on the engine's own port (a Prometheus text page, usually): GET `path`, read
 * a 200's body. `absentOn404`: a 404 means the engine serves no such page (no load, not an error).
 */
export function metricsPage(
  path: string, read: (text: string, engine: EngineHandle) => EngineLoad, opts: { absentOn404?: boolean } = {},
): (engine: EngineHandle) => LoadReader {
  return (engine) => async () => {
    const res = await engine.client.get(path);
    if (opts.absentOn404 && res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}`);
    return read(res.body, engine);
  };
}
