/**
 * Llama 3 / 3.1 instruct headers. grps-trtllm's llama3 styler has no function calling, so a
 * request with tools (or a tool-call history) is refused rather than silently answered without them.
 */
import { historyToolCalls, messageText, PromptError, requireMessages, roleOf } from './types.js';
import type { BuiltPrompt, ChatMessage, PromptStyler, StylerOptions } from './types.js';

export const LLAMA3_DEFAULT_SYSTEM = 'You are a helpful assistant.';

function header(role: string): string {
  return `<|start_header_id|>${role}<|end_header_id|>\n\n`;
}

export const llama3Styler: PromptStyler = {
  name: 'llama3',
  build(messages: readonly ChatMessage[], tools?: readonly unknown[], opts: StylerOptions = {}): BuiltPrompt {
    requireMessages(messages);
    if (tools !== undefined && tools.length > 0) {
      throw new PromptError('the llama3 prompt style does not support tools', 'tools');
    }
    let prompt = '<|begin_of_text|>';
    if (messages[0].role !== 'system') prompt += `${header('system')}${LLAMA3_DEFAULT_SYSTEM}<|eot_id|>`;
    messages.forEach((message, i) => {
      const role = roleOf(message, i);
      if (role === 'tool' || historyToolCalls(message, i).length > 0) {
        throw new PromptError('the llama3 prompt style does not support tool calls', `messages[${i}]`);
      }
      // Meta's template trims every message.
      prompt += `${header(role)}${messageText(message).trim()}<|eot_id|>`;
    });
    if (opts.addGenerationPrompt ?? true) prompt += header('assistant');
    return { prompt, stopWords: [] };
  },
};
