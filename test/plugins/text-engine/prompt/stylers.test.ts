import { beforeAll, describe, expect, it } from 'vitest';
import { Tokenizer } from '../../../../core/tokenizer/tokenizer.js';
import {
  createPromptBuilder,
  isPromptStyle,
  PROMPT_STYLES,
  templatePromptBuilder,
} from '../../../../plugins/text-engine/prompt/stylers.js';
import type { PromptStyle } from '../../../../plugins/text-engine/prompt/stylers.js';
import type { ChatMessage } from '../../../../core/tokenizer/tokenizer.js';
import { ASK, ROUND_TRIP, SYSTEM_AND_USER, WEATHER_TOOL } from '../fixtures.js';

let tok: Tokenizer;
beforeAll(() => {
  tok = Tokenizer.qwenDefault();
});

const CONVERSATION: ChatMessage[] = [{ role: 'system', content: 'You are a weather bot.' }, ...ROUND_TRIP];

/** Start of the first turn after the system turn. */
function afterSystem(prompt: string): string {
  return prompt.slice(prompt.indexOf('<|im_end|>\n') + '<|im_end|>\n'.length);
}

describe('createPromptBuilder', () => {
  it('builds every style; the built-in ones do not need a tokenizer', () => {
    expect(PROMPT_STYLES).toEqual(['template', 'qwen2.5', 'qwen', 'chatglm3', 'glm4', 'internlm2', 'llama3']);
    for (const style of PROMPT_STYLES) {
      const builder = createPromptBuilder(style, tok);
      expect(builder.style).toBe(style);
      expect(builder.build(SYSTEM_AND_USER).prompt).toContain('Hello');
    }
    expect(createPromptBuilder('glm4').build(ASK).prompt.startsWith('[gMASK]<sop>')).toBe(true);
  });

  it('passes tools and generation options to the styler', () => {
    const built = createPromptBuilder('qwen').build(ASK, { tools: [WEATHER_TOOL], addGenerationPrompt: false });
    expect(built.stopWords).toEqual(['Observation:']);
    expect(built.prompt.endsWith('<|im_end|>\n')).toBe(true);
  });

  it('rejects an unknown style and a template builder without a tokenizer', () => {
    expect(() => createPromptBuilder('mistral' as PromptStyle, tok)).toThrow(/unknown prompt style "mistral"/);
    expect(() => createPromptBuilder('template')).toThrow(/needs the model tokenizer/);
    expect(isPromptStyle('glm4')).toBe(true);
    expect(isPromptStyle('toString')).toBe(false);
  });
});

describe('templatePromptBuilder', () => {
  it("renders the model's own template with tools and chat_template_kwargs", () => {
    const builder = templatePromptBuilder(tok);
    const built = builder.build(CONVERSATION, { tools: [WEATHER_TOOL] });
    expect(built.stopWords).toEqual([]);
    expect(built.prompt).toBe(tok.applyChatTemplate(CONVERSATION, { tools: [WEATHER_TOOL] }));
    const noThinking = builder.build(ASK, { chatTemplateKwargs: { enable_thinking: false } });
    expect(noThinking.prompt.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n')).toBe(true);
  });

  it('and the qwen2.5 styler both render the weather round trip well-formed', () => {
    const template = templatePromptBuilder(tok).build(CONVERSATION, { tools: [WEATHER_TOOL] }).prompt;
    const styled = createPromptBuilder('qwen2.5', tok).build(CONVERSATION, { tools: [WEATHER_TOOL] }).prompt;

    // Two different models' templates (the bundled tokenizer is Qwen3's). They differ only in the
    // system turn:
    // - tool JSON: the Qwen3 template's `tojson` writes `{"type": "function", …}` with Python's
    //   spaces; grps-trtllm's qwen2.5 styler writes it compact;
    // - "within <tool_call>" (Qwen3) vs "within<tool_call>" (the styler's missing space);
    // - `{"name": <function-name>, "arguments": <args-json-object>}` (Qwen3) vs the styler's doubled
    //   braces and no space before `<args-json-object>`;
    // - without a system message the styler adds "You are Qwen, created by Alibaba Cloud…", Qwen3
    //   adds nothing.
    expect(template).toContain('{"type": "function", "function": {"name": "get_current_weather"');
    expect(styled).toContain('{"type":"function","function":{"name":"get_current_weather"');
    expect(template).toContain('arguments within <tool_call></tool_call> XML tags');
    expect(styled).toContain('arguments within<tool_call></tool_call> XML tags');
    expect(template).toContain('{"name": <function-name>, "arguments": <args-json-object>}\n');
    expect(styled).toContain('{{"name": <function-name>, "arguments":<args-json-object>}}\n');

    // Everything after the system turn - the call, the <tool_response> turn, the generation
    // prompt - is byte-identical, so the model sees its own call format either way.
    expect(afterSystem(styled)).toBe(afterSystem(template));
    expect(afterSystem(styled)).toContain(
      '<tool_call>\n{"name": "get_current_weather", "arguments": {"location": "Beijing"}}\n</tool_call>',
    );

    // Well-formed: same turn structure, every marker a single special token, lossless round trip.
    const roles = (p: string) => [...p.matchAll(/<\|im_start\|>(\w+)\n/g)].map((m) => m[1]);
    expect(roles(styled)).toEqual(['system', 'user', 'assistant', 'user', 'assistant']);
    expect(roles(template)).toEqual(roles(styled));
    const imStart = tok.tokenId('<|im_start|>');
    const imEnd = tok.tokenId('<|im_end|>');
    for (const prompt of [styled, template]) {
      const ids = Array.from(tok.encode(prompt));
      expect(tok.decode(ids)).toBe(prompt);
      expect(ids.filter((id) => id === imStart)).toHaveLength(5);
      expect(ids.filter((id) => id === imEnd)).toHaveLength(4);
      expect(ids.filter((id) => id === tok.tokenId('<tool_call>')).length).toBeGreaterThanOrEqual(2);
    }
  });
});
