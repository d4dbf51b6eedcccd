/**
 * The dashboard tests' fleet: two emulated vLLM replicas behind a gateway with auth on (an admin
 * key, a tenant key), one route with SLO targets and one split between two A/B arms; and a
 * reader for the dashboard's SSE snapshots.
 */
import type { SimServer } from '../../../../bench/sim/server.js';
import type { Gateway } from '../../../../core/server/gateway.js';
import { startEngine, startTestGateway } from '../gateway-helpers.js';

export const ADMIN_KEY = 'dashboard-admin-key';
export const TENANT_KEY = 'dashboard-tenant-key';

export type Snapshot = Record<string, any>;

export interface Fleet {
  gw: Gateway;
  sims: SimServer[];
  close(): Promise<void>;
}

export async function startFleet(): Promise<Fleet> {
  const sims: SimServer[] = await Promise.all([startEngine('vllm'), startEngine('vllm')]);
  const gw = await startTestGateway({
    listen: { host: '127.0.0.1', port: 0 },
    auth: { admin_keys: [ADMIN_KEY], keys: [{ id: 'team-a', key: TENANT_KEY }] },
    backends: sims.map((s, i) => ({ id: `replica-${i}`, type: 'vllm', url: s.url })),
    routes: [
      { model: 'qwen', backends: ['replica-0', 'replica-1'], policy: { type: 'prefix-affinity' }, slo: { ttft_ms: 2000, tpot_ms: 100 } },
      {
        model: 'qwen-ab', policy: { type: 'round-robin' },
        arms: [{ name: 'first', backends: ['replica-0'], weight: 1 }, { name: 'second', backends: ['replica-1'], weight: 1 }],
      },
    ],
  });
  return {
    gw,
    sims,
    close: async () => {
      await gw.drain();
      await Promise.all(sims.map((s) => s.close()));
    },
  };
}

/** Long enough to span several prefix chunks: the prefix indexes fill up. */
const SYSTEM_PROMPT = 'You are the dispatcher of a railway switchyard. '.repeat(60);

/** `n` streamed chat requests with the tenant key, `concurrency` at a time, alternating routes (until `stop` says so). */
export async function sendTraffic(url: string, n: number, concurrency = 4, stop: () => boolean = () => false): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n && !stop()) {
      const i = next++;
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TENANT_KEY}` },
        body: JSON.stringify({
          model: i % 2 === 0 ? 'qwen' : 'qwen-ab', stream: true, max_tokens: 16,
          messages: [{ role: 'system', content: SYSTEM_PROMPT }, { role: 'user', content: `conversation ${i % 5}: tell me about switchyards` }],
        }),
      });
      if (res.status !== 200) throw new Error(`chat answered ${res.status}: ${await res.text()}`);
      await res.text();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Reads `snapshot` events from the dashboard's SSE endpoint until `done` holds for one (or the signal aborts). */
export async function readSnapshots(url: string, headers: Record<string, string>, done: (s: Snapshot, seen: Snapshot[]) => boolean): Promise<Snapshot[]> {
  const controller = new AbortController();
  const res = await fetch(`${url}/dashboard/events`, { headers, signal: controller.signal });
  if (res.status !== 200) throw new Error(`/dashboard/events answered ${res.status}: ${await res.text()}`);
  const seen: Snapshot[] = [];
  const decoder = new TextDecoder();
  let buffered = '';
  try {
    for await (const chunk of res.body!) {
      buffered += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const event = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = event.split('\n').find((l) => l.startsWith('data: '));
        if (!event.split('\n').includes('event: snapshot') || !data) continue;
        const snapshot = JSON.parse(data.slice(6)) as Snapshot;
        seen.push(snapshot);
        if (done(snapshot, seen)) return seen;
      }
    }
  } finally {
    controller.abort();
  }
  throw new Error(`the dashboard stream ended after ${seen.length} snapshots`);
}
