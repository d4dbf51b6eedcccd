/**
 * `type: trtllm-serve` — load from trtllm-serve's Prometheus page `GET /prometheus/metrics` where
 * the release serves it (non-destructive: every gateway process reads it), else from `GET
 * /metrics`, a JSON list of iteration stats that drains on every read
 * (tensorrt_llm/serve/openai_server.py). Exactly one reader may poll the drained one: with several
 * gateway workers only the one the host marks `drainingReader` does. With `kv_events:`, its
 * KV-cache events from `POST /kv_cache_events` (kv-poll.ts).
 */
import type { EngineLoad } from '../../core/plugin/engine-load.js';
import { defineHttpEngine, type EngineHandle, type LoadReader } from '../http/define.js';
import { parseTrtllmError } from './errors.js';
import { readKvEventsOption, TrtllmKvPoll, validateKvEventsOption } from './kv-poll.js';
import { readTrtllmPrometheus, readTrtllmStats } from './load.js';

function trtllmServeLoad(engine: EngineHandle): LoadReader {
  /** Which page the load comes from, settled by the first read. */
  let source: 'prometheus' | 'drained' | undefined;
  let progress: string | undefined;
  let last: EngineLoad | undefined;

  const readPrometheus = (text: string): EngineLoad => {
    const read = readTrtllmPrometheus(text);
    // The gauges hold the last iteration's values; no iteration since the last read while
    // nothing of ours is in flight there means the engine is idle (other gateways' requests
    // would have made it iterate).
    const stalled = read.progress !== undefined && read.progress === progress;
    progress = read.progress;
    return stalled && engine.inFlight() === 0 ? { ...read.load, running: 0, waiting: 0 } : read.load;
  };

  return async () => {
    if (source !== 'drained') {
      const res = await engine.client.get('/prometheus/metrics');
      if (res.status === 200) {
        source = 'prometheus';
        return readPrometheus(res.body);
      }
      if (source === 'prometheus') throw new Error(`GET /prometheus/metrics answered ${res.status}`);
      source = 'drained';
      // One gateway process reads it and shares what it read (the state store's reader lease).
      engine.capabilities.loadReadByOne = true;
    }
    // The drained JSON page: one reader only, or iterations are stolen from each other.
    if (!engine.ctx.drainingReader) return undefined;
    const res = await engine.client.get('/metrics');
    if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
    last = readTrtllmStats(JSON.parse(res.body) as unknown, last, engine.inFlight() === 0);
    return last;
  };
}

export default defineHttpEngine({
  type: 'trtllm-serve',
  engine: 'trtllm-serve',
  options: { keys: ['kv_events'], validate: (options) => validateKvEventsOption(options.kv_events) },
  load: trtllmServeLoad,
  parseError: parseTrtllmError,
  kvEvents: (engine) => {
    const kv = readKvEventsOption(engine.spec.options.kv_events);
    return kv && new TrtllmKvPoll(engine, kv);
  },
});
