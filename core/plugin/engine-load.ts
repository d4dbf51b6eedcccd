/**
 * What one read of an engine's own load endpoint says, in one shape for every engine. Each HTTP
 * plugin turns its engine's dialect into this (`plugins/<engine>/load.ts`); the backend then folds
 * it into its `LoadSignals`. Every field is optional: an engine reports what it reports, and a
 * missing field means "not reported", never zero.
 */
export interface EngineLoad {
  /** Requests in the engine's running batch, summed over data-parallel ranks. */
  running?: number;
  /** Requests queued in the engine, summed over data-parallel ranks. */
  waiting?: number;
  /** KV-cache usage 0..1 (the mean over data-parallel ranks, each with its own pool). */
  kvUsage?: number;
  /**
   * Cumulative prefix-cache lookups and hits since the engine started (monotonic counters, so
   * only their differences between two reads mean anything). Tokens, except where an engine
   * counts blocks; the plugin that fills them says which. The ratio of two differences is
   * unit-free, which is all `intervalHitRate` needs.
   */
  prefixQueries?: number;
  prefixHits?: number;
  /** An engine-computed hit rate 0..1, for engines that export a gauge instead of counters (LMDeploy). */
  prefixHitRate?: number;
  /** KV block size in tokens. */
  blockSize?: number;
  /** KV blocks in the pool, summed over data-parallel ranks. */
  numBlocks?: number;
}

/**
 * The prefix-cache hit rate 0..1 between two reads, from the cumulative counters when both reads
 * have them, else the engine's own gauge. Undefined when nothing was looked up in between.
 * A counter that went down means the engine restarted: the current totals are then the interval.
 */
export function intervalHitRate(previous: EngineLoad | undefined, current: EngineLoad): number | undefined {
  const { prefixQueries: queries, prefixHits: hits } = current;
  if (queries === undefined || hits === undefined) return current.prefixHitRate;
  let dq = queries;
  let dh = hits;
  const prevQueries = previous?.prefixQueries;
  const prevHits = previous?.prefixHits;
  if (prevQueries !== undefined && prevHits !== undefined && queries >= prevQueries && hits >= prevHits) {
    dq = queries - prevQueries;
    dh = hits - prevHits;
  }
  if (!(dq > 0)) return undefined;
  return Math.min(1, Math.max(0, dh / dq));
}

/** An EngineLoad without its undefined fields, so that "not reported" is an absent key. */
export function compactLoad(load: EngineLoad): EngineLoad {
  const out: EngineLoad = {};
  for (const key of Object.keys(load) as (keyof EngineLoad)[]) {
    const value = load[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}
