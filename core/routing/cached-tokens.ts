/**
 * What an answer's `usage` says about the prompt tokens the engine served from its cache, kept
 * apart as a number (the engine said so), zero, or unknown — engines differ:
 *
 * - vLLM adds `usage.prompt_tokens_details` only with `--enable-prompt-tokens-details` and only when
 *   the count is non-zero (vllm/entrypoints/openai/serving_chat.py, `if
 *   self.enable_prompt_tokens_details and num_cached_tokens:`), so an absent field means "off" or
 *   "zero", and nothing in one answer tells which;
 * - trtllm-serve and the in-process engine always send the count; many OpenAI-compatible servers
 *   never do.
 *
 * A backend says which it is with `cached_tokens: reported | unreported`; by default it is
 * learned: once the engine has reported a non-zero count, its absence means zero. Until then an
 * absent count is unknown, and the learner must not fill it with the prefix index's guess.
 */
import type { Usage } from '../server/sse-relay.js';

/** How a backend reports cached prompt tokens; undefined in capabilities means "learn". */
export type CachedTokenReporting = 'reported' | 'unreported';

export class CachedTokenSource {
  /** The engine has reported a non-zero count at least once. */
  private seenNonZero = false;
  /** Answers whose cached count was known (reported or implied zero) and unknown. */
  known = 0;
  unknown = 0;

  constructor(private readonly reporting?: CachedTokenReporting) {}

  /** The engine's count for one answer's usage, or undefined when it cannot be known. */
  read(usage: Usage | undefined): number | undefined {
    const reported = usage?.prompt_tokens_details?.cached_tokens;
    if (typeof reported === 'number' && Number.isFinite(reported) && reported >= 0) {
      if (reported > 0) this.seenNonZero = true;
      this.known++;
      return reported;
    }
    if (usage !== undefined && (this.reporting === 'reported' || (this.reporting === undefined && this.seenNonZero))) {
      this.known++;
      return 0;
    }
    this.unknown++;
    return undefined;
  }

  /** Where this backend's cached-token figure comes from, for /admin/routing. */
  describe(): { source: string; reporting: string; known: number; unknown: number } {
    const source = this.reporting === 'unreported' ? 'unknown (the backend is configured as not reporting cached tokens)'
      : this.reporting === 'reported' ? 'engine-reported (an absent count means 0: configured)'
        : this.seenNonZero ? 'engine-reported (an absent count means 0: learned from a non-zero report)'
          : 'unknown until the engine reports a non-zero count';
    return { source, reporting: this.reporting ?? 'learned', known: this.known, unknown: this.unknown };
  }
}
