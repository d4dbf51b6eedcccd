/**
 * Every error Switchyard itself answers with: one catalogue, each entry with a stable name
 * (SY_ERR_*), an HTTP status, and the OpenAI-shaped body `{error:{message,type,param,code}}`.
 * The README's error table lists every entry (a test checks it).
 */

export interface ErrorDefinition {
  status: number;
  type: 'invalid_request_error' | 'not_found_error' | 'server_error' | 'upstream_error' | 'rate_limit_error';
  code: string;
  /** What it means, for the README. */
  description: string;
}

export const ERRORS = {
  SY_ERR_INVALID_JSON: { status: 400, type: 'invalid_request_error', code: 'invalid_json', description: 'The request body is not valid JSON.' },
  SY_ERR_INVALID_FIELD: { status: 400, type: 'invalid_request_error', code: 'invalid_field', description: 'A field has the wrong type or value; `param` names it.' },
  SY_ERR_MISSING_MODEL: { status: 400, type: 'invalid_request_error', code: 'missing_model', description: 'The request has no `model`.' },
  SY_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, type: 'invalid_request_error', code: 'unsupported_media_type', description: 'The body is not `application/json`.' },
  SY_ERR_BODY_TOO_LARGE: { status: 413, type: 'invalid_request_error', code: 'body_too_large', description: 'The body is larger than `limits.body_bytes`.' },
  SY_ERR_MODEL_NOT_FOUND: { status: 404, type: 'invalid_request_error', code: 'model_not_found', description: 'No route serves this model name or alias.' },
  SY_ERR_ENDPOINT_NOT_SUPPORTED: { status: 400, type: 'invalid_request_error', code: 'endpoint_not_supported', description: 'No backend of this model serves the endpoint (e.g. embeddings).' },
  SY_ERR_ROUTE_NOT_FOUND: { status: 404, type: 'not_found_error', code: 'route_not_found', description: 'No such path.' },
  SY_ERR_NO_HEALTHY_BACKEND: { status: 503, type: 'server_error', code: 'no_healthy_backend', description: 'Every backend of the route is unhealthy or failed; retry after `Retry-After` seconds.' },
  SY_ERR_RESPONSE_UNAVAILABLE: { status: 503, type: 'server_error', code: 'response_unavailable', description: 'The backend that holds `previous_response_id` is unhealthy or no longer serves the model: the conversation cannot continue on another replica.' },
  SY_ERR_SLO_UNATTAINABLE: { status: 429, type: 'rate_limit_error', code: 'slo_unattainable', description: 'No backend is predicted to meet the latency target and the route sheds (or its queue is full or timed out); retry after `Retry-After`.' },
  SY_ERR_DRAINING: { status: 503, type: 'server_error', code: 'draining', description: 'The gateway is shutting down and takes no new requests.' },
  SY_ERR_UPSTREAM_REJECTED: { status: 400, type: 'invalid_request_error', code: 'upstream_rejected', description: "The engine refused the request (4xx); its status and message are kept." },
  SY_ERR_UPSTREAM_ERROR: { status: 502, type: 'upstream_error', code: 'upstream_error', description: 'The engine failed (5xx, or a broken response) on every candidate tried.' },
  SY_ERR_UPSTREAM_UNREACHABLE: { status: 502, type: 'upstream_error', code: 'upstream_unreachable', description: 'No connection could be made to any candidate backend.' },
  SY_ERR_UPSTREAM_TIMEOUT: { status: 504, type: 'upstream_error', code: 'upstream_timeout', description: 'The engine sent no response headers within `limits.upstream_headers_timeout_ms`.' },
  SY_ERR_UPSTREAM_RATE_LIMITED: { status: 429, type: 'rate_limit_error', code: 'upstream_rate_limited', description: 'Every candidate engine answered 429.' },
  SY_ERR_FIRST_TOKEN_TIMEOUT: { status: 504, type: 'upstream_error', code: 'first_token_timeout', description: 'A stream\'s first token did not come within the route\'s `timeouts.first_token_ms` of the request\'s start: the answer when nothing was sent yet, else an SSE error event before `[DONE]`.' },
  SY_ERR_UPSTREAM_STALLED: { status: 504, type: 'upstream_error', code: 'upstream_stalled', description: 'The engine sent nothing for the route\'s `timeouts.stall_ms` mid-stream; as an SSE error event before `[DONE]`.' },
  SY_ERR_DEADLINE_EXCEEDED: { status: 504, type: 'upstream_error', code: 'deadline_exceeded', description: 'The request took longer than the route\'s `timeouts.total_ms`; the answer, or the stream\'s error event before `[DONE]`.' },
  SY_ERR_STREAM_INTERRUPTED: { status: 502, type: 'upstream_error', code: 'stream_interrupted', description: 'The engine failed after the stream began; sent as an SSE error event before `[DONE]`.' },
  SY_ERR_BAD_REQUEST: { status: 400, type: 'invalid_request_error', code: 'bad_request', description: 'The HTTP request itself is malformed (bad framing, headers or method).' },
  SY_ERR_REQUEST_TIMEOUT: { status: 408, type: 'invalid_request_error', code: 'request_timeout', description: 'The request did not arrive whole within `limits.request_timeout_ms`.' },
  SY_ERR_HEADERS_TOO_LARGE: { status: 431, type: 'invalid_request_error', code: 'headers_too_large', description: 'The request headers are larger than the server accepts.' },
  SY_ERR_INVALID_API_KEY: { status: 401, type: 'invalid_request_error', code: 'invalid_api_key', description: 'No API key, or not one the gateway knows (or not an admin key, for `/admin/*` and `/metrics`).' },
  SY_ERR_RATE_LIMITED: { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded', description: "The key is over its `rpm`, `tpm` or `concurrency` limit (or, without keys, the address over `limits.max_in_flight_per_client`); retry after `Retry-After`." },
  SY_ERR_LIMITS_UNAVAILABLE: { status: 503, type: 'server_error', code: 'limits_unavailable', description: 'The rate-limit store (Redis) is unreachable and `auth.on_store_failure` is `closed`.' },
  SY_ERR_INVALID_CONFIG: { status: 400, type: 'invalid_request_error', code: 'invalid_config', description: '`POST /admin/reload`: the config file is invalid (or a new backend failed to start); `errors` lists what was found, and the running config keeps serving.' },
  SY_ERR_INTERNAL: { status: 500, type: 'server_error', code: 'internal_error', description: 'A Switchyard bug; the log line with the request id has the details.' },
} as const satisfies Record<string, ErrorDefinition>;

export type ErrorName = keyof typeof ERRORS;

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string };
}

/** An error on its way to the client. `status` overrides the catalogue's (engine 4xx kept as is). */
export class GatewayError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(
    readonly errorName: ErrorName,
    message: string,
    opts: { status?: number; param?: string | null; headers?: Record<string, string>; cause?: unknown; type?: string } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = errorName;
    this.status = opts.status ?? ERRORS[errorName].status;
    this.param = opts.param ?? null;
    this.headers = opts.headers ?? {};
    this.typeOverride = opts.type;
  }

  readonly param: string | null;
  private readonly typeOverride: string | undefined;

  body(): OpenAiErrorBody {
    const def = ERRORS[this.errorName];
    return { error: { message: this.message, type: this.typeOverride ?? def.type, param: this.param, code: def.code } };
  }
}
