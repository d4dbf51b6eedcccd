/**
 * Interop with real libzmq, through pyzmq, in both directions: the gateway's SUB and DEALER
 * against libzmq's PUB and ROUTER framed as vLLM frames them, and libzmq's SUB and DEALER against
 * the emulated engine's PUB and ROUTER. Heartbeats run both ways meanwhile (libzmq PINGs ours,
 * ours PING libzmq), so a missing PONG would show as a reconnect.
 *
 * Needs a python3 with pyzmq (Debian: `apt-get install python3-zmq`, libzmq 4.3.4); skipped without.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { VllmKvEventPublisher } from '../../../bench/sim/kv-events/vllm-publisher.js';
import { VllmKvEventSubscriber, type DeliveredBatch } from '../../../core/kv-events/vllm-subscriber.js';
import { CAPTURED_VLLM_PAYLOAD } from './vectors.js';

const PYTHON = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import zmq'], { stdio: 'ignore' }).status === 0);

/**
 * A stand-in for vLLM's ZmqEventPublisher on libzmq: PUB `[topic, seq, payload]`, and a ROUTER
 * answering `[id, "", start]` with `[id, "", seq, payload]` per buffered batch and `[id, "", END, ""]`
 * (the layout before #45177). Driven by stdin lines: "P <hex>" publishes, "D <hex>" buffers
 * without sending (a lost message).
 */
const LIBZMQ_PUBLISHER = `
import os, sys, zmq, json
ctx = zmq.Context()
pub = ctx.socket(zmq.PUB); pub.bind("tcp://127.0.0.1:0")
router = ctx.socket(zmq.ROUTER); router.bind("tcp://127.0.0.1:0")
print(json.dumps({"pub": pub.getsockopt(zmq.LAST_ENDPOINT).decode(), "replay": router.getsockopt(zmq.LAST_ENDPOINT).decode(), "zmq": zmq.zmq_version()}), flush=True)
topic = sys.argv[1].encode(); seq = 0; buf = []; pending = b""
poller = zmq.Poller(); poller.register(router, zmq.POLLIN); poller.register(sys.stdin, zmq.POLLIN)
while True:
    for sock, _ in poller.poll():
        if sock is router:
            frames = router.recv_multipart()
            if len(frames) != 3: continue
            start = int.from_bytes(frames[2], "big")
            for s, p in buf:
                if s >= start: router.send_multipart([frames[0], b"", s.to_bytes(8, "big"), p])
            router.send_multipart([frames[0], b"", (-1).to_bytes(8, "big", signed=True), b""])
        else:
            chunk = os.read(0, 65536)
            if not chunk: sys.exit(0)
            pending += chunk
            while b"\\n" in pending:
                line, pending = pending.split(b"\\n", 1)
                op, data = line.split()
                payload = bytes.fromhex(data.decode())
                if op == b"P": pub.send_multipart([topic, seq.to_bytes(8, "big"), payload])
                buf.append((seq, payload)); seq += 1
                print(json.dumps({"published": seq - 1}), flush=True)
`;

/** libzmq's SUB (heartbeating, its disconnects monitored) and DEALER; prints what arrives as hex. */
const LIBZMQ_CONSUMER = `
import sys, zmq, json, time
from zmq.utils.monitor import recv_monitor_message
ctx = zmq.Context()
sub = ctx.socket(zmq.SUB)
monitor = sub.get_monitor_socket(zmq.EVENT_DISCONNECTED)
sub.setsockopt(zmq.HEARTBEAT_IVL, 100); sub.setsockopt(zmq.HEARTBEAT_TIMEOUT, 300)
sub.setsockopt(zmq.SUBSCRIBE, sys.argv[3].encode()); sub.connect(sys.argv[1])
dealer = ctx.socket(zmq.DEALER); dealer.connect(sys.argv[2])
print(json.dumps({"ready": True}), flush=True)
for _ in range(int(sys.argv[4])):
    if not sub.poll(10000): sys.exit("no live message")
    print(json.dumps({"live": [f.hex() for f in sub.recv_multipart()]}), flush=True)
time.sleep(1.0)  # heartbeats flow; a connection without PONGs would be dropped by now
dealer.send_multipart([b"", (0).to_bytes(8, "big")])
while True:
    if not dealer.poll(10000): sys.exit("no replay END")
    frames = dealer.recv_multipart()
    print(json.dumps({"replay": [f.hex() for f in frames]}), flush=True)
    if (-1).to_bytes(8, "big", signed=True) in frames: break
disconnects = 0
while monitor.poll(0):
    recv_monitor_message(monitor); disconnects += 1
print(json.dumps({"disconnects": disconnects}), flush=True)
`;

const procs: ChildProcessWithoutNullStreams[] = [];
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  for (const p of procs.splice(0)) p.kill();
});

function python(script: string, args: string[]) {
  const proc = spawn(PYTHON ?? 'python3', ['-u', '-c', script, ...args]);
  procs.push(proc);
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  createInterface({ input: proc.stdout }).on('line', (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
  const next = async (key: string, ms = 10_000) => {
    await waitFor(() => lines.some((l) => key in l), `python's "${key}" (stderr: ${stderr})`, ms);
    const i = lines.findIndex((l) => key in l);
    return lines.splice(i, 1)[0];
  };
  return { proc, next, send: (line: string) => proc.stdin.write(`${line}\n`) };
}

async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const hex = (b: Buffer) => b.toString('hex');

describe.skipIf(PYTHON === undefined)('interop with libzmq (pyzmq)', () => {
  it('our SUB and DEALER follow a libzmq PUB and ROUTER framed as vLLM, a gap filled by replay', async () => {
    const py = python(LIBZMQ_PUBLISHER, ['kv-events']);
    const ends = await py.next('pub');
    const batches: DeliveredBatch[] = [];
    const resyncs: string[] = [];
    const sub = new VllmKvEventSubscriber({
      endpoint: String(ends.pub), replayEndpoint: String(ends.replay), topic: 'kv-events',
      socket: { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 400 },
      onBatch: (b) => batches.push(b),
      onResync: (r) => resyncs.push(r),
    });
    cleanups.push(() => sub.close());
    await waitFor(() => sub.status.connected && sub.status.replayConnected && sub.status.mode === 'live', 'connections');
    await new Promise((r) => setTimeout(r, 200)); // the subscription reaches libzmq's PUB
    py.send(`P ${hex(CAPTURED_VLLM_PAYLOAD)}`);
    await waitFor(() => batches.length === 1, 'the first batch');
    py.send(`D ${hex(CAPTURED_VLLM_PAYLOAD)}`); // seq 1, lost
    py.send(`P ${hex(CAPTURED_VLLM_PAYLOAD)}`);
    await waitFor(() => batches.length === 3, 'the gap filled');
    expect(batches.map((b) => [Number(b.seq), b.replayed])).toEqual([[0, false], [1, true], [2, true]]);
    expect(batches[1].events[0]).toMatchObject({ type: 'stored', parentHash: 15722805041033817089n });
    expect(resyncs).toEqual([]);
    await new Promise((r) => setTimeout(r, 1000)); // heartbeats both ways
    // Our PINGs every 100 ms, unanswered for 400 ms, would have closed and reopened the connection.
    expect(sub.status).toMatchObject({ connected: true, connects: 1, gaps: 1, resyncs: 0 });
    expect(sub.status.lastResync).toBe(null);
  });

  it('libzmq SUB and DEALER follow the emulated publisher, heartbeating, and read its replay', async () => {
    const pub = await VllmKvEventPublisher.start({ topic: 'kv', replayEndpoint: 'tcp://127.0.0.1:0', release: '0.28' });
    cleanups.push(() => pub.close());
    const py = python(LIBZMQ_CONSUMER, [pub.endpoint, pub.replayEndpoint ?? '', 'kv', '2']);
    await py.next('ready');
    await pub.waitForSubscriber(10_000);
    pub.publish([{ type: 'cleared' }]);
    pub.publish([{ type: 'removed', hashes: [2n ** 64n - 1n] }]);
    const live = [await py.next('live'), await py.next('live')].map((l) => l.live as string[]);
    expect(live.map((f) => f.slice(0, 2))).toEqual([[hex(Buffer.from('kv')), '0000000000000000'], [hex(Buffer.from('kv')), '0000000000000001']]);
    const replay = [await py.next('replay', 15_000), await py.next('replay'), await py.next('replay')].map((l) => l.replay as string[]);
    expect(replay.map((f) => f.slice(0, 3))).toEqual([
      ['', hex(Buffer.from('kv')), '0000000000000000'], ['', hex(Buffer.from('kv')), '0000000000000001'], ['', '', 'ffffffffffffffff'],
    ]);
    expect(replay[1][3]).toBe(live[1][2]);
    // libzmq PINGed the PUB for a second with a 300 ms timeout, and never dropped the connection.
    expect((await py.next('disconnects')).disconnects).toBe(0);
  });
});
