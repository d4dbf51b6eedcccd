/**
 * Other gateway replicas' in-flight counts per backend, from the state store. A gauge per
 * (replica, backend); values older than `maxAgeMs` are ignored, so a replica that died stops
 * counting after a few seconds.
 */
import type { EngineReading, LoadObservation } from '../state/types.js';

/** What the routes need of other replicas: their requests in flight, and engine readings shared by the one replica that reads a drain-on-read endpoint. */
export interface RemoteLoadView {
  inFlight(backendId: string): number;
  engine(backendId: string): EngineReading | undefined;
}

export const NO_REMOTE_LOAD: RemoteLoadView = { inFlight: () => 0, engine: () => undefined };

export class RemoteLoad implements RemoteLoadView {
  private readonly byBackend = new Map<string, Map<string, { inFlight: number; at: number }>>();
  private readonly readings = new Map<string, EngineReading>();

  constructor(private readonly maxAgeMs = 3000, private readonly now: () => number = Date.now) {}

  /** Drops what other replicas said of a backend (it left this gateway; they may say it again). */
  forget(backendId: string): void {
    this.byBackend.delete(backendId);
    this.readings.delete(backendId);
  }

  apply(obs: LoadObservation): void {
    let m = this.byBackend.get(obs.backendId);
    if (!m) {
      m = new Map();
      this.byBackend.set(obs.backendId, m);
    }
    const prev = m.get(obs.gatewayId);
    if (!prev || prev.at <= obs.at) m.set(obs.gatewayId, { inFlight: obs.inFlight, at: obs.at });
    if (obs.engine && (this.readings.get(obs.backendId)?.readAt ?? -Infinity) <= obs.engine.readAt) this.readings.set(obs.backendId, obs.engine);
  }

  /** The newest engine reading another replica shared for this backend, while fresh. */
  engine(backendId: string): EngineReading | undefined {
    const r = this.readings.get(backendId);
    return r && r.readAt >= this.now() - this.maxAgeMs ? r : undefined;
  }

  inFlight(backendId: string): number {
    const m = this.byBackend.get(backendId);
    if (!m) return 0;
    const cutoff = this.now() - this.maxAgeMs;
    let sum = 0;
    for (const v of m.values()) if (v.at >= cutoff) sum += v.inFlight;
    return sum;
  }
}
