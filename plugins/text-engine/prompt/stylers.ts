/**
 * Prompt builders for the text-engine plugins (trtllm, triton-trtllm, tgi, deepspeed-mii). The model's own chat template is the
 * default; the built-in stylers (grps-trtllm's families, REFERENCE §1.6) are for models whose
 * tokenizer_config has no template or a wrong one.
 */
import type { ChatTemplateOptions } from '../../../core/tokenizer/tokenizer.js';
import { chatglm3Styler, glm4Styler } from './glm.js';
import { llama3Styler } from './llama.js';
import { internlm2Styler, qwen25Styler, qwenStyler } from './qwen.js';
import type {
  BuiltinStyle,
  BuiltPrompt,
  ChatMessage,
  PromptBuilder,
  PromptBuildOptions,
  PromptStyle,
  PromptStyler,
} from './types.js';

export { chatglm3Styler, glm4Styler } from './glm.js';
export { llama3Styler } from './llama.js';
export { internlm2Styler, qwen25Styler, qwenStyler } from './qwen.js';
export { PromptError } from './types.js';
export type {
  BuiltinStyle,
  BuiltPrompt,
  PromptBuilder,
  PromptBuildOptions,
  PromptStyle,
  PromptStyler,
  StylerOptions,
} from './types.js';

/** What the `template` builder needs from a tokenizer; core's Tokenizer satisfies it. */
export interface ChatTemplateRenderer {
  applyChatTemplate(messages: ChatMessage[], opts?: ChatTemplateOptions): string;
}

export const BUILTIN_STYLERS: Readonly<Record<BuiltinStyle, PromptStyler>> = {
  'qwen2.5': qwen25Styler,
  qwen: qwenStyler,
  chatglm3: chatglm3Styler,
  glm4: glm4Styler,
  internlm2: internlm2Styler,
  llama3: llama3Styler,
};

export const PROMPT_STYLES: readonly PromptStyle[] = ['template', ...(Object.keys(BUILTIN_STYLERS) as BuiltinStyle[])];

/** For config validation: is this string a style createPromptBuilder accepts? */
export function isPromptStyle(value: unknown): value is PromptStyle {
  return typeof value === 'string' && (PROMPT_STYLES as readonly string[]).includes(value);
}

/**
 * Renders the model's own template with the tools. Templates that call tools through the engine's
 * end id (Qwen2.5/Qwen3 close a call with `<|im_end|>`) need no observation word.
 */
export function templatePromptBuilder(tokenizer: ChatTemplateRenderer): PromptBuilder {
  return {
    style: 'template',
    build(messages: readonly ChatMessage[], opts: PromptBuildOptions = {}): BuiltPrompt {
      const prompt = tokenizer.applyChatTemplate([...messages], {
        tools: opts.tools === undefined ? undefined : [...opts.tools],
        addGenerationPrompt: opts.addGenerationPrompt ?? true,
        chatTemplateKwargs: opts.chatTemplateKwargs,
      });
      return { prompt, stopWords: [] };
    },
  };
}

function stylerPromptBuilder(styler: PromptStyler): PromptBuilder {
  return {
    style: styler.name,
    build(messages: readonly ChatMessage[], opts: PromptBuildOptions = {}): BuiltPrompt {
      return styler.build(messages, opts.tools, { addGenerationPrompt: opts.addGenerationPrompt });
    },
  };
}

/**
 * The builder for a configured style. `tokenizer` is needed only for `template`; an unknown style
 * is an error, never a silent fallback.
 */
export function createPromptBuilder(style: PromptStyle, tokenizer?: ChatTemplateRenderer): PromptBuilder {
  if (style === 'template') {
    if (tokenizer === undefined) throw new Error('prompt style "template" needs the model tokenizer');
    return templatePromptBuilder(tokenizer);
  }
  const styler: PromptStyler | undefined = Object.hasOwn(BUILTIN_STYLERS, style) ? BUILTIN_STYLERS[style] : undefined;
  if (styler === undefined) {
    throw new Error(`unknown prompt style "${String(style)}"; expected one of ${PROMPT_STYLES.join(', ')}`);
  }
  return stylerPromptBuilder(styler);
}
