/**
 * Worker-thread entry of TokenizerPool: holds one Tokenizer and answers requests from the pool.
 *
 * The protocol types live here so that pool.ts can import them as types only; importing this
 * module for its side effects anywhere but in a worker does nothing (there is no parentPort).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { Tokenizer } from './tokenizer.js';
import { SegmentCache } from './segment-cache.js';
import type { ChatMessage, ChatTemplateOptions, DecodeOptions, EncodeOptions, ForcedToken } from './tokenizer.js';

export interface WorkerInit {
  tokenizerJsonPath: string;
  tokenizerConfigPath: string;
  forceTokens?: ForcedToken[];
}

export type WorkerRequest =
  | { id: number; op: 'encode'; text: string; opts: EncodeOptions }
  | { id: number; op: 'decode'; ids: Int32Array; opts: DecodeOptions }
  | { id: number; op: 'applyChatTemplate'; messages: ChatMessage[]; opts: ChatTemplateOptions }
  | { id: number; op: 'encodeChat'; messages: ChatMessage[]; opts: ChatTemplateOptions }
  /** Texts encoded one by one, without added framing (segments of a rendered prompt). */
  | { id: number; op: 'encodeMany'; texts: string[] }
  /** Fault injection for tests: the worker dies with an uncaught error, like a real crash. */
  | { id: number; op: 'crash' };

export type WorkerResult = Int32Array | Int32Array[] | string | { prompt: string; ids: Int32Array };

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: WorkerResult }
  | { type: 'error'; id: number; name: string; message: string };

function isWorkerInit(value: unknown): value is WorkerInit {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.tokenizerJsonPath === 'string' && typeof v.tokenizerConfigPath === 'string';
}

function handle(tokenizer: Tokenizer, segments: SegmentCache, req: WorkerRequest): { result: WorkerResult; transfer: ArrayBuffer[] } {
  switch (req.op) {
    case 'encode': {
      const ids = tokenizer.encode(req.text, req.opts);
      return { result: ids, transfer: [ids.buffer as ArrayBuffer] };
    }
    case 'decode':
      return { result: tokenizer.decode(req.ids, req.opts), transfer: [] };
    case 'applyChatTemplate':
      return { result: tokenizer.applyChatTemplate(req.messages, req.opts), transfer: [] };
    case 'encodeChat': {
      const prompt = tokenizer.applyChatTemplate(req.messages, req.opts);
      // Chat prompts repeat long prefixes (system prompts, earlier turns): cached by segment.
      const ids = segments.encodeText(prompt);
      return { result: { prompt, ids }, transfer: [ids.buffer as ArrayBuffer] };
    }
    case 'encodeMany': {
      const all = req.texts.map((t) => tokenizer.encode(t));
      return { result: all, transfer: all.map((ids) => ids.buffer as ArrayBuffer) };
    }
    case 'crash':
      throw new CrashRequested();
  }
}

class CrashRequested extends Error {
  constructor() {
    super('tokenizer worker crash requested');
    this.name = 'CrashRequested';
  }
}

function serve(port: MessagePort, init: WorkerInit): void {
  // Loading takes ~0.5 s; the pool queues requests meanwhile (the port buffers them).
  const tokenizer = Tokenizer.fromFiles(init.tokenizerJsonPath, init.tokenizerConfigPath, init.forceTokens);
  const segments = new SegmentCache(tokenizer.addedTokenPattern, (text) => tokenizer.encode(text));
  port.on('message', (req: WorkerRequest) => {
    let reply: { result: WorkerResult; transfer: ArrayBuffer[] };
    try {
      reply = handle(tokenizer, segments, req);
    } catch (err) {
      // Escaping the message handler makes it an uncaught exception, which ends the thread.
      if (err instanceof CrashRequested) throw err;
      const e = err instanceof Error ? err : new Error(String(err));
      const msg: WorkerMessage = { type: 'error', id: req.id, name: e.name, message: e.message };
      port.postMessage(msg);
      return;
    }
    const msg: WorkerMessage = { type: 'result', id: req.id, result: reply.result };
    port.postMessage(msg, reply.transfer);
  });
  const ready: WorkerMessage = { type: 'ready' };
  port.postMessage(ready);
}

if (parentPort !== null) {
  const init: unknown = workerData;
  if (!isWorkerInit(init)) throw new Error('tokenizer worker started without tokenizer paths');
  serve(parentPort, init);
}
