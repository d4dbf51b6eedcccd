/**
 * Shared shapes for the prompt builders of the text-engine plugins (in-process TensorRT-LLM,
 * Triton, TGI, DeepSpeed-MII), and the request
 * validation every styler needs (tools, messages, assistant tool calls).
 *
 * A builder turns an OpenAI chat request into one prompt string that the plugin then encodes
 * without adding special tokens: everything the model needs (BOS, `[gMASK]<sop>`, role markers)
 * is in the text.
 */
import type { ChatMessage } from '../../../core/tokenizer/tokenizer.js';

export type { ChatMessage };

/** Built-in stylers, for models whose chat template is missing or wrong (grps-trtllm's families). */
export type BuiltinStyle = 'qwen2.5' | 'qwen' | 'chatglm3' | 'glm4' | 'internlm2' | 'llama3';

/** `template` renders the model's own chat template (tokenizer_config.json), the default. */
export type PromptStyle = 'template' | BuiltinStyle;

export interface PromptBuildOptions {
  /** OpenAI `tools`; an empty list is the same as none. */
  tools?: readonly unknown[];
  /** End with the assistant header so the model answers. Default true. */
  addGenerationPrompt?: boolean;
  /** Extra template variables (vLLM's chat_template_kwargs); only the `template` style reads them. */
  chatTemplateKwargs?: Record<string, unknown>;
}

export interface BuiltPrompt {
  prompt: string;
  /**
   * Stop strings the request must add: the family's observation word when tools are offered
   * (the model would otherwise go on to invent the tool's result). Empty without tools.
   */
  stopWords: string[];
}

/** What a text-engine plugin holds per model: builds the prompt for one chat request. */
export interface PromptBuilder {
  readonly style: PromptStyle;
  build(messages: readonly ChatMessage[], opts?: PromptBuildOptions): BuiltPrompt;
}

export type StylerOptions = Pick<PromptBuildOptions, 'addGenerationPrompt'>;

/** One built-in family: its own role markers, default system prompt and tool format. */
export interface PromptStyler {
  readonly name: BuiltinStyle;
  build(messages: readonly ChatMessage[], tools?: readonly unknown[], opts?: StylerOptions): BuiltPrompt;
}

/**
 * A request the styler cannot render (bad tool spec, unknown role, tools for a family without
 * function calling). `param` is the request path, for a 400 `invalid_request_error`.
 */
export class PromptError extends Error {
  constructor(message: string, readonly param: string) {
    super(message);
    this.name = 'PromptError';
  }
}

/** A function the request offers: the OpenAI tool object and its `function` member. */
export interface ToolFunction {
  tool: Record<string, unknown>;
  fn: Record<string, unknown>;
  name: string;
  description: string;
  parameters: Record<string, unknown> | undefined;
}

/** An assistant tool call from the history, arguments as the client sent them (a JSON string). */
export interface HistoryToolCall {
  name: string;
  arguments: string;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function toolFunctions(tools: readonly unknown[] | undefined): ToolFunction[] {
  if (tools === undefined) return [];
  return tools.map((tool, i) => {
    if (!isRecord(tool) || (tool.type !== undefined && tool.type !== 'function')) {
      throw new PromptError('only tools of type "function" are supported', `tools[${i}].type`);
    }
    const fn = tool.function;
    if (!isRecord(fn) || typeof fn.name !== 'string' || fn.name === '') {
      throw new PromptError('tool function name must be a non-empty string', `tools[${i}].function.name`);
    }
    const description = typeof fn.description === 'string' ? fn.description : '';
    const parameters = isRecord(fn.parameters) ? fn.parameters : undefined;
    return { tool, fn, name: fn.name, description, parameters };
  });
}

/** Text parts joined with '\n' (as the tokenizer does for templates); null and absent are ''. */
export function messageText(message: ChatMessage): string {
  const content = message.content;
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  const texts: string[] = [];
  for (const part of content) if (typeof part.text === 'string') texts.push(part.text);
  return texts.join('\n');
}

export type Role = 'system' | 'user' | 'assistant' | 'tool';

/** The message's role; `function` (OpenAI's legacy tool result) counts as `tool`. */
export function roleOf(message: ChatMessage, index: number): Role {
  switch (message.role) {
    case 'system':
    case 'user':
    case 'assistant':
    case 'tool':
      return message.role;
    case 'function':
      return 'tool';
    default:
      throw new PromptError(`unsupported message role "${message.role}"`, `messages[${index}].role`);
  }
}

/** The assistant message's tool calls; arguments given as an object are serialised to JSON. */
export function historyToolCalls(message: ChatMessage, index: number): HistoryToolCall[] {
  if (message.tool_calls === undefined) return [];
  return message.tool_calls.map((call, j) => {
    const path = `messages[${index}].tool_calls[${j}].function`;
    const fn = isRecord(call) ? call.function : undefined;
    if (!isRecord(fn) || typeof fn.name !== 'string') {
      throw new PromptError('tool call needs a function name', `${path}.name`);
    }
    const args = fn.arguments;
    if (typeof args === 'string') return { name: fn.name, arguments: args };
    if (args === undefined || isRecord(args)) return { name: fn.name, arguments: JSON.stringify(args ?? {}) };
    throw new PromptError('tool call arguments must be a JSON string', `${path}.arguments`);
  });
}

export function requireMessages(messages: readonly ChatMessage[]): void {
  if (messages.length === 0) throw new PromptError('messages must not be empty', 'messages');
}
