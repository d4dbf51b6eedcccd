/**
 * ChatML families: `qwen2.5` (tools in the system turn, `<tool_call>` JSON blocks), and the ReAct
 * families `qwen` (Qwen1.5/Qwen2) and `internlm2` (Thought / Action / Action Input / Observation).
 * Formats per grps-trtllm's src/llm_styler.cc (REFERENCE §1.6).
 */
import { argumentsText } from './json-text.js';
import {
  historyToolCalls,
  isRecord,
  messageText,
  requireMessages,
  roleOf,
  toolFunctions,
} from './types.js';
import type { BuiltPrompt, ChatMessage, PromptStyler, StylerOptions, ToolFunction } from './types.js';

const IM_START = '<|im_start|>';
const IM_END = '<|im_end|>\n';

function turn(role: string, content: string): string {
  return `${IM_START}${role}\n${content}${IM_END}`;
}

// --- qwen2.5 -------------------------------------------------------------------------------

export const QWEN25_DEFAULT_SYSTEM = 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.';

/**
 * Appended to the system prompt. Two quirks of grps-trtllm's text are kept on purpose (the
 * REFERENCE calls them out): no space in "within<tool_call>" and the doubled braces of a Python
 * format string that was never formatted. Each tool is one compact JSON object.
 */
export function qwen25ToolSystem(fns: readonly ToolFunction[]): string {
  let text =
    '\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n' +
    'You are provided with function signatures within <tools></tools> XML tags:\n<tools>';
  for (const f of fns) text += '\n' + JSON.stringify(f.tool);
  text +=
    '\n</tools>\n\nFor each function call, return a json object with function name and arguments within' +
    '<tool_call></tool_call> XML tags:\n<tool_call>\n{{"name": <function-name>, "arguments":' +
    '<args-json-object>}}\n</tool_call>';
  return text;
}

export const qwen25Styler: PromptStyler = {
  name: 'qwen2.5',
  build(messages: readonly ChatMessage[], tools?: readonly unknown[], opts: StylerOptions = {}): BuiltPrompt {
    requireMessages(messages);
    const fns = toolFunctions(tools);
    const toolSystem = fns.length > 0 ? qwen25ToolSystem(fns) : '';
    const hasSystem = messages[0].role === 'system';
    const system = hasSystem ? messageText(messages[0]) : QWEN25_DEFAULT_SYSTEM;
    let prompt = turn('system', system + toolSystem);

    for (let i = hasSystem ? 1 : 0; i < messages.length; i++) {
      const message = messages[i];
      const role = roleOf(message, i);
      const text = messageText(message);
      if (role === 'tool') {
        // Consecutive results share one user turn, as the Qwen2.5 template groups them.
        const first = i === 0 || roleOf(messages[i - 1], i - 1) !== 'tool';
        const last = i === messages.length - 1 || roleOf(messages[i + 1], i + 1) !== 'tool';
        if (first) prompt += `${IM_START}user`;
        prompt += `\n<tool_response>\n${text}\n</tool_response>`;
        if (last) prompt += IM_END;
        continue;
      }
      const calls = role === 'assistant' ? historyToolCalls(message, i) : [];
      if (calls.length === 0) {
        prompt += turn(role, text);
        continue;
      }
      prompt += `${IM_START}assistant`;
      if (text !== '') prompt += `\n${text}`;
      for (const call of calls) {
        const args = argumentsText(call.arguments);
        prompt += `\n<tool_call>\n{"name": ${JSON.stringify(call.name)}, "arguments": ${args}}\n</tool_call>`;
      }
      prompt += IM_END;
    }
    if (opts.addGenerationPrompt ?? true) prompt += `${IM_START}assistant\n`;
    // The model closes a call with <|im_end|>, the engine's end id: no observation word needed.
    return { prompt, stopWords: [] };
  },
};

// --- qwen / internlm2 (ReAct) --------------------------------------------------------------

export const QWEN_DEFAULT_SYSTEM = 'You are a helpful assistant.';

export const INTERNLM2_DEFAULT_SYSTEM =
  'You are an AI assistant whose name is InternLM (书生·浦语).\n' +
  '- InternLM (书生·浦语) is a conversational language model that is developed by Shanghai AI ' +
  'Laboratory (上海人工智能实验室). It is designed to be helpful, honest, and harmless.\n' +
  '- InternLM (书生·浦语) can understand and communicate fluently in the language chosen by the user ' +
  'such as English and 中文.';

export const REACT_OBSERVATION = 'Observation:';

/** The parameters as a JSON array: each property's schema plus its `name` and `required: true`. */
function reactParameters(parameters: Record<string, unknown> | undefined): string {
  const properties = parameters !== undefined && isRecord(parameters.properties) ? parameters.properties : {};
  const required = new Set<string>();
  if (parameters !== undefined && Array.isArray(parameters.required)) {
    for (const name of parameters.required) if (typeof name === 'string') required.add(name);
  }
  const list = Object.entries(properties).map(([name, schema]) => {
    const entry: Record<string, unknown> = isRecord(schema) ? { ...schema } : {};
    entry.name = name;
    if (required.has(name)) entry.required = true;
    return entry;
  });
  return JSON.stringify(list);
}

/** The ReAct preamble that opens the first user turn of a tool request. */
export function reactToolPreamble(fns: readonly ToolFunction[]): string {
  const described = fns.map(
    (f) =>
      `${f.name}: Call this tool to interact with the ${f.name} API. What is the ${f.name} API useful for? ` +
      `${f.description} Parameters: ${reactParameters(f.parameters)} Format the arguments as a JSON object.`,
  );
  return (
    'Answer the following questions as best you can. You have access to the following APIs:\n\n' +
    described.join('\n\n') +
    '\n\nUse the following format:\n\n' +
    'Question: the input question you must answer\n' +
    'Thought: you should always think about what to do\n' +
    `Action: the action to take, should be one of [${fns.map((f) => f.name).join(', ')}]\n` +
    'Action Input: the input to the action\n' +
    'Observation: the result of the action\n' +
    '... (this Thought/Action/Action Input/Observation can be repeated zero or more times)\n' +
    'Thought: I now know the final answer\n' +
    'Final Answer: the final answer to the original input question\n\n' +
    'Begin!'
  );
}

/** content.lstrip('\n').rstrip(), as Qwen's ReAct demo does before wrapping a turn. */
function reactTrim(text: string): string {
  return text.replace(/^\n+/, '').trimEnd();
}

function buildReact(
  messages: readonly ChatMessage[],
  tools: readonly unknown[] | undefined,
  opts: StylerOptions,
  bos: string,
  defaultSystem: string,
): BuiltPrompt {
  requireMessages(messages);
  const fns = toolFunctions(tools);
  const withTools = fns.length > 0;
  let preamble = withTools ? reactToolPreamble(fns) : '';
  const hasSystem = messages[0].role === 'system';
  let prompt = bos + turn('system', hasSystem ? messageText(messages[0]) : defaultSystem);

  for (let i = hasSystem ? 1 : 0; i < messages.length; i++) {
    const message = messages[i];
    const role = roleOf(message, i);
    const text = messageText(message);
    const calls = role === 'assistant' ? historyToolCalls(message, i) : [];
    // Tool calls and results keep the ReAct form even when this request offers no tools, so a
    // history renders the same way on every turn.
    if (role === 'tool') {
      prompt += turn('function', reactTrim(`${REACT_OBSERVATION} ${text}`));
    } else if (calls.length > 0) {
      const steps = calls.map((call, j) => {
        // The parser hands the Thought back as `content`: render it again when the client kept it.
        const thought = j === 0 && text.trim() !== '' ? text.trim() : `I can use ${call.name}.`;
        return `Thought: ${thought}\nAction: ${call.name}\nAction Input: ${argumentsText(call.arguments)}`;
      });
      prompt += turn('assistant', reactTrim(steps.join('\n')));
    } else if (!withTools) {
      prompt += turn(role, text);
    } else if (role === 'user') {
      const question = `Question: ${text}`;
      prompt += turn('user', reactTrim(preamble === '' ? question : `${preamble}\n\n${question}`));
      preamble = '';
    } else if (role === 'assistant' && text !== '') {
      prompt += turn('assistant', reactTrim(`Thought: I now know the final answer\nFinal Answer: ${text}`));
    } else {
      prompt += turn(role, reactTrim(text));
    }
  }
  if (opts.addGenerationPrompt ?? true) prompt += `${IM_START}assistant\n`;
  return { prompt, stopWords: withTools ? [REACT_OBSERVATION] : [] };
}

export const qwenStyler: PromptStyler = {
  name: 'qwen',
  build(messages, tools, opts = {}) {
    return buildReact(messages, tools, opts, '', QWEN_DEFAULT_SYSTEM);
  },
};

export const internlm2Styler: PromptStyler = {
  name: 'internlm2',
  build(messages, tools, opts = {}) {
    return buildReact(messages, tools, opts, '<s>', INTERNLM2_DEFAULT_SYSTEM);
  },
};
