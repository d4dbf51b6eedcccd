/** Usage of a non-streamed answer, read without parsing the whole body. */
import type { Usage } from './sse-relay.js';

/**
 * The `usage` object of a non-streamed answer, without parsing the whole body: find its key and
 * parse just the balanced object after it (usage holds numbers and one nested object, no strings).
 */
export function readUsage(text: string): Usage | undefined {
  const key = text.lastIndexOf('"usage"');
  if (key < 0) return undefined;
  // The value must be an object (`"usage": null` is not).
  let start = text.indexOf(':', key) + 1;
  while (start > 0 && start < text.length && /\s/.test(text[start])) start++;
  if (start <= 0 || text[start] !== '{') return undefined;
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 123) depth++;
    else if (c === 125 && --depth === 0) {
      try {
        return asChatUsage(JSON.parse(text.slice(start, i + 1)) as Usage & ResponsesUsage);
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
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
