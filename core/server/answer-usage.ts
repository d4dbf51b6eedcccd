/** Usage of a non-streamed answer, read without parsing the whole body. */
import type { Usage } from './sse-relay.js';

const USAGE_KEY = Buffer.from('"usage"');
const COLON = 58;
const OPEN = 123;
const CLOSE = 125;

/**
 * The `usage` object of a non-streamed answer, without parsing (or decoding) the whole body: find
 * its key and parse just the balanced object after it (usage holds numbers and one nested object,
 * no strings). Bytes are searched as bytes: the needles are built once, not per answer.
 */
export function readUsage(answer: string | Buffer): Usage | undefined {
  const bytes = typeof answer === 'string' ? Buffer.from(answer) : answer;
  const key = bytes.lastIndexOf(USAGE_KEY);
  if (key < 0) return undefined;
  // The value must be an object (`"usage": null` is not).
  let start = bytes.indexOf(COLON, key) + 1;
  while (start > 0 && start < bytes.length && isJsonSpace(bytes[start]!)) start++;
  if (start <= 0 || bytes[start] !== OPEN) return undefined;
  let depth = 0;
  for (let i = start; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === OPEN) depth++;
    else if (c === CLOSE && --depth === 0) {
      try {
        return asChatUsage(JSON.parse(bytes.toString('utf8', start, i + 1)) as Usage & ResponsesUsage);
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** JSON's whitespace: space, tab, line feed, carriage return (a byte or a UTF-16 code unit). */
export function isJsonSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/** The Responses API's usage names (`input_tokens`, `output_tokens`, `input_tokens_details`). */
export interface ResponsesUsage {
  input_tokens?: number;
  output_tokens?: number;
  input_tokens_details?: { cached_tokens?: number } | null;
}

/** Usage in the chat and completions names, whichever API the answer came from. */
export function asChatUsage(usage: Usage & ResponsesUsage): Usage {
  if (usage.prompt_tokens !== undefined || usage.completion_tokens !== undefined) return usage;
  if (usage.input_tokens === undefined && usage.output_tokens === undefined) return usage;
  return { prompt_tokens: usage.input_tokens, completion_tokens: usage.output_tokens, prompt_tokens_details: usage.input_tokens_details };
}
