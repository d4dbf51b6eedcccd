/**
 * Other gateway replicas' in-flight counts per backend, from the state store. A gauge per
 * (replica, backend); values older than `maxAgeMs` are ignored, so a replica that died stops
 * counting after a few seconds.
 */
import type { LoadObservation } from '../state/types.js';

export class RemoteLoad {
  private readonly byBackend = new Map<string, Map<string, { inFlight: number; at: number }>>();

  constructor(private readonly maxAgeMs = 3000, private readonly now: () => number = Date.now) {}

  apply(obs: LoadObservation): void {
    let m = this.byBackend.get(obs.backendId);
    if (!m) {
      m = new Map();
      this.byBackend.set(obs.backendId, m);
    }
    const prev = m.get(obs.gatewayId);
    if (!prev || prev.at <= obs.at) m.set(obs.gatewayId, { inFlight: obs.inFlight, at: obs.at });
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
