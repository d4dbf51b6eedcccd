/**
 * Starts the emulated engine replicas a config lists (backends with `sim:`), each its own
 * `switchyard sim` process, and stops them with the gateway. They are simulated engines — the
 * engine model behind an engine's HTTP face — and /v1/models says so.
 */
import type { SimulatedEngine } from '../core/config/types.js';
import { spawnSim, type SpawnedSim } from '../bench/sim/spawn.js';

export interface SimulatedFleet {
  stop(): Promise<void>;
}

export async function startSimulated(engines: readonly SimulatedEngine[]): Promise<SimulatedFleet> {
  const started: SpawnedSim[] = [];
  try {
    for (const e of engines) {
      const args = ['--engine', e.face, '--profile', e.profile, '--port', String(e.port), '--host', '127.0.0.1',
        '--time-scale', String(e.timeScale), '--replica-name', e.backendId, ...(e.model ? ['--model', e.model] : []), ...e.args];
      started.push(await spawnSim(args));
    }
  } catch (err) {
    await Promise.allSettled(started.map((s) => s.stop()));
    throw err;
  }
  return { stop: async () => { await Promise.allSettled(started.map((s) => s.stop())); } };
}
