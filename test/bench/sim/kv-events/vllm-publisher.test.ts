import { describe, expect, it } from 'vitest';
import { encodeMsgspec, F64, OrderedMap } from '../../../../bench/sim/kv-events/msgspec-encode.js';
import { encodeVllmBatch, vllmKvLayout } from '../../../../bench/sim/kv-events/vllm-layouts.js';
import { VllmKvEventPublisher } from '../../../../bench/sim/kv-events/vllm-publisher.js';
import { decodeMsgpack } from '../../../../core/kv-events/msgpack-decode.js';
import { decodeVllmEventBatch, type KvEvent } from '../../../../core/kv-events/vllm-events.js';
import { encodeSeq, replayRequest } from '../../../../core/kv-events/vllm-replay.js';
import { DealerSocket, SubSocket } from '../../../../core/kv-events/zmtp-client.js';
import { CAPTURED_VLLM_PAYLOAD } from '../../../core/kv-events/vectors.js';
import { cleanups, closeAfterEach, waitFor } from '../../../core/kv-events/helpers.js';

closeAfterEach();

const storedEvent: KvEvent = { type: 'stored', parentHash: null, blocks: [{ hash: 1n, tokens: [1, 2] }, { hash: 2n, tokens: [3, 4] }] };

describe('msgspec-exact encoding', () => {
  it('writes ints in their narrowest unsigned or signed form, floats always as float64', () => {
    const hex = (v: Parameters<typeof encodeMsgspec>[0]) => encodeMsgspec(v).toString('hex');
    expect(hex(127)).toBe('7f');
    expect(hex(128)).toBe('cc80');
    expect(hex(65536)).toBe('ce00010000');
    expect(hex(2n ** 64n - 1n)).toBe('cfffffffffffffffff');
    expect(hex(-33)).toBe('d0df');
    expect(hex(new F64(1))).toBe('cb3ff0000000000000');
    expect(hex('x'.repeat(32))).toBe(`d920${'78'.repeat(32)}`);
    expect(hex(Buffer.from([1]))).toBe('c40101');
  });

  it('sizes a struct map header for all its fields, as msgspec patches only the count', () => {
    const entries = Array.from({ length: 3 }, (_, i) => [`f${i}`, i] as const);
    expect(encodeMsgspec(new OrderedMap(entries)).subarray(0, 1).toString('hex')).toBe('83');
    expect(encodeMsgspec(new OrderedMap(entries, 16)).subarray(0, 3).toString('hex')).toBe('de0003');
  });
});

describe('vLLM KV-event layouts', () => {
  it('re-encodes the payload captured from a running vLLM byte for byte (layout "0.10")', () => {
    const decoded = decodeVllmEventBatch(CAPTURED_VLLM_PAYLOAD);
    const again = encodeVllmBatch(vllmKvLayout('0.10'), { ts: decoded.ts, events: decoded.events, dpRank: 0 });
    expect(again.toString('hex')).toBe(CAPTURED_VLLM_PAYLOAD.toString('hex'));
  });

  it('writes each release at its full length, defaults included, and maps without them', () => {
    const shape = (release: string) => decodeMsgpack(encodeVllmBatch(vllmKvLayout(release), {
      ts: 1, dpRank: 2, events: [storedEvent, { type: 'removed', hashes: [1n] }, { type: 'cleared' }],
    })) as unknown[];
    const v090 = shape('0.9.0');
    expect(v090).toHaveLength(2);
    expect((v090[1] as unknown[][]).map((e) => e.length)).toEqual([6, 2, 1]);
    expect((shape('0.10')[1] as unknown[][]).map((e) => e.length)).toEqual([7, 3, 1]);
    const v019 = shape('0.19');
    expect(v019[2]).toBe(2);
    expect((v019[1] as unknown[][])[0]).toEqual(['BlockStored', [1, 2], null, [1, 2, 3, 4], 2, null, 'GPU', null, [null, null], 0, 'full_attention', null]);
    expect((v019[1] as unknown[][])[1]).toEqual(['BlockRemoved', [1], 'GPU', 0]);
    const v028 = shape('0.28')[1] as Array<Map<string, unknown>>;
    expect([...v028[0].keys()]).toEqual(['type', 'block_hashes', 'parent_block_hash', 'token_ids', 'block_size', 'lora_id',
      'medium', 'lora_name', 'extra_keys', 'group_idx', 'kv_cache_spec_kind']);
    expect([...v028[1].entries()]).toEqual([['type', 'BlockRemoved'], ['block_hashes', [1]], ['medium', 'GPU'], ['group_idx', 0]]);
    expect([...v028[2].entries()]).toEqual([['type', 'AllBlocksCleared']]);
    for (const release of ['0.9.0', '0.10', '0.19', '0.28']) {
      const payload = encodeVllmBatch(vllmKvLayout(release), { ts: 1, dpRank: 0, events: [storedEvent] });
      expect(decodeVllmEventBatch(payload).events[0]).toMatchObject({ blocks: storedEvent.type === 'stored' ? storedEvent.blocks : [] });
    }
    expect(() => vllmKvLayout('9.9')).toThrow(/no vLLM KV-event layout/);
  });
});

describe('VllmKvEventPublisher', () => {
  async function start(release: string, bufferSteps = 10_000) {
    const publisher = await VllmKvEventPublisher.start({
      release, topic: 'kv@pod', replayEndpoint: 'tcp://127.0.0.1:0', bufferSteps, now: () => 1.25,
    });
    cleanups.push(() => publisher.close());
    return publisher;
  }

  it('publishes [topic, seq, payload] with seqs from 0, a dropped batch taking its seq', async () => {
    const publisher = await start('0.19');
    const got: Buffer[][] = [];
    const sub = new SubSocket(publisher.endpoint, {}, { onMessage: (f) => got.push(f) });
    cleanups.push(() => sub.close());
    sub.subscribe('kv@pod');
    await publisher.waitForSubscriber();
    expect(publisher.publish([storedEvent])).toBe(0n);
    expect(publisher.publish([{ type: 'cleared' }], { drop: true })).toBe(1n);
    publisher.publish([{ type: 'cleared' }]);
    await waitFor(() => got.length === 2, 'two messages');
    expect(got.map((m) => [m[0].toString(), m[1].toString('hex')])).toEqual([
      ['kv@pod', '0000000000000000'], ['kv@pod', '0000000000000002'],
    ]);
    expect(decodeVllmEventBatch(got[0][2]).ts).toBe(1.25);
  });

  async function replay(publisher: VllmKvEventPublisher, from: bigint): Promise<Buffer[][]> {
    const replies: Buffer[][] = [];
    const dealer = new DealerSocket(publisher.replayEndpoint ?? '', {}, { onMessage: (f) => replies.push(f) });
    cleanups.push(() => dealer.close());
    await waitFor(() => dealer.connected, 'the replay connection');
    dealer.send(replayRequest(from));
    await waitFor(() => replies.length > 0 && replies.at(-1)?.some((f) => f.equals(encodeSeq(-1n))) === true, 'the end marker');
    return replies;
  }

  it('answers a replay as vLLM before v0.26: ["", seq, payload] from start_seq, then ["", END, ""]', async () => {
    const publisher = await start('0.19', 3);
    for (let i = 0; i < 5; i++) publisher.publish([{ type: 'cleared' }]);
    const all = await replay(publisher, 0n);
    expect(all.map((m) => m.map((f) => f.toString('hex')).slice(0, 2))).toEqual([
      ['', '0000000000000002'], ['', '0000000000000003'], ['', '0000000000000004'], ['', 'ffffffffffffffff'],
    ]);
    expect(all.at(-1)).toHaveLength(3);
    expect(all.at(-1)?.[2]).toHaveLength(0);
    const some = await replay(publisher, 4n);
    expect(some.map((m) => m[1].toString('hex'))).toEqual(['0000000000000004', 'ffffffffffffffff']);
  });

  it('answers as v0.26 on: ["", topic, seq, payload], then ["", "", END, ""]', async () => {
    const publisher = await start('0.28');
    publisher.publish([storedEvent]);
    const replies = await replay(publisher, 0n);
    expect(replies.map((m) => m.map((f) => (f.length === 8 ? f.toString('hex') : f.toString())).slice(0, 3))).toEqual([
      ['', 'kv@pod', '0000000000000000'], ['', '', 'ffffffffffffffff'],
    ]);
    expect(replies[1]).toHaveLength(4);
    expect(publisher.replaysServed).toBe(1);
  });
});
