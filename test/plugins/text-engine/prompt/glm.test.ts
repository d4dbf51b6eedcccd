import { describe, expect, it } from 'vitest';
import { chatglm3CallCode, chatglm3Styler, glm4Styler } from '../../../../plugins/text-engine/prompt/glm.js';
import { ASK, QUESTION, ROUND_TRIP, SYSTEM_AND_USER, TOOL_RESULT, WEATHER_FUNCTION_INDENTED, WEATHER_TOOL } from '../fixtures.js';

/** The function list ChatGLM3 sees: an array of bare function objects, 4-space indented. */
const CHATGLM3_FUNCTIONS = '[\n' + WEATHER_FUNCTION_INDENTED.replace(/^/gm, '    ') + '\n]';

describe('chatglm3 styler', () => {
  it('renders a system + user conversation with a space after each newline', () => {
    expect(chatglm3Styler.build(SYSTEM_AND_USER)).toEqual({
      prompt: '[gMASK]sop<|system|>\n You are a weather bot.<|user|>\n Hello<|assistant|>',
      stopWords: [],
    });
  });

  it('lists the functions as 4-space-indented JSON right after <|system|>\\n ', () => {
    expect(chatglm3Styler.build(ASK, [WEATHER_TOOL])).toEqual({
      prompt: `[gMASK]sop<|system|>\n ${CHATGLM3_FUNCTIONS}<|user|>\n ${QUESTION}<|assistant|>`,
      stopWords: ['<|observation|>'],
    });
  });

  it('renders the call as a tool_call(...) block and the result as an <|observation|> turn', () => {
    expect(chatglm3Styler.build(ROUND_TRIP, [WEATHER_TOOL]).prompt).toBe(
      `[gMASK]sop<|system|>\n ${CHATGLM3_FUNCTIONS}<|user|>\n ${QUESTION}` +
        "<|assistant|>get_current_weather\n ```python\ntool_call(location='Beijing')\n```" +
        `<|observation|>\n ${TOOL_RESULT}<|assistant|>`,
    );
  });

  it('writes arguments as Python literals', () => {
    expect(chatglm3CallCode('{"a":1,"b":"x","c":true,"d":null,"e":[1,"it\'s"],"f":{"k":2.5}}')).toBe(
      `tool_call(a=1, b='x', c=True, d=None, e=[1, "it's"], f={'k': 2.5})`,
    );
  });
});

const GLM4_TOOLS_SYSTEM =
  '<|system|>\n你是一个名为 ChatGLM 的人工智能助手。你是基于智谱AI训练的语言模型 GLM-4 模型开发的，' +
  '你的任务是针对用户的问题和要求提供适当的答复和支持。\n\n# 可用工具' +
  `\n\n## get_current_weather\n\n${WEATHER_FUNCTION_INDENTED}\n在调用上述函数时，请使用 Json 格式表示调用的参数。`;

describe('glm4 styler', () => {
  it('renders a system + user conversation after [gMASK]<sop>', () => {
    expect(glm4Styler.build(SYSTEM_AND_USER)).toEqual({
      prompt: '[gMASK]<sop><|system|>\nYou are a weather bot.<|user|>\nHello<|assistant|>',
      stopWords: [],
    });
  });

  it('lists the tools in a <|system|> turn with the Chinese preamble', () => {
    expect(glm4Styler.build(ASK, [WEATHER_TOOL])).toEqual({
      prompt: `[gMASK]<sop>${GLM4_TOOLS_SYSTEM}<|user|>\n${QUESTION}<|assistant|>`,
      stopWords: ['<|observation|>'],
    });
  });

  it('renders the call as name + JSON and the result as an <|observation|> turn', () => {
    expect(glm4Styler.build(ROUND_TRIP, [WEATHER_TOOL]).prompt).toBe(
      `[gMASK]<sop>${GLM4_TOOLS_SYSTEM}<|user|>\n${QUESTION}` +
        '<|assistant|>get_current_weather\n{"location": "Beijing"}' +
        `<|observation|>\n${TOOL_RESULT}<|assistant|>`,
    );
  });
});
