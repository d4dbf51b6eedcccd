/**
 * Turns a model's complete output into an OpenAI assistant message: `content` and `tool_calls`.
 * One parser per output format (REFERENCE §1.6):
 *
 * - `qwen2.5`, `qwen3`, `template`: every `<tool_call>{json}</tool_call>` block is a call.
 * - `qwen`, `internlm2`: ReAct, the last `Action:` / `Action Input:` pair; else `Final Answer:`.
 * - `glm4`: `{name}\n{json arguments}` at the end of the output.
 * - `chatglm3`: `{name}\n ```python\ntool_call(k=v)\n````.
 * - `llama3`: no function calling.
 *
 * Differences from grps-trtllm, on purpose: every call gets its own id (grps gives all calls of a
 * response the same `call_<req_id>`, which breaks clients that match results to calls by id);
 * a call whose JSON does not parse is not invented (its text stays in `content`); and arguments
 * are always a JSON object serialised as a string.
 */
import { randomBytes } from 'node:crypto';
import type { PromptStyle } from '../prompt/types.js';
import { parsePythonKwargs } from './python-args.js';

export type ToolCallFormat = PromptStyle | 'qwen3';

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ParsedOutput {
  content: string | null;
  toolCalls: ToolCall[];
  /** `tool_calls` only when at least one call parsed. */
  finishReason: 'stop' | 'tool_calls';
}

export interface ParseOptions {
  /**
   * Names of the functions the request offered. The glm4 and chatglm3 formats find the name by
   * position in free text, so with names given only a known one counts as a call (and a name
   * glued to the preceding sentence, `…Boston.get_weather`, is cut at the known name).
   */
  toolNames?: readonly string[];
  /** Id generator, for tests; default newToolCallId. */
  newId?: () => string;
}

export interface FunctionCall {
  name: string;
  arguments: string;
}

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `call_` + 24 random base62 characters, as OpenAI's ids look. */
export function newToolCallId(): string {
  let id = 'call_';
  while (id.length < 29) {
    for (const byte of randomBytes(32)) {
      // 248 = 4 * 62: rejecting the rest keeps every character equally likely.
      if (byte >= 248) continue;
      id += BASE62[byte % 62];
      if (id.length === 29) break;
    }
  }
  return id;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A JSON object (or a string holding one) as the compact JSON string OpenAI sends. */
function argumentsJson(value: unknown): string | undefined {
  const object = typeof value === 'string' ? tryJson(value) : value;
  return isRecord(object) ? JSON.stringify(object) : undefined;
}

/**
 * The body of a `<tool_call>` block: `{"name": …, "arguments": {…}}`. Also reads the doubled
 * braces `{{…}}` a model copies from grps-trtllm's qwen2.5 format hint.
 */
export function parseToolCallJson(body: string): FunctionCall | undefined {
  const text = body.trim();
  let value = tryJson(text);
  if (value === undefined && text.startsWith('{{') && text.endsWith('}}')) value = tryJson(text.slice(1, -1));
  if (!isRecord(value) || typeof value.name !== 'string' || value.name === '') return undefined;
  const args = argumentsJson(value.arguments ?? {});
  return args === undefined ? undefined : { name: value.name, arguments: args };
}

export const TOOL_CALL_OPEN = '<tool_call>';
export const TOOL_CALL_CLOSE = '</tool_call>';

function result(content: string, calls: FunctionCall[], opts: ParseOptions): ParsedOutput {
  const newId = opts.newId ?? newToolCallId;
  const trimmed = content.trim();
  return {
    content: trimmed === '' ? null : trimmed,
    toolCalls: calls.map((call) => ({ id: newId(), type: 'function', function: { ...call } })),
    finishReason: calls.length > 0 ? 'tool_calls' : 'stop',
  };
}

function parseTaggedCalls(text: string, opts: ParseOptions): ParsedOutput {
  const calls: FunctionCall[] = [];
  let content = '';
  let pos = 0;
  while (pos < text.length) {
    const open = text.indexOf(TOOL_CALL_OPEN, pos);
    const close = open < 0 ? -1 : text.indexOf(TOOL_CALL_CLOSE, open + TOOL_CALL_OPEN.length);
    if (close < 0) break; // no block, or one cut off by max_tokens: it stays text
    content += text.slice(pos, open);
    const call = parseToolCallJson(text.slice(open + TOOL_CALL_OPEN.length, close));
    pos = close + TOOL_CALL_CLOSE.length;
    if (call === undefined) content += text.slice(open, pos);
    else calls.push(call);
  }
  return result(content + text.slice(pos), calls, opts);
}

/** Start of the last `needle` that ends at or before `end`. */
function lastIndexBefore(text: string, needle: string, end: number): number {
  return end < needle.length ? -1 : text.lastIndexOf(needle, end - needle.length);
}

function parseReact(text: string, opts: ParseOptions): ParsedOutput {
  // A leading '\n' lets an output that opens with "Action:" match like any other line.
  const t = '\n' + text;
  const action = t.lastIndexOf('\nAction:');
  const input = t.lastIndexOf('\nAction Input:');
  if (action >= 0 && input > action) {
    const name = t.slice(action + '\nAction:'.length, input).trim();
    const observation = t.indexOf('\nObservation:', input);
    const argsText = t.slice(input + '\nAction Input:'.length, observation < 0 ? t.length : observation);
    const args = argumentsJson(tryJson(argsText.trim()));
    if (name !== '' && !/\s/.test(name) && args !== undefined) {
      const thoughtAt = lastIndexBefore(t, 'Thought:', action);
      const thought = thoughtAt < 0 ? t.slice(0, action) : t.slice(thoughtAt + 'Thought:'.length, action);
      return result(thought, [{ name, arguments: args }], opts);
    }
  }
  const answerAt = text.lastIndexOf('Final Answer:');
  return result(answerAt < 0 ? text : text.slice(answerAt + 'Final Answer:'.length), [], opts);
}

/**
 * The function name that ends `head`: the identifier run after the last '.', space or newline
 * (OpenAI names are [A-Za-z0-9_-]). GLM models put it right after their `<|assistant|>` token, which
 * vanishes when special tokens are skipped, so it is often glued to the sentence before.
 */
function trailingName(head: string, toolNames: readonly string[] | undefined): string | undefined {
  const run = /[A-Za-z0-9_-]+$/.exec(head)?.[0];
  if (run === undefined) return undefined;
  if (toolNames === undefined || toolNames.length === 0) return run;
  let best: string | undefined;
  for (const name of toolNames) {
    if (run.endsWith(name) && (best === undefined || name.length > best.length)) best = name;
  }
  return best;
}

/** Text before the name, without the `<|assistant|>` turn markers the model wrote. */
function leadText(head: string, name: string): string {
  return head.slice(0, head.length - name.length).replaceAll('<|assistant|>', '');
}

function parseGlm4(text: string, opts: ParseOptions): ParsedOutput {
  const brace = text.lastIndexOf('\n{');
  if (brace >= 0) {
    const args = argumentsJson(tryJson(text.slice(brace + 1).trim()));
    const head = text.slice(0, brace).trimEnd();
    const name = trailingName(head, opts.toolNames);
    if (args !== undefined && name !== undefined) return result(leadText(head, name), [{ name, arguments: args }], opts);
  }
  return result(text.replaceAll('<|assistant|>', ''), [], opts);
}

function parseChatglm3(text: string, opts: ParseOptions): ParsedOutput {
  const fence = /\n ?```python\n/g;
  let marker: RegExpExecArray | null = null;
  for (let m = fence.exec(text); m !== null; m = fence.exec(text)) marker = m;
  if (marker !== null) {
    const codeStart = marker.index + marker[0].length;
    const codeEnd = text.indexOf('```', codeStart);
    const args = parsePythonKwargs(text.slice(codeStart, codeEnd < 0 ? text.length : codeEnd));
    const head = text.slice(0, marker.index).trimEnd();
    const name = trailingName(head, opts.toolNames);
    if (args !== undefined && name !== undefined) {
      return result(leadText(head, name), [{ name, arguments: JSON.stringify(args) }], opts);
    }
  }
  return result(text.replaceAll('<|assistant|>', ''), [], opts);
}

/**
 * Parses a complete output. Call it only for requests that offered tools: without tools, the
 * output is plain content (and glm4's `name\n{json}` shape could match ordinary text).
 */
export function parseToolCalls(format: ToolCallFormat, text: string, opts: ParseOptions = {}): ParsedOutput {
  switch (format) {
    case 'template':
    case 'qwen3':
    case 'qwen2.5':
      return parseTaggedCalls(text, opts);
    case 'qwen':
    case 'internlm2':
      return parseReact(text, opts);
    case 'glm4':
      return parseGlm4(text, opts);
    case 'chatglm3':
      return parseChatglm3(text, opts);
    case 'llama3':
      return result(text, [], opts);
    default: {
      const unknown: never = format;
      throw new Error(`unknown tool-call format "${String(unknown)}"`);
    }
  }
}
