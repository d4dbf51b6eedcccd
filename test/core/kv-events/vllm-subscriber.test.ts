import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { VllmKvEventPublisher, type VllmKvPublisherOptions } from '../../../bench/sim/kv-events/vllm-publisher.js';
import type { KvEvent } from '../../../core/kv-events/vllm-events.js';
import {
  VllmKvEventSubscriber, type DeliveredBatch, type ResyncReason, type VllmSubscriberOptions,
} from '../../../core/kv-events/vllm-subscriber.js';
import { RouterSocket } from '../../../core/kv-events/zmtp-server.js';
import { encodeVllmBatch, vllmKvLayout } from '../../../bench/sim/kv-events/vllm-layouts.js';
import { decodeSeq, encodeSeq } from '../../../core/kv-events/vllm-replay.js';
import { cleanups, closeAfterEach, waitFor } from './helpers.js';

closeAfterEach();

const TOPIC = 'kv@pod-0@model';
const stored = (hash: bigint): KvEvent => ({ type: 'stored', parentHash: null, blocks: [{ hash, tokens: [1, 2] }] });

async function publisher(opts: VllmKvPublisherOptions = {}): Promise<VllmKvEventPublisher> {
  const p = await VllmKvEventPublisher.start({ topic: TOPIC, replayEndpoint: 'tcp://127.0.0.1:0', ...opts });
  cleanups.push(() => p.close());
  return p;
}

/** A subscriber whose deliveries and resyncs are recorded in order. */
function follow(endpoint: string, replayEndpoint: string | null, opts: Partial<VllmSubscriberOptions> = {}) {
  const log: Array<{ seq: number; replayed: boolean } | { resync: ResyncReason }> = [];
  const batches: DeliveredBatch[] = [];
  const sub = new VllmKvEventSubscriber({
    endpoint, replayEndpoint, topic: TOPIC,
    socket: { reconnectMinMs: 20, reconnectMaxMs: 100 },
    onBatch: (b) => {
      batches.push(b);
      log.push({ seq: Number(b.seq), replayed: b.replayed });
    },
    onResync: (reason) => log.push({ resync: reason }),
    ...opts,
  });
  cleanups.push(() => sub.close());
  const seqs = () => batches.map((b) => Number(b.seq));
  return { sub, log, batches, seqs };
}

const settle = () => new Promise((r) => setTimeout(r, 150));

describe('VllmKvEventSubscriber', () => {
  it('learns the replay buffer on start, then follows live batches in order', async () => {
    const pub = await publisher();
    for (let i = 0; i < 3; i++) pub.publish([stored(BigInt(i))]);
    const f = follow(pub.endpoint, pub.replayEndpoint);
    await waitFor(() => f.batches.length === 3, 'the catch-up');
    await pub.waitForSubscriber();
    for (let i = 3; i < 6; i++) pub.publish([stored(BigInt(i))]);
    await waitFor(() => f.batches.length === 6, 'live batches');
    expect(f.log).toEqual([0, 1, 2].map((seq) => ({ seq, replayed: true })).concat([3, 4, 5].map((seq) => ({ seq, replayed: false }))));
    expect(f.batches[5].events).toMatchObject([stored(5n)]);
    expect(f.sub.status).toMatchObject({ connected: true, lastSeq: 5, gaps: 0, resyncs: 0, mode: 'live', batches: 6, replayedBatches: 3 });
  });

  it('fills a gap from the replay endpoint, without a resync', async () => {
    const pub = await publisher();
    const f = follow(pub.endpoint, pub.replayEndpoint);
    await pub.waitForSubscriber();
    pub.publish([stored(0n)]);
    await waitFor(() => f.batches.length === 1, 'first batch');
    pub.publish([stored(1n)], { drop: true });
    pub.publish([stored(2n)], { drop: true });
    pub.publish([stored(3n)]);
    pub.publish([stored(4n)]);
    await waitFor(() => f.batches.length === 5, 'the gap filled');
    expect(f.seqs()).toEqual([0, 1, 2, 3, 4]);
    expect(f.log.slice(0, 4)).toEqual([
      { seq: 0, replayed: false }, { seq: 1, replayed: true }, { seq: 2, replayed: true }, { seq: 3, replayed: true },
    ]);
    expect(f.sub.status).toMatchObject({ gaps: 1, resyncs: 0 });
    expect(f.sub.status.replays).toBeGreaterThanOrEqual(1);
  });

  it('without a replay endpoint, signals a resync on a gap and carries on from there', async () => {
    const pub = await publisher({ replayEndpoint: null });
    const f = follow(pub.endpoint, null);
    await pub.waitForSubscriber();
    pub.publish([stored(0n)]);
    pub.publish([stored(1n)], { drop: true });
    pub.publish([stored(2n)]);
    await waitFor(() => f.batches.length === 2, 'two batches');
    expect(f.log).toEqual([{ seq: 0, replayed: false }, { resync: 'gap' }, { seq: 2, replayed: false }]);
    expect(f.sub.status.lastResync).toMatchObject({ reason: 'gap' });
  });

  it('resyncs when the replay buffer no longer covers the gap, and relearns what it holds', async () => {
    const pub = await publisher({ bufferSteps: 2 });
    const f = follow(pub.endpoint, pub.replayEndpoint);
    await pub.waitForSubscriber();
    pub.publish([stored(0n)]);
    await waitFor(() => f.batches.length === 1, 'first batch');
    for (let i = 1; i <= 4; i++) pub.publish([stored(BigInt(i))], { drop: true });
    pub.publish([stored(5n)]);
    await waitFor(() => f.seqs().at(-1) === 5, 'recovery');
    expect(f.log).toEqual([{ seq: 0, replayed: false }, { resync: 'gap' }, { seq: 4, replayed: true }, { seq: 5, replayed: true }]);
  });

  it('after the publisher restarts, resyncs and follows the new process from seq 0', async () => {
    const first = await publisher();
    const endpoints = { endpoint: first.endpoint, replayEndpoint: first.replayEndpoint };
    const f = follow(first.endpoint, first.replayEndpoint);
    await first.waitForSubscriber();
    for (let i = 0; i < 3; i++) first.publish([stored(BigInt(i))]);
    await waitFor(() => f.batches.length === 3, 'three batches');
    await first.close();
    await waitFor(() => !f.sub.status.connected, 'the loss');
    expect(f.sub.status.lostSince).not.toBeNull();

    const second = await publisher(endpoints);
    second.publish([stored(100n)]);
    await waitFor(() => f.log.some((e) => 'resync' in e), 'the resync', 10_000);
    await waitFor(() => f.sub.status.connected && f.sub.status.mode === 'live', 'reconnection');
    await second.waitForSubscriber();
    second.publish([stored(101n)]);
    await waitFor(() => f.seqs().at(-1) === 1 && f.batches.at(-1)?.replayed === false, 'the new process');
    const after = f.log.slice(3);
    expect(after[0]).toEqual({ resync: 'publisher-restart' });
    expect(f.seqs().slice(3)).toEqual([0, 1]);
    expect(f.batches.slice(3).map((b) => b.events)).toMatchObject([[stored(100n)], [stored(101n)]]);
    expect(f.sub.status.resyncs).toBe(1);
  });

  it('without a replay endpoint, tells a restart by the seq going back', async () => {
    const first = await publisher({ replayEndpoint: null });
    const f = follow(first.endpoint, null);
    await first.waitForSubscriber();
    for (let i = 0; i < 3; i++) first.publish([stored(BigInt(i))]);
    await waitFor(() => f.batches.length === 3, 'three batches');
    await first.close();
    const second = await publisher({ replayEndpoint: null, endpoint: first.endpoint });
    await second.waitForSubscriber(10_000);
    second.publish([stored(100n)]);
    await waitFor(() => f.batches.length === 4, 'the new process');
    expect(f.log.slice(3)).toEqual([{ resync: 'publisher-restart' }, { seq: 0, replayed: false }]);
  });

  it('after a lost connection to the same publisher, proves continuity by replay and resyncs nothing', async () => {
    const pub = await publisher();
    const pubProxy = await proxy(pub.endpoint);
    const replayProxy = await proxy(pub.replayEndpoint ?? '');
    const f = follow(pubProxy.endpoint, replayProxy.endpoint);
    await pub.waitForSubscriber();
    pub.publish([stored(0n)]);
    await waitFor(() => f.batches.length === 1, 'first batch');
    pubProxy.cut();
    replayProxy.cut();
    await waitFor(() => pub.subscribers === 0, 'the cut');
    pub.publish([stored(1n)]); // lost: nobody subscribed
    await pub.waitForSubscriber(10_000);
    await waitFor(() => f.batches.length === 2, 'the replayed batch');
    pub.publish([stored(2n)]);
    await waitFor(() => f.batches.length === 3, 'live again');
    expect(f.log.every((e) => !('resync' in e))).toBe(true);
    expect(f.seqs()).toEqual([0, 1, 2]);
    expect(f.sub.status.replays).toBeGreaterThanOrEqual(2); // the catch-up, and the proof after the cut
  });

  it('resyncs on a batch it cannot decode, and on a replay that never ends', async () => {
    const pub = await publisher();
    const f = follow(pub.endpoint, pub.replayEndpoint);
    await pub.waitForSubscriber();
    pub.publish([stored(0n)]);
    pub.publishPayload(Buffer.from([0xc1]));
    pub.publish([stored(2n)]);
    await waitFor(() => f.batches.length === 2, 'two batches');
    expect(f.log).toEqual([{ seq: 0, replayed: false }, { resync: 'decode-error' }, { seq: 2, replayed: false }]);
    expect(f.sub.status.decodeErrors).toBe(1);

    const mute = new RouterSocket(); // accepts replay requests, never answers
    const muteEndpoint = await mute.bind('tcp://127.0.0.1:0');
    cleanups.push(() => mute.close());
    const g = follow(pub.endpoint, muteEndpoint, { replayTimeoutMs: 200, catchUpOnStart: false });
    await waitFor(() => g.sub.status.connected && g.sub.status.replayConnected && pub.subscribers === 2, 'connections');
    await settle();
    pub.publish([stored(3n)]);
    await waitFor(() => g.batches.length === 1, 'a first batch');
    pub.publish([stored(4n)], { drop: true });
    pub.publish([stored(5n)]);
    await waitFor(() => g.batches.length === 2, 'the batch after the failed replay');
    expect(g.log).toEqual([{ seq: 3, replayed: false }, { resync: 'replay-failed' }, { seq: 5, replayed: false }]);
  });

  it('asks again when a replay reply has a hole (ROUTER HWM), and resyncs when asking makes no progress', async () => {
    for (const alwaysHoled of [false, true]) {
      const pub = await publisher({ replayEndpoint: null });
      const payloads = [0, 1, 2, 3, 4].map((i) => encodeVllmBatch(vllmKvLayout('0.19'), { ts: i, dpRank: 0, events: [stored(BigInt(i))] }));
      // A replay ROUTER that loses seq 2 from its first answer (or from every answer).
      const router = new RouterSocket();
      const replayEndpoint = await router.bind('tcp://127.0.0.1:0');
      cleanups.push(() => router.close());
      let round = 0;
      router.onMessage((id, frames) => {
        const start = Number(decodeSeq(frames[1]));
        round++;
        for (let seq = start; seq < payloads.length; seq++) {
          if (seq === 2 && (alwaysHoled || round === 1)) continue;
          router.send(id, [Buffer.alloc(0), encodeSeq(BigInt(seq)), payloads[seq]]);
        }
        router.send(id, [Buffer.alloc(0), encodeSeq(-1n), Buffer.alloc(0)]);
      });
      const f = follow(pub.endpoint, replayEndpoint, { catchUpOnStart: false });
      await waitFor(() => f.sub.status.replayConnected, 'the replay connection');
      await pub.waitForSubscriber();
      pub.publishPayload(payloads[0]);
      await waitFor(() => f.batches.length === 1, 'first batch');
      for (const i of [1, 2, 3]) pub.publishPayload(payloads[i], { drop: true });
      pub.publishPayload(payloads[4]);
      await waitFor(() => f.seqs().at(-1) === 4, 'recovery');
      if (!alwaysHoled) {
        expect(f.log).toEqual([{ seq: 0, replayed: false }, ...[1, 2, 3, 4].map((seq) => ({ seq, replayed: true }))]);
        expect(f.sub.status.replays).toBe(2);
      } else {
        expect(f.log).toEqual([{ seq: 0, replayed: false }, { seq: 1, replayed: true }, { resync: 'replay-failed' }, { seq: 4, replayed: false }]);
      }
      for (const c of cleanups.splice(0).reverse()) await c();
    }
  });

  it('survives consumers that throw, counting the errors', async () => {
    const pub = await publisher({ replayEndpoint: null });
    let calls = 0;
    const f = follow(pub.endpoint, null, { onBatch: () => { calls++; throw new Error('consumer bug'); } });
    await pub.waitForSubscriber();
    pub.publish([stored(0n)]);
    pub.publish([stored(1n)]);
    await waitFor(() => calls === 2, 'both batches');
    expect(f.sub.status).toMatchObject({ connected: true, callbackErrors: 2, lastSeq: 1 });
  });
});

/** A TCP relay in front of an endpoint, whose connections can be cut to fake a network loss. */
async function proxy(target: string): Promise<{ endpoint: string; cut(): void }> {
  const port = Number(target.slice(target.lastIndexOf(':') + 1));
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => {
    for (const s of sockets) s.destroy();
    server.close(() => r());
  }));
  return {
    endpoint: `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cut: () => { for (const s of sockets) s.destroy(); },
  };
}
