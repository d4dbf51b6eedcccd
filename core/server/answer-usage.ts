/** Usage of a non-streamed answer, read without parsing the whole body. */
import type { Usage } from './sse-relay.js';

/**
 * The `usage` object of a non-streamed answer, without parsing (or, given the bytes, decoding)
 * the whole body: find its key and parse just the balanced object after it (usage holds numbers
 * and one nested object, no strings).
 */
export function readUsage(answer: string | Buffer): Usage | undefined {
  const key = answer.lastIndexOf('"usage"');
  if (key < 0) return undefined;
  const at = typeof answer === 'string' ? (i: number) => answer.charCodeAt(i) : (i: number) => answer[i];
  // The value must be an object (`"usage": null` is not).
  let start = answer.indexOf(':', key) + 1;
  while (start > 0 && start < answer.length && isJsonSpace(at(start))) start++;
  if (start <= 0 || at(start) !== 123) return undefined;
  let depth = 0;
  for (let i = start; i < answer.length; i++) {
    const c = at(i);
    if (c === 123) depth++;
    else if (c === 125 && --depth === 0) {
      try {
        const json = typeof answer === 'string' ? answer.slice(start, i + 1) : answer.toString('utf8', start, i + 1);
        return asChatUsage(JSON.parse(json) as Usage & ResponsesUsage);
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** JSON's whitespace: space, tab, line feed, carriage return. */
function isJsonSpace(c: number): boolean {
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
