/**
 * The request driver every face uses for its completion routes: injected errors first, the
 * slow-start wait, the generation, then SSE (with the stall, crash and engine-failure faults) or
 * one JSON body.
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
  /**
   * SSE frames written just before the first chunk (vLLM's role chunk). The engines write them
   * once the first output is back from the engine, not when the request arrives, so a client's
   * first byte never comes before the engine's first token.
   */
  head(stream: GenerationStream): string[];
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
 * overloaded engine), the slow-start wait, the generation, then SSE with stall/crash/engine-failure
 * faults or one JSON body. A client that disconnects cancels the engine request at once.
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
  if (format.stream) await streamGeneration(ctx, face, reply, stream, format);
  else await answerGeneration(ctx, face, reply, stream, format);
}

async function streamGeneration(ctx: FaceContext, face: Face, reply: FastifyReply, stream: GenerationStream, format: GenerationFormat): Promise<void> {
  const sse = new SseWriter(reply);
  let sent = 0;
  let started = false;
  // Returns true when a fault took over the connection.
  const fault = async (): Promise<boolean> => {
    const action = ctx.faults.streamFault(sent);
    switch (action) {
      case 'continue':
        return false;
      case 'fail': {
        stream.fail();
        const frames = face.engineFailure.streamed();
        if (frames === null) sse.destroy();
        else if (await sse.writeAll(frames)) sse.end();
        return true;
      }
      case 'crash':
        stream.cancel();
        sse.destroy();
        return true;
      default:
        // 'stall': no more bytes, the socket stays open until the client or the server closes it.
        stream.cancel();
        return true;
    }
  };
  const opening = (): string[] => {
    if (started) return [];
    started = true;
    return format.head(stream);
  };
  for await (const chunk of stream) {
    if (await fault()) return;
    if (!(await sse.writeAll([...opening(), ...format.chunk(chunk, stream)]))) return stream.cancel();
    sent = chunk.completionTokens;
  }
  if (stream.finish?.reason === 'abort' || await fault()) return;
  if (await sse.writeAll([...opening(), ...format.tail(stream)])) sse.end();
}

async function answerGeneration(ctx: FaceContext, face: Face, reply: FastifyReply, stream: GenerationStream, format: GenerationFormat): Promise<void> {
  let text = '';
  const tokenIds: number[] = [];
  for await (const chunk of stream) {
    const action = ctx.faults.streamFault(chunk.completionTokens);
    if (action === 'fail') {
      stream.fail();
      await face.engineFailure.answer(reply);
      return;
    }
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
