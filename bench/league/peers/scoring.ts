/**
 * llm-d's scheduling shape (REFERENCE.md §2.2, `llm-d/llm-d-router: pkg/epp/...`) as pipeline
 * stages: scorers that each give every candidate a score in [0,1] — normalised across the set,
 * so a scorer sees the whole set at once —, an objective that is their weighted sum, and the
 * max-score picker with a random (seeded) tie-break.
 *
 * The pipeline's Objective prices one candidate at a time; llm-d's scorers need the set (the
 * queue scorer's min and max). So `WeightedScore` scores the set once per selection (`prepare`,
 * called by its picker) and its `cost` reads the result, negated because the pipeline's lower wins.
 * This is a benchmark profile scoring as its original does; the product's profiles keep
 * predicted milliseconds.
 */
import { seededRandom } from '../../../core/routing/policy.js';
import type { Objective, Pick, Picker, Selection } from '../../../core/routing/pipeline.js';
import type { Features } from '../../../core/routing/features.js';

export interface Scorer {
  readonly name: string;
  /** Scores above 0 mean the candidate holds part of the prompt (the decision's kind is then "prefix"). */
  readonly prefix?: boolean;
  /** One score in [0,1] per candidate of `set`, in its order. */
  score(set: readonly Features[], sel: Selection): readonly number[];
}

export interface Weighted {
  scorer: Scorer;
  weight: number;
}

interface Scored {
  total: number;
  parts: readonly number[];
}

export class WeightedScore implements Objective {
  readonly name: string;
  private readonly scored = new WeakMap<Selection, Map<Features, Scored>>();

  constructor(readonly scorers: readonly Weighted[]) {
    this.name = scorers.map((s) => `${s.weight}·${s.scorer.name}`).join(' + ');
  }

  /** Scores the whole set for this selection (the scorers normalise across it). */
  prepare(set: readonly Features[], sel: Selection): void {
    const columns = this.scorers.map((s) => s.scorer.score(set, sel));
    const out = new Map<Features, Scored>();
    set.forEach((f, i) => {
      const parts = columns.map((c) => c[i]);
      const total = parts.reduce((sum, p, j) => sum + this.scorers[j].weight * p, 0);
      out.set(f, { total, parts });
    });
    this.scored.set(sel, out);
  }

  /** The negated weighted sum (lower wins in the pipeline); undefined before `prepare`. */
  cost(f: Features, sel: Selection): number | undefined {
    const s = this.scored.get(sel)?.get(f);
    return s === undefined ? undefined : -s.total;
  }

  /** `score 5.40 (prefix 0.80, queue 1.00, kv-cache 0.70)` */
  note(f: Features, sel: Selection): string {
    const s = this.scored.get(sel)?.get(f);
    if (!s) return 'unscored';
    const parts = s.parts.map((p, i) => `${this.scorers[i].scorer.name} ${p.toFixed(2)}`).join(', ');
    return `score ${s.total.toFixed(2)} (${parts})`;
  }

  holdsPrefix(f: Features, sel: Selection): boolean {
    const s = this.scored.get(sel)?.get(f);
    return s !== undefined && this.scorers.some((w, i) => w.scorer.prefix === true && s.parts[i] > 0);
  }
}

/**
 * llm-d's max-score picker: the highest weighted score, exact ties broken at random (seeded here
 * so a fixed seed gives fixed decisions). `afterPick` runs once the pick is made — where llm-d's
 * approximate prefix plugin writes the request's blocks under the chosen pod.
 */
export function maxScorePicker(score: WeightedScore, seed: number, afterPick?: (f: Features, sel: Selection) => void): Picker {
  const random = seededRandom(seed);
  return {
    pick(set, _objective, sel): Pick {
      score.prepare(set, sel);
      const costs = set.map((f) => score.cost(f, sel) ?? 0);
      const best = Math.min(...costs);
      const top = set.filter((_, i) => costs[i] <= best + 1e-12);
      const f = top[Math.floor(random() * top.length)];
      afterPick?.(f, sel);
      const tie = top.length > 1 ? `, random among ${top.length} tied` : '';
      return { f, reason: `max score: ${score.note(f, sel)}${tie}`, kind: score.holdsPrefix(f, sel) ? 'prefix' : 'load' };
    },
  };
}

/**
 * `queue-scorer`: (maxQ − q)/(maxQ − minQ) over the engine-reported waiting queue
 * (`vllm:num_requests_waiting`, llm-d's WaitingQueueSize); every candidate 1 when all queues are
 * equal (as llm-d does — a constant column leaves the ranking to the other scorers). A candidate
 * whose engine has not reported yet is left out of min/max and scores 0, as llm-d skips pods
 * whose metrics are not updated.
 */
export const queueScorer: Scorer = {
  name: 'queue',
  score(set) {
    const reported = set.map((f) => f.c.signals.waiting);
    const known = reported.filter((q): q is number => q !== undefined);
    if (known.length === 0) return set.map(() => 0);
    const min = Math.min(...known);
    const max = Math.max(...known);
    return reported.map((q) => (q === undefined ? 0 : max === min ? 1 : (max - q) / (max - min)));
  },
};

/** `kv-cache-utilization-scorer`: 1 − KV usage (an engine that has not reported counts as empty, as llm-d's zero-valued metrics do). */
export const kvCacheScorer: Scorer = {
  name: 'kv-cache',
  score: (set) => set.map((f) => 1 - Math.min(1, Math.max(0, f.c.signals.kvUsage ?? 0))),
};
