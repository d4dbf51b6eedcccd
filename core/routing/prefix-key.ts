/**
 * A request's prefix key: chained 64-bit xxHash (xxhash-wasm) over fixed-size byte chunks of the
 * canonical prompt. Chunk i's hash seeds chunk i+1's, so equal hashes at position i mean equal
 * prompts up to the end of chunk i — the same property as an engine's chained KV block hashes.
 *
 * The canonical prompt is the tools, then every message in order (role, then text), separated by
 * control characters no chat text contains: a conversation that grows by one turn keeps every
 * earlier chunk's hash. It is not the JSON of the body (field order and escaping would leak into
 * the key) and not only the first message (two conversations sharing a system prompt share it).
 *
 * Where the route names the model's tokenizer_config.json (`tokenizer_config:`), a chat request's
 * canonical prompt is instead its rendered chat template — the very text the engine tokenizes —
 * so that the router's chunks and an engine's KV blocks cover the same text (see promptText).
 *
 * Hashes are kept as 52-bit JS numbers (the low 52 bits of the 64-bit digest): Map keys without
 * BigInt, collision odds ~2^-52 per pair.
 */
import xxhash from 'xxhash-wasm';
import type { ChatMessage, ChatTemplate } from '../tokenizer/tokenizer.js';

const { h64Raw } = await xxhash();
const MASK_52 = (1n << 52n) - 1n;
const encoder = new TextEncoder();
// One growing scratch buffer: encodeInto avoids allocating a copy of every prompt.
let scratch = new Uint8Array(64 * 1024);

export interface PrefixKey {
  /** One hash per full chunk; a trailing partial chunk has none (it cannot be shared yet). */
  hashes: number[];
  /** Bytes of the canonical prompt; ≈ tokens × 4 for English text. */
  bytes: number;
  chunkBytes: number;
}

const RS = '\u001e';
const US = '\u001f';

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    let out = '';
    for (const part of content) {
      if (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') out += (part as { text: string }).text;
      else if (part && typeof part === 'object') out += JSON.stringify(part);
    }
    return out;
  }
  return content == null ? '' : JSON.stringify(content);
}

/** The canonical prompt of a chat or completions body. */
export function canonicalPrompt(body: Readonly<Record<string, unknown>>): string {
  if (typeof body.prompt === 'string') return body.prompt;
  if (Array.isArray(body.prompt)) return body.prompt.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join(RS);
  const parts: string[] = [];
  if (Array.isArray(body.tools) && body.tools.length > 0) parts.push(`${RS}tools${US}${JSON.stringify(body.tools)}`);
  if (Array.isArray(body.messages)) {
    for (const item of body.messages as unknown[]) {
      // Only chat bodies are schema-checked: an embeddings body may carry any `messages`.
      if (item === null || typeof item !== 'object') {
        parts.push(`${RS}${JSON.stringify(item) ?? ''}`);
        continue;
      }
      const m = item as Record<string, unknown>;
      parts.push(`${RS}${String(m.role)}${US}${textOf(m.content)}`);
      if (m.tool_calls !== undefined) parts.push(`${US}${JSON.stringify(m.tool_calls)}`);
    }
  }
  return parts.join('');
}

/** The most messages a chat template is rendered for on the event loop (the tokenizer pool's bound for the same). */
export const RENDER_MAX_MESSAGES = 256;

/**
 * The text a request's key is computed over: the rendered chat template where the route has one
 * and the body is a chat, else the canonical serialisation. A body the template cannot render (a
 * shape the engine would reject too) falls back to the canonical form rather than failing here.
 */
export function promptText(body: Readonly<Record<string, unknown>>, template?: ChatTemplate): string {
  // Rendering runs on the event loop at ~30 µs a message: a conversation of 100k messages would
  // stop every other request for 3 s. Past RENDER_MAX_MESSAGES the key is the canonical form (the
  // route's exact tokenization renders such bodies in its worker threads instead).
  if (template && Array.isArray(body.messages) && body.messages.length <= RENDER_MAX_MESSAGES) {
    try {
      const kwargs = body.chat_template_kwargs;
      return template.render(body.messages as ChatMessage[], {
        tools: Array.isArray(body.tools) ? body.tools : undefined,
        chatTemplateKwargs: kwargs && typeof kwargs === 'object' && !Array.isArray(kwargs) ? (kwargs as Record<string, unknown>) : undefined,
      });
    } catch {
      // fall through
    }
  }
  return canonicalPrompt(body);
}

export function prefixKey(body: Readonly<Record<string, unknown>>, chunkBytes = 256, template?: ChatTemplate): PrefixKey {
  return prefixKeyOfText(promptText(body, template), chunkBytes, typeof body.cache_salt === 'string' ? body.cache_salt : undefined);
}

/**
 * The key of a prompt text already rendered (the in-process plugin checks its own prompt with it).
 * A `cache_salt` seeds the chain: engines that honour it never share a salted prompt's blocks
 * with another salt's, or with unsalted prompts (vLLM keys the first block by it).
 */
export function prefixKeyOfText(text: string, chunkBytes = 256, cacheSalt?: string): PrefixKey {
  return prefixKeyOfPieces([text], chunkBytes, cacheSalt);
}

/** prefixKeyOfText of the pieces' concatenation, without making it (a rendered prompt in pieces: TokenizerPool). */
export function prefixKeyOfPieces(pieces: readonly string[], chunkBytes = 256, cacheSalt?: string): PrefixKey {
  let chars = 0;
  for (const p of pieces) chars += p.length;
  if (scratch.length < chars * 3) scratch = new Uint8Array(chars * 3);
  let length = 0;
  for (const p of pieces) length += encoder.encodeInto(p, length === 0 ? scratch : scratch.subarray(length)).written;
  const full = Math.floor(length / chunkBytes);
  const hashes = new Array<number>(full);
  let seed = cacheSalt === undefined ? 0n : h64Raw(encoder.encode(`cache_salt\u0000${cacheSalt}`), 0x5a17n);
  for (let i = 0; i < full; i++) {
    seed = h64Raw(scratch.subarray(i * chunkBytes, (i + 1) * chunkBytes), seed);
    hashes[i] = Number(seed & MASK_52);
  }
  return { hashes, bytes: length, chunkBytes };
}

/** A 52-bit hash of a string (rendezvous scores). */
export function hashString(text: string, seed = 0n): number {
  return Number(h64Raw(encoder.encode(text), seed) & MASK_52);
}
