import { describe, expect, it } from 'vitest';
import { internlm2Styler, qwen25Styler, qwenStyler } from '../../../../plugins/text-engine/prompt/qwen.js';
import { PromptError } from '../../../../plugins/text-engine/prompt/types.js';
import type { ChatMessage } from '../../../../core/tokenizer/tokenizer.js';
import { ASK, QUESTION, ROUND_TRIP, SYSTEM_AND_USER, TOOL_RESULT, WEATHER_TOOL, WEATHER_TOOL_COMPACT } from '../fixtures.js';

const QWEN25_SYSTEM = 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.';

// REFERENCE §1.6: "# Tools…<tools>", one compact JSON object per function, "</tools>…within
// <tool_call></tool_call>…" with no space before the tag and the doubled braces.
const QWEN25_TOOL_SYS =
  '\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n' +
  'You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n' +
  WEATHER_TOOL_COMPACT +
  '\n</tools>\n\nFor each function call, return a json object with function name and arguments within' +
  '<tool_call></tool_call> XML tags:\n<tool_call>\n{{"name": <function-name>, "arguments":<args-json-object>}}\n</tool_call>';

describe('qwen2.5 styler', () => {
  it('renders a system + user conversation', () => {
    expect(qwen25Styler.build(SYSTEM_AND_USER)).toEqual({
      prompt:
        '<|im_start|>system\nYou are a weather bot.<|im_end|>\n' +
        '<|im_start|>user\nHello<|im_end|>\n' +
        '<|im_start|>assistant\n',
      stopWords: [],
    });
  });

  it('adds the default system prompt, and omits the generation prompt on request', () => {
    expect(qwen25Styler.build(ASK, undefined, { addGenerationPrompt: false }).prompt).toBe(
      `<|im_start|>system\n${QWEN25_SYSTEM}<|im_end|>\n<|im_start|>user\n${QUESTION}<|im_end|>\n`,
    );
  });

  it('appends tool_sys to the system prompt, quirks included', () => {
    expect(qwen25Styler.build(ASK, [WEATHER_TOOL]).prompt).toBe(
      `<|im_start|>system\n${QWEN25_SYSTEM}${QWEN25_TOOL_SYS}<|im_end|>\n` +
        `<|im_start|>user\n${QUESTION}<|im_end|>\n` +
        '<|im_start|>assistant\n',
    );
    expect(qwen25Styler.build([{ role: 'system', content: 'S' }, ...ASK], [WEATHER_TOOL]).prompt).toContain(
      `<|im_start|>system\nS${QWEN25_TOOL_SYS}<|im_end|>\n`,
    );
  });

  it('renders the assistant tool call and the tool result back in its own format', () => {
    expect(qwen25Styler.build(ROUND_TRIP, [WEATHER_TOOL]).prompt).toBe(
      `<|im_start|>system\n${QWEN25_SYSTEM}${QWEN25_TOOL_SYS}<|im_end|>\n` +
        `<|im_start|>user\n${QUESTION}<|im_end|>\n` +
        '<|im_start|>assistant\n<tool_call>\n{"name": "get_current_weather", "arguments": {"location": "Beijing"}}\n</tool_call><|im_end|>\n' +
        `<|im_start|>user\n<tool_response>\n${TOOL_RESULT}\n</tool_response><|im_end|>\n` +
        '<|im_start|>assistant\n',
    );
  });

  it('puts two calls in one assistant turn and their results in one user turn', () => {
    const messages: ChatMessage[] = [
      { role: 'user', content: 'Postcode and weather of Boston?' },
      {
        role: 'assistant',
        content: 'Let me look.',
        tool_calls: [
          { id: 'a', type: 'function', function: { name: 'get_postcode', arguments: '{"location":"Boston, MA"}' } },
          { id: 'b', type: 'function', function: { name: 'get_current_weather', arguments: '{"location":"Boston, MA"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'a', content: '02138' },
      { role: 'tool', tool_call_id: 'b', content: '59.0' },
    ];
    const { prompt } = qwen25Styler.build(messages, undefined, { addGenerationPrompt: false });
    expect(prompt).toBe(
      `<|im_start|>system\n${QWEN25_SYSTEM}<|im_end|>\n` +
        '<|im_start|>user\nPostcode and weather of Boston?<|im_end|>\n' +
        '<|im_start|>assistant\nLet me look.' +
        '\n<tool_call>\n{"name": "get_postcode", "arguments": {"location": "Boston, MA"}}\n</tool_call>' +
        '\n<tool_call>\n{"name": "get_current_weather", "arguments": {"location": "Boston, MA"}}\n</tool_call><|im_end|>\n' +
        '<|im_start|>user\n<tool_response>\n02138\n</tool_response>\n<tool_response>\n59.0\n</tool_response><|im_end|>\n',
    );
  });

  it('rejects an unknown role and a tool without a name, naming the request path', () => {
    expect(() => qwen25Styler.build([{ role: 'narrator', content: 'x' }])).toThrow(PromptError);
    try {
      qwen25Styler.build(ASK, [{ type: 'function', function: { description: 'no name' } }]);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(PromptError);
      expect((err as PromptError).param).toBe('tools[0].function.name');
    }
  });
});

// REFERENCE §1.6, qwen: the ReAct block opens the first user turn.
const REACT_PREAMBLE =
  'Answer the following questions as best you can. You have access to the following APIs:\n\n' +
  'get_current_weather: Call this tool to interact with the get_current_weather API. ' +
  'What is the get_current_weather API useful for? Get the current weather in a given location ' +
  'Parameters: [{"type":"string","description":"The city, e.g. Beijing","name":"location","required":true}] ' +
  'Format the arguments as a JSON object.\n\n' +
  'Use the following format:\n\n' +
  'Question: the input question you must answer\n' +
  'Thought: you should always think about what to do\n' +
  'Action: the action to take, should be one of [get_current_weather]\n' +
  'Action Input: the input to the action\n' +
  'Observation: the result of the action\n' +
  '... (this Thought/Action/Action Input/Observation can be repeated zero or more times)\n' +
  'Thought: I now know the final answer\n' +
  'Final Answer: the final answer to the original input question\n\n' +
  'Begin!';

const REACT_ROUND_TRIP_TAIL =
  `<|im_start|>user\n${REACT_PREAMBLE}\n\nQuestion: ${QUESTION}<|im_end|>\n` +
  '<|im_start|>assistant\nThought: I can use get_current_weather.\nAction: get_current_weather\n' +
  'Action Input: {"location": "Beijing"}<|im_end|>\n' +
  `<|im_start|>function\nObservation: ${TOOL_RESULT}<|im_end|>\n` +
  '<|im_start|>assistant\n';

describe('qwen styler (ReAct)', () => {
  it('renders a system + user conversation as plain ChatML', () => {
    expect(qwenStyler.build(SYSTEM_AND_USER)).toEqual({
      prompt:
        '<|im_start|>system\nYou are a weather bot.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n',
      stopWords: [],
    });
    expect(qwenStyler.build(ASK).prompt).toBe(
      `<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n${QUESTION}<|im_end|>\n<|im_start|>assistant\n`,
    );
  });

  it('opens the first user turn with the ReAct preamble and stops at Observation:', () => {
    expect(qwenStyler.build(ASK, [WEATHER_TOOL])).toEqual({
      prompt:
        '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' +
        `<|im_start|>user\n${REACT_PREAMBLE}\n\nQuestion: ${QUESTION}<|im_end|>\n` +
        '<|im_start|>assistant\n',
      stopWords: ['Observation:'],
    });
  });

  it('renders the call as Thought/Action/Action Input and the result as a function Observation', () => {
    expect(qwenStyler.build(ROUND_TRIP, [WEATHER_TOOL]).prompt).toBe(
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' + REACT_ROUND_TRIP_TAIL,
    );
  });

  it('uses the Thought the parser returned as content, and marks later questions and answers', () => {
    const messages: ChatMessage[] = [
      { role: 'user', content: QUESTION },
      { role: 'assistant', content: 'I need the weather.', tool_calls: ROUND_TRIP[1].tool_calls },
      { role: 'tool', content: TOOL_RESULT },
      { role: 'assistant', content: 'It is 22 degrees.' },
      { role: 'user', content: 'And tomorrow?' },
    ];
    const { prompt } = qwenStyler.build(messages, [WEATHER_TOOL]);
    expect(prompt).toContain(
      '<|im_start|>assistant\nThought: I need the weather.\nAction: get_current_weather\nAction Input: {"location": "Beijing"}<|im_end|>\n',
    );
    expect(prompt).toContain(
      '<|im_start|>assistant\nThought: I now know the final answer\nFinal Answer: It is 22 degrees.<|im_end|>\n' +
        '<|im_start|>user\nQuestion: And tomorrow?<|im_end|>\n',
    );
    expect(prompt.split(REACT_PREAMBLE)).toHaveLength(2); // the preamble appears once
  });
});

describe('internlm2 styler', () => {
  const INTERNLM2_SYSTEM =
    'You are an AI assistant whose name is InternLM (书生·浦语).\n' +
    '- InternLM (书生·浦语) is a conversational language model that is developed by Shanghai AI Laboratory ' +
    '(上海人工智能实验室). It is designed to be helpful, honest, and harmless.\n' +
    '- InternLM (书生·浦语) can understand and communicate fluently in the language chosen by the user such as ' +
    'English and 中文.';

  it('renders a system + user conversation inside <s>', () => {
    expect(internlm2Styler.build(SYSTEM_AND_USER).prompt).toBe(
      '<s><|im_start|>system\nYou are a weather bot.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('is the qwen ReAct format with the InternLM system prompt', () => {
    expect(internlm2Styler.build(ASK, [WEATHER_TOOL])).toEqual({
      prompt:
        `<s><|im_start|>system\n${INTERNLM2_SYSTEM}<|im_end|>\n` +
        `<|im_start|>user\n${REACT_PREAMBLE}\n\nQuestion: ${QUESTION}<|im_end|>\n<|im_start|>assistant\n`,
      stopWords: ['Observation:'],
    });
    expect(internlm2Styler.build(ROUND_TRIP, [WEATHER_TOOL]).prompt).toBe(
      `<s><|im_start|>system\n${INTERNLM2_SYSTEM}<|im_end|>\n` + REACT_ROUND_TRIP_TAIL,
    );
  });
});
