/**
 * An answer the plugin writes itself, before or instead of the engine's: a request the plugin
 * refuses (a bad field, a prompt the styler cannot render, an endpoint the engine does not serve)
 * or an engine that cannot take it now. OpenAI's nested error shape, which every text-engine
 * plugin's parseError reads first.
 */
import { Readable } from 'node:stream';
import type { DispatchReply } from '../../core/plugin/types.js';

export function errorReply(status: number, message: string, param: string | null): DispatchReply {
  const type = status === 404 ? 'NotFoundError' : status === 429 ? 'RateLimitError' : status >= 500 ? 'ServiceUnavailableError' : 'BadRequestError';
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (status === 429 || status === 503) headers['retry-after'] = '1';
  return { status, headers, body: Readable.from([JSON.stringify({ error: { message, type, param, code: status } })]) };
}
