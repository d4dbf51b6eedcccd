/**
 * Dynamo's decode load, estimated from what a gateway sees. Dynamo's router keeps, per worker, the
 * KV blocks of the requests it routed there and has not seen finish (its active sequences, each
 * block counted once however many of them share it), adding a request when it routes it and
 * removing it on completion (`ai-dynamo/dynamo: docs/router/kv_cache_routing.md`, "Active
 * Decoding Blocks").
 *
 * The pipeline has no completion hook, but each candidate's `signals.inFlight` is the number of
 * this gateway's requests still running there. So every placement is recorded here at pick time,
 * and the active set is taken to be the last `inFlight` placements on that backend — exact when
 * requests finish in the order they were sent, close when they do not. The window slides as the
 * count moves, each placement's blocks entering or leaving a reference count, so a decision costs
 * the blocks of the placements that crossed the window's edge, not of the whole window. When more
 * requests are in flight than were recorded (another replica's, or a run's start), each extra one
 * counts as the mean recorded footprint.
 *
 * A placement's blocks: keys for the blocks two requests may share (engine block keys when the
 * backend's KV events are live, else the prefix key's byte chunks, several blocks each) plus the
 * blocks unique to it (the prompt's tail). Output blocks are not counted: Dynamo grows a sequence
 * as it decodes, which a router that does not read the stream cannot see.
 */

export interface Placement {
  /** Keys of the shareable blocks (block keys or byte-chunk hashes). */
  keys: readonly number[];
  /** Blocks each key stands for (1 for engine block keys). */
  blocksPerKey: number;
  /** Blocks no other request can share (the prompt's tail past its last key). */
  tailBlocks: number;
}

function footprint(p: Placement): number {
  return p.keys.length * p.blocksPerKey + p.tailBlocks;
}

class BackendWindow {
  private items: Placement[] = [];
  /** The window is items[lo..]; items before `first` are forgotten. */
  private first = 0;
  private lo = 0;
  private readonly refs = new Map<number, number>();
  private keyBlocks = 0;
  private tailBlocks = 0;
  private footprints = 0;

  constructor(private readonly maxPlacements: number) {}

  place(p: Placement): void {
    this.items.push(p);
    this.footprints += footprint(p);
    this.enter(p);
    if (this.items.length - this.first > this.maxPlacements) {
      const old = this.items[this.first];
      if (this.lo === this.first) {
        this.leave(old);
        this.lo++;
      }
      this.footprints -= footprint(old);
      this.first++;
      if (this.first >= this.maxPlacements) {
        this.items = this.items.slice(this.first);
        this.lo -= this.first;
        this.first = 0;
      }
    }
  }

  /** Distinct blocks of the last `inFlight` placements. */
  active(inFlight: number): number {
    const n = this.items.length;
    const target = Math.max(this.first, n - Math.max(0, Math.floor(inFlight)));
    while (this.lo < target) this.leave(this.items[this.lo++]);
    while (this.lo > target) this.enter(this.items[--this.lo]);
    const recorded = n - this.first;
    const extra = Math.max(0, inFlight - recorded);
    const mean = recorded > 0 ? this.footprints / recorded : 0;
    return this.keyBlocks + this.tailBlocks + extra * mean;
  }

  private enter(p: Placement): void {
    for (const k of p.keys) {
      const c = this.refs.get(k) ?? 0;
      if (c === 0) this.keyBlocks += p.blocksPerKey;
      this.refs.set(k, c + 1);
    }
    this.tailBlocks += p.tailBlocks;
  }

  private leave(p: Placement): void {
    for (const k of p.keys) {
      const c = this.refs.get(k) ?? 0;
      if (c <= 1) {
        this.refs.delete(k);
        this.keyBlocks = Math.max(0, this.keyBlocks - p.blocksPerKey);
      } else this.refs.set(k, c - 1);
    }
    this.tailBlocks -= p.tailBlocks;
  }
}

/** Every backend's recorded placements (one gateway's view, as one Dynamo router's). */
export class ActiveBlocks {
  private readonly windows = new Map<string, BackendWindow>();

  constructor(private readonly maxPlacements = 4096) {}

  place(backendId: string, p: Placement): void {
    this.of(backendId).place(p);
  }

  /** The backend's active (decode) blocks, for `inFlight` requests running there. */
  active(backendId: string, inFlight: number): number {
    return this.of(backendId).active(inFlight);
  }

  private of(id: string): BackendWindow {
    let w = this.windows.get(id);
    if (!w) {
      w = new BackendWindow(this.maxPlacements);
      this.windows.set(id, w);
    }
    return w;
  }
}
