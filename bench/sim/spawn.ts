/**
 * Starts an emulated engine replica (`switchyard sim …`) as a child process. Benchmarks run faces
 * in their own processes so the load generator and the face do not share one event loop.
 */
import { spawnSelf, type SpawnedSelf } from '../../core/cli/self.js';

export type SpawnedSim = SpawnedSelf;

export function spawnSim(args: string[], timeoutMs = 30_000): Promise<SpawnedSim> {
  return spawnSelf(['sim', ...args], { timeoutMs, what: 'sim' });
}
