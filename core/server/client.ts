/**
 * What the inference stages use of the client's HTTP exchange. Fastify's request and reply are
 * one shape of it (every route but the inference fast path); the fast lane's are the other
 * (fast-lane.ts). Narrow on purpose: a stage that needs more of the framework is a stage that
 * cannot run on the fast lane.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';

export interface ClientRequest {
  /** The request id: the client's X-Request-Id when it is a sane one, else a fresh UUID. */
  readonly id: string;
  /** The gateway's logger bound to the request id. */
  readonly log: FastifyBaseLogger;
  readonly method: string;
  /** The URL as it arrived (path and query). */
  readonly url: string;
  /** The route it matched: `url` is the route's path, decoded as the router decodes it. */
  readonly routeOptions: { readonly url?: string };
  readonly headers: IncomingHttpHeaders;
  /** The parsed and validated JSON body. */
  readonly body: unknown;
  /** The body's JSON text as it arrived, when the fast lane read it (fastify's requests: undefined). */
  readonly rawBody?: string;
  readonly socket: Socket;
  readonly raw: IncomingMessage;
}

export interface ClientReply {
  readonly raw: ServerResponse;
  /** The answer is out (or the stream's relay owns the response). */
  readonly sent: boolean;
  code(status: number): ClientReply;
  header(name: string, value: string): ClientReply;
  headers(values: Record<string, string>): ClientReply;
  getHeaders(): Record<string, number | string | string[] | undefined>;
  /** Send the answer: bytes as they are (with the content type set before), an object as JSON. */
  send(payload: Buffer | object): ClientReply;
  /** The relay writes the response itself from here on. */
  hijack(): ClientReply;
}
