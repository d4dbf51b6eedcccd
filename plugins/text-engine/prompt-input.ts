/**
 * The prompt of one OpenAI request as an engine that generates from a prompt takes it: the text
 * (the chat rendered with the model's template or a built-in styler) and its token ids, plus the
 * stop words the styler asks for. The in-process engine feeds the ids; the HTTP text engines
 * (Triton, TGI, DeepSpeed-MII) send the text and count usage on the ids.
 */
import type { TokenizerPool } from '../../core/tokenizer/pool.js';
import type { PromptBuilder } from './prompt/types.js';
import type { GenerationParams } from './request.js';

export interface PromptInput {
  /** The prompt's token ids (no special tokens added: the rendered text holds them). */
  ids: number[];
  /** The prompt text; undefined for a completion given as token ids. */
  text?: string;
  /** Stop strings the styler adds (the family's observation word when tools are offered). */
  stopWords: string[];
}

export async function buildPromptInput(pool: TokenizerPool, builder: PromptBuilder, params: GenerationParams): Promise<PromptInput> {
  if (params.messages && builder.style === 'template') {
    // The model's own template, rendered and encoded in one trip to a tokenizer worker: a long
    // conversation never holds the event loop.
    const chat = await pool.encodeChat(params.messages, { tools: params.tools, addGenerationPrompt: true, chatTemplateKwargs: params.chatTemplateKwargs });
    return { ids: Array.from(chat.ids), text: chat.prompt, stopWords: [] };
  }
  if (params.messages) {
    const built = builder.build(params.messages, { tools: params.tools, addGenerationPrompt: true, chatTemplateKwargs: params.chatTemplateKwargs });
    return { ids: Array.from(await pool.encode(built.prompt, { addSpecialTokens: false })), text: built.prompt, stopWords: built.stopWords };
  }
  if (params.prompt !== undefined) {
    return { ids: Array.from(await pool.encode(params.prompt, { addSpecialTokens: false })), text: params.prompt, stopWords: [] };
  }
  return { ids: params.promptTokenIds ?? [], stopWords: [] };
}
