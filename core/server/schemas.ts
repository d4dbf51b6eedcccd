/**
 * Request body schemas: the types of the fields Switchyard and the engines agree on. Fields not
 * listed pass to the engine untouched (additionalProperties), so engine extras (top_k, min_p,
 * min_tokens, ignore_eos, repetition_penalty, chat_template_kwargs, …) are never dropped.
 * Types are checked, never coerced: "max_tokens": "10" is a 400 naming the field.
 */
const nullable = (schema: Record<string, unknown>) => ({ anyOf: [schema, { type: 'null' }] });

const sampling = {
  model: { type: 'string', minLength: 1 },
  stream: nullable({ type: 'boolean' }),
  stream_options: nullable({ type: 'object', properties: { include_usage: nullable({ type: 'boolean' }) } }),
  max_tokens: nullable({ type: 'integer', minimum: 0 }),
  max_completion_tokens: nullable({ type: 'integer', minimum: 0 }),
  temperature: nullable({ type: 'number', minimum: 0 }),
  top_p: nullable({ type: 'number' }),
  n: nullable({ type: 'integer', minimum: 1 }),
  stop: nullable({ anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] }),
  seed: nullable({ type: 'integer' }),
  user: nullable({ type: 'string' }),
  presence_penalty: nullable({ type: 'number' }),
  frequency_penalty: nullable({ type: 'number' }),
  logit_bias: nullable({ type: 'object' }),
};

export const chatBodySchema = {
  type: 'object',
  required: ['model', 'messages'],
  additionalProperties: true,
  properties: {
    ...sampling,
    messages: {
      type: 'array', minItems: 1,
      items: { type: 'object', required: ['role'], properties: { role: { type: 'string' } } },
    },
    tools: nullable({ type: 'array', items: { type: 'object' } }),
    tool_choice: nullable({ anyOf: [{ type: 'string' }, { type: 'object' }] }),
    response_format: nullable({ type: 'object' }),
    logprobs: nullable({ type: 'boolean' }),
    top_logprobs: nullable({ type: 'integer', minimum: 0 }),
  },
} as const;

export const completionBodySchema = {
  type: 'object',
  required: ['model', 'prompt'],
  additionalProperties: true,
  properties: {
    ...sampling,
    prompt: {
      anyOf: [
        { type: 'string' },
        { type: 'array', items: { type: 'string' } },
        { type: 'array', items: { type: 'integer' } },
        { type: 'array', items: { type: 'array', items: { type: 'integer' } } },
      ],
    },
    logprobs: nullable({ type: 'integer', minimum: 0 }),
    echo: nullable({ type: 'boolean' }),
  },
} as const;

export const embeddingBodySchema = {
  type: 'object',
  required: ['model', 'input'],
  additionalProperties: true,
  properties: {
    model: { type: 'string', minLength: 1 },
    input: {
      anyOf: [
        { type: 'string' },
        { type: 'array', items: { type: 'string' } },
        { type: 'array', items: { type: 'integer' } },
        { type: 'array', items: { type: 'array', items: { type: 'integer' } } },
      ],
    },
    encoding_format: nullable({ type: 'string' }),
    dimensions: nullable({ type: 'integer', minimum: 1 }),
    user: nullable({ type: 'string' }),
  },
} as const;

/** The Responses API (`POST /v1/responses`): what the gateway reads; the engine checks the rest. */
export const responsesBodySchema = {
  type: 'object',
  required: ['model'],
  additionalProperties: true,
  properties: {
    model: { type: 'string', minLength: 1 },
    input: nullable({ anyOf: [{ type: 'string' }, { type: 'array' }] }),
    stream: nullable({ type: 'boolean' }),
    previous_response_id: nullable({ type: 'string', minLength: 1 }),
    instructions: nullable({ type: 'string' }),
    max_output_tokens: nullable({ type: 'integer', minimum: 1 }),
    store: nullable({ type: 'boolean' }),
    user: nullable({ type: 'string' }),
  },
} as const;

/** A body refused at the door, in the error catalogue's terms (core/server/errors.ts). */
export interface ValidationFailure {
  name: 'SY_ERR_INVALID_JSON' | 'SY_ERR_INVALID_FIELD' | 'SY_ERR_MISSING_MODEL';
  message: string;
  param?: string;
}

/** The first schema error (ajv's shape) as the 400 the client gets: the field it names, and why. */
export function describeValidationError(v: { instancePath: string; params?: Record<string, unknown>; message?: string } | undefined): ValidationFailure {
  if (v === undefined) return { name: 'SY_ERR_INVALID_FIELD', message: 'body: is invalid' };
  const missing = typeof v.params?.missingProperty === 'string' ? v.params.missingProperty : undefined;
  const param = missing ?? (v.instancePath.replace(/^\//, '').replace(/\//g, '.') || undefined);
  if (param === 'model') return { name: 'SY_ERR_MISSING_MODEL', message: 'you must provide a model (a string)', param };
  return { name: 'SY_ERR_INVALID_FIELD', message: `${param ?? 'body'}: ${v.message ?? 'is invalid'}`, ...(param !== undefined ? { param } : {}) };
}
