/**
 * A closed-loop run on a manual-clock engine model: the same workload the calibration sends over
 * HTTP, simulated in model time with no sleeping, so a whole table takes milliseconds. The fitter
 * uses it to search step-time coefficients; `calibrate` then checks them over real HTTP.
 */
import { Engine } from '../../native/engine.js';
import type { EngineProfile } from '../../native/types.js';

export interface ClosedLoopSpec {
  concurrency: number;
  promptTokens: number;
  outputTokens: number;
  /** Requests each client sends after its warm-up request. */
  requestsPerClient: number;
  /** Per-request cost outside the engine (the face's API server), model ms. */
  frontendOverheadMs: number;
}

/** Total (prompt + completion) tokens per second of model time, over the measured requests. */
export function simulateClosedLoop(profile: EngineProfile, spec: ClosedLoopSpec): number {
  const engine = new Engine({ profile, clock: 'manual', iterStatsBufferSize: 0 });
  try {
    // Every client sends the same fixed prompt, as the published benchmarks did.
    const prompt = Int32Array.from({ length: spec.promptTokens }, (_, i) => 1000 + ((i * 7919) % 50000));
    const submit = () =>
      engine.enqueue({ inputTokenIds: prompt, maxTokens: spec.outputTokens, ignoreEos: true, streaming: false });
    const runPhase = (perClient: number): { tokens: number; startMs: number; endMs: number } => {
      const startMs = engine.nowMs();
      const remaining = new Array<number>(spec.concurrency).fill(perClient);
      const nextAt = new Array<number>(spec.concurrency).fill(startMs + spec.frontendOverheadMs);
      const owner = new Map<number, number>();
      const busy = new Array<boolean>(spec.concurrency).fill(false);
      let tokens = 0;
      let endMs = startMs;
      let done = 0;
      while (done < spec.concurrency * perClient) {
        const now = engine.nowMs();
        for (let c = 0; c < spec.concurrency; c++) {
          if (!busy[c] && remaining[c] > 0 && nextAt[c] <= now) {
            owner.set(submit(), c);
            busy[c] = true;
            remaining[c]--;
          }
        }
        const responses = engine.step();
        if (responses.length === 0 && engine.snapshot().running === 0) {
          const pending = nextAt.filter((t, c) => !busy[c] && remaining[c] > 0);
          if (pending.length) engine.advanceTo(Math.min(...pending));
          continue;
        }
        for (const r of responses) {
          if (!r.isFinal) continue;
          const c = owner.get(r.requestId)!;
          owner.delete(r.requestId);
          busy[c] = false;
          done++;
          tokens += spec.promptTokens + r.tokens.length;
          // The face spends its overhead before enqueueing (bench/sim), so the next request of
          // this client reaches the engine that long after the answer left it.
          endMs = Math.max(endMs, r.timeMs);
          nextAt[c] = r.timeMs + spec.frontendOverheadMs;
        }
      }
      return { tokens, startMs, endMs };
    };
    runPhase(1);
    const measured = runPhase(spec.requestsPerClient);
    return (measured.tokens / (measured.endMs - measured.startMs)) * 1000;
  } finally {
    engine.close();
  }
}
