/**
 * The contract every state store passes (run by one test file per store): observations reach
 * every other replica exactly as published and in order, never their publisher; publishing never
 * throws or blocks, whatever the backend's state; close() is idempotent.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { KvEventsObservation, LoadObservation, PrefixObservation, StateStore, StateStoreEvents } from '../../../core/state/types.js';

export interface Recorder extends StateStoreEvents {
  prefixes: PrefixObservation[];
  loads: LoadObservation[];
}

export function recorder(): Recorder {
  const r: Recorder = {
    prefixes: [], loads: [],
    onPrefix: (obs) => { r.prefixes.push(obs); },
    onLoad: (obs) => { r.loads.push(obs); },
  };
  return r;
}

export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<number> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return Date.now() - t0;
}

export function prefix(backendId: string, hashes: number[], at = Date.now()): PrefixObservation {
  return { backendId, hashes, at };
}

export interface StoreContractOptions {
  /** A store whose backend cannot be reached (for stores that have one). */
  makeUnreachable?: () => Promise<StateStore>;
}

export function runStoreContract(name: string, makeStores: (n: number) => Promise<StateStore[]>, opts: StoreContractOptions = {}): void {
  describe(`state store contract: ${name}`, () => {
    const open: StateStore[] = [];
    afterEach(async () => { await Promise.all(open.splice(0).map((s) => s.close())); });

    /** n started stores and what each of them receives. */
    async function replicas(n: number): Promise<{ stores: StateStore[]; recs: Recorder[] }> {
      const stores = await makeStores(n);
      open.push(...stores);
      const recs = stores.map(() => recorder());
      await Promise.all(stores.map((s, i) => s.start(recs[i]!)));
      return { stores, recs };
    }

    it('grants a lease to one replica at a time, renews it for its holder, and hands it on when the holder stops', async () => {
      const { stores } = await replicas(3);
      const name = `reader-${Date.now()}`;
      const first = await Promise.all(stores.map((s) => s.lease(name, 400)));
      expect(first.filter(Boolean)).toHaveLength(1);
      const holder = first.indexOf(true);
      // Renewed by its holder, refused to the others.
      expect(await stores[holder]!.lease(name, 400)).toBe(true);
      for (const [i, s] of stores.entries()) if (i !== holder) expect(await s.lease(name, 400)).toBe(false);
      // The holder stops renewing: after the TTL another replica takes it.
      await new Promise((r) => setTimeout(r, 500));
      const next = (holder + 1) % stores.length;
      expect(await stores[next]!.lease(name, 400)).toBe(true);
      expect(await stores[holder]!.lease(name, 400)).toBe(false);
    });

    it('carries an engine reading with a load observation, exactly', async () => {
      const { stores, recs } = await replicas(2);
      const obs: LoadObservation = { gatewayId: stores[0]!.gatewayId, backendId: 'trt-a', inFlight: 2, at: Date.now(), engine: { running: 7, waiting: 3, kvUsage: 0.42, readAt: Date.now() - 5 } };
      stores[0]!.publishLoad(obs);
      await waitFor(() => recs[1]!.loads.some((l) => l.backendId === 'trt-a'), 'the load observation');
      expect(recs[1]!.loads.find((l) => l.backendId === 'trt-a')).toEqual(obs);
    });

    it('delivers KV-event batches in order, hashes exact, to every other replica', async () => {
      const { stores, recs } = await replicas(2);
      const got: KvEventsObservation[] = [];
      recs[1]!.onKvEvents = (obs) => { got.push(obs); };
      const batches: KvEventsObservation[] = [
        { backendId: 'trt', at: Date.now(), events: [{ eventId: 0, type: 'created', numBlocks: 4096, blockSize: 32 }] },
        { backendId: 'trt', at: Date.now(), events: [{ eventId: 1, type: 'stored', parentHash: null, blocks: [{ hash: '18446744073709551557', tokens: [1, 2, 3] }] }, { eventId: 2, type: 'removed', hashes: ['18446744073709551557'] }] },
        { backendId: 'trt', at: Date.now(), events: [] },
      ];
      for (const b of batches) stores[0]!.publishKvEvents(b);
      await waitFor(() => got.length === 3, 'the KV-event batches');
      expect(got).toEqual(batches);
    });

    it('gives every replica its own gatewayId', async () => {
      const { stores } = await replicas(3);
      expect(new Set(stores.map((s) => s.gatewayId)).size).toBe(3);
    });

    it('delivers a prefix observation to every other replica, never back to its publisher', async () => {
      const { stores: [a, b], recs: [ra, rb, rc] } = await replicas(3);
      const obs = prefix('backend-1', [11, 22, 33]);
      a!.publishPrefix(obs);
      await waitFor(() => rb!.prefixes.length > 0 && rc!.prefixes.length > 0, 'B and C to receive A\'s observation');
      expect(rb!.prefixes).toEqual([obs]);
      expect(rc!.prefixes).toEqual([obs]);
      // B's marker is published after A's observation: once A has it, A would have had its own.
      const marker = prefix('backend-2', [44]);
      b!.publishPrefix(marker);
      await waitFor(() => ra!.prefixes.length > 0 && rc!.prefixes.length > 1, 'A and C to receive B\'s marker');
      expect(ra!.prefixes).toEqual([marker]);
      expect(rc!.prefixes).toEqual([obs, marker]);
    });

    it('delivers load observations to every other replica, never back to their publisher', async () => {
      const { stores: [a, b], recs: [ra, rb, rc] } = await replicas(3);
      const load: LoadObservation = { gatewayId: a!.gatewayId, backendId: 'backend-1', inFlight: 7, at: Date.now() };
      a!.publishLoad(load);
      await waitFor(() => rb!.loads.length > 0 && rc!.loads.length > 0, 'B and C to receive A\'s load');
      expect(rb!.loads).toEqual([load]);
      expect(rc!.loads).toEqual([load]);
      const marker: LoadObservation = { gatewayId: b!.gatewayId, backendId: 'backend-1', inFlight: 3, at: Date.now() };
      b!.publishLoad(marker);
      await waitFor(() => ra!.loads.length > 0, 'A to receive B\'s load');
      expect(ra!.loads).toEqual([marker]);
    });

    it('carries observations exactly and in publish order', async () => {
      const { stores: [a], recs: [, rb] } = await replicas(2);
      const t = Date.now();
      const sent = [
        prefix('vllm-0', [0, 2 ** 52 - 1, 4503599627370495, 1], t),
        prefix('vllm-1', [0, 2 ** 52 - 1, 7, 8, 9], t + 1), // shares two leading blocks with the previous chain
        prefix('vllm-0', [0, 2 ** 52 - 1, 7, 8, 9, 10], t + 2.5),
        prefix('lmdeploy-0', [123456789012345], t - 10),
        prefix('vllm-0', [0], t + 3),
      ];
      for (const obs of sent) a!.publishPrefix(obs);
      for (let i = 0; i < 200; i++) a!.publishPrefix(prefix(`b-${i % 7}`, [i, i + 1, i + 2], t + i));
      await waitFor(() => rb!.prefixes.length >= 205, 'B to receive 205 observations');
      expect(rb!.prefixes.slice(0, 5)).toEqual(sent);
      expect(rb!.prefixes.slice(5).map((o) => o.hashes[0])).toEqual([...Array(200).keys()]);
      // Loads are gauges: the last value published per backend is what a peer ends with.
      for (let i = 0; i <= 20; i++) a!.publishLoad({ gatewayId: a!.gatewayId, backendId: `b-${i % 3}`, inFlight: i, at: t + i });
      await waitFor(() => rb!.loads.some((l) => l.inFlight === 20), 'B to receive the last load');
      const last = new Map(rb!.loads.map((l) => [l.backendId, l.inFlight]));
      expect(Object.fromEntries(last)).toEqual({ 'b-0': 18, 'b-1': 19, 'b-2': 20 });
    });

    it('publish returns synchronously and never throws: before start, after close', async () => {
      const [s] = await makeStores(1);
      open.push(s!);
      expect(s!.publishPrefix(prefix('x', [1]))).toBeUndefined();
      expect(s!.publishLoad({ gatewayId: s!.gatewayId, backendId: 'x', inFlight: 1, at: 0 })).toBeUndefined();
      await s!.start(recorder());
      await s!.close();
      expect(() => s!.publishPrefix(prefix('x', [1]))).not.toThrow();
      expect(() => s!.publishLoad({ gatewayId: s!.gatewayId, backendId: 'x', inFlight: 1, at: 0 })).not.toThrow();
    });

    it.runIf(opts.makeUnreachable)('starts, publishes and closes promptly with its backend down, and says it is degraded', async () => {
      const s = await opts.makeUnreachable!();
      open.push(s);
      const t0 = Date.now();
      await s.start(recorder());
      expect(Date.now() - t0).toBeLessThan(3000);
      const p0 = performance.now();
      for (let i = 0; i < 1000; i++) expect(s.publishPrefix(prefix('x', [i, i + 1]))).toBeUndefined();
      expect(s.publishLoad({ gatewayId: s.gatewayId, backendId: 'x', inFlight: 1, at: 0 })).toBeUndefined();
      expect(performance.now() - p0).toBeLessThan(1000); // nothing waits on the network
      expect(s.status()).toBe('degraded');
      expect(s.stats().published).toBe(0);
      await s.close();
    });

    it('close() is idempotent and stops delivery', async () => {
      const { stores: [a, b], recs: [, rb] } = await replicas(2);
      await Promise.all([b!.close(), b!.close()]);
      await b!.close();
      expect(b!.status()).toBe('degraded');
      a!.publishPrefix(prefix('x', [1]));
      await a!.close();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(rb!.prefixes).toEqual([]);
    });

    it('counts what it published and applied', async () => {
      const { stores: [a, b], recs: [, rb] } = await replicas(2);
      for (let i = 0; i < 10; i++) a!.publishPrefix(prefix('x', [i]));
      a!.publishLoad({ gatewayId: a!.gatewayId, backendId: 'x', inFlight: 1, at: Date.now() });
      await waitFor(() => rb!.prefixes.length === 10 && rb!.loads.length === 1, 'B to receive 11 observations');
      await waitFor(() => a!.stats().published === 11, 'A to count 11 published');
      expect(b!.stats()).toMatchObject({ applied: 11, dropped: 0, buffered: 0 });
      expect(a!.stats()).toMatchObject({ published: 11, applied: 0, dropped: 0, buffered: 0 });
    });

    it('drops and counts an invalid observation on its own; the valid ones around it arrive', async () => {
      const { stores: [a], recs: [, rb] } = await replicas(2);
      a!.publishPrefix(prefix('x', [1]));
      a!.publishPrefix(prefix('x', [2, Number.NaN]));
      a!.publishPrefix(prefix('x', [2, 1.5]));
      a!.publishPrefix(prefix('x', [2, -1]));
      a!.publishPrefix(prefix('x', [2], Number.NaN));
      a!.publishPrefix({ backendId: 'x', hashes: 'nope', at: 0 } as never);
      a!.publishLoad({ gatewayId: a!.gatewayId, backendId: 'x', inFlight: Number.POSITIVE_INFINITY, at: 0 });
      a!.publishPrefix(prefix('x', [3]));
      await waitFor(() => rb!.prefixes.length === 2, 'the two valid observations');
      expect(rb!.prefixes.map((o) => o.hashes)).toEqual([[1], [3]]);
      expect(a!.stats().dropped).toBe(6);
    });

    it('keeps delivering when a consumer throws', async () => {
      const stores = await makeStores(2);
      open.push(...stores);
      const [a, b] = stores;
      const seen: number[] = [];
      await a!.start(recorder());
      await b!.start({ onPrefix: (obs) => { seen.push(obs.hashes[0]!); throw new Error('consumer bug'); }, onLoad: () => {} });
      a!.publishPrefix(prefix('x', [1]));
      a!.publishPrefix(prefix('x', [2]));
      await waitFor(() => seen.length === 2, 'both observations despite the throwing consumer');
      a!.publishPrefix(prefix('x', [3]));
      await waitFor(() => seen.length === 3, 'a later observation');
      expect(seen).toEqual([1, 2, 3]);
    });
  });
}
