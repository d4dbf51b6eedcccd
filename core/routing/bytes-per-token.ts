/**
 * Bytes of prompt key per engine token, learned per backend from its answers (the key's bytes
 * beside `usage.prompt_tokens`). The approximate index matches byte chunks; this ratio turns them
 * into tokens, and sizes the index from the engine's KV capacity in tokens. The configured
 * `bytes_per_token` (4) is right for the English of older tokenizers only: Qwen's or Llama 3's
 * take 5–6 bytes of English prose per token (code, CJK text far fewer), and a ratio 36% too low
 * over-predicts every hit by 36% and forgets a quarter of what the engine still holds.
 *
 * The ratio is over whole prompts (chat-template tokens included) and decays, so that it follows
 * a change of traffic; it is undefined until `MIN_ANSWERS` answers (or `MIN_TOKENS` tokens of
 * prompt) were seen. An index is sized again as soon as the ratio is learned or moves (the
 * gateway's periodic sizing would leave it a third too small for its first seconds: on a short
 * burst of long prompts, the whole burst).
 */
import { PerBackend } from './per-backend.js';
import type { RoutingState } from './policy.js';

/** Learned after this many answers, or sooner once this many prompt tokens were seen (long prompts). */
const MIN_ANSWERS = 8;
const MIN_TOKENS = 4096;
/** An index sized at a ratio this far from the learned one is sized again at once (resizeIfMoved). */
const RESIZE_AT = 0.05;
/**
 * Answers whose own ratio lies outside this range say nothing of the tokenizer's text: an image's
 * data URL is keyed as its JSON (megabytes for a few hundred tokens), an image given by URL is
 * hundreds of tokens for a few bytes. Text in any tokenizer lies well inside (CJK ~3, code ~3-4,
 * English prose 4-6 bytes per token).
 */
const PLAUSIBLE = { min: 1, max: 16 };
/** Weight kept by the older answers at each new one (a memory of ~200 answers). */
const DECAY = 0.995;

export class BytesPerToken {
  /** Every backend's ratio (RoutingState.bytesPerToken). */
  static perBackend(): PerBackend<BytesPerToken> {
    return new PerBackend(() => new BytesPerToken());
  }

  private bytes = 0;
  private tokens = 0;
  answers = 0;

  observe(bytes: number, tokens: number): void {
    if (!(bytes > 0 && tokens > 0 && Number.isFinite(bytes) && Number.isFinite(tokens))) return;
    const ratio = bytes / tokens;
    if (ratio < PLAUSIBLE.min || ratio > PLAUSIBLE.max) return;
    this.bytes = this.bytes * DECAY + bytes;
    this.tokens = this.tokens * DECAY + tokens;
    this.answers++;
  }

  /** The learned ratio, or undefined while too few answers (and prompt tokens) were seen. */
  learned(): number | undefined {
    return this.answers >= MIN_ANSWERS || this.tokens >= MIN_TOKENS ? this.bytes / this.tokens : undefined;
  }
}

/**
 * Bytes per token for a backend: the ratio learned from its answers (prompt key bytes against the
 * engine's prompt_tokens), else the configured one.
 */
export function bytesPerTokenOf(backendId: string, state: RoutingState, configured: number): number {
  return state.bytesPerToken.of(backendId).learned() ?? configured;
}

/**
 * A backend's prefix index holds about as many chunks as its KV cache holds tokens' worth, at its
 * bytes per token (learned once it has answers: sized again as it learns).
 */
export function sizePrefixIndex(state: RoutingState, backendId: string, kvCapacityTokens: number, configured: number): void {
  state.prefixes.setCapacityTokens(backendId, kvCapacityTokens, state.chunkBytes, bytesPerTokenOf(backendId, state, configured));
}

/**
 * After an answer: a backend whose index was sized at a ratio more than 5% from the one now learned
 * is sized again at once, from the same KV capacity.
 */
export function resizeIfMoved(state: RoutingState, backendId: string): void {
  const learned = state.bytesPerToken.of(backendId).learned();
  const sized = state.prefixes.of(backendId).sizedFrom;
  if (learned === undefined || sized === undefined || Math.abs(learned / sized.bytesPerToken - 1) <= RESIZE_AT) return;
  state.prefixes.setCapacityTokens(backendId, sized.kvTokens, state.chunkBytes, learned);
}
