import { describe, expect, it } from 'vitest';
import { qwen25Styler } from '../../../../plugins/text-engine/prompt/qwen.js';
import { newToolCallId, parseToolCalls } from '../../../../plugins/text-engine/output/tool-calls.js';
import { parsePythonKwargs } from '../../../../plugins/text-engine/output/python-args.js';
import type { ChatMessage } from '../../../../core/tokenizer/tokenizer.js';
import { counterIds, QUESTION, TOOL_RESULT } from '../fixtures.js';

const ID = /^call_[A-Za-z0-9]{24}$/;
const WEATHER_CALL = '<tool_call>\n{"name": "get_current_weather", "arguments": {"location": "Beijing"}}\n</tool_call>';

describe('newToolCallId', () => {
  it('is call_ + 24 base62 characters, different every time', () => {
    const ids = new Set(Array.from({ length: 1000 }, newToolCallId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(ID);
  });
});

describe('parseToolCalls: <tool_call> blocks (qwen2.5, qwen3, template)', () => {
  it('parses the weather call of the seed round trip', () => {
    const parsed = parseToolCalls('qwen2.5', WEATHER_CALL);
    expect(parsed.finishReason).toBe('tool_calls');
    expect(parsed.content).toBeNull();
    expect(parsed.toolCalls).toHaveLength(1);
    const [call] = parsed.toolCalls;
    expect(call.id).toMatch(ID);
    expect(call.type).toBe('function');
    expect(call.function).toEqual({ name: 'get_current_weather', arguments: '{"location":"Beijing"}' });
    expect(typeof call.function.arguments).toBe('string');
  });

  it('gives each of two calls its own id, and keeps the text around them as content', () => {
    const text =
      'Let me look both up.\n' +
      '<tool_call>\n{"name": "get_postcode", "arguments": {"location": "Boston, MA"}}\n</tool_call>\n' +
      '<tool_call>\n{"name": "get_current_weather", "arguments": {"location": "Boston, MA", "unit": "fahrenheit"}}\n</tool_call>';
    for (const format of ['qwen2.5', 'qwen3', 'template'] as const) {
      const parsed = parseToolCalls(format, text);
      expect(parsed.content).toBe('Let me look both up.');
      expect(parsed.toolCalls.map((c) => c.function.name)).toEqual(['get_postcode', 'get_current_weather']);
      expect(parsed.toolCalls[1].function.arguments).toBe('{"location":"Boston, MA","unit":"fahrenheit"}');
      expect(parsed.toolCalls[0].id).not.toBe(parsed.toolCalls[1].id);
    }
  });

  it('renders back into the next prompt: parsed call + tool result in the qwen2.5 format', () => {
    const parsed = parseToolCalls('qwen2.5', WEATHER_CALL, { newId: counterIds() });
    const history: ChatMessage[] = [
      { role: 'user', content: QUESTION },
      { role: 'assistant', content: parsed.content, tool_calls: parsed.toolCalls },
      { role: 'tool', tool_call_id: parsed.toolCalls[0].id, content: TOOL_RESULT },
    ];
    const { prompt } = qwen25Styler.build(history);
    // The call goes back exactly as the model wrote it, so its tokens can be reused from the cache.
    expect(prompt).toContain(`<|im_start|>assistant\n${WEATHER_CALL}<|im_end|>\n`);
    expect(prompt).toContain(`<|im_start|>user\n<tool_response>\n${TOOL_RESULT}\n</tool_response><|im_end|>\n`);
  });

  it('keeps a call with invalid JSON as content and does not invent a call', () => {
    const text = 'Checking.\n<tool_call>\n{"name": "get_current_weather", "arguments": {"location": Beijing}}\n</tool_call>';
    expect(parseToolCalls('qwen2.5', text)).toEqual({ content: text, toolCalls: [], finishReason: 'stop' });

    const mixed = `${WEATHER_CALL}\n<tool_call>\nnot json\n</tool_call>`;
    const parsed = parseToolCalls('qwen2.5', mixed);
    expect(parsed.finishReason).toBe('tool_calls');
    expect(parsed.toolCalls).toHaveLength(1);
    expect(parsed.content).toBe('<tool_call>\nnot json\n</tool_call>');
  });

  it('refuses calls without a name or with non-object arguments', () => {
    for (const body of ['{"arguments": {}}', '{"name": "f", "arguments": [1]}', '{"name": "f", "arguments": "x"}', '[]']) {
      expect(parseToolCalls('qwen2.5', `<tool_call>${body}</tool_call>`).finishReason).toBe('stop');
    }
  });

  it("reads the doubled braces of grps-trtllm's format hint and arguments sent as a JSON string", () => {
    const doubled = parseToolCalls('qwen2.5', '<tool_call>\n{{"name": "f", "arguments": {"a": 1}}}\n</tool_call>');
    expect(doubled.toolCalls[0].function).toEqual({ name: 'f', arguments: '{"a":1}' });
    const stringArgs = parseToolCalls('qwen2.5', '<tool_call>{"name": "f", "arguments": "{\\"a\\": 1}"}</tool_call>');
    expect(stringArgs.toolCalls[0].function).toEqual({ name: 'f', arguments: '{"a":1}' });
    const noArgs = parseToolCalls('qwen2.5', '<tool_call>{"name": "now"}</tool_call>');
    expect(noArgs.toolCalls[0].function).toEqual({ name: 'now', arguments: '{}' });
  });

  it('leaves a block cut off by max_tokens, and plain answers, as content', () => {
    expect(parseToolCalls('qwen2.5', 'Sure.\n<tool_call>\n{"name": "get_cur')).toEqual({
      content: 'Sure.\n<tool_call>\n{"name": "get_cur',
      toolCalls: [],
      finishReason: 'stop',
    });
    expect(parseToolCalls('template', '  It is sunny.  ')).toEqual({ content: 'It is sunny.', toolCalls: [], finishReason: 'stop' });
    expect(parseToolCalls('template', '')).toEqual({ content: null, toolCalls: [], finishReason: 'stop' });
  });
});

describe('parseToolCalls: ReAct (qwen, internlm2)', () => {
  const react =
    'Thought: I need the current weather in Beijing.\nAction: get_current_weather\nAction Input: {"location": "Beijing"}\n';

  it('takes the last Action / Action Input; the Thought is the content', () => {
    for (const format of ['qwen', 'internlm2'] as const) {
      const parsed = parseToolCalls(format, react);
      expect(parsed.content).toBe('I need the current weather in Beijing.');
      expect(parsed.finishReason).toBe('tool_calls');
      expect(parsed.toolCalls[0].id).toMatch(ID);
      expect(parsed.toolCalls[0].function).toEqual({ name: 'get_current_weather', arguments: '{"location":"Beijing"}' });
    }
  });

  it('ends the arguments at an Observation the model went on to invent', () => {
    const parsed = parseToolCalls('qwen', `${react}Observation: 30 degrees\nThought: I now know`);
    expect(parsed.toolCalls[0].function.arguments).toBe('{"location":"Beijing"}');
  });

  it('reads an output that starts at Action:, without a Thought', () => {
    const parsed = parseToolCalls('qwen', 'Action: get_current_weather\nAction Input: {"location": "Beijing"}');
    expect(parsed.content).toBeNull();
    expect(parsed.toolCalls[0].function.name).toBe('get_current_weather');
  });

  it('returns the text after Final Answer: when there is no action', () => {
    expect(parseToolCalls('qwen', 'Thought: I now know the final answer\nFinal Answer: It is 22°C in Beijing.')).toEqual({
      content: 'It is 22°C in Beijing.',
      toolCalls: [],
      finishReason: 'stop',
    });
  });

  it('keeps the whole text when the Action Input is not JSON', () => {
    const text = 'Thought: weather\nAction: get_current_weather\nAction Input: Beijing';
    expect(parseToolCalls('internlm2', text)).toEqual({ content: text, toolCalls: [], finishReason: 'stop' });
  });
});

describe('parseToolCalls: glm4', () => {
  it("accepts glm4's usual `name\\n{json}` output", () => {
    const parsed = parseToolCalls('glm4', 'get_current_weather\n{"location": "Beijing"}');
    expect(parsed.content).toBeNull();
    expect(parsed.finishReason).toBe('tool_calls');
    expect(parsed.toolCalls[0].function).toEqual({ name: 'get_current_weather', arguments: '{"location":"Beijing"}' });
  });

  it('cuts the name after the last "." when <|assistant|> was skipped, or at the marker when kept', () => {
    const glued = 'I will use get_current_weather to look up Beijing.get_current_weather\n{"location": "Beijing"}';
    const kept = 'I will use get_current_weather to look up Beijing.<|assistant|>get_current_weather\n{"location": "Beijing"}';
    for (const text of [glued, kept]) {
      const parsed = parseToolCalls('glm4', text);
      expect(parsed.content).toBe('I will use get_current_weather to look up Beijing.');
      expect(parsed.toolCalls[0].function.name).toBe('get_current_weather');
    }
  });

  it('with the offered tool names, only a known name is a call', () => {
    const toolNames = ['get_current_weather'];
    expect(parseToolCalls('glm4', 'Example\n{"a": 1}', { toolNames }).finishReason).toBe('stop');
    const glued = parseToolCalls('glm4', 'Let me checkget_current_weather\n{"location": "Beijing"}', { toolNames });
    expect(glued.toolCalls[0].function.name).toBe('get_current_weather');
    expect(glued.content).toBe('Let me check');
  });

  it('keeps plain answers and broken JSON as content', () => {
    expect(parseToolCalls('glm4', '\n北京今天晴，22°C。')).toEqual({ content: '北京今天晴，22°C。', toolCalls: [], finishReason: 'stop' });
    const broken = 'get_current_weather\n{"location": "Beij';
    expect(parseToolCalls('glm4', broken)).toEqual({ content: broken, toolCalls: [], finishReason: 'stop' });
  });
});

describe('parseToolCalls: chatglm3', () => {
  it('converts the last tool_call(...) to JSON, keeping spaces inside strings', () => {
    const text = "get_current_weather\n ```python\ntool_call(location='Boston, MA', unit=\"fahrenheit\", days=3, detail=True)\n```";
    const parsed = parseToolCalls('chatglm3', text);
    expect(parsed.content).toBeNull();
    expect(parsed.toolCalls[0].function).toEqual({
      name: 'get_current_weather',
      arguments: '{"location":"Boston, MA","unit":"fahrenheit","days":3,"detail":true}',
    });
  });

  it('finds the name after the last "." before the code block', () => {
    const text =
      "The user wants to know the weather in Boston today. The function 'get_current_weather' can be used to " +
      "retrieve the weather information.get_current_weather\n ```python\ntool_call(a=1, b='x')\n```";
    const parsed = parseToolCalls('chatglm3', text);
    expect(parsed.toolCalls[0].function).toEqual({ name: 'get_current_weather', arguments: '{"a":1,"b":"x"}' });
    expect(parsed.content).toBe(
      "The user wants to know the weather in Boston today. The function 'get_current_weather' can be used to retrieve the weather information.",
    );
  });

  it('keeps text it cannot read as content', () => {
    const text = 'f\n ```python\ntool_call(location=unknown_variable)\n```';
    expect(parseToolCalls('chatglm3', text)).toEqual({ content: text, toolCalls: [], finishReason: 'stop' });
    expect(parseToolCalls('chatglm3', '\n 你好！')).toEqual({ content: '你好！', toolCalls: [], finishReason: 'stop' });
  });
});

describe('parsePythonKwargs', () => {
  it('reads literals: strings with escapes, numbers, constants, lists, tuples, dicts', () => {
    expect(parsePythonKwargs(`f(a='it\\'s', b="x\\ny", c=-1.5e3, d=None, e=[1, (2, 3)], f={'k': False}, )`)).toEqual({
      a: "it's",
      b: 'x\ny',
      c: -1500,
      d: null,
      e: [1, [2, 3]],
      f: { k: false },
    });
    expect(parsePythonKwargs('tool_call()')).toEqual({});
  });

  it('refuses positional arguments, names and unterminated code', () => {
    for (const code of ["f('x')", 'f(a=b)', "f(a='x'", 'no call', 'f(a=1 b=2)']) expect(parsePythonKwargs(code)).toBeUndefined();
  });
});

describe('parseToolCalls: llama3', () => {
  it('has no function calling: the text is the content', () => {
    expect(parseToolCalls('llama3', WEATHER_CALL)).toEqual({ content: WEATHER_CALL, toolCalls: [], finishReason: 'stop' });
  });
});
