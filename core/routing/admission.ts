/**
 * Admission for requests whose SLO no candidate is predicted to meet: shed at once (429 with
 * Retry-After), or wait in a bounded queue ordered by priority (x-priority, higher first) then
 * earliest deadline, re-trying placement whenever a request of the route finishes, until the
 * deadline passes.
 */
import { GatewayError } from '../server/errors.js';
import type { Decision } from './policy.js';

export interface AdmissionSpec {
  mode: 'shed' | 'queue';
  maxQueue: number;
  maxWaitMs: number;
}

interface Waiter {
  priority: number;
  deadline: number;
  seq: number;
  tryPlace: () => Decision | null;
  resolve: (d: Decision) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class AdmissionQueue {
  private readonly waiters: Waiter[] = [];
  private seq = 0;

  constructor(readonly spec: AdmissionSpec) {}

  get length(): number {
    return this.waiters.length;
  }

  /** Called with a decision that misses the SLO; resolves with one that meets it, or rejects (429). */
  admit(miss: Decision, priority: number, tryPlace: () => Decision | null): Promise<Decision> {
    const retryAfter = String(Math.max(1, Math.ceil((miss.predictedTtftMs ?? 1000) / 1000)));
    if (this.spec.mode === 'shed') {
      return Promise.reject(new GatewayError('SY_ERR_SLO_UNATTAINABLE', `no backend is predicted to meet the latency target (${miss.reason})`, { headers: { 'retry-after': retryAfter } }));
    }
    if (this.waiters.length >= this.spec.maxQueue) {
      return Promise.reject(new GatewayError('SY_ERR_SLO_UNATTAINABLE', `the admission queue is full (${this.spec.maxQueue} waiting)`, { headers: { 'retry-after': retryAfter } }));
    }
    return new Promise<Decision>((resolve, reject) => {
      const waiter: Waiter = {
        priority, deadline: Date.now() + this.spec.maxWaitMs, seq: this.seq++, tryPlace, resolve, reject,
        timer: setTimeout(() => {
          this.remove(waiter);
          reject(new GatewayError('SY_ERR_SLO_UNATTAINABLE', `waited ${this.spec.maxWaitMs} ms and no backend became able to meet the latency target`, { headers: { 'retry-after': retryAfter } }));
        }, this.spec.maxWaitMs),
      };
      this.waiters.push(waiter);
      this.waiters.sort((a, b) => b.priority - a.priority || a.deadline - b.deadline || a.seq - b.seq);
    });
  }

  /** Capacity may have freed up: place waiters in order while placements meet their SLO. */
  kick(): void {
    while (this.waiters.length > 0) {
      const head = this.waiters[0];
      const decision = head.tryPlace();
      if (!decision || decision.meetsSlo === false) return;
      this.remove(head);
      head.resolve({ ...decision, reason: `${decision.reason} (after queueing)` });
    }
  }

  /** Reject everything (drain). */
  close(): void {
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new GatewayError('SY_ERR_DRAINING', 'the gateway is shutting down'));
    }
  }

  private remove(w: Waiter): void {
    clearTimeout(w.timer);
    const i = this.waiters.indexOf(w);
    if (i >= 0) this.waiters.splice(i, 1);
  }
}
