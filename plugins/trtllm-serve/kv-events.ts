/**
 * trtllm-serve's KV-cache events over HTTP: `POST /kv_cache_events` answers the events queued since
 * the previous call and drains them (tensorrt_llm/serve/openai_server.py get_kv_cache_events;
 * JSON per tensorrt_llm/_utils.py KVCacheEventSerializer: `{event_id, data, window_size,
 * attention_dp_rank?}` with data `created` / `stored` / `removed` / `updated`). So, like the drained
 * `/metrics`, exactly one gateway process may poll it.
 *
 * Block hashes are 64-bit integers written as exact JSON numbers, which JSON.parse would round:
 * long integer literals are read as strings before parsing (a hash is only ever compared).
 */
import type { EngineBlockHash, KvEvent } from '../../core/routing/kv-tracker.js';

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Integer literals of 16 digits or more become strings, so none loses precision. */
export function parseExactJson(text: string): unknown {
  return JSON.parse(text.replace(/([:[,]\s*)(-?\d{16,})(?=\s*[,\]}])/g, '$1"$2"'));
}

function hashOf(v: unknown): EngineBlockHash {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  throw new Error(`expected a block hash, got ${JSON.stringify(v)}`);
}

/** One serialised event in engine-neutral form; undefined for kinds the tracker does not use. */
export function toKvEvent(e: unknown): KvEvent {
  if (!isRecord(e) || !isRecord(e.data) || typeof e.data.type !== 'string') throw new Error(`expected a KV event object, got ${JSON.stringify(e)?.slice(0, 80)}`);
  const eventId = typeof e.event_id === 'number' ? e.event_id : undefined;
  const d = e.data;
  switch (d.type) {
    case 'created': {
      const levels = Array.isArray(d.num_blocks_per_cache_level) ? d.num_blocks_per_cache_level : [];
      return { eventId, type: 'created', numBlocks: typeof levels[0] === 'number' ? levels[0] : 0 };
    }
    case 'stored': {
      const blocks = Array.isArray(d.blocks) ? d.blocks : [];
      return {
        eventId, type: 'stored', parentHash: d.parent_hash === null || d.parent_hash === undefined ? null : hashOf(d.parent_hash),
        blocks: blocks.filter(isRecord).map((b) => ({
          hash: hashOf(b.block_hash),
          tokens: (Array.isArray(b.tokens) ? b.tokens : []).map((t) => (isRecord(t) && typeof t.token_id === 'number' ? t.token_id : Number(t))),
        })),
      };
    }
    case 'removed':
      return { eventId, type: 'removed', hashes: (Array.isArray(d.block_hashes) ? d.block_hashes : []).map(hashOf) };
    case 'cleared':
      return { eventId, type: 'cleared' };
    default:
      // `updated` (a block moved between cache levels or changed priority) and kinds added later.
      return { eventId, type: 'updated' };
  }
}

export function readKvEvents(text: string): KvEvent[] {
  const json = parseExactJson(text);
  if (!Array.isArray(json)) throw new Error(`trtllm-serve /kv_cache_events: expected a JSON list, got ${typeof json}`);
  return json.map(toKvEvent);
}
