/**
 * The request driver every face uses for its completion routes: injected errors first, the
 * slow-start wait, the generation, then SSE (with the stall and crash faults) or one JSON body.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { injectedErrorMessage } from '../faults.js';
import { GenerationError } from '../generation.js';
import type { GenerationChunk, GenerationRequest, GenerationStream } from '../generation.js';
import { SseWriter } from '../sse.js';
import type { Face, FaceContext } from './common.js';

/** How one face renders a generation, streamed or whole. */
export interface GenerationFormat {
  stream: boolean;
  /** SSE frames before the first chunk (e.g. vLLM's role chunk). */
  head(): string[];
  /** SSE frames for one chunk ([] to send nothing). */
  chunk(chunk: GenerationChunk, stream: GenerationStream): string[];
  /** SSE frames after the last chunk: the usage chunk if asked for, then [DONE]. */
  tail(stream: GenerationStream): string[];
  /** The non-streaming JSON body, given the whole text and output token ids. */
  body(text: string, stream: GenerationStream, tokenIds: number[]): string;
}

export interface GenerationRoute {
  request: FastifyRequest;
  reply: FastifyReply;
  generation: GenerationRequest;
  format: GenerationFormat;
  /** Renders a request refused before it reached the engine (context length, n>1…). */
  refuse(reply: FastifyReply, error: GenerationError): FastifyReply;
}

/**
 * Runs one completion request: injected errors first (before any byte, as a gateway would see an
 * overloaded engine), the slow-start wait, the generation, then SSE with stall/crash faults or one
 * JSON body. A client that disconnects cancels the engine request at once.
 */
export async function serveGeneration(ctx: FaceContext, face: Face, route: GenerationRoute): Promise<void> {
  const { request, reply, format } = route;
  const injected = ctx.faults.pickError(request.headers['x-return-error']);
  if (injected !== null) {
    if (injected === 429) reply.header('retry-after', '1');
    await face.sendError(reply, injected, injectedErrorMessage(injected, ctx.replicaName));
    return;
  }
  const aborter = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) aborter.abort();
  });
  let stream: GenerationStream;
  try {
    await ctx.faults.waitUntilStarted(aborter.signal);
    stream = await ctx.generation.start(route.generation, aborter.signal);
  } catch (err) {
    if (aborter.signal.aborted) {
      reply.hijack();
      return;
    }
    if (err instanceof GenerationError) {
      await route.refuse(reply, err);
      return;
    }
    throw err;
  }
  if (format.stream) await streamGeneration(ctx, reply, stream, format);
  else await answerGeneration(ctx, reply, stream, format);
}

async function streamGeneration(ctx: FaceContext, reply: FastifyReply, stream: GenerationStream, format: GenerationFormat): Promise<void> {
  const sse = new SseWriter(reply);
  let sent = 0;
  // Returns true when a fault took over the connection.
  const fault = (): boolean => {
    const action = ctx.faults.streamFault(sent);
    if (action === 'continue') return false;
    stream.cancel();
    if (action === 'crash') sse.destroy();
    // 'stall': no more bytes, the socket stays open until the client or the server closes it.
    return true;
  };
  if (!(await sse.writeAll(format.head()))) return stream.cancel();
  for await (const chunk of stream) {
    if (fault()) return;
    if (!(await sse.writeAll(format.chunk(chunk, stream)))) return stream.cancel();
    sent = chunk.completionTokens;
  }
  if (stream.finish?.reason === 'abort' || fault()) return;
  if (await sse.writeAll(format.tail(stream))) sse.end();
}

async function answerGeneration(ctx: FaceContext, reply: FastifyReply, stream: GenerationStream, format: GenerationFormat): Promise<void> {
  let text = '';
  const tokenIds: number[] = [];
  for await (const chunk of stream) {
    const action = ctx.faults.streamFault(chunk.completionTokens);
    if (action !== 'continue') {
      stream.cancel();
      reply.hijack();
      if (action === 'crash') reply.raw.destroy();
      return;
    }
    text += chunk.text;
    for (const id of chunk.tokenIds) tokenIds.push(id);
  }
  if (stream.finish?.reason === 'abort') {
    reply.hijack(); // the client is gone
    return;
  }
  await reply.code(200).type('application/json').send(format.body(text, stream, tokenIds));
}
