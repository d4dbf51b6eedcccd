/**
 * A request's prompt as token ids, for exact prefix matching: the route's chat template rendered
 * and the model's tokenizer applied — the files the engine loads. Only text the pool has not seen
 * is tokenized, in its worker threads (TokenizerPool.encodeChatSegmented); a modest conversation
 * is rendered on the calling thread (~0.4 ms for 200k characters), a long one in a worker. Chat
 * prompts are encoded without added special tokens (the template writes them, as vLLM's chat path
 * does: add_special_tokens=False); a completions prompt gets the tokenizer's own framing, as the
 * engine's completions path does.
 *
 * A body the template cannot render, or a tokenizer failure, leaves the request approximate: the
 * engine will answer it (or reject it) whatever the router's view.
 */
import type { PrefixKey } from '../routing/prefix-key.js';
import { prefixKeyOfPieces, prefixKeyOfText } from '../routing/prefix-key.js';
import { RequestTokens } from '../routing/exact-prefix.js';
import type { Route } from '../routing/route-table.js';
import type { ChatMessage } from '../tokenizer/tokenizer.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Engines key a request's blocks by more than its tokens when it carries non-text inputs (images,
 * audio: their hashes enter the block keys). The gateway cannot reproduce those keys, so such
 * requests are matched approximately, never against blocks they could not share. A `cache_salt`
 * (vLLM) is keyed like the engine does (RequestTokens), and matched exactly where the engine's
 * events show salts.
 */
function keyedBeyondTokens(body: Readonly<Record<string, unknown>>): boolean {
  if (body.cache_salt !== undefined && typeof body.cache_salt !== 'string') return true;
  if (!Array.isArray(body.messages)) return false;
  for (const m of body.messages) {
    const content = isObject(m) ? m.content : undefined;
    if (Array.isArray(content) && content.some((part) => isObject(part) && part.type !== undefined && part.type !== 'text')) return true;
  }
  return false;
}

export async function tokenizeForRouting(
  route: Route, body: Readonly<Record<string, unknown>>, chunkBytes: number,
): Promise<{ tokens: RequestTokens; prefix: PrefixKey } | undefined> {
  const pool = route.tokenizer;
  if (!pool || keyedBeyondTokens(body)) return undefined;
  const salt = typeof body.cache_salt === 'string' ? body.cache_salt : undefined;
  try {
    if (Array.isArray(body.messages)) {
      const kwargs = body.chat_template_kwargs;
      const { pieces, parts } = await pool.encodeChatSegmented(body.messages as ChatMessage[], {
        tools: Array.isArray(body.tools) ? body.tools : undefined,
        chatTemplateKwargs: isObject(kwargs) ? kwargs : undefined,
      });
      // The byte-chunk key over the same rendered text (in its pieces): the template is rendered once per request.
      return { tokens: new RequestTokens(parts, salt), prefix: prefixKeyOfPieces(pieces, chunkBytes, salt) };
    }
    if (typeof body.prompt === 'string') {
      const ids = await pool.encode(body.prompt, { addSpecialTokens: true });
      return { tokens: new RequestTokens(ids, salt), prefix: prefixKeyOfText(body.prompt, chunkBytes, salt) };
    }
  } catch {
    // Approximate for this request (see above).
  }
  return undefined;
}
