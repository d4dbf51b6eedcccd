/**
 * The one module that loads the engine model's addon. Everything else imports `Engine` from here
 * (the gateway's accept-queue drain, a separate addon, loads in native/accept.ts).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../core/util/package-root.js';
import type {
  EngineOptions,
  EngineRequest,
  EngineResponse,
  EngineSnapshot,
  IterationStats,
  KvCacheEvent,
  ResponseBatch,
  ResponseListener,
} from './types.js';

export type * from './types.js';

/** The native class, as native/src/addon.cc defines it. */
interface NativeEngine {
  enqueue(request: EngineRequest): number;
  cancel(requestId: number): boolean;
  step(): EngineResponse[];
  advanceTo(ms: number): void;
  nowMs(): number;
  snapshot(): EngineSnapshot;
  getLatestIterationStats(): IterationStats[];
  getLatestKvEvents(): KvCacheEvent[];
  close(): void;
}

interface NativeBinding {
  Engine: new (options: EngineOptions, listener: ResponseListener | undefined) => NativeEngine;
  hasTensorRtLlm: boolean;
}

function loadBinding(): NativeBinding {
  const file = path.join(packageRoot(import.meta.url), 'native', 'build', 'Release', 'switchyard_engine.node');
  if (!existsSync(file)) {
    throw new Error(`switchyard: the native engine is not built (${file} is missing); run \`npm install\``);
  }
  return createRequire(import.meta.url)(file) as NativeBinding;
}

const binding = loadBinding();

/** Every response of a batch as an array (tests and small batches; a stream reads them one by one). */
export function responsesOf(batch: ResponseBatch): EngineResponse[] {
  const out: EngineResponse[] = new Array(batch.length);
  for (let i = 0; i < batch.length; i++) out[i] = batch.at(i);
  return out;
}

/** The engine refused a request because its queue is full (retry later, or elsewhere). */
export function isQueueFull(err: unknown): boolean {
  return err instanceof Error && (err as Error & { code?: unknown }).code === 'ENGINE_QUEUE_FULL';
}

/** True when the addon was compiled against TensorRT-LLM (TRTLLM_ROOT at build time). */
export const hasTensorRtLlm: boolean = binding.hasTensorRtLlm;

/**
 * An inference engine. With `clock: 'real'` an engine thread runs the step loop and hands batches
 * of responses to `listener` on the JS thread; with `clock: 'manual'` each `step()` runs one
 * iteration and returns its responses. `close()` stops and joins every native thread.
 */
export class Engine {
  private readonly native: NativeEngine;
  private closed = false;

  constructor(options: EngineOptions, listener?: ResponseListener) {
    if ((options.clock ?? 'real') === 'real' && !listener) {
      throw new Error('switchyard: an engine with a real clock needs a response listener');
    }
    this.native = new binding.Engine(options, listener);
  }

  /**
   * Queue a request; returns its id. Throws on an invalid request; on a full queue the error's
   * `code` is ENGINE_QUEUE_FULL (see isQueueFull).
   */
  enqueue(request: EngineRequest): number {
    return this.native.enqueue(request);
  }

  /** Cancel a request; its final response (finishReason 'cancelled') follows. False if unknown. */
  cancel(requestId: number): boolean {
    return this.native.cancel(requestId);
  }

  /** Run one iteration (manual clock only). */
  step(): EngineResponse[] {
    return this.native.step();
  }

  /** Move model time forward to `ms` while idle (manual clock only). */
  advanceTo(ms: number): void {
    this.native.advanceTo(ms);
  }

  nowMs(): number {
    return this.native.nowMs();
  }

  snapshot(): EngineSnapshot {
    return this.native.snapshot();
  }

  /** Iteration stats since the previous call; every call drains them. */
  getLatestIterationStats(): IterationStats[] {
    return this.native.getLatestIterationStats();
  }

  /** KV-cache events since the previous call; every call drains them. */
  getLatestKvEvents(): KvCacheEvent[] {
    return this.native.getLatestKvEvents();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.close();
  }
}
