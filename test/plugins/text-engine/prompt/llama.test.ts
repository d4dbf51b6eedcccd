import { describe, expect, it } from 'vitest';
import { llama3Styler } from '../../../../plugins/text-engine/prompt/llama.js';
import { PromptError } from '../../../../plugins/text-engine/prompt/types.js';
import { ASK, QUESTION, ROUND_TRIP, SYSTEM_AND_USER, WEATHER_TOOL } from '../fixtures.js';

describe('llama3 styler', () => {
  it('renders a system + user conversation with headers', () => {
    expect(llama3Styler.build(SYSTEM_AND_USER)).toEqual({
      prompt:
        '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a weather bot.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
      stopWords: [],
    });
  });

  it('adds the default system prompt and trims content', () => {
    expect(llama3Styler.build([{ role: 'user', content: `  ${QUESTION}\n` }], undefined, { addGenerationPrompt: false }).prompt).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>' +
        `<|start_header_id|>user<|end_header_id|>\n\n${QUESTION}<|eot_id|>`,
    );
  });

  it('refuses tools and tool-call history: the family has no function calling', () => {
    expect(() => llama3Styler.build(ASK, [WEATHER_TOOL])).toThrow(PromptError);
    expect(() => llama3Styler.build(ROUND_TRIP)).toThrow(PromptError);
  });
});
