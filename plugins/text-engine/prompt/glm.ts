/**
 * GLM families. Both write a turn as `<|role|>{metadata}\n{content}`, where the metadata of an
 * assistant tool call is the function name, and tool results are `<|observation|>` turns.
 *
 * - `chatglm3`: `[gMASK]sop` prefix; a space after each turn's newline (the SentencePiece dummy
 *   prefix, THUDM/chatglm3-6b's template writes it as `\n `); functions as 4-space-indented JSON
 *   right after `<|system|>\n `; calls as a Python block `tool_call(k='v')`.
 * - `glm4`: `[gMASK]<sop>` prefix; a `<|system|>` turn with the Chinese preamble, `# 可用工具`,
 *   `## {name}` and the function's JSON; calls as `{name}\n{json arguments}`.
 *
 * Both end the generation prompt with a bare `<|assistant|>`: the model writes the metadata line
 * itself (empty for a plain answer, the function name for a call).
 */
import { pythonJson, pythonLiteral } from './json-text.js';
import { historyToolCalls, isRecord, messageText, requireMessages, roleOf, toolFunctions } from './types.js';
import type { BuiltPrompt, ChatMessage, HistoryToolCall, PromptStyler, Role, StylerOptions } from './types.js';

export const GLM_OBSERVATION = '<|observation|>';

const GLM_ROLE: Record<Role, string> = {
  system: '<|system|>',
  user: '<|user|>',
  assistant: '<|assistant|>',
  tool: GLM_OBSERVATION,
};

interface GlmDialect {
  /** Written between a turn's newline and its content. */
  contentLead: string;
  /** A plain turn with empty content is left out (GLM-4's template skips it). */
  skipEmpty: boolean;
  renderCall(call: HistoryToolCall): string;
}

function renderGlmMessages(messages: readonly ChatMessage[], dialect: GlmDialect): string {
  let prompt = '';
  messages.forEach((message, i) => {
    const role = roleOf(message, i);
    const text = messageText(message);
    const calls = role === 'assistant' ? historyToolCalls(message, i) : [];
    if (text !== '' || (!dialect.skipEmpty && calls.length === 0)) {
      prompt += `${GLM_ROLE[role]}\n${dialect.contentLead}${text}`;
    }
    for (const call of calls) prompt += GLM_ROLE.assistant + dialect.renderCall(call);
  });
  return prompt;
}

function parsedArguments(args: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(args);
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

// --- chatglm3 ------------------------------------------------------------------------------

/** `tool_call(location='Boston', unit='celsius')`, as ChatGLM3 writes a call. */
export function chatglm3CallCode(args: string): string {
  const parsed = parsedArguments(args);
  if (parsed === undefined) return `tool_call(${args})`;
  const kwargs = Object.entries(parsed).map(([k, v]) => `${k}=${pythonLiteral(v)}`);
  return `tool_call(${kwargs.join(', ')})`;
}

export const chatglm3Styler: PromptStyler = {
  name: 'chatglm3',
  build(messages: readonly ChatMessage[], tools?: readonly unknown[], opts: StylerOptions = {}): BuiltPrompt {
    requireMessages(messages);
    const fns = toolFunctions(tools);
    let prompt = '[gMASK]sop';
    // ChatGLM3 was tuned on the bare function objects (name, description, parameters).
    if (fns.length > 0) prompt += `${GLM_ROLE.system}\n ${pythonJson(fns.map((f) => f.fn), 4)}`;
    prompt += renderGlmMessages(messages, {
      contentLead: ' ',
      skipEmpty: false,
      renderCall: (call) => `${call.name}\n \`\`\`python\n${chatglm3CallCode(call.arguments)}\n\`\`\``,
    });
    if (opts.addGenerationPrompt ?? true) prompt += GLM_ROLE.assistant;
    return { prompt, stopWords: fns.length > 0 ? [GLM_OBSERVATION] : [] };
  },
};

// --- glm4 ----------------------------------------------------------------------------------

export const GLM4_DEFAULT_SYSTEM =
  '你是一个名为 ChatGLM 的人工智能助手。你是基于智谱AI训练的语言模型 GLM-4 模型开发的，' +
  '你的任务是针对用户的问题和要求提供适当的答复和支持。';

const GLM4_TOOL_SUFFIX = '\n在调用上述函数时，请使用 Json 格式表示调用的参数。';

export const glm4Styler: PromptStyler = {
  name: 'glm4',
  build(messages: readonly ChatMessage[], tools?: readonly unknown[], opts: StylerOptions = {}): BuiltPrompt {
    requireMessages(messages);
    const fns = toolFunctions(tools);
    let prompt = '[gMASK]<sop>';
    if (fns.length > 0) {
      prompt += `${GLM_ROLE.system}\n${GLM4_DEFAULT_SYSTEM}\n\n# 可用工具`;
      for (const f of fns) prompt += `\n\n## ${f.name}\n\n${pythonJson(f.fn, 4)}${GLM4_TOOL_SUFFIX}`;
    }
    prompt += renderGlmMessages(messages, {
      contentLead: '',
      skipEmpty: true,
      renderCall: (call) => {
        const parsed = parsedArguments(call.arguments);
        return `${call.name}\n${parsed === undefined ? call.arguments : pythonJson(parsed)}`;
      },
    });
    if (opts.addGenerationPrompt ?? true) prompt += GLM_ROLE.assistant;
    return { prompt, stopWords: fns.length > 0 ? [GLM_OBSERVATION] : [] };
  },
};
